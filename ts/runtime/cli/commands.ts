// The runc-compatible commands: each takes its argv (after the command name) and the global options.
import { childProcess } from '../lazy.js';
import { existsSync, fstatSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { native } from '../../native.js';
import { defaultSpec } from '../default-spec.js';
import { execLaunchAsync, execProcess } from '../exec.js';
import { abortLaunch, launchAsync, type Launched } from '../launch.js';
import * as ops from '../operations.js';
import { closeQuietly, ContainerError, readFd, waitSetup } from '../report.js';
import { loadSpec, type OciProcess } from '../spec.js';
import { LockBusyError, listIds, markCreated, readState } from '../state.js';
import { bool, FlagError, list, parseFlags, str, type FlagSpec, type Parsed } from './args.js';
import { sizeOf, waitExit } from './foreground.js';
import { features } from './features.js';
import { hostTool } from '../../host-tools.js';
import { callerPath, ctx, err, out } from './context.js';

export interface Globals {
  root: string;
}

type Handler = (argv: string[], g: Globals) => Promise<number> | number;

function one(rest: string[], what = 'container id'): string {
  if (rest.length < 1) throw new FlagError(`${what} cannot be empty`);
  return rest[0];
}

let pidFiles = 0;

function writePidFile(path: string | undefined, pid: number): void {
  if (!path) return;
  // Atomic, as runc does: readers (containerd) may poll for the file. One process may serve many calls.
  const tmp = `${path}.tmp${process.pid}.${pidFiles++}`;
  writeFileSync(tmp, String(pid));
  renameSync(tmp, path);
}

function callerConsoleSize(): { height: number; width: number } | undefined {
  const s = sizeOf(ctx());
  return s && s.rows > 0 && s.columns > 0 ? { height: s.rows, width: s.columns } : undefined;
}

const CREATE_FLAGS: FlagSpec = {
  bundle: { type: 'string', short: 'b' },
  'console-socket': { type: 'string' },
  'pid-file': { type: 'string' },
  'no-pivot': { type: 'boolean' },
  'no-new-keyring': { type: 'boolean' },
  'preserve-fds': { type: 'string' },
  'no-init': { type: 'boolean' },
  init: { type: 'boolean' },
  detach: { type: 'boolean', short: 'd' },
  keep: { type: 'boolean' },
};

/** Checks the setup report; on failure cleans up and throws the container's own message. */
async function settle(g: Globals, id: string, l: Launched, wanted: 'ready' | 'started'): Promise<void> {
  const r = await waitSetup(l.spawned.reportFd);
  if (r.kind === 'error') {
    abortLaunch(g.root, id, l.spawned, l.cgroup);
    throw new ContainerError(r.message, r.errno);
  }
  if (r.kind !== wanted) {
    abortLaunch(g.root, id, l.spawned, l.cgroup);
    throw new Error(`container ${id}: init exited during setup`);
  }
  markCreated(g.root, id);
}

/** --preserve-fds N: our fds 3..3+N-1, which the process gets as the same numbers (runc). */
function preservedFds(p: Parsed): number[] {
  const v = str(p, 'preserve-fds') ?? '0';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new FlagError(`--preserve-fds ${v}: want a count from 0 to 64`);
  // fds 3... of a served call would be the server's own: the client runs such a call itself (cold).
  if (n > 0 && ctx().spawner) throw new FlagError(`--preserve-fds ${n}: the caller's fds are not passed to the runtime server (run it with TSBOX_RUNTIME_COLD=1)`);
  return Array.from({ length: n }, (_, i) => {
    try {
      fstatSync(3 + i);
    } catch (e) {
      throw new FlagError(`--preserve-fds ${n}: fd ${3 + i} is not open (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    return 3 + i;
  });
}

async function launchFromFlags(argv: string[], g: Globals, splitStart: boolean) {
  const p = parseFlags(argv, CREATE_FLAGS);
  const id = one(p.rest);
  const preserveFds = preservedFds(p);
  const c = ctx();
  const bundle = resolve(c.cwd, str(p, 'bundle') ?? '.');
  const spec = loadSpec(bundle);
  const consoleSocket = callerPath(str(p, 'console-socket'));
  let ptyPair: [number, number] | undefined;
  // runc run with a terminal and no console socket: the CLI holds the pty itself.
  if (spec.process?.terminal && !consoleSocket && !splitStart && !bool(p, 'detach')) {
    ptyPair = native().socketpair();
    // The pty starts with the caller's size: set only after the process runs, a first read of it would race.
    spec.process.consoleSize ??= callerConsoleSize();
  }
  const l = await launchAsync({
    root: g.root,
    id,
    bundle,
    spec,
    stdio: [c.stdin, c.stdout, c.stderr],
    consoleSocket,
    consoleFd: ptyPair?.[1],
    splitStart,
    noPivot: bool(p, 'no-pivot'),
    // runc's contract: the process is pid 1; --init asks for tsbox-init as a reaper in front of it.
    init: bool(p, 'init') && !bool(p, 'no-init'),
    preserveFds,
    onWarning: (m) => err(`tsbox-runtime: warning: ${m}\n`),
  });
  return { p, id, l, ptyPair };
}

const create: Handler = async (argv, g) => {
  const { p, id, l } = await launchFromFlags(argv, g, true);
  await settle(g, id, l, 'ready');
  writePidFile(callerPath(str(p, 'pid-file')), l.state.pid);
  closeQuietly(l.spawned.reportFd);
  closeQuietly(l.spawned.pidfd);
  return 0;
};

/** A failing poststart or poststop hook is logged, not fatal (the spec's rule). */
const hookWarning = (m: string) => err(`tsbox: ${m}\n`);

/**
 * Runs a state operation, waiting for its lock asynchronously where withLock does not block (a process
 * serving many calls): the operation throws LockBusyError before it changed anything, and runs again.
 */
async function locked<T>(op: () => T): Promise<T> {
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    try {
      return op();
    } catch (e) {
      if (!(e instanceof LockBusyError)) throw e;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

const run: Handler = async (argv, g) => {
  const detach = argv.includes('-d') || argv.includes('--detach');
  const { p, id, l, ptyPair } = await launchFromFlags(argv, g, detach);
  if (detach) {
    await settle(g, id, l, 'ready');
    writePidFile(callerPath(str(p, 'pid-file')), l.state.pid);
    closeQuietly(l.spawned.reportFd);
    closeQuietly(l.spawned.pidfd);
    await locked(() => ops.start(g.root, id, hookWarning));
    return 0;
  }
  let master: number | undefined;
  try {
    await settle(g, id, l, 'started');
    if (ptyPair) {
      closeQuietly(ptyPair[1]);
      master = native().recvFd(ptyPair[0]);
      closeQuietly(ptyPair[0]);
    }
  } catch (e) {
    if (ptyPair) ptyPair.forEach(closeQuietly);
    throw e;
  }
  writePidFile(callerPath(str(p, 'pid-file')), l.state.pid);
  closeQuietly(l.spawned.reportFd);
  const code = await waitExit(l.spawned, master);
  if (!bool(p, 'keep')) await locked(() => ops.remove(g.root, id, true, undefined, hookWarning));
  return code;
};

const start: Handler = async (argv, g) => {
  const id = one(parseFlags(argv, {}).rest);
  await locked(() => ops.start(g.root, id, hookWarning));
  return 0;
};

const state: Handler = (argv, g) => {
  const s = ops.state(g.root, one(parseFlags(argv, {}).rest));
  out(JSON.stringify(s, null, 2) + '\n');
  return 0;
};

const kill: Handler = async (argv, g) => {
  const p = parseFlags(argv, { all: { type: 'boolean', short: 'a' } });
  const id = one(p.rest);
  await locked(() => ops.kill(g.root, id, p.rest[1] ?? 'SIGTERM', bool(p, 'all')));
  return 0;
};

const del: Handler = async (argv, g) => {
  const p = parseFlags(argv, { force: { type: 'boolean', short: 'f' } });
  const id = one(p.rest);
  try {
    await locked(() => ops.remove(g.root, id, bool(p, 'force'), undefined, hookWarning));
  } catch (e) {
    // containerd deletes twice; a forced delete of a missing container is fine (as runc).
    if (!(bool(p, 'force') && (e as Error).message.includes('does not exist'))) throw e;
  }
  return 0;
};

const pause: Handler = async (argv, g) => {
  const id = one(parseFlags(argv, {}).rest);
  await locked(() => ops.pause(g.root, id));
  return 0;
};

const resume: Handler = async (argv, g) => {
  const id = one(parseFlags(argv, {}).rest);
  await locked(() => ops.resume(g.root, id));
  return 0;
};

const ps: Handler = async (argv, g) => {
  const p = parseFlags(argv, { format: { type: 'string', short: 'f' } }, true);
  const id = one(p.rest);
  const pids = ops.pids(g.root, id);
  if ((str(p, 'format') ?? 'table') === 'json') {
    out(JSON.stringify(pids) + '\n');
    return 0;
  }
  const psArgs = p.rest.length > 1 ? p.rest.slice(1) : ['-ef'];
  // Not execFileSync: a process serving many calls keeps running the others meanwhile.
  const lines = (
    await new Promise<string>((resolve, reject) =>
      childProcess().execFile(hostTool('ps'), psArgs, { encoding: 'utf8', maxBuffer: 64 << 20 }, (e, stdout) => (e ? reject(e) : resolve(stdout))),
    )
  ).split('\n');
  const header = lines[0];
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new Error(`ps ${psArgs.join(' ')}: no PID column in its output`);
  const keep = new Set(pids);
  out(header + '\n');
  for (const line of lines.slice(1)) {
    if (keep.has(Number(line.trim().split(/\s+/)[col]))) out(line + '\n');
  }
  return 0;
};

const list_: Handler = (argv, g) => {
  const p = parseFlags(argv, { format: { type: 'string', short: 'f' }, quiet: { type: 'boolean', short: 'q' } });
  const rows = listIds(g.root).flatMap((id) => {
    try {
      return [ops.ociState(g.root, readState(g.root, id))];
    } catch {
      return [];
    }
  });
  if (bool(p, 'quiet')) {
    for (const r of rows) out(r.id + '\n');
  } else if (str(p, 'format') === 'json') {
    out(JSON.stringify(rows) + '\n');
  } else {
    out('ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n');
    for (const r of rows) out(`${r.id}\t${r.pid}\t${r.status}\t${r.bundle}\t${r.created}\t${r.owner || 'root'}\n`);
  }
  return 0;
};

const EXEC_FLAGS: FlagSpec = {
  process: { type: 'string', short: 'p' },
  detach: { type: 'boolean', short: 'd' },
  'pid-file': { type: 'string' },
  'console-socket': { type: 'string' },
  tty: { type: 'boolean', short: 't' },
  cwd: { type: 'string' },
  env: { type: 'string', short: 'e', multiple: true },
  user: { type: 'string', short: 'u' },
  'additional-gids': { type: 'string', short: 'g', multiple: true },
  cap: { type: 'string', short: 'c', multiple: true },
  'no-new-privs': { type: 'boolean' },
  'preserve-fds': { type: 'string' },
  'process-label': { type: 'string' },
  apparmor: { type: 'string' },
  ignore_paused: { type: 'boolean' },
};

const exec: Handler = async (argv, g) => {
  const p = parseFlags(argv, EXEC_FLAGS, true);
  const id = one(p.rest);
  const s = readState(g.root, id);
  let proc: OciProcess;
  const processFile = callerPath(str(p, 'process'));
  if (processFile) {
    try {
      proc = JSON.parse(readFileSync(processFile, 'utf8')) as OciProcess;
    } catch (e) {
      throw new Error(`exec: process file ${processFile}: ${(e as Error).message}`);
    }
    if (!Array.isArray(proc.args) || proc.args.length === 0) throw new Error(`exec: process file ${processFile}: args must not be empty`);
  } else {
    const args = p.rest.slice(1);
    if (args.length === 0) throw new FlagError('exec: no command given (use ID COMMAND [ARGS...] or --process)');
    let user = s.spec.process?.user;
    const u = str(p, 'user');
    if (u) {
      const [uid, gid] = u.split(':').map(Number);
      if (!Number.isInteger(uid) || (gid !== undefined && !Number.isInteger(gid))) throw new FlagError(`exec: --user ${u}: want UID[:GID]`);
      user = { uid, gid: gid ?? 0, additionalGids: list(p, 'additional-gids').map(Number) };
    }
    const base = s.spec.process;
    const caps = base?.capabilities;
    const add = list(p, 'cap');
    proc = execProcess(base, {
      args,
      env: list(p, 'env'),
      cwd: str(p, 'cwd'),
      user,
      terminal: bool(p, 'tty'),
      noNewPrivileges: bool(p, 'no-new-privs') || base?.noNewPrivileges,
      capabilities: add.length && caps ? Object.fromEntries(Object.entries(caps).map(([k, v]) => [k, [...(v as string[]), ...add]])) : caps,
    });
  }
  const preserveFds = preservedFds(p);
  const detach = bool(p, 'detach');
  const consoleSocket = callerPath(str(p, 'console-socket'));
  let ptyPair: [number, number] | undefined;
  if (proc.terminal && !consoleSocket) {
    if (detach) throw new FlagError('exec: --tty with --detach needs --console-socket');
    ptyPair = native().socketpair();
    proc.consoleSize ??= callerConsoleSize();
  }
  const c = ctx();
  let l;
  try {
    l = await execLaunchAsync({ root: g.root, id, process: proc, stdio: [c.stdin, c.stdout, c.stderr], consoleSocket, consoleFd: ptyPair?.[1], preserveFds });
  } catch (e) {
    if (ptyPair) ptyPair.forEach(closeQuietly);
    throw e;
  }
  if (ptyPair) closeQuietly(ptyPair[1]);
  const r = await waitSetup(l.spawned.reportFd);
  closeQuietly(l.spawned.reportFd);
  if (r.kind === 'error') {
    await new Promise<void>((res) => native().watch(l.spawned.pidfd, () => res()));
    closeQuietly(l.spawned.pidfd);
    throw new ContainerError(r.message, r.errno);
  }
  let master: number | undefined;
  if (ptyPair) {
    master = native().recvFd(ptyPair[0]);
    closeQuietly(ptyPair[0]);
  }
  writePidFile(callerPath(str(p, 'pid-file')), l.spawned.pid);
  if (detach) {
    closeQuietly(l.spawned.pidfd);
    return 0;
  }
  return waitExit(l.spawned, master);
};

const spec: Handler = (argv) => {
  const p = parseFlags(argv, { bundle: { type: 'string', short: 'b' }, rootless: { type: 'boolean' } });
  const file = resolve(ctx().cwd, str(p, 'bundle') ?? '.', 'config.json');
  if (existsSync(file)) throw new Error(`File ${file} exists. Remove it first`);
  writeFileSync(file, JSON.stringify(defaultSpec({ rootless: bool(p, 'rootless') }), null, 2) + '\n');
  return 0;
};

const UPDATE_FLAGS: FlagSpec = {
  resources: { type: 'string', short: 'r' },
  'blkio-weight': { type: 'string' },
  'cpu-period': { type: 'string' },
  'cpu-quota': { type: 'string' },
  'cpu-share': { type: 'string' },
  'cpu-shares': { type: 'string' },
  'cpu-rt-period': { type: 'string' },
  'cpu-rt-runtime': { type: 'string' },
  'cpuset-cpus': { type: 'string' },
  'cpuset-mems': { type: 'string' },
  'kernel-memory': { type: 'string' },
  'kernel-memory-tcp': { type: 'string' },
  memory: { type: 'string' },
  'memory-reservation': { type: 'string' },
  'memory-swap': { type: 'string' },
  'pids-limit': { type: 'string' },
  'l3-cache-schema': { type: 'string' },
  'mem-bw-schema': { type: 'string' },
};

/** All of fd (the caller's stdin), read on the thread pool: a served call's pipe may take its time. */
async function readAll(fd: number): Promise<string> {
  const chunks: Buffer[] = [];
  for (;;) {
    const buf = Buffer.alloc(65536);
    const n = await readFd(fd, buf);
    if (n === 0) return Buffer.concat(chunks).toString('utf8');
    chunks.push(buf.subarray(0, n));
  }
}

function integer(flag: string, v: string): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new FlagError(`invalid value for --${flag}: ${JSON.stringify(v)}`);
  return n;
}

/** runc's sizes (go-units RAMInBytes): 64m, 1.5g, 512KiB, plain bytes; -1 is unlimited. */
function bytes(flag: string, v: string): number {
  if (v.trim() === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp])?(?:i?b)?$/i.exec(v.trim());
  if (!m) throw new FlagError(`invalid value for --${flag}: ${JSON.stringify(v)}`);
  return Math.floor(Number(m[1]) * 1024 ** ' kmgtp'.indexOf((m[2] ?? ' ').toLowerCase()));
}

/** The LinuxResources runc update builds from its flags (a JSON document replaces all of them). */
function resourcesFromFlags(p: ReturnType<typeof parseFlags>): Record<string, Record<string, unknown>> {
  const r: Record<string, Record<string, unknown>> = { memory: {}, cpu: {}, blockIO: {}, pids: {} };
  const set = (flag: string, section: string, key: string, parse: (f: string, v: string) => unknown) => {
    const v = str(p, flag);
    if (v !== undefined && v !== '') r[section][key] = parse(flag, v);
  };
  set('blkio-weight', 'blockIO', 'weight', integer);
  set('cpu-period', 'cpu', 'period', integer);
  set('cpu-quota', 'cpu', 'quota', integer);
  set('cpu-share', 'cpu', 'shares', integer);
  set('cpu-shares', 'cpu', 'shares', integer);
  set('cpu-rt-period', 'cpu', 'realtimePeriod', integer);
  set('cpu-rt-runtime', 'cpu', 'realtimeRuntime', integer);
  set('cpuset-cpus', 'cpu', 'cpus', (_f, v) => v);
  set('cpuset-mems', 'cpu', 'mems', (_f, v) => v);
  set('memory', 'memory', 'limit', bytes);
  set('memory-reservation', 'memory', 'reservation', bytes);
  set('memory-swap', 'memory', 'swap', bytes);
  set('kernel-memory', 'memory', 'kernel', bytes);
  set('kernel-memory-tcp', 'memory', 'kernelTCP', bytes);
  set('pids-limit', 'pids', 'limit', integer);
  return r;
}

const update: Handler = async (argv, g) => {
  const p = parseFlags(argv, UPDATE_FLAGS);
  const id = one(p.rest);
  // Intel RDT needs resctrl groups, which tsbox does not manage: refused, not silently dropped.
  if (str(p, 'l3-cache-schema')) throw new Error('Intel RDT/CAT: l3 cache schema is not enabled');
  if (str(p, 'mem-bw-schema')) throw new Error('Intel RDT/MBA: memory bandwidth schema is not enabled');
  const file = str(p, 'resources') === '-' ? '-' : callerPath(str(p, 'resources'));
  let change: unknown;
  if (file) {
    const text = file === '-' ? await readAll(ctx().stdin) : readFileSync(file, 'utf8');
    try {
      change = JSON.parse(text);
    } catch (e) {
      throw new Error(`update: resources ${file === '-' ? 'from stdin' : file}: ${(e as Error).message}`);
    }
  } else {
    change = resourcesFromFlags(p);
  }
  const mem = (change as { memory?: { kernel?: number; kernelTCP?: number } } | null)?.memory;
  if (mem?.kernel || mem?.kernelTCP) err('tsbox-runtime: warning: kernel memory settings are ignored\n');
  await locked(() => ops.update(g.root, id, change));
  return 0;
};

const featuresCmd: Handler = () => {
  out(JSON.stringify(features(), null, 2) + '\n');
  return 0;
};

export const commands: Record<string, Handler> = {
  create,
  run,
  start,
  state,
  kill,
  delete: del,
  pause,
  resume,
  ps,
  list: list_,
  exec,
  spec,
  features: featuresCmd,
  update,
};

