// Compiled seccomp programs, kept: libseccomp's compile of docker's default profile costs ~5.5 ms for every
// container. In memory for the process; on disk as well where a CLI names a directory (useSeccompCacheDir),
// since each of its commands is a process of its own.
// A program is keyed by a hash of all it depends on: the filter as given, the architecture, the addon's
// libseccomp version and revision and the kernel's API level (native().seccompVersion()), the kernel's
// release. A file counts only when it is whole (magic, its own key, whole 8-byte instructions) and lies in
// a directory only this user can write (0700, ours); anything else is compiled afresh. Whoever can write
// that directory can write the engine's state and its containers' specs too.
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, lstatSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';

const MAGIC = Buffer.from('TSBXSCMP');
const HEADER = MAGIC.length + 32;
/** BPF_MAXINSNS instructions of 8 bytes: no valid program is larger. */
const MAX_PROGRAM = 4096 * 8;
/** Distinct filters kept in memory (a process running containers of many profiles stays bounded). */
const MEMORY_ENTRIES = 32;

const memory = new Map<string, Buffer>();
let dirOf: () => string | undefined = () => undefined;

/**
 * Where the CLIs keep compiled programs between processes (undefined: memory only, the library's default).
 * A function: asked at each use (the runtime server's calls each name their own state root).
 */
export function useSeccompCacheDir(path: string | undefined | (() => string | undefined)): void {
  dirOf = typeof path === 'function' ? path : () => path;
}

/** The program for filter, from the cache or from compile(); version undefined (an addon without seccompVersion) caches nothing. */
export function cachedProgram(filter: unknown, version: string | undefined, compile: () => Buffer): Buffer {
  if (version === undefined) return compile();
  const key = createHash('sha256').update(JSON.stringify([filter, process.arch, version, release()])).digest();
  const dir = dirOf();
  if (dir !== undefined) {
    // A CLI call reads the directory each time, never this process's memory: a call served by the runtime
    // server (one process, many calls) finds what a call of its own process would, entry for entry.
    let program = readProgram(dir, key);
    if (!program) {
      program = compile();
      writeProgram(dir, key, program);
    }
    return program;
  }
  const hex = key.toString('hex');
  const known = memory.get(hex);
  if (known) return known;
  const program = compile();
  if (memory.size >= MEMORY_ENTRIES) memory.delete(memory.keys().next().value!);
  memory.set(hex, program);
  return program;
}

/** The directory is ours and no one else can write it; made (0700) when missing and its parent exists. */
function trusted(d: string, create: boolean): boolean {
  // Checked at each use, not once: one process (the runtime server) serves many state roots.
  let st;
  try {
    st = lstatSync(d);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !create) return false;
    try {
      mkdirSync(d, { mode: 0o700 });
      st = lstatSync(d);
    } catch {
      return false;
    }
  }
  return st.isDirectory() && st.uid === process.geteuid?.() && (st.mode & 0o077) === 0;
}

function readProgram(d: string, key: Buffer): Buffer | undefined {
  if (!trusted(d, false)) return undefined;
  let fd: number;
  try {
    fd = openSync(join(d, key.toString('hex')), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size <= HEADER || st.size > HEADER + MAX_PROGRAM) return undefined;
    const buf = Buffer.alloc(st.size);
    if (readSync(fd, buf, 0, buf.length, 0) !== buf.length) return undefined;
    const program = buf.subarray(HEADER);
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC) || !buf.subarray(MAGIC.length, HEADER).equals(key) || program.length % 8 !== 0) return undefined;
    return program;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function writeProgram(d: string, key: Buffer, program: Buffer): void {
  if (program.length === 0 || program.length % 8 !== 0 || program.length > MAX_PROGRAM || !trusted(d, true)) return;
  const file = join(d, key.toString('hex'));
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([MAGIC, key, program]), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch {
    // A read-only or full disk: the next process compiles again.
    try {
      unlinkSync(tmp);
    } catch {
      // never made
    }
  }
}
