// tsbox as an ordinary user: a real unprivileged account with subordinate ids runs the engine CLI
// (through runuser) against a real registry; image files keep their owners through the id mapping, and
// nothing is written outside the user's own directories.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { dockerArchive } from './helpers/archive.js';
import { startRegistry, Layout, push, type Registry } from './helpers/registry.js';
import { outputOf } from './helpers/cli.js';
import { CLI as CLI_IN_REPO, REPO, RUNTIME as RUNTIME_IN_REPO } from './helpers/bins.js';

// The package the user runs: this checkout, or a readable copy of it (below).
let pkgRoot = REPO;
const CLI = () => join(pkgRoot, relative(REPO, CLI_IN_REPO));
const RUNTIME = () => join(pkgRoot, relative(REPO, RUNTIME_IN_REPO));
const USER = 'tsbox-rootless';
const work = mkdtempSync(join(tmpdir(), 'tsbox-rootless-'));
chmodSync(work, 0o755);
let uid = 0;
let home = '';
let runtimeDir = '';
let subStart = 0;
let madeRuntimeDir = false;
let madeRunUser = false;
let reg: Registry;
let image = '';
const CGROUP2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((p) => existsSync(join(p, 'cgroup.procs')) && existsSync(join(p, 'cgroup.controllers')));
const delegated = CGROUP2 ? join(CGROUP2, 'tsbox-test-rootless') : '';

/** Runs the CLI as the ordinary user, optionally from inside a cgroup (its delegated subtree). */
function tsbox(argv: string[], opts: { cgroup?: string; env?: string[] } = {}) {
  const env = ['env', '-i', `HOME=${home}`, 'PATH=/usr/local/bin:/usr/bin:/bin', `XDG_RUNTIME_DIR=${runtimeDir}`, ...(opts.env ?? []), process.execPath, CLI(), ...argv];
  // The shell enters the cgroup as root, then becomes the user: as a login under systemd would be placed.
  const cmd = opts.cgroup ? ['sh', '-c', `echo $$ > ${opts.cgroup}/cgroup.procs && exec runuser -u ${USER} -- "$@"`, 'sh', ...env] : ['runuser', '-u', USER, '--', ...env];
  return outputOf(cmd[0], cmd.slice(1), { tmp: work, cwd: work });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  if (spawnSync('id', ['-u', USER]).status !== 0) execFileSync('useradd', ['-m', '-s', '/bin/sh', USER]);
  uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
  home = execFileSync('sh', ['-c', `getent passwd ${USER} | cut -d: -f6`], { encoding: 'utf8' }).trim();
  // Subordinate ids, as useradd gives new users on most distributions: added when this one did not,
  // through usermod, which takes shadow's locks (dockerd's --userns-remap edits these files beside us).
  const has = (f: string) => existsSync(f) && readFileSync(f, 'utf8').split('\n').some((l) => l.startsWith(`${USER}:`));
  if (!has('/etc/subuid') || !has('/etc/subgid')) execFileSync('usermod', ['--add-subuids', '300000-365535', '--add-subgids', '300000-365535', USER]);
  subStart = Number(readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith(`${USER}:`))!.split(':')[1]);
  // What pam_systemd makes at login: the user's runtime directory.
  // /run/user itself may be missing on a machine without logind: made traversable (0755) as logind makes it,
  // else a recursive 0700 mkdir would lock every user out of their own runtime directory.
  madeRunUser = !existsSync('/run/user');
  if (madeRunUser) mkdirSync('/run/user', { mode: 0o755 });
  runtimeDir = `/run/user/${uid}`;
  madeRuntimeDir = !existsSync(runtimeDir);
  mkdirSync(runtimeDir, { mode: 0o700, recursive: true });
  chownSync(runtimeDir, uid, uid);
  // The checkout may lie where the user cannot read (root's home): then what runs is copied to the work dir.
  if (spawnSync('runuser', ['-u', USER, '--', 'test', '-r', CLI()]).status !== 0) {
    const pkg = join(work, 'pkg');
    mkdirSync(join(pkg, 'build', 'Release'), { recursive: true });
    execFileSync('cp', ['-r', join(REPO, 'package.json'), join(REPO, 'dist'), join(REPO, 'bin'), pkg]);
    execFileSync('cp', [join(REPO, 'build', 'Release', 'tsbox.node'), join(pkg, 'build', 'Release')]);
    execFileSync('chmod', ['-R', 'a+rX', pkg]);
    pkgRoot = pkg;
  }
  rmSync(join(home, '.local', 'share', 'tsbox'), { recursive: true, force: true });

  // An image whose /home/user belongs to uid 1000: the test of the mapping.
  const rootfs = join(work, 'rootfs');
  execFileSync('cp', ['-a', busyboxRootfs(), rootfs]);
  mkdirSync(join(rootfs, 'home', 'user'), { recursive: true });
  chownSync(join(rootfs, 'home', 'user'), 1000, 1000);
  appendFileSync(join(rootfs, 'etc', 'passwd'), 'user:x:1000:1000::/home/user:/bin/sh\n');
  appendFileSync(join(rootfs, 'etc', 'group'), 'user:x:1000:\n');
  reg = await startRegistry();
  const l = new Layout(join(work, 'layout'));
  l.image([rootfs], { tag: 'latest' });
  l.write();
  await push(join(work, 'layout'), 'latest', `${reg.addr}/rootless/busybox:latest`);
  image = `${reg.addr}/rootless/busybox:latest`;
});

