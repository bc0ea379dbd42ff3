// The runtime as a typed API: start an OCI container from Node as easily as child_process.spawn.
import { EventEmitter } from 'node:events';
import { openSync, writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';
import { native, type ExitStatus, type Spawned } from '../native.js';
import { containerCgroup, markCreated, readState, statusOf, type Status } from './state.js';
import { execLaunch, execProcess } from './exec.js';
import { abortLaunch, launchAsync } from './launch.js';
import * as ops from './operations.js';
import { closeQuietly, watchLaunched } from './report.js';
import { AbortError, containerError } from '../errors.js';
import { defaultStateRoot } from './state.js';
import { validateSpec, type OciProcess, type OciSpec } from './spec.js';
import { signalName, signalNumber } from './signals.js';
import { disownContainer, ownContainer, reapOrphans } from './ownership.js';
import type { CgroupStats } from './cgroup/index.js';

export type StdioOption = 'pipe' | 'inherit' | 'ignore' | number;
/** child_process's forms: one option for all three, or one each. */
export type Stdio = StdioOption | [StdioOption, StdioOption, StdioOption];

export function stdioTriple(s: Stdio | undefined): [StdioOption, StdioOption, StdioOption] {
  if (s === undefined) return ['pipe', 'pipe', 'pipe'];
  return Array.isArray(s) ? s : [s, s, s];
}

/** child_process's ways to end a process it started: after a time, or when a signal aborts. */
export interface KillOptions {
  /** Milliseconds after which the process gets killSignal. */
  timeout?: number;
  /** What timeout and an abort send (default SIGTERM). */
  killSignal?: NodeJS.Signals | number;
  /** Aborting it sends killSignal (and 'error' gets an AbortError when someone listens). */
  signal?: AbortSignal;
}

/** What execa's `input` takes: written to stdin, which is then ended (stdin must be 'pipe'). */
export type Input = string | Buffer | Uint8Array | Readable;

/** How a process ended, as child_process reports it: an exit code, or the name of the signal that killed it. */
export interface ProcessExit {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** Signal name ('SIGTERM'), or null. */
  signal: NodeJS.Signals | null;
}

/** A signal's number, or child_process's TypeError (code ERR_UNKNOWN_SIGNAL) for one that does not exist. */
export function apiSignal(sig: NodeJS.Signals | number): number {
  try {
    return signalNumber(sig);
  } catch {
    throw Object.assign(new TypeError(`Unknown signal: ${String(sig)}`), { code: 'ERR_UNKNOWN_SIGNAL' });
  }
}

/** The exit status with the signal's name instead of its number (the public form). */
export function namedExit(st: ExitStatus): ProcessExit {
  return { code: st.code, signal: st.signal === null ? null : (signalName(st.signal) as NodeJS.Signals) };
}

export interface RuntimeOptions extends KillOptions {
  /** Container id (default: a random one). */
  id?: string;
  /** OCI spec; root.path relative paths resolve against `bundle`. */
  spec: OciSpec;
  bundle?: string;
  /** State root (default /run/tsbox as root). */
  root?: string;
  /** stdin, stdout, stderr (default 'pipe' each), or one for all three. Ignored for the tty when spec.process.terminal is set. */
  stdio?: Stdio;
  /** tsbox-init as pid 1, a reaper running the process as its child (default false: the process is pid 1, as with runc). */
  init?: boolean;
  /**
   * Start the container under a monitor that outlives this process: it keeps the exit status (statusFd)
   * and the json-file log (annotation run.tsbox.log) of a detached container.
   */
  monitor?: boolean;
  /** Delete the container (cgroup, state) once it exits (default true). */
  remove?: boolean;
  /**
   * Leave the container running when this process ends (default false: it is killed and removed then,
   * whichever way the process ends, SIGKILL included). A detached container is the caller's to stop.
   */
  detached?: boolean;
  /** File fd where tsbox-init records the exit status, for a container that outlives this process. */
  statusFd?: number;
  /** Called with the host pid once the namespaces exist and before anything runs in them. */
  beforeStart?: (pid: number) => void;
  /** Told what could not be done as asked (rootless limits without a cgroup); default: ignored (the library writes nothing to the host's stdout or stderr). */
  onWarning?: (message: string) => void;
  /** Replaces spec.process.env (child_process's `env`): an object or KEY=VALUE strings. */
  env?: Record<string, string | undefined> | string[];
  /** Replaces spec.process.cwd (an absolute path inside the container). */
  cwd?: string;
  /** Written to stdin, which is then ended (execa's `input`); stdin must be 'pipe'. */
  input?: Input;
}

/** KEY=VALUE strings from child_process's env object (undefined values left out) or as given. */
export function envList(env: Record<string, string | undefined> | string[]): string[] {
  return Array.isArray(env) ? env : Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
}

export { decodeWaitStatus } from './report.js';

let devNull: number | undefined;
function nullFd(): number {
  if (devNull === undefined) devNull = openSync('/dev/null', 'r+');
  return devNull;
}

/** The terminal of a container started with spec.process.terminal. */
export class Pty {
  readonly output: Readable;
  private closed = false;
  constructor(readonly fd: number) {
    this.output = new ReadStream(fd);
    // EIO once the container side closes: that is the end of the output.
    this.output.on('error', () => this.output.push(null));
    // The stream owns the fd and closes it when it ends: nothing may be written after that.
    this.output.on('close', () => (this.closed = true));
  }
  /** Returns false once the terminal is gone (the process exited): input after that is dropped. */
  write(data: string | Buffer): boolean {
    if (this.closed) return false;
    try {
      writeSync(this.fd, typeof data === 'string' ? Buffer.from(data) : data);
      return true;
    } catch {
      return false;
    }
  }
  resize(rows: number, cols: number): void {
    native().setWinsize(this.fd, rows, cols);
  }
  close(): void {
    this.closed = true;
    (this.output as ReadStream).destroy();
  }
}

export interface StdioSetup {
  childFds: [number, number, number];
  /** Our ends of the 'pipe' entries, wrapped in streams by openEnds once the process runs. */
  parentFds: (number | undefined)[];
  toClose: number[];
}

/**
 * 'pipe' is a pipe, as docker's containers get (not child_process's socketpair): a process may open
 * /dev/stdin, /dev/stdout or /dev/stderr again, which on a socket fails with ENXIO (images log to
 * /dev/stdout through links).
 */
export function setupStdio(stdio: [StdioOption, StdioOption, StdioOption]): StdioSetup {
  const childFds: number[] = [];
  const parentFds: (number | undefined)[] = [];
  const toClose: number[] = [];
  stdio.forEach((o, i) => {
    if (o === 'pipe') {
      const [r, w] = native().pipe();
      const [ours, theirs] = i === 0 ? [w, r] : [r, w];
      childFds.push(theirs);
      toClose.push(theirs);
      parentFds.push(ours);
    } else {
      childFds.push(o === 'inherit' ? i : o === 'ignore' ? nullFd() : o);
      parentFds.push(undefined);
    }
  });
  return { childFds: childFds as [number, number, number], parentFds, toClose };
}

/**
 * Streams over our stdio ends, made right before the caller gets the process: a stream reads from the
 * moment it exists, and one of a process that exited at once would end (and emit 'end') before the
 * caller could listen. The caller's continuation runs before any I/O is read.
 */
export function openEnds(io: StdioSetup): (Socket | undefined)[] {
  return io.parentFds.map((fd, i) => (fd === undefined ? undefined : new Socket({ fd, readable: i !== 0, writable: i === 0 })));
}

/** child_process's events, typed: what each listener gets. */
export interface ContainerProcessEvents {
  /** The process runs (emitted once, before any 'exit' or 'close'). */
  spawn: [];
  /** The process exited: its code, or the name of the signal that killed it. */
  exit: [code: number | null, signal: NodeJS.Signals | null];
  /** The process exited and its stdio streams have all closed (all output read). */
  close: [code: number | null, signal: NodeJS.Signals | null];
  /** An AbortSignal ended it (AbortError), a signal could not be sent, or cleanup after the exit failed. */
  error: [err: Error];
}

type Listener<K extends keyof ContainerProcessEvents> = (...args: ContainerProcessEvents[K]) => void;

// Typed listeners for the events above (merged into the class): a listener of the wrong shape for one of
// them does not compile; other events (EventEmitter's own, a caller's) take any listener.
export interface ContainerProcess {
  on<K extends keyof ContainerProcessEvents>(event: K, listener: Listener<K>): this;
  on<E extends string | symbol>(event: E & Exclude<E, keyof ContainerProcessEvents>, listener: (...args: any[]) => void): this;
  once<K extends keyof ContainerProcessEvents>(event: K, listener: Listener<K>): this;
  once<E extends string | symbol>(event: E & Exclude<E, keyof ContainerProcessEvents>, listener: (...args: any[]) => void): this;
  off<K extends keyof ContainerProcessEvents>(event: K, listener: Listener<K>): this;
  off<E extends string | symbol>(event: E & Exclude<E, keyof ContainerProcessEvents>, listener: (...args: any[]) => void): this;
  addListener<K extends keyof ContainerProcessEvents>(event: K, listener: Listener<K>): this;
  addListener<E extends string | symbol>(event: E & Exclude<E, keyof ContainerProcessEvents>, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof ContainerProcessEvents>(event: K, listener: Listener<K>): this;
  removeListener<E extends string | symbol>(event: E & Exclude<E, keyof ContainerProcessEvents>, listener: (...args: any[]) => void): this;
  prependListener<K extends keyof ContainerProcessEvents>(event: K, listener: Listener<K>): this;
  prependListener<E extends string | symbol>(event: E & Exclude<E, keyof ContainerProcessEvents>, listener: (...args: any[]) => void): this;
  prependOnceListener<K extends keyof ContainerProcessEvents>(event: K, listener: Listener<K>): this;
  prependOnceListener<E extends string | symbol>(event: E & Exclude<E, keyof ContainerProcessEvents>, listener: (...args: any[]) => void): this;
  emit<K extends keyof ContainerProcessEvents>(event: K, ...args: ContainerProcessEvents[K]): boolean;
  emit<E extends string | symbol>(event: E & Exclude<E, keyof ContainerProcessEvents>, ...args: any[]): boolean;
}

/**
 * A running container (or a process exec'd into one): child_process's ChildProcess contract. Setup
 * failures reject the promise that would have given this object (run, spawn, runContainer, exec); once
 * it exists, what goes wrong is an 'error' event, emitted only when someone listens for it.
 */
export class ContainerProcess extends EventEmitter {
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** The exit status as wait(2) gives it (signal as a number), resolved once the process has exited. */
  readonly exitStatus: Promise<ExitStatus>;
  /** Resolves once the process has exited (and, for a container with remove, been deleted). */
  readonly exited: Promise<ProcessExit>;
  private closing?: Promise<ProcessExit>;
  /** The terminal when the process has one (spec.process.terminal). */
  pty: Pty | null;
  /** child_process's exitCode and signalCode: null until the process has exited. */
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /** True once kill() has delivered a signal (child_process's `killed`). */
  killed = false;
  private pidfd: number;
  private done = false;

  constructor(spawned: Spawned, ends: (Socket | undefined)[], exit: Promise<ExitStatus>, onExit: () => void, pty: Pty | null) {
    super();
    this.pid = spawned.pid;
    this.pidfd = spawned.pidfd;
    this.stdin = ends[0] ?? null;
    this.stdout = ends[1] ?? null;
    this.stderr = ends[2] ?? null;
    this.pty = pty;
    this.exitStatus = exit.then((status) => {
      this.done = true;
      closeQuietly(this.pidfd);
      // As child_process does: nothing can read stdin any more, and its descriptor must not outlive
      // the process when the caller never ends it.
      this.stdin?.destroy();
      try {
        onExit();
      } catch (e) {
        this.fail(e as Error);
      }
      const named = namedExit(status);
      this.exitCode = named.code;
      this.signalCode = named.signal;
      this.emit('exit', named.code, named.signal);
      return status;
    });
    this.exited = this.exitStatus.then(namedExit);
    // 'close' is watched for once someone listens for it (or asks for closed).
    this.on('newListener', (ev) => {
      if (ev === 'close') void this.closed;
    });
    // child_process's order: 'spawn' once running, before any 'exit' or 'close'.
    process.nextTick(() => this.emit('spawn'));
  }

  /** 'error' as child_process emits it, but only to listeners: an unobserved failure does not crash the embedder. */
  protected fail(err: Error): void {
    if (this.listenerCount('error')) this.emit('error', err);
  }

  /** Resolves with the exit status once the process has exited and its stdio streams have all closed
   * (child_process's 'close', emitted then): all output has been read by then. */
  get closed(): Promise<ProcessExit> {
    this.closing ??= Promise.all([this.exited, ...[this.stdout, this.stderr].map((s) => (s && !s.closed ? new Promise<void>((r) => s.once('close', () => r())) : undefined))]).then(([status]) => {
      this.emit('close', status.code, status.signal);
      return status;
    });
    return this.closing;
  }

  /**
   * docker stop: the signal (default SIGTERM), then SIGKILL if the process has not exited after timeout
   * seconds (default 10). Resolves with its exit status.
   */
  async stop(opts: { timeout?: number; signal?: number | NodeJS.Signals } = {}): Promise<ProcessExit> {
    this.kill(opts.signal ?? 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), (opts.timeout ?? 10) * 1000)));
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first === 'late') this.kill('SIGKILL');
    return this.exited;
  }

  /** timeout, killSignal and an AbortSignal, as child_process takes them. */
  watchKill(o: KillOptions): void {
    const sig = o.killSignal ?? 'SIGTERM';
    if (!o.timeout && !o.signal) return;
    const timer = o.timeout ? setTimeout(() => this.kill(sig), o.timeout) : undefined;
    const onAbort = () => {
      this.kill(sig);
      this.fail(new AbortError({ cause: o.signal?.reason }));
    };
    if (o.signal?.aborted) process.nextTick(onAbort); // after 'spawn', as child_process
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    void this.exitStatus.then(() => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    });
  }

  /** execa's `input`: written to stdin, which is then ended. A process that never reads it is no error. */
  feed(input: Input | undefined): void {
    if (input === undefined) return;
    const stdin = this.stdin;
    if (!stdin) throw new TypeError('input needs stdin to be a pipe (stdio[0] = "pipe")');
    stdin.on('error', () => undefined); // EPIPE once the process exits without reading all of it
    if (input instanceof Readable) input.pipe(stdin);
    else stdin.end(input);
  }

  /**
   * Sends a signal (name or number) to the process: true when delivered, false once it has exited
   * (child_process's kill). Other failures go to 'error'. A container's pid 1 ignores signals it has no
   * handler for (SIGKILL aside): stop() escalates, or start it with init: true.
   */
  kill(signal: number | NodeJS.Signals = 'SIGTERM'): boolean {
    const n = apiSignal(signal);
    if (this.done) return false;
    try {
      native().pidfdSignal(this.pidfd, n);
      this.killed = true;
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH' && !/ESRCH/.test((e as Error).message)) this.fail(e as Error);
      return false;
    }
  }
}

