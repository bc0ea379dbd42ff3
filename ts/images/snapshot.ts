// A container's root filesystem from an image: overlayfs with the image's layers below and a private
// upper layer; a plain copy where the kernel has no overlayfs.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native.js';
import { Store, type ImageRecord } from './store.js';

export interface Snapshot {
  rootfs: string;
  /** Unmounts and removes the container's layer (idempotent). */
  remove(): void;
}

function overlaySupported(): boolean {
  // TSBOX_SNAPSHOTTER=copy forces the fallback (hosts whose overlayfs cannot stack on the store's filesystem).
  if (process.env.TSBOX_SNAPSHOTTER === 'copy') return false;
  try {
    return readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n');
  } catch {
    return false;
  }
}

export function snapshotDir(root: string, id: string): string {
  return join(root, 'containers', id, 'snapshot');
}

export function prepareSnapshot(root: string, image: ImageRecord, id: string): Snapshot {
  const store = new Store(root);
  const dir = snapshotDir(root, id);
  const rootfs = join(dir, 'rootfs');
  for (const d of ['rootfs', 'upper', 'work']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  const lowers = image.diffIds.map((d) => store.layerPath(d)).reverse();
  for (const l of lowers) if (!existsSync(l)) throw new Error(`image ${image.name}: layer ${l} is missing; pull it again`);
  const remove = () => {
    try {
      native().umount(rootfs, 2 /* MNT_DETACH */);
    } catch {
      // not mounted
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (overlaySupported() && lowers.length > 0) {
      // A single layer still goes through overlay: its upper keeps the image pristine.
      const lower = lowers.length === 1 ? `${lowers[0]}:${lowers[0]}` : lowers.join(':');
      native().mount('overlay', rootfs, 'overlay', 0, `lowerdir=${lowers.length === 1 ? lowers[0] : lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`);
    } else {
      for (const l of [...lowers].reverse()) cpSync(l, rootfs, { recursive: true, verbatimSymlinks: true, force: true });
    }
  } catch (e) {
    remove();
    throw e;
  }
  return { rootfs, remove };
}