test.after.always(async () => {
  if (home && existsSync(join(home, '.local', 'share', 'tsbox', 'containers'))) {
    for (const id of readdirSync(join(home, '.local', 'share', 'tsbox', 'containers'))) tsbox(['rm', '-f', id]);
  }
  await reg?.stop();
  if (delegated && existsSync(delegated)) {
    for (const d of ['tsbox', 'session']) if (existsSync(join(delegated, d))) rmdirSync(join(delegated, d));
    rmdirSync(delegated);
  }
  if (home) tsbox(['unshare', 'rm', '-rf', join(home, '.local', 'share', 'tsbox')]);
  if (madeRuntimeDir) rmSync(runtimeDir, { recursive: true, force: true });
  if (madeRunUser) rmdirSync('/run/user');
  rmSync(work, { recursive: true, force: true });
});

test.serial('info: rootless mode, full id mapping through newuidmap, overlay in the user namespace', (t) => {
  const r = tsbox(['info', '--format', 'json']);
  t.is(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  t.true(info.Rootless);
  t.regex(info.IdMapping, new RegExp(`root → uid ${uid}, 1-65536 → ${subStart}-${subStart + 65535}`));
  t.is(info.StorageDriver, 'overlay (userxattr)');
  t.regex(info.Cgroups, /^none: .*not applied/);
  t.is(info.RootDir, join(home, '.local', 'share', 'tsbox'));
  t.regex(info.Seccomp, /supported/);
});

test.serial('pull unpacks with owners mapped into the subordinate range; the container sees the image\'s owners', (t) => {
  const p = tsbox(['pull', image]);
  t.is(p.code, 0, p.stderr);
  const layers = join(home, '.local', 'share', 'tsbox', 'images', 'layers');
  const [layer] = readdirSync(layers);
  const st = statSync(join(layers, layer, 'home', 'user'));
  t.is(st.uid, subStart + 999, 'uid 1000 of the image is subordinate id start+999 on the host');
  t.is(statSync(join(layers, layer, 'bin', 'busybox')).uid, uid, 'root of the image is the user itself');
  const r = tsbox(['run', '--rm', image, 'sh', '-c', 'id -u; stat -c %u:%g /home/user; echo written > /root/f && cat /root/f; cat /proc/self/uid_map']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines[0], '0');
  t.is(lines[1], '1000:1000');
  t.is(lines[2], 'written');
  t.regex(lines[3], new RegExp(`^\\s*0\\s+${uid}\\s+1$`));
  t.regex(lines[4], new RegExp(`^\\s*1\\s+${subStart}\\s+65536$`));
});

test.serial('the copy snapshotter (kernels without unprivileged overlayfs): a copy made in the user namespace keeps the owners', (t) => {
  const r = tsbox(['run', '--rm', image, 'sh', '-c', 'stat -c %u:%g /home/user; grep -c overlay /proc/mounts; echo x > /home/user/y'], { env: ['TSBOX_SNAPSHOTTER=copy'] });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['1000:1000', '0']);
  t.deepEqual(readdirSync(join(home, '.local', 'share', 'tsbox', 'containers')), []);
});

