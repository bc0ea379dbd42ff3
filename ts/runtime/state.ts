// Container state on disk (<root>/<id>/state.json), its locks, and the status derived from the kernel's truth.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { openCgroup, type Cgroup, type CgroupVersion } from './cgroup/index.js';
import { NoCgroup } from './cgroup/rootless.js';
import { inUserNamespace } from './rootless.js';
import { native } from '../native.js';
import type { OciSpec } from './spec.js';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface ContainerState {
  ociVersion: string;
  id: string;
  /** Host pid of the container's first process (tsbox-init, or the user process without init). */
  pid: number;
  /** Field 22 of /proc/<pid>/stat when created: a reused pid will not match. */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  /** "<pid>-<start time>" of the process this container dies with (ownership.ts); absent when detached. */
  ownedBy?: string;
  annotations?: Record<string, string>;
  /** "" when the container has no cgroup (rootless without a delegated subtree). */
  cgroupPath: string;
  cgroupVersion: CgroupVersion;
  /** Rootless: where cgroup2 is mounted, and the delegated cgroup the container's lies in. */
  cgroupMount?: string;
  cgroupDelegated?: string;
  initMode: 'init' | 'exec';
  spec: OciSpec;
}

/** Where a container's cgroup is: named in the reservation before the cgroup is made, then in the state. */
export type Placement = Pick<ContainerState, 'cgroupPath' | 'cgroupVersion' | 'cgroupMount' | 'cgroupDelegated'>;

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_+.-]*$/;

export function checkId(id: string): void {
  if (!ID_RE.test(id) || id.length > 1024) throw new Error(`invalid container id ${JSON.stringify(id)}: use letters, digits and _+.-`);
}

/**
 * runc's rule for its /run/runc: /run/tsbox for the host's root; $XDG_RUNTIME_DIR/tsbox for anyone else,
 * and for root of a user namespace unless USER is root (rootless podman runs the runtime as its user
 * namespace's root, where /run is the host's and not writable).
 */
export function defaultStateRoot(): string {
  if (process.env.TSBOX_STATE_ROOT) return process.env.TSBOX_STATE_ROOT;
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (process.getuid?.() === 0 && !(xdg && process.env.USER !== 'root' && inUserNamespace())) return '/run/tsbox';
  return xdg ? join(xdg, 'tsbox') : join('/tmp', `tsbox-${process.getuid?.()}`);
}

export function stateDir(root: string, id: string): string {
  return join(root, id);
}

export function fifoPath(root: string, id: string): string {
  return join(root, id, 'exec.fifo');
}

/** Thrown when the container does not exist; podman looks for "does not exist" in the text. */
export class NotFoundError extends Error {
  constructor(id: string) {
    super(`container ${JSON.stringify(id)} does not exist`);
  }
}

export function readState(root: string, id: string): ContainerState {
  checkId(id);
  const file = join(stateDir(root, id), 'state.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(id);
    throw e;
  }
  try {
    return JSON.parse(text) as ContainerState;
  } catch {
    // A crash between write and rename cannot produce this (the rename is atomic); a torn disk can.
    throw new Error(`state ${file}: corrupt JSON; remove the container with "delete --force ${id}"`);
  }
}

export function writeState(root: string, s: ContainerState): void {
  const dir = stateDir(root, s.id);
  const tmp = join(dir, `.state.json.${process.pid}`);
  // No fsync: the state root is a tmpfs (/run, $XDG_RUNTIME_DIR) that a reboot empties anyway, and the
  // rename alone keeps readers from ever seeing half a file. fsync cost more than the rest of a start.
  writeFileSync(tmp, JSON.stringify(s), { mode: 0o600 });
  renameSync(tmp, join(dir, 'state.json'));
}

export function listIds(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && ID_RE.test(d.name))
      .map((d) => d.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Start time of pid from /proc, or undefined when it is gone or a zombie. */
export function procStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parens: fields start after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return rest[19];
}

export function isAlive(s: Pick<ContainerState, 'pid' | 'pidStartTime'>): boolean {
  return s.pid > 0 && procStartTime(s.pid) === s.pidStartTime;
}

/** The cgroup a placement names, or undefined when there is none (rootless without a delegated subtree). */
function placedCgroup(p: Placement): Cgroup | undefined {
  return p.cgroupPath ? openCgroup(p.cgroupPath, { version: p.cgroupVersion, mountRoot: p.cgroupMount, delegated: p.cgroupDelegated }) : undefined;
}

export function containerCgroup(s: ContainerState): Cgroup {
  return placedCgroup(s) ?? new NoCgroup(s.pid);
}

export function statusOf(root: string, s: ContainerState): Status {
  if (!isAlive(s)) return 'stopped';
  if (creatorAlive(root, s.id)) return 'creating';
  if (existsSync(fifoPath(root, s.id))) return 'created';
  try {
    if (containerCgroup(s).frozen()) return 'paused';
  } catch {
    // A cgroup that vanished under us does not make a live process paused.
  }
  return 'running';
}

