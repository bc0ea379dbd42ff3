// tsbox push to real registries (docker-registry: plain, basic auth, token auth), checked by pulling back
// with podman and skopeo; a lying registry for the failures; history and image inspect against podman's.
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { Layout, startRegistry, type Registry } from './helpers/registry.js';
import { startLyingPushRegistry } from './helpers/lying-push-registry.js';
import { podman, type Podman } from './helpers/podman.js';
import { engineRoot, type EngineRoot } from './helpers/engine-root.js';
import { removeCgroupTree } from './helpers/leftovers.js';
import { Engine } from '../ts/engine/engine.js';
import { Store } from '../ts/images/store.js';
import { humanDuration, humanSize } from '../ts/cli/commands/push.js';

const work = mkdtempSync(join(tmpdir(), 'tsbox-push-'));
let src: Registry;
let reg: Registry;
let authReg: Registry;
let tokenReg: Registry;
let engine: EngineRoot;
let pm: Podman;

const CGROUP = `tsbox-test-push-podman-${process.pid}`;
/** podman run's flags here: no network, limits this VM allows, a cgroup of this test's own. */
const RUN = ['--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', '--cgroup-parent', `/${CGROUP}`];

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { maxBuffer: 64 << 20, timeout: 120000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
  );
}

async function ok(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const HISTORY = [
  { created: '2024-01-02T03:04:05Z', created_by: '/bin/sh -c #(nop) ADD file:0123456789abcdef in / ' },
  { created: '2024-01-02T03:04:06Z', created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
  { created: '2024-01-03T03:04:05Z', created_by: '/bin/sh -c mkdir /data && echo hello > /data/hello && ln /data/hello /data/link && echo the end', comment: 'step two' },
  { created: '2024-01-04T03:04:05Z', created_by: '/bin/sh -c rm /data/gone\t&& touch /data/new' },
];

/** An OCI layout image whose config has a build history (Layout's have none). */
function imageWithHistory(l: Layout, layers: string[], history: object[]): { digest: string; size: number } {
  const ls = layers.map((d) => l.layer(d));
  const config = l.blob(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2024-01-04T03:04:05Z', config: { Env: ['PATH=/bin'], Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: ls.map((x) => x.diffId) }, history })),
  );
  return l.blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: ls.map((x) => ({ mediaType: x.mediaType, ...x.compressed })),
      }),
    ),
  );
}

test.before(async () => {
  [src, reg, authReg, tokenReg] = await Promise.all([startRegistry(), startRegistry(), startRegistry({ user: 'alice', password: 's3cret' }), startRegistry({ token: true, user: 'bob', password: 'tok3n' })]);
  const layout = join(work, 'layout');
  const l = new Layout(layout);
  const base = busyboxRootfs();
  const l1 = join(work, 'l1');
  const l2 = join(work, 'l2');
  mkdirSync(join(l1, 'data'), { recursive: true });
  mkdirSync(join(l2, 'data'), { recursive: true });
  writeFileSync(join(l1, 'data', 'hello'), 'hello\n');
  linkSync(join(l1, 'data', 'hello'), join(l1, 'data', 'link'));
  writeFileSync(join(l1, 'data', 'gone'), 'soon gone\n');
  writeFileSync(join(l2, 'data', '.wh.gone'), '');
  writeFileSync(join(l2, 'data', 'new'), '');
  const bb = imageWithHistory(l, [base], HISTORY.slice(0, 2));
  const multi = imageWithHistory(l, [base, l1, l2], HISTORY);
  const entry = (m: { digest: string; size: number }, tag: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': tag } });
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry(bb, 'bb'), entry(multi, 'multi')] }));
  // busybox as OCI, the multi-layer image as docker schema2: push keeps each as stored.
  await ok('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:bb`, `docker://${src.addr}/lib/busybox:latest`]);
  await ok('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${layout}:multi`, `docker://${src.addr}/lib/multi:latest`]);
  engine = engineRoot('tsbox-push-root-');
  const images = new Engine({ root: engine.root }).images;
  await images.pull(`${src.addr}/lib/busybox:latest`);
  await images.pull(`${src.addr}/lib/multi:latest`);
  pm = podman(work);
});