test.serial('detached run, exec as root and as another user, files written, stop, rm', async (t) => {
  const r = tsbox(['run', '-d', '--name', 'rl1', image, 'sleep', '1000']);
  t.is(r.code, 0, r.stderr);
  const e1 = tsbox(['exec', 'rl1', 'sh', '-c', 'echo one > /tmp/one && cat /tmp/one']);
  t.is(e1.code, 0, e1.stderr);
  t.is(e1.stdout, 'one\n');
  const e2 = tsbox(['exec', '-u', 'user', 'rl1', 'sh', '-c', 'id -u; touch /home/user/mine && stat -c %u /home/user/mine']);
  t.is(e2.code, 0, e2.stderr);
  t.is(e2.stdout, '1000\n1000\n');
  const ps = tsbox(['ps']);
  t.regex(ps.stdout, /rl1/);
  const top = tsbox(['top', 'rl1']);
  t.regex(top.stdout, /sleep 1000/);
  const s = tsbox(['stop', '-t', '1', 'rl1']);
  t.is(s.code, 0, s.stderr);
  t.regex(tsbox(['ps', '-a']).stdout, /rl1/);
  // The upper layer holds a file of uid 1000 (a subordinate id): rm still removes it all.
  const rm = tsbox(['rm', 'rl1']);
  t.is(rm.code, 0, rm.stderr);
  t.deepEqual(readdirSync(join(home, '.local', 'share', 'tsbox', 'containers')), []);
  await sleep(100);
  // Zombies belong to the host's init to reap (the CLI that started the container has exited).
  const live = spawnSync('ps', ['-u', String(uid), '-o', 'stat=,args='], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z'));
  t.deepEqual(live, [], 'no process of the container is left');
});

test.serial('limits without a delegated cgroup: one clear warning, and the container still runs', (t) => {
  const r = tsbox(['run', '--rm', '--pids-limit', '20', '--memory', '64m', image, 'echo', 'ran']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'ran\n');
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('WARNING:'));
  t.is(warnings.length, 1, r.stderr);
  t.regex(warnings[0], /memory, pids limits not applied: no delegated cgroup v2 subtree/);
});

