// A container process the CLI waits for (runc run / exec without --detach): forward signals, proxy a
// pty when the CLI allocated it, and turn the exit into an exit code. The caller's signals, stdio and
// terminal are the call context's (this process's own when cold, a served client's otherwise).
import { createReadStream, fstatSync, openSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ReadStream } from 'node:tty';
import { net, tty } from '../lazy.js';
import { native, type Spawned } from '../../native.js';
import { closeQuietly } from '../report.js';
import { signalNumber } from '../signals.js';
import { ctx, writeAll, type CallContext } from './context.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/** Resolves with the process's exit code (128+N for a signal, as a shell reports it). */
export function waitExit(spawned: Spawned, master?: number): Promise<number> {
  const c = ctx();
  const handlers: [NodeJS.Signals, () => void][] = [];
  for (const sig of FORWARDED) {
    const h = () => {
      try {
        native().pidfdSignal(spawned.pidfd, signalNumber(sig));
      } catch {
        // exited
      }
    };
    c.signals.on(sig, h);
    handlers.push([sig, h]);
  }
  let detachPty: (() => Promise<void>) | undefined;
  if (master !== undefined) detachPty = proxyPty(c, master);
  return new Promise((resolve) => {
    native().watch(spawned.pidfd, async (st) => {
      for (const [sig, h] of handlers) c.signals.off(sig, h);
      closeQuietly(spawned.pidfd);
      if (detachPty) await detachPty();
      resolve(st.code ?? 128 + (st.signal ?? 0));
    });
  });
}

/**
 * The caller's stdin as a stream: process.stdin when cold. A served call's fd stays the server's to close
 * at the call's end: a terminal is read through libuv's own reopened descriptor (it reopens a pty slave),
 * anything else through a new open of it (a pipe or a file; a socket is not read).
 */
function inputOf(c: CallContext): { stream: Readable & Partial<Pick<ReadStream, 'setRawMode' | 'isTTY'>>; own: boolean } {
  if (!c.spawner) return { stream: process.stdin, own: false };
  if (tty().isatty(c.stdin)) return { stream: new (tty().ReadStream)(c.stdin), own: true };
  try {
    const fd = openSync(`/proc/self/fd/${c.stdin}`, 'r');
    return { stream: fstatSync(fd).isFIFO() ? new (net().Socket)({ fd, readable: true, writable: false }) : createReadStream('', { fd }), own: true };
  } catch {
    return { stream: new (net().Socket)(), own: true };
  }
}

/** The caller's terminal size: process.stdout's when cold, else its fd's (read by a tty stream, reopened by libuv). */
export function sizeOf(c: CallContext): { rows: number; columns: number } | undefined {
  if (!c.spawner) return process.stdout.isTTY ? { rows: process.stdout.rows, columns: process.stdout.columns } : undefined;
  if (!tty().isatty(c.stdout)) return undefined;
  const ws = new (tty().WriteStream)(c.stdout);
  const [columns, rows] = ws.getWindowSize();
  ws.destroy();
  return { rows, columns };
}

/** Copies stdin to the pty master and the master to stdout, in raw mode when stdin is a terminal. */
function proxyPty(c: CallContext, master: number): () => Promise<void> {
  const { stream: stdin, own } = inputOf(c);
  const raw = stdin.isTTY === true && stdin.setRawMode !== undefined;
  if (raw) stdin.setRawMode!(true);
  const resize = () => {
    const s = sizeOf(c);
    if (s) native().setWinsize(master, s.rows, s.columns);
  };
  resize();
  c.signals.on('SIGWINCH', resize);
  const onInput = (d: Buffer) => {
    try {
      writeSync(master, d);
    } catch {
      // the container side is gone
    }
  };
  stdin.on('data', onInput);
  const outStream = new (tty().ReadStream)(master);
  const done = new Promise<void>((resolve) => {
    outStream.on('data', (d: Buffer) => writeAll(c.stdout, d));
    // The master reads EIO once every slave fd is closed: that is the end of output.
    outStream.on('error', () => resolve());
    outStream.on('end', () => resolve());
    outStream.on('close', () => resolve());
  });
  return async () => {
    await Promise.race([done, new Promise((r) => setTimeout(r, 200))]);
    stdin.off('data', onInput);
    c.signals.off('SIGWINCH', resize);
    if (raw) stdin.setRawMode!(false);
    stdin.pause();
    if (own) stdin.destroy();
    outStream.destroy();
  };
}
