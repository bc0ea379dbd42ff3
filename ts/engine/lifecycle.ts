// Container lifecycle on engine records, with docker's names and typed options: start, stop, kill,
// restart, remove, wait, rename, pause, unpause, logs, top, stats. What the CLI and the library share.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import * as ops from '../runtime/operations.js';
import { containerCgroup, readState } from '../runtime/state.js';
import { signalNumber } from '../runtime/signals.js';
import { attachSocket, containerDir, EngineError, findContainer, liveState, loadRecord, mustFind, releaseName, reserveName, saveRecord, stateRoot, statusFile, type ContainerRecord } from './containers.js';
import { launchRecord, removeContainerFiles, type EngineHooks } from './run.js';
import { refreshPeers } from './network.js';
import { removeAnonymousVolumes } from './volumes.js';
import { parseLogLines, parseSince, type LogLine } from './logs.js';
import { containerEvent, lastExitCode, recordExits } from './container-events.js';
import { hostTool } from '../host-tools.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stopped, and its exit status written (so that its die is recorded before what follows). */
async function waitStopped(root: string, r: ContainerRecord, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  let gone: number | undefined;
  for (;;) {
    if (!liveState(root, r).Running) {
      if (!statusPending(root, r, (gone ??= Date.now()))) return true;
    } else if (Date.now() >= end) return false;
    await sleep(20);
  }
}

export interface StopOptions {
  /** Seconds to wait after the stop signal before SIGKILL (default: the container's --stop-timeout, else 10). */
  timeout?: number;
  /** Instead of the container's stop signal (--stop-signal, else SIGTERM). */
  signal?: string;
}

/** docker stop: the stop signal, then SIGKILL after the timeout; the restart policy leaves it stopped. */
export async function stopContainer(root: string, ref: string, o: StopOptions = {}): Promise<void> {
  const r = mustFind(root, ref);
  const timeout = o.timeout ?? r.Options.stopTimeout ?? 10;
  if (!Number.isFinite(timeout)) throw new RangeError(`stop: invalid timeout ${timeout}`);
  const sig = o.signal ?? r.Options.stopSignal ?? 'SIGTERM';
  signalNumber(sig);
  saveRecord(root, { ...r, StoppedByUser: true });
  if (!liveState(root, r).Running) return;
  // Recorded before it is sent: the die it causes may be recorded (by anyone watching) at once.
  containerEvent(root, r, 'kill', { signal: String(signalNumber(sig)) });
  try {
    ops.kill(stateRoot(root), r.Id, sig);
  } catch {
    return; // exited meanwhile
  }
  if (!(await waitStopped(root, r, timeout * 1000))) {
    containerEvent(root, r, 'kill', { signal: '9' });
    try {
      ops.kill(stateRoot(root), r.Id, 'SIGKILL', true);
    } catch {
      // exited meanwhile
    }
    await waitStopped(root, r, 10000);
  }
  // docker's order: kill, die, stop.
  recordExits(root);
  containerEvent(root, r, 'stop');
}

/** docker kill: one signal (default SIGKILL) to a running container. */
export function killContainer(root: string, ref: string, signal: string | number = 'SIGKILL'): void {
  // docker's daemon words the signal first, then the container, with the name as it was given.
  let n: number;
  try {
    n = signalNumber(signal);
  } catch {
    throw new EngineError(`Invalid signal: ${signal}`, 'ERR_INVALID_ARGUMENT');
  }
  const r = findContainer(root, ref);
  if (!r) throw new EngineError(`Cannot kill container: ${ref}: No such container: ${ref}`, 'ERR_NO_SUCH_CONTAINER');
  if (!liveState(root, r).Running) throw new EngineError(`Cannot kill container: ${ref}: Container ${r.Id} is not running`, 'ERR_NOT_RUNNING');
  saveRecord(root, { ...r, StoppedByUser: true });
  containerEvent(root, r, 'kill', { signal: String(n) });
  ops.kill(stateRoot(root), r.Id, n);
}

/** docker start: a created or stopped container runs again (detached, its output to its log); a running one is left as it is. */
export async function startContainerRecord(root: string, ref: string, hooks: EngineHooks = {}): Promise<void> {
  const r = mustFind(root, ref);
  if (!liveState(root, r).Running) await launchRecord(root, r, undefined, hooks);
}

