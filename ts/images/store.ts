// The content-addressed image store under <root>/images: blobs by digest, unpacked layers by diff id,
// and the tag index. Every write is temp file + rename, so a crash never leaves half a blob in place.
// What the store wrote is not trusted later: a blob is re-hashed when it is read, reused or served.
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { native } from '../native.js';
import { removeTree } from './tree.js';

export interface ImageRecord {
  /** Full name: docker.io/library/busybox:latest; '' for an image that has none left (docker's <none>, a dangling image). */
  name: string;
  /** Digest of the platform manifest. */
  manifest: string;
  /** Digest of the image config (the image id, as docker shows it). */
  config: string;
  /** Uncompressed layer digests, bottom first. */
  diffIds: string[];
  created: string;
}

export class Store {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'images');
    const fresh = !existsSync(join(this.dir, 'tmp'));
    for (const d of ['blobs/sha256', 'layers', 'trees', 'tmp']) mkdirSync(join(this.dir, d), { recursive: true, mode: 0o700 });
    if (fresh) markTopDir(join(this.dir, 'tmp'));
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', hex(digest));
  }

  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }

  /** A small blob (manifest, config), checked against its digest. */
  readBlob(digest: string): Buffer {
    const data = readFileSync(this.blobPath(digest));
    const got = sha256(data);
    if (got !== digest) throw new CorruptBlobError(digest, got);
    return data;
  }

  /** A small blob parsed as JSON: a corrupt or non-JSON blob is a one-line error that names it. */
  readJson<T>(digest: string, what: string): T {
    const data = this.readBlob(digest);
    try {
      return JSON.parse(data.toString()) as T;
    } catch (e) {
      throw new Error(`${what} blob ${digest} is not valid JSON (${(e as Error).message.split('\n')[0]})`);
    }
  }

  /** Re-hashes a stored blob: undefined when it is intact, else the digest its content has now. */
  async blobMismatch(digest: string): Promise<string | undefined> {
    const h = createHash('sha256');
    for await (const c of createReadStream(this.blobPath(digest), { highWaterMark: 1 << 20 })) h.update(c as Buffer);
    const got = `sha256:${h.digest('hex')}`;
    return got === digest ? undefined : got;
  }

  /** Throws CorruptBlobError when a stored blob no longer has its digest. */
  async checkBlob(digest: string): Promise<void> {
    const got = await this.blobMismatch(digest);
    if (got) throw new CorruptBlobError(digest, got);
  }

  /** A fresh temp path in the store's own filesystem (rename into place is atomic). */
  tempPath(prefix: string): string {
    return join(this.dir, 'tmp', `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  writeBlob(digest: string, data: Buffer): void {
    // An existing copy is kept only when it is intact.
    if (this.hasBlob(digest) && sha256(readFileSync(this.blobPath(digest))) === digest) return;
    const tmp = this.tempPath('blob');
    atomicWrite(tmp, data);
    renameSync(tmp, this.blobPath(digest));
  }

  /** Moves a verified temp file into place; a concurrent pull may have put the same blob there first. */
  commitBlob(tmp: string, digest: string): void {
    renameSync(tmp, this.blobPath(digest));
  }

  layerPath(diffId: string): string {
    return join(this.dir, 'layers', hex(diffId));
  }

  hasLayer(diffId: string): boolean {
    return existsSync(this.layerPath(diffId));
  }

  /** The record of an unpacked layer's files (tree.ts), written when it was unpacked. */
  treePath(diffId: string): string {
    return join(this.dir, 'trees', hex(diffId));
  }

  /** Runs fn with the store's lock held (tag index updates, removals, cleanup of temp files). */
  withLock<T>(fn: () => T): T {
    const fd = openSync(join(this.dir, 'lock'), 'a+', 0o600);
    try {
      native().flock(fd, 2);
      return fn();
    } finally {
      closeSync(fd);
    }
  }

  images(): ImageRecord[] {
    try {
      return JSON.parse(readFileSync(join(this.dir, 'index.json'), 'utf8')) as ImageRecord[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`image index ${join(this.dir, 'index.json')}: ${(e as Error).message}`);
    }
  }

  /** Replaces the index (call inside withLock). */
  saveImages(list: ImageRecord[]): void {
    const tmp = this.tempPath('index');
    atomicWrite(tmp, Buffer.from(JSON.stringify(list, null, 1)));
    renameSync(tmp, join(this.dir, 'index.json'));
  }

  /**
   * Names rec's image rec.name. As docker's reference store: an image the name is taken from keeps
   * existing, dangling (no name) when it has no other; one that gets a name is no longer dangling.
   */
  tag(rec: ImageRecord): void {
    this.withLock(() => {
      const list = this.images();
      if (rec.name === '') {
        if (!list.some((i) => i.config === rec.config)) this.saveImages([...list, rec]);
        return;
      }
      const old = list.find((i) => i.name === rec.name);
      const out = list.filter((i) => i.name !== rec.name && !(i.name === '' && i.config === rec.config));
      if (old && old.config !== rec.config && !out.some((i) => i.config === old.config)) out.push({ ...old, name: '' });
      this.saveImages([...out, rec]);
    });
  }

  /** Leftovers of interrupted pulls: temp files whose writer is gone. */
  sweepTemp(): void {
    for (const n of readdirSync(join(this.dir, 'tmp'))) {
      const pid = Number(n.split('-')[1]);
      if (pid && pid !== process.pid && !existsSync(`/proc/${pid}`)) removeTree(join(this.dir, 'tmp', n));
    }
  }
}

/** A stored blob whose content no longer has its digest (a disk error, or a change behind tsbox's back). */
export class CorruptBlobError extends Error {
  constructor(
    readonly digest: string,
    readonly actual: string,
  ) {
    super(`blob ${digest} in the store is corrupt (its content has digest ${actual}): pull the image again`);
  }
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function hex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`bad digest ${JSON.stringify(digest)}`);
  return m[1];
}

/**
 * Marks dir as the top of directory hierarchies (chattr +T): ext4 then places each directory made in it
 * (a layer being unpacked) in a block group of its own choosing with room to spare, as it does for the
 * filesystem's root, instead of next to the parent. Without a journal, ext4 skips every inode freed
 * in the last minutes while it looks for a free one, so unpacking next to trees removed a moment ago
 * cost up to 1 ms per file (docs/performance.md).
 */
function markTopDir(dir: string): void {
  // Only ext2/3/4 (statfs magic 0xEF53) know the flag.
  if (statfsSync(dir).type !== 0xef53) return;
  try {
    native().markTopDir(dir);
  } catch {
    // An optimisation only, as chattr's exit status was before: the store works without it.
  }
}

function atomicWrite(path: string, data: Buffer): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
