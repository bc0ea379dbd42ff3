// Engine container records: <root>/containers/<id>/config.json (what was asked for) next to the
// runtime's state (<root>/state/<id>, what the kernel says) and the exit status tsbox-init records.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RunOptions } from './options.js';
import { readState, statusOf, type Status } from '../runtime/state.js';
import { decodeWaitStatus } from '../runtime/api.js';
import { native } from '../native.js';
import { TsboxError } from '../errors.js';

export interface ContainerRecord {
  Id: string;
  Name: string;
  Image: string;
  /** The image config digest: rmi refuses to remove an image a container uses. */
  ImageId: string;
  Created: string;
  Args: string[];
  Options: RunOptions;
  StartedAt?: string;
  /** Set when the engine saw the exit itself (foreground runs); otherwise read from the status file. */
  FinishedAt?: string;
  ExitCode?: number;
  RestartCount?: number;
  /** Bridge address and published ports of the current run. */
  IPAddress?: string;
  Ports?: import('../net/ports.js').PortMapping[];
  /** stop/kill by the user: the restart policy leaves it stopped (as docker does). */
  StoppedByUser?: boolean;
}

export function containersDir(root: string): string {
  return join(root, 'containers');
}

export function stateRoot(root: string): string {
  return join(root, 'state');
}

export function containerDir(root: string, id: string): string {
  return join(containersDir(root), id);
}

export function newId(): string {
  return randomBytes(32).toString('hex');
}

const ADJ = ['brave', 'calm', 'eager', 'fond', 'gentle', 'keen', 'lucid', 'merry', 'nimble', 'quiet', 'sharp', 'tidy'];
const NOUN = ['otter', 'heron', 'lynx', 'falcon', 'badger', 'panda', 'koala', 'ibis', 'marten', 'wren', 'yak', 'zebu'];

export function newName(root: string): string {
  for (;;) {
    const n = `${ADJ[randomBytes(1)[0] % ADJ.length]}_${NOUN[randomBytes(1)[0] % NOUN.length]}_${randomBytes(2).toString('hex')}`;
    if (!findContainer(root, n)) return n;
  }
}

// Names are reserved before anything starts: <root>/names/<name> holds the id of the container that
// has it (and, until its record exists, the pid and start time of the run making it, so that the
// reservation of a run killed before it saved a record is seen as stale and taken over).
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

interface Reservation {
  id: string;
  pid: number;
  start: string;
}

