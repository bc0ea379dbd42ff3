// The content-addressed image store under <root>/images: blobs by digest, unpacked layers by diff id,
// and the tag index. Every write is temp file + rename, so a crash never leaves half a blob in place.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { native } from '../native.js';
import { removeTree } from './tree.js';

export interface ImageRecord {
  /** Full name: docker.io/library/busybox:latest. */
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
    for (const d of ['blobs/sha256', 'layers', 'tmp']) mkdirSync(join(this.dir, d), { recursive: true, mode: 0o700 });
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', hex(digest));
  }

  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }

  readBlob(digest: string): Buffer {
    return readFileSync(this.blobPath(digest));
  }

  /** A fresh temp path in the store's own filesystem (rename into place is atomic). */
  tempPath(prefix: string): string {
    return join(this.dir, 'tmp', `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  writeBlob(digest: string, data: Buffer): void {
    if (this.hasBlob(digest)) return;
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

  tag(rec: ImageRecord): void {
    this.withLock(() => this.saveImages([...this.images().filter((i) => i.name !== rec.name), rec]));
  }

  /** Leftovers of interrupted pulls: temp files whose writer is gone. */
  sweepTemp(): void {
    for (const n of readdirSync(join(this.dir, 'tmp'))) {
      const pid = Number(n.split('-')[1]);
      if (pid && pid !== process.pid && !existsSync(`/proc/${pid}`)) removeTree(join(this.dir, 'tmp', n));
    }
  }
}

export function hex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`bad digest ${JSON.stringify(digest)}`);
  return m[1];
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
