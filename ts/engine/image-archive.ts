// docker save / load / import / image prune over the image store, with files or streams: what the CLI and
// the library share (the formats themselves are ts/images/archive.ts's).
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { prune as pruneBlobs } from '../images/prune.js';
import { Store } from '../images/store.js';
import { dirSize } from '../images/manage.js';
import { join } from 'node:path';
import { listRecords } from './containers.js';
import { recordEvent } from './events.js';

/** A path, or a stream (spooled through the store's temp dir: the formats need to seek). */
export type ArchiveSource = string | Readable;
export type ArchiveTarget = string | Writable;

/** What image prune removed, docker's shape (POST /images/prune), with the store's unreferenced blobs. */
export interface ImagePruneResult {
  ImagesDeleted: ({ Untagged: string } | { Deleted: string })[];
  /** Blobs and unpacked layers no image refers to any more (sha256:...). */
  BlobsDeleted: string[];
  /** Bytes the store's blobs and layers took less afterwards. */
  SpaceReclaimed: number;
}

export interface ImagePruneOptions {
  /** docker image prune -a: every image no container uses (default: the dangling ones only). */
  all?: boolean;
  /** label / label! (KEY or KEY=VALUE) on the images -a removes. */
  filters?: { label?: string[]; 'label!'?: string[] };
}

async function spool<T>(root: string, what: string, fn: (path: string) => Promise<T>): Promise<T> {
  const tmp = new Store(root).tempPath(what);
  try {
    return await fn(tmp);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** docker save: one or more images (names or ids) as one docker-archive tar, to a file or a stream. */
export async function saveImages(root: string, names: string[], out: ArchiveTarget): Promise<void> {
  if (!names.length) throw new TypeError('save: want at least one image');
  // The formats (tar, layers, the registry's unpacker) load with the commands that use them.
  const { save } = await import('../images/archive.js');
  if (typeof out === 'string') await save(root, names, out);
  else {
    await spool(root, 'save-out', async (tmp) => {
      await save(root, names, tmp);
      await pipeline(createReadStream(tmp), out);
    });
  }
  recordEvent(root, 'image', 'save', names.join(','), { name: names.join(',') });
}

/** What load gave a name: `replaced` the id the name meant before, when another (it stays, dangling). */
export interface Loaded {
  name: string;
  id: string;
  replaced?: string;
}

/** docker load: a docker-archive or OCI archive (maybe compressed) from a file or a stream; the names loaded. */
export async function loadImages(root: string, input: ArchiveSource): Promise<Loaded[]> {
  const { load } = await import('../images/archive.js');
  const before = new Map(new Store(root).images().map((r) => [r.name, r.config]));
  const recs = typeof input === 'string' ? await load(root, input) : await spool(root, 'load-in', async (tmp) => {
    await pipeline(input, createWriteStream(tmp, { mode: 0o600 }));
    return load(root, tmp);
  });
  for (const r of recs) recordEvent(root, 'image', 'load', r.config, { name: r.name });
  return recs.map((r) => {
    const prev = before.get(r.name);
    return { name: r.name, id: r.config, ...(r.name && prev && prev !== r.config ? { replaced: prev } : {}) };
  });
}

/** docker import: a rootfs tarball (maybe compressed) as a one-layer image named `name`, with Dockerfile-style changes. */
export async function importImage(root: string, input: ArchiveSource, name: string, changes: string[] = []): Promise<{ name: string; id: string }> {
  const { importRootfs } = await import('../images/archive.js');
  const rec = typeof input === 'string' ? await importRootfs(root, input, name, changes) : await spool(root, 'import-in', async (tmp) => {
    await pipeline(input, createWriteStream(tmp, { mode: 0o600 }));
    return importRootfs(root, tmp, name, changes);
  });
  recordEvent(root, 'image', 'import', rec.config, { name: rec.name });
  return { name: rec.name, id: rec.config };
}

function labelsMatch(labels: Record<string, string>, want: string[], negate: boolean): boolean {
  return want.every((x) => {
    const [k, v] = x.split(/=(.*)/s);
    const has = k in labels && (v === undefined || labels[k] === v);
    return negate ? !has : has;
  });
}

/**
 * docker image prune: each dangling image (with all, each image) no container (running or not) uses is
 * removed through `remove` (untag, then delete); then the blobs and layers nothing refers to any more.
 */
export function pruneImages(
  root: string,
  o: ImagePruneOptions,
  images: { list(): { Id: string; RepoTags: string[]; Labels: Record<string, string> }[]; remove(n: string): ({ Untagged: string } | { Deleted: string })[] },
): ImagePruneResult {
  for (const k of Object.keys(o.filters ?? {})) if (k !== 'label' && k !== 'label!') throw new TypeError(`invalid filter '${k}' for image prune (label, label!)`);
  const deleted: ImagePruneResult['ImagesDeleted'] = [];
  const store = new Store(root);
  // The space: the blobs (one flat directory) and the unpacked layers of the images removed that went
  // with them, measured before; not a walk of every layer in the store.
  const blobBytes = () => dirSize(join(store.dir, 'blobs'));
  const blobsBefore = blobBytes();
  const layerBytes = new Map<string, number>();
  const used = new Set(listRecords(root).map((r) => r.ImageId));
  for (const i of images.list()) {
    if (used.has(i.Id) || (!o.all && i.RepoTags.length)) continue; // dangling: no tag
    if (!labelsMatch(i.Labels, o.filters?.label ?? [], false) || !labelsMatch(i.Labels, o.filters?.['label!'] ?? [], true)) continue;
    // As dockerd: each of its names (tags and digests; a tag's removal may take its digests along), or its id.
    const recs = store.images().filter((r) => r.config === i.Id);
    for (const d of recs[0]?.diffIds ?? []) if (!layerBytes.has(d)) layerBytes.set(d, dirSize(store.layerPath(d)));
    const names = recs.filter((r) => r.name !== '').map((r) => r.name);
    if (!names.length) deleted.push(...images.remove(i.Id));
    for (const name of names) if (store.images().some((r) => r.name === name)) deleted.push(...images.remove(name));
  }
  const blobs = pruneBlobs(root);
  let layers = 0;
  for (const [d, n] of layerBytes) if (!store.hasLayer(d)) layers += n;
  return { ImagesDeleted: deleted, BlobsDeleted: blobs, SpaceReclaimed: Math.max(0, blobsBefore - blobBytes()) + layers };
}
