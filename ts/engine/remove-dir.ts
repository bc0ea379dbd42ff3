// A container's directory removed by a walk of its own: readdir's entry types say what each entry is,
// where rmSync's walk stats every path and tries rmdir on every file first (twice the calls, and 0.7 ms of
// a `run --rm`). Symlinks are unlinked, never followed.
import { readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree } from '../images/tree.js';

function walk(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else unlinkSync(p);
  }
  rmdirSync(dir);
}

/** Removes dir and everything in it; what the walk cannot remove (files of a rootless container's users, a busy mount) goes through removeTree. */
export function removeDir(dir: string): void {
  try {
    walk(dir);
  } catch {
    // Whatever is left (none at all included: removeTree's rmSync is forced).
    removeTree(dir);
  }
}
