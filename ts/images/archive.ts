// save / load / import: docker-archive tars (docker save's format, which docker, podman and skopeo read),
// OCI image archives, and plain rootfs tarballs.
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, createReadStream, createWriteStream, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { decompress, hostPlatform, unpack } from './pull.js';
import { extractLayer } from './extract.js';
import { bounded } from './limits.js';
import { hasMember, memberPath } from './members.js';
import { parseReference } from './reference.js';
import { Store, type ImageRecord, hex, sha256 } from './store.js';
import { findImage } from './manage.js';
import { TarWriter } from './tar-writer.js';
import { recordImage } from './built.js';
import { removeTree } from './tree.js';
import { TsboxError } from '../errors.js';

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** The digest of a layer's uncompressed content; decompression stops at the layer bound (limits.ts). */
async function sha256Decompressed(store: Store, path: string): Promise<string> {
  const h = createHash('sha256');
  const src = await decompress(path);
  const count = bounded(store.dir, { onChunk: (b) => h.update(b) });
  src.on('error', (e) => count.destroy(e));
  try {
    for await (const _ of src.pipe(count));
  } finally {
    src.destroy();
  }
  return `sha256:${h.digest('hex')}`;
}

/** Creates the output file first: a path that cannot be written is a one-line error before any work. */
function openOutput(out: string): { path: string; fd: number } {
  const path = `${out}.partial${process.pid}`;
  try {
    return { path, fd: openSync(path, 'wx', 0o644) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`open ${out}: ${err.code ?? err.message}${err.code ? ` (${err.message.replace(/^\w+: /, '').replace(/, open .*$/, '')})` : ''}`);
  }
}

