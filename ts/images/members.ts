// Names inside an unpacked image archive (manifest.json's Config and Layers, an OCI layout's blobs) are
// resolved inside the archive only. Each component is looked up with lstat; a link the archive made is
// never followed by the kernel: its target is resolved here, against the archive, and must stay inside it.
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export class ArchiveEscapeError extends Error {}

/** Whether the archive has a member by that name (a link counts, wherever it points). */
export function hasMember(root: string, name: string): boolean {
  return lstatSync(join(root, name), { throwIfNoEntry: false }) !== undefined;
}

/** The path of the regular file `name` (as the archive spells it) inside the unpacked archive at root. */
export function memberPath(root: string, name: string, what: string): string {
  const q = JSON.stringify(name);
  if (typeof name !== 'string' || name === '') throw new ArchiveEscapeError(`${what} has no name`);
  if (name.startsWith('/')) throw new ArchiveEscapeError(`${what} ${q} is an absolute path, outside the archive`);
  let todo = name.split('/');
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const p = todo.shift()!;
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (!done.length) throw new ArchiveEscapeError(links ? `${what} ${q} goes through a link that leads outside the archive` : `${what} ${q} is outside the archive`);
      done.pop();
      continue;
    }
    const cur = join(root, ...done, p);
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (!st) throw new Error(`${what} ${q} is not in the archive`);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(cur);
      if (target.startsWith('/')) throw new ArchiveEscapeError(`${what} ${q}: ${[...done, p].join('/')} is a link to ${JSON.stringify(target)}, outside the archive`);
      if (++links > 40) throw new Error(`${what} ${q}: too many levels of links`);
      todo = [...target.split('/'), ...todo];
      continue;
    }
    if (todo.some((x) => x !== '' && x !== '.') && !st.isDirectory()) throw new Error(`${what} ${q}: ${[...done, p].join('/')} is not a directory`);
    done.push(p);
  }
  const path = join(root, ...done);
  const st = lstatSync(path);
  if (!st.isFile()) throw new Error(`${what} ${q} is not a regular file in the archive`);
  return path;
}
