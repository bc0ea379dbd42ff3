// Ownership: what a process starts through the library (containers, and what goes with them) dies and is
// removed when that process ends, whichever way it ends.
// - Whenever JavaScript still runs (an end, process.exit, a throw, SIGINT/SIGTERM/SIGHUP): owner-exit.ts.
// - SIGKILL, a crash: no JavaScript runs. The kernel kills each container's first process (tsbox-init
//   sets a parent-death signal, csrc/init/owner.c); its state, cgroup, records and layers are reaped by
//   the next process that starts a container there: each owned thing is indexed by its owner's pid and
//   start time, and those whose owner is gone are removed.
// Detached containers are nobody's: they are never indexed, killed or reaped.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native.js';
import * as ops from './operations.js';
import { atOwnerExit, cancelAtOwnerExit } from './owner-exit.js';
import { NotFoundError, procStartTime, readState, stateDir } from './state.js';

/** "<pid>-<start time>": a pid the kernel gave again to another process has another start time. */
export type OwnerStamp = string;

let self: OwnerStamp | undefined;

/** This process's stamp. */
export function ownerStamp(): OwnerStamp {
  self ??= `${process.pid}-${procStartTime(process.pid) ?? '0'}`;
  return self;
}

/** Whether the process a stamp names still runs (a zombie does not). */
export function ownerAlive(stamp: OwnerStamp): boolean {
  const m = /^(\d+)-(\d+)$/.exec(stamp);
  if (!m) return true; // not a stamp: never taken for a dead owner
  return procStartTime(Number(m[1])) === m[2];
}

/** Splits "<pid>-<start>-<rest>" (an index entry, a layer name) into the stamp and the rest. */
export function parseStamped(name: string): { stamp: OwnerStamp; rest: string } | undefined {
  const m = /^(\d+-\d+)-(.+)$/.exec(name);
  return m ? { stamp: m[1], rest: m[2] } : undefined;
}

// --- The kernel's part --------------------------------------------------------------------------------

let lifeline: [number, number] | undefined;

/**
 * The read end of a pipe whose write end only this process holds (close-on-exec): tsbox-init of an owned
 * container checks it after setting its parent-death signal, since an owner already gone sends none.
 */
function ownerPipe(): number {
  lifeline ??= native().pipe();
  return lifeline[0];
}

// --- Owned runtime containers: <state root>/.owned/<stamp>-<id> ------------------------------------------

// Not a container id (ids start with a letter or digit): `list` and runc-style clients never see it.
const INDEX = '.owned';

function entryName(id: string): string {
  return `${ownerStamp()}-${id}`;
}

/**
 * Index entries: a file per owned thing in a directory that exists only while it holds any (tools and
 * tests that list a root see nothing of it otherwise).
 */
export function addEntry(dir: string, name: string): void {
  for (let i = 0; ; i++) {
    // The directory is there while any entry is (other containers of a process starting many): made
    // only when missing, or when another process removed it as it emptied it.
    try {
      return writeFileSync(join(dir, name), '', { mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || i > 10) throw e;
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
}

export function removeEntry(dir: string, name: string): void {
  try {
    unlinkSync(join(dir, name));
    rmdirSync(dir);
  } catch {
    // not there, or other entries remain
  }
}

/**
 * Makes the container this process's: indexed for the reaper, killed and removed when the process ends.
 * Returns what launch needs to tie the container to this process in the kernel.
 */
export function ownContainer(root: string, id: string): { fd: number; stamp: OwnerStamp } {
  addEntry(join(root, INDEX), entryName(id));
  atOwnerExit(`container\0${root}\0${id}`, () => {
    ops.remove(root, id, true);
    removeEntry(join(root, INDEX), entryName(id));
  }, 0);
  return { fd: ownerPipe(), stamp: ownerStamp() };
}

export function disownContainer(root: string, id: string): void {
  cancelAtOwnerExit(`container\0${root}\0${id}`);
  removeEntry(join(root, INDEX), entryName(id));
}

const reaped = new Set<string>();

/**
 * Once per state root and process, before its first container: kills and removes the owned containers
 * whose owner is gone (one directory read; the state is read only for those). A container is touched
 * only if its own state names that owner: never a detached one, nor one by the same id made since.
 */
export function reapOrphans(root: string): void {
  if (reaped.has(root)) return;
  reaped.add(root);
  let names: string[];
  try {
    names = readdirSync(join(root, INDEX));
  } catch {
    return;
  }
  const alive = new Map<OwnerStamp, boolean>();
  for (const name of names) {
    const e = parseStamped(name);
    if (!e || e.stamp === ownerStamp()) continue;
    let live = alive.get(e.stamp);
    if (live === undefined) alive.set(e.stamp, (live = ownerAlive(e.stamp)));
    if (live) continue;
    try {
      reapContainer(root, e.rest, e.stamp);
      removeEntry(join(root, INDEX), name);
    } catch {
      // left for a later start (busy, or not ours to remove)
    }
  }
}

function reapContainer(root: string, id: string, stamp: OwnerStamp): void {
  let owner: string | undefined;
  try {
    owner = readState(root, id).ownedBy;
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    // Killed between its reservation and its state: the reservation (and the cgroup it names) goes, if
    // that owner made it (its first line is the creator's pid), or the directory is still empty.
    let creator: string | undefined;
    try {
      creator = readFileSync(join(stateDir(root, id), 'creating'), 'utf8').split('\n')[0];
    } catch {
      if (!existsSync(stateDir(root, id))) return;
    }
    if (creator === undefined || creator === stamp.split('-')[0]) ops.remove(root, id, true);
    return;
  }
  if (owner === stamp) ops.remove(root, id, true);
}
