// The runtime API kept to child_process's contract where an embedder relies on it: 'spawn', 'exit' and
// 'close' in that order, all output read by 'close', and no descriptor left per process when the caller
// never ends stdin. child_process runs the same cases as the reference.
import test from 'ava';
import { spawn as cpSpawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { start } from './helpers/run.js';
import { spawn } from '../ts/engine/api.js';
import { BUSYBOX, leftovers } from './helpers/bundle.js';
import type { EventEmitter } from 'node:events';

const fds = () => readdirSync('/proc/self/fd').length;

/** The events of one process in order, and what its stdout gave by 'close'. */
function observe(p: EventEmitter & { stdout: NodeJS.ReadableStream | null }): Promise<{ events: string[]; bytes: number }> {
  const events: string[] = [];
  let bytes = 0;
  p.stdout!.on('data', (d: Buffer) => (bytes += d.length));
  for (const e of ['spawn', 'exit', 'close']) p.on(e, () => events.push(e));
  return new Promise((resolve) => p.once('close', () => resolve({ events, bytes })));
}

const MIB = 1 << 20;
const script = `head -c ${MIB} /dev/zero; exit 7`;

test('events in child_process\'s order, and all output read by close', async (t) => {
  const cp = cpSpawn(BUSYBOX, ['sh', '-c', script]) as ChildProcess & EventEmitter;
  const ref = await observe(cp as never);
  const { c } = await start(script);
  const got = await observe(c);
  t.deepEqual(ref, { events: ['spawn', 'exit', 'close'], bytes: MIB });
  t.deepEqual(got, ref);
  t.like(await c.closed, { code: 7, signal: null });
});

test.serial('no descriptor per process when stdin is never ended (300 in a row, child_process beside)', async (t) => {
  const run = async (n: number, one: () => Promise<void>) => {
    await one(); // first-use fds (the addon's threads, /dev/null) are not growth
    const before = fds();
    for (let i = 0; i < n; i++) await one();
    return fds() - before;
  };
  const cpGrowth = await run(300, () => new Promise<void>((r) => cpSpawn(BUSYBOX, ['true']).once('close', () => r())));
  const growth = await run(300, async () => {
    const { c } = await start('true');
    c.stdout!.resume();
    c.stderr!.resume();
    await c.closed;
  });
  t.log(`fds after 300 processes: child_process +${cpGrowth}, tsbox +${growth}`);
  t.true(growth <= Math.max(cpGrowth, 0) + 2, `tsbox +${growth} fds, child_process +${cpGrowth}`);
});

/** How a child_process or tsbox process ended, with signals as numbers. */
const ending = (code: number | null, signal: NodeJS.Signals | number | null) => ({ code, signal: typeof signal === 'string' ? { SIGTERM: 15, SIGKILL: 9, SIGUSR1: 10 }[signal as 'SIGTERM'] : signal });

test('timeout, killSignal and AbortSignal end the process as child_process does; stdio in its string form', async (t) => {
  const cases: { name: string; opts: { timeout?: number; killSignal?: NodeJS.Signals; signal?: AbortSignal }; abortAfter?: number }[] = [
    { name: 'timeout', opts: { timeout: 300 } },
    { name: 'timeout with killSignal', opts: { timeout: 300, killSignal: 'SIGKILL' } },
    { name: 'AbortSignal', opts: {}, abortAfter: 300 },
  ];
  for (const k of cases) {
    const ends = [];
    for (const which of ['child_process', 'tsbox'] as const) {
      const ac = new AbortController();
      const opts = { ...k.opts, ...(k.abortAfter ? { signal: ac.signal } : {}) };
      if (k.abortAfter) setTimeout(() => ac.abort(), k.abortAfter);
      const errors: string[] = [];
      if (which === 'child_process') {
        const cp = cpSpawn('sleep', ['5'], { ...opts, stdio: 'ignore' });
        cp.on('error', (e) => errors.push(e.name));
        ends.push(await new Promise((r) => cp.once('exit', (code, signal) => r({ ...ending(code, signal), errors }))));
      } else {
        // The sandbox keeps child_process's signals (its command is not pid 1).
        const c = await spawn('sleep', ['5'], { ...opts, stdio: 'ignore' });
        c.on('error', (e: Error) => errors.push(e.name));
        const st = await c.exited;
        ends.push({ ...ending(st.code, st.signal), errors });
        t.is(c.stdout, null, 'stdio "ignore" for all three');
      }
    }
    t.deepEqual(ends[1], ends[0], k.name);
  }
});

test('stop(): the signal, then SIGKILL after the timeout (docker stop), for a pid-1 process that ignores SIGTERM', async (t) => {
  const { c } = await start('sleep 30');
  const t0 = Date.now();
  const st = await c.stop({ timeout: 0.5 });
  t.true(Date.now() - t0 >= 450, 'the timeout was waited for');
  t.like(st, { code: null, signal: 'SIGKILL' });
  const { c: polite } = await start('trap "exit 3" TERM; while :; do sleep 0.05; done');
  await new Promise((r) => setTimeout(r, 200));
  t.like(await polite.stop({ timeout: 5 }), { code: 3 });
});

test.after.always('nothing left behind', (t) => {
  t.deepEqual(leftovers(), { cgroups: [], states: [] });
});
