// `tsbox run` flags with docker's names and meanings, parsed into RunOptions.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

export interface RunOptions {
  image: string;
  cmd: string[];
  name?: string;
  detach: boolean;
  rm: boolean;
  interactive: boolean;
  tty: boolean;
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  volumes: string[];
  mounts: string[];
  tmpfs: string[];
  readOnly: boolean;
  entrypoint?: string;
  init: boolean;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  memory?: number;
  memorySwap?: number;
  cpus?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  ulimits: string[];
  sysctls: string[];
  network: string;
  stopSignal?: string;
  stopTimeout?: number;
  restart: string;
  platform?: string;
  /** Config.Labels (--label, --label-file): docker filters and shows them. */
  labels?: Record<string, string>;
  publish: string[];
  publishAll: boolean;
  dns: string[];
  dnsSearch: string[];
  addHost: string[];
  /** --log-driver: json-file (default) or none. */
  logDriver?: string;
  /** --log-opt KEY=VALUE (json-file: max-size, max-file). */
  logOpts?: string[];
  /** --detach-keys: docker's key sequence (default ctrl-p,ctrl-q). */
  detachKeys?: string;
  /** --network-alias: more names on a user network. */
  networkAlias?: string[];
  /** --ip: the address on a user network. */
  ip?: string;
}

type Kind = 'bool' | 'str' | 'list';
// name → [kind, short]
const FLAGS: Record<string, [Kind, string?]> = {
  rm: ['bool'], detach: ['bool', 'd'], interactive: ['bool', 'i'], tty: ['bool', 't'], name: ['str'],
  env: ['list', 'e'], 'env-file': ['list'], workdir: ['str', 'w'], user: ['str', 'u'], hostname: ['str', 'h'],
  volume: ['list', 'v'], mount: ['list'], tmpfs: ['list'], 'read-only': ['bool'], entrypoint: ['str'], init: ['bool'],
  privileged: ['bool'], 'cap-add': ['list'], 'cap-drop': ['list'], 'security-opt': ['list'], memory: ['str', 'm'],
  'memory-swap': ['str'], cpus: ['str'], 'cpu-shares': ['str', 'c'], 'cpu-quota': ['str'], 'cpu-period': ['str'],
  'cpuset-cpus': ['str'], 'pids-limit': ['str'], ulimit: ['list'], sysctl: ['list'], network: ['str'], net: ['str'],
  label: ['list', 'l'], 'label-file': ['list'],
  'stop-signal': ['str'], 'stop-timeout': ['str'], restart: ['str'], platform: ['str'], publish: ['list', 'p'], 'publish-all': ['bool', 'P'],
  dns: ['list'], 'dns-search': ['list'], 'add-host': ['list'],
  'log-driver': ['str'], 'log-opt': ['list'], 'detach-keys': ['str'],
  'network-alias': ['list'], ip: ['str'],
};
const SHORT = new Map(Object.entries(FLAGS).filter(([, v]) => v[1]).map(([k, v]) => [v[1]!, k]));

/** "512m", "1g", "1024" (bytes) as docker reads them. */
export function parseBytes(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(s.trim());
  // A flag ("-m, --memory") gets docker's (pflag's) words for a bad value.
  if (!m) throw new UsageError(flag.startsWith('-') ? `invalid argument ${JSON.stringify(s)} for "${flag}" flag: invalid size: '${s}'` : `invalid ${flag} ${JSON.stringify(s)}: want a size like 512m or 1g`);
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}

