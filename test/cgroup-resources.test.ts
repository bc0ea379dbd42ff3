// linux.resources as runc reads them: zero means unset (dockerd writes cpu.shares 0 and blockIO.weight 0
// for every container), v2's conversions, and `update` read back from the cgroup files.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { sh } from './helpers/run.js';
import { leftovers, makeBundle, removeBundle, STATE_ROOT, TEST_CGROUP_PARENT, type Bundle } from './helpers/bundle.js';
import { RUNTIME as BIN } from './helpers/bins.js';
import { outputOf } from './helpers/cli.js';
import { openCgroup } from '../ts/runtime/cgroup/index.js';
import { blkioWeightToIoWeight, cpuSharesToWeight, memorySwapToV2 } from '../ts/runtime/cgroup/v2.js';
import { mergeResources, resourcesToApply } from '../ts/runtime/cgroup/update.js';
import type { LinuxResources } from '../ts/runtime/cgroup/types.js';

const V1 = '/sys/fs/cgroup';
const UNIFIED = '/sys/fs/cgroup/unified';
const read = (f: string) => readFileSync(f, 'utf8').trim();

/** What dockerd 20.10 writes for `docker run busybox` (no limit asked for). */
const DOCKER_DEFAULTS: LinuxResources = {
  memory: {},
  cpu: { shares: 0, quota: 0, period: 0, realtimeRuntime: 0, realtimePeriod: 0, cpus: '', mems: '' },
  pids: { limit: 0 },
  blockIO: { weight: 0 },
};

// stdout and stderr to files: a detached container keeps the CLI's stdio open.
const OUT = mkdtempSync(join(tmpdir(), 'tsbox-cgres-'));
const rt = (args: string[], input?: string) => outputOf(BIN, ['--root', STATE_ROOT, ...args], { tmp: OUT, input, timeout: 60000 });

