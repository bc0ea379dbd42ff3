// Reading and writing cgroup control files, with errors that name the file.
import { closeSync, openSync, readFileSync, writeFileSync, writeSync, rmdirSync, mkdirSync, existsSync } from 'node:fs';
import { sleepSync } from '../sleep-sync.js';

export function cgWrite(file: string, value: string | number): void {
  try {
    writeFileSync(file, String(value));
  } catch (e) {
    throw new Error(`write ${file} (${value}): ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/**
 * Several values to one file, one write(2) each on one open file: files that take one rule per write
 * (devices.allow) would otherwise be looked up and opened again for every rule of every start.
 */
export function cgWriteEach(file: string, values: (string | number)[]): void {
  if (!values.length) return;
  let fd: number;
  try {
    fd = openSync(file, 'w');
  } catch (e) {
    throw new Error(`write ${file} (${values[0]}): ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  try {
    for (const v of values) {
      try {
        writeSync(fd, String(v));
      } catch (e) {
        throw new Error(`write ${file} (${v}): ${(e as NodeJS.ErrnoException).code ?? e}`);
      }
    }
  } finally {
    closeSync(fd);
  }
}

export function cgRead(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function cgNumber(file: string): number | undefined {
  const s = cgRead(file);
  if (s === undefined || s === 'max') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events) → record. */
export function cgKeyed(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (cgRead(file) ?? '').split('\n')) {
    const [k, v] = line.split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

export function cgPids(file: string): number[] {
  return (cgRead(file) ?? '').split('\n').filter(Boolean).map(Number);
}

/** mkdir -p; returns the first directory it made, undefined when dir existed. */
export function cgMkdir(dir: string): string | undefined {
  try {
    return mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(`mkdir ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/**
 * Removes empty cgroup dirs, and only if some are busy kills and thaws what is left in them, then waits
 * for it to go: an exited container's cgroup is almost always empty, and reading its pids first costs
 * every teardown.
 */
export function removeCgroupDirs(dirs: string[], killAll: () => void, thaw: () => void): void {
  const busy = dirs.filter((dir) => {
    try {
      rmdirSync(dir);
      return false;
    } catch (e) {
      return isBusy(dir, e);
    }
  });
  removeBusy(busy, killAll, thaw);
}

function isBusy(dir: string, e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return false;
  if (code !== 'EBUSY') throw new Error(`rmdir ${dir}: ${code ?? e}`);
  return true;
}

function removeBusy(busy: string[], killAll: () => void, thaw: () => void): void {
  if (!busy.length) return;
  // Processes outliving init (exec'd ones), or frozen ones that cannot die until thawed.
  killAll();
  thaw();
  for (const dir of busy) cgRmdir(dir);
}

/** rmdir, retried while the last tasks finish exiting (EBUSY); a missing dir is fine. */
export function cgRmdir(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 200) throw new Error(`rmdir ${dir}: ${code ?? e}`);
      sleepSync(10);
    }
  }
}

export function waitUntil(cond: () => boolean, what: string, timeoutMs = 5000): void {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`cgroup: timed out waiting for ${what}`);
    sleepSync(2);
  }
}

export { existsSync };

/** Signals each pid; ones that exited meanwhile are skipped. */
export function signalAll(pids: number[], signal: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}