/** docker save: one tar with manifest.json, each config, and each layer uncompressed (every blob checked). */
export async function save(root: string, names: string[], out: string): Promise<void> {
  const store = new Store(root);
  const recs = names.map((n) => {
    const r = findImage(store, n);
    if (!r) throw new TsboxError(`No such image: ${n}`, 'ERR_NO_SUCH_IMAGE');
    return r;
  });
  const { path: partial, fd } = openOutput(out);
  const tmp = store.tempPath('save');
  const ws = createWriteStream('', { fd });
  // Write errors reach the writer's callbacks; without a listener the stream would also throw them.
  ws.on('error', () => undefined);
  const writer = new TarWriter(ws);
  const put = async (fn: (w: TarWriter) => Promise<void>) => {
    try {
      await fn(writer);
    } catch (e) {
      throw new Error(`write ${out}: ${(e as Error).message}`);
    }
  };
  try {
    mkdirSync(tmp);
    const w = { addBuffer: (n: string, b: Buffer) => put((x) => x.addBuffer(n, b)), addFile: (n: string, f: string) => put((x) => x.addFile(n, f)), finish: () => put((x) => x.finish()) };
    const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    const written = new Set<string>();
    for (const r of recs) {
      const cfgName = `${hex(r.config)}.json`;
      if (!written.has(cfgName)) await w.addBuffer(cfgName, store.readBlob(r.config));
      written.add(cfgName);
      const m = store.readJson<{ layers: { digest: string }[] }>(r.manifest, 'manifest');
      const layers: string[] = [];
      for (let i = 0; i < r.diffIds.length; i++) {
        const name = `${hex(r.diffIds[i])}/layer.tar`;
        layers.push(name);
        if (written.has(name)) continue;
        written.add(name);
        const layerTar = join(tmp, hex(r.diffIds[i]));
        const digest = m.layers[i].digest;
        await store.checkBlob(digest);
        const h = createHash('sha256');
        const src = await decompress(store.blobPath(digest));
        await pipeline(src, bounded(store.dir, { archive: true, onChunk: (b) => h.update(b) }), createWriteStream(layerTar));
        const got = `sha256:${h.digest('hex')}`;
        if (got !== r.diffIds[i]) throw new Error(`blob ${digest} in the store is corrupt (it unpacks to ${got}, not ${r.diffIds[i]}): pull the image again`);
        await w.addFile(name, layerTar);
        rmSync(layerTar);
      }
      // docker writes Hub names short ("busybox:latest"); loaders accept both. A dangling image has none.
      const p = r.name ? parseReference(r.name) : undefined;
      const tags = !p ? [] : [p.registry === 'docker.io' ? `${p.repository.replace(/^library\//, '')}:${p.tag ?? 'latest'}` : r.name];
      const existing = manifest.find((e) => e.Config === cfgName);
      if (existing) existing.RepoTags.push(...tags);
      else manifest.push({ Config: cfgName, RepoTags: tags, Layers: layers });
    }
    await w.addBuffer('manifest.json', Buffer.from(JSON.stringify(manifest)));
    await w.finish();
    renameSync(partial, out);
  } finally {
    if (!ws.closed) ws.destroy();
    rmSync(tmp, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
}

type Layer = { digest: string; size: number; diffId: string; gzip: boolean };

/** Stores an uncompressed-or-compressed layer file as a blob and unpacks it; returns its descriptor. */
async function addLayer(store: Store, file: string, diffId: string | undefined): Promise<Layer> {
  const digest = await sha256File(file);
  const actual = await sha256Decompressed(store, file);
  if (diffId && actual !== diffId) throw new Error(`layer ${file}: uncompressed content has digest ${actual}, the config says ${diffId}`);
  // A copy in the store is reused only when intact; otherwise this one replaces it (temp file + rename).
  if (!store.hasBlob(digest) || (await store.blobMismatch(digest))) {
    const tmp = store.tempPath('blob');
    try {
      copyFileSync(file, tmp);
      store.commitBlob(tmp, digest);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  await unpack(store, store.blobPath(digest), actual, digest);
  const magic = Buffer.alloc(2);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, magic, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  return { digest, size: statSync(file).size, diffId: actual, gzip: magic[0] === 0x1f && magic[1] === 0x8b };
}

function record(store: Store, configBytes: Buffer, layers: Layer[], names: string[]): ImageRecord[] {
  const descriptors = layers.map((l) => ({ mediaType: `application/vnd.oci.image.layer.v1.tar${l.gzip ? '+gzip' : ''}`, digest: l.digest, size: l.size }));
  return recordImage(store, configBytes, descriptors, layers.map((l) => l.diffId), names);
}

function parseJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${what} is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

/** An image found in an archive: every file it needs, resolved inside the archive, before anything is stored. */
interface Planned {
  configBytes: Buffer;
  layers: string[];
  diffIds: string[];
  names: string[];
}

function planDockerArchive(tmp: string): Planned[] {
  const items = parseJson<{ Config: string; RepoTags?: string[]; Layers: string[] }[]>(memberPath(tmp, 'manifest.json', 'manifest.json'), 'manifest.json');
  if (!Array.isArray(items)) throw new Error('manifest.json is not a list of images');
  return items.map((it, n) => {
    const configBytes = readFileSync(memberPath(tmp, it.Config, `manifest.json's Config of image ${n + 1}`));
    const layers = (it.Layers ?? []).map((l, i) => memberPath(tmp, l, `manifest.json's layer ${i + 1} of image ${n + 1}`));
    return { configBytes, layers, diffIds: diffIdsOf(configBytes, it.Config), names: it.RepoTags ?? [] };
  });
}

function diffIdsOf(configBytes: Buffer, what: string): string[] {
  try {
    return (JSON.parse(configBytes.toString()) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
  } catch (e) {
    throw new Error(`config ${JSON.stringify(what)} is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

function planOciArchive(tmp: string): Planned[] {
  // A blob is read only when its content has the digest that names it.
  const blob = (d: string, what: string) => {
    const data = readFileSync(memberPath(tmp, `blobs/sha256/${hex(d)}`, what));
    if (sha256(data) !== d) throw new Error(`${what} ${d}: its content has digest ${sha256(data)}`);
    return data;
  };
  const index = parseJson<{ manifests?: { digest: string; annotations?: Record<string, string> }[] }>(memberPath(tmp, 'index.json', 'index.json'), 'index.json');
  return (index.manifests ?? []).map((d) => {
    let doc = JSON.parse(blob(d.digest, 'manifest').toString()) as { manifests?: { digest: string; platform?: { os: string; architecture: string } }[]; config?: { digest: string }; layers?: { digest: string }[] };
    if (doc.manifests) {
      const [os, arch] = hostPlatform().split('/');
      const pick = doc.manifests.find((m) => m.platform?.os === os && m.platform?.architecture === arch) ?? doc.manifests[0];
      doc = JSON.parse(blob(pick.digest, 'manifest').toString());
    }
    if (!doc.config) throw new Error(`manifest ${d.digest} has no config`);
    const configBytes = blob(doc.config.digest, 'config');
    const layers = (doc.layers ?? []).map((l) => memberPath(tmp, `blobs/sha256/${hex(l.digest)}`, `layer ${l.digest}`));
    const a = d.annotations ?? {};
    const ref = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name'] ?? 'latest';
    // A bare tag names no repository: such images load as localhost/image:<tag>.
    const name = /[/:]/.test(ref) ? ref : `localhost/image:${ref}`;
    return { configBytes, layers, diffIds: diffIdsOf(configBytes, doc.config.digest), names: [name] };
  });
}

/** docker load: a docker-archive or an OCI image archive (optionally compressed). */
export async function load(root: string, file: string): Promise<ImageRecord[]> {
  const store = new Store(root);
  const tmp = store.tempPath('load');
  try {
    mkdirSync(tmp);
    // The whole archive may hold many layers: bounded by the store's free space only.
    const src = await decompress(file);
    const count = bounded(store.dir, { archive: true, what: 'uncompressed, the archive' });
    src.on('error', (e) => count.destroy(e));
    try {
      await extractLayer(src.pipe(count), tmp);
    } finally {
      src.destroy();
    }
    let plan: Planned[];
    if (hasMember(tmp, 'manifest.json')) plan = planDockerArchive(tmp);
    else if (hasMember(tmp, 'index.json')) plan = planOciArchive(tmp);
    else throw new Error('neither a docker-archive (manifest.json) nor an OCI archive (index.json)');
    const out: ImageRecord[] = [];
    for (const p of plan) {
      const layers: Layer[] = [];
      for (let i = 0; i < p.layers.length; i++) layers.push(await addLayer(store, p.layers[i], p.diffIds[i]));
      out.push(...record(store, p.configBytes, layers, p.names));
    }
    return out;
  } catch (e) {
    throw new Error(`load ${file}: ${(e as Error).message.replaceAll(`${tmp}/`, '')}`);
  } finally {
    removeTree(tmp);
  }
}

/** docker import --change: EXPOSE, ENV, CMD and ENTRYPOINT (JSON form), WORKDIR, USER, VOLUME. */
export function applyChanges(changes: string[]): Record<string, unknown> {
  const c: { ExposedPorts?: Record<string, object>; Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string; Volumes?: Record<string, object> } = {};
  for (const ch of changes) {
    const m = /^\s*(\w+)\s+(.+?)\s*$/.exec(ch);
    if (!m) throw new Error(`import --change ${JSON.stringify(ch)}: want INSTRUCTION ARGS`);
    const [, ins, arg] = m;
    const json = () => {
      try {
        const v = JSON.parse(arg);
        if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
      } catch {
        // shell form
      }
      return ['/bin/sh', '-c', arg];
    };
    switch (ins.toUpperCase()) {
      case 'EXPOSE':
        for (const p of arg.split(/\s+/)) (c.ExposedPorts ??= {})[p.includes('/') ? p : `${p}/tcp`] = {};
        break;
      case 'ENV':
        (c.Env ??= []).push(arg.includes('=') ? arg : arg.replace(/\s+/, '='));
        break;
      case 'CMD':
        c.Cmd = json();
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = json();
        break;
      case 'WORKDIR':
        c.WorkingDir = arg;
        break;
      case 'USER':
        c.User = arg;
        break;
      case 'VOLUME':
        for (const p of arg.startsWith('[') ? json() : arg.split(/\s+/)) (c.Volumes ??= {})[p] = {};
        break;
      default:
        throw new Error(`import --change ${JSON.stringify(ch)}: ${ins} is not supported (EXPOSE, ENV, CMD, ENTRYPOINT, WORKDIR, USER, VOLUME)`);
    }
  }
  return c;
}

/** docker import: a rootfs tarball (plain or compressed) as a one-layer image. */
export async function importRootfs(root: string, file: string, name: string, changes: string[] = []): Promise<ImageRecord> {
  const store = new Store(root);
  const imageConfig = applyChanges(changes);
  const layer = await addLayer(store, file, undefined);
  const [os, architecture] = hostPlatform().split('/');
  const config = Buffer.from(JSON.stringify({ architecture, os, created: new Date().toISOString(), config: imageConfig, rootfs: { type: 'layers', diff_ids: [layer.diffId] } }));
  return record(store, config, [layer], name ? [name] : [])[0];
}

export { prune } from './prune.js';
