// save / load / import: docker-archive tars (docker save's format, which docker, podman and skopeo read),
// OCI image archives, and plain rootfs tarballs.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { decompress, hostPlatform, unpack } from './pull.js';
import { extractLayer } from './extract.js';
import { formatReference, parseReference } from './reference.js';
import { Store, type ImageRecord, hex } from './store.js';
import { findImage } from './manage.js';
import { TarWriter } from './tar-writer.js';
import { removeTree } from './tree.js';

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

async function sha256Decompressed(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of await decompress(path)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** docker save: one tar with manifest.json, each config, and each layer uncompressed. */
export async function save(root: string, names: string[], out: string): Promise<void> {
  const store = new Store(root);
  const recs = names.map((n) => {
    const r = findImage(store, n);
    if (!r) throw new Error(`No such image: ${n}`);
    return r;
  });
  const tmp = store.tempPath('save');
  mkdirSync(tmp);
  const partial = `${out}.partial${process.pid}`;
  try {
    const w = new TarWriter(createWriteStream(partial));
    const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    const written = new Set<string>();
    for (const r of recs) {
      const cfgName = `${hex(r.config)}.json`;
      if (!written.has(cfgName)) await w.addBuffer(cfgName, store.readBlob(r.config));
      written.add(cfgName);
      const m = JSON.parse(store.readBlob(r.manifest).toString()) as { layers: { digest: string }[] };
      const layers: string[] = [];
      for (let i = 0; i < r.diffIds.length; i++) {
        const name = `${hex(r.diffIds[i])}/layer.tar`;
        layers.push(name);
        if (written.has(name)) continue;
        written.add(name);
        const layerTar = join(tmp, hex(r.diffIds[i]));
        await pipeline(await decompress(store.blobPath(m.layers[i].digest)), createWriteStream(layerTar));
        await w.addFile(name, layerTar);
        rmSync(layerTar);
      }
      const p = parseReference(r.name);
      // docker writes Hub names short ("busybox:latest"); loaders accept both.
      const tag = p.registry === 'docker.io' ? `${p.repository.replace(/^library\//, '')}:${p.tag ?? 'latest'}` : r.name;
      const existing = manifest.find((e) => e.Config === cfgName);
      if (existing) existing.RepoTags.push(tag);
      else manifest.push({ Config: cfgName, RepoTags: [tag], Layers: layers });
    }
    await w.addBuffer('manifest.json', Buffer.from(JSON.stringify(manifest)));
    await w.finish();
    renameSync(partial, out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
}

/** Stores an uncompressed-or-compressed layer file as a blob and unpacks it; returns its descriptor. */
async function addLayer(store: Store, file: string, diffId: string | undefined): Promise<{ digest: string; size: number; diffId: string; gzip: boolean }> {
  const digest = await sha256File(file);
  const actual = await sha256Decompressed(file);
  if (diffId && actual !== diffId) throw new Error(`layer ${file}: uncompressed content has digest ${actual}, the config says ${diffId}`);
  if (!store.hasBlob(digest)) copyFileSync(file, store.blobPath(digest));
  await unpack(store, store.blobPath(digest), actual, digest);
  const magic = readFileSync(file).subarray(0, 2);
  return { digest, size: readFileSync(file).length, diffId: actual, gzip: magic[0] === 0x1f && magic[1] === 0x8b };
}

function record(store: Store, configBytes: Buffer, layers: { digest: string; size: number; diffId: string; gzip: boolean }[], names: string[]): ImageRecord[] {
  const config = `sha256:${createHash('sha256').update(configBytes).digest('hex')}`;
  store.writeBlob(config, configBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: `application/vnd.oci.image.layer.v1.tar${l.gzip ? '+gzip' : ''}`, digest: l.digest, size: l.size })),
    }),
  );
  const mdigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
  store.writeBlob(mdigest, manifest);
  const recs = names.map((n) => ({ name: formatReference(parseReference(n)), manifest: mdigest, config, diffIds: layers.map((l) => l.diffId), created: new Date().toISOString() }));
  for (const r of recs) store.tag(r);
  return recs;
}

