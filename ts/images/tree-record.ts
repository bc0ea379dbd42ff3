// What an unpacked layer holds, recorded when it is unpacked so that `image verify` can tell later whether
// anything below it changed: every path with its type, mode, owner, size, content digest (files), target
// (symlinks) or device number. Times are left out: reading a file changes its atime.
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, writeFileSync, readFileSync, constants as C } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** [type, mode, uid, gid, size, digest | link target | rdev] */
type Entry = [string, number, number, number, number, string];

export interface TreeRecord {
  version: 1;
  entries: Record<string, Entry>;
}

function fileDigest(path: string, buf: Buffer): string {
  const h = createHash('sha256');
  // O_NOFOLLOW: the walk saw a regular file; a symlink swapped in since is not followed.
  const fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function entryOf(path: string, buf: Buffer): Entry {
  const st = lstatSync(path);
  const base = (t: string): [string, number, number, number] => [t, st.mode & 0o7777, st.uid, st.gid];
  if (st.isFile()) return [...base('f'), st.size, fileDigest(path, buf)];
  if (st.isDirectory()) return [...base('d'), 0, ''];
  if (st.isSymbolicLink()) return [...base('l'), 0, readlinkSync(path)];
  if (st.isCharacterDevice()) return [...base('c'), 0, String(st.rdev)];
  if (st.isBlockDevice()) return [...base('b'), 0, String(st.rdev)];
  if (st.isFIFO()) return [...base('p'), 0, ''];
  return [...base('s'), 0, ''];
}

/** Walks dir (links are recorded, never followed). */
export function recordTree(dir: string): TreeRecord {
  const buf = Buffer.allocUnsafe(1 << 20);
  const entries: Record<string, Entry> = {};
  const walk = (rel: string) => {
    const abs = rel ? join(dir, rel) : dir;
    entries[rel || '.'] = entryOf(abs, buf);
    if (entries[rel || '.'][0] !== 'd') return;
    for (const n of readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  return { version: 1, entries };
}

export function writeTreeRecord(dir: string, file: string): void {
  writeFileSync(file, JSON.stringify(recordTree(dir)), { mode: 0o600 });
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
  for (const [p, was] of Object.entries(rec.entries)) {
    const is = now[p];
    if (!is) {
      out.push(`${p}: removed`);
      continue;
    }
    const what = new Set<string>();
    for (let i = 0; i < was.length; i++) if (was[i] !== is[i]) what.add(i === 5 && was[0] === 'l' ? 'link target' : i === 5 && was[0] !== 'f' ? 'device' : FIELDS[i]);
    if (what.has('content')) what.delete('size');
    if (what.has('type')) out.push(`${p}: type changed`);
    else if (what.size) out.push(`${p}: ${[...what].join(', ')} changed`);
  }
  for (const p of Object.keys(now)) if (!rec.entries[p]) out.push(`${p}: added`);
  return out.sort();
}
