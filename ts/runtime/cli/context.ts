// The caller of one runtime CLI call: its working directory, its stdio, its signals and who clones for it.
// A cold call is this process (cwd, fds 0/1/2, process signals, the addon); a call served by the runtime
// server (server.ts) is a client's, and many run at once, each reading its own through this store.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Native } from '../../native.js';
import { sleepSync } from '../sleep-sync.js';

/** What the clones of a served call go through: the client's (remote-native.ts). */
export type Spawner = Pick<Native, 'spawn' | 'spawnAsync' | 'watch'>;

export interface CallContext {
  cwd: string;
  stdin: number;
  stdout: number;
  stderr: number;
  /** Emits the caller's signals by name ('SIGINT', 'SIGWINCH', ...). */
  signals: EventEmitter;
  /** Absent: the addon clones (the process itself is the caller). */
  spawner?: Spawner;
  /** Where this call's compiled seccomp programs are kept (beside its state root). */
  seccompCacheDir?: string;
}

const store = new AsyncLocalStorage<CallContext>();

let cold: CallContext | undefined;

/** The context of this call: the served client's, else this process's own. */
export function ctx(): CallContext {
  return store.getStore() ?? (cold ??= { cwd: process.cwd(), stdin: 0, stdout: 1, stderr: 2, signals: process });
}

/** The served call's context only (undefined in a cold call or outside any call). */
export function servedContext(): CallContext | undefined {
  return store.getStore();
}

export function runWithContext<T>(c: CallContext, fn: () => T): T {
  return store.run(c, fn);
}

/** A path of the caller's argv, absolute: relative ones are the caller's, not the server's. */
export function callerPath(p: string): string;
export function callerPath(p: string | undefined): string | undefined;
export function callerPath(p: string | undefined): string | undefined {
  return p === undefined ? undefined : resolve(ctx().cwd, p);
}

/** Writes all of data to fd; a non-blocking one (a caller's pipe may be) is waited for. */
export function writeAll(fd: number, data: string | Uint8Array): void {
  let buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  while (buf.length) {
    let n: number;
    try {
      n = writeSync(fd, buf);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        sleepSync(1);
        continue;
      }
      // The reader is gone: what is left has no one to read it (a cold call would die of SIGPIPE's EPIPE too).
      if (code === 'EPIPE') return;
      throw e;
    }
    buf = buf.subarray(n);
  }
}

export function out(s: string): void {
  writeAll(ctx().stdout, s);
}

export function err(s: string): void {
  writeAll(ctx().stderr, s);
}
