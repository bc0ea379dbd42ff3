// The image store against hostile input: archives that point outside themselves, blobs that lie about
// their size, layers that decompress without end, and a store whose files were changed behind its back.
// podman (private vfs storage) gets the same input where its behaviour can be observed: tsbox must be at
// least as strict.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { busyboxRootfs } from './helpers/bundle.js';
import { Layout, push, startRegistry, type Registry } from './helpers/registry.js';
import { tarOf, type RawEntry } from './helpers/tar.js';
import { startLyingRegistry } from './helpers/lying-registry.js';
import { havePodman, podman } from './helpers/podman.js';
import { CLI } from './helpers/bins.js';
import { pull } from '../ts/images/pull.js';
import { Store } from '../ts/images/store.js';

let reg: Registry;
const work = mkdtempSync(join(tmpdir(), 'tsbox-imgsec-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const BOMB = 128 << 20;

test.before(async () => {
  reg = await startRegistry();
  const l = new Layout(join(work, 'layout'));
  l.image([busyboxRootfs()], { tag: 'oci' });
  // A layer of one file of zeros: 128 MiB unpacked from about 128 KiB.
  const bomb = join(work, 'bomb');
  mkdirSync(bomb);
  writeFileSync(join(bomb, 'zeros'), '');
  truncateSync(join(bomb, 'zeros'), BOMB);
  l.image([bomb], { tag: 'bomb' });
  l.write();
  rmSync(bomb, { recursive: true });
  await push(join(work, 'layout'), 'oci', `${reg.addr}/busybox:oci`);
  await push(join(work, 'layout'), 'bomb', `${reg.addr}/bomb:latest`);
});

test.after.always(async () => {
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

function newRoot(): string {
  return mkdtempSync(join(work, 'root-'));
}

/** The CLI, asynchronously (a registry in this process keeps answering). */
function tsbox(root: string, argv: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, '--root', root, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Nothing of an image in the store: no record, blob, unpacked layer or temp file. */
function emptyStore(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, root: string, what: string): void {
  const store = new Store(root);
  t.deepEqual(store.images(), [], `${what}: no image`);
  for (const d of ['blobs/sha256', 'layers', 'tmp']) t.deepEqual(readdirSync(join(store.dir, d)), [], `${what}: ${d} empty`);
}

/** podman load tries each archive format in turn: the docker-archive attempt says why it refused. */
function reason(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return (lines.find((l) => l.includes('docker-archive')) ?? lines.pop() ?? '').trim();
}

function duBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

// ---------------------------------------------------------------------------------------------------
// 5. load reads only inside the archive.

interface Hostile {
  name: string;
  members: RawEntry[];
}

function hostileArchives(): { hostile: Hostile[]; benign: Hostile } {
  const host = join(work, 'host');
  mkdirSync(join(host, 'layer'), { recursive: true });
  // Host files an archive must never reach: a layer with a secret, and a config that carries one.
  writeFileSync(join(host, 'layer', 'secret'), 'HOST-SECRET-LAYER');
  const hostTar = tarOf([{ name: 'secret', data: 'HOST-SECRET-LAYER' }]);
  writeFileSync(join(host, 'layer.tar'), hostTar);
  const okTar = tarOf([{ name: 'hello', data: 'world' }]);
  const cfg = (diffIds: Buffer[], extra = {}) => JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: diffIds.map((b) => `sha256:${sha(b)}`) }, ...extra });
  writeFileSync(join(host, 'config.json'), cfg([okTar], { comment: 'HOST-SECRET-CONFIG' }));
  writeFileSync(join(host, 'manifest.json'), JSON.stringify([{ Config: 'cfg.json', RepoTags: ['hostile:manifest'], Layers: ['secret.tar'] }]));
  const up = '../'.repeat(40);
  const manifest = (config: string, layers: string[], tag: string) => ({ name: 'manifest.json', data: JSON.stringify([{ Config: config, RepoTags: [`hostile:${tag}`], Layers: layers }]) });
  // An OCI layout on the host, for an archive whose blobs directory is a link to it.
  const hostOci = join(host, 'oci');
  mkdirSync(join(hostOci, 'blobs', 'sha256'), { recursive: true });
  const ociBlob = (b: Buffer) => {
    writeFileSync(join(hostOci, 'blobs', 'sha256', sha(b)), b);
    return { digest: `sha256:${sha(b)}`, size: b.length };
  };
  const ociCfg = Buffer.from(cfg([hostTar]));
  const ociManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...ociBlob(ociCfg) },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...ociBlob(hostTar) }],
    }),
  );
  const m = ociBlob(ociManifest);
  const index = (tag: string) => ({ name: 'index.json', data: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': `hostile:${tag}` } }] }) });
  const layoutFile = { name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) };
  const hostile: Hostile[] = [
    { name: 'config-dotdot', members: [manifest(`${up}${host.slice(1)}/config.json`, ['layer.tar'], 'a'), { name: 'layer.tar', data: okTar }] },
    { name: 'layer-dotdot', members: [manifest('cfg.json', [`${up}${host.slice(1)}/layer.tar`], 'b'), { name: 'cfg.json', data: cfg([hostTar]) }] },
    { name: 'config-symlink', members: [manifest('cfg.json', ['layer.tar'], 'c'), { name: 'cfg.json', type: '2', linkname: join(host, 'config.json') }, { name: 'layer.tar', data: okTar }] },
    { name: 'layer-symlink', members: [manifest('cfg.json', ['layer.tar'], 'd'), { name: 'cfg.json', data: cfg([hostTar]) }, { name: 'layer.tar', type: '2', linkname: join(host, 'layer.tar') }] },
    { name: 'dir-symlink', members: [manifest('cfg.json', ['d/layer.tar'], 'e'), { name: 'cfg.json', data: cfg([hostTar]) }, { name: 'd', type: '2', linkname: host }] },
    { name: 'relative-symlink-out', members: [manifest('cfg.json', ['layer.tar'], 'f'), { name: 'cfg.json', data: cfg([hostTar]) }, { name: 'layer.tar', type: '2', linkname: `${up}${host.slice(1)}/layer.tar` }] },
    { name: 'manifest-symlink', members: [{ name: 'manifest.json', type: '2', linkname: join(host, 'manifest.json') }, { name: 'cfg.json', data: cfg([okTar]) }, { name: 'secret.tar', type: '2', linkname: join(host, 'layer.tar') }] },
    { name: 'oci-blob-symlink', members: [layoutFile, index('g'), { name: 'blobs/', type: '5' }, { name: 'blobs/sha256/', type: '5' }, ...[ociManifest, ociCfg].map((b) => ({ name: `blobs/sha256/${sha(b)}`, data: b })), { name: `blobs/sha256/${sha(hostTar)}`, type: '2' as const, linkname: join(hostOci, 'blobs', 'sha256', sha(hostTar)) }] },
    { name: 'oci-blobs-dir-symlink', members: [layoutFile, index('h'), { name: 'blobs', type: '2', linkname: join(hostOci, 'blobs') }] },
  ];
  // What docker save writes for a layer that appears twice: a relative link to the first copy.
  const benign: Hostile = {
    name: 'relative-symlink-inside',
    members: [
      manifest('cfg.json', ['a/layer.tar', 'b/layer.tar'], 'twice'),
      { name: 'cfg.json', data: cfg([okTar, okTar]) },
      { name: 'a/', type: '5' },
      { name: 'a/layer.tar', data: okTar },
      { name: 'b/', type: '5' },
      { name: 'b/layer.tar', type: '2', linkname: '../a/layer.tar' },
    ],
  };
  return { hostile, benign };
}

