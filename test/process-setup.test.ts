// What tsbox-init leaves the container's process, checked from inside: no signal ignored or blocked (Node
// ignores SIGPIPE, tsbox-init too, and neither may pass that on), and the device nodes and links of the
// spec, each where and as the spec says, also beside directories of their own.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { collect, sh } from './helpers/run.js';
import { makeBundle, removeBundle, STATE_ROOT } from './helpers/bundle.js';
import { runContainer } from '../ts/runtime/api.js';
import type { OciSpec } from '../ts/runtime/spec.js';

/** The container's own /proc/self/status lines, read by grep as its first process (no shell: ash ignores SIGQUIT). */
async function signalState(init: boolean): Promise<string[]> {
  const b = makeBundle(['grep', '-E', '^Sig(Ign|Blk):', '/proc/self/status']);
  try {
    const c = await runContainer({ id: b.id, spec: b.spec, bundle: b.dir, root: STATE_ROOT, init, stdio: ['ignore', 'pipe', 'pipe'] });
    const r = await collect(c);
    if (r.code !== 0) throw new Error(`grep: exit ${r.code}: ${r.stderr}`);
    return r.stdout.trim().split('\n');
  } finally {
    removeBundle(b);
  }
}

for (const init of [false, true]) {
  test(`the process inherits no ignored or blocked signal (${init ? 'init' : 'exec'} mode)`, async (t) => {
    // The reference: this process ignores SIGPIPE (Node does), which a careless exec would pass on.
    t.regex(/^SigIgn:\s*(\w+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1], /[^0]/);
    t.deepEqual(await signalState(init), ['SigBlk:\t0000000000000000', 'SigIgn:\t0000000000000000']);
  });
}

test('device nodes and links: modes, owners and numbers as the spec says, in /dev and in a directory below it', async (t) => {
  const devices = (s: OciSpec) => {
    s.linux!.devices = [
      { path: '/dev/kmsg-like', type: 'c', major: 1, minor: 11, fileMode: 0o600, uid: 7, gid: 8 },
      { path: '/dev/sub/zero2', type: 'c', major: 1, minor: 5, fileMode: 0o640, uid: 0, gid: 9 },
      { path: '/dev/sub/zero3', type: 'c', major: 1, minor: 5, fileMode: 0o604, uid: 3, gid: 0 },
      { path: '/dev/fifo1', type: 'p', fileMode: 0o620 },
    ];
  };
  const script = [
    'for f in null zero full random urandom tty kmsg-like sub/zero2 sub/zero3 fifo1; do stat -c "%n %a %u %g %t:%T %F" /dev/$f; done',
    'for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done',
  ].join('; ');
  const r = await sh(script, devices);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), [
    '/dev/null 666 0 0 1:3 character special file',
    '/dev/zero 666 0 0 1:5 character special file',
    '/dev/full 666 0 0 1:7 character special file',
    '/dev/random 666 0 0 1:8 character special file',
    '/dev/urandom 666 0 0 1:9 character special file',
    '/dev/tty 666 0 0 5:0 character special file',
    '/dev/kmsg-like 600 7 8 1:b character special file',
    '/dev/sub/zero2 640 0 9 1:5 character special file',
    '/dev/sub/zero3 604 3 0 1:5 character special file',
    '/dev/fifo1 620 0 0 0:0 fifo',
    'fd -> /proc/self/fd',
    'stdin -> /proc/self/fd/0',
    'stdout -> /proc/self/fd/1',
    'stderr -> /proc/self/fd/2',
    'ptmx -> pts/ptmx',
  ]);
});
