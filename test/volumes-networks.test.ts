// Volumes and networks as docker has them: volume create/ls/inspect/rm/prune, a new volume seeded with
// the image's content (compared with podman's for the same image), VOLUME from the image config, tmpfs
// volumes, --mount forms, hostile names; network connect/disconnect on a running container with traffic
// by alias, and the default bridge's subnet kept off what the host already routes.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chownSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { CLI } from './helpers/bins.js';
import { engineRoot } from './helpers/engine-root.js';
import { havePodman, podmanRef, type PodmanRef } from './helpers/podman-ref.js';

// The default bridge, its lock and leases are private to this file: other files use theirs meanwhile.
const uniq = process.pid.toString(36);
const BRIDGE = `tsbt${uniq}`;
process.env.TSBOX_BRIDGE_NAME = BRIDGE;
process.env.TSBOX_NET_DIR = mkdtempSync(join(tmpdir(), 'tsbox-volnet-net-'));
delete process.env.TSBOX_BRIDGE_SUBNET;
const engine = engineRoot('tsbox-volnet-');
const { root, tsbox } = engine;
let ref: PodmanRef | undefined;

/** The busybox rootfs plus /data as a hostile or careful image would ship it. */
function imageTarball(name: string, extra: (dir: string) => void): string {
  const dir = join(root, `rootfs-${name}`);
  cpSync(busyboxRootfs(), dir, { recursive: true, verbatimSymlinks: true });
  extra(dir);
  const tarball = join(root, `${name}.tar`);
  execFileSync('tar', ['--numeric-owner', '-C', dir, '-cf', tarball, '.']);
  rmSync(dir, { recursive: true, force: true });
  return tarball;
}

const seeded = imageTarball('seeded', (d) => {
  mkdirSync(join(d, 'data/sub'), { recursive: true });
  writeFileSync(join(d, 'data/f'), 'seed content\n');
  chownSync(join(d, 'data/f'), 42, 43);
  chmodSync(join(d, 'data/f'), 0o640);
  chownSync(join(d, 'data/sub'), 7, 8);
  chmodSync(join(d, 'data/sub'), 0o2711);
  symlinkSync('f', join(d, 'data/link'));
  chownSync(join(d, 'data'), 1234, 5678);
  chmodSync(join(d, 'data'), 0o750);
});
// /data is a link to the host's idea of /etc: the seed must come from the image's /etc.
const hostile = imageTarball('hostile', (d) => {
  symlinkSync('/../../../etc', join(d, 'data'));
  writeFileSync(join(d, 'etc/marker'), 'image etc\n');
});

test.before(() => {
  engine.importBusybox();
  for (const [img, tar] of [['seeded', seeded], ['hostile', hostile]]) {
    const r = tsbox(['import', '-c', 'VOLUME /data', tar, img]);
    if (r.code !== 0) throw new Error(r.stderr);
  }
});

const links: string[] = [];
/** A link of the test's own, removed after. */
function link(name: string, ...setup: string[][]): void {
  links.push(name);
  execFileSync('ip', ['link', 'add', name, ...setup[0]]);
  for (const a of setup.slice(1)) execFileSync('ip', a);
}

test.after.always(async (t) => {
  engine.remove();
  await ref?.cleanup();
  for (const l of links) spawnSync('ip', ['link', 'del', l]);
  rmSync(process.env.TSBOX_NET_DIR!, { recursive: true, force: true });
  t.deepEqual(readdirSync('/sys/class/net').filter((n) => n.includes(uniq)), [], 'no link of ours left');
});

const STAT = 'stat -c "%n %u %g %a %F" /data /data/f /data/sub /data/link && cat /data/f';

