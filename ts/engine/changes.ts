// docker diff: what the container changed in its filesystem, from its overlay's upper layer: "A" added,
// "C" changed (in the image below too), "D" deleted (an overlayfs whiteout). The mount points the engine
// makes for every container (/etc/hosts, /proc, ...) are not the container's changes, as docker's init
// layer keeps them out of its diff.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../images/store.js';
import { containerImage } from './container-image.js';
import { snapshotDir, snapshotKind } from '../images/snapshot.js';
import { EngineError, mustFind } from './containers.js';

export interface Change {
  Path: string;
  /** 0 modified, 1 added, 2 deleted (docker's API). */
  Kind: 0 | 1 | 2;
}

const ENGINE_MADE = new Set(['/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/proc', '/sys', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/etc/mtab', '/.dockerenv']);

export function containerChanges(root: string, ref: string): Change[] {
  const r = mustFind(root, ref);
  if (snapshotKind() === 'copy') throw new EngineError('diff: this host keeps containers as copies (no overlayfs): there is no layer of changes to compare', 'ERR_ENGINE');
  const store = new Store(root);
  const image = containerImage(root, r)?.rec;
  if (!image) throw new EngineError(`container ${r.Name}: its image ${r.Image} is gone`, 'ERR_NO_SUCH_IMAGE');
  const lowers = image.diffIds.map((d) => store.layerPath(d)).reverse();
  const below = (rel: string) => lowers.some((l) => {
    const st = lstatSync(join(l, rel), { throwIfNoEntry: false });
    return !!st && !(st.isCharacterDevice() && st.rdev === 0);
  });
  const out: Change[] = [];
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const path = `${rel}/${name}`;
      const st = lstatSync(p);
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ Path: path, Kind: 2 });
        continue;
      }
      const existed = below(path);
      out.push({ Path: path, Kind: existed ? 0 : 1 });
      if (st.isDirectory()) walk(p, path);
    }
  };
  walk(join(snapshotDir(root, r.Id), 'upper'), '');
  // The engine's mount points go, then the directories changed only to hold them (their mtime changed:
  // docker's init layer hides that too).
  const upper = join(snapshotDir(root, r.Id), 'upper');
  const kept = out.filter((c) => !ENGINE_MADE.has(c.Path));
  return kept.filter((c) => c.Kind !== 0 || !lstatSync(join(upper, c.Path)).isDirectory() || kept.some((o) => o.Path.startsWith(`${c.Path}/`)) || !out.some((o) => o.Path.startsWith(`${c.Path}/`)));
}
