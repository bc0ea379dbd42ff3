// Container events with docker's attributes (name, image, the container's labels), and the exits of
// detached containers, which nobody watches: recorded when an engine call first sees them, with the time
// their monitor wrote the exit status.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerDir, listRecords, liveState, statusFile, type ContainerRecord } from './containers.js';
import { eventsFile, recordEvent } from './events.js';
import { labelsOf } from './inspect.js';

// The labels alone, not a whole inspect (its cgroup reads and state): each run records four events.
function attributesOf(root: string, r: ContainerRecord): Record<string, string> {
  return { ...labelsOf(root, r), image: r.Image, name: r.Name };
}

export function containerEvent(root: string, r: ContainerRecord, action: string, extra: Record<string, string> = {}, when?: number): void {
  recordEvent(root, 'container', action, r.Id, { ...attributesOf(root, r), ...extra }, when);
}

/** The time of the last event recorded for id, from the end of the record (0 when none is there). */
function lastEventAt(root: string, id: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(eventsFile(root), 'r');
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, 65536));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    const lines = buf.toString('utf8').split('\n').reverse();
    for (const l of lines) if (l.includes(id)) return Math.round((JSON.parse(l) as { timeNano: number }).timeNano / 1e6);
  } catch {
    // no record yet, or a cut line
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return 0;
}

/**
 * Records "die" once per exit: the marker file's name is the exit's time, created exclusively. A file's
 * mtime comes from the kernel's coarse clock, a tick behind: the die never goes before the kill that
 * caused it.
 */
export function recordExit(root: string, r: ContainerRecord, exitCode: number, at: number): void {
  const marker = join(containerDir(root, r.Id), `.died-${at}`);
  if (existsSync(marker)) return;
  at = Math.max(at, lastEventAt(root, r.Id) + 1);
  try {
    writeFileSync(marker, '', { flag: 'wx', mode: 0o600 });
  } catch {
    return; // recorded already (or the container is gone)
  }
  containerEvent(root, r, 'die', { exitCode: String(exitCode) }, at);
}

/** The exits the engine has not recorded yet (detached containers, whose monitor writes only the status). */
export function recordExits(root: string): void {
  for (const r of listRecords(root)) recordExitOf(root, r);
}

const EMPTY_STATUS_MS = 5000;

/** r's exit, when it has one the engine has not recorded yet. */
export function recordExitOf(root: string, r: ContainerRecord): void {
  const f = statusFile(root, r.Id);
  if (!r.StartedAt || !existsSync(f)) return;
  const s = liveState(root, r);
  if (s.Running) return;
  const at = statSync(f).mtimeMs;
  // A status older than the current run's start is the previous run's (already recorded, or before events existed).
  if (Math.round(at) < Date.parse(r.StartedAt) - 1000) return;
  // The monitor truncates the file, then writes the status: each moves its mtime, which names the record.
  // An empty file is a status still being written, unless it has stayed empty for a while (its monitor
  // was killed): then the exit is recorded as it reads (137).
  if (r.ExitCode === undefined && !readFileSync(f, 'utf8').trim() && Date.now() - at < EMPTY_STATUS_MS) return;
  recordExit(root, r, s.ExitCode, Math.round(at));
}

/** The exit code of id's last recorded die, for a container removed meanwhile (--rm); undefined when none is recorded. */
export function lastExitCode(root: string, id: string): number | undefined {
  for (const f of [eventsFile(root), `${eventsFile(root)}.1`]) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n').reverse();
    for (const l of lines) {
      if (!l.includes(id) || !l.includes('"die"')) continue;
      try {
        const e = JSON.parse(l) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } };
        if (e.Action === 'die' && e.Actor.ID === id) return Number(e.Actor.Attributes.exitCode);
      } catch {
        // a cut line
      }
    }
  }
  return undefined;
}
