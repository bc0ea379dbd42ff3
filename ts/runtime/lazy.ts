// Builtins loaded on first use. tsbox-runtime starts once for every create, start, state, kill and
// delete a shim runs; child_process, net and tty (with the streams below them) take ~10 ms to load and
// serve only hooks, rootless id maps, `ps`, the API's report reader and terminals.
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

export const childProcess = (): typeof import('node:child_process') => load('node:child_process');
export const net = (): typeof import('node:net') => load('node:net');
export const tty = (): typeof import('node:tty') => load('node:tty');