/** Field 22 of /proc/PID/stat: a pid reused by another process has another start time. */
function startTime(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function withNamesLock<T>(root: string, fn: (dir: string) => T): T {
  const dir = join(root, 'names');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = openSync(join(dir, '.lock'), 'a', 0o600);
  try {
    native().flock(fd, 2 /* LOCK_EX */);
    return fn(dir);
  } finally {
    closeSync(fd);
  }
}

/** The id holding name, or undefined when it is free (never reserved, or its run died before its record). */
function nameHolder(root: string, dir: string, name: string): string | undefined {
  let r: Reservation;
  try {
    r = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Reservation;
  } catch {
    return undefined; // none, or half-written by a run that died: under the lock, nobody is writing it
  }
  if (loadRecord(root, r.id) || (r.pid && startTime(r.pid) === r.start)) return r.id;
  return undefined;
}

export function checkName(name: string): string {
  const n = name.replace(/^\//, '');
  if (!NAME.test(n)) throw new Error(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return n;
}

/** Reserves name for id, atomically with every other run; docker's conflict error when it is taken. */
export function reserveName(root: string, name: string, id: string): string {
  const n = checkName(name);
  withNamesLock(root, (dir) => {
    // Records from before reservations existed hold names too.
    const holder = nameHolder(root, dir, n) ?? listRecords(root).find((r) => r.Name === n && r.Id !== id)?.Id;
    if (holder && holder !== id) {
      throw new Error(`Conflict. The container name "/${n}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const tmp = join(dir, `.${n}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify({ id, pid: process.pid, start: startTime(process.pid) ?? '' } satisfies Reservation), { mode: 0o600 });
    renameSync(tmp, join(dir, n));
  });
  return n;
}

/** Frees name when id holds it. */
export function releaseName(root: string, name: string, id: string): void {
  if (!NAME.test(name) || !existsSync(join(root, 'names'))) return;
  withNamesLock(root, (dir) => {
    try {
      if ((JSON.parse(readFileSync(join(dir, name), 'utf8')) as Reservation).id === id) unlinkSync(join(dir, name));
    } catch {
      // not reserved
    }
  });
}

export function saveRecord(root: string, r: ContainerRecord): void {
  const dir = containerDir(root, r.Id);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const tmp = join(dir, `.config.json.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(r, null, 1));
  renameSync(tmp, join(dir, 'config.json'));
}

export function loadRecord(root: string, id: string): ContainerRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(containerDir(root, id), 'config.json'), 'utf8')) as ContainerRecord;
  } catch {
    return undefined;
  }
}

export function listRecords(root: string): ContainerRecord[] {
  const dir = containersDir(root);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((id) => loadRecord(root, id))
    .filter((r): r is ContainerRecord => !!r)
    // Newest first. ISO times in one format sort as strings; localeCompare's first call would build ICU's
    // collator (5 ms of any command that lists two records or more).
    .sort((a, b) => (a.Created < b.Created ? 1 : a.Created > b.Created ? -1 : 0));
}

/** By full id, unique id prefix, or name. */
export function findContainer(root: string, ref: string): ContainerRecord | undefined {
  const all = listRecords(root);
  const byName = all.find((r) => r.Name === ref || r.Name === ref.replace(/^\//, ''));
  if (byName) return byName;
  const byId = all.filter((r) => r.Id.startsWith(ref));
  return byId.length === 1 ? byId[0] : undefined;
}

/**
 * What docker's daemon refuses (no such container, not running): the CLI prints "Error: <message>"
 * and exits 1, as docker does for every command but run. code: ERR_NO_SUCH_CONTAINER, ERR_NO_SUCH_IMAGE,
 * ERR_NOT_RUNNING, ERR_CONFLICT, ERR_INVALID_FILTER, or ERR_ENGINE for the rest.
 */
export class EngineError extends TsboxError {
  readonly exitCode = 1;
  constructor(message: string, code = 'ERR_ENGINE') {
    super(message, code);
  }
}

export function mustFind(root: string, ref: string): ContainerRecord {
  const r = findContainer(root, ref);
  if (!r) throw new EngineError(`No such container: ${ref}`, 'ERR_NO_SUCH_CONTAINER');
  return r;
}

export interface LiveState {
  Status: 'created' | 'running' | 'paused' | 'exited';
  Running: boolean;
  Paused: boolean;
  Pid: number;
  ExitCode: number;
  StartedAt?: string;
  FinishedAt?: string;
}

/** The monitor's attach socket: short, as a unix socket's path must be. */
export function attachSocket(root: string, id: string): string {
  return join(root, 'attach', `${id.slice(0, 32)}.sock`);
}

export function statusFile(root: string, id: string): string {
  return join(containerDir(root, id), 'exit-status');
}

/** What the container is now: the runtime's state when it runs, the recorded exit status after. */
export function liveState(root: string, r: ContainerRecord): LiveState {
  let status: Status = 'stopped';
  let pid = 0;
  try {
    const s = readState(stateRoot(root), r.Id);
    status = statusOf(stateRoot(root), s);
    pid = status === 'stopped' ? 0 : s.pid;
  } catch {
    // no runtime state: never started, or already cleaned up
  }
  if (status !== 'stopped') {
    return { Status: status === 'paused' ? 'paused' : status === 'running' ? 'running' : 'created', Running: status === 'running' || status === 'paused', Paused: status === 'paused', Pid: pid, ExitCode: 0, StartedAt: r.StartedAt };
  }
  let code = r.ExitCode;
  let finished = r.FinishedAt;
  const f = statusFile(root, r.Id);
  if (code === undefined && existsSync(f)) {
    const text = readFileSync(f, 'utf8').trim();
    const w = text ? Number(text) : NaN;
    if (Number.isFinite(w)) {
      const st = decodeWaitStatus(w);
      code = st.code ?? 128 + (st.signal ?? 0);
      finished = statSync(f).mtime.toISOString();
    }
  }
  return { Status: r.StartedAt ? 'exited' : 'created', Running: false, Paused: false, Pid: 0, ExitCode: code ?? (r.StartedAt ? 137 : 0), StartedAt: r.StartedAt, FinishedAt: finished };
}

export function removeRecordDir(root: string, id: string): void {
  rmSync(containerDir(root, id), { recursive: true, force: true });
}
