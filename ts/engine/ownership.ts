// The engine's part of ownership (the runtime's: ../runtime/ownership.ts): the records of containers the
// library's run() started, and the /dev/shm layers of spawn()'s sandboxes, go with the process that made
// them, and what a killed owner left is reaped at the next start.
// - records: <root>/owned/<owner stamp>-<id>, made before anything of the container exists;
// - layers (spawn()'s and the CLI's sandboxes): the owner stamp is in the directory's name,
//   /dev/shm/tsbox-sandbox-api.<stamp>-XXXXXX.
import { existsSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { addEntry, disownContainer, ownerAlive, ownerStamp, parseStamped, reapOrphans, removeEntry } from '../runtime/ownership.js';
import { atOwnerExit, cancelAtOwnerExit } from '../runtime/owner-exit.js';
import { defaultStateRoot, stateDir } from '../runtime/state.js';
import { removeContainerFiles } from './run.js';
import { stateRoot } from './containers.js';

function ownedDir(root: string): string {
  return join(root, 'owned');
}

function entryName(id: string): string {
  return `${ownerStamp()}-${id}`;
}

/** The engine container id is this process's: its files are removed when the process ends. */
export function ownRecord(root: string, id: string): void {
  addEntry(ownedDir(root), entryName(id));
  atOwnerExit(`record\0${root}\0${id}`, () => {
    removeContainerFiles(root, id);
    removeEntry(ownedDir(root), entryName(id));
  });
}

/** Its files are gone: nothing left to do at exit, for the engine nor the runtime. */
export function disownRecord(root: string, id: string): void {
  disownContainer(stateRoot(root), id);
  cancelAtOwnerExit(`record\0${root}\0${id}`);
  removeEntry(ownedDir(root), entryName(id));
}

const reapedRoots = new Set<string>();

/**
 * Once per engine root and process, before its first container: the containers of owners that are gone
 * are killed and everything of them removed (state, cgroup, network, snapshot mount, record, name).
 */
export function reapRecords(root: string): void {
  reapOrphans(stateRoot(root));
  if (reapedRoots.has(root)) return;
  reapedRoots.add(root);
  let names: string[];
  try {
    names = readdirSync(ownedDir(root));
  } catch {
    return;
  }
  const alive = new Map<string, boolean>();
  for (const name of names) {
    const e = parseStamped(name);
    // Engine ids are 64 hex digits: nothing else is taken for one.
    if (!e || e.stamp === ownerStamp() || !/^[0-9a-f]{64}$/.test(e.rest)) continue;
    let live = alive.get(e.stamp);
    if (live === undefined) alive.set(e.stamp, (live = ownerAlive(e.stamp)));
    if (live) continue;
    try {
      removeContainerFiles(root, e.rest);
      removeEntry(ownedDir(root), name);
    } catch {
      // busy: a later start tries again
    }
  }
}

const SHM = '/dev/shm';
const LAYER = 'tsbox-sandbox-api.';

/** Where mkdtemp makes an owned sandbox's layer: its name says whose it is. */
export function layerPrefix(): string {
  return join(SHM, `${LAYER}${ownerStamp()}-`);
}

/** A detached sandbox's layer: nobody's (its container's poststop hook removes it). */
export function detachedLayerPrefix(): string {
  return join(SHM, `${LAYER}detached-`);
}

/** The layer goes when this process ends (after the containers: stage 1). */
export function trackLayer(dir: string): void {
  atOwnerExit(`layer\0${dir}`, () => rmSync(dir, { recursive: true, force: true }));
}

export function untrackLayer(dir: string): void {
  cancelAtOwnerExit(`layer\0${dir}`);
}

// Layers of earlier versions' `tsbox sandbox`, named without their owner.
const LEGACY_LAYER = 'tsbox-sandbox-sandbox-';

/**
 * A sandbox's state is made after its layer, so only an old layer (an hour) without state is taken for a
 * killed CLI's.
 */
function reapLegacyLayer(name: string): void {
  const id = name.slice('tsbox-sandbox-'.length).split('.')[0];
  const st = lstatSync(join(SHM, name), { throwIfNoEntry: false });
  if (st?.isDirectory() && st.uid === process.getuid?.() && Date.now() - st.mtimeMs > 3600_000 && !existsSync(stateDir(defaultStateRoot(), id))) rmSync(join(SHM, name), { recursive: true, force: true });
}

let layersReaped = false;

/** Once per process, before its first sandbox: the sandboxes (state, cgroup) and layers of owners that are gone. */
export function reapLayers(): void {
  reapOrphans(defaultStateRoot());
  if (layersReaped) return;
  layersReaped = true;
  let names: string[];
  try {
    names = readdirSync(SHM);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(LEGACY_LAYER)) {
      reapLegacyLayer(name);
      continue;
    }
    if (!name.startsWith(LAYER)) continue;
    const e = parseStamped(name.slice(LAYER.length));
    if (!e || e.stamp === ownerStamp() || ownerAlive(e.stamp)) continue;
    // /dev/shm is everyone's: only a directory of our own is taken for a layer of ours.
    const st = lstatSync(join(SHM, name), { throwIfNoEntry: false });
    if (!st?.isDirectory() || st.uid !== process.getuid?.()) continue;
    rmSync(join(SHM, name), { recursive: true, force: true });
  }
}