export async function restartContainer(root: string, ref: string, o: { timeout?: number } = {}, hooks: EngineHooks = {}): Promise<void> {
  await stopContainer(root, ref, o);
  const r = mustFind(root, ref);
  await launchRecord(root, r, undefined, hooks);
  containerEvent(root, r, 'restart');
}

export interface RemoveOptions {
  /** Kill a running container first (docker rm -f). */
  force?: boolean;
  /** docker rm -v: also the container's anonymous volumes (-v /path, the image's VOLUMEs) no other container uses. */
  volumes?: boolean;
}

export function removeContainer(root: string, ref: string, o: RemoveOptions = {}): void {
  const r = mustFind(root, ref);
  if (liveState(root, r).Running && !o.force) {
    throw new EngineError(`You cannot remove a running container ${r.Id}. Stop the container before attempting removal or force remove`, 'ERR_CONFLICT');
  }
  removeContainerFiles(root, r.Id);
  if (o.volumes) removeAnonymousVolumes(root, r);
}

export function pauseContainer(root: string, ref: string): void {
  const r = mustFind(root, ref);
  const live = liveState(root, r);
  if (!live.Running) throw new EngineError(`Container ${r.Id} is not running`, 'ERR_NOT_RUNNING');
  if (live.Paused) throw new EngineError(`Container ${r.Id} is already paused`, 'ERR_CONFLICT');
  ops.pause(stateRoot(root), r.Id);
  containerEvent(root, r, 'pause');
}

export function unpauseContainer(root: string, ref: string): void {
  const r = mustFind(root, ref);
  if (!liveState(root, r).Paused) throw new EngineError(`Container ${r.Id} is not paused`, 'ERR_CONFLICT');
  ops.resume(stateRoot(root), r.Id);
  containerEvent(root, r, 'unpause');
}

/** docker rename: the new name is reserved as a run reserves one (docker's conflict error when taken). */
export function renameContainer(root: string, ref: string, newName: string): void {
  const r = mustFind(root, ref);
  const name = reserveName(root, newName, r.Id);
  if (name === r.Name) return;
  const fresh = loadRecord(root, r.Id) ?? r;
  saveRecord(root, { ...fresh, Name: name });
  releaseName(root, r.Name, r.Id);
  containerEvent(root, { ...fresh, Name: name }, 'rename', { oldName: `/${r.Name}` });
  // Peers on a user network find each other by name in /etc/hosts.
  if (r.IPAddress) refreshPeers(root, r.Options.network);
}

/** Whether this run's exit is recorded: by the engine (foreground), or by its monitor since it started. */
function statusWritten(root: string, r: ContainerRecord): boolean {
  if (r.ExitCode !== undefined) return true;
  const st = statSync(statusFile(root, r.Id), { throwIfNoEntry: false });
  // None: a run the engine watched itself (foreground). One from before this run says nothing.
  if (!st) return true;
  return st.size > 0 && st.mtimeMs >= Date.parse(r.StartedAt ?? '') - 1000;
}

/**
 * The process is gone a moment before its monitor has flushed its log and written its status: until then
 * the code would read as 137 (or the last run's). Whether to wait on for it, gone since `since`: a short
 * while, longer while the monitor's attach socket is still there (it goes right after the status, whose
 * fsync a loaded disk may hold for seconds).
 */
function statusPending(root: string, r: ContainerRecord, since: number): boolean {
  if (statusWritten(root, r)) return false;
  return Date.now() < since + (existsSync(attachSocket(root, r.Id)) ? 30000 : 2000);
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  StatusCode: number;
  Error?: { Message: string };
}

