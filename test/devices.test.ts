// Device restrictions, tried as a hostile container would: a block node (a host loop device holding a
// secret) and a char node of the kernel log (/dev/kmsg, c 1 11), made with mknod inside or shipped in
// an image, from `run` and `sandbox`, on cgroup v1 and on a v2 test cgroup (eBPF device filter). podman
// with runc runs the same checks as the reference: tsbox must be at least as strict. mknod itself stays
// allowed, as with docker.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, lstatSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { collect, sh, start } from './helpers/run.js';
import { outputOf } from './helpers/cli.js';
import { Layout } from './helpers/registry.js';
import { CLI } from './helpers/bins.js';
import { openCgroup } from '../ts/runtime/cgroup/index.js';
import { compileDeviceRules, deviceRules, DOCKER_DEVICE_RULES } from '../ts/runtime/cgroup/devices.js';

const work = mkdtempSync(join(tmpdir(), 'tsbox-devices-'));
const root = join(work, 'root');
const SECRET = `TSBOXDEVSECRET${process.pid}`;
const UNIFIED = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((p) => existsSync(join(p, 'cgroup.controllers')));
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

let loop = '';
let minor = 0;
let shipped = '';

function tsbox(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return outputOf('env', [...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, CLI, '--root', root, ...argv], { tmp: work });
}

/** What a hostile script got: each line it printed is one thing that worked. */
function attack(dir: string, mark: string): string {
  return [
    `mknod ${dir}/b b 7 ${minor} && echo mknod-block`,
    `head -c ${SECRET.length} ${dir}/b 2>/dev/null | grep -q ${SECRET} && echo LOOP-READ`,
    `mknod ${dir}/k c 1 11 && echo mknod-char`,
    `echo ${mark} 2>/dev/null > ${dir}/k && echo KMSG-WRITE`,
    `head -c ${SECRET.length} /shipped/loop 2>/dev/null | grep -q ${SECRET} && echo SHIPPED-LOOP-READ`,
    `[ -e /shipped/kmsg ] && echo ${mark} 2>/dev/null > /shipped/kmsg && echo SHIPPED-KMSG-WRITE`,
    'head -c 1 /dev/zero > /dev/null && echo dev-null-ok',
  ].join('; ');
}

const escapes = (out: string) => out.split('\n').filter((l) => /^[A-Z-]+$/.test(l));
const inKmsg = (mark: string) => execFileSync('dmesg', { encoding: 'utf8' }).includes(mark);
let marks = 0;
const newMark = () => `tsbox-devtest-${process.pid}-${++marks}`;

test.before(() => {
  mkdirSync(root);
  const img = join(work, 'loop.img');
  const data = Buffer.alloc(1 << 20);
  data.write(SECRET);
  writeFileSync(img, data);
  loop = execFileSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).trim();
  const rdev = statSync(loop).rdev;
  minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  // An image whose layer ships the two nodes.
  shipped = join(work, 'shipped-rootfs');
  execFileSync('cp', ['-a', busyboxRootfs(), shipped]);
  mkdirSync(join(shipped, 'shipped'));
  execFileSync('mknod', [join(shipped, 'shipped/loop'), 'b', '7', String(minor)]);
  execFileSync('mknod', [join(shipped, 'shipped/kmsg'), 'c', '1', '11']);
  const tarball = join(work, 'shipped.tar.gz');
  execFileSync('tar', ['-C', shipped, '-czf', tarball, '.']);
  let r = tsbox(['import', tarball, 'shipped']);
  if (r.code !== 0) throw new Error(r.stderr);
  // The same layer in an OCI archive, for load.
  const l = new Layout(join(work, 'layout'));
  l.image([shipped], { tag: 'latest' });
  l.write();
  execFileSync('skopeo', ['copy', '--quiet', `oci:${join(work, 'layout')}:latest`, `oci-archive:${join(work, 'shipped-oci.tar')}:docker.io/library/shipped-loaded:1`]);
  r = tsbox(['load', '-i', join(work, 'shipped-oci.tar')]);
  if (r.code !== 0) throw new Error(r.stderr);
});

test.after.always(() => {
  for (const id of existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : []) tsbox(['rm', '-f', id]);
  if (loop) spawnSync('losetup', ['-d', loop]);
  rmSync(work, { recursive: true, force: true });
});

