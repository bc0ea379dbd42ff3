// A container's removal (run --rm, rm) walks its writable layer, which the container wrote: seen from the
// host, its symlinks name host paths, and they are unlinked, never followed; nothing of the container stays.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { engineRoot } from './helpers/engine-root.js';

const e = engineRoot('tsbox-remove-');
test.before(() => e.importBusybox());
test.after.always(() => e.remove());

test('run --rm: links the container made to host paths are unlinked, not followed; its directory and name are gone', (t) => {
  const victim = mkdtempSync(join(tmpdir(), 'tsbox-remove-victim-'));
  try {
    writeFileSync(join(victim, 'keep'), 'host data');
    // Inside the container these dangle; from the host they are the victim directory and its file.
    const script = `mkdir -p /deep/a/b && ln -s ${victim} /deep/dirlink && ln -s ${victim}/keep /deep/a/filelink && ln -s ${victim} /deep/a/b/c && echo x > /deep/a/b/f && rm /bin/ls`;
    const r = e.tsbox(['run', '--rm', '--name', 'remove-me', '--network', 'none', 'busybox', 'sh', '-c', script]);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(readdirSync(victim), ['keep']);
    t.is(readFileSync(join(victim, 'keep'), 'utf8'), 'host data');
    t.deepEqual(readdirSync(join(e.root, 'containers')), []);
    // The name is free again.
    const again = e.tsbox(['run', '--rm', '--name', 'remove-me', '--network', 'none', 'busybox', 'true']);
    t.is(again.code, 0, again.stderr);
  } finally {
    rmSync(victim, { recursive: true, force: true });
  }
});

test('rm of a container that ran: its nested files go by the same walk, nothing left', (t) => {
  const c = e.tsbox(['run', '--name', 'ran', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir -p /x/y/z && touch /x/y/z/f /x/g && chmod 000 /x/y']);
  t.is(c.code, 0, c.stderr);
  const rm = e.tsbox(['rm', 'ran']);
  t.is(rm.code, 0, rm.stderr);
  t.deepEqual(readdirSync(join(e.root, 'containers')), []);
});

test('rm -f of a container with a restart policy: not started again while its files go; nothing left, no mount', async (t) => {
  // Enough files in its layer that their removal outlasts the supervisor's first restart delay (100 ms).
  const fill = 'mkdir /many && cd /many && i=0; while [ $i -lt 100000 ]; do : > f$i; i=$((i+1)); done; : > /filled; sleep 600';
  const run = e.tsbox(['run', '-d', '--restart', 'on-failure:3', '--network', 'none', 'busybox', 'sh', '-c', fill]);
  t.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  for (let i = 0; i < 600 && e.tsbox(['exec', id, 'test', '-e', '/filled']).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  // Killed by the removal (137): a failure its policy would restart.
  const rm = e.tsbox(['rm', '-f', id]);
  t.is(rm.code, 0, rm.stderr);
  // The supervisor has had its chance to start it again by now.
  await new Promise((r) => setTimeout(r, 1500));
  t.is(e.tsbox(['ps', '-a', '-q']).stdout, '');
  t.deepEqual(readdirSync(join(e.root, 'containers')), []);
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(e.root), 'a mount under the root is left');
});
