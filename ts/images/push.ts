// tsbox push: the stored blobs and manifests, byte for byte, to a registry (API v2), so that the pushed
// digests are the local ones. A blob the registry has is skipped (HEAD), one another repository of the same
// registry has is mounted, others are uploaded whole (POST, PUT) or, when large, in chunks (PATCH, PUT).
// An image stored as an index (several platforms) is pushed with every platform's manifest.
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { lookupCredentials } from './auth.js';
import { findImage } from './manage.js';
import { formatReference, parseReference, type Reference } from './reference.js';
import { discard, MEDIA, readAtMost, RegistryClient, type Credentials } from './registry.js';
import type { HttpResponse } from './http.js';
import { Store, type ImageRecord } from './store.js';
import { RegistryError, TsboxError } from '../errors.js';

export interface PushEvents {
  /** Per layer (12 hex digits of its digest): Preparing, Pushing, Pushed, Layer already exists, Mounted from REPO. */
  status?(id: string, status: string): void;
}

export interface PushOptions {
  root: string;
  insecureRegistries?: string[];
  credentials?: Credentials;
  events?: PushEvents;
  /** Blobs larger than this go up in PATCH chunks of this size; smaller ones in one PUT (default 16 MiB). */
  chunkSize?: number;
  /** Blobs uploaded at once. */
  parallel?: number;
  /** Tries per blob upload (a 5xx or a dropped connection starts a new upload session). */
  retries?: number;
}

export interface PushResult {
  /** Full name pushed: 127.0.0.1:5000/app:1.0. */
  name: string;
  tag: string;
  /** Digest of the manifest (or index) the tag names: the local one. */
  digest: string;
  /** Its size in bytes. */
  size: number;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
}

interface ManifestDoc {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

/** The image named is not in the store (docker's wording). */
export class PushImageNotFoundError extends TsboxError {
  constructor(name: string) {
    super(`An image does not exist locally with the tag: ${name}`, 'ERR_NO_SUCH_IMAGE');
  }
}

const DEFAULT_CHUNK = 16 << 20;

function mediaTypeOf(doc: ManifestDoc): string {
  if (doc.mediaType) return doc.mediaType;
  // OCI documents may leave mediaType out: the shape says which one it is.
  return doc.manifests ? MEDIA.ociIndex : MEDIA.ociManifest;
}

/** Repositories of the same registry that the store's other images came from or went to: mount sources. */
function mountSources(store: Store, ref: Reference): Map<string, string[]> {
  const byBlob = new Map<string, string[]>();
  for (const r of store.images()) {
    let p: Reference;
    try {
      p = parseReference(r.name);
    } catch {
      continue;
    }
    if (p.registry !== ref.registry || p.repository === ref.repository) continue;
    for (const d of blobsOf(store, r, true)) {
      const list = byBlob.get(d.digest) ?? [];
      if (!list.includes(p.repository)) list.push(p.repository);
      byBlob.set(d.digest, list);
    }
  }
  return byBlob;
}

/** The config and layer descriptors of an image (of every platform of an index); lenient skips unreadable ones. */
function blobsOf(store: Store, rec: ImageRecord, lenient = false): Descriptor[] {
  const out: Descriptor[] = [];
  const walk = (digest: string) => {
    let doc: ManifestDoc;
    try {
      doc = store.readJson<ManifestDoc>(digest, 'manifest');
    } catch (e) {
      if (lenient) return;
      throw e;
    }
    if (doc.manifests) for (const m of doc.manifests) walk(m.digest);
    else out.push(...(doc.config ? [doc.config] : []), ...(doc.layers ?? []));
  };
  if (store.hasBlob(rec.manifest) || !lenient) walk(rec.manifest);
  return out;
}

async function inParallel<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const fileStream = (path: string, start: number, end: number): Readable => createReadStream(path, { start, end, highWaterMark: 1 << 20 });

/** The registry's error, one line: "PUT <url>: 400 Bad Request (DIGEST_INVALID)". */
async function failure(method: string, url: string, res: HttpResponse): Promise<RegistryError> {
  // At most 64 KiB of it: a hostile registry's error may never end.
  const text = (await readAtMost(res, 64 << 10, 'error').catch(() => Buffer.alloc(0))).toString();
  const code = /"code":"(\w+)"/.exec(text)?.[1];
  return new RegistryError(`${method} ${url}: ${res.status} ${res.statusText}${code ? ` (${code})` : ''}`, res.status);
}

class Pusher {
  private readonly client: RegistryClient;
  private readonly sources: Map<string, string[]>;
  private readonly done = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly ref: Reference,
    private readonly opts: PushOptions,
  ) {
    this.sources = mountSources(store, ref);
    const scopes = [`repository:${ref.repository}:pull,push`, ...new Set([...this.sources.values()].flat().map((r) => `repository:${r}:pull`))];
    this.client = new RegistryClient(ref.registry, {
      credentials: opts.credentials ?? lookupCredentials(opts.root, ref.registry),
      insecureRegistries: opts.insecureRegistries,
      scopes,
    });
  }

