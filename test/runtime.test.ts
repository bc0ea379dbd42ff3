// The runtime core through its API: real containers from a busybox rootfs, asserted from inside.
import test from 'ava';
import { existsSync } from 'node:fs';
import { collect, sh, start } from './helpers/run.js';
import { leftovers } from './helpers/bundle.js';
import { capMask } from '../ts/runtime/caps.js';
import { detectCgroupVersion } from '../ts/runtime/cgroup/index.js';
import { ContainerError } from '../ts/runtime/report.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the process is pid 1 (runc\'s contract); tsbox-init is pid 1 only when init is asked for', async (t) => {
  const plain = await sh('cat /proc/1/comm; echo $$');
  t.is(plain.code, 0, plain.stderr);
  t.is(plain.stdout, 'sh\n1\n');
  const withInit = await sh('cat /proc/1/comm; echo $$', undefined, { init: true });
  t.is(withInit.stdout, 'tsbox-init\n2\n');
});

test('hostname, and no host process is visible', async (t) => {
  const r = await sh('hostname; ls /proc | grep -c "^[0-9]"', (s) => (s.hostname = 'box1'));
  const [host, count] = r.stdout.trim().split('\n');
  t.is(host, 'box1');
  // init, sh, ls and grep at most.
  t.true(Number(count) <= 4, r.stdout);
});

test('masked paths (/proc/kcore where the kernel has it, /proc/keys) read empty; /proc/sys is read-only', async (t) => {
  const r = await sh('for f in /proc/kcore /proc/keys; do [ -e $f ] && echo "$f $(cat $f | wc -c)"; done; echo 1 > /proc/sys/kernel/hostname 2>&1 || echo refused');
  t.is(r.code, 0, r.stderr);
  const masked = r.stdout.split('\n').filter((l) => l.startsWith('/proc/k'));
  t.true(masked.length >= 1, r.stdout);
  if (existsSync('/proc/kcore')) t.true(masked.some((l) => l.startsWith('/proc/kcore ')), r.stdout);
  for (const l of masked) t.regex(l, / 0$/, l);
  t.regex(r.stdout + r.stderr, /refused|Read-only/);
});

test('a read-only rootfs refuses writes; a writable one accepts them', async (t) => {
  const ro = await sh('touch /newfile', (s) => (s.root!.readonly = true));
  t.not(ro.code, 0);
  t.regex(ro.stderr, /Read-only file system/);
  const rw = await sh('echo hi > /dev/shm/x && cat /dev/shm/x');
  t.is(rw.stdout, 'hi\n');
});

test('capabilities in /proc/self/status match the spec', async (t) => {
  const caps = ['CAP_NET_BIND_SERVICE', 'CAP_KILL'];
  const r = await sh('grep -E "^Cap(Eff|Prm|Bnd|Amb)" /proc/self/status', (s) => {
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps, ambient: caps, inheritable: caps };
  });
  const mask = capMask(caps).toString(16).padStart(16, '0');
  for (const f of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) t.regex(r.stdout, new RegExp(`${f}:\\s+${mask}`), r.stdout);
});

test('a seccomp-denied syscall fails with EPERM', async (t) => {
  const r = await sh('mkdir /tmp/x; echo rc=$?', (s) => {
    s.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    };
  });
  t.regex(r.stderr, /Operation not permitted/);
  t.regex(r.stdout, /rc=1/);
});

test('memory limit: a process allocating past it is OOM-killed and reported', async (t) => {
  const { c } = await start('dd if=/dev/zero of=/dev/null bs=64M count=1; echo survived', (s) => {
    s.linux!.resources = { memory: { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 } };
  }, { remove: false });
  let oomKills = 0;
  const out = collect(c);
  // Poll while the container lives: the cgroup goes with it.
  for (let i = 0; i < 50 && oomKills === 0; i++) {
    try {
      oomKills = c.stats().memory.oomKills;
    } catch {
      break;
    }
    await sleep(50);
  }
  const r = await out;
  oomKills ||= c.stats().memory.oomKills;
  c.delete();
  t.regex(r.stderr, /Killed|killed/);
  t.true(oomKills >= 1, `oom kills ${oomKills}`);
});

test('pids limit stops a fork bomb', async (t) => {
  const r = await sh('for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & done 2>&1; echo done', (s) => {
    s.linux!.resources = { pids: { limit: 6 } };
  });
  t.regex(r.stdout + r.stderr, /can't fork|Resource temporarily unavailable/);
});

test('cpu quota is readable in the container cgroup', async (t) => {
  const file = detectCgroupVersion() === 1 ? '/sys/fs/cgroup/cpu/cpu.cfs_quota_us' : '/sys/fs/cgroup/cpu.max';
  const r = await sh(`cat ${file}`, (s) => {
    s.linux!.resources = { cpu: { quota: 50000, period: 100000 } };
  });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^50000/);
});

