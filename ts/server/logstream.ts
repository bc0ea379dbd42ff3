// A container's json-file log read from an offset as it grows: docker's attach and logs -f over the
// log the monitor writes (no daemon holds the container's pipes).
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerDir, liveState, loadRecord } from '../engine/containers.js';
import { parseLogLines, type LogLine } from '../engine/logs.js';

export const logPath = (root: string, id: string) => join(containerDir(root, id), 'container.log');

export function logSize(root: string, id: string): number {
  try {
    return statSync(logPath(root, id)).size;
  } catch {
    return 0;
  }
}

/**
 * Lines from offset on, until the container has run and stopped (a created one is waited for to start)
 * or stop() says the client is gone.
 */
export async function* followLog(root: string, id: string, offset: number, stop: () => boolean): AsyncGenerator<LogLine> {
  const first = loadRecord(root, id);
  if (!first) return;
  const s0 = liveState(root, first);
  let started = s0.Running;
  let pos = offset;
  let rest = '';
  for (;;) {
    if (stop()) return;
    const r = loadRecord(root, id);
    if (!r) return;
    const s = liveState(root, r);
    if (s.Running || s.StartedAt !== s0.StartedAt) started = true;
    const file = logPath(root, id);
    let size = 0;
    if (existsSync(file)) size = statSync(file).size;
    if (size > pos) {
      const fd = openSync(file, 'r');
      try {
        while (pos < size) {
          const buf = Buffer.alloc(Math.min(1 << 16, size - pos));
          const n = readSync(fd, buf, 0, buf.length, pos);
          if (n <= 0) break;
          pos += n;
          const text = rest + buf.toString('utf8', 0, n);
          const cut = text.lastIndexOf('\n') + 1;
          rest = text.slice(cut);
          yield* parseLogLines(text.slice(0, cut));
        }
      } finally {
        closeSync(fd);
      }
      continue;
    }
    if (started && !s.Running) return;
    await sleep(40);
  }
}