test.serial('a delegated cgroup v2 subtree: the container gets its own cgroup there; limits applied or named', async (t) => {
  if (!CGROUP2) return t.pass('this host has no cgroup2 mount');
  mkdirSync(join(delegated, 'session'), { recursive: true });
  // What systemd does for user@UID.service (Delegate=yes): the subtree and its control files are the user's.
  for (const d of [delegated, join(delegated, 'session')]) {
    chownSync(d, uid, uid);
    for (const f of ['cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(join(d, f), uid, uid);
  }
  const leaf = join(delegated, 'session');
  const info = JSON.parse(tsbox(['info', '--format', 'json'], { cgroup: leaf }).stdout);
  t.regex(info.Cgroups, /^delegated cgroup v2 subtree \/tsbox-test-rootless/);
  const r = tsbox(['run', '-d', '--name', 'rl2', '--pids-limit', '20', image, 'sleep', '1000'], { cgroup: leaf });
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const cg = join(delegated, 'tsbox', id);
  t.true(existsSync(cg), 'the container has its own cgroup below the delegated one');
  const procs = readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim().split('\n');
  // The command alone: it is pid 1, and its monitor stays outside the container's cgroup.
  t.deepEqual(procs.map((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim()), ['sleep']);
  // Limited where the controller is delegated, else named in the warning: never silently dropped.
  if (existsSync(join(cg, 'pids.max'))) t.is(readFileSync(join(cg, 'pids.max'), 'utf8').trim(), '20');
  else t.regex(r.stderr, /WARNING: rootless: pids limits not applied \(cgroup: pids controller not available in the delegated cgroup/);
  // cgroup v2's freezer works without root: pause and unpause.
  t.is(tsbox(['pause', 'rl2'], { cgroup: leaf }).code, 0);
  t.is(readFileSync(join(cg, 'cgroup.freeze'), 'utf8').trim(), '1');
  t.is(tsbox(['unpause', 'rl2'], { cgroup: leaf }).code, 0);
  const rm = tsbox(['rm', '-f', 'rl2'], { cgroup: leaf });
  t.is(rm.code, 0, rm.stderr);
  t.false(existsSync(cg), 'rm removes the container\'s cgroup');
});

test.serial('--network slirp4netns: user-mode network, a published port reaches the container, all gone after rm', async (t) => {
  // udev makes /dev/net/tun 0666 on a normal system; this machine's device may be root-only.
  const tunMode = statSync('/dev/net/tun').mode & 0o777;
  chmodSync('/dev/net/tun', 0o666);
  t.teardown(() => chmodSync('/dev/net/tun', tunMode));
  mkdirSync(join(work, 'www'), { recursive: true });
  writeFileSync(join(work, 'www', 'index.html'), 'served by a rootless container\n');
  const port = 20000 + (process.pid % 20000);
  const r = tsbox(['run', '-d', '--name', 'rlweb', '--network', 'slirp4netns', '-p', `127.0.0.1:${port}:8080`, '-v', `${join(work, 'www')}:/www:ro`, image, 'httpd', '-f', '-p', '8080', '-h', '/www']);
  t.is(r.code, 0, r.stderr);
  t.is(tsbox(['port', 'rlweb']).stdout, `8080/tcp -> 127.0.0.1:${port}\n`);
  let body = '';
  for (let i = 0; i < 50 && !body; i++) {
    body = await fetch(`http://127.0.0.1:${port}/`).then((res) => res.text()).catch(() => '');
    if (!body) await sleep(100);
  }
  t.is(body, 'served by a rootless container\n');
  const addr = tsbox(['exec', 'rlweb', 'sh', '-c', 'ip -4 addr show tap0; cat /etc/resolv.conf']);
  t.regex(addr.stdout, /inet 10\.0\.2\.100\/24/);
  t.regex(addr.stdout, /nameserver 10\.0\.2\.3/);
  t.is(tsbox(['rm', '-f', 'rlweb']).code, 0);
  await sleep(300);
  const live = spawnSync('ps', ['-u', String(uid), '-o', 'stat=,args='], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() && !l.trim().startsWith('Z'));
  t.deepEqual(live, [], 'slirp4netns and its guard are gone with the container');
});

test.serial('a bridge network needs root: a clear usage error', (t) => {
  const r = tsbox(['run', '--rm', '--network', 'bridge', image, 'true']);
  t.is(r.code, 125);
  t.regex(r.stderr, /^tsbox: --network bridge: bridge networks need root; without root use --network slirp4netns \(with -p\) or none\n$/);
});

test.serial('sandbox without root: the caller keeps its ids, writes to the host filesystem stay private', (t) => {
  const r = tsbox(['sandbox', '--', 'sh', '-c', 'id -u; echo private > /etc/tsbox-rootless-sandbox && cat /etc/tsbox-rootless-sandbox; grep CapEff /proc/self/status']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), [String(uid), 'private', 'CapEff:\t0000000000000000']);
  t.false(existsSync('/etc/tsbox-rootless-sandbox'));
});

test.serial('the Node API without root: run() an image and spawn() a sandboxed command', (t) => {
  const script = join(work, 'api.mjs');
  writeFileSync(
    script,
    `const { run, spawn } = await import(process.argv[2]);
const text = async (c) => { let s = ''; c.stdout.on('data', (d) => (s += d)); const end = new Promise((r) => c.stdout.on('end', r)); const st = await c.exited; await end; return [s, st.code]; };
console.log(JSON.stringify(await text(await run({ image: process.argv[3], cmd: ['sh', '-c', 'id -u; stat -c %u /home/user'] }))));
console.log(JSON.stringify(await text(await spawn('sh', ['-c', 'id -u'], { cwd: '/' }))));
`,
    { mode: 0o644 },
  );
  const index = join(pkgRoot, 'dist', 'index.js');
  const r = outputOf('runuser', ['-u', USER, '--', 'env', '-i', `HOME=${home}`, 'PATH=/usr/bin:/bin', `XDG_RUNTIME_DIR=${runtimeDir}`, process.execPath, script, index, image], { tmp: work, cwd: work });
  t.is(r.code, 0, r.stderr);
  const [ran, spawned] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(ran, ['0\n1000\n', 0]);
  t.deepEqual(spawned, [`${uid}\n`, 0]);
});

test.serial('the OCI runtime without root: spec --rootless, then run (the seam podman and containerd use)', (t) => {
  const bundle = join(work, 'bundle');
  mkdirSync(bundle);
  execFileSync('cp', ['-a', busyboxRootfs(), join(bundle, 'rootfs')]);
  execFileSync('chown', ['-R', `${uid}:${uid}`, bundle]);
  const asUser = (args: string[]) =>
    outputOf('runuser', ['-u', USER, '--', 'env', '-i', `HOME=${home}`, 'PATH=/usr/bin:/bin', `XDG_RUNTIME_DIR=${runtimeDir}`, RUNTIME(), ...args], { tmp: work, cwd: bundle });
  t.is(asUser(['spec', '--rootless']).code, 0);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.args = ['sh', '-c', 'id -u; cat /proc/self/uid_map'];
  spec.process.terminal = false;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const r = asUser(['run', 'rl-oci']);
  t.is(r.code, 0, r.stderr);
  const [id, map] = r.stdout.trim().split('\n');
  t.is(id, '0');
  t.regex(map, new RegExp(`^\\s*0\\s+${uid}\\s+1$`));
  t.notRegex(asUser(['list']).stdout, /rl-oci/, 'run removes what it created');
  // A spec without a user namespace cannot work without root: said plainly, nothing left behind.
  delete spec.linux.uidMappings;
  delete spec.linux.gidMappings;
  spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'user');
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const bad = asUser(['run', 'rl-oci2']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /without root a container needs a user namespace/);
  t.notRegex(asUser(['list']).stdout, /rl-oci2/);
});

test.serial('rootless podman with tsbox-runtime (root of podman\'s user namespace, in the host\'s pid namespace): as with runc', (t) => {
  if (spawnSync('sh', ['-c', 'command -v podman && command -v conmon']).status !== 0) return t.pass('podman is not installed');
  // podman's own places, the user's; its locks in files (test/fixtures/podman-containers.conf).
  const dir = join(work, 'podman');
  mkdirSync(dir);
  chownSync(dir, uid, uid);
  const archive = join(dir, 'busybox.tar');
  dockerArchive(busyboxRootfs(), archive, 'busybox:latest');
  chmodSync(archive, 0o644);
  const vol = join(dir, 'vol');
  mkdirSync(vol);
  chownSync(vol, uid, uid);
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const env = ['env', '-i', `HOME=${home}`, 'PATH=/usr/local/bin:/usr/bin:/bin', `XDG_RUNTIME_DIR=${runtimeDir}`, `CONTAINERS_CONF=${process.env.CONTAINERS_CONF}`, `USER=${USER}`, `TMPDIR=${join(dir, 'tmp')}`];
  const podman = (args: string[], input?: string) => outputOf('runuser', ['-u', USER, '--', ...env, 'podman', ...base, ...args], { tmp: work, cwd: work, input });
  t.teardown(() => {
    podman(['rm', '-a', '-f', '-t', '0']);
    // podman's pause process holds its user namespace between commands.
    const pause = join(dir, 'tmp', 'pause.pid');
    if (existsSync(pause)) spawnSync('kill', ['-KILL', readFileSync(pause, 'utf8').trim()]);
    rmSync(join(runtimeDir, 'tsbox'), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    // Where rootless podman serialises joining its user namespace, whatever its configuration.
    rmSync(`/dev/shm/libpod_rootless_lock_${uid}`, { force: true });
  });
  let r = podman(['load', '-i', archive]);
  t.is(r.code, 0, r.stderr);

  const transcript = (rt: string): string[] => {
    const out: string[] = [];
    const say = (args: string[], input?: string) => {
      const res = podman(['--runtime', rt, ...args], input);
      out.push(`$ ${args.join(' ')}\n${res.code}\n${res.stdout}${res.stderr.split('\n').filter((l) => !/level=(warning|info)/.test(l)).join('\n')}`);
      return res;
    };
    const run = (...args: string[]) => say(['run', '--rm', '--network', 'none', ...args]);
    run('busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map; touch /x && stat -c "%u %g" /x /bin/busybox; cat /proc/1/comm; ps -o comm | grep -vxE "COMMAND|sh|ps|grep|exe" || echo "no process of the host"');
    run('--userns', 'keep-id', 'busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map');
    const by = `/v/by-${rt.includes('tsbox') ? 'tsbox' : 'runc'}`;
    run('-v', `${vol}:/v`, 'busybox', 'sh', '-c', `echo made > ${by}; stat -c "%u %g" ${by}`);
    run('--user', '1000:1000', '--cap-drop', 'all', '--read-only', 'busybox', 'sh', '-c', 'id -u; grep CapEff /proc/self/status; touch /x 2>/dev/null || echo ro; touch /tmp/y && echo tmp-ok; exit 7');
    say(['run', '--rm', '-i', '--network', 'none', 'busybox', 'cat'], 'from stdin\n');
    const a = podman(['--runtime', rt, 'run', '-d', '--network', 'none', 'busybox', 'sleep', '300']).stdout.trim();
    say(['exec', a, 'sh', '-c', 'id -u; cat /proc/1/comm']);
    const d = podman(['--runtime', rt, 'exec', '-d', a, 'sleep', '301']);
    if (d.code !== 0) out.push(`exec -d: ${d.code} ${d.stderr}`);
    // An exec and a container in the first one's pid namespace: its processes, nothing of the host's.
    // The sleeps, and no process but this pipeline's (busybox runs applets as "exe" until they name themselves).
    const procs = 'ps -o comm | grep -cx sleep; ps -o comm | grep -vxE "COMMAND|sleep|sh|ps|grep|exe" || true';
    say(['exec', a, 'sh', '-c', procs]);
    run('--pid', `container:${a}`, 'busybox', 'sh', '-c', `cat /proc/1/comm; ${procs}`);
    const b = podman(['--runtime', rt, 'run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'trap "echo got-usr1; exit 9" USR1; while :; do sleep 0.1; done']).stdout.trim();
    for (let i = 0; i < 50 && podman(['--runtime', rt, 'exec', b, 'true']).code !== 0; i++) spawnSync('sleep', ['0.1']);
    say(['kill', '-s', 'USR1', b]);
    say(['wait', b]);
    say(['logs', b]);
    say(['restart', '-t', '0', a]);
    say(['exec', a, 'cat', '/proc/1/comm']);
    // One at a time: podman removes several in parallel and prints them in the order they went.
    say(['rm', '-f', '-t', '0', a]);
    say(['rm', '-f', '-t', '0', b]);
    return out.map((s) => s.replaceAll(a, 'A').replaceAll(b, 'B'));
  };
  const ref = transcript('runc');
  const ours = transcript(RUNTIME());
  t.deepEqual(ours.map((s) => s.replaceAll('by-tsbox', 'by-RT')), ref.map((s) => s.replaceAll('by-runc', 'by-RT')));
  // What the reference shows, and the host's view of it.
  t.regex(ours[0], new RegExp(`^0\\n\\s+0\\s+${uid}\\s+1\\n\\s+1\\s+${subStart}\\s+65536\\n0 0\\n0 0\\nsh\\nno process of the host\\n`, 'm'));
  for (const by of ['runc', 'tsbox']) t.is(statSync(join(vol, `by-${by}`)).uid, uid, `the file ${by}'s container made is the user's on the host`);
  t.regex(ours.find((s) => s.startsWith('$ run --rm --network none --pid'))!, /\n0\nsleep\n2\n$/);
  t.false(existsSync(join(runtimeDir, 'tsbox')) && readdirSync(join(runtimeDir, 'tsbox')).some((e) => !e.startsWith('.')), 'no container state left');
});

test.serial('rootless buildah with tsbox-runtime: run and a Containerfile\'s RUN steps, as with runc', (t) => {
  if (spawnSync('sh', ['-c', 'command -v buildah']).status !== 0) return t.pass('buildah is not installed');
  const dir = join(work, 'buildah');
  mkdirSync(join(dir, 'ctx'), { recursive: true });
  chownSync(dir, uid, uid);
  const archive = join(dir, 'busybox.tar');
  dockerArchive(busyboxRootfs(), archive, 'busybox:latest');
  chmodSync(archive, 0o644);
  writeFileSync(join(dir, 'ctx', 'Containerfile'), `FROM docker-archive:${archive}\nRUN echo built > /built && id -u\nRUN cat /built /proc/self/uid_map\n`);
  const env = ['env', '-i', `HOME=${home}`, 'PATH=/usr/local/bin:/usr/bin:/bin', `XDG_RUNTIME_DIR=${runtimeDir}`, `USER=${USER}`, `TMPDIR=${join(dir, 'tmp')}`];
  mkdirSync(join(dir, 'tmp'));
  chownSync(join(dir, 'tmp'), uid, uid);
  const buildah = (args: string[]) => outputOf('runuser', ['-u', USER, '--', ...env, 'buildah', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs', ...args], { tmp: work, cwd: work });
  t.teardown(() => {
    buildah(['rm', '-a']);
    rmSync(join(runtimeDir, 'tsbox'), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const transcript = (rt: string): string[] => {
    const out: string[] = [];
    const ctr = buildah(['from', '-q', `docker-archive:${archive}`]).stdout.trim();
    const say = (args: string[]) => {
      const r = buildah(args);
      out.push(`$ ${args.join(' ').replace(ctr, 'C').replace(rt, 'RT')}\n${r.code}\n${r.stdout}${r.stderr}`);
    };
    say(['run', '--runtime', rt, '--isolation', 'oci', '--network', 'none', ctr, '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map; cat /proc/1/comm; echo made > /made']);
    say(['run', '--runtime', rt, '--isolation', 'oci', '--network', 'none', ctr, '--', 'sh', '-c', 'cat /made; exit 3']);
    // The steps' output, not the ids of the layers they made.
    const r = buildah(['bud', '--runtime', rt, '--isolation', 'oci', '--network', 'none', '--layers=false', '-t', `img-${rt.includes('tsbox') ? 'tsbox' : 'runc'}`, join(dir, 'ctx')]);
    const progress = /^(STEP|COMMIT|Getting|Copying|Writing|Storing|-->|Successfully|[0-9a-f]{64}$)/;
    out.push(`bud ${r.code}\n${`${r.stdout}${r.stderr}`.split('\n').filter((l) => !progress.test(l)).join('\n')}`);
    return out;
  };
  const ref = transcript('runc');
  const ours = transcript(RUNTIME());
  t.deepEqual(ours, ref);
  t.regex(ours[0], new RegExp(`\\n0\\n0\\n\\s+0\\s+${uid}\\s+1\\n\\s+1\\s+${subStart}\\s+65536\\nsh\\n$`));
  t.regex(ours[1], /\n3\nmade\nError: while running runtime: exit status 3\n$/);
  t.regex(ours[2], new RegExp(`^bud 0\\n0\\nbuilt\\n\\s+0\\s+${uid}\\s+1\\n`));
});

test.serial('rmi removes layers holding subordinate-owned files', (t) => {
  const r = tsbox(['rmi', image]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readdirSync(join(home, '.local', 'share', 'tsbox', 'images', 'layers')), []);
});

test.serial('nothing was written outside the user\'s home and runtime directory', (t) => {
  // Every file owned by the user or by its subordinate ids, on every filesystem it could write to.
  const found: string[] = [];
  for (const top of ['/', '/tmp', '/var/tmp', '/run', '/dev/shm']) {
    if (!existsSync(top)) continue;
    const r = spawnSync('find', [top, '-xdev', '(', '-path', '/proc', '-o', '-path', '/sys', '-o', '-path', home, '-o', '-path', runtimeDir, '-o', '-path', work, ')', '-prune', '-o', '(', '-uid', String(uid), '-o', '(', '-uid', `+${subStart - 1}`, '-uid', `-${subStart + 65536}`, ')', ')', '-print'], { encoding: 'utf8' });
    found.push(...r.stdout.split('\n').filter((p) => p && (p !== home)));
  }
  t.deepEqual([...new Set(found)], []);
});
