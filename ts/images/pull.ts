// tsbox pull: manifest (an index picks the platform), config, then layers in parallel, each downloaded
// and unpacked in one pass (stream-layer.ts) and moved into place only once its digest and diff id match;
// the config, manifest and tag are recorded only once every layer is in place. A blob the store already
// holds is re-hashed before it is reused, and downloaded again when corrupt.
import { closeSync, createReadStream, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { extractLayer } from './extract.js';
import { bounded } from './limits.js';
import { writeTreeRecord } from './tree-record.js';
import { removeTree } from './tree.js';
import { isRootless, rootlessMappings } from '../runtime/rootless.js';
import { usernsRun } from '../runtime/userns-exec.js';
import { selfArgv } from '../self.js';
import { formatReference, parseReference } from './reference.js';
import { MEDIA, RegistryClient, RegistryError, type Credentials } from './registry.js';
import type { HttpResponse } from './http.js';
import { decompressor, streamLayer } from './stream-layer.js';
import { lookupCredentials } from './auth.js';
import { Store, type ImageRecord } from './store.js';
import { hostPlatform } from './host-platform.js';

export interface PullEvents {
  /** detail: bytes so far of the layer being downloaded, as docker's progressDetail. */
  status?(id: string, status: string, detail?: { current: number; total?: number }): void;
}

export interface PullOptions {
  root: string;
  /** "linux/amd64" by default (this machine's). */
  platform?: string;
  insecureRegistries?: string[];
  credentials?: Credentials;
  events?: PullEvents;
  /** Layers downloaded at once. */
  parallel?: number;
  /** Bytes one layer may take unpacked (default: TSBOX_MAX_LAYER_SIZE, else only the store's free space). */
  maxLayerSize?: number;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os: string; architecture: string; variant?: string };
}

export { hostPlatform };

function pickPlatform(index: { manifests: Descriptor[] }, want: string, name: string): Descriptor {
  const [os, arch, variant] = want.split('/');
  const m = index.manifests.find((d) => d.platform?.os === os && d.platform?.architecture === arch && (!variant || d.platform?.variant === variant));
  if (!m) {
    const have = index.manifests.map((d) => `${d.platform?.os}/${d.platform?.architecture}${d.platform?.variant ? `/${d.platform.variant}` : ''}`).join(', ');
    throw new Error(`pull ${name}: no ${want} image in the index (it has ${have || 'none'})`);
  }
  return m;
}

