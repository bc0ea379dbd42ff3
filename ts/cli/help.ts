// `tsbox COMMAND --help` and docker's wording for bad flags and argument counts, from one table:
// docker's own help texts (help-table.ts, generated) plus tsbox's own commands below.
import { DOCKER_HELP } from './help-table.js';

/** A flag: [short, long, value type ('' for a boolean), one-line help]. */
export type HelpFlag = [string, string, string, string];

export interface HelpEntry {
  /** Usage lines after "tsbox ": the first is docker's UseLine, the rest alternatives. */
  usage: string[];
  desc: string;
  /** docker's one-line description where --help shows a longer one (argument errors show this). */
  short?: string;
  flags: HelpFlag[];
  /** [min, max] arguments; max -1 for no limit. */
  args: [number, number] | number[];
  /** false: flags end at the first argument (run, create, exec: the rest is the container's command). */
  interspersed?: boolean;
  /** A group (image, container, network, volume, system): its subcommands with a line each. */
  subs?: [string, string][] | string[][];
  /** The command parses and answers --help itself (the runc-compatible runtime). */
  own?: boolean;
}

// tsbox system service and its alias serve (podman's name; the socket is root-equivalent: docs/api.md).
const SERVICE = {
  usage: ['system service [OPTIONS] [unix:///PATH]'],
  desc: "Serve docker's Engine API on a unix socket (default unix:///run/tsbox/docker.sock)",
  flags: [
    ['', 'socket', 'string', 'Path of the unix socket to serve'],
    ['t', 'timeout', 'int', 'Seconds of idle time after which the service exits; 0 for never (default 5)'],
    ['', 'group', 'string', 'Group that owns the socket (mode 0660)'],
  ] as [string, string, string, string][],
  args: [0, 1] as [number, number],
};

const TSBOX_HELP: Record<string, HelpEntry> = {
  sandbox: {
    usage: ['sandbox [OPTIONS] [--] COMMAND [ARG...]'],
    desc: "Run a command over the host's filesystem, isolated, its writes kept in a throwaway layer",
    flags: [
      ['h', 'hostname', 'string', 'Container host name'],
      ['', 'network', 'string', 'Network mode: none (default) or host'],
      ['t', 'tty', '', 'Allocate a pseudo-TTY'],
      ['w', 'workdir', 'string', 'Working directory inside the sandbox'],
      ['', 'writable', 'list', 'Host path the command may write to'],
    ],
    args: [1, -1],
    interspersed: false,
  },
  unshare: {
    usage: ['unshare [COMMAND [ARG...]]'],
    desc: "Run a command in the rootless user namespace, where the store's files have the owners containers see",
    flags: [],
    args: [0, -1],
    interspersed: false,
  },
  runtime: {
    usage: ['runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [ARG...]'],
    desc: 'The runc-compatible OCI runtime (create, start, run, state, kill, delete, exec, ps, ...)',
    flags: [],
    args: [0, -1],
    own: true,
  },
  'system service': SERVICE,
  serve: { ...SERVICE, usage: ['serve [OPTIONS] [unix:///PATH]'], desc: `${SERVICE.desc}: an alias of system service` },
  'system check': {
    usage: ['system check [OPTIONS] [IMAGE...]'],
    desc: 'Check every image: blobs re-hashed, unpacked layers compared with their records',
    flags: [['q', 'quiet', '', 'Print only the problems']],
    args: [0, -1],
  },
  'image verify': {
    usage: ['image verify [OPTIONS] [IMAGE...]'],
    desc: 'Check images: blobs re-hashed, unpacked layers compared with their records',
    flags: [['q', 'quiet', '', 'Print only the problems']],
    args: [0, -1],
  },
};

const GROUP_EXTRAS: Record<string, [string, string][]> = {
  system: [['check', 'Check every image against its records'], ['service', "Serve docker's Engine API on a unix socket"]],
  image: [['verify', 'Check images against their records']],
};

export const HELP: Record<string, HelpEntry> = { ...DOCKER_HELP, ...TSBOX_HELP };
for (const [g, extra] of Object.entries(GROUP_EXTRAS)) {
  const e = HELP[g];
  // Code-point order: the names are lowercase ASCII, and localeCompare's first call builds ICU's collator
  // (5 ms of every command's start).
  HELP[g] = { ...e, subs: [...(e.subs ?? []), ...extra].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) };
}

