// kill -9 of `tsbox run -d` at random moments: whatever it had made (record, snapshot, runtime state,
// cgroups, the monitor and the container) is found and removed by `rm -f`, as docker's daemon would.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './helpers/bins.js';
import { engineRoot } from './helpers/engine-root.js';

const engine = engineRoot('tsbox-engine-kill-');
const { root, tsbox } = engine;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(() => engine.importBusybox());

test.after.always(() => engine.remove());

/** The container's own cgroups (the engine puts them at /tsbox/<id>) in every hierarchy. */
function engineCgroups(): string[] {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  const ids = new Set(existsSync(join(root, 'state')) ? readdirSync(join(root, 'state')) : []);
  const out: string[] = [];
  for (const r of roots) {
    const dir = join(r, 'tsbox');
    if (!existsSync(dir)) continue;
    for (const d of readdirSync(dir)) if (ids.has(d) || killedIds.has(d)) out.push(join(dir, d));
  }
  return out;
}

const killedIds = new Set<string>();

test.serial('kill -9 at random points of run -d (40 trials): rm -f leaves no cgroup, state, mount or process', async (t) => {
  for (let i = 0; i < 40; i++) {
    const p = spawn(process.execPath, [CLI, '--root', root, 'run', '-d', 'busybox', 'sleep', '617'], { stdio: 'ignore' });
    const exited = new Promise((r) => p.once('exit', r));
    await sleep(50 + Math.floor(Math.random() * 700));
    p.kill('SIGKILL');
    await exited;
  }
  // Every container the killed runs recorded, whatever state each reached.
  for (const id of readdirSync(join(root, 'containers'))) killedIds.add(id);
  for (const id of existsSync(join(root, 'state')) ? readdirSync(join(root, 'state')) : []) killedIds.add(id);
  const ps = tsbox(['ps', '-aq']);
  t.is(ps.code, 0, ps.stderr);
  for (const id of ps.stdout.split('\n').filter(Boolean)) {
    const r = tsbox(['rm', '-f', id]);
    t.is(r.code, 0, r.stderr);
  }
  t.deepEqual(engineCgroups(), []);
  t.deepEqual(existsSync(join(root, 'state')) ? readdirSync(join(root, 'state')) : [], []);
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(root), 'no snapshot mount left');
  const left = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(root) || /^sleep 617$/.test(l.trim()));
  t.deepEqual(left, []);
});