test('load: names and links that lead out of the archive are refused, nothing is stored; podman compared', async (t) => {
  const { hostile, benign } = hostileArchives();
  const pm = havePodman ? podman(work) : undefined;
  t.teardown(() => pm?.remove());
  for (const h of hostile) {
    const file = join(work, `${h.name}.tar`);
    writeFileSync(file, tarOf(h.members));
    const root = newRoot();
    const r = await tsbox(root, ['load', '-i', file]);
    t.is(r.code, 1, `${h.name}: ${r.stdout}${r.stderr}`);
    t.regex(r.stderr, /^Error: load .*(outside the archive|a link to .* outside the archive)[^\n]*\n$/, h.name);
    t.false(r.stdout.includes('Loaded image'), h.name);
    emptyStore(t, root, h.name);
    if (pm) {
      const p = await pm.run(['load', '-i', file]);
      t.log(`${h.name}: podman ${p.code === 0 ? `loaded it${pm.stored('HOST-SECRET') ? ' WITH host content' : ''}` : `refused it (${reason(p.stderr)})`}; tsbox refused it`);
      // At least as strict: whatever podman refuses, tsbox refuses (tsbox refuses them all).
      if (p.code !== 0) t.not(r.code, 0, h.name);
    }
  }
  // A link between two members inside the archive (docker save's duplicate layers) still loads.
  const file = join(work, 'benign.tar');
  writeFileSync(file, tarOf(benign.members));
  const root = newRoot();
  const r = await tsbox(root, ['load', '-i', file]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /Loaded image: hostile:twice/);
  t.is(new Store(root).images()[0].diffIds.length, 2);
});

