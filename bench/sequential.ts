// Many sequential containers in one process: descriptors, threads and RSS before and after, with
// child_process.spawn beside as the reference. The test (test/api-leak.test.ts) asserts on the same
// measurement; this prints it.
// Usage: node --expose-gc --import=tsx bench/sequential.ts [--count 2000]
import { spawn as cpSpawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

export interface Usage {
  fds: number;
  threads: number;
  rssMiB: number;
}

export interface Sequential {
  what: string;
  count: number;
  ms: number;
  before: Usage;
  after: Usage;
  /** Descriptors every tenth of the way: flat when nothing leaks. */
  fdTrace: number[];
}

/** A process as both child_process and tsbox give it. */
interface Started {
  stdin: NodeJS.WritableStream | null;
  stdout: NodeJS.ReadableStream | null;
  stderr: NodeJS.ReadableStream | null;
  once(ev: 'close', l: () => void): unknown;
}

export function usage(): Usage {
  (globalThis as { gc?: () => void }).gc?.();
  const threads = Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
  return { fds: readdirSync('/proc/self/fd').length, threads, rssMiB: Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10 };
}

/** Runs `count` processes one after the other (after a warm-up), each read to 'close'; endStdin: the caller ends stdin, or never does. */
export async function sequential(what: string, start: () => Promise<Started> | Started, count: number, endStdin: boolean, warmup = 50): Promise<Sequential> {
  const one = async () => {
    const p = await start();
    const closed = new Promise<void>((r) => p.once('close', r));
    if (endStdin) p.stdin?.end();
    p.stdout?.resume();
    p.stderr?.resume();
    await closed;
  };
  for (let i = 0; i < warmup; i++) await one();
  const before = usage();
  const fdTrace: number[] = [];
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    await one();
    if ((i + 1) % Math.max(1, Math.floor(count / 10)) === 0) fdTrace.push(readdirSync('/proc/self/fd').length);
  }
  const ms = Date.now() - t0;
  // Timers and streams of the last ones settle on the next turns.
  await new Promise((r) => setTimeout(r, 50));
  return { what, count, ms, before, after: usage(), fdTrace };
}

export function format(r: Sequential): string {
  const d = (k: keyof Usage) => `${r.before[k]} → ${r.after[k]}`;
  return `${r.what.padEnd(40)} ${String(r.count).padStart(5)} runs ${(r.ms / r.count).toFixed(1).padStart(6)} ms/run   fds ${d('fds')}   threads ${d('threads')}   RSS MiB ${d('rssMiB')}`;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { count: { type: 'string' } } });
  const count = Number(values.count ?? 2000);
  // tsbox as it ships (tsc's output in dist/, built by `npm run compile`).
  const { spawn } = (await import('../dist/engine/api.js')) as typeof import('../ts/engine/api.js');
  const rows = [
    await sequential('child_process.spawn(true), stdin ended', () => cpSpawn('true'), count, true),
    await sequential('child_process.spawn(true), stdin open', () => cpSpawn('true'), count, false),
    await sequential('tsbox spawn(true), stdin ended', () => spawn('true'), count, true),
    await sequential('tsbox spawn(true), stdin never ended', () => spawn('true'), count, false),
  ];
  for (const r of rows) console.log(format(r));
}
