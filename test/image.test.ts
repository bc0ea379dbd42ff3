// Pulling real images from a real registry on 127.0.0.1, and running containers from them.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { busyboxRootfs, STATE_ROOT } from './helpers/bundle.js';
import { Layout, push, rawTar, startRegistry, type Registry } from './helpers/registry.js';
import { startRegistryProxy } from './helpers/registry-proxy.js';
import { pull } from '../ts/images/pull.js';
import { Store } from '../ts/images/store.js';
import { verifyImages } from '../ts/images/verify.js';
import { prepareSnapshot } from '../ts/images/snapshot.js';
import { extractLayer } from '../ts/images/extract.js';
import { parseReference, formatReference } from '../ts/images/reference.js';
import { runContainer } from '../ts/runtime/api.js';
import { defaultSpec } from '../ts/runtime/default-spec.js';
import { collect } from './helpers/run.js';
import { CLI } from './helpers/bins.js';

let reg: Registry;
let authReg: Registry;
let tokenReg: Registry;
let anonTokenReg: Registry;
const work = mkdtempSync(join(tmpdir(), 'tsbox-images-'));
const layout = join(work, 'layout');

test.before(async () => {
  reg = await startRegistry();
  authReg = await startRegistry({ user: 'alice', password: 's3cret' });
  tokenReg = await startRegistry({ token: true, user: 'bob', password: 'tok3n' });
  anonTokenReg = await startRegistry({ token: true });
  const l = new Layout(layout);
  const base = busyboxRootfs();
  l.image([base], { tag: 'oci' });
  l.image([base], { tag: 'zstd', compression: 'zstd' });
  // Layer 2 whites out a file and makes /opq opaque.
  const l1 = join(work, 'l1');
  const l2 = join(work, 'l2');
  for (const d of [join(l1, 'etc'), join(l1, 'opq'), join(l2, 'etc'), join(l2, 'opq')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(l1, 'etc', 'removed'), 'gone soon');
  writeFileSync(join(l1, 'etc', 'kept'), 'still here');
  writeFileSync(join(l1, 'opq', 'a'), 'hidden by opaque');
  writeFileSync(join(l2, 'etc', '.wh.removed'), '');
  writeFileSync(join(l2, 'opq', '.wh..wh..opq'), '');
  writeFileSync(join(l2, 'opq', 'b'), 'new');
  l.image([base, l1, l2], { tag: 'whiteout' });
  const amd = l.image([base], { arch: 'amd64', register: false });
  const arm = l.image([base, l1], { arch: 'arm64', register: false });
  l.index([{ m: amd, arch: 'amd64' }, { m: arm, arch: 'arm64' }], 'multi');
  writeFileSync(join(work, 'evil.tar'), rawTar([{ name: 'ok', data: 'fine' }, { name: '../evil', data: 'escaped' }]));
  writeFileSync(join(work, 'evil-link.tar'), rawTar([{ name: 'x', type: '2', linkname: join(work, 'canary') }, { name: 'x/pwned', data: 'escaped' }]));
  l.image([join(work, 'evil.tar')], { tag: 'evil' });
  l.image([join(work, 'evil-link.tar')], { tag: 'evil-link' });
  l.write();
  mkdirSync(join(work, 'canary'));
  await push(layout, 'oci', `${reg.addr}/busybox:oci`);
  await push(layout, 'oci', `${reg.addr}/busybox:schema2`, { format: 'v2s2' });
  await push(layout, 'whiteout', `${reg.addr}/busybox:whiteout`);
  await push(layout, 'zstd', `${reg.addr}/busybox:zstd`);
  await push(layout, 'multi', `${reg.addr}/busybox:multi`, { all: true });
  await push(layout, 'evil', `${reg.addr}/evil:dots`);
  await push(layout, 'evil-link', `${reg.addr}/evil:link`);
  await push(layout, 'oci', `${authReg.addr}/private/busybox:latest`, { creds: 'alice:s3cret' });
  await push(layout, 'oci', `${tokenReg.addr}/tok/busybox:latest`, { creds: 'bob:tok3n' });
  await push(layout, 'oci', `${anonTokenReg.addr}/pub/busybox:latest`);
});

test.after.always(async () => {
  await reg?.stop();
  await authReg?.stop();
  await tokenReg?.stop();
  await anonTokenReg?.stop();
  rmSync(work, { recursive: true, force: true });
});

function newRoot(): string {
  return mkdtempSync(join(work, 'root-'));
}

async function runIn(rootfs: string, args: string[]) {
  const spec = defaultSpec({ args, rootfs });
  spec.process!.terminal = false;
  spec.root!.readonly = false;
  delete spec.linux!.resources;
  const c = await runContainer({ spec, root: STATE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return collect(c);
}

test('references follow Docker Hub rules', (t) => {
  t.is(formatReference(parseReference('alpine')), 'docker.io/library/alpine:latest');
  t.is(formatReference(parseReference('user/app:1.2')), 'docker.io/user/app:1.2');
  t.is(formatReference(parseReference('127.0.0.1:5000/x/y')), '127.0.0.1:5000/x/y:latest');
  t.is(parseReference(`busybox@sha256:${'a'.repeat(64)}`).digest, `sha256:${'a'.repeat(64)}`);
  t.throws(() => parseReference('UPPER/case'), { message: /bad repository name/ });
});

for (const tag of ['oci', 'schema2', 'zstd']) {
  test(`pull a ${tag} manifest and run a container from it`, async (t) => {
    const root = newRoot();
    const rec = await pull(`${reg.addr}/busybox:${tag}`, { root });
    t.is(rec.diffIds.length, 1);
    const snap = prepareSnapshot(root, rec, `c-${tag}`);
    t.teardown(() => snap.remove());
    const r = await runIn(snap.rootfs, ['sh', '-c', 'echo hi from the image; touch /newfile && echo written']);
    t.is(r.stdout, 'hi from the image\nwritten\n', r.stderr);
    // The write went to the container's upper layer, not into the shared image layer.
    t.false(existsSync(join(new Store(root).layerPath(rec.diffIds[0]), 'newfile')));
  });
}

test('a multi-arch index: this machine platform by default, --platform picks another', async (t) => {
  const root = newRoot();
  const amd = await pull(`${reg.addr}/busybox:multi`, { root });
  const arm = await pull(`${reg.addr}/busybox:multi`, { root, platform: 'linux/arm64' });
  const store = new Store(root);
  t.is(JSON.parse(store.readBlob(amd.config).toString()).architecture, 'amd64');
  t.is(JSON.parse(store.readBlob(arm.config).toString()).architecture, 'arm64');
  const snap = prepareSnapshot(root, amd, 'c-multi');
  t.teardown(() => snap.remove());
  t.is((await runIn(snap.rootfs, ['echo', 'multi ok'])).stdout, 'multi ok\n');
  // The same image pinned by the digest of its platform manifest.
  const pinned = await pull(`${reg.addr}/busybox@${amd.manifest}`, { root: newRoot() });
  t.is(pinned.config, amd.config);
  await t.throwsAsync(pull(`${reg.addr}/busybox:multi`, { root, platform: 'linux/s390x' }), { message: /no linux\/s390x image in the index \(it has linux\/amd64, linux\/arm64\)/ });
});

test('whiteouts and opaque directories hide lower-layer files', async (t) => {
  const root = newRoot();
  const rec = await pull(`${reg.addr}/busybox:whiteout`, { root });
  t.is(rec.diffIds.length, 3);
  const snap = prepareSnapshot(root, rec, 'c-wh');
  t.teardown(() => snap.remove());
  t.false(existsSync(join(snap.rootfs, 'etc', 'removed')));
  t.is(readFileSync(join(snap.rootfs, 'etc', 'kept'), 'utf8'), 'still here');
  t.deepEqual(readdirSync(join(snap.rootfs, 'opq')), ['b']);
  const r = await runIn(snap.rootfs, ['sh', '-c', 'ls /etc; ls /opq']);
  // busybox's etc (group, passwd) from layer 1, kept from layer 2, removed gone; /opq holds only b.
  t.is(r.stdout, 'group\nkept\npasswd\nb\n', r.stderr);
});

test('basic auth: refused without credentials, pulled with them', async (t) => {
  const root = newRoot();
  await t.throwsAsync(pull(`${authReg.addr}/private/busybox`, { root }), { message: /authentication required/ });
  const rec = await pull(`${authReg.addr}/private/busybox`, { root, credentials: { username: 'alice', password: 's3cret' } });
  t.is(rec.diffIds.length, 1);
  const snap = prepareSnapshot(root, rec, 'c-basic');
  t.teardown(() => snap.remove());
  t.is((await runIn(snap.rootfs, ['echo', 'basic ok'])).stdout, 'basic ok\n');
  await t.throwsAsync(pull(`${authReg.addr}/private/busybox`, { root: newRoot(), credentials: { username: 'alice', password: 'wrong' } }), { message: /401/ });
});

test('bearer tokens from the WWW-Authenticate realm: refused without credentials, pulled with them', async (t) => {
  const root = newRoot();
  await t.throwsAsync(pull(`${tokenReg.addr}/tok/busybox`, { root }), { message: /token http:\/\/127\.0\.0\.1:\d+\/token: 401/ });
  const rec = await pull(`${tokenReg.addr}/tok/busybox`, { root, credentials: { username: 'bob', password: 'tok3n' } });
  t.is(rec.diffIds.length, 1);
  // Anonymous tokens, where the token server hands them to anyone.
  const anon = await pull(`${anonTokenReg.addr}/pub/busybox`, { root });
  for (const [i, r] of [rec, anon].entries()) {
    const snap = prepareSnapshot(root, r, `c-tok-${i}`);
    t.teardown(() => snap.remove());
    t.is((await runIn(snap.rootfs, ['echo', 'token ok'])).stdout, 'token ok\n');
  }
});

test('hostile layers are refused and the host is untouched', async (t) => {
  const root = newRoot();
  await t.throwsAsync(pull(`${reg.addr}/evil:dots`, { root }), { message: /entry "\.\.\/evil" escapes the layer root/ });
  await t.throwsAsync(pull(`${reg.addr}/evil:link`, { root }), { message: /would be written through the symlink "x"/ });
  t.deepEqual(readdirSync(join(work, 'canary')), []);
  t.false(existsSync(join(root, 'images', 'evil')));
  const store = new Store(root);
  t.deepEqual(store.images(), []);
  t.deepEqual(readdirSync(join(store.dir, 'layers')), []);
  t.deepEqual(readdirSync(join(store.dir, 'tmp')), []);
});

test('extraction: hardlinks inside the layer, and no hardlink or path out of it', async (t) => {
  const dest = mkdtempSync(join(work, 'x-'));
  const tar = rawTar([{ name: 'h', type: '0', data: 'same' }, { name: 'd/', type: '5' }, { name: 'd/link', type: '1', linkname: 'h' }]);
  await extractLayer(Readable.from([tar]), dest);
  t.is(statSync(join(dest, 'h')).ino, statSync(join(dest, 'd', 'link')).ino);
  await t.throwsAsync(extractLayer(Readable.from([rawTar([{ name: 'l', type: '1', linkname: '../../etc/passwd' }])]), mkdtempSync(join(work, 'z-'))), { message: /escapes the layer root/ });
  await t.throwsAsync(extractLayer(Readable.from([rawTar([{ name: 'l', type: '1', linkname: '/etc/passwd' }])]), mkdtempSync(join(work, 'w-'))), { message: /not in this layer/ });
  const bad = Buffer.from(rawTar([{ name: 'a/../../b', data: 'x' }]));
  await t.throwsAsync(extractLayer(Readable.from([bad]), mkdtempSync(join(work, 'y-'))), { message: /escapes the layer root/ });
});

// Serial: it corrupts a blob the other tests' images share, so it must not overlap them.
test.serial('a corrupted blob is refused and nothing is kept', async (t) => {
  const root = newRoot();
  // Pull once to learn the layer digest, then corrupt that blob inside the registry's own storage.
  const first = newRoot();
  const ok = await pull(`${reg.addr}/busybox:oci`, { root: first });
  const manifest = JSON.parse(new Store(first).readBlob(ok.manifest).toString());
  const layerDigest: string = manifest.layers[0].digest;
  const file = join(reg.storage, 'docker/registry/v2/blobs/sha256', layerDigest.slice(7, 9), layerDigest.slice(7), 'data');
  const original = readFileSync(file);
  t.teardown(() => writeFileSync(file, original));
  const bad = Buffer.from(original);
  bad[bad.length >> 1] ^= 0xff;
  writeFileSync(file, bad);
  await t.throwsAsync(pull(`${reg.addr}/busybox:oci`, { root }), { message: /downloaded content has digest/ });
  const store = new Store(root);
  t.false(store.hasBlob(layerDigest));
  t.deepEqual(store.images(), []);
  t.deepEqual(readdirSync(join(store.dir, 'tmp')), []);
});

function pullInChild(name: string, root: string): ReturnType<typeof spawn> {
  const script = `import { pull } from ${JSON.stringify(join(import.meta.dirname, '..', 'ts', 'images', 'pull.ts'))}; await pull(${JSON.stringify(name)}, { root: ${JSON.stringify(root)} });`;
  return spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { stdio: 'ignore' });
}

test('kill -9 during a pull leaves a store the next pull completes; concurrent pulls both succeed', async (t) => {
  const big = join(work, 'big');
  mkdirSync(big, { recursive: true });
  writeFileSync(join(big, 'blob'), Buffer.alloc(64 << 20, 7).map((_, i) => (i * 2654435761) >>> 24));
  const l = new Layout(join(work, 'layout-big'));
  const manifest = l.image([busyboxRootfs(), big], { tag: 'big' });
  l.write();
  await push(join(work, 'layout-big'), 'big', `${reg.addr}/big:latest`);
  // The big layer stops half way, so the pull is certainly in the middle of it when it is killed.
  const bigLayer: string = JSON.parse(readFileSync(join(l.blobs, manifest.digest.slice(7)), 'utf8')).layers[1].digest;
  const proxy = await startRegistryProxy(reg.addr, { hold: (url) => url.endsWith(`/blobs/${bigLayer}`) });
  t.teardown(() => proxy.stop());
  const name = `${proxy.addr}/big:latest`;
  const root = newRoot();
  const child = pullInChild(name, root);
  let exited = false;
  child.on('exit', () => (exited = true));
  await Promise.race([proxy.held, new Promise((r) => child.on('exit', r))]);
  // The half it has is streamed into the layer's temporary directory: wait to see a file there.
  const tmp = join(root, 'images', 'tmp');
  const busy = (n: string) => {
    try {
      return n.startsWith('layer-') && !n.endsWith('.tree') && readdirSync(join(tmp, n)).length > 0;
    } catch {
      return false; // moved into place meanwhile
    }
  };
  let midLayer = false;
  for (const until = Date.now() + 60000; !exited && !midLayer && Date.now() < until; ) {
    midLayer = existsSync(tmp) && readdirSync(tmp).some(busy);
    if (!midLayer) await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  if (!exited) await new Promise((r) => child.on('exit', r));
  t.true(midLayer, 'killed while a layer was being unpacked');
  // Nothing half-done is in place: no image, and every layer in place has its record and checks out.
  t.deepEqual(new Store(root).images(), []);
  t.true(readdirSync(tmp).length > 0, 'the killed pull left its temporary files');
  proxy.release();
  const rec = await pull(name, { root });
  t.is(rec.diffIds.length, 2);
  const store = new Store(root);
  t.deepEqual(readdirSync(join(store.dir, 'tmp')), []);
  t.true(store.hasLayer(rec.diffIds[1]));
  const [report] = await verifyImages(root, [name]);
  t.deepEqual(report.problems, []);
  t.deepEqual(report.unrecorded, []);
  // Two processes pulling the same image into one fresh store.
  const root2 = newRoot();
  const codes = await Promise.all([0, 1].map(() => new Promise((r) => pullInChild(name, root2).on('exit', r))));
  t.deepEqual(codes, [0, 0]);
  t.is(new Store(root2).images().length, 1);
});

function tsbox(root: string, argv: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, '--root', root, ...argv], { encoding: 'utf8', input: input ?? '', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: pull, images, tag, image inspect, rmi (refused while in use), login', (t) => {
  const root = newRoot();
  let r = tsbox(root, ['pull', `${reg.addr}/busybox:oci`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /Digest: sha256:[a-f0-9]{64}/);
  t.is(tsbox(root, ['tag', `${reg.addr}/busybox:oci`, 'mybox:v1']).code, 0);
  r = tsbox(root, ['images']);
  t.regex(r.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
  t.regex(r.stdout, /mybox\s+v1\s+[a-f0-9]{12}/);
  t.regex(r.stdout, new RegExp(`${reg.addr.replace(/\./g, '\\.')}/busybox\\s+oci`));
  const rows = tsbox(root, ['images', '--format', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(rows.length, 2);
  const inspect = JSON.parse(tsbox(root, ['image', 'inspect', 'mybox:v1']).stdout);
  t.regex(inspect[0].Id, /^sha256:/);
  t.is(inspect[0].Architecture, 'amd64');
  // A container that uses the image blocks the removal of its last name (docker's rule), not of another.
  r = tsbox(root, ['run', '-d', '--name', 'c1', '--network', 'none', 'mybox:v1', 'sleep', '300']);
  t.is(r.code, 0, r.stderr);
  const c1 = r.stdout.trim();
  r = tsbox(root, ['rmi', 'mybox:v1']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'Untagged: mybox:v1\n');
  r = tsbox(root, ['rmi', `${reg.addr}/busybox:oci`]);
  t.is(r.code, 1);
  t.is(r.stderr, `Error response from daemon: conflict: unable to remove repository reference "${reg.addr}/busybox:oci" (must force) - container ${c1.slice(0, 12)} is using its referenced image ${inspect[0].Id.slice(7, 19)}\n`);
  r = tsbox(root, ['rmi', '-f', `${reg.addr}/busybox:oci`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `Untagged: ${reg.addr}/busybox:oci\n`, 'untagged; the layers stay, the container uses them');
  // As docker's: the image stays, dangling, while the container runs it.
  t.is(tsbox(root, ['images', '--format', '{{.Repository}} {{.Tag}} {{.ID}}']).stdout, `<none> <none> ${inspect[0].Id.slice(7, 19)}\n`);
  // Its layers stay under the container, through image prune too.
  t.is(tsbox(root, ['image', 'prune', '-a', '-f']).code, 0);
  r = tsbox(root, ['exec', 'c1', 'sh', '-c', 'cat /bin/busybox > /dev/null && echo whole']);
  t.is(r.stdout, 'whole\n', r.stderr);
  t.is(tsbox(root, ['rm', '-f', 'c1']).code, 0);
  r = tsbox(root, ['login', '-u', 'alice', '-p', 'nope', authReg.addr]);
  t.not(r.code, 0);
  r = tsbox(root, ['login', '-u', 'alice', '--password-stdin', authReg.addr], 's3cret\n');
  t.is(r.code, 0, r.stderr);
  t.is(tsbox(root, ['pull', '-q', `${authReg.addr}/private/busybox`]).code, 0);
});

test('CLI: bad flags and missing images are one-line errors', (t) => {
  const root = newRoot();
  let r = tsbox(root, ['pull', '--bogus', 'x']);
  t.is(r.code, 125);
  t.is(r.stderr, "unknown flag: --bogus\nSee 'tsbox pull --help'.\n");
  r = tsbox(root, ['pull', `${reg.addr}/does-not-exist:latest`]);
  t.is(r.code, 125);
  t.regex(r.stderr, /^tsbox: GET http:\/\/127\.0\.0\.1:\d+\/v2\/does-not-exist\/manifests\/latest: 404 Not Found \(MANIFEST_UNKNOWN\)\n$/);
  t.deepEqual(new Store(root).images(), []);
});

test('save then load round-trips; skopeo reads the archive; OCI archives and rootfs tarballs load too; prune', async (t) => {
  const root = newRoot();
  const rec = await pull(`${reg.addr}/busybox:whiteout`, { root });
  const archive = join(work, 'saved.tar');
  t.is(tsbox(root, ['tag', rec.name, 'busybox:saved']).code, 0);
  let r = tsbox(root, ['save', '-o', archive, 'busybox:saved']);
  t.is(r.code, 0, r.stderr);
  const inspect = JSON.parse(spawnSync('skopeo', ['inspect', `docker-archive:${archive}`], { encoding: 'utf8' }).stdout);
  t.is(inspect.Layers.length, 3);
  // podman reads it too (private storage, removed afterwards).
  const pdir = mkdtempSync(join(work, 'podman-'));
  const pl = spawnSync('podman', ['--root', join(pdir, 'root'), '--runroot', join(pdir, 'run'), '--tmpdir', join(pdir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', 'load', '-i', archive], { encoding: 'utf8' });
  spawnSync('sh', ['-c', `grep -o ' ${pdir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
  rmSync(pdir, { recursive: true, force: true });
  if (pl.error) t.log('podman not installed: load by podman not checked');
  else t.is(pl.status, 0, pl.stderr);
  const other = newRoot();
  r = tsbox(other, ['load', '-i', archive]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Loaded image: busybox:saved\n/);
  const loaded = new Store(other).images()[0];
  t.is(loaded.config, rec.config, 'same image id');
  t.deepEqual(loaded.diffIds, rec.diffIds);
  const snap = prepareSnapshot(other, loaded, 'c-load');
  t.teardown(() => snap.remove());
  t.deepEqual(readdirSync(join(snap.rootfs, 'opq')), ['b']);
  // An OCI archive made by skopeo, named with docker.io/library/ in full.
  const ociArchive = join(work, 'oci.tar');
  execFileSync('skopeo', ['copy', '--quiet', `oci:${layout}:oci`, `oci-archive:${ociArchive}:docker.io/library/fromoci:1`]);
  r = tsbox(other, ['load', '-i', ociArchive]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Loaded image: fromoci:1\n/);
  // A rootfs tarball as an image.
  const tarball = join(work, 'rootfs.tar.gz');
  execFileSync('tar', ['-C', busyboxRootfs(), '-czf', tarball, '.']);
  r = tsbox(other, ['import', tarball, 'imported:v1']);
  t.is(r.code, 0, r.stderr);
  const imported = new Store(other).images().find((i) => i.name === 'docker.io/library/imported:v1')!;
  const isnap = prepareSnapshot(other, imported, 'c-imp');
  t.teardown(() => isnap.remove());
  const out = await runIn(isnap.rootfs, ['echo', 'imported ok']);
  t.is(out.stdout, 'imported ok\n', out.stderr);
  // Untag, then prune drops what nothing refers to.
  t.is(tsbox(other, ['rmi', 'fromoci:1']).code, 0);
  r = tsbox(other, ['image', 'prune', '-f']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Total reclaimed space: [1-9][\d.]*[kMG]?B\n$/, 'the untagged image\'s blobs');
  const store = new Store(other);
  for (const i of store.images()) t.true(store.hasBlob(i.manifest) && store.hasBlob(i.config));
});

// Serial: it sets process-wide environment variables.
test.serial('credentials from ~/.docker/config.json; the copy snapshotter where overlay is not wanted', async (t) => {
  const root = newRoot();
  const dockerDir = mkdtempSync(join(work, 'docker-'));
  writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [authReg.addr]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
  const before = process.env.DOCKER_CONFIG;
  process.env.DOCKER_CONFIG = dockerDir;
  process.env.TSBOX_SNAPSHOTTER = 'copy';
  t.teardown(() => {
    if (before === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = before;
    delete process.env.TSBOX_SNAPSHOTTER;
  });
  const rec = await pull(`${authReg.addr}/private/busybox`, { root });
  const snap = prepareSnapshot(root, rec, 'c-copy');
  t.teardown(() => snap.remove());
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(snap.rootfs), 'no mount: a copy');
  t.true(existsSync(join(snap.rootfs, 'bin', 'busybox')));
});

test('pull progress: lines rewritten in place on a terminal, plain lines otherwise', (t) => {
  const root = newRoot();
  const plain = tsbox(root, ['pull', `${reg.addr}/busybox:whiteout`]);
  t.regex(plain.stdout, /^[a-f0-9]{12}: Pulling fs layer$/m);
  t.false(plain.stdout.includes('\x1b['));
  const cmd = [process.execPath, CLI, '--root', newRoot(), 'pull', `${reg.addr}/busybox:whiteout`].map((a) => `'${a}'`).join(' ');
  const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60000 });
  t.is(tty.status, 0, tty.stderr);
  t.regex(tty.stdout, /\x1b\[\d+A/);
  t.regex(tty.stdout, /Pull complete/);
});

test('transient registry errors are retried', async (t) => {
  // A proxy that answers the first request for each blob with 503.
  const failed = new Set<string>();
  const refuse = (url: string) => url.includes('/blobs/') && !failed.has(url) && !!failed.add(url);
  const proxy = await startRegistryProxy(reg.addr, { refuse });
  t.teardown(() => proxy.stop());
  const rec = await pull(`${proxy.addr}/busybox:oci`, { root: newRoot() });
  t.is(rec.diffIds.length, 1);
  t.true(failed.size >= 2, 'config and layer were each refused once');
});