/** Decompresses a file by its magic bytes: gzip, zstd or plain tar (the decompressor of streamed pulls). */
export async function decompress(file: string): Promise<Readable> {
  const fd = openSync(file, 'r');
  const magic = Buffer.alloc(4);
  let n: number;
  try {
    n = readSync(fd, magic, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  const { input, output } = decompressor(magic.subarray(0, n), file);
  createReadStream(file, { highWaterMark: 1 << 18 })
    .on('error', (e) => output.destroy(e))
    .pipe(input);
  return output;
}

/**
 * Unpacks a layer blob into dir and checks its uncompressed digest (the rootless helper runs this too);
 * decompression stops at the layer bound (limits.ts). The record of what was unpacked goes to `${dir}.tree`.
 */
export async function unpackInto(blob: string, dir: string, diffId: string, maxLayerSize?: number): Promise<void> {
  const hash = createHash('sha256');
  const tee = bounded(dir, { max: maxLayerSize, onChunk: (b) => hash.update(b) });
  const src = await decompress(blob);
  src.on('error', (e) => tee.destroy(e));
  try {
    await extractLayer(src.pipe(tee), dir);
  } finally {
    src.destroy();
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== diffId) throw new Error(`uncompressed content has digest ${got}, the config says ${diffId}`);
  writeTreeRecord(dir, `${dir}.tree`);
}

/** Unpacks a downloaded layer blob into the store, checking the uncompressed digest. */
export async function unpack(store: Store, blob: string, diffId: string, label: string, maxLayerSize?: number): Promise<void> {
  if (store.hasLayer(diffId)) return;
  const tmp = store.tempPath('layer');
  mkdirSync(tmp, { mode: 0o755 });
  try {
    // Rootless with subordinate ids: unpacked inside the user namespace, so that files keep their owners.
    if (isRootless() && rootlessMappings().full) {
      const [node, args] = selfArgv('_unpack', blob, tmp, diffId);
      const max = maxLayerSize ?? process.env.TSBOX_MAX_LAYER_SIZE;
      await usernsRun([node, ...args], { env: [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, ...(max !== undefined ? [`TSBOX_MAX_LAYER_SIZE=${max}`] : [])] });
    } else await unpackInto(blob, tmp, diffId, maxLayerSize);
    commitLayer(store, tmp, diffId);
  } catch (e) {
    removeTree(tmp);
    rmSync(`${tmp}.tree`, { force: true });
    throw new Error(`layer ${label}: ${(e as Error).message}`);
  }
}

/** Moves a verified layer (tmp, with its record at `${tmp}.tree`) into place. */
function commitLayer(store: Store, tmp: string, diffId: string): void {
  // The record first: a layer in place always has one.
  renameSync(`${tmp}.tree`, store.treePath(diffId));
  try {
    renameSync(tmp, store.layerPath(diffId));
  } catch (e) {
    // Another pull unpacked the same layer first: theirs is as good as ours.
    if (!store.hasLayer(diffId)) throw e;
    removeTree(tmp);
  }
}

/**
 * Downloads and unpacks a layer in one pass (stream-layer.ts) into temporary paths of the store; the
 * blob and the layer are moved into place only once the blob's digest and the content's diff id match.
 */
async function streamInto(client: RegistryClient, store: Store, repo: string, d: Descriptor, diffId: string, opts: PullOptions, signal?: AbortSignal, response?: Promise<HttpResponse>): Promise<void> {
  const short = d.digest.slice(7, 19);
  const blobTmp = store.tempPath('blob');
  const tmp = store.tempPath('layer');
  mkdirSync(tmp, { mode: 0o755 });
  opts.events?.status?.(short, 'Downloading');
  try {
    const st = statfsSync(store.dir);
    const total = Number.isSafeInteger(d.size) && d.size! >= 0 ? d.size : undefined;
    let current = 0;
    const digests = new Map<string, string>();
    await streamLayer(client, repo, d.digest, diffId, blobTmp, tmp, {
      declared: total,
      limit: st.bavail * st.bsize,
      maxLayerSize: opts.maxLayerSize,
      digests,
      signal,
      response,
      onBytes: (n) => opts.events?.status?.(short, 'Downloading', { current: (current += n), total }),
    });
    writeTreeRecord(tmp, `${tmp}.tree`, digests);
    store.commitBlob(blobTmp, d.digest);
    commitLayer(store, tmp, diffId);
  } catch (e) {
    removeTree(tmp);
    rmSync(`${tmp}.tree`, { force: true });
    rmSync(blobTmp, { force: true });
    // The registry's errors keep their class (and exit code); the rest name the layer.
    if (e instanceof RegistryError) throw e;
    throw new Error(`layer ${d.digest}: ${(e as Error).message}`);
  }
}

/** Downloads a blob the store lacks, or holds only corrupt (the download replaces it). */
async function fetchBlob(client: RegistryClient, store: Store, repo: string, d: Descriptor, events?: PullEvents): Promise<void> {
  const short = d.digest.slice(7, 19);
  if (store.hasBlob(d.digest)) {
    if (!(await store.blobMismatch(d.digest))) return;
    events?.status?.(short, 'Corrupt in the store, downloading it again');
  }
  const tmp = store.tempPath('blob');
  events?.status?.(short, 'Downloading');
  try {
    const st = statfsSync(store.dir);
    const total = Number.isSafeInteger(d.size) && d.size! >= 0 ? d.size : undefined;
    let current = 0;
    await client.blobToFile(repo, d.digest, tmp, { declared: total, limit: st.bavail * st.bsize }, (n) => events?.status?.(short, 'Downloading', { current: (current += n), total }));
    store.commitBlob(tmp, d.digest);
    events?.status?.(short, 'Download complete');
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Runs fn over items, n at once. After a failure no new item starts and the others are told to stop
 * (signal); the first error is thrown once all have ended, so nothing of the pull works on behind it.
 */
async function inParallel<T>(items: T[], n: number, fn: (x: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  let next = 0;
  let first: { e: unknown } | undefined;
  const stop = new AbortController();
  await Promise.allSettled(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (!first && next < items.length) {
        try {
          await fn(items[next++], stop.signal);
        } catch (e) {
          first ??= { e };
          stop.abort();
        }
      }
    }),
  );
  if (first) throw first.e;
}

function parseConfig(data: Buffer, digest: string): { rootfs?: { diff_ids?: string[] } } {
  try {
    return JSON.parse(data.toString()) as { rootfs?: { diff_ids?: string[] } };
  } catch (e) {
    throw new Error(`config blob ${digest} is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

export async function pull(name: string, opts: PullOptions): Promise<ImageRecord> {
  const ref = parseReference(name);
  const full = formatReference(ref);
  const store = new Store(opts.root);
  store.sweepTemp();
  const client = new RegistryClient(ref.registry, {
    credentials: opts.credentials ?? lookupCredentials(opts.root, ref.registry),
    insecureRegistries: opts.insecureRegistries,
  });
  let m = await client.manifest(ref.repository, ref.digest ?? ref.tag!);
  let doc = JSON.parse(m.body.toString()) as { mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[]; schemaVersion?: number };
  if (doc.schemaVersion === 1) throw new Error(`pull ${full}: schema 1 manifests are not supported`);
  if (m.mediaType === MEDIA.ociIndex || m.mediaType === MEDIA.dockerList || doc.manifests) {
    const chosen = pickPlatform(doc as { manifests: Descriptor[] }, opts.platform ?? hostPlatform(), full);
    m = await client.manifest(ref.repository, chosen.digest);
    doc = JSON.parse(m.body.toString());
  }
  if (!doc.config || !doc.layers) throw new Error(`pull ${full}: manifest ${m.digest} has no config or layers`);
  // The config goes into the store with the manifest, after the layers: a pull that fails leaves neither.
  const configTmp = store.hasBlob(doc.config.digest) && !(await store.blobMismatch(doc.config.digest)) ? undefined : store.tempPath('config');
  try {
    return await pullLayers({ client, store, repository: ref.repository, full, m, configDesc: doc.config, layers: doc.layers, configTmp, opts });
  } finally {
    if (configTmp) rmSync(configTmp, { force: true });
  }
}

/** What one pull of one platform's manifest works with. */
interface PullJob {
  client: RegistryClient;
  store: Store;
  repository: string;
  full: string;
  m: { body: Buffer; digest: string };
  configDesc: Descriptor;
  layers: Descriptor[];
  configTmp: string | undefined;
  opts: PullOptions;
}

async function pullLayers(job: PullJob): Promise<ImageRecord> {
  const { client, store, repository, layers, configTmp, opts } = job;
  // The first layers the store lacks are asked for while the config comes: their answers wait, unread,
  // until the config says they are needed (a layer unpacked already drops its answer unread).
  const early = new Map<string, Promise<HttpResponse>>();
  const streamed = !(isRootless() && rootlessMappings().full);
  if (configTmp && streamed) {
    for (const l of layers.slice(0, opts.parallel ?? 3)) {
      if (store.hasBlob(l.digest) || early.has(l.digest)) continue;
      const res = client.get(`${repository}/blobs/${l.digest}`);
      res.catch(() => undefined);
      early.set(l.digest, res);
    }
  }
  try {
    return await pullWithConfig(job, early);
  } finally {
    for (const res of early.values()) res.then((r) => r.discard(), () => undefined);
  }
}

async function pullWithConfig(job: PullJob, early: Map<string, Promise<HttpResponse>>): Promise<ImageRecord> {
  const { client, store, repository, full, m, configDesc, layers, configTmp, opts } = job;
  if (configTmp) {
    const st = statfsSync(store.dir);
    const total = Number.isSafeInteger(configDesc.size) && configDesc.size! >= 0 ? configDesc.size : undefined;
    await client.blobToFile(repository, configDesc.digest, configTmp, { declared: total, limit: st.bavail * st.bsize });
  }
  const config = parseConfig(configTmp ? readFileSync(configTmp) : store.readBlob(configDesc.digest), configDesc.digest);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layers.length) throw new Error(`pull ${full}: ${layers.length} layers but ${diffIds.length} diff ids in the config`);
  for (const l of layers) opts.events?.status?.(l.digest.slice(7, 19), 'Pulling fs layer');
  await inParallel(
    layers.map((l, i) => ({ l, diffId: diffIds[i] })),
    opts.parallel ?? 3,
    async ({ l, diffId }, signal) => {
      if (store.hasLayer(diffId)) {
        // Unpacked already; its blob, kept for save, is checked and replaced when corrupt.
        if (store.hasBlob(l.digest)) await fetchBlob(client, store, repository, l);
        opts.events?.status?.(l.digest.slice(7, 19), 'Already exists');
        return;
      }
      // Streamed unless the blob is here already, or a helper in a user namespace has to unpack it.
      if (store.hasBlob(l.digest) || (isRootless() && rootlessMappings().full)) {
        await fetchBlob(client, store, repository, l, opts.events);
        await unpack(store, store.blobPath(l.digest), diffId, l.digest, opts.maxLayerSize);
      } else {
        const res = early.get(l.digest);
        early.delete(l.digest);
        await streamInto(client, store, repository, l, diffId, opts, signal, res);
      }
      opts.events?.status?.(l.digest.slice(7, 19), 'Pull complete');
    },
  );
  if (configTmp) store.commitBlob(configTmp, configDesc.digest);
  store.writeBlob(m.digest, m.body);
  const rec: ImageRecord = { name: full, manifest: m.digest, config: configDesc.digest, diffIds, created: new Date().toISOString() };
  store.tag(rec);
  return rec;
}

