// tsbox cp: between the host and a container's filesystem with docker's semantics, through fds only.
// Container paths are opened with openat2 RESOLVE_IN_ROOT, so the container's symlinks resolve inside
// its root; the last component is never followed (a symlink is copied as a symlink) unless asked; the
// copy itself (csrc/addon/rootfs_copy.c) works from fd to fd. A container swapping its directories
// for symlinks while a copy runs makes it fail, never land on or read from the host.
import { fstatSync, type Stats } from 'node:fs';
import { posix, resolve as hostResolve } from 'node:path';
import { native } from '../native.js';
import { EngineError } from './containers.js';

const AT_FDCWD = -100;
const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_IN_ROOT = 0x10;
const COPY_OWNER = 1;
const COPY_NO_SUID = 2;

/** One end of a copy: a path in a container (root: its rootfs as the host sees it) or on the host. */
export interface CopyEnd {
  path: string;
  /** The container's root directory on the host; absent for a host path. */
  root?: string;
  /** How errors name this end ("web:/etc/x"); the path itself by default. */
  label?: string;
}

export interface CopyOptions {
  /** cp -a: keep owners (uid/gid) and, on the way to the host, setuid/setgid bits. */
  archive?: boolean;
  /** cp -L: follow a symlink that is SRC's last component (inside the container's root). */
  followLink?: boolean;
}

interface Side {
  fd: number;
  resolve: number;
  /** Absolute, normalized, no trailing slash (but "/"). */
  path: string;
  label: string;
  /** SRC/. : the directory's contents. */
  contents: boolean;
  slash: boolean;
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

function openSide(end: CopyEnd): Side {
  const raw = end.path;
  const abs = end.root ? posix.normalize(`/${raw}`) : hostResolve(raw);
  const path = abs.replace(/\/+$/, '') || '/';
  const label = end.label ?? raw;
  const fd = native().openat2(AT_FDCWD, end.root ?? '/', O_PATH | O_DIRECTORY, 0);
  return { fd, resolve: end.root ? RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS : 0, path, label, contents: raw === '.' || raw.endsWith('/.'), slash: raw.endsWith('/') };
}

/** openat2 on a side: relative to its root (and inside it for a container). */
function at(s: Side, dirFd: number, path: string, flags: number): number {
  return native().openat2(dirFd, path, flags, s.resolve);
}

/** fd of the last component itself (a symlink stays one), or of what it resolves to when follow. */
function openLast(s: Side, follow: boolean): number {
  if (follow || s.path === '/') return at(s, s.fd, s.path, O_PATH);
  const parent = at(s, s.fd, posix.dirname(s.path), O_PATH | O_DIRECTORY);
  try {
    return at(s, parent, posix.basename(s.path), O_PATH | O_NOFOLLOW);
  } finally {
    native().close(parent);
  }
}

function tryOpen(f: () => number): number | undefined {
  try {
    return f();
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** lstat of a path in a container (end.root), resolved inside its root; undefined when there is none. */
export function statInRoot(end: CopyEnd & { root: string }): Stats | undefined {
  const s = openSide(end);
  try {
    const fd = tryOpen(() => openLast(s, false));
    if (fd === undefined) return undefined;
    try {
      return fstatSync(fd);
    } finally {
      native().close(fd);
    }
  } finally {
    native().close(s.fd);
  }
}

/**
 * Copies src to dst as docker cp does: a file onto a file or into a directory; a directory to a new
 * path, or into an existing directory (its contents with SRC/.). Returns how many device nodes and
 * sockets were left out.
 */
export function copyPath(src: CopyEnd, dst: CopyEnd, o: CopyOptions = {}): number {
  const fds: number[] = [];
  const keep = (fd: number) => (fds.push(fd), fd);
  try {
    const s = openSide(src);
    keep(s.fd);
    const d = openSide(dst);
    keep(d.fd);
    const srcFd = tryOpen(() => openLast(s, !!o.followLink || s.contents || s.slash));
    if (srcFd === undefined) throw src.root ? new EngineError(`No such container:path: ${s.label}`, 'ERR_NO_SUCH_PATH') : new EngineError(`lstat ${s.path}: no such file or directory`, 'ERR_NO_SUCH_HOST_PATH');
    keep(srcFd);
    const st: Stats = fstatSync(srcFd);
    if ((s.slash || s.contents) && !st.isDirectory()) throw new EngineError(`${s.label}: not a directory`);
    let dirFd: number;
    let name: string;
    const existing = tryOpen(() => at(d, d.fd, d.path, O_PATH));
    if (existing !== undefined) keep(existing);
    if (existing !== undefined && fstatSync(existing).isDirectory()) {
      dirFd = existing;
      name = s.contents || s.path === '/' ? '.' : posix.basename(s.path);
    } else {
      if (existing !== undefined && st.isDirectory()) throw new EngineError(`cannot overwrite non-directory ${d.label} with directory ${s.label}`);
      if (d.slash) throw new EngineError(existing !== undefined ? `${d.label}: not a directory` : `${d.label}: the destination directory must exist`);
      const parent = tryOpen(() => at(d, d.fd, posix.dirname(d.path), O_PATH | O_DIRECTORY));
      if (parent === undefined) throw new EngineError(`${d.label}: its directory ${posix.dirname(d.path)} does not exist`);
      dirFd = keep(parent);
      name = posix.basename(d.path);
    }
    const flags = (o.archive ? COPY_OWNER : 0) | (!dst.root && !o.archive ? COPY_NO_SUID : 0);
    try {
      return native().copyAt(srcFd, dirFd, name, flags);
    } catch (e) {
      throw new EngineError(`copying ${s.label} to ${d.label}: ${(e as Error).message}`);
    }
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw new EngineError(`cp: ${(e as Error).message}`);
  } finally {
    for (const fd of fds) native().close(fd);
  }
}
