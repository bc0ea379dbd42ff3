// image prune of the store: apart from the archive formats, so that the engine's prune loads no tar code.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store, hex } from './store.js';
import { removeTree } from './tree.js';
import { snapshotLayers } from './snapshot.js';

/** image prune: blobs and unpacked layers no tagged image nor container refers to, and leftovers of dead pulls. */
export function prune(root: string): string[] {
  const store = new Store(root);
  return store.withLock(() => {
    store.sweepTemp();
    const keepBlobs = new Set<string>();
    const keepLayers = new Set<string>();
    for (const r of store.images()) {
      keepBlobs.add(hex(r.manifest));
      keepBlobs.add(hex(r.config));
      for (const d of r.diffIds) keepLayers.add(hex(d));
      try {
        // Unchecked: a corrupt manifest still keeps what it names (image verify reports it).
        for (const l of (JSON.parse(readFileSync(store.blobPath(r.manifest), 'utf8')) as { layers: { digest: string }[] }).layers) keepBlobs.add(hex(l.digest));
      } catch {
        // a missing manifest keeps nothing more
      }
    }
    // And the layers under containers (an image rmi -f untagged while one used it).
    for (const d of snapshotLayers(root)) keepLayers.add(hex(d));
    const removed: string[] = [];
    for (const [dir, keep] of [[join(store.dir, 'blobs', 'sha256'), keepBlobs], [join(store.dir, 'layers'), keepLayers], [join(store.dir, 'trees'), keepLayers]] as const) {
      for (const n of readdirSafe(dir)) {
        if (keep.has(n)) continue;
        removeTree(join(dir, n));
        if (!dir.endsWith('trees')) removed.push(`sha256:${n}`);
      }
    }
    return removed;
  });
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