// ---------------------------------------------------------------------------------------------------
// 7. The store re-checks what it wrote.

test('a corrupted layer blob: image verify reports it, save refuses it, a re-pull replaces it', async (t) => {
  const root = newRoot();
  const name = `${reg.addr}/busybox:oci`;
  let r = await tsbox(root, ['pull', '-q', name]);
  t.is(r.code, 0, r.stderr);
  r = await tsbox(root, ['image', 'verify']);
  t.is(r.code, 0, r.stdout + r.stderr);
  const store = new Store(root);
  const rec = store.images()[0];
  const layerDigest: string = JSON.parse(readFileSync(store.blobPath(rec.manifest), 'utf8')).layers[0].digest;
  const blob = store.blobPath(layerDigest);
  const good = readFileSync(blob);
  const bad = Buffer.from(good);
  for (let i = 0; i < 64; i++) bad[(bad.length >> 1) + i] ^= 0xa5;
  writeFileSync(blob, bad);
  r = await tsbox(root, ['image', 'verify', name]);
  t.is(r.code, 1);
  t.regex(r.stdout + r.stderr, new RegExp(`blob ${layerDigest}.*corrupt`));
  // save serves blobs: it must not copy a corrupt one, nor leave half an archive.
  const out = join(work, 'corrupt-save.tar');
  r = await tsbox(root, ['save', '-o', out, name]);
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`^Error: .*${layerDigest}.*corrupt[^\\n]*\\n$`));
  t.false(existsSync(out));
  t.deepEqual(readdirSync(work).filter((f) => f.startsWith('corrupt-save')), []);
  // The blob outlives the layer it was unpacked to (rmi keeps blobs): the next pull must not reuse it.
  t.is((await tsbox(root, ['rmi', name])).code, 0);
  r = await tsbox(root, ['pull', '-q', name]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readFileSync(blob), good);
  r = await tsbox(root, ['image', 'verify']);
  t.is(r.code, 0, r.stdout + r.stderr);
  // A corrupt blob under a layer that is still unpacked is replaced by a re-pull too.
  writeFileSync(blob, bad);
  r = await tsbox(root, ['pull', '-q', name]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readFileSync(blob), good);
  t.deepEqual(readdirSync(join(store.dir, 'tmp')), []);
});

test('image verify: a changed, an added and a removed file in an unpacked layer are reported', async (t) => {
  const root = newRoot();
  const name = `${reg.addr}/busybox:oci`;
  t.is((await tsbox(root, ['pull', '-q', name])).code, 0);
  const store = new Store(root);
  const layer = store.layerPath(store.images()[0].diffIds[0]);
  appendFileSync(join(layer, 'etc', 'passwd'), 'evil::0:0::/:/bin/sh\n');
  writeFileSync(join(layer, 'etc', 'added'), 'x');
  unlinkSync(join(layer, 'etc', 'group'));
  const r = await tsbox(root, ['system', 'check']);
  t.is(r.code, 1);
  const text = r.stdout + r.stderr;
  t.regex(text, /etc\/passwd: content changed/);
  t.regex(text, /etc\/added: added/);
  t.regex(text, /etc\/group: removed/);
  t.false(/bin\/busybox/.test(text), 'unchanged files are not reported');
});

