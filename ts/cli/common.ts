// What every tsbox CLI command shares: the error type for bad usage, global options, the store root.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

import { UsageError } from '../errors.js';
export { UsageError };

export interface GlobalOptions {
  /** The tsbox root: images, containers, networks. */
  root: string;
  debug: boolean;
}

/** A CLI command: gets its own argv (after the command name), returns the exit code. */
export type Command = (argv: string[], g: GlobalOptions) => Promise<number>;

// The engine owns the default root; re-exported for modules that still import it from here.
export { defaultRoot } from '../engine/root.js';

/** parseArgs (strict, positionals allowed), with bad flags reported in docker's (pflag's) words. */
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export function args<const T extends Options>(argv: string[], options: T): Parsed<T> {
  const normal = pflagArgs(argv, options);
  try {
    return parseArgs({ args: normal, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Checks argv as docker's flag parser does and rewrites it for parseArgs: "unknown flag: --x",
 * "unknown shorthand flag: 'z' in -z" (pflag names the rest of the bundle), "flag needs an argument: --name" / "'e' in -e"; a value may
 * start with a dash (-e -x) and a boolean may be given as --flag=false, as pflag allows.
 */
function pflagArgs(argv: string[], options: Options): string[] {
  const short = new Map(Object.entries(options).filter(([, o]) => o.short).map(([k, o]) => [o.short!, k]));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const o = options[name];
      if (!o) throw new UsageError(`unknown flag: --${name}`);
      if (o.type === 'boolean') {
        const v = eq > 0 ? a.slice(eq + 1) : 'true';
        if (!/^(1|t|T|true|TRUE|True|0|f|F|false|FALSE|False)$/.test(v)) throw new UsageError(`invalid argument ${JSON.stringify(v)} for "${o.short ? `-${o.short}, ` : ''}--${name}" flag: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
        if (/^(1|t|true)$/i.test(v)) out.push(`--${name}`);
      } else if (eq > 0) out.push(a);
      else if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${name}`);
      else out.push(`--${name}=${argv[++i]}`);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const name = short.get(a[j]);
      if (!name) throw new UsageError(`unknown shorthand flag: '${a[j]}' in -${a.slice(j)}`);
      if (options[name].type === 'boolean') {
        out.push(`--${name}`);
        continue;
      }
      // -eFOO, -e=FOO, or -e FOO.
      let v = a.slice(j + 1);
      if (v.startsWith('=')) v = v.slice(1);
      else if (!v) {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${a[j]}' in -${a.slice(j)}`);
        v = argv[++i];
      }
      out.push(`--${name}=${v}`);
      break;
    }
  }
  return out;
}

/** KEY=VALUE flags (--label, --opt) into a record; a bare KEY has the value "". */
export function keyValueFlags(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const [k, v] = kv.split(/=(.*)/s);
    if (!k) throw new UsageError(`invalid argument "${kv}" for "--${flag}" flag: want KEY=VALUE`);
    out[k] = v ?? '';
  }
  return out;
}

/** --filter key=value flags as docker's API filters (key -> values). */
export function filterFlags(list: string[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of list ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError('bad format of filter (expected name=value)');
    (out[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
  }
  return out;
}

/** docker's prompt: yes only for y or yes; no terminal or end of input means no. */
export async function confirm(question: string): Promise<boolean> {
  process.stdout.write(`${question} [y/N] `);
  // Loaded here: readline (and the streams it pulls in) is a millisecond of every command's start.
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

// docker's CLI looks these containers (rmi: images) up itself before it asks the daemon to act, and words
// a missing one as its own error; for every other command the daemon's answer is printed as it came.
const CLIENT_LOOKS_UP = new Set(['logs', 'exec', 'port', 'attach', 'rm', 'cp', 'rmi']);
// docker cp does its work in the client (the daemon only hands archives over): its errors are the client's.
const CLIENT_WORDS = new Set(['cp']);

/** An engine's refusal as docker's CLI prints it: "Error response from daemon: ..." or, for its own lookups, "Error: ...". */
export function errorLine(path: string, e: Error): string {
  const code = (e as { code?: unknown }).code;
  const command = path.replace(/^container /, '');
  // docker attach checks that the container runs itself, and prints its refusal bare.
  if (command === 'attach' && code === 'ERR_NOT_RUNNING') return e.message;
  const own = code === 'ERR_USAGE' || typeof code !== 'string' || CLIENT_WORDS.has(command) || (code.startsWith('ERR_NO_SUCH_') && CLIENT_LOOKS_UP.has(command));
  return `${own ? 'Error' : 'Error response from daemon'}: ${e.message}`;
}

/**
 * docker's way with several containers in one command: each is tried, in order; a success prints what
 * `out` makes of it (the name as given), a failure its error line. Returns the names that failed; with
 * `tolerateMissing` (rm -f) a missing one is said and not counted. Bad usage ends the command at once.
 */
export async function eachContainer<T>(
  command: string,
  refs: string[],
  fn: (ref: string) => T | Promise<T>,
  o: { out?: (ref: string, result: T) => string; tolerateMissing?: boolean } = {},
): Promise<string[]> {
  const failed: string[] = [];
  for (const ref of refs) {
    try {
      const r = await fn(ref);
      process.stdout.write(`${o.out ? o.out(ref, r) : ref}\n`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      process.stderr.write(`${errorLine(command, e as Error)}\n`);
      if (!(o.tolerateMissing && (e as { code?: unknown }).code === 'ERR_NO_SUCH_CONTAINER')) failed.push(ref);
    }
  }
  return failed;
}

/** docker's exit code once several objects were tried: 1 if any failed. */
export const exitOf = (failed: string[]): number => (failed.length ? 1 : 0);