/** The command path argv names ("run", "network create") and the arguments after it. */
export function resolveCommand(argv: string[]): { path: string; entry?: HelpEntry; rest: string[] } {
  const [name, sub] = argv;
  const group = HELP[name];
  if (group?.subs && sub && HELP[`${name} ${sub}`]) return { path: `${name} ${sub}`, entry: HELP[`${name} ${sub}`], rest: argv.slice(2) };
  return { path: name, entry: group, rest: argv.slice(1) };
}

const useLine = (e: HelpEntry) => e.usage.map((u, i) => (i ? `\ttsbox ${u}` : `tsbox ${u}`)).join('\n');

/** docker's help text: the usage line, the description, the flags in pflag's columns, a group's commands. */
export function renderHelp(path: string, e: HelpEntry): string {
  let s = `\nUsage:  ${useLine(e)}\n\n${e.desc}\n`;
  if (e.flags.length) {
    const left = e.flags.map(([sh, long, type]) => `${sh ? `  -${sh}, ` : '      '}--${long}${type ? ` ${type}` : ''}`);
    const width = Math.max(...left.map((l) => l.length)) + 3;
    s += `\nOptions:\n${e.flags.map((f, i) => `${left[i].padEnd(width)}${f[3]}`).join('\n')}\n`;
  }
  if (e.subs?.length) {
    const pad = Math.max(11, ...e.subs.map(([n]) => n.length));
    s += `\nCommands:\n${e.subs.map(([n, d]) => `  ${n.padEnd(pad)} ${d}`).join('\n')}\n\nRun 'tsbox ${path} COMMAND --help' for more information on a command.\n`;
  }
  return s;
}

/**
 * Walks argv as docker's flag parser would, with the table's flags: whether --help (or -h where the
 * command has no -h of its own) is asked for, and how many arguments there are. A flag the table
 * does not know leaves the count unknown: the command's own parser words that error.
 */
export function scanArgs(e: HelpEntry, argv: string[]): { help: boolean; count?: number } {
  const long = new Map(e.flags.map((f) => [f[1], f]));
  const short = new Map(e.flags.filter((f) => f[0]).map((f) => [f[0], f]));
  let count = 0;
  let known = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return { help: false, count: known ? count + argv.length - i - 1 : undefined };
    if (a === '--help' || (a === '-h' && !short.has('h'))) return { help: true };
    if (!a.startsWith('-') || a === '-') {
      if (e.interspersed === false) return { help: false, count: known ? count + argv.length - i : undefined };
      count++;
      continue;
    }
    if (a.startsWith('--')) {
      const f = long.get(a.slice(2).split('=')[0]);
      if (!f) known = false;
      else if (f[2] && !a.includes('=') && ++i >= argv.length) known = false; // docker words the missing value first
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const f = short.get(a[j]);
      if (!f) {
        known = false;
        break;
      }
      if (f[2]) {
        if (j === a.length - 1 && ++i >= argv.length) known = false;
        break;
      }
    }
  }
  return { help: false, count: known ? count : undefined };
}

/** docker's error for a wrong number of arguments (its exit code 1), or undefined when the count fits. */
export function argCountError(path: string, e: HelpEntry, n: number): string | undefined {
  const [min, max] = e.args;
  const word = (k: number) => (k === 1 ? 'argument' : 'arguments');
  let msg: string | undefined;
  if (max === 0 && n > 0) msg = `"tsbox ${path}" accepts no arguments.`;
  else if (min === max && n !== min) msg = `"tsbox ${path}" requires exactly ${min} ${word(min)}.`;
  else if (max !== -1 && min > 0 && (n < min || n > max)) msg = `"tsbox ${path}" requires at least ${min} and at most ${max} ${word(max)}.`;
  else if (n < min) msg = `"tsbox ${path}" requires at least ${min} ${word(min)}.`;
  else if (max !== -1 && n > max) msg = `"tsbox ${path}" requires at most ${max} ${word(max)}.`;
  if (!msg) return undefined;
  return `${msg}\nSee 'tsbox ${path} --help'.\n\nUsage:  ${useLine(e)}\n\n${e.short ?? e.desc.split('\n')[0]}\n`;
}

/** Flag errors docker words itself (pflag's), printed with its pointer to --help. */
export const FLAG_ERROR = /^(unknown flag: |unknown shorthand flag: |flag needs an argument: |invalid argument ".*" for ")/;

export function flagErrorText(path: string, message: string): string {
  return `${message}\nSee 'tsbox ${path} --help'.\n`;
}