/** docker load: a docker-archive or an OCI image archive (optionally compressed). */
export async function load(root: string, file: string): Promise<ImageRecord[]> {
  const store = new Store(root);
  const tmp = store.tempPath('load');
  mkdirSync(tmp);
  try {
    await extractLayer(await decompress(file), tmp);
    const out: ImageRecord[] = [];
    if (existsSync(join(tmp, 'manifest.json'))) {
      const items = JSON.parse(readFileSync(join(tmp, 'manifest.json'), 'utf8')) as { Config: string; RepoTags?: string[]; Layers: string[] }[];
      for (const it of items) {
        const configBytes = readFileSync(join(tmp, it.Config));
        const diffIds = (JSON.parse(configBytes.toString()) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
        const layers = [];
        for (let i = 0; i < it.Layers.length; i++) layers.push(await addLayer(store, join(tmp, it.Layers[i]), diffIds[i]));
        out.push(...record(store, configBytes, layers, it.RepoTags ?? []));
      }
    } else if (existsSync(join(tmp, 'index.json'))) {
      const index = JSON.parse(readFileSync(join(tmp, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
      const blob = (d: string) => join(tmp, 'blobs', 'sha256', hex(d));
      for (const d of index.manifests) {
        let doc = JSON.parse(readFileSync(blob(d.digest), 'utf8')) as { manifests?: { digest: string; platform?: { os: string; architecture: string } }[]; config?: { digest: string }; layers?: { digest: string }[] };
        if (doc.manifests) {
          const [os, arch] = hostPlatform().split('/');
          const pick = doc.manifests.find((m) => m.platform?.os === os && m.platform?.architecture === arch) ?? doc.manifests[0];
          doc = JSON.parse(readFileSync(blob(pick.digest), 'utf8'));
        }
        const configBytes = readFileSync(blob(doc.config!.digest));
        const diffIds = (JSON.parse(configBytes.toString()) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
        const layers = [];
        for (let i = 0; i < (doc.layers ?? []).length; i++) layers.push(await addLayer(store, blob(doc.layers![i].digest), diffIds[i]));
        const a = d.annotations ?? {};
        const ref = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name'] ?? 'latest';
        // A bare tag names no repository: such images load as localhost/image:<tag>.
        const name = /[/:]/.test(ref) ? ref : `localhost/image:${ref}`;
        out.push(...record(store, configBytes, layers, [name]));
      }
    } else {
      throw new Error(`load ${file}: neither a docker-archive (manifest.json) nor an OCI archive (index.json)`);
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** docker import --change: EXPOSE, ENV, CMD and ENTRYPOINT (JSON form), WORKDIR, USER. */
export function applyChanges(changes: string[]): Record<string, unknown> {
  const c: { ExposedPorts?: Record<string, object>; Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string } = {};
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
      default:
        throw new Error(`import --change ${JSON.stringify(ch)}: ${ins} is not supported (EXPOSE, ENV, CMD, ENTRYPOINT, WORKDIR, USER)`);
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
  return record(store, config, [layer], [name])[0];
}

/** image prune: blobs and unpacked layers no tagged image refers to, and leftovers of dead pulls. */
export function prune(root: string): string[] {
  const store = new Store(root);
  return store.withLock(() => {
    store.sweepTemp();
    const keepBlobs = new Set<string>();
    const keepLayers = new Set<string>();
    for (const r of store.images()) {
      keepBlobs.add(hex(r.manifest));
      keepBlobs.add(hex(r.config));
      for (const d of r.diffIds) keepLayers.add(hex(d));
      try {
        for (const l of (JSON.parse(store.readBlob(r.manifest).toString()) as { layers: { digest: string }[] }).layers) keepBlobs.add(hex(l.digest));
      } catch {
        // a missing manifest keeps nothing more
      }
    }
    const removed: string[] = [];
    for (const [dir, keep] of [[join(store.dir, 'blobs', 'sha256'), keepBlobs], [join(store.dir, 'layers'), keepLayers]] as const) {
      for (const n of readdirSafe(dir)) {
        if (keep.has(n)) continue;
        removeTree(join(dir, n));
        removed.push(`sha256:${n}`);
      }
    }
    return removed;
  });
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
