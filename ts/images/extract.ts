// Unpacks one layer tar into an empty directory, safely: no entry may land outside it, directly or
// through a symlink or a hardlink. OCI whiteouts become overlayfs whiteouts (0:0 char devices, opaque xattr).
import { chmodSync, closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync, utimesSync, writeSync, constants as C } from 'node:fs';
import { posix, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { native } from '../native.js';
import { inUserNamespace } from '../runtime/rootless.js';
import { readTar, type TarEntry } from './tar.js';

export class UnsafeLayerError extends Error {}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** The entry's path inside the layer, or an error when it would escape (absolute paths are rooted, as docker does). */
export function safeRelative(name: string): string {
  let depth = 0;
  for (const p of name.split('/')) {
    if (p === '..') depth--;
    else if (p && p !== '.') depth++;
    if (depth < 0) throw new UnsafeLayerError(`entry ${JSON.stringify(name)} escapes the layer root`);
  }
  return posix.normalize('/' + name).slice(1).replace(/\/+$/, '');
}

type Kind = 'dir' | 'symlink' | 'other' | 'absent';

/**
 * What is at each path under root, as this extraction left it. Nothing else writes into the directory
 * while it is unpacked (a temporary one), so once a path is known every later look is answered from
 * here: into a directory that was empty at the start, without any lstat at all. That was two to five
 * lstat calls per entry (each parent, then the entry itself).
 */
class Tree {
  private kinds = new Map<string, Kind>();
  constructor(private readonly fresh: boolean) {}

  kind(path: string): Kind {
    let k = this.kinds.get(path);
    if (k !== undefined) return k;
    if (this.fresh) return 'absent';
    const st = lstatSync(path, { throwIfNoEntry: false });
    k = !st ? 'absent' : st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
    this.kinds.set(path, k);
    return k;
  }

  set(path: string, k: Kind): void {
    this.kinds.set(path, k);
  }
}

/** Every parent of rel must be a real directory inside root (creating missing ones), never a symlink. */
function ensureParents(root: string, rel: string, name: string, tree: Tree): string {
  const parts = rel.split('/').slice(0, -1);
  let cur = root;
  for (const p of parts) {
    // rel is normalized (safeRelative): no empty, "." or ".." parts, so plain concatenation is join's result.
    cur = `${cur}/${p}`;
    const k = tree.kind(cur);
    if (k === 'absent') {
      mkdirSync(cur, { mode: 0o755 });
      tree.set(cur, 'dir');
      continue;
    }
    if (k === 'symlink') throw new UnsafeLayerError(`entry ${JSON.stringify(name)} would be written through the symlink ${JSON.stringify(posix.join(...parts.slice(0, parts.indexOf(p) + 1)))}`);
    if (k !== 'dir') throw new UnsafeLayerError(`entry ${JSON.stringify(name)}: parent ${JSON.stringify(p)} is not a directory`);
  }
  return `${root}/${rel}`;
}

/** Removes what is at path unless it is a directory (a later entry replaces an earlier one). */
function removeExisting(path: string, tree: Tree, digests?: Map<string, string>): void {
  const k = tree.kind(path);
  if (k === 'dir' || k === 'absent') return;
  rmSync(path, { force: true });
  tree.set(path, 'absent');
  digests?.delete(path);
}

/** lchown, where an owner the user namespace does not map (EINVAL) leaves the file to its root. */
function chown(path: string, e: TarEntry, asRoot: boolean, hostRoot: boolean): void {
  if (!asRoot) return;
  try {
    lchownSync(path, e.uid, e.gid);
  } catch (err) {
    if (hostRoot || (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  }
}

function applyMeta(path: string, e: TarEntry, asRoot: boolean, hostRoot: boolean): void {
  chown(path, e, asRoot, hostRoot);
  if (e.type !== 'symlink') chmodSync(path, e.mode);
  setXattrs(path, e, hostRoot);
}

function setXattrs(path: string, e: TarEntry, hostRoot: boolean): void {
  for (const [k, v] of Object.entries(e.xattrs)) {
    try {
      native().lsetxattr(path, k, v);
    } catch (err) {
      // trusted.* (and security.* other than capabilities) need the host's root, which an unprivileged
      // unpack lacks, in a user namespace too: the file is still usable.
      if (hostRoot) throw err;
    }
  }
}

/**
 * Unpacks the tar on stream into root. digests, when given, receives the sha256 (hex) of every regular
 * file as it is left at each path, computed while writing it: the record of the layer (tree-record.ts)
 * then need not read the files again.
 */
export async function extractLayer(stream: Readable, dir: string, digests?: Map<string, string>): Promise<void> {
  const root = posix.resolve(dir);
  const asRoot = process.getuid?.() === 0;
  // Without the host's root (rootless, in a user namespace or not), overlayfs is mounted with userxattr
  // and reads user.overlay.*; trusted.* is not ours to write.
  const hostRoot = asRoot && !inUserNamespace();
  const opaque = hostRoot ? 'trusted.overlay.opaque' : 'user.overlay.opaque';
  const dirTimes: [string, number][] = [];
  const tree = new Tree(readdirSync(root).length === 0);
  tree.set(root, 'dir');
  for await (const { entry: e, body } of readTar(stream)) {
    const rel = safeRelative(e.name);
    if (rel === '' || rel === '.') {
      if (e.type === 'dir') dirTimes.push([root, e.mtime]);
      continue;
    }
    const base = posix.basename(rel);
    const path = ensureParents(root, rel, e.name, tree);
    if (base === OPAQUE) {
      // The directory hides everything below it in the lower layers.
      native().lsetxattr(posix.dirname(path), opaque, Buffer.from('y'));
      continue;
    }
    if (base.startsWith(WH)) {
      const target = join(posix.dirname(path), base.slice(WH.length));
      removeExisting(target, tree, digests);
      native().mknod(target, C.S_IFCHR | 0o000, 0, 0);
      tree.set(target, 'other');
      continue;
    }
    switch (e.type) {
      case 'dir': {
        if (tree.kind(path) !== 'dir') {
          removeExisting(path, tree, digests);
          mkdirSync(path, { mode: 0o700 });
          tree.set(path, 'dir');
        }
        applyMeta(path, e, asRoot, hostRoot);
        dirTimes.push([path, e.mtime]);
        break;
      }
      case 'file': {
        removeExisting(path, tree, digests);
        const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        tree.set(path, 'other');
        try {
          const h = digests && createHash('sha256');
          await body((b) => {
            h?.update(b);
            for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
          });
          if (h) digests!.set(path, h.digest('hex'));
          // Through the descriptor: no path lookup per call. chown before chmod (chown drops setuid).
          if (asRoot) {
            try {
              fchownSync(fd, e.uid, e.gid);
            } catch (err) {
              if (hostRoot || (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
            }
          }
          fchmodSync(fd, e.mode);
          futimesSync(fd, e.mtime, e.mtime);
        } finally {
          closeSync(fd);
        }
        setXattrs(path, e, hostRoot);
        break;
      }
      case 'symlink':
        removeExisting(path, tree, digests);
        symlinkSync(e.linkname, path);
        tree.set(path, 'symlink');
        chown(path, e, asRoot, hostRoot);
        lutimesSync(path, e.mtime, e.mtime);
        break;
      case 'hardlink': {
        const target = safeRelative(e.linkname);
        const targetPath = ensureParents(root, target, e.linkname, tree);
        if (tree.kind(targetPath) === 'absent') throw new UnsafeLayerError(`hardlink ${JSON.stringify(e.name)} to ${JSON.stringify(e.linkname)}: the target is not in this layer`);
        removeExisting(path, tree, digests);
        linkSync(targetPath, path);
        tree.set(path, 'other');
        const d = digests?.get(targetPath);
        if (d) digests!.set(path, d);
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        removeExisting(path, tree, digests);
        const kind = e.type === 'char' ? C.S_IFCHR : e.type === 'block' ? C.S_IFBLK : C.S_IFIFO;
        try {
          native().mknod(path, kind | e.mode, e.devmajor, e.devminor);
          tree.set(path, 'other');
        } catch (err) {
          // Unprivileged unpacks cannot create devices; a fifo they can.
          if (hostRoot || e.type === 'fifo') throw err;
          continue;
        }
        applyMeta(path, e, asRoot, hostRoot);
        break;
      }
    }
  }
  // Last: creating entries inside a directory changes its mtime.
  for (const [p, t] of dirTimes.reverse()) utimesSync(p, t, t);
}
