// What an unpacked layer holds, recorded when it is unpacked so that `image verify` can tell later whether
// anything below it changed: every path with its type, mode, owner, size, content digest (files), target
// (symlinks) or device number. Times are left out: reading a file changes its atime. Owners are recorded
// as the host sees them (the rootless unpacker runs in a user namespace), so that a check made from the
// host compares like with like.
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, writeFileSync, readFileSync, constants as C } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** [type, mode, uid, gid, size, digest | link target | rdev] */
type Entry = [string, number, number, number, number, string];

export interface TreeRecord {
  version: 1;
  entries: Record<string, Entry>;
}

/** Content that could not be read here (rootless: a file of a subordinate id without read permission). */
const UNREADABLE = '?';

/** Maps ids of this process's user namespace to the host's, from /proc/self/{uid,gid}_map. */
function hostIds(kind: 'uid' | 'gid'): (id: number) => number {
  let ranges: number[][] = [];
  try {
    ranges = readFileSync(`/proc/self/${kind}_map`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number));
  } catch {
    return (id) => id;
  }
  return (id) => {
    for (const [inside, outside, count] of ranges) if (id >= inside && id < inside + count) return outside + (id - inside);
    return id;
  };
}

function fileDigest(path: string, buf: Buffer): string {
  const h = createHash('sha256');
  let fd: number;
  try {
    // O_NOFOLLOW: the walk saw a regular file; a symlink swapped in since is not followed.
    fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') return UNREADABLE;
    throw e;
  }
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function entryOf(path: string, buf: Buffer, uid: (id: number) => number, gid: (id: number) => number, known?: Map<string, string>): Entry {
  const st = lstatSync(path);
  const base = (t: string): [string, number, number, number] => [t, st.mode & 0o7777, uid(st.uid), gid(st.gid)];
  if (st.isFile()) return [...base('f'), st.size, known?.get(path) ?? fileDigest(path, buf)];
  if (st.isDirectory()) return [...base('d'), 0, ''];
  if (st.isSymbolicLink()) return [...base('l'), 0, readlinkSync(path)];
  if (st.isCharacterDevice()) return [...base('c'), 0, String(st.rdev)];
  if (st.isBlockDevice()) return [...base('b'), 0, String(st.rdev)];
  if (st.isFIFO()) return [...base('p'), 0, ''];
  return [...base('s'), 0, ''];
}

/**
 * Walks dir (links are recorded, never followed). known: content digests by absolute path, of files
 * whose content the caller wrote itself a moment ago (extract.ts); other files are read.
 */
export function recordTree(dir: string, known?: Map<string, string>): TreeRecord {
  const buf = Buffer.allocUnsafe(1 << 20);
  const entries: Record<string, Entry> = {};
  const uid = hostIds('uid');
  const gid = hostIds('gid');
  const walk = (rel: string) => {
    const abs = rel ? join(dir, rel) : dir;
    entries[rel || '.'] = entryOf(abs, buf, uid, gid, known);
    const e = entries[rel || '.'];
    if (e[0] !== 'd') return;
    let names: string[];
    try {
      names = readdirSync(abs).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
      e[5] = UNREADABLE;
      return;
    }
    for (const n of names) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return { version: 1, entries };
}

export function writeTreeRecord(dir: string, file: string, known?: Map<string, string>): void {
  writeFileSync(file, JSON.stringify(recordTree(dir, known)), { mode: 0o600 });
}

export function readTreeRecord(file: string): TreeRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as TreeRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`tree record ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

const FIELDS = ['type', 'mode', 'owner', 'owner', 'size', 'content'];

/** What differs between a record and the tree now: "path: content changed", "path: added", "path: removed". */
export function compareTree(dir: string, rec: TreeRecord): string[] {
  const now = recordTree(dir).entries;
  const out: string[] = [];
  // Below a directory that could not be listed, nothing can be compared.
  const blind = [rec.entries, now].flatMap((es) => Object.entries(es).filter(([, e]) => e[0] === 'd' && e[5] === UNREADABLE).map(([p]) => `${p}/`));
  const seen = (p: string) => !blind.some((b) => p.startsWith(b));
  for (const [p, was] of Object.entries(rec.entries)) {
    if (!seen(p)) continue;
    const is = now[p];
    if (!is) {
      out.push(`${p}: removed`);
      continue;
    }
    const what = new Set<string>();
    for (let i = 0; i < was.length; i++) if (was[i] !== is[i] && !(i === 5 && (was[i] === UNREADABLE || is[i] === UNREADABLE))) what.add(i === 5 && was[0] === 'l' ? 'link target' : i === 5 && was[0] !== 'f' ? 'device' : FIELDS[i]);
    if (what.has('content')) what.delete('size');
    if (what.has('type')) out.push(`${p}: type changed`);
    else if (what.size) out.push(`${p}: ${[...what].join(', ')} changed`);
  }
  for (const p of Object.keys(now)) if (!rec.entries[p] && seen(p)) out.push(`${p}: added`);
  return out.sort();
}
