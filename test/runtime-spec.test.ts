// More of the OCI spec, asserted from inside real containers: user namespaces, joined namespaces,
// mounts, process settings, the default seccomp profile, cgroup stats, exec rights, and crash recovery.
import test from 'ava';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, readlinkSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { collect, sh, start } from './helpers/run.js';
import type { OciSpec } from '../ts/runtime/spec.js';
import { leftovers, makeBundle, removeBundle, STATE_ROOT } from './helpers/bundle.js';
import { defaultSeccompProfile } from '../ts/runtime/seccomp-default.js';
import { DEFAULT_CAPS } from '../ts/runtime/caps.js';
import { openCgroup } from '../ts/runtime/cgroup/index.js';
import { RUNTIME as BIN } from './helpers/bins.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a user namespace maps root inside to an unprivileged host range', async (t) => {
  const { c } = await start('id -u; cat /proc/self/uid_map; sleep 5', (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  });
  t.teardown(() => c.kill('SIGKILL'));
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d));
  await sleep(300);
  const hostUid = /Uid:\s+(\d+)/.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'))![1];
  c.kill('SIGKILL');
  await c.exited;
  t.regex(out, /^0\n\s*0\s+100000\s+65536\n/);
  t.is(hostUid, '100000');
});

test('namespaces given by path are joined', async (t) => {
  const a = await start('sleep 30');
  t.teardown(() => a.c.kill('SIGKILL'));
  const netA = readlinkSync(`/proc/${a.c.pid}/ns/net`);
  const r = await sh('readlink /proc/self/ns/net', (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${a.c.pid}/ns/net` } : n));
  });
  a.c.kill('SIGKILL');
  await a.c.exited;
  t.is(r.stdout.trim(), netA);
});

test('bind mounts (read-only) and tmpfs mounts from the spec', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-bind-'));
  writeFileSync(join(dir, 'hello'), 'from host\n');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await sh('cat /data/hello; echo x > /data/new 2>/dev/null || echo ro-refused; echo y > /scratch/f && cat /scratch/f; grep -c " /scratch tmpfs" /proc/mounts', (s) => {
    s.mounts!.push({ destination: '/data', type: 'bind', source: dir, options: ['rbind', 'ro'] });
    s.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=1777'] });
  });
  t.is(r.stdout, 'from host\nro-refused\ny\n1\n', r.stderr);
});

test('a bind with "nofail" whose source is missing, or gone before tsbox-init mounts it, is left out; without it the start fails', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-nofail-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Onto /tmp, which the shared busybox rootfs has: a destination made in it would stay for other tests.
  const file = `nofail-${process.pid}`;
  const probe = `grep -c " /tmp " /proc/self/mountinfo; test -e /tmp/${file} && echo seen || echo none`;
  /** A source there when the spec is read, removed once the namespaces exist and before tsbox-init's mounts. */
  const vanishing = (name: string, options: string[], userns = false): [(s: OciSpec) => void, { beforeStart: () => void }] => {
    const src = join(dir, name);
    mkdirSync(src);
    writeFileSync(join(src, file), 'x');
    const mutate = (s: OciSpec) => {
      s.mounts!.push({ destination: '/tmp', type: 'bind', source: src, options });
      if (userns) {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      }
    };
    return [mutate, { beforeStart: () => rmSync(src, { recursive: true, force: true }) }];
  };
  const missing = await sh(probe, (s) => void s.mounts!.push({ destination: '/tmp', type: 'bind', source: join(dir, 'never'), options: ['rbind', 'ro', 'nofail'] }));
  t.is(missing.code, 0, missing.stderr);
  t.is(missing.stdout, '0\nnone\n');
  const gone = await sh(probe, ...vanishing('gone', ['rbind', 'ro', 'nofail']));
  t.is(gone.code, 0, gone.stderr);
  t.is(gone.stdout, '0\nnone\n');
  // In a user namespace of its own the source is opened before the clone (open_tree): the kernel will not
  // attach a tree whose directory was removed since, and it is left out as well.
  const held = await sh(probe, ...vanishing('held', ['rbind', 'ro', 'nofail'], true));
  t.is(held.code, 0, held.stderr);
  t.is(held.stdout, '0\nnone\n');
  await t.throwsAsync(sh(probe, ...vanishing('held-strict', ['rbind', 'ro'], true)), { message: /^move_mount .* on .*\/tmp: ENOENT/ });
  await t.throwsAsync(sh(probe, ...vanishing('strict', ['rbind', 'ro'])), { message: /^mount bind .*strict on .*\/tmp: ENOENT/ });
  await t.throwsAsync(sh(probe, (s) => void s.mounts!.push({ destination: '/tmp', type: 'bind', source: join(dir, 'never'), options: ['rbind'] })), { message: /stat .*never: ENOENT/ });
});

test('rlimits, umask, oom_score_adj, sysctl and no_new_privs apply', async (t) => {
  const r = await sh('ulimit -n; umask; cat /proc/self/oom_score_adj; cat /proc/sys/kernel/shmmni; grep NoNewPrivs /proc/self/status', (s) => {
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 512 }];
    s.process!.user.umask = 0o027;
    s.process!.oomScoreAdj = 500;
    s.linux!.sysctl = { 'kernel.shmmni': '1234' };
    s.process!.noNewPrivileges = true;
  });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '512\n0027\n500\n1234\nNoNewPrivs:\t1\n');
});

test('the default seccomp profile runs ordinary programs and refuses namespace syscalls', async (t) => {
  const r = await sh('echo ok; ls / > /dev/null && echo ls-ok; unshare -n true || echo unshare-refused', (s) => {
    s.process!.capabilities = { bounding: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS] };
    s.linux!.seccomp = defaultSeccompProfile(DEFAULT_CAPS);
  });
  t.is(r.stdout, 'ok\nls-ok\nunshare-refused\n', r.stderr);
  t.regex(r.stderr, /Operation not permitted/);
});

test('cgroup stats read back cpu, memory and pids of a running container', async (t) => {
  const { c } = await start('i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 30', (s) => {
    s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } };
  });
  t.teardown(() => c.kill('SIGKILL'));
  await sleep(800);
  const st = c.stats();
  c.kill('SIGKILL');
  await c.exited;
  t.true(st.cpu.usageNs > 0, JSON.stringify(st.cpu));
  t.true(st.memory.usage > 0);
  t.is(st.memory.limit, 64 * 1024 * 1024);
  t.true(st.pids.current >= 1, JSON.stringify(st.pids));
  t.is(st.pids.limit, 50);
});

test('exec gets the same capabilities as the container process', async (t) => {
  const caps = ['CAP_CHOWN', 'CAP_KILL'];
  const { c } = await start('grep CapEff /proc/self/status; sleep 30', (s) => {
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
  });
  t.teardown(() => c.kill('SIGKILL'));
  let first = '';
  c.stdout!.on('data', (d: Buffer) => (first += d));
  await sleep(200);
  const r = await collect(await c.exec(['grep', 'CapEff', '/proc/self/status']));
  c.kill('SIGKILL');
  await c.exited;
  t.is(r.stdout, first);
  t.regex(r.stdout, /CapEff:\s+0000000000000021/);
});

test('cgroup v2 driver on the unified hierarchy: procs, freeze, kill, destroy', async (t) => {
  const cg = openCgroup(`/tsbox-v2-test-${process.pid}`, { version: 2, mountRoot: '/sys/fs/cgroup/unified' });
  cg.create();
  t.teardown(() => {
    cg.kill(9);
    try {
      cg.destroy();
    } catch {
      // reported by the assertions below
    }
  });
  // One process that never forks: procs() must list exactly it.
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  await new Promise((r) => child.on('spawn', r));
  cg.addProcess(child.pid!);
  t.deepEqual(cg.procs(), [child.pid]);
  t.throws(() => cg.apply({ memory: { limit: 1 << 24 } }), { message: /memory controller not available/ });
  cg.freeze();
  t.true(cg.frozen());
  cg.thaw();
  t.false(cg.frozen());
  cg.kill(9);
  await new Promise((r) => child.on('exit', r));
  cg.destroy();
  t.false(cg.exists());
});

// stderr to a file: a detached container keeps the CLI's stdio open, and spawnSync would wait on a pipe.
function rt(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-rt-'));
  const fd = openSync(join(dir, 'err'), 'w');
  try {
    const r = spawnSync(BIN, ['--root', STATE_ROOT, ...args], { stdio: ['ignore', 'ignore', fd], timeout: 60000 });
    return { status: r.status, stderr: readFileSync(join(dir, 'err'), 'utf8') };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('concurrent delete --force on one container: all succeed, nothing is left (locks)', async (t) => {
  const b = makeBundle(['sleep', '30']);
  t.teardown(() => removeBundle(b));
  t.is(rt(['run', '--detach', '--bundle', b.dir, b.id]).status, 0);
  const codes = await Promise.all(
    Array.from({ length: 5 }, () => new Promise<number | null>((res) => spawn(BIN, ['--root', STATE_ROOT, 'delete', '--force', b.id], { stdio: 'ignore' }).on('exit', res))),
  );
  t.deepEqual(codes, [0, 0, 0, 0, 0]);
  t.regex(rt(['state', b.id]).stderr, /does not exist/);
});

test('a container whose process was killed from outside reads as stopped and deletes cleanly', async (t) => {
  const b = makeBundle(['sleep', '30']);
  t.teardown(() => removeBundle(b));
  const pidFile = join(b.dir, 'pid');
  t.is(rt(['run', '--detach', '--pid-file', pidFile, '--bundle', b.dir, b.id]).status, 0);
  process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  await sleep(200);
  const st = spawnSync(BIN, ['--root', STATE_ROOT, 'state', b.id], { encoding: 'utf8' });
  t.is(JSON.parse(st.stdout).status, 'stopped');
  t.is(rt(['delete', b.id]).status, 0);
});

test('exec --tty without a console socket: the CLI holds the pty', (t) => {
  const b = makeBundle(['sleep', '30']);
  t.teardown(() => {
    rt(['delete', '--force', b.id]);
    removeBundle(b);
  });
  t.is(rt(['run', '--detach', '--bundle', b.dir, b.id]).status, 0);
  const r = spawnSync(BIN, ['--root', STATE_ROOT, 'exec', '--tty', b.id, 'tty'], { encoding: 'utf8', timeout: 30000, stdio: ['ignore', 'pipe', 'pipe'] });
  // The exec'd process holds only the pty, not these pipes: spawnSync returns when it exits.
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /\/dev\/pts\/\d+/);
});

test.after.always('no cgroups or states left behind', (t) => {
  const { cgroups, states } = leftovers();
  t.deepEqual(cgroups, []);
  t.deepEqual(states, []);
});

test('--no-pivot (chroot), /dev/fd links, rootfs propagation and additional gids', async (t) => {
  const b = makeBundle(['sh', '-c', 'ls -l /dev/fd | grep -c "/proc/self/fd"; id -G; grep " / " /proc/self/mountinfo | grep -c shared || true'], (s) => {
    s.process!.user = { uid: 1000, gid: 1000, additionalGids: [44, 55] };
    s.linux!.rootfsPropagation = 'rprivate';
  });
  t.teardown(() => removeBundle(b));
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-rt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = openSync(join(dir, 'out'), 'w');
  const r = spawnSync(BIN, ['--root', STATE_ROOT, 'run', '--no-pivot', '--bundle', b.dir, b.id], { stdio: ['ignore', out, 'pipe'], encoding: 'utf8', timeout: 60000 });
  closeSync(out);
  t.is(r.status, 0, r.stderr);
  t.is(readFileSync(join(dir, 'out'), 'utf8'), '1\n1000 44 55\n0\n', r.stderr);
});
