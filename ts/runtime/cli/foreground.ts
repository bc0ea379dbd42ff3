// A container process the CLI waits for (runc run / exec without --detach): forward signals, proxy a
// pty when the CLI allocated it, and turn the exit into an exit code.
import { writeSync } from 'node:fs';
import { tty } from '../lazy.js';
import { native, type Spawned } from '../../native.js';
import { closeQuietly } from '../report.js';
import { signalNumber } from '../signals.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/** Resolves with the process's exit code (128+N for a signal, as a shell reports it). */
export function waitExit(spawned: Spawned, master?: number): Promise<number> {
  const handlers: [NodeJS.Signals, () => void][] = [];
  for (const sig of FORWARDED) {
    const h = () => {
      try {
        native().pidfdSignal(spawned.pidfd, signalNumber(sig));
      } catch {
        // exited
      }
    };
    process.on(sig, h);
    handlers.push([sig, h]);
  }
  let detachPty: (() => Promise<void>) | undefined;
  if (master !== undefined) detachPty = proxyPty(master);
  return new Promise((resolve) => {
    native().watch(spawned.pidfd, async (st) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      closeQuietly(spawned.pidfd);
      if (detachPty) await detachPty();
      resolve(st.code ?? 128 + (st.signal ?? 0));
    });
  });
}

/** Copies stdin to the pty master and the master to stdout, in raw mode when stdin is a terminal. */
function proxyPty(master: number): () => Promise<void> {
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const resize = () => {
    if (process.stdout.isTTY) native().setWinsize(master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  process.on('SIGWINCH', resize);
  const onInput = (d: Buffer) => {
    try {
      writeSync(master, d);
    } catch {
      // the container side is gone
    }
  };
  stdin.on('data', onInput);
  const out = new (tty().ReadStream)(master);
  const done = new Promise<void>((resolve) => {
    out.on('data', (d) => process.stdout.write(d));
    // The master reads EIO once every slave fd is closed: that is the end of output.
    out.on('error', () => resolve());
    out.on('end', () => resolve());
    out.on('close', () => resolve());
  });
  return async () => {
    await Promise.race([done, new Promise((r) => setTimeout(r, 200))]);
    stdin.off('data', onInput);
    process.off('SIGWINCH', resize);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    out.destroy();
  };
}
