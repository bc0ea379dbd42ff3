// Reads tsbox-init's report pipe (protocol in csrc/common/config.h), synchronously for the CLI or async for the API.
import { read } from 'node:fs';
import { native, type ExitStatus } from '../native.js';

export type Report =
  | { kind: 'ready' } // "R": created, waiting on the exec fifo
  | { kind: 'started' } // "S", or EOF after a successful exec
  | { kind: 'error'; errno: number; message: string }
  | { kind: 'exit'; wstatus: number };

export { ContainerError } from '../errors.js';

export function parseLine(line: string): Report | undefined {
  if (line === 'R') return { kind: 'ready' };
  if (line === 'S') return { kind: 'started' };
  if (line.startsWith('X ')) return { kind: 'exit', wstatus: Number(line.slice(2)) };
  if (line.startsWith('E ')) {
    const sp = line.indexOf(' ', 2);
    return { kind: 'error', errno: Number(line.slice(2, sp)), message: line.slice(sp + 1) };
  }
  return undefined;
}

/** Splits the byte stream into reports; EOF becomes "started" (the exec closed the pipe). */
export class ReportParser {
  private buf = '';

  push(chunk: string): Report[] {
    this.buf += chunk;
    const out: Report[] = [];
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const r = parseLine(this.buf.slice(0, nl));
      this.buf = this.buf.slice(nl + 1);
      if (r) out.push(r);
    }
    return out;
  }
}

/** One read(2) of fd into buf on the thread pool (a served call's fds may be slow pipes): bytes read. */
export function readFd(fd: number, buf: Buffer): Promise<number> {
  return new Promise<number>((resolve, reject) => read(fd, buf, 0, buf.length, null, (e, got) => (e ? reject(e) : resolve(got))));
}

/**
 * Resolves with the first report that ends setup: ready, started or error. Read on the thread pool, so
 * that a process serving many calls (the runtime server) keeps running the others meanwhile.
 * EOF without a message means the exec succeeded (exec mode) — or that the child died before
 * saying anything, which the caller tells apart by checking the process.
 */
export async function waitSetup(fd: number): Promise<Report> {
  const parser = new ReportParser();
  const chunk = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = await readFd(fd, chunk);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') await new Promise((r) => setTimeout(r, 1));
      if (code === 'EAGAIN' || code === 'EINTR') continue;
      throw e;
    }
    if (n === 0) return { kind: 'started' };
    for (const r of parser.push(chunk.toString('utf8', 0, n))) {
      if (r.kind !== 'exit') return r;
    }
  }
}

/** Decodes a raw wait status (as tsbox-init reports it). */
export function decodeWaitStatus(w: number): ExitStatus {
  return (w & 0x7f) === 0 ? { code: (w >> 8) & 0xff, signal: null } : { code: null, signal: w & 0x7f };
}

/**
 * Watches a launched child for the API: `setup` resolves at the first ready/started/error report (or
 * at EOF: started), `exit` with its status once reaped, the one tsbox-init reported for its process
 * when it did (init mode exits 128+N for a signal). The addon's waiter thread reads the reports and
 * waits; reportFd becomes the addon's. killAtTeardown: SIGKILL the child should this JS environment end
 * first without running 'exit' listeners (a worker thread terminated).
 */
export function watchLaunched(pidfd: number, reportFd: number, killAtTeardown = false): { setup: Promise<Report>; exit: Promise<ExitStatus> } {
  let resolveSetup!: (r: Report) => void;
  const setup = new Promise<Report>((r) => (resolveSetup = r));
  const exit = new Promise<ExitStatus>((resolve) => {
    native().watch(
      pidfd,
      (st) => {
        resolveSetup({ kind: 'started' });
        resolve(st.report !== undefined ? decodeWaitStatus(st.report) : { code: st.code, signal: st.signal });
      },
      reportFd,
      (line) => {
        const r = line === null ? ({ kind: 'started' } as const) : parseLine(line);
        if (r && r.kind !== 'exit') resolveSetup(r);
      },
      killAtTeardown,
    );
  });
  return { setup, exit };
}

/** Closes an fd the addon made (pidfds, pipes, socket pairs), ignoring one that is closed already. */
export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  try {
    native().close(fd);
  } catch {
    // already closed
  }
}