function detached(t: import('ava').ExecutionContext, resources?: LinuxResources): Bundle {
  const b = makeBundle(['sleep', '60'], (s) => {
    if (resources) s.linux!.resources = resources;
  });
  t.teardown(() => {
    rt(['delete', '--force', b.id]);
    removeBundle(b);
  });
  const r = rt(['run', '--detach', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  return b;
}

const v1File = (b: Bundle, ctrl: string, file: string) => join(V1, ctrl, TEST_CGROUP_PARENT, b.id, file);

test.after.always('no cgroups or states left behind', (t) => {
  rmSync(OUT, { recursive: true, force: true });
  const { cgroups, states } = leftovers();
  t.deepEqual(cgroups, []);
  t.deepEqual(states, []);
});

test('v1: dockerd\'s zero values run and leave the kernel defaults (cpu.shares 1024, no limits)', async (t) => {
  const r = await sh('echo ok', (s) => {
    s.linux!.resources = structuredClone(DOCKER_DEFAULTS);
  });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'ok\n');
  const b = detached(t, structuredClone(DOCKER_DEFAULTS));
  t.is(read(v1File(b, 'cpu', 'cpu.shares')), '1024');
  t.is(read(v1File(b, 'cpu', 'cpu.cfs_quota_us')), '-1');
  t.is(read(v1File(b, 'pids', 'pids.max')), 'max');
  t.true(Number(read(v1File(b, 'memory', 'memory.limit_in_bytes'))) > 2 ** 62);
});

test('v1: set values are written; cpu shares the kernel clamps are refused as runc refuses them', (t) => {
  const b = detached(t, { cpu: { shares: 512, quota: 50000, period: 100000 }, memory: { limit: 64 << 20, swap: 128 << 20, swappiness: -1 }, pids: { limit: 40 } });
  t.is(read(v1File(b, 'cpu', 'cpu.shares')), '512');
  t.is(read(v1File(b, 'cpu', 'cpu.cfs_quota_us')), '50000');
  t.is(read(v1File(b, 'memory', 'memory.limit_in_bytes')), String(64 << 20));
  if (existsSync(v1File(b, 'memory', 'memory.memsw.limit_in_bytes'))) t.is(read(v1File(b, 'memory', 'memory.memsw.limit_in_bytes')), String(128 << 20));
  t.is(read(v1File(b, 'pids', 'pids.max')), '40');
  const c = makeBundle(['true'], (s) => {
    s.linux!.resources = { cpu: { shares: 1 } };
  });
  t.teardown(() => removeBundle(c));
  const r = rt(['run', '--bundle', c.dir, c.id]);
  t.is(r.code, 1);
  t.regex(r.stderr, /minimum allowed cpu-shares is 2/);
});

test('v2 driver on the unified mount: zero values need no controller and write nothing', (t) => {
  const cg = openCgroup(`/tsbox-v2-zero-${process.pid}`, { version: 2, mountRoot: UNIFIED });
  cg.create();
  t.teardown(() => cg.destroy());
  // This host's unified hierarchy has no cpu, memory, pids or io controller: any write would throw.
  t.notThrows(() => cg.apply(structuredClone(DOCKER_DEFAULTS)));
  t.throws(() => cg.apply({ cpu: { shares: 1024 } }), { message: /cpu controller not available/ });
  t.throws(() => cg.apply({ blockIO: { weight: 500 } }), { message: /io controller not available/ });
});

test('v2 conversions are runc\'s (shares → cpu.weight, blkio weight → io.weight, memory+swap → swap)', (t) => {
  // The kernel's default weights: 1024 shares are weight 39 by runc's formula (integer division), not 40.
  t.deepEqual([0, 2, 1024, 262144].map(cpuSharesToWeight), [0, 1, 39, 10000]);
  t.deepEqual([0, 10, 500, 1000].map(blkioWeightToIoWeight), [0, 1, 4950, 10000]);
  t.is(memorySwapToV2(0, 0), 0);
  t.is(memorySwapToV2(0, -1), -1);
  t.is(memorySwapToV2(-1, 100), -1);
  t.is(memorySwapToV2(300, 100), 200);
  t.is(memorySwapToV2(100, 100), 0);
  t.throws(() => memorySwapToV2(50, 100), { message: /should be >= memory limit/ });
  t.throws(() => memorySwapToV2(100, 0), { message: /without memory limit/ });
});

test('update: zero leaves a value, a quota alone keeps the recorded period, devices are never touched', (t) => {
  const current: LinuxResources = { cpu: { quota: 20000, period: 50000, shares: 512 }, memory: { limit: 100 }, devices: [{ allow: false, access: 'rwm' }] };
  const change: LinuxResources = { cpu: { quota: 30000, period: 0, shares: 0, cpus: '' }, memory: { limit: 0, swap: 0 }, pids: { limit: 0 }, blockIO: { weight: 0 }, devices: [{ allow: true }] };
  const apply = resourcesToApply(current, change);
  t.deepEqual(apply, { cpu: { quota: 30000, period: 50000 } });
  t.deepEqual(mergeResources(current, apply), { cpu: { quota: 30000, period: 50000, shares: 512 }, memory: { limit: 100 }, devices: [{ allow: false, access: 'rwm' }] });
});

test('v1: update --resources - (as containerd\'s shim calls it) changes memory, pids and cpu quota; state records them', (t) => {
  const b = detached(t, { memory: { limit: 128 << 20 }, pids: { limit: 100 } });
  const change = { memory: { limit: 64 << 20, reservation: 0, swap: 0, kernel: 0 }, cpu: { shares: 0, quota: 25000, period: 100000, cpus: '', mems: '' }, pids: { limit: 20 }, blockIO: { weight: 0 } };
  const r = rt(['update', '--resources', '-', b.id], JSON.stringify(change));
  t.is(r.code, 0, r.stderr);
  t.is(read(v1File(b, 'memory', 'memory.limit_in_bytes')), String(64 << 20));
  t.is(read(v1File(b, 'pids', 'pids.max')), '20');
  t.is(read(v1File(b, 'cpu', 'cpu.cfs_quota_us')), '25000');
  t.is(read(v1File(b, 'cpu', 'cpu.shares')), '1024');
  const st = JSON.parse(read(join(STATE_ROOT, b.id, 'state.json'))) as { spec: { linux: { resources: LinuxResources } } };
  t.like(st.spec.linux.resources, { memory: { limit: 64 << 20 }, pids: { limit: 20 }, cpu: { quota: 25000, period: 100000 } });
  t.is(st.spec.linux.resources.cpu?.shares, undefined);
});

test('v1: update with runc\'s flags; a file; errors for bad input and for a stopped container', (t) => {
  const b = detached(t);
  let r = rt(['update', '--memory', '48m', '--memory-swap', '96m', '--pids-limit', '7', '--cpu-quota', '30000', '--cpu-period', '60000', '--cpu-share', '256', b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(read(v1File(b, 'memory', 'memory.limit_in_bytes')), String(48 << 20));
  t.is(read(v1File(b, 'pids', 'pids.max')), '7');
  t.is(read(v1File(b, 'cpu', 'cpu.cfs_quota_us')), '30000');
  t.is(read(v1File(b, 'cpu', 'cpu.cfs_period_us')), '60000');
  t.is(read(v1File(b, 'cpu', 'cpu.shares')), '256');
  // A quota alone keeps the period set before.
  r = rt(['update', '--cpu-quota', '45000', b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(read(v1File(b, 'cpu', 'cpu.cfs_period_us')), '60000');
  t.is(read(v1File(b, 'cpu', 'cpu.cfs_quota_us')), '45000');
  const file = join(OUT, 'res.json');
  spawnSync('sh', ['-c', `echo '{"pids":{"limit":-1}}' > ${file}`]);
  r = rt(['update', '-r', file, b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(read(v1File(b, 'pids', 'pids.max')), 'max');
  r = rt(['update', '--resources', '-', b.id], '{"cpu":{"cpus":"0\\n1"}}');
  t.is(r.code, 1);
  t.regex(r.stderr, /cpu\.cpus must be a list/);
  r = rt(['update', '--memory', 'lots', b.id]);
  t.is(r.code, 1);
  t.regex(r.stderr, /invalid value for --memory/);
  r = rt(['update', '--l3-cache-schema', 'L3:0=f', b.id]);
  t.is(r.code, 1);
  t.regex(r.stderr, /Intel RDT/);
  t.is(rt(['kill', b.id, 'KILL']).code, 0);
  for (let i = 0; i < 100 && JSON.parse(rt(['state', b.id]).stdout).status !== 'stopped'; i++) spawnSync('sleep', ['0.05']);
  r = rt(['update', '--memory', '32m', b.id]);
  t.is(r.code, 1);
  t.regex(r.stderr, /container not running/);
});

test('v1: a memory limit raised above the old memory+swap limit is written in runc\'s order', (t) => {
  const b = detached(t, { memory: { limit: 32 << 20, swap: 64 << 20 } });
  const r = rt(['update', '--memory', '128m', '--memory-swap', '256m', b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(read(v1File(b, 'memory', 'memory.limit_in_bytes')), String(128 << 20));
});

test('v2 driver on the unified mount: update applies and reads back (hugetlb, the one controller there)', (t) => {
  const controllers = read(join(UNIFIED, 'cgroup.controllers')).split(/\s+/);
  if (!controllers.includes('hugetlb')) return t.pass('no hugetlb controller on the unified hierarchy');
  // The driver never enables controllers at the root (the host's business): the test does, and undoes it.
  const rootControl = join(UNIFIED, 'cgroup.subtree_control');
  if (!read(rootControl).split(/\s+/).includes('hugetlb')) {
    writeFileSync(rootControl, '+hugetlb');
    t.teardown(() => writeFileSync(rootControl, '-hugetlb'));
  }
  const cg = openCgroup(`/tsbox-v2-update-${process.pid}`, { version: 2, mountRoot: UNIFIED });
  cg.create();
  t.teardown(() => cg.destroy());
  const size = ['2MB', '1GB'].find((s) => existsSync(join(cg.dirs.unified, `hugetlb.${s}.max`)))!;
  const apply = resourcesToApply(undefined, { hugepageLimits: [{ pageSize: size, limit: 4 << 21 }], cpu: { shares: 0 }, memory: { limit: 0 } });
  t.deepEqual(Object.keys(apply), ['hugepageLimits']);
  cg.apply(apply);
  t.is(read(join(cg.dirs.unified, `hugetlb.${size}.max`)), String(4 << 21));
});

test('a hugepage size cannot name another file (hostile spec or update)', async (t) => {
  const bad = [{ pageSize: '../../cgroup.procs', limit: 1 }];
  await t.throwsAsync(sh('true', (s) => {
    s.linux!.resources = { hugepageLimits: bad };
  }), { message: /bad hugepage size/ });
  const cg = openCgroup(`/tsbox-v2-hp-${process.pid}`, { version: 2, mountRoot: UNIFIED });
  cg.create();
  t.teardown(() => cg.destroy());
  t.throws(() => cg.apply({ hugepageLimits: bad }), { message: /bad hugepage size/ });
  const b = detached(t);
  const r = rt(['update', '--resources', '-', b.id], JSON.stringify({ hugepageLimits: bad }));
  t.is(r.code, 1);
  t.regex(r.stderr, /bad hugepage size/);
});