test('a corrupted config blob: one line naming the blob, from run, image inspect and image verify', async (t) => {
  const root = newRoot();
  const name = `${reg.addr}/busybox:oci`;
  t.is((await tsbox(root, ['pull', '-q', name])).code, 0);
  const store = new Store(root);
  const cfg = store.images()[0].config;
  writeFileSync(store.blobPath(cfg), '{"architecture": "amd64", "os": "linux", "config": {"Cmd": [');
  for (const argv of [['run', '--rm', '--network', 'none', name, 'true'], ['image', 'inspect', name]]) {
    const r = await tsbox(root, argv);
    t.not(r.code, 0, argv.join(' '));
    t.regex(r.stderr, new RegExp(`^tsbox: .*${cfg}.*corrupt[^\\n]*\\n$`), argv.join(' '));
  }
  const r = await tsbox(root, ['image', 'verify']);
  t.is(r.code, 1);
  t.regex(r.stdout + r.stderr, new RegExp(`blob ${cfg}.*corrupt`));
  // No containers directory at all is no container either (the engine makes it with the first one).
  t.deepEqual(existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : [], [], 'the failed run left no container');
});

// ---------------------------------------------------------------------------------------------------
// 8. Downloads and decompression are bounded.

test('a blob larger than its descriptor says is cut off at the declared size; podman compared', async (t) => {
  const lying = await startLyingRegistry();
  t.teardown(() => lying.stop());
  const root = newRoot();
  await t.throwsAsync(pull(`${lying.addr}/lying:latest`, { root }), { message: new RegExp(`more than the ${lying.declared} bytes`) });
  emptyStoreButConfig(t, root);
  const tsboxSent = lying.sent.reduce((a, b) => a + b, 0);
  t.log(`tsbox: the server got ${(tsboxSent / 2 ** 20).toFixed(1)} MiB out before tsbox hung up (the blob is declared as ${lying.declared} bytes)`);
  // What left the server is what the kernel's socket buffers take at most, not the 256 MiB on offer.
  t.true(tsboxSent < 32 << 20, `${tsboxSent} bytes sent`);
  // Declared by a Content-Length too: refused before the body is read; a manifest without end likewise.
  for (const [tag, message] of [['length', `more than the ${lying.declared} bytes`], ['huge', 'more than 4194304 bytes']]) {
    const before = lying.sent.length;
    await t.throwsAsync(pull(`${lying.addr}/lying:${tag}`, { root }), { message: new RegExp(message) });
    const sent = lying.sent.slice(before).reduce((a, b) => a + b, 0);
    t.true(sent < 32 << 20, `${tag}: ${sent} bytes sent`);
  }
  emptyStoreButConfig(t, root);
  if (havePodman) {
    const pm = podman(work);
    t.teardown(() => pm.remove());
    const before = lying.sent.length;
    const p = await pm.run(['pull', '--tls-verify=false', `${lying.addr}/lying:latest`]);
    const podmanSent = lying.sent.slice(before).reduce((a, b) => a + b, 0);
    t.log(`podman: exit ${p.code}, the server got ${(podmanSent / 2 ** 20).toFixed(1)} MiB out (${p.stderr.trim().split('\n').pop()})`);
    t.true(p.code !== 0, 'podman refuses the blob too');
    t.true(tsboxSent <= Math.max(podmanSent, 32 << 20), 'tsbox reads no more than podman');
  }
});