/** docker wait: resolves when the condition holds, with the exit code (polls the record; no daemon to tell us). */
export async function waitContainer(root: string, ref: string, o: { condition?: WaitCondition; signal?: AbortSignal } = {}): Promise<WaitResult> {
  const condition = o.condition ?? 'not-running';
  if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new RangeError(`wait: invalid condition ${JSON.stringify(condition)} (not-running, next-exit, removed)`);
  const first = mustFind(root, ref);
  const startedAt = liveState(root, first).StartedAt;
  let seenRunning = false;
  let seenExit = false;
  let unsettledSince: number | undefined;
  let last = 0;
  for (;;) {
    o.signal?.throwIfAborted();
    const r = loadRecord(root, first.Id);
    if (!r) {
      // Removed (--rm) before we saw it stop: its exit is in the engine's record of events.
      if (condition === 'removed' || condition === 'not-running') return { StatusCode: seenExit ? last : (lastExitCode(root, first.Id) ?? last) };
      throw new EngineError(`No such container: ${ref}`, 'ERR_NO_SUCH_CONTAINER');
    }
    const s = liveState(root, r);
    if (!s.Running && s.Status === 'exited' && statusPending(root, r, (unsettledSince ??= Date.now()))) {
      await sleep(20);
      continue;
    }
    last = s.ExitCode;
    seenExit = !s.Running;
    if (s.Running) seenRunning = true;
    else if (condition === 'not-running') return { StatusCode: s.ExitCode };
    else if (condition === 'next-exit' && (seenRunning || (s.StartedAt !== startedAt && s.Status === 'exited'))) return { StatusCode: s.ExitCode };
    await sleep(50);
  }
}

export interface LogsOptions {
  /** Keep reading as the container writes, until it stops (or signal aborts). */
  follow?: boolean;
  /** Only lines written at or after this time: a Date, Unix seconds, or docker's strings (RFC 3339, "10m"). */
  since?: Date | number | string;
  /** Only lines written before this time (same forms). */
  until?: Date | number | string;
  /** The last n lines only (before following); 'all' (default) for every line. */
  tail?: number | 'all';
  /** Each entry's text starts with its RFC 3339 time, as docker logs -t prints it. */
  timestamps?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  signal?: AbortSignal;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, as written. */
  time: string;
  /** The line as written (with its newline), prefixed with the time when timestamps was asked. */
  text: string;
}

function timeOf(t: Date | number | string, what: string): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'number') return t * 1000;
  try {
    return parseSince(t);
  } catch {
    throw new RangeError(`logs: invalid ${what} ${JSON.stringify(t)}: want a time, a timestamp or a duration like 10m`);
  }
}

/** The json-file log of a container started detached. */
export function logFile(root: string, ref: string): string {
  const r = mustFind(root, ref);
  if (r.Options.logDriver === 'none') throw new EngineError('configured logging driver does not support reading', 'ERR_ENGINE');
  const file = join(containerDir(root, r.Id), 'container.log');
  if (!existsSync(file)) throw new Error(`logs: container ${ref} was not started detached: its output went to the terminal`);
  return file;
}

/**
 * The log files open, newest (container.log) first, as one rotation (--log-opt max-file) left them: a
 * rotation renames them one by one, oldest first, so the names are opened and then looked at again, and
 * taken again unless the same files still have the same names. An open file stays the same file whatever
 * is renamed afterwards. Empty when there is no log (any more).
 */
function openLogChain(file: string): number[] {
  const inodes = () => {
    const out: number[] = [];
    for (let i = 0; ; i++) {
      const st = statSync(i ? `${file}.${i}` : file, { throwIfNoEntry: false });
      if (!st) return out;
      out.push(st.ino);
    }
  };
  // Bounded: a container removed meanwhile leaves no file at all.
  for (const until = Date.now() + 1000; Date.now() < until; ) {
    const fds: number[] = [];
    try {
      for (let i = 0; ; i++) fds.push(openSync(i ? `${file}.${i}` : file, 'r'));
    } catch {
      // the first name missing ends the chain
    }
    const seen = fds.map((fd) => fstatSync(fd).ino);
    const now = inodes();
    // Mid-rotation there is a hole: the name past the first missing one exists.
    const whole = !existsSync(`${file}.${seen.length + 1}`);
    if (seen.length && whole && now.length === seen.length && now.every((ino, i) => ino === seen[i])) return fds;
    fds.forEach((fd) => closeSync(fd));
  }
  return [];
}

