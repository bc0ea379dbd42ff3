// A container's root filesystem from an image: overlayfs with the image's layers below and a private
// upper layer; a plain copy where the kernel has no overlayfs. As root the overlay is mounted on the host
// (rootfs is the merged view); rootless it is mounted by tsbox-init inside the container's own user and
// mount namespaces (the spec carries it as a mount on "/"), and rootfs stays an empty mount point.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native.js';
import { isRootless } from '../runtime/rootless.js';
import type { OciMount } from '../runtime/spec.js';
import { Store, type ImageRecord } from './store.js';
import { copyTree, removeTree } from './tree.js';

export interface Snapshot {
  rootfs: string;
  /** Rootless: the overlay tsbox-init mounts on the container's "/" (spec.mounts[0]). */
  rootMount?: OciMount;
  /** Reads a file of the container's filesystem before it runs (the image's /etc/passwd). */
  readFile(rel: string): string | undefined;
  /** Unmounts and removes the container's layer (idempotent). */
  remove(): void;
}

export type SnapshotKind = 'overlay' | 'overlay (userxattr)' | 'copy';

/** How snapshots are made here: overlayfs (from the host, or in a user namespace when rootless) or copies. */
export function snapshotKind(): SnapshotKind {
  // TSBOX_SNAPSHOTTER=copy forces the fallback (hosts whose overlayfs cannot stack on the store's filesystem).
  if (process.env.TSBOX_SNAPSHOTTER === 'copy') return 'copy';
  let supported = false;
  try {
    supported = readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n');
  } catch {
    // no /proc: copy
  }
  if (!supported) return 'copy';
  if (!isRootless()) return 'overlay';
  // Unprivileged overlay mounts in a user namespace came with Linux 5.11.
  const [major, minor] = (readFileSync('/proc/sys/kernel/osrelease', 'utf8').match(/^(\d+)\.(\d+)/) ?? []).slice(1).map(Number);
  return major > 5 || (major === 5 && minor >= 11) ? 'overlay (userxattr)' : 'copy';
}

export function snapshotDir(root: string, id: string): string {
  return join(root, 'containers', id, 'snapshot');
}

/** The layers a container's snapshot was made of (its record beside them): image prune keeps them. */
const LAYERS = 'layers.json';
/** A copy of its image's config blob: what the container needs of the image once the image is deleted. */
const CONFIG = 'image-config.json';

/**
 * What a container's snapshot kept of the image it was made from, so that the container starts again
 * after the image is deleted (rmi -f while it was stopped), as docker's do; undefined for a snapshot made
 * before it kept them.
 */
export function snapshotImage(root: string, id: string): { diffIds: string[]; config: Buffer } | undefined {
  try {
    return { diffIds: layersOf(root, id), config: readFileSync(join(snapshotDir(root, id), CONFIG)) };
  } catch {
    return undefined;
  }
}

const layersOf = (root: string, id: string) => JSON.parse(readFileSync(join(snapshotDir(root, id), LAYERS), 'utf8')) as string[];

/** Every layer (diff id) some container's snapshot uses, whether its image is still named or not. */
export function snapshotLayers(root: string): string[] {
  const dir = join(root, 'containers');
  const out: string[] = [];
  for (const id of existsSync(dir) ? readdirSync(dir) : []) {
    try {
      out.push(...layersOf(root, id));
    } catch {
      // no snapshot (yet), or one made before the record was kept
    }
  }
  return out;
}

/** A file through the layers, top first; a whiteout (a 0/0 character device) hides it. */
function layeredRead(dirs: string[], rel: string): string | undefined {
  for (const d of dirs) {
    const p = join(d, rel);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined;
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Makes (or, for an existing container, finds again) the container's filesystem. */
export function prepareSnapshot(root: string, image: ImageRecord, id: string): Snapshot {
  const store = new Store(root);
  const dir = snapshotDir(root, id);
  const rootfs = join(dir, 'rootfs');
  const upper = join(dir, 'upper');
  for (const d of ['rootfs', 'upper', 'work']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  const lowers = image.diffIds.map((d) => store.layerPath(d)).reverse();
  for (const l of lowers) if (!existsSync(l)) throw new Error(`image ${image.name || image.config}: layer ${l} is missing; pull it again`);
  // Its lower directories (image prune keeps them) and its config: the container outlives the image.
  if (!existsSync(join(dir, CONFIG))) {
    writeFileSync(join(dir, LAYERS), JSON.stringify(image.diffIds));
    const config = join(dir, CONFIG);
    if (store.hasBlob(image.config)) writeFileSync(config, store.readBlob(image.config));
  }
  const remove = () => {
    try {
      native().umount(rootfs, 2 /* MNT_DETACH */);
    } catch {
      // not mounted
    }
    removeTree(dir);
  };
  const kind = snapshotKind();
  // A single layer still goes through overlay: its upper keeps the image pristine.
  const data = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${join(dir, 'work')}`;
  if (kind === 'overlay (userxattr)' && lowers.length > 0) {
    return {
      rootfs,
      rootMount: { destination: '/', type: 'overlay', source: 'overlay', options: [...data.split(','), 'userxattr'] },
      readFile: (rel) => layeredRead([upper, ...lowers], rel),
      remove,
    };
  }
  const readFile = (rel: string) => layeredRead([rootfs], rel);
  if (isMounted(rootfs)) return { rootfs, readFile, remove };
  try {
    if (kind === 'overlay' && lowers.length > 0) {
      native().mount('overlay', rootfs, 'overlay', 0, data);
    } else if (!existsSync(join(dir, 'copied'))) {
      for (const l of [...lowers].reverse()) copyTree(l, rootfs);
      mkdirSync(join(dir, 'copied'));
    }
  } catch (e) {
    remove();
    throw e;
  }
  return { rootfs, readFile, remove };
}

export function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}