  private get repo(): string {
    return this.ref.repository;
  }

  private status(d: Descriptor, s: string, layer: boolean): void {
    if (layer) this.opts.events?.status?.(d.digest.slice(7, 19), s);
  }

  /** An upload URL from a Location header: on the registry's own origin only (it gets the credentials). */
  private location(res: HttpResponse, what: string): string {
    const loc = res.headers.get('location');
    if (!loc) throw new RegistryError(`${what}: the registry gave no upload location`);
    const url = new URL(loc, `${this.client.origin}/`);
    if (url.origin !== this.client.origin) throw new RegistryError(`${what}: the registry's upload location is on another host (${url.origin}), refused`, undefined, 'ERR_REGISTRY_ELSEWHERE');
    return url.href;
  }

  private async exists(d: Descriptor): Promise<boolean> {
    const res = await this.client.send('HEAD', `${this.repo}/blobs/${d.digest}`);
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw await failure('HEAD', `${this.client.origin}/v2/${this.repo}/blobs/${d.digest}`, res);
  }

  /** Starts an upload, trying a mount from `from` first: the URL to upload to, or undefined when mounted. */
  private async start(d: Descriptor, from?: string): Promise<string | undefined> {
    const path = `${this.repo}/blobs/uploads/${from ? `?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(from)}` : ''}`;
    const res = await this.client.send('POST', path, { headers: { 'content-length': '0' } });
    if (res.status !== 202 && !(from && res.status === 201)) throw await failure('POST', `${this.client.origin}/v2/${path}`, res);
    await discard(res);
    if (res.status === 201) {
      this.checkDigest(res, d, `mount of blob ${d.digest} from ${from}`);
      return undefined;
    }
    return this.location(res, `POST ${this.client.origin}/v2/${path}`);
  }

  private checkDigest(res: HttpResponse, d: Descriptor, what: string): void {
    const got = res.headers.get('docker-content-digest');
    if (got && got !== d.digest) throw new RegistryError(`${what}: the registry answered with digest ${got}, not ${d.digest}`, res.status, 'ERR_REGISTRY_DIGEST');
  }

  private withDigest(url: string, digest: string): string {
    const u = new URL(url);
    u.searchParams.set('digest', digest);
    return u.href;
  }

  /** Uploads one blob from the store: one PUT, or PATCH chunks then PUT. */
  private async upload(d: Descriptor, url: string): Promise<void> {
    const path = this.store.blobPath(d.digest);
    const size = statSync(path).size;
    const chunk = this.opts.chunkSize ?? DEFAULT_CHUNK;
    if (size <= chunk) {
      const res = await this.client.send('PUT', this.withDigest(url, d.digest), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body: () => (size ? fileStream(path, 0, size - 1) : Buffer.alloc(0)),
      });
      if (res.status !== 201) throw await failure('PUT', url.replace(/\?.*/, ''), res);
      await discard(res);
      this.checkDigest(res, d, `upload of blob ${d.digest}`);
      return;
    }
    for (let off = 0; off < size; off += chunk) {
      const end = Math.min(size, off + chunk) - 1;
      const res = await this.client.send('PATCH', url, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - off + 1), 'content-range': `${off}-${end}` },
        body: () => fileStream(path, off, end),
      });
      if (res.status !== 202) throw await failure('PATCH', url.replace(/\?.*/, ''), res);
      await discard(res);
      url = this.location(res, `PATCH ${url.replace(/\?.*/, '')}`);
    }
    const res = await this.client.send('PUT', this.withDigest(url, d.digest), { headers: { 'content-length': '0' }, body: () => Buffer.alloc(0) });
    if (res.status !== 201) throw await failure('PUT', url.replace(/\?.*/, ''), res);
    await discard(res);
    this.checkDigest(res, d, `upload of blob ${d.digest}`);
  }

  /** One blob: skipped when the registry has it, mounted when another repository does, else uploaded (each once per push). */
  blob(d: Descriptor, layer: boolean): Promise<void> {
    let p = this.done.get(d.digest);
    if (!p) this.done.set(d.digest, (p = this.blobOnce(d, layer)));
    return p;
  }

  private async blobOnce(d: Descriptor, layer: boolean): Promise<void> {
    if (!this.store.hasBlob(d.digest)) throw new RegistryError(`blob ${d.digest} is not in the store (an image unpacked without its layer blobs): pull or load the image again`, undefined, 'ERR_BLOB_MISSING');
    await this.store.checkBlob(d.digest);
    if (await this.exists(d)) return this.status(d, 'Layer already exists', layer);
    const from = this.sources.get(d.digest)?.[0];
    const url = from ? await this.start(d, from) : undefined;
    if (from && url === undefined) return this.status(d, `Mounted from ${from}`, layer);
    // Not mountable (the registry lacks it there, or forbids it): the session the POST opened takes the upload.
    await this.uploadWithRetries(d, layer, url);
  }

  private async uploadWithRetries(d: Descriptor, layer: boolean, first?: string): Promise<void> {
    const tries = this.opts.retries ?? 3;
    for (let attempt = 1; ; attempt++) {
      const url = first ?? (await this.start(d));
      first = undefined;
      this.status(d, 'Pushing', layer);
      try {
        await this.upload(d, url!);
        this.status(d, 'Pushed', layer);
        return;
      } catch (e) {
        const err = e as RegistryError;
        const transient = err instanceof RegistryError && ((err.status ?? 0) >= 500 || err.code === 'ERR_REGISTRY_UNREACHABLE');
        if (!transient || attempt >= tries) throw e;
        this.status(d, `Retrying (${(e as Error).message})`, layer);
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  /** PUT of a manifest or index, as stored; the registry must name it with the local digest. */
  async manifest(digest: string, reference: string): Promise<{ size: number }> {
    const body = this.store.readBlob(digest);
    const doc = JSON.parse(body.toString()) as ManifestDoc;
    const url = `${this.client.origin}/v2/${this.repo}/manifests/${reference}`;
    const tries = this.opts.retries ?? 3;
    for (let attempt = 1; ; attempt++) {
      const res = await this.client.send('PUT', `${this.repo}/manifests/${reference}`, { headers: { 'content-type': mediaTypeOf(doc) }, body: () => body });
      if (res.status === 201 || res.status === 200) {
        await discard(res);
        this.checkDigest(res, { digest }, `PUT ${url}`);
        return { size: body.length };
      }
      const err = await failure('PUT', url, res);
      if (res.status < 500 || attempt >= tries) throw err;
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }

  /** Every blob of one platform's manifest (layers in parallel, config after), then the manifest by digest when it is a child of an index. */
  async image(digest: string, reference: string): Promise<{ size: number }> {
    const doc = this.store.readJson<ManifestDoc>(digest, 'manifest');
    if (doc.manifests) {
      for (const m of doc.manifests) {
        if (!this.store.hasBlob(m.digest)) throw new RegistryError(`index ${digest}: the store lacks the manifest ${m.digest} it lists`, undefined, 'ERR_BLOB_MISSING');
        await this.image(m.digest, m.digest);
      }
      return this.manifest(digest, reference);
    }
    if (!doc.config || !doc.layers) throw new RegistryError(`manifest ${digest} has no config or layers`);
    for (const l of doc.layers) this.status(l, 'Preparing', true);
    await inParallel(doc.layers, this.opts.parallel ?? 3, (l) => this.blob(l, true));
    await this.blob(doc.config, false);
    return this.manifest(digest, reference);
  }
}

export async function push(name: string, opts: PushOptions): Promise<PushResult> {
  const ref = parseReference(name);
  if (ref.digest) throw new TsboxError(`push ${name}: a digest reference cannot be pushed, name a tag`, 'ERR_USAGE');
  const store = new Store(opts.root);
  const full = formatReference(ref);
  const rec = findImage(store, full);
  if (!rec || rec.name !== full) throw new PushImageNotFoundError(name);
  const p = new Pusher(store, ref, opts);
  const { size } = await p.image(rec.manifest, ref.tag!);
  return { name: full, tag: ref.tag!, digest: rec.manifest, size };
}
