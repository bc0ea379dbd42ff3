// 2000 sequential containers in one process (the packed tarball's spawn() of `true`), with stdin ended
// and with stdin never ended: no descriptor growth, the thread count flat, RSS within a generous bound;
// child_process.spawn beside as the reference. bench/sequential.ts prints the same measurement.
import test from 'ava';
import { spawn as cpSpawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { format, sequential } from '../bench/sequential.js';
import { importInstalled } from './helpers/package.js';
import { leftovers } from './helpers/bundle.js';

// RSS is read after a full collection: what is garbage is not growth.
setFlagsFromString('--expose-gc');
(globalThis as { gc?: unknown }).gc = runInNewContext('gc');

const COUNT = 2000;

test.serial('2000 sequential spawn() containers: no fd growth, threads flat, RSS bounded (stdin ended and never ended)', async (t) => {
  t.timeout(15 * 60_000);
  const tsbox = await importInstalled();
  const ref = await sequential('child_process.spawn(true), stdin never ended', () => cpSpawn('true'), COUNT, false);
  t.log(format(ref));
  for (const endStdin of [true, false]) {
    const r = await sequential(`tsbox spawn(true), stdin ${endStdin ? 'ended' : 'never ended'}`, () => tsbox.spawn('true'), COUNT, endStdin);
    t.log(format(r), `fds along the way: ${r.fdTrace.join(' ')}`);
    t.true(r.after.fds <= r.before.fds, `fds ${r.before.fds} → ${r.after.fds}`);
    t.true(Math.max(...r.fdTrace) <= r.before.fds + 2, `fds along the way: ${r.fdTrace.join(' ')}`);
    t.is(r.after.threads, r.before.threads, 'threads');
    t.true(r.after.rssMiB - r.before.rssMiB < 48, `RSS ${r.before.rssMiB} → ${r.after.rssMiB} MiB`);
  }
});

test.after.always('nothing left behind', (t) => {
  t.deepEqual(leftovers(), { cgroups: [], states: [] });
});
