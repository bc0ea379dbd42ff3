// Ownership: what a process starts through the library (containers, and what goes with them) dies and is
// removed when that process ends, whichever way it ends.
// - Normal end, process.exit(), an uncaught exception: the 'exit' listener cleans up synchronously.
// - SIGINT, SIGTERM, SIGHUP with no other listener: cleaned up, then the signal is raised again with its
//   default effect, so the process dies of it as it would have without tsbox (an app that listens
//   decides itself; the 'exit' listener still cleans up when it exits).
// - SIGKILL, a crash: no JavaScript runs. The kernel kills each container's first process (tsbox-init
//   sets a parent-death signal, csrc/init/owner.c); its state, cgroup, records and layers are reaped by
//   the next process that starts a container there: each owned thing is indexed by its owner's pid and
//   start time, and those whose owner is gone are removed.
// Detached containers are nobody's: they are never indexed, killed or reaped.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { native } from '../native.js';
import * as ops from './operations.js';
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

// --- What runs when this process ends ------------------------------------------------------------------

type Cleanup = () => void;
// Containers are killed first, then what went with them (engine records, sandbox layers).
const stages: [Map<string, Cleanup>, Map<string, Cleanup>] = [new Map(), new Map()];
let exitHook = false;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let signalHooks = false;

function cleanupAll(): void {
  for (const stage of stages) {
    for (const [key, fn] of [...stage]) {
      stage.delete(key);
      try {
        fn();
      } catch {
        // gone already, or nothing more to do at this point: the next start reaps what is left
      }
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  // Another listener makes the signal the app's to act on (save work on ^C, or ignore it): never
  // swallowed by us, never decided by us. The 'exit' listener still cleans up when it does exit.
  if (process.listenerCount(sig) > 1) return;
  cleanupAll();
  signalsOff();
  // No listener is left: the signal has its default effect again, and the process dies of it.
  process.kill(process.pid, sig);
}

const handlers = new Map<string, () => void>(SIGNALS.map((s) => [s, () => onSignal(s)]));

function signalsOn(): void {
  // Signals reach the main thread only; a worker's containers are cleaned up by its 'exit' and teardown.
  // Electron's main process quits gracefully on these signals itself (its 'exit' cleans up): a Node
  // listener would replace that handler.
  if (signalHooks || !isMainThread || process.versions.electron) return;
  signalHooks = true;
  for (const s of SIGNALS) process.on(s, handlers.get(s)!);
}

function signalsOff(): void {
  if (!signalHooks) return;
  signalHooks = false;
  for (const s of SIGNALS) process.removeListener(s, handlers.get(s)!);
}

/**
 * Runs fn synchronously when this process ends (stage 0: containers, killed first; stage 1: what goes
 * with them). The SIGINT/SIGTERM/SIGHUP handlers are installed only while something is owned.
 */
export function atOwnerExit(key: string, fn: Cleanup, stage: 0 | 1 = 1): void {
  stages[stage].set(key, fn);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', cleanupAll);
  }
  signalsOn();
}

export function cancelAtOwnerExit(key: string): void {
  for (const stage of stages) stage.delete(key);
  if (!stages[0].size && !stages[1].size) signalsOff();
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
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      return writeFileSync(join(dir, name), '', { mode: 0o600 });
    } catch (e) {
      // Another process removed the directory as it emptied it: made again.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || i > 10) throw e;
    }
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