function int(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw new UsageError(`invalid argument ${JSON.stringify(s)} for "${flag}" flag: strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  return Number(s);
}

/** Flags stop at the image name: what follows belongs to the command. */
export function parseRunArgs(argv: string[]): RunOptions {
  const v: Record<string, string | boolean | string[]> = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    let names: string[];
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      names = [eq > 0 ? a.slice(2, eq) : a.slice(2)];
      if (eq > 0) inline = a.slice(eq + 1);
    } else {
      // Bundled short flags: -it, -dt; a value-taking one may be last (-e FOO or -eFOO).
      names = [];
      for (let j = 1; j < a.length; j++) {
        const n = SHORT.get(a[j]);
        if (!n) throw new UsageError(`unknown shorthand flag: '${a[j]}' in -${a.slice(j)}`);
        names.push(n);
        if (FLAGS[n][0] !== 'bool' && j < a.length - 1) {
          inline = a.slice(j + 1);
          break;
        }
      }
    }
    for (const n of names) {
      const def = FLAGS[n];
      if (!def) throw new UsageError(`unknown flag: --${n}`);
      if (def[0] === 'bool') {
        v[n] = inline === undefined ? true : inline !== 'false';
        continue;
      }
      let val = inline;
      if (val === undefined) {
        if (++i >= argv.length) throw new UsageError(a.startsWith('--') ? `flag needs an argument: --${n}` : `flag needs an argument: '${a[a.length - 1]}' in -${a[a.length - 1]}`);
        val = argv[i];
      }
      if (def[0] === 'list') ((v[n] as string[] | undefined) ?? (v[n] = [] as string[]) as string[]).push(val);
      else v[n] = val;
    }
  }
  const image = argv[i];
  if (!image) throw new UsageError('"tsbox run" requires at least 1 argument: IMAGE [COMMAND] [ARG...]');
  const list = (k: string) => (v[k] as string[] | undefined) ?? [];
  const str = (k: string) => v[k] as string | undefined;
  const env = [...list('env-file').flatMap((f) => readEnvFile(f)), ...list('env')];
  const cpus = str('cpus');
  if (cpus !== undefined && !(Number(cpus) > 0)) throw new UsageError(`invalid --cpus ${JSON.stringify(cpus)}: want a positive number`);
  const restart = str('restart') ?? 'no';
  if (!/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(restart)) throw new UsageError(`invalid --restart ${JSON.stringify(restart)}: want no, always, unless-stopped or on-failure[:N]`);
  const opts: RunOptions = {
    image,
    cmd: argv.slice(i + 1),
    name: str('name'),
    detach: v.detach === true,
    rm: v.rm === true,
    interactive: v.interactive === true,
    tty: v.tty === true,
    env,
    workdir: str('workdir'),
    user: str('user'),
    hostname: str('hostname'),
    volumes: list('volume'),
    mounts: list('mount'),
    tmpfs: list('tmpfs'),
    readOnly: v['read-only'] === true,
    entrypoint: str('entrypoint'),
    init: v.init === true,
    privileged: v.privileged === true,
    capAdd: list('cap-add'),
    capDrop: list('cap-drop'),
    securityOpt: list('security-opt'),
    memory: str('memory') !== undefined ? parseBytes(str('memory')!, '-m, --memory') : undefined,
    memorySwap: str('memory-swap') === '-1' ? -1 : str('memory-swap') !== undefined ? parseBytes(str('memory-swap')!, '--memory-swap') : undefined,
    cpus: cpus !== undefined ? Number(cpus) : undefined,
    cpuShares: int(str('cpu-shares'), '-c, --cpu-shares'),
    cpuQuota: int(str('cpu-quota'), '--cpu-quota'),
    cpuPeriod: int(str('cpu-period'), '--cpu-period'),
    cpusetCpus: str('cpuset-cpus'),
    pidsLimit: int(str('pids-limit'), '--pids-limit'),
    ulimits: list('ulimit'),
    sysctls: list('sysctl'),
    network: str('network') ?? str('net') ?? 'default',
    stopSignal: str('stop-signal'),
    stopTimeout: int(str('stop-timeout'), '--stop-timeout'),
    restart,
    platform: str('platform'),
    labels: parseLabels(list('label'), list('label-file')),
    publish: list('publish'),
    publishAll: v['publish-all'] === true,
    dns: list('dns'),
    dnsSearch: list('dns-search'),
    addHost: list('add-host'),
    ...(str('log-driver') !== undefined ? { logDriver: str('log-driver') } : {}),
    ...(list('log-opt').length ? { logOpts: list('log-opt') } : {}),
    ...(str('detach-keys') !== undefined ? { detachKeys: str('detach-keys') } : {}),
    networkAlias: list('network-alias'),
    ip: str('ip'),
  };
  checkRunOptions(opts);
  return opts;
}

/** docker's defaults for what a typed caller leaves out (the library's run(), the Engine's create): what `run IMAGE` alone means. */
export function defaultRunOptions(image: string): RunOptions {
  return {
    image, cmd: [], detach: false, rm: false, interactive: false, tty: false, env: [], volumes: [], mounts: [], tmpfs: [], readOnly: false, init: false, privileged: false,
    capAdd: [], capDrop: [], securityOpt: [], ulimits: [], sysctls: [], network: 'default', restart: 'no', publish: [], publishAll: false, dns: [], dnsSearch: [], addHost: [],
  };
}

export interface SecurityOpts {
  noNewPrivileges: boolean;
  apparmor?: string;
  seccomp?: string;
}

const GO_BOOL: Record<string, boolean> = { 1: true, t: true, T: true, TRUE: true, true: true, True: true, 0: false, f: false, F: false, FALSE: false, false: false, False: false };

/**
 * --security-opt as dockerd reads it (parseSecurityOpt): key=value (or the old key:value), the keys it
 * knows; anything else is its error. label= is SELinux's, which dockerd leaves alone by default
 * (--selinux-enabled off): so does tsbox.
 */
export function securityOpts(o: Pick<RunOptions, 'securityOpt'>): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false };
  for (const opt of o.securityOpt) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue;
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : undefined;
    if (!sep) throw new UsageError(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const key = opt.slice(0, opt.indexOf(sep));
    const value = opt.slice(opt.indexOf(sep) + 1);
    if (key === 'label') continue;
    else if (key === 'apparmor') out.apparmor = value;
    else if (key === 'seccomp') out.seccomp = value;
    else if (key === 'no-new-privileges' && value in GO_BOOL) out.noNewPrivileges = GO_BOOL[value];
    else throw new UsageError(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
  }
  return out;
}

/** The checks of values that argv and typed callers share (the flags' own syntax is parseRunArgs's). */
export function checkRunOptions(opts: RunOptions): void {
  if (opts.cpus !== undefined && !(opts.cpus > 0)) throw new UsageError(`invalid --cpus ${JSON.stringify(String(opts.cpus))}: want a positive number`);
  for (const h of opts.addHost) {
    if (!/^[\w.-]+:[0-9a-fA-F.:]+$/.test(h)) throw new UsageError(`invalid --add-host ${JSON.stringify(h)}: want HOST:IP`);
  }
  for (const a of opts.networkAlias ?? []) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a)) throw new UsageError(`invalid --network-alias ${JSON.stringify(a)}: want a host name`);
  }
  if (opts.ip !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(opts.ip)) throw new UsageError(`invalid IPv4 address: ${opts.ip}`);
  for (const d of opts.dns) {
    if (!/^[0-9a-fA-F.:]+$/.test(d)) throw new UsageError(`invalid --dns ${JSON.stringify(d)}: want an IP address`);
  }
  if (opts.name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(opts.name)) throw new UsageError(`invalid container name ${JSON.stringify(opts.name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  if (opts.detach && opts.rm && opts.restart !== 'no') throw new UsageError('conflicting options: --restart and --rm');
  securityOpts(opts);
}

/** --label k=v (or k, an empty value) over --label-file's lines, as docker reads them. */
export function parseLabels(labels: string[], files: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of [...files.flatMap((f) => readLines(f)), ...labels]) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    if (!k.trim()) throw new UsageError(`invalid label ${JSON.stringify(kv)}: empty name`);
    // defineProperty: a label named __proto__ is a label, not the object's prototype.
    Object.defineProperty(out, k, { value: i < 0 ? '' : kv.slice(i + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function readLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`open ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  return text.split('\n').map((l) => l.replace(/^\s+/, '').replace(/\r$/, '')).filter((l) => l && !l.startsWith('#'));
}

function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`open ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => (l.includes('=') ? l : `${l}=${process.env[l] ?? ''}`));
}
