// The runtime API kept to child_process's contract where an embedder relies on it: 'spawn', 'exit' and
// 'close' in that order, all output read by 'close', and no descriptor left per process when the caller
// never ends stdin. child_process runs the same cases as the reference.
import test from 'ava';
import { spawn as cpSpawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { start } from './helpers/run.js';
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

test.after.always('nothing left behind', (t) => {
  t.deepEqual(leftovers(), { cgroups: [], states: [] });
});