test.serial('run and exec (cgroup v1): mknod works, a loop device and /dev/kmsg cannot be opened, made or shipped', (t) => {
  const mark = newMark();
  // Imported (a rootfs tarball) and loaded (an OCI archive): both unpack the shipped nodes.
  for (const image of ['shipped', 'shipped-loaded:1']) {
    const r = tsbox(['run', '--rm', image, 'sh', '-c', `[ -b /shipped/loop ] && echo shipped; ${attack('/tmp', mark)}`]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, 'shipped\nmknod-block\nmknod-char\ndev-null-ok\n', image);
  }
  const r = tsbox(['run', '-d', 'shipped', 'sleep', '60']);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  t.teardown(() => tsbox(['rm', '-f', id]));
  t.is(tsbox(['exec', id, 'sh', '-c', attack('/tmp', mark)]).stdout, 'mknod-block\nmknod-char\ndev-null-ok\n');
  t.false(inKmsg(mark), 'nothing reached the kernel log');
});

test.serial('run and exec on a cgroup v2 hierarchy (eBPF device filter): the same attacks are refused', (t) => {
  if (!UNIFIED) return t.pass('no cgroup2 mount on this host');
  const v2 = { TSBOX_CGROUP_VERSION: '2' };
  const mark = newMark();
  let r = tsbox(['run', '--rm', 'shipped', 'sh', '-c', attack('/tmp', mark)], v2);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(escapes(r.stdout), [], r.stdout);
  t.is(r.stdout, 'mknod-block\nmknod-char\ndev-null-ok\n');
  t.false(inKmsg(mark));
  // Only the unified hierarchy holds it (a hybrid host's v1 devices cgroup stays the caller's, which allows
  // everything): what refuses the devices there is the eBPF filter alone.
  r = tsbox(['run', '-d', 'shipped', 'sleep', '60'], v2);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  t.teardown(() => tsbox(['rm', '-f', id], v2));
  t.true(readFileSync(join(UNIFIED, 'tsbox', id, 'cgroup.procs'), 'utf8').trim().length > 0);
  if (UNIFIED !== '/sys/fs/cgroup') t.false(existsSync(join('/sys/fs/cgroup/devices/tsbox', id)));
  r = tsbox(['exec', id, 'sh', '-c', attack('/tmp', mark)], v2);
  t.is(r.stdout, 'mknod-block\nmknod-char\ndev-null-ok\n', r.stderr);
  t.false(inKmsg(mark));
});

test.serial('sandbox: a node made in its /dev or found in its writable cwd cannot be opened', (t) => {
  const cwd = mkdtempSync(join(work, 'sbx-'));
  execFileSync('mknod', [join(cwd, 'loop'), 'b', '7', String(minor)]);
  execFileSync('mknod', [join(cwd, 'kmsg'), 'c', '1', '11']);
  const mark = newMark();
  const script = `${attack('/dev', mark)}; head -c ${SECRET.length} ./loop 2>/dev/null | grep -q ${SECRET} && echo CWD-LOOP-READ; echo ${mark} 2>/dev/null > ./kmsg && echo CWD-KMSG-WRITE; exit 0`;
  const r = spawnSync(process.execPath, [CLI, 'sandbox', '--', 'sh', '-c', script], { cwd, encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(escapes(r.stdout), [], r.stdout);
  t.regex(r.stdout, /^mknod-block\nmknod-char\ndev-null-ok\n$/, r.stdout);
  t.false(inKmsg(mark));
});

for (const version of [1, 2] as const) {
  const where = version === 2 ? UNIFIED : existsSync('/sys/fs/cgroup/devices/cgroup.procs') ? '/sys/fs/cgroup' : undefined;
  test.serial(`the v${version} driver on a test cgroup: the rules hold for the first process, and a new apply replaces them`, async (t) => {
    if (!where) return t.pass(`no cgroup v${version} devices hierarchy on this host`);
    const cg = openCgroup(`/tsbox-test-devices-v${version}-${process.pid}`, { version, mountRoot: where });
    cg.create();
    t.teardown(() => cg.destroy());
    // A host process with every capability, placed in the cgroup and only then told to go.
    const probe = async () => {
      const mark = newMark();
      const dir = mkdtempSync(join(work, `v${version}-`));
      const p = spawn('sh', ['-c', `read go; ${attack(dir, mark)}`], { stdio: ['pipe', 'pipe', 'pipe'] });
      await new Promise((r) => p.on('spawn', r));
      cg.addProcess(p.pid!);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d));
      p.stdin!.end('go\n');
      await new Promise((r) => p.on('exit', r));
      return { out, kmsg: inKmsg(mark) };
    };
    cg.apply({ devices: deviceRules(DOCKER_DEVICE_RULES) });
    let r = await probe();
    t.is(r.out, 'mknod-block\nmknod-char\ndev-null-ok\n');
    t.false(r.kmsg);
    // A new apply replaces the filter rather than adding to it: an allow-all spec opens everything again.
    cg.apply({ devices: deviceRules([{ allow: true, access: 'rwm' }]) });
    r = await probe();
    t.is(r.out, 'mknod-block\nLOOP-READ\nmknod-char\nKMSG-WRITE\ndev-null-ok\n');
    // Only the char devices of the kernel log denied (a deny-list spec).
    cg.apply({ devices: deviceRules([{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 11, access: 'w' }]) });
    r = await probe();
    t.is(r.out, 'mknod-block\nLOOP-READ\nmknod-char\ndev-null-ok\n');
  });
}

