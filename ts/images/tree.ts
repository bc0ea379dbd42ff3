// Removing and copying directory trees of the store. Rootless, layers and containers' upper layers hold
// files owned by subordinate ids, which the user can remove or copy with their owners only from inside
// its user namespace (tsbox unshare).
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { isRootless, rootlessMappings } from '../runtime/rootless.js';
import { selfArgv } from '../self.js';

function unshare(what: string, argv: string[]): void {
  const [node, args] = selfArgv('unshare', '--', ...argv);
  const r = spawnSync(node, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what}: ${(r.stderr || `exit ${r.status}`).trim().split('\n').pop()}`);
}

const mapped = () => isRootless() && rootlessMappings().full;

export function removeTree(path: string): void {
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