/** docker logs, as an async iterator of entries; with follow it ends when the container stops. */
export async function* containerLogs(root: string, ref: string, o: LogsOptions = {}): AsyncGenerator<LogEntry> {
  const file = logFile(root, ref);
  const r = mustFind(root, ref);
  const since = o.since !== undefined ? timeOf(o.since, 'since') : undefined;
  const until = o.until !== undefined ? timeOf(o.until, 'until') : undefined;
  const tail = o.tail ?? 'all';
  if (tail !== 'all' && (!Number.isInteger(tail) || tail < 0)) throw new RangeError(`logs: invalid tail ${JSON.stringify(tail)}`);
  const wanted = (l: LogLine) => {
    if (l.stream === 'stdout' && o.stdout === false) return false;
    if (l.stream === 'stderr' && o.stderr === false) return false;
    const t = Date.parse(l.time);
    return !(since !== undefined && t < since) && !(until !== undefined && t >= until);
  };
  const entry = (l: LogLine): LogEntry => ({ stream: l.stream, time: l.time, text: o.timestamps ? `${l.time} ${l.log}` : l.log });
  // Rotated files first (--log-opt max-file): container.log.N is the oldest. Read through fds opened
  // together, so that a rotation meanwhile neither skips nor repeats lines.
  let fd = -1;
  let pos = 0;
  let rest = '';
  /** The chain's files after the current one (oldest first), read and closed; the current one kept in fd. */
  const takeChain = (chain: number[], upTo = chain.length): string[] => {
    const texts = chain.slice(1, upTo).reverse().map((f) => readFileSync(f, 'utf8'));
    chain.slice(1).forEach((f) => closeSync(f));
    if (fd >= 0) closeSync(fd);
    fd = chain[0];
    pos = 0;
    rest = '';
    return texts;
  };
  // Reads what fd has past pos, up to size.
  async function* drain(size: number): AsyncGenerator<LogEntry> {
    while (pos < size) {
      const buf = Buffer.alloc(Math.min(65536, size - pos));
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      pos += n;
      const text = rest + buf.toString('utf8', 0, n);
      const cut = text.lastIndexOf('\n') + 1;
      for (const l of parseLogLines(text.slice(0, cut))) if (wanted(l)) yield entry(l);
      rest = text.slice(cut);
    }
  }
  const chain = openLogChain(file);
  if (!chain.length) throw new Error(`logs: ${file}: no such file`);
  // Every fd is closed here or by the finally, also when the reader stops early.
  const older = takeChain(chain);
  try {
    // The current file up to its last whole line: following goes on from there.
    const head = Buffer.alloc(fstatSync(fd).size);
    const got = head.length ? readSync(fd, head, 0, head.length, 0) : 0;
    pos = head.lastIndexOf(10, got - 1) + 1;
    let lines = [...older, head.toString('utf8', 0, pos)].flatMap((t) => parseLogLines(t));
    if (tail !== 'all') lines = tail === 0 ? [] : lines.slice(-tail);
    for (const l of lines) if (wanted(l)) yield entry(l);
    if (!o.follow) return;
    let stoppedAt: number | undefined;
    for (;;) {
      if (o.signal?.aborted) return;
      const now = statSync(file, { throwIfNoEntry: false });
      const mine = fstatSync(fd);
      if (now && now.ino !== mine.ino) {
        // Rotated (--log-opt max-file): the rest of the old file, then the files rotated after it (more
        // than one rotation may happen between two looks), then the new one from its start.
        yield* drain(mine.size);
        const next = openLogChain(file);
        if (!next.length) return; // removed
        const k = next.findIndex((f) => fstatSync(f).ino === mine.ino);
        // Gone past max-file: every file left came after it.
        for (const t of takeChain(next, k < 0 ? next.length : k)) for (const l of parseLogLines(t)) if (wanted(l)) yield entry(l);
      } else if (mine.size < pos) {
        pos = 0; // started over (max-file=1)
        rest = '';
      }
      yield* drain(fstatSync(fd).size);
      // Done once it stopped, its monitor wrote the last of its output (it records the exit status after
      // that; one killed meanwhile never does: a second is enough then), and the file by that name is the
      // one read to its end: a rotation just before its exit leaves a new file whose size may equal where
      // the old one ended (same-length lines).
      if (!liveState(root, r).Running) {
        stoppedAt ??= Date.now();
        const st = statSync(statusFile(root, r.Id), { throwIfNoEntry: false });
        const logged = !!st && st.size > 0 && (!r.StartedAt || st.mtimeMs >= Date.parse(r.StartedAt));
        const last = statSync(file, { throwIfNoEntry: false });
        if ((logged || Date.now() - stoppedAt > 1000) && (!last || (last.ino === fstatSync(fd).ino && last.size === pos))) return;
      }
      if (until !== undefined && Date.now() >= until) return;
      await sleep(50);
    }
  } finally {
    closeSync(fd);
  }
}

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** docker top: ps(1) run with psArgs (default -ef), keeping the container's processes; the last column keeps its spaces. */
export function topContainer(root: string, ref: string, psArgs: string[] = ['-ef']): TopResult {
  const r = mustFind(root, ref);
  if (!liveState(root, r).Running) throw new EngineError(`Container ${r.Id} is not running`, 'ERR_NOT_RUNNING');
  const pids = new Set(ops.pids(stateRoot(root), r.Id));
  const out = execFileSync(hostTool('ps'), psArgs, { encoding: 'utf8' }).split('\n').filter((l) => l.trim());
  const titles = (out[0] ?? '').trim().split(/\s+/);
  const col = titles.indexOf('PID');
  if (col < 0) throw new Error(`ps ${psArgs.join(' ')}: no PID column in its output`);
  const processes = out.slice(1).flatMap((line) => {
    const f = line.trim().split(/\s+/);
    if (!pids.has(Number(f[col]))) return [];
    return [[...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]];
  });
  return { Titles: titles, Processes: processes };
}

