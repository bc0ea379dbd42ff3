// A layer pulled in one pass: the registry's bytes are hashed and written to a temporary blob file as
// they arrive, decompressed, hashed again (the diff id) and unpacked into a temporary directory of the
// store, all at once. Nothing of it is accepted before both digests are checked at the end: until then
// it lives only under the store's tmp/, which a failed pull removes and the next pull sweeps.
import { closeSync, openSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { MissingToolError, missingTool } from '../errors.js';
import { findHostTool, helperPath } from '../host-tools.js';
import { bounded } from './limits.js';
import { extractLayer } from './extract.js';
import { RegistryError, type RegistryClient } from './registry.js';
import type { HttpResponse } from './http.js';

/**
 * A decompressor chosen by the first bytes: gzip, zstd (through zstd(1): Node 20 has none) or plain tar.
 * input takes the compressed bytes; output gives the tar, and carries every error of the decompressor.
 */
export function decompressor(magic: Buffer, what: string): { input: Writable; output: Readable } {
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    // 256 KiB inflate chunks: the default 16 KiB spent more time in callbacks than in zlib.
    const gz = createGunzip({ chunkSize: 1 << 18 });
    return { input: gz, output: gz };
  }
  if (magic.length >= 4 && magic.readUInt32LE(0) === 0xfd2fb528) {
    const out = new PassThrough({ highWaterMark: 1 << 18 });
    const bin = findHostTool('zstd');
    if (!bin) {
      out.destroy(new MissingToolError('zstd', helperPath()));
      return { input: new PassThrough().resume(), output: out };
    }
    const z = spawn(bin, ['-dcq'], { stdio: ['pipe', 'pipe', 'ignore'] });
    z.on('error', (e) => out.destroy(missingTool(bin, e) ?? new Error(`zstd: ${e.message}`)));
    z.on('exit', (code) => code && out.destroy(new Error(`zstd -dc (${what}): exit ${code}`)));
    // zstd gone early (bad input, killed): its exit code says why, EPIPE does not.
    z.stdin.on('error', () => undefined);
    z.stdout.pipe(out);
    // A consumer that stops early (a refused entry) must not leave zstd running.
    out.on('close', () => z.exitCode === null && z.kill());
    return { input: z.stdin, output: out };
  }
  const plain = new PassThrough({ highWaterMark: 1 << 18 });
  return { input: plain, output: plain };
}

export interface StreamedLayer {
  /** Bytes of the blob as downloaded. */
  size: number;
}

/**
 * Downloads the blob `digest` of repository into blobFile (created, never replaced) and unpacks it into
 * dir as it comes. Throws, leaving the caller to remove both, when the blob is longer than declared (or
 * than `limit`), shorter than declared, has another digest, or its content another diff id; when the
 * layer passes maxLayerSize; or when the tar is refused (extract.ts). digests receives the sha256 of
 * every regular file written (extract.ts).
 */
export async function streamLayer(
  client: RegistryClient,
  repository: string,
  digest: string,
  diffId: string,
  blobFile: string,
  dir: string,
  opts: { declared?: number; limit: number; maxLayerSize?: number; onBytes?: (n: number) => void; digests?: Map<string, string>; signal?: AbortSignal; response?: Promise<HttpResponse> },
): Promise<StreamedLayer> {
  // An answer asked for early (pull.ts), or now.
  const res = await (opts.response ?? client.get(`${repository}/blobs/${digest}`));
  if (opts.signal?.aborted) {
    res.discard();
    throw new Error('stopped: another layer failed');
  }
  const max = opts.declared ?? opts.limit;
  const tooMuch = () =>
    new RegistryError(opts.declared !== undefined ? `blob ${digest}: the registry sent more than the ${opts.declared} bytes the manifest declares` : `blob ${digest}: the registry sent more than the ${opts.limit} bytes the store has room for`);
  if (Number(res.headers.get('content-length') ?? NaN) > max) {
    res.discard();
    throw tooMuch();
  }
  const fd = openSync(blobFile, 'wx', 0o600);
  const blobHash = createHash('sha256');
  let n = 0;
  try {
    // The decompressor's input, chosen by the blob's first bytes. Once the unpacker has failed, the
    // download still runs to its end (never past the declared size): a blob whose digest is wrong is
    // reported as that, not as the broken gzip it makes.
    let sink: Writable | undefined;
    let head: Buffer = Buffer.alloc(0);
    let dead = false;
    let chosen!: (r: Readable) => void;
    let failed!: (e: Error) => void;
    const output = new Promise<Readable>((resolve, reject) => ((chosen = resolve), (failed = reject)));
    const choose = () => {
      const d = decompressor(head, digest);
      sink = d.input;
      sink.on('close', () => (dead = true));
      chosen(d.output);
    };
    // The blob is kept (save and push serve it): written here, synchronously, as it passes.
    const count = new Writable({
      highWaterMark: 1 << 18,
      write(b: Buffer, _enc, cb) {
        n += b.length;
        if (n > max) return cb(tooMuch());
        blobHash.update(b);
        try {
          for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
        } catch (e) {
          return cb(e as Error);
        }
        opts.onBytes?.(b.length);
        if (dead) return cb();
        if (!sink) {
          head = head.length ? Buffer.concat([head, b]) : b;
          if (head.length < 4) return cb();
          choose();
          b = head;
        }
        if (sink!.write(b)) return cb();
        const go = () => {
          sink!.off('drain', go);
          sink!.off('close', go);
          cb();
        };
        sink!.on('drain', go);
        sink!.on('close', go);
      },
      final(cb) {
        if (!sink) {
          choose();
          if (head.length) sink!.write(head);
        }
        if (!dead) sink!.end();
        cb();
      },
    });
    // Another layer of the pull failed: this one stops too.
    const onAbort = () => res.body.destroy(new Error('stopped: another layer failed'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const download = pipeline(res.body, count).finally(() => opts.signal?.removeEventListener('abort', onAbort));
    // A download that fails (a lie about the size, a cut connection) stops the unpacker with its error.
    download.catch((e: Error) => {
      if (sink) sink.destroy(e);
      else failed(e);
    });
    const diffHash = createHash('sha256');
    const unpacked = (async () => {
      const src = await output;
      const plain = src.pipe(bounded(dir, { max: opts.maxLayerSize, onChunk: (b) => diffHash.update(b) }));
      // pipe() does not pass errors on: a broken gzip would leave the tar reader waiting for ever.
      src.on('error', (e) => plain.destroy(e));
      try {
        await extractLayer(plain, dir, opts.digests);
      } catch (e) {
        plain.destroy();
        throw e;
      }
    })();
    unpacked.catch(() => {
      dead = true;
      sink?.destroy();
    });
    const [d, u] = await Promise.allSettled([download, unpacked]);
    if (d.status === 'rejected') throw d.reason;
    const got = `sha256:${blobHash.digest('hex')}`;
    if (got !== digest) throw new RegistryError(`blob ${digest}: downloaded content has digest ${got}`);
    if (opts.declared !== undefined && n !== opts.declared) throw new RegistryError(`blob ${digest}: the registry sent ${n} bytes, the manifest declares ${opts.declared}`);
    if (u.status === 'rejected') throw u.reason;
    const gotDiff = `sha256:${diffHash.digest('hex')}`;
    if (gotDiff !== diffId) throw new Error(`uncompressed content has digest ${gotDiff}, the config says ${diffId}`);
    return { size: n };
  } finally {
    closeSync(fd);
  }
}
