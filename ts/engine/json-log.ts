// The json-file log of a container whose output the caller relays (run in the foreground, start -a):
// the same lines tsbox-init's monitor writes for a detached one ({"log","stream","time"}, split at
// newlines and at 16 KiB), with the same --log-opt rotation, so that `logs` reads every container.
import { closeSync, existsSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { containerDir, loadRecord } from './containers.js';
import { logConfig, type LogConfig } from './logging.js';

const PIECE = 16384;

function nanoTime(): string {
  const ms = Date.now();
  const ns = process.hrtime.bigint() % 1000000n;
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_, m) => `.${m}${String(ns).padStart(6, '0')}Z`);
}

export class JsonLogWriter {
  private fd: number;
  private written: number;
  private readonly rest: Record<'stdout' | 'stderr', Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  constructor(
    private readonly file: string,
    private readonly cfg: LogConfig,
  ) {
    this.fd = openSync(file, 'a', 0o600);
    this.written = fstatSync(this.fd).size;
  }

  /** Some output of one stream: whole lines are written now, the rest when its line ends (or at close). */
  write(stream: 'stdout' | 'stderr', data: Buffer): void {
    let buf = this.rest[stream].length ? Buffer.concat([this.rest[stream], data]) : data;
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0 || nl >= PIECE) {
        if (buf.length < PIECE) break;
        this.line(stream, buf.subarray(0, PIECE));
        buf = buf.subarray(PIECE);
        continue;
      }
      this.line(stream, buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
    }
    this.rest[stream] = Buffer.from(buf);
  }

  close(): void {
    for (const s of ['stdout', 'stderr'] as const) if (this.rest[s].length) this.line(s, this.rest[s]);
    closeSync(this.fd);
  }

  private line(stream: 'stdout' | 'stderr', b: Buffer): void {
    const rec = Buffer.from(JSON.stringify({ log: b.toString('utf8'), stream, time: nanoTime() }) + '\n');
    try {
      writeSync(this.fd, rec);
    } catch {
      return; // a full disk loses log lines, never the container's output
    }
    this.written += rec.length;
    if (this.cfg.maxSize && this.written >= this.cfg.maxSize) this.rotate();
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.cfg.maxFile > 1) {
      for (let i = this.cfg.maxFile - 1; i >= 1; i--) {
        const from = i === 1 ? this.file : `${this.file}.${i - 1}`;
        if (existsSync(from)) renameSync(from, `${this.file}.${i}`);
      }
      this.fd = openSync(this.file, 'a', 0o600);
    } else this.fd = openSync(this.file, 'w', 0o600);
    this.written = 0;
  }
}

/** The writer for a container's relayed output, or undefined with --log-driver none. */
export function relayedLog(root: string, id: string): JsonLogWriter | undefined {
  const r = loadRecord(root, id);
  if (!r) return undefined;
  const cfg = logConfig(r.Options);
  if (cfg.driver === 'none') return undefined;
  return new JsonLogWriter(join(containerDir(root, id), 'container.log'), cfg);
}