export class Container extends ContainerProcess {
  readonly id: string;
  readonly root: string;

  constructor(id: string, root: string, ...rest: ConstructorParameters<typeof ContainerProcess>) {
    super(...rest);
    this.id = id;
    this.root = root;
  }

  status(): Status {
    return statusOf(this.root, readState(this.root, this.id));
  }

  /** The engine's container name when run() started it (the runtime id is `id`). */
  name?: string;

  pause(): void {
    ops.pause(this.root, this.id);
  }

  resume(): void {
    ops.resume(this.root, this.id);
  }

  stats(): CgroupStats {
    return containerCgroup(readState(this.root, this.id)).stats();
  }

  /** Host pids of all processes in the container. */
  pids(): number[] {
    return ops.pids(this.root, this.id);
  }

  /** Kills what is left and removes cgroup and state. */
  delete(): void {
    ops.remove(this.root, this.id, true);
    disownContainer(this.root, this.id);
  }

  /** Runs another process inside the container (its namespaces, cgroup, caps and seccomp). */
  async exec(args: string[], opts: { env?: Record<string, string | undefined> | string[]; cwd?: string; user?: { uid: number; gid: number }; stdio?: Stdio; process?: OciProcess; input?: Input } & KillOptions = {}): Promise<ContainerProcess> {
    const st = readState(this.root, this.id);
    const proc = opts.process ?? execProcess(st.spec.process, { args, env: opts.env && envList(opts.env), cwd: opts.cwd, user: opts.user, terminal: false });
    const io = setupStdio(stdioTriple(opts.stdio));
    let l;
    try {
      l = execLaunch({ root: this.root, id: this.id, process: proc, stdio: io.childFds });
    } finally {
      io.toClose.forEach(closeQuietly);
    }
    const w = watchLaunched(l.spawned.pidfd, l.spawned.reportFd);
    const r = await w.setup;
    if (r.kind === 'error') {
      io.parentFds.forEach(closeQuietly);
      await w.exit;
      closeQuietly(l.spawned.pidfd);
      throw containerError(r.message, r.errno);
    }
    const p = new ContainerProcess(l.spawned, openEnds(io), w.exit, () => {}, null);
    p.watchKill(opts);
    p.feed(opts.input);
    return p;
  }
}

