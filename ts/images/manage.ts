// Image records: lookup by name or id, tagging, removal with an in-use check, and the sizes docker shows.
import { readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatReference, parseReference } from './reference.js';
import { Store, type ImageRecord } from './store.js';
import { removeTree } from './tree.js';

/** Finds an image by name ("busybox", "127.0.0.1:5000/x:tag") or id prefix (config digest). */
export function findImage(store: Store, nameOrId: string): ImageRecord | undefined {
  const list = store.images();
  const id = nameOrId.replace(/^sha256:/, '');
  if (/^[a-f0-9]{6,64}$/.test(id)) {
    const byId = list.find((i) => i.config.slice(7).startsWith(id));
    if (byId) return byId;
  }
  // An invalid reference is an error of its own, not a missing image (nor a reason to pull).
  const full = formatReference(parseReference(nameOrId));
  return list.find((i) => i.name === full);
}

export function tagImage(store: Store, source: string, target: string): ImageRecord {
  const src = findImage(store, source);
  if (!src) throw new Error(`No such image: ${source}`);
  const rec = { ...src, name: formatReference(parseReference(target)), created: src.created };
  store.tag(rec);
  return rec;
}

/** Containers (under <root>/containers) whose config names this image id. */
export function containersUsing(root: string, configDigest: string): string[] {
  const dir = join(root, 'containers');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((id) => {
    try {
      return (JSON.parse(readFileSync(join(dir, id, 'config.json'), 'utf8')) as { ImageId?: string }).ImageId === configDigest;
    } catch {
      return false;
    }
  });
}

/** Untags (and, when no tag is left, deletes layers no other image uses). Refuses an image in use unless force. */
export function removeImage(root: string, nameOrId: string, force = false): string[] {
  const store = new Store(root);
  return store.withLock(() => {
    const rec = findImage(store, nameOrId);
    if (!rec) throw new Error(`No such image: ${nameOrId}`);
    const users = containersUsing(root, rec.config);
    if (users.length && !force) throw new Error(`conflict: unable to remove image ${nameOrId}: image is being used by container ${users[0]}`);
    const byId = /^(sha256:)?[a-f0-9]{6,64}$/.test(nameOrId) && !nameOrId.includes(':latest');
    let list = store.images();
    list = byId ? list.filter((i) => i.config !== rec.config) : list.filter((i) => i.name !== rec.name);
    store.saveImages(list);
    const out = [`Untagged: ${rec.name}`];
    if (!list.some((i) => i.config === rec.config)) {
      const keep = new Set(list.flatMap((i) => i.diffIds));
      for (const d of rec.diffIds) {
        if (keep.has(d)) continue;
        removeTree(store.layerPath(d));
        rmSync(store.treePath(d), { force: true });
        out.push(`Deleted: ${d}`);
      }
      out.push(`Deleted: ${rec.config}`);
    }
    return out;
  });
}

/** Bytes of the regular files below a directory (0 when it does not exist). */
export function dirSize(dir: string): number {
  let total = 0;
  const walk = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const f = join(p, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile()) total += statSync(f).size;
    }
  };
  if (existsSync(dir)) walk(dir);
  return total;
}

/** Bytes of the image's unpacked layers (what docker's SIZE column approximates). */
export function imageSize(store: Store, rec: ImageRecord): number {
  return rec.diffIds.reduce((n, d) => n + dirSize(store.layerPath(d)), 0);
}