test('pause freezes the container and resume thaws it', async (t) => {
  const { c } = await start('while true; do echo x; sleep 0.01; done');
  t.teardown(() => c.kill('SIGKILL'));
  let n = 0;
  c.stdout!.on('data', (d: Buffer) => (n += d.length));
  await sleep(200);
  c.pause();
  t.is(c.status(), 'paused');
  // exec into a frozen container is refused, as runc does.
  await t.throwsAsync(c.exec(['true']), { message: /paused/ });
  await sleep(100);
  const frozenAt = n;
  await sleep(300);
  t.is(n, frozenAt, 'no output while frozen');
  c.resume();
  t.is(c.status(), 'running');
  await sleep(200);
  t.true(n > frozenAt, 'output again after resume');
  c.kill('SIGKILL');
  await c.exited;
});

test('exec sees the same pid namespace', async (t) => {
  const { c } = await start('sleep 30');
  t.teardown(() => c.kill('SIGKILL'));
  // runContainer resolves once sh is exec'd; busybox's sh then runs its sleep applet by exec'ing
  // /proc/self/exe (comm "exe") and names itself "sleep" only after: wait (up to 5 s) for that to end.
  const wait = 'i=0; until [ "$(cat /proc/1/comm)" = sleep ] || [ $i = 500 ]; do i=$((i+1)); sleep 0.01; done';
  const r = await collect(await c.exec(['sh', '-c', `${wait}; cat /proc/1/comm; echo $$; ps -o comm | sort | uniq`]));
  c.kill('SIGKILL');
  await c.exited;
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^sleep\n/);
  // The exec'd process itself is in the container's pid namespace: no tsbox-init in front of it.
  const [, pid, ...names] = r.stdout.trim().split('\n');
  t.true(Number(pid) > 1, r.stdout);
  t.false(names.includes('tsbox-init'), r.stdout);
});

test('zombies are reaped by init', async (t) => {
  // The subshell exits at once, orphaning its sleeps to pid 1, which must reap them when they end.
  const r = await sh('(sleep 0.1 & sleep 0.1 & sleep 0.1 &); sleep 0.6; grep -l "^State:.Z" /proc/[0-9]*/status | wc -l', undefined, { init: true });
  t.is(r.stdout.trim(), '0');
});

test('SIGTERM reaches the user process through init', async (t) => {
  const { c } = await start('trap "exit 42" TERM; while true; do sleep 0.05; done');
  await sleep(200);
  c.kill('SIGTERM');
  const st = await c.exited;
  t.is(st.code, 42);
});

test('as pid 1 the process ignores a SIGTERM it has no handler for, as with runc; SIGKILL ends it', async (t) => {
  const { c } = await start('sleep 30');
  t.teardown(() => c.kill('SIGKILL'));
  await sleep(100);
  c.kill('SIGTERM');
  const st = await Promise.race([c.exited, sleep(400).then(() => 'running' as const)]);
  t.is(st, 'running');
  c.kill('SIGKILL');
  t.like(await c.exited, { code: null, signal: 'SIGKILL' });
});

test('exit codes and signals come back right', async (t) => {
  t.like(await sh('exit 3'), { code: 3, signal: null });
  t.like(await sh('kill -9 $$', undefined, { init: true }), { code: null, signal: 'SIGKILL' });
  t.like(await sh('exit 0', undefined, { init: false }), { code: 0, signal: null });
  // Without init the process is pid 1: the kernel drops signals it has no handler for, except SIGKILL from outside.
  t.like(await sh('kill -USR1 $$; exit 5', undefined, { init: false }), { code: 5, signal: null });
  const { c } = await start('sleep 10', undefined, { init: false });
  c.kill('SIGKILL');
  t.like(await c.exited, { code: null, signal: 'SIGKILL' });
});

test('a process that exits at once: its output streams still end for a caller that listens once runContainer resolves', async (t) => {
  // The streams are made as the container is handed over: made earlier, one could read EOF and end
  // before the caller listened, and collect() would wait forever.
  for (let round = 0; round < 20; round++) {
    const rs = await Promise.all([sh('exit 5', undefined, { init: false }), sh('exit 0', undefined, { init: false }), sh('echo hi; exit 3')]);
    t.deepEqual(rs.map((r) => [r.code, r.stdout]), [[5, ''], [0, ''], [3, 'hi\n']]);
  }
});

test('stdin reaches the container and env/cwd/user apply', async (t) => {
  const { c } = await start('cat; echo "$FOO $(pwd) $(id -u):$(id -g)"', (s) => {
    s.process!.env!.push('FOO=bar');
    s.process!.cwd = '/tmp';
    s.process!.user = { uid: 65534, gid: 65534 };
  });
  c.stdin!.end('hello\n');
  const r = await collect(c);
  t.is(r.stdout, 'hello\nbar /tmp 65534:65534\n');
});

test('a missing executable is a clear error', async (t) => {
  const e = await t.throwsAsync(start('x', (s) => (s.process!.args = ['/nope'])));
  t.true(e instanceof ContainerError);
  t.regex(e!.message, /exec \/nope.*ENOENT/);
});

test.after.always('no cgroups, state or processes left behind', (t) => {
  const { cgroups, states } = leftovers();
  t.deepEqual(cgroups, []);
  t.deepEqual(states, []);
});
