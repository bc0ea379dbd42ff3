// Removing a directory tree of the store. Rootless, layers and containers' upper layers hold files owned
// by subordinate ids, which the user can remove only from inside its user namespace.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { isRootless, rootlessMappings } from '../runtime/rootless.js';
import { selfArgv } from '../self.js';

export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!(isRootless() && rootlessMappings().full && (code === 'EACCES' || code === 'EPERM' || code === 'ENOTEMPTY'))) throw e;
  }
  const [node, args] = selfArgv('unshare', '--', '/bin/rm', '-rf', '--', path);
  const r = spawnSync(node, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`remove ${path}: ${(r.stderr || `exit ${r.status}`).trim().split('\n').pop()}`);
}
