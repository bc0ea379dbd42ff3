// The build cache: step key → the stage's state after the step (config and layers). A hit counts only
// while every layer it names is still in the store (an image rm or prune may have taken it).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../images/store.js';
import type { LayerDescriptor } from '../../images/built.js';
import type { ImageDoc } from './config.js';

export interface CachedState {
  doc: ImageDoc;
  layers: LayerDescriptor[];
}

function dir(store: Store): string {
  const d = join(store.dir, 'build-cache');
  mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

export function readCache(store: Store, key: string): CachedState | undefined {
  let s: CachedState;
  try {
    s = JSON.parse(readFileSync(join(dir(store), key), 'utf8')) as CachedState;
  } catch {
    return undefined;
  }
  if (!s.layers.every((l) => store.hasBlob(l.digest)) || !s.doc.rootfs.diff_ids.every((d) => store.hasLayer(d))) return undefined;
  return s;
}

export function writeCache(store: Store, key: string, s: CachedState): void {
  const tmp = store.tempPath('cache');
  writeFileSync(tmp, JSON.stringify(s), { mode: 0o600 });
  renameSync(tmp, join(dir(store), key));
}