test.serial('volume create/ls/inspect/rm/prune as docker', (t) => {
  const c = tsbox(['volume', 'create', '--label', 'team=a', `v1${uniq}`]);
  t.is(c.code, 0, c.stderr);
  t.is(c.stdout, `v1${uniq}\n`);
  t.is(tsbox(['volume', 'create', `v2${uniq}`]).code, 0);
  const anon = tsbox(['volume', 'create']).stdout.trim();
  t.regex(anon, /^[0-9a-f]{64}$/);
  const insp = JSON.parse(tsbox(['volume', 'inspect', `v1${uniq}`]).stdout);
  t.deepEqual(Object.keys(insp[0]).sort(), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
  t.is(insp[0].Driver, 'local');
  t.is(insp[0].Scope, 'local');
  t.regex(insp[0].CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.deepEqual(insp[0].Labels, { team: 'a' });
  t.is(insp[0].Mountpoint, join(root, 'volumes', `v1${uniq}`, '_data'));
  t.true(existsSync(insp[0].Mountpoint));
  const ls = tsbox(['volume', 'ls']);
  t.regex(ls.stdout, /^DRIVER {4}VOLUME NAME\n/);
  t.regex(ls.stdout, new RegExp(`\nlocal {5}v1${uniq}\n`));
  t.deepEqual(tsbox(['volume', 'ls', '-q', '--filter', 'label=team=a']).stdout.split('\n').filter(Boolean), [`v1${uniq}`]);
  t.deepEqual(tsbox(['volume', 'ls', '-q', '--filter', `name=v2${uniq}`]).stdout.split('\n').filter(Boolean), [`v2${uniq}`]);
  t.is(tsbox(['volume', 'ls', '-q', '--filter', 'driver=other']).stdout, '');
  t.not(tsbox(['volume', 'ls', '--filter', 'bogus=1']).code, 0);
  // In use by a container (even a stopped one): refused, -f too.
  t.is(tsbox(['run', '--name', `user${uniq}`, '--network', 'none', '-v', `v2${uniq}:/v`, 'busybox', 'true']).code, 0);
  t.deepEqual(tsbox(['volume', 'ls', '-q', '--filter', 'dangling=false']).stdout.split('\n').filter(Boolean), [`v2${uniq}`]);
  const busy = tsbox(['volume', 'rm', `v2${uniq}`]);
  t.is(busy.code, 1);
  t.regex(busy.stderr, /volume is in use - \[[0-9a-f]{64}\]/);
  t.is(tsbox(['volume', 'rm', '-f', `v2${uniq}`]).code, 1);
  t.is(tsbox(['rm', `user${uniq}`]).code, 0);
  // prune asks; no answer is no.
  const asked = tsbox(['volume', 'prune'], 'n\n');
  t.regex(asked.stdout, /WARNING! This will remove anonymous local volumes not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] /);
  t.true(existsSync(join(root, 'volumes', anon)));
  // docker 23: only anonymous volumes unless -a.
  const p = tsbox(['volume', 'prune', '-f']);
  t.is(p.code, 0, p.stderr);
  t.is(p.stdout, `Deleted Volumes:\n${anon}\n\nTotal reclaimed space: 0B\n`);
  t.is(tsbox(['volume', 'inspect', `v1${uniq}`]).code, 0);
  t.regex(tsbox(['volume', 'prune', '-f', '-a', '--filter', 'label=team=a']).stdout, new RegExp(`^Deleted Volumes:\nv1${uniq}\n`));
  t.is(tsbox(['volume', 'rm', `v2${uniq}`]).stdout, `v2${uniq}\n`);
  const none = tsbox(['volume', 'rm', `v2${uniq}`]);
  t.is(none.code, 1);
  t.is(none.stderr, `Error: No such volume: v2${uniq}\n`);
  t.is(tsbox(['volume', 'inspect', 'nonesuch']).code, 1);
});

test.serial('hostile volume names are refused and never reach a path', (t) => {
  for (const name of ['../../etc', '..', 'a/b', '.hidden', '/abs']) {
    const r = tsbox(['volume', 'create', name]);
    t.not(r.code, 0, name);
    t.regex(r.stderr, /includes invalid characters for a local volume name/, name);
  }
  const m = tsbox(['run', '--rm', '--network', 'none', '--mount', 'type=volume,src=../../etc,dst=/x', 'busybox', 'true']);
  t.not(m.code, 0);
  t.regex(m.stderr, /invalid characters for a local volume name/);
  t.is(tsbox(['volume', 'rm', '../../etc']).code, 1);
  t.false(existsSync(join(root, 'etc')));
  // A volume's Mountpoint stays under the root.
  for (const v of JSON.parse(tsbox(['volume', 'inspect', ...tsbox(['volume', 'ls', '-q']).stdout.split('\n').filter(Boolean), 'x']).stdout || '[]')) {
    t.true(v.Mountpoint.startsWith(join(root, 'volumes') + '/'));
  }
});

test.serial('a new volume is seeded with the image content (owner, mode, links), as podman does', async (t) => {
  const forms = [['-v', `seedv${uniq}:/data`], ['-v', '/data'], ['--mount', `type=volume,src=seedm${uniq},dst=/data`], []];
  const ours = forms.map((f) => {
    const r = tsbox(['run', '--rm', '--network', 'none', ...f, 'seeded', 'sh', '-c', STAT]);
    t.is(r.code, 0, r.stderr);
    return r.stdout;
  });
  t.is(ours[0], '/data 1234 5678 750 directory\n/data/f 42 43 640 regular file\n/data/sub 7 8 2711 directory\n/data/link 0 0 777 symbolic link\nseed content\n');
  for (const o of ours) t.is(o, ours[0]);
  // The volume itself holds the copy.
  const mp = JSON.parse(tsbox(['volume', 'inspect', `seedv${uniq}`]).stdout)[0].Mountpoint;
  t.is(readFileSync(join(mp, 'f'), 'utf8'), 'seed content\n');
  // Content is never copied over: a changed volume stays as it is.
  t.is(tsbox(['run', '--rm', '--network', 'none', '-v', `seedv${uniq}:/data`, 'seeded', 'sh', '-c', 'rm /data/f && echo mine > /data/g']).code, 0);
  t.is(tsbox(['run', '--rm', '--network', 'none', '-v', `seedv${uniq}:/data`, 'seeded', 'ls', '/data']).stdout, 'g\nlink\nsub\n');
  if (!havePodman()) return t.log('podman not installed: the reference comparison was skipped');
  ref = podmanRef('volnet');
  const podman = (a: string[]) => spawnSync('podman', [...ref!.base, ...a], { encoding: 'utf8', timeout: 120000 });
  const imp = podman(['import', '--change', 'VOLUME=/data', seeded, 'seeded']);
  t.is(imp.status, 0, imp.stderr);
  for (const [i, f] of [['-v', `seedv${uniq}:/data`], ['-v', '/data'], []].entries()) {
    const r = podman(['run', '--rm', ...ref.runFlags, ...f, 'seeded', 'sh', '-c', STAT]);
    t.is(r.status, 0, r.stderr);
    t.is(ours[[0, 1, 3][i]], r.stdout, `podman ${f.join(' ')}`);
  }
  t.log('podman (runc) gave the same owners, modes, links and content for -v NAME:/data, -v /data and the image VOLUME');
});

test.serial("VOLUME from the image config: an anonymous volume, removed by rm -v; a link in the image stays in the image's tree", (t) => {
  const r = tsbox(['run', '-d', '--name', `anon${uniq}`, '--network', 'none', 'seeded', 'sleep', '60']);
  t.is(r.code, 0, r.stderr);
  const mounts = JSON.parse(tsbox(['inspect', `anon${uniq}`]).stdout)[0].Mounts;
  const m = mounts.find((x: { Destination: string }) => x.Destination === '/data');
  t.is(m?.Type, 'volume');
  t.regex(m.Name, /^[0-9a-f]{64}$/);
  const v = JSON.parse(tsbox(['volume', 'inspect', m.Name]).stdout)[0];
  t.true('com.docker.volume.anonymous' in v.Labels);
  t.is(readFileSync(join(v.Mountpoint, 'f'), 'utf8'), 'seed content\n');
  // The named one beside it survives rm -v.
  t.is(tsbox(['run', '--name', `anon2${uniq}`, '--network', 'none', '-v', `keep${uniq}:/k`, '-v', '/other', 'busybox', 'true']).code, 0);
  const other = JSON.parse(tsbox(['inspect', `anon2${uniq}`]).stdout)[0].Mounts.find((x: { Destination: string }) => x.Destination === '/other').Name;
  t.is(tsbox(['rm', '-f', '-v', `anon${uniq}`]).code, 0);
  t.is(tsbox(['rm', '-v', `anon2${uniq}`]).code, 0);
  t.false(existsSync(join(root, 'volumes', m.Name)));
  t.false(existsSync(join(root, 'volumes', other)));
  t.true(existsSync(join(root, 'volumes', `keep${uniq}`)));
  // rm without -v keeps them.
  t.is(tsbox(['run', '--name', `anon3${uniq}`, '--network', 'none', 'seeded', 'true']).code, 0);
  const kept = JSON.parse(tsbox(['inspect', `anon3${uniq}`]).stdout)[0].Mounts[0].Name;
  t.is(tsbox(['rm', `anon3${uniq}`]).code, 0);
  t.true(existsSync(join(root, 'volumes', kept)));
  // run --rm: the anonymous volumes go with the container (the named one stays).
  const before = readdirSync(join(root, 'volumes')).length;
  t.is(tsbox(['run', '--rm', '--network', 'none', '-v', '/x', '-v', `keep${uniq}:/k`, 'seeded', 'true']).code, 0);
  t.is(readdirSync(join(root, 'volumes')).length, before);
  // /data -> /../../../etc in the image: the seed is the image's /etc, never the host's.
  const h = tsbox(['run', '--rm', '--network', 'none', '-v', `hostile${uniq}:/data`, 'hostile', 'cat', '/data/marker']);
  t.is(h.code, 0, h.stderr);
  const hv = JSON.parse(tsbox(['volume', 'inspect', `hostile${uniq}`]).stdout)[0].Mountpoint;
  t.is(readFileSync(join(hv, 'marker'), 'utf8'), 'image etc\n');
  t.false(existsSync(join(hv, 'shadow')) || readFileSync(join(hv, 'passwd'), 'utf8') === readFileSync('/etc/passwd', 'utf8'));
});

test.serial('tmpfs volumes, --mount forms, -v creating a missing host directory', (t) => {
  t.is(tsbox(['volume', 'create', '--driver', 'local', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=64m', `tmp${uniq}`]).code, 0);
  const insp = JSON.parse(tsbox(['volume', 'inspect', `tmp${uniq}`]).stdout)[0];
  t.deepEqual(insp.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=64m' });
  const df = tsbox(['run', '--rm', '--network', 'none', '-v', `tmp${uniq}:/t`, 'busybox', 'sh', '-c', 'grep " /t " /proc/mounts']);
  t.is(df.code, 0, df.stderr);
  t.regex(df.stdout, /^tmpfs \/t tmpfs rw,.*size=65536k/);
  t.not(tsbox(['volume', 'create', '--opt', 'type=nfs', `bad${uniq}`]).code, 0);
  // --mount with docker's keys.
  const host = join(root, 'bindsrc');
  mkdirSync(host);
  writeFileSync(join(host, 'x'), 'x\n');
  const r = tsbox([
    'run', '--rm', '--network', 'none',
    '--mount', `type=bind,source=${host},target=/b,readonly`,
    '--mount', `type=bind,src=${host},dst=/b2,bind-propagation=rslave`,
    '--mount', 'type=tmpfs,destination=/tm,tmpfs-size=1m,tmpfs-mode=1770',
    '--mount', `type=volume,src=mv${uniq},dst=/mv,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m`,
    '--mount', `type=volume,source=ro${uniq},target=/ro,ro=true`,
    'busybox', 'sh', '-c', 'cat /b/x; touch /b/y 2>/dev/null && echo wrote; stat -c %a /tm; grep -E " /(tm|mv|ro|b2) " /proc/mounts | cut -d" " -f2-4; touch /ro/z 2>/dev/null || echo ro-refused',
  ]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.is(lines[0], 'x');
  t.false(r.stdout.includes('wrote'));
  t.is(lines[1], '1770');
  t.regex(r.stdout, /\/tm tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
  t.regex(r.stdout, /\/mv tmpfs rw,.*size=2048k/);
  t.regex(r.stdout, /\/ro \S+ ro,/);
  t.regex(r.stdout, /ro-refused/);
  t.deepEqual(JSON.parse(tsbox(['volume', 'inspect', `mv${uniq}`]).stdout)[0].Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=2m' });
  const missing = tsbox(['run', '--rm', '--network', 'none', '--mount', `type=bind,src=${join(root, 'nope')},dst=/n`, 'busybox', 'true']);
  t.is(missing.code, 125);
  t.regex(missing.stderr, /bind source path does not exist/);
  t.regex(tsbox(['run', '--rm', '--network', 'none', '--mount', 'type=tmpfs,dst=/x,bogus=1', 'busybox', 'true']).stderr, /unexpected key 'bogus'/);
  t.is(tsbox(['run', '--rm', '--network', 'none', '--mount', `type=bind,src=${host},dst=/x,bind-propagation=bogus`, 'busybox', 'true']).code, 125);
  t.is(tsbox(['run', '--rm', '--network', 'none', '--mount', 'type=tmpfs,dst=/x,tmpfs-mode=999', 'busybox', 'true']).code, 125);
  // -v /missing:/x makes the host directory, as docker does.
  const made = join(root, 'made', 'deep');
  const v = tsbox(['run', '--rm', '--network', 'none', '-v', `${made}:/m`, 'busybox', 'sh', '-c', 'echo hi > /m/f']);
  t.is(v.code, 0, v.stderr);
  t.is(readFileSync(join(made, 'f'), 'utf8'), 'hi\n');
});

// ---------------------------------------------------------------------------------------------------
// Networks

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inNet = (cidr: string, ip: string) => {
  const [base, bits] = cidr.split('/');
  const n = (a: string) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  return Math.floor(n(ip) / 2 ** (32 - Number(bits))) === Math.floor(n(base) / 2 ** (32 - Number(bits)));
};

test.serial("the default bridge takes a subnet of docker's pools nothing on the host uses; --subnet overlaps are docker's error", (t) => {
  // 172.17.0.0/16 on a dummy link of the test's own: docker's first pool is taken.
  const dummy = `tsbd${uniq}`;
  // (a veth pair: this kernel has no dummy links; both ends up, so the route is a live one)
  link(dummy, ['type', 'veth', 'peer', 'name', `${dummy}p`], ['addr', 'add', '172.17.0.1/16', 'dev', dummy], ['link', 'set', dummy, 'up'], ['link', 'set', `${dummy}p`, 'up']);
  // A container stays on the bridge while the checks run: docker's pools are every engine's on the host
  // (other test files' roots, dockerds), and a bridge with nobody on it may come back on another subnet.
  const keep = `keep${uniq}`;
  const r = tsbox(['run', '-d', '--name', keep, 'busybox', 'sleep', '300']);
  t.is(r.code, 0, r.stderr);
  t.teardown(() => tsbox(['rm', '-f', keep]));
  const [addr, route] = tsbox(['exec', keep, 'sh', '-c', 'ip -o -4 addr show eth0 | awk \'{print $4}\'; ip route | grep default']).stdout.trim().split('\n');
  const subnet = JSON.parse(tsbox(['network', 'inspect', 'bridge']).stdout)[0].IPAM.Config[0].Subnet as string;
  t.log(`default bridge subnet with 172.17.0.0/16 taken: ${subnet}`);
  t.false(inNet('172.17.0.0/16', addr.split('/')[0]), addr);
  t.true(inNet(subnet, addr.split('/')[0]), `${addr} in ${subnet}`);
  t.regex(subnet, /^(172\.(1[89]|2\d|3[01])\.0\.0\/16|192\.168\.\d+\.0\/20)$/);
  t.is(route.trim(), `default via ${subnet.replace(/0\/\d+$/, '1')} dev eth0`);
  // --subnet overlapping the host's or the default network's: docker's words, exit 1.
  for (const s of ['172.17.8.0/24', subnet.replace(/\.0\.0\/16$|\.0\/20$/, (m) => (m === '.0.0/16' ? '.9.0/24' : '.0/24'))]) {
    const o = tsbox(['network', 'create', '--subnet', s, `ov${uniq}`]);
    t.is(o.code, 1, s);
    t.regex(o.stderr, /Pool overlaps with other one on this address space/, s);
  }
  t.is(tsbox(['network', 'create', '--subnet', '10.213.0.0/24', `n1${uniq}`]).code, 0);
  t.regex(tsbox(['network', 'create', '--subnet', '10.213.0.128/25', `n2${uniq}`]).stderr, /Pool overlaps/);
  t.is(tsbox(['network', 'rm', `n1${uniq}`]).code, 0);
});

test.serial('with address pools of its own (dockerd\'s --default-address-pool) the default bridge keeps its subnet once the host frees the one it passed over', (t) => {
  // Docker's pools are shared with every engine on the host (other test files' roots, dockerd): which one
  // is free moves under them. A pool nothing else uses shows the choice and its keeping as they are.
  const env = { ...process.env, TSBOX_NET_DIR: mkdtempSync(join(root, 'netdir-')), TSBOX_DEFAULT_ADDRESS_POOLS: 'base=10.218.0.0/16,size=24' };
  const cli = (argv: string[]) => spawnSync(process.execPath, [CLI, '--root', root, ...argv], { env, encoding: 'utf8' });
  const dummy = `tsbe${uniq}`;
  link(dummy, ['type', 'veth', 'peer', 'name', `${dummy}p`], ['addr', 'add', '10.218.0.1/24', 'dev', dummy], ['link', 'set', dummy, 'up'], ['link', 'set', `${dummy}p`, 'up']);
  const eth0 = ['run', '--rm', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0 | awk \'{print $4}\''];
  const r = cli(eth0);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout.trim(), /^10\.218\.1\.\d+\/24$/);
  t.is(JSON.parse(cli(['network', 'inspect', 'bridge']).stdout)[0].IPAM.Config[0].Subnet, '10.218.1.0/24');
  // The bridge is gone with its last container, and nothing else on the host routes the subnet.
  const routes = () => execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('10.218.'));
  t.deepEqual(routes().map((l) => l.split(' ').slice(0, 3).join(' ')), [`10.218.0.0/24 dev ${dummy}`]);
  // network create takes the pools' next free subnet.
  const n = cli(['network', 'create', `np${uniq}`]);
  t.is(n.status, 0, n.stderr);
  t.is(JSON.parse(cli(['network', 'inspect', `np${uniq}`]).stdout)[0].IPAM.Config[0].Subnet, '10.218.2.0/24');
  t.is(cli(['network', 'rm', `np${uniq}`]).status, 0);
  // Stable: with 10.218.0.0/24 free again, the choice stays.
  execFileSync('ip', ['link', 'del', dummy]);
  const again = cli(eth0);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout.trim(), /^10\.218\.1\.\d+\/24$/);
  // A pool that does not parse: one line, docker's exit code for a daemon-side error, nothing kept.
  const badDir = mkdtempSync(join(root, 'netdir-'));
  const before = cli(['ps', '-aq']).stdout;
  const bad = spawnSync(process.execPath, [CLI, '--root', root, ...eth0], { env: { ...env, TSBOX_NET_DIR: badDir, TSBOX_DEFAULT_ADDRESS_POOLS: 'base=10.218.0.0/16,size=12' }, encoding: 'utf8' });
  t.is(bad.status, 125, bad.stderr);
  t.regex(bad.stderr, /^[^\n]*TSBOX_DEFAULT_ADDRESS_POOLS: "base=10\.218\.0\.0\/16,size=12" is not base=CIDR,size=N[^\n]*\n$/);
  t.deepEqual(readdirSync(badDir).filter((f) => f !== 'lock'), []);
  t.is(cli(['ps', '-aq']).stdout, before);
});

test.serial('an existing bridge keeps its subnet (migration from 10.88-style defaults)', (t) => {
  const old = `tsbm${uniq}`;
  link(old, ['type', 'bridge'], ['addr', 'add', '10.87.0.1/16', 'dev', old], ['link', 'set', old, 'up']);
  const env = { ...process.env, TSBOX_BRIDGE_NAME: old, TSBOX_NET_DIR: mkdtempSync(join(root, 'netdir-')) };
  const r = spawnSync(process.execPath, [CLI, '--root', root, 'run', '--rm', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0 | awk \'{print $4}\''], { env, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout.trim(), /^10\.87\.0\.\d+\/16$/, r.stderr);
});

test.serial('network connect/disconnect on a running container: a new veth, traffic by alias, hosts updated', async (t) => {
  const a = `na${uniq}`;
  const b = `nb${uniq}`;
  t.is(tsbox(['network', 'create', '--label', `owner=${uniq}`, a]).code, 0);
  t.is(tsbox(['network', 'create', b]).code, 0);
  const www = join(root, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'by alias\n');
  const web = tsbox(['run', '-d', '--name', `web${uniq}`, '--network', a, '--network-alias', 'webalias', '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
  t.is(web.code, 0, web.stderr);
  const cli = tsbox(['run', '-d', '--name', `cli${uniq}`, '--network', b, 'busybox', 'sleep', '120']);
  t.is(cli.code, 0, cli.stderr);
  const ex = (name: string, cmd: string) => tsbox(['exec', name, 'sh', '-c', cmd]);
  // busybox-static has no NSS: the name is looked up in /etc/hosts by hand, which is what tsbox keeps.
  const fetchAlias = `ip=$(awk '$2 == "webalias" {print $1}' /etc/hosts); [ -n "$ip" ] && ping -c1 -W2 $ip >/dev/null && timeout 5 wget -qO- http://$ip/`;
  t.not(ex(`cli${uniq}`, fetchAlias).stdout, 'by alias\n', 'not reachable before connect');
  const c = tsbox(['network', 'connect', '--alias', 'cl2', a, `cli${uniq}`]);
  t.is(c.code, 0, c.stderr);
  t.is(ex(`cli${uniq}`, 'ip -o link show | grep -c "eth[01]@"').stdout.trim(), '2');
  let got = '';
  for (let i = 0; i < 20 && got !== 'by alias\n'; i++) {
    got = ex(`cli${uniq}`, fetchAlias).stdout;
    if (got !== 'by alias\n') await sleep(100);
  }
  t.is(got, 'by alias\n', JSON.stringify(ex(`cli${uniq}`, `cat /etc/hosts; ${fetchAlias}`)));
  t.regex(ex(`web${uniq}`, 'cat /etc/hosts').stdout, new RegExp(`\tcli${uniq}\n[^]*\tcl2\n`));
  // inspect: both networks, docker's MAC; network inspect: both containers.
  const nets = JSON.parse(tsbox(['inspect', `cli${uniq}`]).stdout)[0].NetworkSettings.Networks;
  t.deepEqual(Object.keys(nets).sort(), [a, b].sort());
  t.regex(nets[a].MacAddress, /^02:42(:[0-9a-f]{2}){4}$/);
  t.deepEqual(nets[a].Aliases, [nets[a].Aliases[0], 'cl2']);
  const ni = JSON.parse(tsbox(['network', 'inspect', a]).stdout)[0];
  t.deepEqual(Object.keys(ni).sort(), ['Attachable', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Created', 'Driver', 'EnableIPv6', 'IPAM', 'Id', 'Ingress', 'Internal', 'Labels', 'Name', 'Options', 'Scope'].sort());
  t.regex(ni.Id, /^[0-9a-f]{64}$/);
  t.deepEqual(ni.Labels, { owner: uniq });
  t.truthy(ni.IPAM.Config[0].Gateway);
  const members = Object.values(ni.Containers as Record<string, { Name: string; IPv4Address: string; MacAddress: string }>);
  t.deepEqual(members.map((m) => m.Name).sort(), [`cli${uniq}`, `web${uniq}`]);
  t.true(members.every((m) => /\/\d+$/.test(m.IPv4Address) && m.MacAddress.startsWith('02:42:')));
  t.is(tsbox(['network', 'connect', a, `cli${uniq}`]).code, 1, 'already connected');
  // The connection is the container's: a restart plugs it again.
  t.is(tsbox(['restart', '-t', '0', `cli${uniq}`]).code, 0);
  t.is(ex(`cli${uniq}`, 'ip -o link show | grep -c "eth[01]@"').stdout.trim(), '2');
  t.regex(ex(`cli${uniq}`, 'cat /etc/hosts').stdout, /\twebalias\n/);
  t.not(tsbox(['network', 'connect', '--alias', 'x 1.2.3.4', a, `web${uniq}`]).code, 0, 'an alias that would add a hosts entry');
  // ls in docker's columns, filters.
  t.regex(tsbox(['network', 'ls']).stdout, new RegExp(`^NETWORK ID +NAME +DRIVER +SCOPE\n[^]*\n[0-9a-f]{12} +${a} +bridge +local\n`));
  t.deepEqual(tsbox(['network', 'ls', '-q', '--filter', `label=owner=${uniq}`]).stdout.trim(), ni.Id.slice(0, 12));
  // rm while in use: refused.
  const rm = tsbox(['network', 'rm', a]);
  t.is(rm.code, 1);
  t.regex(rm.stderr, /has active endpoints/);
  // disconnect: the veth goes, the peers forget it, no more traffic.
  t.is(tsbox(['network', 'disconnect', a, `cli${uniq}`]).code, 0);
  t.is(ex(`cli${uniq}`, 'ip -o link show | grep -c "eth[01]@"').stdout.trim(), '1');
  t.notRegex(ex(`web${uniq}`, 'cat /etc/hosts').stdout, new RegExp(`cli${uniq}|cl2`));
  t.deepEqual(Object.keys(JSON.parse(tsbox(['inspect', `cli${uniq}`]).stdout)[0].NetworkSettings.Networks), [b]);
  t.is(tsbox(['network', 'disconnect', a, `cli${uniq}`]).code, 1);
  // --ip on a user network; not on the default bridge; one address once.
  const fixed = tsbox(['run', '-d', '--name', `fix${uniq}`, '--network', b, '--ip', JSON.parse(tsbox(['network', 'inspect', b]).stdout)[0].IPAM.Config[0].Gateway.replace(/\.1$/, '.77'), 'busybox', 'sleep', '60']);
  t.is(fixed.code, 0, fixed.stderr);
  const fixedIp = JSON.parse(tsbox(['inspect', `fix${uniq}`]).stdout)[0].NetworkSettings.Networks[b].IPAddress;
  t.regex(fixedIp, /\.77$/);
  t.is(tsbox(['run', '--rm', '--ip', '172.30.0.9', 'busybox', 'true']).code, 125);
  t.not(tsbox(['run', '--rm', '--network', b, '--ip', fixedIp, 'busybox', 'true']).code, 0, 'an address in use');
  for (const n of [`web${uniq}`, `cli${uniq}`, `fix${uniq}`]) t.is(tsbox(['rm', '-f', n]).code, 0);
  t.deepEqual(readdirSync('/sys/class/net').filter((l) => l.startsWith('tsb') && !links.includes(l) && l !== BRIDGE).filter((l) => {
    try {
      return readdirSync(`/sys/class/net/${l}/brif`).length >= 0 && JSON.parse(tsbox(['network', 'inspect', a, b]).stdout).some((x: { Options: Record<string, string> }) => x.Options['com.docker.network.bridge.name'] === l);
    } catch {
      return false;
    }
  }), [], 'the networks\' bridges went with their last container');
  // prune asks, then removes unused custom networks.
  t.is(tsbox(['network', 'prune'], 'n\n').code, 0);
  t.is(tsbox(['network', 'inspect', a]).code, 0);
  const p = tsbox(['network', 'prune', '-f']);
  t.regex(p.stdout, new RegExp(`^Deleted Networks:\n(.*\n)*${a}\n`));
  t.is(tsbox(['network', 'inspect', b]).code, 1);
});

test.serial('the Engine: volumes and networks typed, docker errors as EngineError codes', async (t) => {
  const { Engine } = await import('../ts/engine/engine.js');
  const e = new Engine({ root });
  const v = e.volumes.create({ name: `lib${uniq}`, labels: { k: 'v' } });
  t.is(v.Mountpoint, join(root, 'volumes', `lib${uniq}`, '_data'));
  t.deepEqual(e.volumes.list({ filters: { label: 'k=v' } }).map((x) => x.Name), [`lib${uniq}`]);
  t.throws(() => e.volumes.list({ filters: { bogus: 'x' } as never }), { code: 'ERR_INVALID_FILTER' });
  t.throws(() => e.volumes.inspect('nonesuch'), { code: 'ERR_NO_SUCH_VOLUME' });
  t.throws(() => e.volumes.create({ name: '../x' }), { code: 'ERR_USAGE' });
  e.volumes.remove(`lib${uniq}`);
  t.deepEqual(e.networks.list({ filters: { type: 'builtin' } }).map((n) => n.Name), ['bridge', 'host', 'none']);
  t.throws(() => e.networks.inspect('nonesuch'), { code: 'ERR_NO_SUCH_NETWORK' });
  t.throws(() => e.networks.remove('bridge'), { code: 'ERR_FORBIDDEN' });
  const n = e.networks.create({ name: `lib${uniq}`, labels: { k: 'v' } });
  t.deepEqual(e.networks.list({ filters: { label: 'k=v' } }).map((x) => x.Id), [n.Id]);
  t.deepEqual(e.networks.prune({ filters: { label: 'k=v' } }), { NetworksDeleted: [`lib${uniq}`] });
});
