// How much a layer may grow to when decompressed: an optional maximum (TSBOX_MAX_LAYER_SIZE, or the
// caller's option) and the free space of the store's filesystem. A gzip bomb stops there, early, with a
// clear error, instead of filling the disk.
import { statfsSync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';

export class LimitError extends Error {}

/** "4m", "512k", "2g", "1048576" (bytes); k/m/g are binary units, as docker's --memory. */
export function parseSize(s: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(s);
  if (!m) throw new Error(`${what}: ${JSON.stringify(s)} is not a size (e.g. 512m, 2g)`);
  const n = Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
  if (n <= 0) throw new Error(`${what}: ${JSON.stringify(s)} is not a size above 0`);
  return n;
}

export function mib(n: number): string {
  const v = n / 2 ** 20;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} MiB`;
}

/** The maximum a caller asked for, else TSBOX_MAX_LAYER_SIZE, else none. */
export function maxLayerSize(max?: number): { limit: number; name: string } | undefined {
  if (max !== undefined) return { limit: max, name: 'the maximum layer size' };
  const env = process.env.TSBOX_MAX_LAYER_SIZE;
  return env ? { limit: parseSize(env, 'TSBOX_MAX_LAYER_SIZE'), name: 'TSBOX_MAX_LAYER_SIZE' } : undefined;
}

/** Bytes of dir's filesystem left for tsbox: what is free, less a reserve the rest of the system keeps. */
function room(dir: string): { free: number; reserve: number } {
  const st = statfsSync(dir);
  return { free: st.bavail * st.bsize, reserve: Math.min(64 << 20, Math.floor((st.blocks * st.bsize) / 20)) };
}

/**
 * A pass-through that counts bytes and fails once they pass the bound: the maximum for one layer (unless
 * `archive`: a whole archive may hold many layers) and the room left on dir's filesystem, checked again as
 * the output grows (other unpacks share it). onChunk sees every byte that passes.
 */
export function bounded(dir: string, opts: { max?: number; archive?: boolean; what?: string; onChunk?: (b: Buffer) => void } = {}): Transform {
  const max = opts.archive ? undefined : maxLayerSize(opts.max);
  const what = opts.what ?? 'uncompressed, the layer';
  const start = room(dir);
  const roomLimit = Math.max(0, start.free - start.reserve);
  let bytes = 0;
  let checked = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      bytes += chunk.length;
      if (max && bytes > max.limit) return cb(new LimitError(`${what} holds more than ${mib(max.limit)} (${max.name}); stopped there`));
      if (bytes > roomLimit) return cb(new LimitError(`${what} holds more than the ${mib(roomLimit)} free on the store's filesystem; stopped there`));
      if (bytes - checked >= 4 << 20) {
        checked = bytes;
        const now = room(dir);
        if (now.free < now.reserve) return cb(new LimitError(`${what} did not fit: the store's filesystem is down to ${mib(now.free)} free; stopped there`));
      }
      opts.onChunk?.(chunk);
      cb(null, chunk);
    },
  });
}