export class LockBusyError extends Error {
  readonly code = 'EWOULDBLOCK';
}

let nonBlocking = false;

/**
 * A process serving many calls at once (the runtime server) must not block on a lock another process
 * holds: withLock then throws LockBusyError at once (before fn ran), and the call retries asynchronously.
 */
export function useNonBlockingLocks(on: boolean): void {
  nonBlocking = on;
}

/**
 * Runs fn holding an exclusive flock on the container's state directory itself; concurrent CLI calls on
 * one container queue here. No lock files beside the containers: tools that list a runtime root as runc
 * does (Docker's runtime root, `runc list`) see container directories only.
 */
export function withLock<T>(root: string, id: string, fn: () => T): T {
  checkId(id);
  const dir = stateDir(root, id);
  for (;;) {
    let fd: number;
    try {
      fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(id);
      throw e;
    }
    try {
      if (nonBlocking) {
        if (!native().flock(fd, 2 /* LOCK_EX */ | 4 /* LOCK_NB */)) throw new LockBusyError(`container ${id}: its state is locked by another call`);
      } else {
        native().flock(fd, 2 /* LOCK_EX */);
      }
      // delete may have removed the directory while we waited, and a create made a new one by that name.
      const now = statSync(dir, { throwIfNoEntry: false });
      if (!now || now.ino !== fstatSync(fd).ino) {
        if (!now) throw new NotFoundError(id);
        continue;
      }
      if (!existsSync(join(dir, 'state.json')) && !existsSync(join(dir, 'creating'))) throw new NotFoundError(id);
      return fn();
    } finally {
      closeSync(fd);
    }
  }
}

/** Creates <root>/<id> exclusively, with a "creating" marker until state.json exists. */
// State roots this process has made sure of: a long-running API process starts many containers in one.
const roots = new Set<string>();

export function reserveId(root: string, id: string, place?: Placement): void {
  checkId(id);
  if (!roots.has(root)) {
    mkdirSync(root, { recursive: true, mode: 0o711 });
    roots.add(root);
  }
  const dir = stateDir(root, id);
  try {
    mkdirSync(dir, { mode: 0o711 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // The root was removed since: made again.
      mkdirSync(root, { recursive: true, mode: 0o711 });
      mkdirSync(dir, { mode: 0o711 });
    } else if (code === 'EEXIST') {
      // A leftover of a create that was killed before it wrote state.json can be reclaimed.
      if (existsSync(join(dir, 'state.json')) || !isStaleReservation(dir)) {
        throw new Error(`container ${JSON.stringify(id)} already exists`);
      }
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { mode: 0o711 });
    } else {
      throw e;
    }
  }
  // "<creator pid>\n<placement JSON>": one write names both.
  writeFileSync(join(dir, 'creating'), `${process.pid}\n${place ? JSON.stringify(place) : ''}`);
}

function readReservation(dir: string): { pid: number; place?: Placement } | undefined {
  try {
    const text = readFileSync(join(dir, 'creating'), 'utf8');
    const nl = text.indexOf('\n');
    const rest = nl >= 0 ? text.slice(nl + 1) : '';
    return { pid: parseInt(text, 10), place: rest ? (JSON.parse(rest) as Placement) : undefined };
  } catch {
    return undefined;
  }
}

/** The cgroup a create named before it was killed (no state.json yet), for delete --force. */
export function reservedCgroup(root: string, id: string): Cgroup | undefined {
  const place = readReservation(stateDir(root, id))?.place;
  return place && placedCgroup(place);
}

function isStaleReservation(dir: string): boolean {
  const pid = readReservation(dir)?.pid ?? 0;
  return !(pid > 0 && procStartTime(pid) !== undefined);
}

/** True while the process that is creating this container is still at it. */
function creatorAlive(root: string, id: string): boolean {
  const dir = stateDir(root, id);
  return existsSync(join(dir, 'creating')) && !isStaleReservation(dir);
}

/** Setup finished: the container is what its process says it is from now on. */
export function markCreated(root: string, id: string): void {
  unlinkQuietly(join(stateDir(root, id), 'creating'));
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** A state directory holds only files: each unlinked by name, cheaper than a recursive walk on every delete. */
export function removeStateDir(root: string, id: string): void {
  const dir = stateDir(root, id);
  // What a container leaves once it was created is state.json alone: removed by name, without listing.
  try {
    unlinkSync(join(dir, 'state.json'));
    rmdirSync(dir);
    return;
  } catch {
    // no state.json (a reservation), or other files beside it: the listing below
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    for (const f of names) unlinkQuietly(join(dir, f));
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    // Not only files in there after all: the whole walk.
    rmSync(dir, { recursive: true, force: true });
  }
}