// Containers this process started and still owns die and are removed when it ends: ownership.ts.
function own(root: string, id: string) {
  return ownContainer(root, id);
}

function disown(root: string, id: string): void {
  disownContainer(root, id);
}

/** Creates and starts a container from a spec; resolves once its process runs (or rejects with the setup error). */
export async function runContainer(opts: RuntimeOptions): Promise<Container> {
  const root = opts.root ?? defaultStateRoot();
  const id = opts.id ?? `tsbox-${randomBytes(6).toString('hex')}`;
  const spec = structuredClone(opts.spec);
  if (opts.killSignal !== undefined) apiSignal(opts.killSignal); // a bad name fails before anything runs
  if (opts.input !== undefined && stdioTriple(opts.stdio)[0] !== 'pipe') throw new TypeError('input needs stdin to be a pipe (stdio[0] = "pipe")');
  if (opts.env !== undefined && spec.process) spec.process.env = envList(opts.env);
  if (opts.cwd !== undefined && spec.process) spec.process.cwd = opts.cwd;
  validateSpec(spec, opts.bundle ?? process.cwd());
  const terminal = spec.process?.terminal === true;
  const io = setupStdio(stdioTriple(opts.stdio));
  const ptyPair = terminal ? native().socketpair() : undefined;
  const remove = opts.remove ?? true;
  // What an earlier owner that was killed left here goes first.
  reapOrphans(root);
  // Owned before the clone: a process that exits while it is under way still removes what was made.
  // The monitor of a detached engine container outlives us by design.
  const owner = opts.detached || opts.monitor ? undefined : own(root, id);
  let l;
  try {
    l = await launchAsync({ root, id, bundle: opts.bundle ?? process.cwd(), spec, stdio: io.childFds, consoleFd: ptyPair?.[1], splitStart: false, init: opts.init, monitor: opts.monitor, statusFd: opts.statusFd, beforeStart: opts.beforeStart, onWarning: opts.onWarning ?? (() => undefined), owner });
  } catch (e) {
    disown(root, id);
    io.parentFds.forEach(closeQuietly);
    ptyPair?.forEach(closeQuietly);
    throw e;
  } finally {
    io.toClose.forEach(closeQuietly);
    if (ptyPair) closeQuietly(ptyPair[1]);
  }
  // Owned containers die with a worker thread that is terminated, as they do at the process's exit.
  // With a monitor, it is our child (the one to wait for) and it reports the process's status.
  const waitFd = l.spawned.monitorPidfd ?? l.spawned.pidfd;
  const w = watchLaunched(waitFd, l.spawned.reportFd, remove);
  if (l.spawned.monitorPidfd !== undefined) w.exit.finally(() => closeQuietly(waitFd));
  const onExit = () => {
    // Kept (remove: false): still ours, removed when this process ends.
    if (!remove) return;
    disown(root, id);
    ops.remove(root, id, true, l.state, opts.onWarning);
  };
  const r = await w.setup;
  if (r.kind === 'error') {
    io.parentFds.forEach(closeQuietly);
    if (ptyPair) closeQuietly(ptyPair[0]);
    await w.exit;
    closeQuietly(l.spawned.pidfd);
    try {
      onExit();
    } catch {
      // the setup error says more
    }
    if (!remove) abortLaunch(root, id, undefined, l.cgroup);
    disown(root, id);
    throw containerError(r.message, r.errno);
  }
  const c = new Container(id, root, l.spawned, openEnds(io), w.exit, onExit, null);
  markCreated(root, id);
  c.watchKill(opts);
  c.feed(opts.input);
  // A monitor that holds the terminal itself (run.tsbox.tty=monitor, attach.c) sends us no master.
  if (ptyPair && opts.monitor && spec.annotations?.['run.tsbox.tty'] === 'monitor') closeQuietly(ptyPair[0]);
  else if (ptyPair) {
    const master = native().recvFd(ptyPair[0]);
    closeQuietly(ptyPair[0]);
    c.pty = new Pty(master);
  }
  return c;
}