test('a layer whose bytes do not match its digest: one line, and nothing of it or of the image stays; podman compared', async (t) => {
  const lying = await startLyingRegistry();
  t.teardown(() => lying.stop());
  const name = `${lying.addr}/lying:mismatch`;
  const nothingLeft = (root: string) => {
    const store = new Store(root);
    t.deepEqual(store.images(), []);
    // Not the layer, nor its record or blob, nor the (verified) config, nor a temporary file or directory.
    for (const d of ['layers', 'trees', 'blobs/sha256', 'tmp']) t.deepEqual(readdirSync(join(store.dir, d)), [], d);
  };
  // The layer is a valid tar that unpacks completely before its digest is known.
  const root = newRoot();
  await t.throwsAsync(pull(name, { root }), { message: /^blob sha256:[a-f0-9]{64}: downloaded content has digest sha256:[a-f0-9]{64}$/ });
  nothingLeft(root);
  // The same tar, uncompressed and named by its own digest, is pulled: only the digest was wrong.
  const honest = newRoot();
  const rec = await pull(`${lying.addr}/lying:plain`, { root: honest });
  t.is(readFileSync(join(new Store(honest).layerPath(rec.diffIds[0]), 'etc', 'motd'), 'utf8'), 'unverified');
  t.deepEqual(readdirSync(join(new Store(honest).dir, 'tmp')), []);
  // A layer with the right digest that is no gzip past its header: one line naming the layer, no hang.
  const broken = newRoot();
  await t.throwsAsync(pull(`${lying.addr}/lying:broken`, { root: broken }), { message: /^layer sha256:[a-f0-9]{64}: [^\n]+$/ });
  nothingLeft(broken);
  const cli = newRoot();
  const r = await tsbox(cli, ['pull', '-q', name]);
  t.is(r.code, 125);
  t.regex(r.stderr, /^tsbox: blob sha256:[a-f0-9]{64}: downloaded content has digest sha256:[a-f0-9]{64}\n$/);
  nothingLeft(cli);
  if (havePodman) {
    const pm = podman(work);
    t.teardown(() => pm.remove());
    const p = await pm.run(['pull', '--tls-verify=false', name]);
    t.log(`podman: exit ${p.code} (${p.stderr.trim().split('\n').pop()})`);
    t.not(p.code, 0, 'podman refuses it too');
  }
});

function emptyStoreButConfig(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void; true: (a: boolean, m?: string) => void }, root: string): void {
  const store = new Store(root);
  t.deepEqual(store.images(), []);
  t.deepEqual(readdirSync(join(store.dir, 'layers')), []);
  t.deepEqual(readdirSync(join(store.dir, 'tmp')), []);
  // The config (small, verified) may stay; no blob bigger than what was declared was kept.
  for (const b of readdirSync(join(store.dir, 'blobs', 'sha256'))) t.true(statSync(join(store.dir, 'blobs', 'sha256', b)).size < 4096);
}

