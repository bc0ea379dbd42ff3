// The caller's terminal never reaches a container: a process holding it could push input into the
// caller's shell (TIOCSTI) or take it over. Terminals (and sockets) among fds 0-2 are relayed through pipes, as docker and
// podman do; files and pipes are passed as they are (no such ioctl on them). With -t the container gets a
// pty of its own instead, and the CLI copies between it and the caller's terminal.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { isatty } from 'node:tty';
import { native, type ExitStatus } from '../native.js';
import { closeQuietly } from '../runtime/report.js';
import { CommandNotFoundError, NotExecutableError } from '../errors.js';
import type { ContainerProcess, Pty } from '../engine/exec.js';

const isSocket = (fd: number) => {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false; // closed: passed on as it is, as before
  }
};

/** A copy of what the container writes (its log). */
export type Tee = (stream: 'stdout' | 'stderr', data: Buffer) => void;

export interface Relay {
  /** fds 0-2 for the container's process. */
  readonly fds: [number, number, number];
  /** Once the process is launched: closes its ends here and starts copying. */
  start(): void;
  /** Once the process has exited: lets its output drain and stops reading the caller's stdin. */
  finish(): Promise<void>;
  /** When the launch failed: closes everything. */
  close(): void;
}

// Output still arriving this long after the process exited is waited for; a silent pipe (a background
// process of an exec keeps it open) is not, nor one that never stops.
const DRAIN_IDLE_MS = 300;
const DRAIN_MAX_MS = 3000;

/**
 * stdin: a terminal only with interactive, through a pipe, otherwise /dev/null (docker without -i);
 * stdout, stderr: a terminal through a pipe. none: /dev/null for all three (-d, or a pty).
 */
export function relayStdio(o: { interactive: boolean; none?: boolean; tee?: Tee }): Relay {
  const theirs: number[] = [];
  const ours: (number | undefined)[] = [];
  let devNull: number | undefined;
  const nullFd = () => (devNull ??= openSync('/dev/null', 'r+'));
  const fds = [0, 1, 2].map((fd) => {
    if (o.none || (fd === 0 && !o.interactive)) return nullFd();
    // With a tee (the container's json-file log) output always comes through here. A socket (a Node
    // parent's stdio) too: docker's containers get pipes, and a socket cannot be opened again as
    // /dev/stdin or /dev/stdout (ENXIO).
    if (!isatty(fd) && !(o.tee && fd > 0) && !isSocket(fd)) return fd;
    const [r, w] = native().pipe();
    ours[fd] = fd === 0 ? w : r;
    theirs.push(fd === 0 ? r : w);
    return fd === 0 ? r : w;
  }) as [number, number, number];

  const closeTheirs = () => {
    theirs.splice(0).forEach(closeQuietly);
    if (devNull !== undefined) closeSync(devNull);
    devNull = undefined;
  };
  let input: Socket | undefined;
  const outputs: Promise<void>[] = [];
  const exitedHooks: (() => void)[] = [];
  return {
    fds,
    start() {
      closeTheirs();
      if (ours[0] !== undefined) {
        input = new Socket({ fd: ours[0], readable: false, writable: true });
        ours[0] = undefined;
        // EPIPE once the process is gone: what the caller types after that goes nowhere.
        input.on('error', () => undefined);
        // The end of the caller's input closes the pipe (a pipe has no half-close): once what is queued is written.
        const sock = input;
        const eof = () => (sock.writableLength ? sock.once('drain', () => sock.destroy()) : sock.destroy());
        process.stdin.once('end', eof);
        process.stdin.pipe(input, { end: false });
      }
      for (const fd of [1, 2]) {
        if (ours[fd] === undefined) continue;
        // Looked up at the first output: making process.stdout (a stream over a file, pipe or tty) is a few
        // ms, which a silent container need not pay.
        const sink = () => (fd === 1 ? process.stdout : process.stderr);
        const s = new Socket({ fd: ours[fd], readable: true, writable: false });
        ours[fd] = undefined;
        outputs.push(
          new Promise<void>((resolve) => {
            let idle: NodeJS.Timeout | undefined;
            let exited = false;
            const done = () => {
              clearTimeout(idle);
              s.destroy();
              resolve();
            };
            // Until the exit the process may be silent as long as it likes; after it, not for long.
            const arm = () => {
              if (!exited) return;
              clearTimeout(idle);
              idle = setTimeout(done, DRAIN_IDLE_MS);
            };
            s.on('data', (d: Buffer) => {
              sink().write(d);
              o.tee?.(fd === 1 ? 'stdout' : 'stderr', d);
              arm();
            });
            s.on('end', done).on('close', done).on('error', done);
            exitedHooks.push(() => {
              exited = true;
              arm();
              setTimeout(done, DRAIN_MAX_MS).unref();
            });
          }),
        );
      }
    },
    async finish() {
      exitedHooks.forEach((h) => h());
      await Promise.all(outputs);
      if (input) {
        process.stdin.unpipe(input);
        process.stdin.pause();
        input.destroy();
      }
    },
    close() {
      closeTheirs();
      ours.forEach(closeQuietly);
    },
  };
}

/** Copies between the caller's terminal (raw) and the container's own pty; returns the undo. */
function attachPty(pty: Pty, interactive: boolean, tee?: Tee): () => Promise<void> {
  // Raw only when the keys go to the container (docker: -it); with -t alone ^C stays the CLI's, forwarded.
  const raw = interactive && process.stdin.isTTY === true;
  if (raw) process.stdin.setRawMode(true);
  const resize = () => {
    if (process.stdout.isTTY) pty.resize(process.stdout.rows, process.stdout.columns);
  };
  resize();
  process.on('SIGWINCH', resize);
  const input = (d: Buffer) => pty.write(d);
  if (interactive) process.stdin.on('data', input);
  pty.output.pipe(process.stdout, { end: false });
  const copy = (d: Buffer) => tee?.('stdout', d);
  if (tee) pty.output.on('data', copy);
  return async () => {
    // The pty keeps what the process wrote last until it is read: drain it (EIO ends it) first.
    await Promise.race([new Promise((r) => pty.output.once('end', r).once('close', r)), new Promise((r) => setTimeout(r, 500))]);
    process.stdin.off('data', input);
    pty.output.off('data', copy);
    process.off('SIGWINCH', resize);
    if (raw) process.stdin.setRawMode(false);
    if (interactive) process.stdin.pause();
  };
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'] as const;

/**
 * Waits for a process in the foreground: docker's sig-proxy (what the CLI receives, the process gets),
 * its pty or its relayed stdio; resolves once it exited and its output is through.
 */
export async function foreground(p: ContainerProcess, relay: Relay, interactive: boolean, tee?: Tee): Promise<ExitStatus> {
  const handlers = FORWARDED.map((s) => [s, () => p.kill(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const detachPty = p.pty ? attachPty(p.pty, interactive, tee) : undefined;
  try {
    return await p.exitStatus;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
    await relay.finish();
    if (detachPty) await detachPty();
  }
}

/** The exit status as a shell reports it. */
export function exitCode(st: ExitStatus): number {
  return st.code ?? 128 + (st.signal ?? 0);
}

/**
 * A process that could not start (run, exec, sandbox): its relay closed; docker's 127 (not found) or 126
 * (not executable) with the message on stderr, anything else rethrown (125).
 */
export function startFailure(e: unknown, relay: { close(): void }): number {
  relay.close();
  if (!(e instanceof CommandNotFoundError || e instanceof NotExecutableError)) throw e;
  process.stderr.write(`tsbox: ${e.message}\n`);
  return e.exitCode;
}