test.after.always(async () => {
  pm?.remove();
  removeCgroupTree(CGROUP);
  engine?.remove();
  await Promise.all([src, reg, authReg, tokenReg].map((r) => r?.stop()));
  rmSync(work, { recursive: true, force: true });
});

const local = (root: string, name: string) => {
  const store = new Store(root);
  const rec = store.images().find((i) => i.name === name)!;
  const m = store.readJson<{ mediaType: string; config: { digest: string }; layers: { digest: string }[] }>(rec.manifest, 'manifest');
  return { rec, manifest: m, blobs: [m.config.digest, ...m.layers.map((x) => x.digest)].sort() };
};

/** A listing of the image's files as seen from inside a container (mode, owner, size, link count). */
const LIST =
  'cd / && find bin etc data -xdev 2>/dev/null | grep -vE "^etc/(hostname|hosts|mtab|resolv.conf)$" | sort | while read f; do if [ -d "$f" ] && [ ! -L "$f" ]; then stat -c "%n %a %u:%g %F" "$f"; else stat -c "%n %a %u:%g %s %h %F" "$f"; fi; done; cat /data/hello /data/gone 2>&1; true';

test('push to a plain registry: same digests back through skopeo and podman, same tree in podman as in tsbox; again: all exist; another repository: mounted', async (t) => {
  const name = `${reg.addr}/app/multi:1`;
  t.is(engine.tsbox(['tag', `${src.addr}/lib/multi:latest`, name]).code, 0);
  const want = local(engine.root, `${src.addr}/lib/multi:latest`);
  t.is(want.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  let r = engine.tsbox(['push', name]);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.startsWith(`The push refers to repository [${reg.addr}/app/multi]\n`), r.stdout);
  const layers = want.manifest.layers.map((x) => x.digest.slice(7, 19));
  for (const id of layers) t.regex(r.stdout, new RegExp(`^${id}: Pushed$`, 'm'));
  const size = readFileSync(new Store(engine.root).blobPath(want.rec.manifest)).length;
  t.true(r.stdout.endsWith(`1: digest: ${want.rec.manifest} size: ${size}\n`), r.stdout);

  // The registry's manifest is the local one, byte for byte, with its media type.
  const raw = await ok('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`]);
  t.is(sha(Buffer.from(raw)), want.rec.manifest);
  const copy = join(work, 'copy-multi');
  await ok('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--preserve-digests', `docker://${name}`, `oci:${copy}:x`]);
  const copied = readdirSync(join(copy, 'blobs', 'sha256')).map((h) => `sha256:${h}`);
  for (const d of want.blobs) t.true(copied.includes(d), `blob ${d} pulled back`);

  // podman pulls it, sees the local digest and runs it: the same files as tsbox's container of the local image.
  let p = await pm.run(['pull', '-q', '--tls-verify=false', name]);
  t.is(p.code, 0, p.stderr);
  p = await pm.run(['image', 'inspect', '--format', '{{.Digest}} {{.Id}}', name]);
  t.is(p.stdout.trim(), `${want.rec.manifest} ${want.rec.config.slice(7)}`);
  const theirs = await pm.run(['run', '--rm', ...RUN, name, 'sh', '-c', LIST]);
  t.is(theirs.code, 0, theirs.stderr);
  const ours = engine.tsbox(['run', '--rm', '--network', 'none', name, 'sh', '-c', LIST]);
  t.is(ours.code, 0, ours.stderr);
  t.is(ours.stdout, theirs.stdout);
  t.regex(ours.stdout, /^data\/hello 644 0:0 6 2 regular file$/m);
  t.regex(ours.stdout, /No such file/);

  // Twice: nothing to upload.
  r = engine.tsbox(['push', name]);
  t.is(r.code, 0, r.stderr);
  for (const id of layers) t.regex(r.stdout, new RegExp(`^${id}: Layer already exists$`, 'm'));
  t.notRegex(r.stdout, /Pushed/);

  // Another repository of the same registry: every layer mounted from the first.
  const other = `${reg.addr}/other/multi:2`;
  t.is(engine.tsbox(['tag', name, other]).code, 0);
  r = engine.tsbox(['push', other]);
  t.is(r.code, 0, r.stderr);
  for (const id of layers) t.regex(r.stdout, new RegExp(`^${id}: Mounted from app/multi$`, 'm'));
  t.true(r.stdout.endsWith(`2: digest: ${want.rec.manifest} size: ${size}\n`));
  t.is(sha(Buffer.from(await ok('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${other}`]))), want.rec.manifest);
});

test('push of an OCI image in chunks: the registry stores it, skopeo reads back the same blobs', async (t) => {
  const root = mkdtempSync(join(work, 'chunk-'));
  const images = new Engine({ root }).images;
  await images.pull(`${src.addr}/lib/busybox:latest`);
  const name = `${reg.addr}/chunked/busybox:c`;
  images.tag(`${src.addr}/lib/busybox:latest`, name);
  const want = local(root, name);
  t.is(want.manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  const seen: string[] = [];
  const r = await images.push(name, { chunkSize: 100 << 10, onProgress: (id, s) => seen.push(`${id}: ${s}`) });
  t.deepEqual(r, { name, tag: 'c', digest: want.rec.manifest, size: readFileSync(new Store(root).blobPath(want.rec.manifest)).length });
  t.deepEqual(seen, [`${want.manifest.layers[0].digest.slice(7, 19)}: Preparing`, `${want.manifest.layers[0].digest.slice(7, 19)}: Pushing`, `${want.manifest.layers[0].digest.slice(7, 19)}: Pushed`]);
  t.is(sha(Buffer.from(await ok('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`]))), want.rec.manifest);
  const copy = join(work, 'copy-chunked');
  await ok('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${name}`, `oci:${copy}:x`]);
  t.deepEqual(readdirSync(join(copy, 'blobs', 'sha256')).map((h) => `sha256:${h}`).filter((d) => d !== want.rec.manifest).sort(), want.blobs);
  const p = await pm.run(['run', '--rm', ...RUN, '--tls-verify=false', name, 'busybox', 'echo', 'chunked ok']);
  t.is(p.stdout, 'chunked ok\n', p.stderr);
});

test('push with basic auth: refused without credentials, done after tsbox login; podman pulls it with them', async (t) => {
  const name = `${authReg.addr}/private/busybox:latest`;
  t.is(engine.tsbox(['tag', `${src.addr}/lib/busybox:latest`, name]).code, 0);
  let r = engine.tsbox(['push', name]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^Error: .*authentication required \(use tsbox login/);
  // A wrong password: nothing saved, docker's line and exit code (dockerd's words: test/engine-api-containers.test.ts).
  r = engine.tsbox(['login', '-u', 'alice', '--password-stdin', authReg.addr], 'wrong\n');
  t.is(r.code, 1, r.stdout);
  t.is(r.stderr, `Error response from daemon: login attempt to http://${authReg.addr}/v2/ failed with status: 401 Unauthorized\n`);
  t.regex(engine.tsbox(['push', name]).stderr, /authentication required \(use tsbox login/);
  r = engine.tsbox(['login', '-u', 'alice', '--password-stdin', authReg.addr], 's3cret\n');
  t.is(r.code, 0, r.stderr);
  r = engine.tsbox(['push', name]);
  t.is(r.code, 0, r.stderr);
  const want = local(engine.root, name);
  t.regex(r.stdout, new RegExp(`latest: digest: ${want.rec.manifest} size: \\d+\\n$`));
  t.not((await pm.run(['pull', '-q', '--tls-verify=false', name])).code, 0);
  t.is((await pm.run(['pull', '-q', '--tls-verify=false', '--creds', 'alice:s3cret', name])).code, 0);
  const p = await pm.run(['run', '--rm', ...RUN, name, 'cat', '/etc/passwd']);
  t.is(p.code, 0, p.stderr);
  t.regex(p.stdout, /^root:x:0:0/);
  t.is((await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', 'alice:wrong', `docker://${name}`])).code === 0, false);
});

test('push with token auth: the token covers the mount from another repository', async (t) => {
  const root = mkdtempSync(join(work, 'token-'));
  const images = new Engine({ root }).images;
  await images.pull(`${src.addr}/lib/multi:latest`);
  const a = `${tokenReg.addr}/tok/a:1`;
  const b = `${tokenReg.addr}/tok/b:1`;
  images.tag(`${src.addr}/lib/multi:latest`, a);
  images.tag(`${src.addr}/lib/multi:latest`, b);
  await t.throwsAsync(images.push(a), { message: /token http:\/\/127\.0\.0\.1:\d+\/token: 401/ });
  const credentials = { username: 'bob', password: 'tok3n' };
  const seen: string[] = [];
  // b is not on the registry yet: a has nothing to mount from b, and uploads.
  const ra = await images.push(a, { credentials, onProgress: (id, s) => seen.push(s) });
  t.true(seen.filter((s) => s === 'Pushed').length === 3, seen.join(', '));
  seen.length = 0;
  const rb = await images.push(b, { credentials, onProgress: (id, s) => seen.push(s) });
  t.is(seen.filter((s) => s === 'Mounted from tok/a').length, 3, seen.join(', '));
  t.is(ra.digest, rb.digest);
  t.is(sha(Buffer.from(await ok('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', 'bob:tok3n', `docker://${b}`]))), ra.digest);
});

test('push of an image stored as an index: every platform and the index, with the local digests', async (t) => {
  const root = mkdtempSync(join(work, 'index-'));
  const images = new Engine({ root }).images;
  // Two platforms on the source registry under one index, pulled one by one; the store then gets the index.
  const layout = join(work, 'multi-layout');
  const l = new Layout(layout);
  const amd = l.image([busyboxRootfs()], { arch: 'amd64', register: false });
  const arm = l.image([busyboxRootfs(), join(work, 'l1')], { arch: 'arm64', register: false });
  l.index([{ m: amd, arch: 'amd64' }, { m: arm, arch: 'arm64' }], 'multi');
  l.write();
  await ok('skopeo', ['copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${src.addr}/lib/plat:latest`]);
  await images.pull(`${src.addr}/lib/plat:latest`, { platform: 'linux/arm64' });
  const pulled = await images.pull(`${src.addr}/lib/plat:latest`);
  const index = Buffer.from(await ok('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${src.addr}/lib/plat:latest`]));
  const store = new Store(root);
  store.writeBlob(sha(index), index);
  const rec = store.images().find((i) => i.name === pulled.name)!;
  const name = `${reg.addr}/plat/busybox:all`;
  store.tag({ ...rec, name, manifest: sha(index) });
  const r = await images.push(name);
  t.is(r.digest, sha(index));
  t.is(sha(Buffer.from(await ok('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`]))), sha(index));
  t.is(sha(Buffer.from(await ok('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.addr}/plat/busybox@${arm.digest}`]))), arm.digest);
  const p = await pm.run(['pull', '-q', '--tls-verify=false', '--platform', 'linux/arm64', name]);
  t.is(p.code, 0, p.stderr);
  t.is((await pm.run(['image', 'inspect', '--format', '{{.Digest}}', p.stdout.trim()])).stdout.trim(), sha(index));
});

test('push of a loaded docker-archive (uncompressed layers, as stored): the registry has the local digests, podman runs it', async (t) => {
  const archive = join(work, 'saved.tar');
  t.is(engine.tsbox(['save', '-o', archive, `${src.addr}/lib/busybox:latest`]).code, 0);
  const other = engineRoot('tsbox-push-load-');
  t.teardown(() => other.remove());
  t.is(other.tsbox(['load', '-i', archive]).code, 0);
  const name = `${reg.addr}/loaded/busybox:l`;
  t.is(other.tsbox(['tag', `${src.addr}/lib/busybox:latest`, name]).code, 0);
  const want = local(other.root, name);
  t.is(want.manifest.layers.length, 1);
  const r = other.tsbox(['push', name]);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.endsWith(`l: digest: ${want.rec.manifest} size: ${readFileSync(new Store(other.root).blobPath(want.rec.manifest)).length}\n`), r.stdout);
  t.is(sha(Buffer.from(await ok('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}`]))), want.rec.manifest);
  const p = await pm.run(['run', '--rm', ...RUN, '--tls-verify=false', name, 'busybox', 'echo', 'loaded ok']);
  t.is(p.stdout, 'loaded ok\n', p.stderr);
});

test('push -a: every tag of the repository', async (t) => {
  for (const tag of ['x', 'y']) t.is(engine.tsbox(['tag', `${src.addr}/lib/busybox:latest`, `${reg.addr}/alltags/bb:${tag}`]).code, 0);
  const want = local(engine.root, `${reg.addr}/alltags/bb:x`);
  const r = engine.tsbox(['push', '-a', `${reg.addr}/alltags/bb`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^x: digest: ${want.rec.manifest} size: \\d+\\n[^]*^y: digest: ${want.rec.manifest} size: \\d+\\n$`, 'm'));
  t.regex(r.stdout, /: Layer already exists$/m);
  const tags = JSON.parse(await ok('skopeo', ['list-tags', '--tls-verify=false', `docker://${reg.addr}/alltags/bb`])) as { Tags: string[] };
  t.deepEqual(tags.Tags.sort(), ['x', 'y']);
  t.is(engine.tsbox(['push', '-a', `${reg.addr}/alltags/bb:x`]).code, 125);
});

test('push of a missing image or a digest: clear errors', async (t) => {
  let r = engine.tsbox(['push', `${reg.addr}/nothing/here:1`]);
  t.is(r.code, 1);
  t.is(r.stderr, `Error response from daemon: An image does not exist locally with the tag: ${reg.addr}/nothing/here:1\n`);
  r = engine.tsbox(['push', 'Bad Name']);
  t.is(r.code, 125);
});

/** A lying registry per test, the busybox image tagged for it in a fresh root. */
async function lying(t: { teardown(fn: () => unknown): void }) {
  const lr = await startLyingPushRegistry();
  t.teardown(() => lr.stop());
  const root = mkdtempSync(join(work, 'lying-'));
  const images = new Engine({ root }).images;
  await images.pull(`${src.addr}/lib/busybox:latest`);
  const name = `${lr.addr}/l/busybox:x`;
  images.tag(`${src.addr}/lib/busybox:latest`, name);
  const credentials = { username: lr.user, password: lr.password };
  const leaked = () => lr.caught.some((c) => c.headers.authorization !== undefined || JSON.stringify(c).includes(lr.password) || JSON.stringify(c).includes(Buffer.from(`${lr.user}:${lr.password}`).toString('base64')));
  return { lr, images, name, credentials, leaked, want: local(root, name) };
}

test('lying registry: a wrong digest answered for a blob or a manifest is an error', async (t) => {
  const x = await lying(t);
  x.lr.lie = 'blob-digest';
  await t.throwsAsync(x.images.push(x.name, { credentials: x.credentials }), { message: /upload of blob sha256:[a-f0-9]{64}: the registry answered with digest sha256:0{64}, not sha256:/ });
  x.lr.lie = 'manifest-digest';
  await t.throwsAsync(x.images.push(x.name, { credentials: x.credentials }), { message: new RegExp(`PUT http://${x.lr.addr}/v2/l/busybox/manifests/x: the registry answered with digest sha256:0{64}, not ${x.want.rec.manifest}`) });
  x.lr.lie = 'none';
  const r = await x.images.push(x.name, { credentials: x.credentials });
  t.is(r.digest, x.want.rec.manifest);
  t.is(sha(x.lr.manifests.get('l/busybox:x')!.body), x.want.rec.manifest);
  t.is(x.lr.manifests.get('l/busybox:x')!.type, 'application/vnd.oci.image.manifest.v1+json');
});

test('lying registry: 5xx in the middle of a chunked upload: retried with a new upload, an error once retries are spent', async (t) => {
  const x = await lying(t);
  x.lr.lie = 'patch-500';
  await t.throwsAsync(x.images.push(x.name, { credentials: x.credentials, chunkSize: 100 << 10 }), { message: new RegExp(`^PATCH http://${x.lr.addr}/v2/l/busybox/blobs/uploads/\\d+: 500 Internal Server Error \\(UNKNOWN\\)$`) });
  x.lr.lie = 'patch-500-once';
  const seen: string[] = [];
  await x.images.push(x.name, { credentials: x.credentials, chunkSize: 100 << 10, onProgress: (_id, s) => seen.push(s) });
  t.true(seen.some((s) => s.startsWith('Retrying (PATCH')), seen.join(', '));
  for (const d of x.want.blobs) t.is(sha(x.lr.blobs.get(d)!), d);
  t.true(x.lr.seen.some((s) => s.method === 'PATCH' && /^\d+-\d+$/.test(String(s.headers['content-range']))));
  t.false(x.leaked());
});

test('lying registry: redirects and upload locations to another host are refused, credentials never sent there', async (t) => {
  const x = await lying(t);
  x.lr.lie = 'redirect-post';
  await t.throwsAsync(x.images.push(x.name, { credentials: x.credentials }), { message: /POST http:\/\/.*\/blobs\/uploads\/: the registry redirects to another host \(http:\/\/127\.0\.0\.1:\d+\), refused/ });
  t.is(x.lr.caught.length, 0);
  x.lr.lie = 'location-elsewhere';
  await t.throwsAsync(x.images.push(x.name, { credentials: x.credentials }), { message: /the registry's upload location is on another host \(http:\/\/127\.0\.0\.1:\d+\), refused/ });
  t.is(x.lr.caught.length, 0);
  // A HEAD redirected elsewhere is followed, without credentials (the other host says 404: the blob is uploaded).
  x.lr.lie = 'redirect-head';
  const r = await x.images.push(x.name, { credentials: x.credentials });
  t.is(r.digest, x.want.rec.manifest);
  t.true(x.lr.caught.length > 0);
  t.true(x.lr.caught.every((c) => c.method === 'HEAD'));
  t.false(x.leaked());
});

test('lying registry: an error answer that never ends is cut short', async (t) => {
  const x = await lying(t);
  x.lr.lie = 'endless-error';
  const before = process.memoryUsage().rss;
  await t.throwsAsync(x.images.push(x.name, { credentials: x.credentials }), { message: new RegExp(`^POST http://${x.lr.addr}/v2/l/busybox/blobs/uploads/: 400 Bad Request$`) });
  t.true(process.memoryUsage().rss - before < 256 << 20);
});

test('history: docker columns, values as podman shows them', async (t) => {
  const name = `${src.addr}/lib/multi:latest`;
  const want = local(engine.root, name);
  let r = engine.tsbox(['history', name]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0], /^IMAGE {10}CREATED {6,}CREATED BY {38}SIZE {6}COMMENT$/);
  t.is(lines.length, 5);
  t.true(lines[1].startsWith(`${want.rec.config.slice(7, 19)}   `));
  t.true(lines[2].startsWith('<missing>      '));
  // Truncated to 45 characters, tabs as spaces.
  t.true(lines[1].includes('/bin/sh -c rm /data/gone && touch /data/new'));
  t.true(lines[2].includes('/bin/sh -c mkdir /data && echo hello > /data…   '), lines[2]);
  t.regex(lines[2], /step two$/);
  t.regex(lines[3], / 0B {8}$/);

  // podman on the same image (pulled from the same registry): ids, commands and comments as ours.
  let p = await pm.run(['pull', '-q', '--tls-verify=false', name]);
  t.is(p.code, 0, p.stderr);
  p = await pm.run(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}|{{.CreatedAt}}', name]);
  r = engine.tsbox(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}|{{.CreatedAt}}', name]);
  // docker shows a tab of a command as a space; podman keeps it.
  const norm = (s: string) => s.trimEnd().replaceAll('\t', ' ').split('\n').map((l) => l.replace(/\|([^|]*)$/, (_m, d: string) => `|${Date.parse(d.replace(/ \+0000 UTC$/, 'Z').replace(' ', 'T'))}`));
  t.deepEqual(norm(r.stdout), norm(p.stdout));
  p = await pm.run(['history', '-q', name]);
  r = engine.tsbox(['history', '-q', name]);
  // podman names a row by any local image whose top layer it is (busybox, when another test pulled it); docker
  // and tsbox by the image itself only: the top row, and <missing> wherever podman has none.
  const qTheirs = p.stdout.trimEnd().split('\n');
  const qOurs = r.stdout.trimEnd().split('\n');
  t.is(qOurs.length, qTheirs.length);
  t.is(qOurs[0], qTheirs[0]);
  qTheirs.forEach((id, i) => id === '<missing>' && t.is(qOurs[i], id));
  t.deepEqual(qOurs.slice(1), ['<missing>', '<missing>', '<missing>']);
  r = engine.tsbox(['history', '-q', '--no-trunc', name]);
  t.is(r.stdout.split('\n')[0], want.rec.config);
  // Sizes: podman counts a layer's tar bytes, docker (and tsbox) its files' bytes; the empty steps are 0 in both.
  p = await pm.run(['history', '--format', '{{.Size}}', name]);
  r = engine.tsbox(['history', '--format', '{{.Size}}', name]);
  const theirs = p.stdout.trimEnd().split('\n');
  const ours = r.stdout.trimEnd().split('\n');
  t.is(ours.length, theirs.length);
  theirs.forEach((s, i) => s === '0 B' && t.is(ours[i], '0B'));
  t.true(theirs.includes('0 B'));
  r = engine.tsbox(['history', '--no-trunc', '--format', 'json', name]);
  t.like(JSON.parse(r.stdout.split('\n')[1]), { ID: '<missing>', CreatedBy: HISTORY[2].created_by, Comment: 'step two', CreatedAt: '2024-01-03T03:04:05Z' });
  r = engine.tsbox(['history', 'no-such-image']);
  t.is(r.code, 1);
  t.is(r.stderr, 'Error response from daemon: No such image: no-such-image:latest\n');
});

test('image inspect: RootFS and History as the config says, RootFS as podman shows it', async (t) => {
  const name = `${src.addr}/lib/multi:latest`;
  const want = local(engine.root, name);
  const r = engine.tsbox(['image', 'inspect', name]);
  t.is(r.code, 0, r.stderr);
  const [ours] = JSON.parse(r.stdout) as { RootFS: { Type: string; Layers: string[] }; History: object[]; Id: string }[];
  t.is(ours.Id, want.rec.config);
  t.deepEqual(ours.RootFS, { Type: 'layers', Layers: want.rec.diffIds });
  t.deepEqual(ours.History, HISTORY);
  await pm.run(['pull', '-q', '--tls-verify=false', name]);
  const p = await pm.run(['image', 'inspect', '--format', '{{json .RootFS}}', name]);
  t.deepEqual(JSON.parse(p.stdout), ours.RootFS);
});

test('human sizes and durations as docker prints them', (t) => {
  t.is(humanSize(0), '0B');
  t.is(humanSize(1_240_000), '1.24MB');
  t.is(humanSize(999), '999B');
  t.is(humanSize(12_345), '12.3kB');
  t.is(humanDuration(500), 'Less than a second');
  t.is(humanDuration(90_000), 'About a minute');
  t.is(humanDuration(3 * 3600_000), '3 hours');
  t.is(humanDuration(3 * 365 * 86400_000), '3 years');
});