test('a gzip bomb stops at TSBOX_MAX_LAYER_SIZE in pull, load and import; nothing is left; podman compared', async (t) => {
  const root = newRoot();
  const name = `${reg.addr}/bomb:latest`;
  const env = { TSBOX_MAX_LAYER_SIZE: '4m' };
  let r = await tsbox(root, ['pull', '-q', name], env);
  t.is(r.code, 125);
  t.regex(r.stderr, /^tsbox: .*uncompressed.* more than 4 MiB \(TSBOX_MAX_LAYER_SIZE\)[^\n]*\n$/);
  const store = new Store(root);
  t.deepEqual(store.images(), []);
  t.deepEqual(readdirSync(join(store.dir, 'layers')), []);
  t.deepEqual(readdirSync(join(store.dir, 'tmp')), []);
  t.true(duBytes(root) < 2 << 20, `the store holds ${duBytes(root)} bytes`);
  // Nothing of the refused layer stays, not even its (verified) blob: it is taken from the registry.
  t.deepEqual(readdirSync(join(store.dir, 'blobs', 'sha256')), []);
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
  const man = (await (await fetch(`http://${reg.addr}/v2/bomb/manifests/latest`, { headers: { accept } })).json()) as { layers: { digest: string }[] };
  const bombBytes = Buffer.from(await (await fetch(`http://${reg.addr}/v2/bomb/blobs/${man.layers[0].digest}`)).arrayBuffer());
  const tarball = join(work, 'bomb.tar.gz');
  writeFileSync(tarball, bombBytes);
  const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const archive = join(work, 'bomb-archive.tar.gz');
  writeFileSync(archive, gzipSync(tarOf([{ name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['bomb:load'], Layers: ['l.tar.gz'] }]) }, { name: 'c.json', data: cfg }, { name: 'l.tar.gz', data: bombBytes }])));
  for (const argv of [['load', '-i', archive], ['import', tarball, 'bomb:import']]) {
    const other = newRoot();
    r = await tsbox(other, argv, env);
    t.not(r.code, 0, argv[0]);
    t.regex(r.stderr, /more than 4 MiB \(TSBOX_MAX_LAYER_SIZE\)[^\n]*\n$/, argv[0]);
    emptyStore(t, other, argv[0]);
  }
  if (havePodman) {
    const pm = podman(work);
    t.teardown(() => pm.remove());
    const p = await pm.run(['pull', '--tls-verify=false', name]);
    t.log(`podman: exit ${p.code}, its storage holds ${(duBytes(pm.dir) / 2 ** 20).toFixed(1)} MiB after pulling the bomb (tsbox: refused at 4 MiB)`);
    t.true(p.code !== 0 || duBytes(pm.dir) >= BOMB, 'podman has no bound: it unpacked it all');
  }
});

test.serial('a gzip bomb stops before the store filesystem is full', async (t) => {
  const mnt = mkdtempSync(join(work, 'small-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tsbox-test-small', mnt]);
  t.teardown(() => spawnSync('umount', ['-l', mnt]));
  const r = await tsbox(mnt, ['pull', '-q', `${reg.addr}/bomb:latest`]);
  t.is(r.code, 125);
  t.regex(r.stderr, /^tsbox: .*more than the \d+(\.\d+)? MiB free .*\n$/);
  t.false(r.stderr.includes('ENOSPC'));
  const store = new Store(mnt);
  t.deepEqual(readdirSync(join(store.dir, 'layers')), []);
  t.deepEqual(readdirSync(join(store.dir, 'tmp')), []);
  t.true(duBytes(mnt) < 2 << 20);
});

test.serial('save onto a filesystem that fills up: one line, exit 1, no half-written archive', async (t) => {
  const root = newRoot();
  const name = `${reg.addr}/busybox:oci`;
  t.is((await tsbox(root, ['pull', '-q', name])).code, 0);
  const mnt = mkdtempSync(join(work, 'tiny-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tsbox-test-tiny', mnt]);
  t.teardown(() => spawnSync('umount', ['-l', mnt]));
  const r = await tsbox(root, ['save', '-o', join(mnt, 'x.tar'), name]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^Error: write .*x\.tar: .*ENOSPC[^\n]*\n$/);
  t.deepEqual(readdirSync(mnt), []);
  t.deepEqual(readdirSync(join(root, 'images', 'tmp')), []);
});

// ---------------------------------------------------------------------------------------------------
// 10. Errors are one line with docker's exit codes.

test('save to a directory that does not exist, and an invalid reference: one-line errors', async (t) => {
  const root = newRoot();
  const name = `${reg.addr}/busybox:oci`;
  t.is((await tsbox(root, ['pull', '-q', name])).code, 0);
  let r = await tsbox(root, ['save', '-o', '/nonexistent/x.tar', name]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^Error: .*\/nonexistent\/x\.tar.*ENOENT[^\n]*\n$/);
  t.false(existsSync('/nonexistent'));
  r = await tsbox(root, ['run', '--rm', 'Bad/Ref:x', 'true']);
  t.is(r.code, 125);
  t.false(r.stderr.includes('Unable to find image'), r.stderr);
  t.regex(r.stderr, /^tsbox: invalid reference "Bad\/Ref:x"[^\n]*\n$/);
});

// ---------------------------------------------------------------------------------------------------
// Registries that keep blobs elsewhere (S3, a CDN) answer a blob's GET with a redirect there.