test.serial('runtime API: a spec\'s own rules hold exactly, on cgroup v1 and on v2', async (t) => {
  // Read-only access to the loop device and nothing else: opening it for writing, and /dev/kmsg, refused.
  const script = [
    `mknod /dev/b b 7 ${minor}`,
    `head -c ${SECRET.length} /dev/b | grep -q ${SECRET} && echo read`,
    '(exec 3>>/dev/b) 2>/dev/null && echo WRITE-OPEN',
    'mknod /dev/k c 1 11; (exec 3>>/dev/k) 2>/dev/null && echo KMSG-OPEN',
    'echo x > /dev/null && echo null; exit 0',
  ].join('; ');
  const rules = (s: Parameters<NonNullable<Parameters<typeof sh>[1]>>[0]) => {
    s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: 7, minor, access: 'r' }] };
    const caps = [...s.process!.capabilities!.bounding!, 'CAP_MKNOD'];
    s.process!.capabilities = { ...s.process!.capabilities, bounding: caps, effective: caps, permitted: caps };
  };
  const v1 = await sh(script, rules);
  t.is(v1.stdout, 'read\nnull\n', v1.stderr);
  if (!UNIFIED) return;
  process.env.TSBOX_CGROUP_VERSION = '2';
  try {
    const { c, b } = await start(`read go; ${script}`, rules);
    t.teardown(() => c.kill('SIGKILL'));
    const out = collect(c);
    // In the unified hierarchy only: the v1 devices controller has no cgroup for it on a hybrid host.
    const path = b.spec.linux!.cgroupsPath!;
    t.true(existsSync(join(UNIFIED, path, 'cgroup.procs')));
    if (UNIFIED !== '/sys/fs/cgroup') t.false(existsSync(join('/sys/fs/cgroup/devices', path)));
    c.stdin!.end('go\n');
    const v2 = await out;
    t.is(v2.stdout, 'read\nnull\n', v2.stderr);
    for (let i = 0; i < 100 && existsSync(join(UNIFIED, path)); i++) await new Promise((r) => setTimeout(r, 50));
    t.false(existsSync(join(UNIFIED, path)), 'the v2 cgroup is removed with the container');
  } finally {
    delete process.env.TSBOX_CGROUP_VERSION;
  }
});

test('the rules compile as the kernel reads them: allow-list and deny-list, later rules win', (t) => {
  t.deepEqual(compileDeviceRules([]), { defaultAllow: false, rules: [] });
  t.deepEqual(compileDeviceRules([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'm' }]), {
    defaultAllow: false,
    rules: [{ type: 'c', major: 1, minor: 3, access: 'rwm' }],
  });
  // A deny of the same node takes its access away again; "a" starts over.
  t.deepEqual(compileDeviceRules([{ allow: true, type: 'b', access: 'rwm' }, { allow: false, type: 'b', access: 'rw' }]).rules, [{ type: 'b', major: -1, minor: -1, access: 'm' }]);
  t.deepEqual(compileDeviceRules([{ allow: true, type: 'b', access: 'rwm' }, { allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 11 }]), {
    defaultAllow: true,
    rules: [{ type: 'c', major: 1, minor: 11, access: 'rwm' }],
  });
  t.throws(() => compileDeviceRules([{ allow: true, type: 'x', access: 'rwm' }]), { message: /device cgroup rule: type "x"/ });
  t.throws(() => compileDeviceRules([{ allow: true, type: 'c', access: 'rwx' }]), { message: /device cgroup rule: access "rwx"/ });
  // A spec without rules still gets runc's default devices, and no more.
  const def = compileDeviceRules(deviceRules(undefined));
  t.false(def.defaultAllow);
  t.true(def.rules.some((r) => r.type === 'c' && r.major === 1 && r.minor === 3 && r.access === 'rwm'));
  t.false(def.rules.some((r) => r.type === 'b' && r.access.includes('r')));
});

