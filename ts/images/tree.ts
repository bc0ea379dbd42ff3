// Removing and copying directory trees of the store. Rootless, layers and containers' upper layers hold
// files owned by subordinate ids, which the user can remove or copy with their owners only from inside
// its user namespace (tsbox unshare).
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isRootless, rootlessMappings } from '../runtime/rootless.js';
import { selfArgv } from '../self.js';

function unshare(what: string, argv: string[]): void {
  const [node, args] = selfArgv('unshare', '--', ...argv);
  const r = spawnSync(node, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what}: ${(r.stderr || `exit ${r.status}`).trim().split('\n').pop()}`);
}

const mapped = () => isRootless() && rootlessMappings().full;

/**
 * A walk of readdir's entry types, which say what each entry is: rmSync's walk stats every path and tries
 * rmdir on every file first (twice the calls; 0.7 ms of a `run --rm`). Symlinks are unlinked, never followed.
 */
function walkRemove(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walkRemove(p);
    else unlinkSync(p);
  }
  rmdirSync(dir);
}

export function removeTree(path: string): void {
  try {
    walkRemove(path);
    return;
  } catch {
    // Whatever is left (none at all, a file, files of a rootless container's users): rmSync, then unshare.
  }
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!(mapped() && (code === 'EACCES' || code === 'EPERM' || code === 'ENOTEMPTY'))) throw e;
  }
  unshare(`remove ${path}`, ['/bin/rm', '-rf', '--', path]);
}

/** Copies the contents of src into dst, owners, modes and links kept. */
export function copyTree(src: string, dst: string): void {
  if (mapped()) unshare(`copy ${src} to ${dst}`, ['/bin/cp', '-a', '--', `${src}/.`, dst]);
  else cpSync(src, dst, { recursive: true, verbatimSymlinks: true, force: true });
}
