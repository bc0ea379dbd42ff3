// Builtins loaded on first use. tsbox-runtime starts once for every create, start, state, kill and
// delete a shim runs; child_process, net and tty (with the streams below them) take ~10 ms to load and
// serve only hooks, rootless id maps, `ps`, the API's report reader and terminals.
import { createRequire } from 'node:module';

// getBuiltinModule where Node has it (20.16): bundlers rewrite createRequire() calls (webpack into
// undefined); import.meta is empty once bundled as CommonJS, and builtins resolve the same from anywhere.
const load = (name: string): unknown => process.getBuiltinModule?.(name) ?? createRequire((import.meta.url as string | undefined) || '/')(name);

/** The module, required at the first call and kept: the API asks for net at every container start. */
function once<T>(name: string): () => T {
  let m: T | undefined;
  return () => (m ??= load(name) as T);
}

export const childProcess = once<typeof import('node:child_process')>('node:child_process');
export const net = once<typeof import('node:net')>('node:net');
export const tty = once<typeof import('node:tty')>('node:tty');