test.serial('reference: podman with runc refuses the same, and tsbox is at least as strict', (t) => {
  if (!have('podman') || !have('runc')) return t.pass('podman or runc not installed');
  const dir = mkdtempSync(join(work, 'podman-'));
  for (const d of ['root', 'runroot', 'tmp']) mkdirSync(join(dir, d));
  const base = ['--runtime', 'runc', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const parent = `tsbox-test-devices-podman-${process.pid}`;
  t.teardown(() => {
    // podman leaves its conmon cgroup below the parent, in every hierarchy.
    spawnSync('sh', ['-c', `find /sys/fs/cgroup -maxdepth 3 -depth -type d -path '*/${parent}*' -exec rmdir {} +`]);
    spawnSync('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
    rmSync(dir, { recursive: true, force: true });
  });
  const mark = newMark();
  const limits = ['--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', '--cgroup-parent', `/${parent}`];
  const p = spawnSync('podman', [...base, 'run', '--rm', ...limits, '--rootfs', shipped, 'sh', '-c', attack('/tmp', mark)], {
    encoding: 'utf8',
    timeout: 90000,
  });
  t.is(p.status, 0, p.stderr);
  const r = tsbox(['run', '--rm', 'shipped', 'sh', '-c', attack('/tmp', newMark())]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(escapes(p.stdout), [], 'podman refuses them all');
  for (const e of escapes(r.stdout)) t.true(escapes(p.stdout).includes(e), `tsbox allows ${e}, podman does not`);
  // mknod is allowed in both.
  t.is(p.stdout, 'mknod-block\nmknod-char\ndev-null-ok\n');
  t.is(r.stdout, p.stdout);
  t.false(inKmsg(mark));
});

/**
 * Device nodes under a /dev as docker (runc's HostDevices) lists them: no pts, shm, mqueue, fd, console;
 * /dev/ptmx is then replaced by a link to pts/ptmx (the container's own devpts), with docker as here.
 */
function deviceNodes(dev: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        if (!['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev'].includes(e)) walk(p);
      } else if ((st.isCharacterDevice() || st.isBlockDevice()) && e !== 'console' && p !== join(dev, 'ptmx')) {
        out.push(`${relative(dev, p)} ${st.isBlockDevice() ? 'b' : 'c'} ${st.rdev}`);
      }
    }
  };
  walk(dev);
  return out.sort();
}

test.serial('--privileged sees the host device nodes (as docker gives them) and may use them', (t) => {
  const r = tsbox([
    'run',
    '--rm',
    '--privileged',
    '--entrypoint',
    '',
    'shipped',
    'sh',
    '-c',
    `find /dev \\( -type c -o -type b \\) ! -path '/dev/pts/*' ! -path '/dev/console' ! -path '/dev/shm/*' ! -path '/dev/mqueue/*' -exec stat -c '%n %F %t %T' {} +; head -c ${SECRET.length} /dev/loop${minor}; echo`,
  ]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines.pop(), SECRET, 'the host loop device is usable');
  const seen = lines
    .map((l) => {
      const m = /^\/dev\/(\S+) (block|character) special file ([0-9a-f]+) ([0-9a-f]+)$/.exec(l);
      if (!m) return l;
      const [maj, min] = [parseInt(m[3], 16), parseInt(m[4], 16)];
      return `${m[1]} ${m[2] === 'block' ? 'b' : 'c'} ${(maj << 8) | (min & 0xff) | ((min & ~0xff) << 12)}`;
    })
    .sort();
  t.deepEqual(seen, deviceNodes('/dev'));
});

test.serial('mount options as docker sets them: tmpfs mounts are noexec,nosuid,nodev; binds and the rootfs are not nodev', (t) => {
  const vol = mkdtempSync(join(work, 'vol-'));
  const r = tsbox(['run', '--rm', '-v', `${vol}:/v`, '--tmpfs', '/t1', '--tmpfs', '/t2:exec,size=1m', '--mount', 'type=tmpfs,target=/t3', 'shipped', 'cat', '/proc/self/mounts']);
  t.is(r.code, 0, r.stderr);
  const opts = (dst: string) => r.stdout.split('\n').find((l) => l.split(' ')[1] === dst)?.split(' ')[3].split(',') ?? [];
  for (const d of ['/t1', '/t3', '/dev/shm', '/dev/mqueue', '/proc', '/sys']) {
    for (const o of ['nosuid', 'nodev', 'noexec']) t.true(opts(d).includes(o), `${d} ${o}: ${opts(d)}`);
  }
  t.true(opts('/t2').includes('nodev'));
  t.false(opts('/t2').includes('noexec'), 'exec given by the user wins');
  t.false(opts('/v').includes('nodev'), 'docker does not mount binds nodev');
  t.false(opts('/').includes('nodev'));
  t.false(opts('/dev').includes('nodev'));
});
