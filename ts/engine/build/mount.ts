// A stage's filesystem to work on: overlayfs with the stage's layers below and a fresh upper dir, which
// after the step is exactly the step's diff (layer-tar.ts turns it into the layer).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native.js';
import type { Store } from '../../images/store.js';
import { removeTree } from '../../images/tree.js';
import { atOwnerExit, cancelAtOwnerExit } from '../../runtime/owner-exit.js';

export interface WorkMount {
  dir: string;
  merged: string;
  upper: string;
  /** Unmounts and removes everything (idempotent). */
  release(): void;
}

/** diffIds bottom first; none (scratch) mounts an empty lower. */
export function mountLayers(store: Store, diffIds: string[]): WorkMount {
  const dir = store.tempPath('build');
  const merged = join(dir, 'merged');
  const upper = join(dir, 'upper');
  for (const d of ['merged', 'upper', 'work', 'empty']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  const lowers = diffIds.length ? diffIds.map((d) => store.layerPath(d)).reverse() : [join(dir, 'empty')];
  let mounted = false;
  const release = () => {
    cancelAtOwnerExit(dir);
    if (mounted) {
      try {
        native().umount(merged, 2 /* MNT_DETACH */);
      } catch {
        // gone already
      }
      mounted = false;
    }
    removeTree(dir);
  };
  try {
    native().mount('overlay', merged, 'overlay', 0, `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${join(dir, 'work')}`);
    mounted = true;
    // An interrupted build (^C, SIGTERM) unmounts too: after the step's container (stage 0) is gone.
    atOwnerExit(dir, release, 1);
  } catch (e) {
    release();
    throw new Error(`mount overlay on ${merged}: ${(e as Error).message}`);
  }
  return { dir, merged, upper, release };
}