test("a registry that redirects blobs to another host: followed, the registry's credentials never sent there; podman compared", async (t) => {
  const { createServer, request } = await import('node:http');
  type Seen = { method: string; url: string; authorization?: string };
  const front: Seen[] = [];
  const storage: Seen[] = [];
  const [user, password] = ['alice', 's3cret'];
  const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const forward = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, path: string) => {
    const headers = { ...req.headers };
    delete headers.authorization;
    delete headers.host;
    const up = request(`http://${reg.addr}${path}`, { method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const listen = (s: import('node:http').Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as import('node:net').AddressInfo).port)));
  // The storage: serves blobs to anyone who has the URL, and records who sent what.
  const store = createServer((req, res) => {
    storage.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    forward(req, res, req.url!.replace(/^\/storage/, '/v2'));
  });
  const storagePort = await listen(store);
  // The registry: basic auth, manifests itself, every blob a 307 to the storage (another origin).
  const registry = createServer((req, res) => {
    front.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    if (req.headers.authorization !== basic) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-length': 0 });
      return res.end();
    }
    if (/\/blobs\/sha256:/.test(req.url!)) {
      res.writeHead(307, { location: `http://127.0.0.1:${storagePort}${req.url!.replace(/^\/v2/, '/storage')}`, 'content-length': 0 });
      return res.end();
    }
    forward(req, res, req.url!);
  });
  const port = await listen(registry);
  try {
    const ref = `127.0.0.1:${port}/busybox:oci`;
    const root = newRoot();
    const img = await pull(ref, { root, credentials: { username: user, password } });
    t.truthy(img.config);
    const v = await tsbox(root, ['image', 'verify', ref]);
    t.is(v.code, 0, v.stderr);
    t.true(storage.length >= 2, 'the config and the layer came from the storage');
    t.deepEqual(storage.filter((s) => s.authorization !== undefined), [], 'no credentials sent to the storage');
    t.true(front.some((f) => f.authorization === basic), 'the registry got them');
    if (havePodman) {
      const p = podman(work);
      storage.length = 0;
      try {
        const r = await p.run(['pull', '-q', '--tls-verify=false', '--creds', `${user}:${password}`, ref]);
        t.is(r.code, 0, r.stderr);
        t.true(storage.length >= 2);
        t.deepEqual(storage.filter((s) => s.authorization !== undefined), [], 'podman: no credentials sent to the storage');
      } finally {
        p.remove();
      }
    }
  } finally {
    for (const s of [registry, store]) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }
});

test('a connection lost under a layer answered early (while the config still comes) fails the pull with one error; the process lives on', async (t) => {
  const { createServer, request } = await import('node:http');
  let cut = 0;
  const server = createServer((req, res) => {
    const url = req.url!;
    if (/\/blobs\/sha256:/.test(url)) {
      // The layer: its headers and a few bytes, then the connection drops while nobody reads it yet.
      if (!/config|manifests/.test(url)) {
        const up = request(`http://${reg.addr}${url}`, (r) => {
          const isConfig = Number(r.headers['content-length']) < 4096;
          if (isConfig) {
            // The config comes late: the layers' answers wait unread meanwhile.
            setTimeout(() => {
              res.writeHead(r.statusCode ?? 502, r.headers);
              r.pipe(res);
            }, 300);
            return;
          }
          r.destroy();
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': r.headers['content-length'] });
          res.write(Buffer.alloc(16));
          cut++;
          setTimeout(() => res.socket?.destroy(), 20);
        });
        up.end();
        return;
      }
    }
    const up = request(`http://${reg.addr}${url}`, { method: req.method, headers: { accept: req.headers.accept ?? '*/*' } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.end();
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as import('node:net').AddressInfo).port)));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const root = newRoot();
  const e = await t.throwsAsync(pull(`127.0.0.1:${port}/busybox:oci`, { root }));
  t.log(e?.message);
  t.true(cut >= 1, 'a layer was cut');
  emptyStoreButConfig(t, root);
});
