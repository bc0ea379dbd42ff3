// Tar streams of a container's filesystem: docker export, docker cp CONTAINER:PATH - (out) and
// docker cp - CONTAINER:PATH (in). Nothing here opens a path inside the container by itself: the
// container's side is copied by copyPath (openat2 RESOLVE_IN_ROOT, fd to fd) to or from a private
// directory of the engine's, and the tar is written from or read into that directory. A running
// container swapping its directories for symlinks meanwhile cannot make either side reach the host.
import { chmodSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, symlinkSync, utimesSync, writeSync, constants as C, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { readTar } from '../images/tar.js';
import { removeTree } from '../images/tree.js';
import { snapshotDir, snapshotKind } from '../images/snapshot.js';
import { isRootless } from '../runtime/rootless.js';
import { copyPath, statInRoot } from './copy.js';
import { EngineError, liveState, mustFind, type ContainerRecord } from './containers.js';

/** The container's root directory as this process sees it. */
export function containerRootfs(root: string, r: ContainerRecord): string {
  // Rootless, the filesystem is mounted only inside the container: reach it through its first process.
  if (isRootless() && snapshotKind() !== 'copy') {
    const live = liveState(root, r);
    if (!live.Running) throw new EngineError(`container ${r.Name} is not running (without root its filesystem is mounted only while it runs)`, 'ERR_NOT_RUNNING');
    return `/proc/${live.Pid}/root`;
  }
  return join(snapshotDir(root, r.Id), 'rootfs');
}

function scratch(root: string): string {
  const dir = join(root, 'tmp');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return mkdtempSync(join(dir, 'cp-'));
}

async function tarOf(dir: string, names: string[], out: Writable): Promise<void> {
  // Entries as docker names them: relative, no "./" in front; owners and modes as stored.
  // Loaded when a tar is written: the package's start-up is ~6 ms every command would pay.
  const { create: tarCreate } = await import('tar');
  await pipeline(tarCreate({ cwd: dir, portable: false, preservePaths: false, noDirRecurse: false }, names) as unknown as Readable, out, { end: out !== process.stdout });
}

/** docker export: the container's whole filesystem as a tar stream. */
export async function exportContainer(root: string, ref: string, out: Writable): Promise<void> {
  const r = mustFind(root, ref);
  const tmp = scratch(root);
  try {
    copyPath({ root: containerRootfs(root, r), path: '/', label: `${ref}:/` }, { path: tmp }, { archive: true });
    await tarOf(tmp, readdirSync(tmp).sort(), out);
  } finally {
    removeTree(tmp);
  }
}

/** What is at PATH in the container (its last symlink not followed): docker's stat of an archive path. */
export function statPath(root: string, ref: string, path: string): { name: string; stats: Stats } {
  const r = mustFind(root, ref);
  const stats = statInRoot({ root: containerRootfs(root, r), path });
  if (!stats) throw new EngineError(`Could not find the file ${path} in container ${ref}`, 'ERR_NO_SUCH_PATH');
  return { name: posix.basename(posix.normalize(`/${path}`)) || '/', stats };
}

/** docker cp CONTAINER:PATH -: PATH (a file, or a directory and what is below it) as a tar stream. */
export async function copyOut(root: string, ref: string, path: string, out: Writable, o: { followLink?: boolean } = {}): Promise<void> {
  const r = mustFind(root, ref);
  const tmp = scratch(root);
  try {
    copyPath({ root: containerRootfs(root, r), path, label: `${ref}:${path}` }, { path: tmp }, { archive: true, followLink: o.followLink });
    await tarOf(tmp, readdirSync(tmp).sort(), out);
  } finally {
    removeTree(tmp);
  }
}

export interface CopyInResult {
  /** Device nodes, fifos and sockets in the archive, which are not extracted. */
  skipped: number;
}

/** An entry's path below the extraction directory; one that would leave it is refused, as docker does. */
function inside(name: string): string {
  let depth = 0;
  for (const p of name.split('/')) {
    if (p === '..') depth--;
    else if (p && p !== '.') depth++;
    if (depth < 0) throw new EngineError(`cp: archive entry ${JSON.stringify(name)} would be extracted outside the destination`, 'ERR_ENGINE');
  }
  return posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
}

/** Every parent of rel is a real directory below dir (made when missing), never a symlink. */
function parentOf(dir: string, rel: string, name: string): string {
  let cur = dir;
  for (const p of rel.split('/').slice(0, -1)) {
    cur = join(cur, p);
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (!st) mkdirSync(cur, { mode: 0o755 });
    else if (!st.isDirectory()) throw new EngineError(`cp: archive entry ${JSON.stringify(name)} would be written through ${st.isSymbolicLink() ? 'the symlink' : 'the non-directory'} ${JSON.stringify(cur.slice(dir.length + 1))}`, 'ERR_ENGINE');
  }
  return join(dir, rel);
}

function clear(path: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) removeTree(path);
}

/** Safe extraction into a fresh private directory: no entry leaves it, nothing is written through a symlink, no device is made. */
async function extract(input: Readable, dir: string): Promise<number> {
  const asRoot = process.getuid?.() === 0;
  const own = (p: string, uid: number, gid: number) => {
    if (asRoot) lchownSync(p, uid, gid);
  };
  const dirTimes: [string, number][] = [];
  let skipped = 0;
  for await (const { entry: e, body } of readTar(input)) {
    const rel = inside(e.name);
    if (rel === '') continue;
    const path = parentOf(dir, rel, e.name);
    switch (e.type) {
      case 'dir': {
        const st = lstatSync(path, { throwIfNoEntry: false });
        if (st && !st.isDirectory()) clear(path);
        if (!st?.isDirectory()) mkdirSync(path, { mode: 0o700 });
        own(path, e.uid, e.gid);
        chmodSync(path, e.mode & 0o7777);
        dirTimes.push([path, e.mtime]);
        break;
      }
      case 'file': {
        clear(path);
        const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          await body((b) => {
            for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
          });
        } finally {
          closeSync(fd);
        }
        own(path, e.uid, e.gid);
        chmodSync(path, e.mode & 0o7777);
        utimesSync(path, e.mtime, e.mtime);
        break;
      }
      case 'symlink':
        // Kept as a symlink: inside the container it resolves in the container's root.
        clear(path);
        symlinkSync(e.linkname, path);
        own(path, e.uid, e.gid);
        lutimesSync(path, e.mtime, e.mtime);
        break;
      case 'hardlink': {
        const target = join(dir, inside(e.linkname));
        const st = lstatSync(target, { throwIfNoEntry: false });
        if (!st?.isFile()) throw new EngineError(`cp: archive entry ${JSON.stringify(e.name)} links to ${JSON.stringify(e.linkname)}, which is not a file extracted before it`, 'ERR_ENGINE');
        clear(path);
        linkSync(target, path);
        break;
      }
      default:
        skipped++;
    }
  }
  for (const [p, t] of dirTimes.reverse()) utimesSync(p, t, t);
  return skipped;
}

/** docker cp - CONTAINER:PATH: a tar stream extracted into the directory PATH of the container. */
export async function copyIn(root: string, ref: string, path: string, input: Readable): Promise<CopyInResult> {
  const r = mustFind(root, ref);
  const rootfs = containerRootfs(root, r);
  const tmp = scratch(root);
  try {
    const skipped = await extract(input, tmp);
    copyPath({ path: `${tmp}/.` }, { root: rootfs, path: path.endsWith('/') ? path : `${path}/`, label: `${ref}:${path}` }, { archive: true });
    return { skipped };
  } finally {
    removeTree(tmp);
  }
}
