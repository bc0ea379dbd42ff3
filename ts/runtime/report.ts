// Reads tsbox-init's report pipe (protocol in csrc/common/config.h), synchronously for the CLI or async for the API.
import { readSync, closeSync } from 'node:fs';
import { net } from './lazy.js';

export type Report =
  | { kind: 'ready' } // "R": created, waiting on the exec fifo
  | { kind: 'started' } // "S", or EOF after a successful exec
  | { kind: 'error'; errno: number; message: string }
  | { kind: 'exit'; wstatus: number };

/** A setup or exec failure inside the container, as tsbox-init reported it. */
export class ContainerError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

function parseLine(line: string): Report | undefined {
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

/**
 * Blocks until the first report that ends setup: ready, started or error.
 * EOF without a message means the exec succeeded (exec mode) — or that the child died before
 * saying anything, which the caller tells apart by checking the process.
 */
export function waitSetupSync(fd: number): Report {
  const parser = new ReportParser();
  const chunk = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN' || (e as NodeJS.ErrnoException).code === 'EINTR') continue;
      throw e;
    }
    if (n === 0) return { kind: 'started' };
    for (const r of parser.push(chunk.toString('utf8', 0, n))) {
      if (r.kind !== 'exit') return r;
    }
  }
}

/**
 * Async reader for the API: resolves `setup` at the first ready/started/error report, and `exit`
 * with the raw wait status when init reports one (init mode), or undefined at EOF without it.
 */
export function watchReports(fd: number): { setup: Promise<Report>; exit: Promise<number | undefined> } {
  const parser = new ReportParser();
  const sock = new (net().Socket)({ fd, readable: true, writable: false });
  let resolveSetup!: (r: Report) => void;
  let resolveExit!: (w: number | undefined) => void;
  const setup = new Promise<Report>((r) => (resolveSetup = r));
  const exit = new Promise<number | undefined>((r) => (resolveExit = r));
  let wstatus: number | undefined;
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    for (const r of parser.push(d)) {
      if (r.kind === 'exit') wstatus = r.wstatus;
      else resolveSetup(r);
    }
  });
  const end = () => {
    resolveSetup({ kind: 'started' });
    resolveExit(wstatus);
  };
  sock.on('end', end);
  sock.on('close', end);
  sock.on('error', end);
  return { setup, exit };
}

export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