export interface CpuStats {
  cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number };
  /** The host's CPU time in ns (all CPUs), from /proc/stat as docker reads it. */
  system_cpu_usage: number;
  online_cpus: number;
}

/** docker's stats object (the fields tsbox measures; the network and block I/O ones are not measured yet). */
export interface ContainerStats {
  id: string;
  name: string;
  read: string;
  preread: string;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage: number; max_usage?: number; limit: number; stats: Record<string, number> };
  pids_stats: { current: number; limit?: number };
}

function systemCpuNs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((n, v) => n + Number(v), 0);
  return ticks * (1e9 / 100); // USER_HZ is 100 on Linux
}

/** docker stats --no-stream for one container: two samples, interval ms apart (default 200). */
export async function containerStats(root: string, ref: string, o: { interval?: number } = {}): Promise<ContainerStats> {
  const r = mustFind(root, ref);
  const cg = containerCgroup(readState(stateRoot(root), r.Id));
  const sample = () => {
    const s = cg.stats();
    return {
      at: new Date().toISOString(),
      raw: s,
      cpu: { cpu_usage: { total_usage: s.cpu.usageNs, usage_in_kernelmode: s.cpu.systemNs ?? 0, usage_in_usermode: s.cpu.userNs ?? 0 }, system_cpu_usage: systemCpuNs(), online_cpus: cpus().length } satisfies CpuStats,
    };
  };
  const a = sample();
  await sleep(o.interval ?? 200);
  const b = sample();
  const m = b.raw.memory;
  const stats: Record<string, number> = {};
  if (m.rss !== undefined) stats.rss = m.rss;
  if (m.cache !== undefined) stats.cache = m.cache;
  if (m.swap !== undefined) stats.swap = m.swap;
  return {
    id: r.Id,
    name: `/${r.Name}`,
    read: b.at,
    preread: a.at,
    cpu_stats: b.cpu,
    precpu_stats: a.cpu,
    // docker reports the host's memory as the limit of a container without one.
    memory_stats: { usage: m.usage, ...(m.maxUsage !== undefined ? { max_usage: m.maxUsage } : {}), limit: Math.min(m.limit ?? Infinity, totalmem()), stats },
    pids_stats: { current: b.raw.pids.current, ...(b.raw.pids.limit !== undefined ? { limit: b.raw.pids.limit } : {}) },
  };
}

/** docker's CPU %: the container's share of the host's CPU time between the two samples, times the CPUs. */
export function cpuPercent(s: ContainerStats): number {
  const cpu = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sys = s.cpu_stats.system_cpu_usage - s.precpu_stats.system_cpu_usage;
  return sys > 0 && cpu > 0 ? (cpu / sys) * s.cpu_stats.online_cpus * 100 : 0;
}
