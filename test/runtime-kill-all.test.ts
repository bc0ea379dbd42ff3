// kill --all after the container's process has exited, as containerd's shim sends it for a container
// without a pid namespace of its own (docker --pid container:X or host): what is left in the cgroup dies.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { leftovers, makeBundle, removeBundle, STATE_ROOT } from './helpers/bundle.js';
import { RUNTIME } from './helpers/bins.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rt = (...args: string[]) => spawnSync(RUNTIME, ['--root', STATE_ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });

test.after.always('no cgroups or states left behind', (t) => {
  t.deepEqual(leftovers(), { cgroups: [], states: [] });
});

test('kill --all on a stopped container kills what its process left in the cgroup; kill alone is refused', async (t) => {
  // No pid namespace: the background sleep outlives the process, as in a shared pid namespace.
  const b = makeBundle(['sh', '-c', 'sleep 100 >/dev/null 2>&1 & exit 0'], (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
  });
  t.teardown(() => {
    rt('delete', '--force', b.id);
    removeBundle(b);
  });
  let r = rt('run', '--no-init', '--detach', '--bundle', b.dir, b.id);
  t.is(r.status, 0, r.stderr);
  for (let i = 0; i < 100 && JSON.parse(rt('state', b.id).stdout).status !== 'stopped'; i++) await sleep(50);
  const procs = () => readFileSync(join('/sys/fs/cgroup/pids', b.spec.linux!.cgroupsPath!, 'cgroup.procs'), 'utf8').trim();
  t.not(procs(), '', 'the sleep is still in the cgroup');
  r = rt('kill', b.id, 'KILL');
  t.is(r.status, 1);
  t.regex(r.stderr, /container not running/);
  r = rt('kill', '--all', b.id, 'KILL');
  t.is(r.status, 0, r.stderr);
  for (let i = 0; i < 100 && procs() !== ''; i++) await sleep(20);
  t.is(procs(), '');
  t.is(rt('delete', b.id).status, 0);
});
