// Image records: lookup by name or id, tagging, removal with an in-use check, and the sizes docker shows.
import { readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatReference, parseReference } from './reference.js';
import { Store, type ImageRecord } from './store.js';
import { removeTree } from './tree.js';
import { snapshotLayers } from './snapshot.js';
import { TsboxError } from '../errors.js';

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

/** A container that uses an image, as the engine sees it. */
export interface ImageUser {
  id: string;
  running: boolean;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
const isDigest = (name: string) => name.includes('@');
const repoOf = (name: string) => {
  const r = parseReference(name);
  return `${r.registry}/${r.repository}`;
};

/** moby's isSingleReference: at most one tag, and every digest reference in that tag's repository. */
function singleReference(names: ImageRecord[]): boolean {
  if (names.length <= 1) return names.length === 1;
  const tags = names.filter((i) => !isDigest(i.name));
  if (tags.length > 1) return false;
  const repos = new Set(names.filter((i) => isDigest(i.name)).map((i) => repoOf(i.name)));
  return repos.size === 1 && repos.has(repoOf((tags[0] ?? names[0]).name));
}

/**
 * docker rmi, by moby's rules (daemon/images/image_delete.go) and in its words: a name is untagged, and
 * refused without force when it is the image's single reference and a container uses the image; an id removes
 * every name, refused when a running container uses it (force or not), and without force when several
 * names or a stopped container do. Once no name is left the image is deleted (its id first, then the layers
 * no other image uses), unless a running container uses it: then it stays, dangling. The layers under a
 * container are never deleted (docker's containers hold theirs; here the container's root filesystem is those
 * very directories, and what it needs of the image to start again is in its snapshot).
 */
export function removeImage(root: string, nameOrId: string, force: boolean, usersOf: (config: string) => ImageUser[]): string[] {
  const store = new Store(root);
  return store.withLock(() => {
    const rec = findImage(store, nameOrId);
    if (!rec) throw new Error(`No such image: ${nameOrId}`);
    const users = usersOf(rec.config);
    const all = store.images();
    const names = all.filter((i) => i.config === rec.config && i.name !== '');
    const byId = /^(sha256:)?[a-f0-9]{6,64}$/.test(nameOrId) && rec.config.slice(7).startsWith(nameOrId.replace(/^sha256:/, ''));
    const refuse = (hard: boolean, why: string) => new TsboxError(`conflict: unable to delete ${short(rec.config)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${why}`, 'ERR_CONFLICT');
    const running = users.find((u) => u.running);
    if (byId) {
      if (running) throw refuse(true, `image is being used by running container ${short(running.id)}`);
      if (!force && names.length && !singleReference(names)) throw refuse(false, 'image is referenced in multiple repositories');
      const stopped = users.find((u) => !u.running);
      if (!force && stopped) throw refuse(false, `image is being used by stopped container ${short(stopped.id)}`);
    } else if (!force && singleReference(names) && users.length) {
      throw new TsboxError(`conflict: unable to remove repository reference "${nameOrId}" (must force) - container ${short(users[0].id)} is using its referenced image ${short(rec.config)}`, 'ERR_CONFLICT');
    }
    // A tag's removal takes its repository's digest references with it when no tag of it is left.
    const sameRepo = byId ? [] : names.filter((i) => i.name !== rec.name && repoOf(i.name) === repoOf(rec.name));
    const gone = byId ? names : sameRepo.some((i) => !isDigest(i.name)) ? [rec] : [rec, ...sameRepo];
    const goneNames = new Set(gone.map((i) => i.name));
    let list = all.filter((i) => !goneNames.has(i.name));
    const out = gone.map((i) => `Untagged: ${i.name}`);
    if (!list.some((i) => i.config === rec.config && i.name !== '')) {
      list = list.filter((i) => i.config !== rec.config);
      if (running) list.push({ ...rec, name: '' });
      else {
        out.push(`Deleted: ${rec.config}`);
        const keep = new Set([...list.flatMap((i) => i.diffIds), ...snapshotLayers(root)]);
        for (const d of rec.diffIds) {
          if (keep.has(d)) continue;
          removeTree(store.layerPath(d));
          rmSync(store.treePath(d), { force: true });
          out.push(`Deleted: ${d}`);
        }
      }
    }
    store.saveImages(list);
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
