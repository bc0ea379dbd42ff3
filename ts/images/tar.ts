// A streaming tar reader (ustar, pax and GNU long names): enough for image layers, nothing more.
import type { Readable } from 'node:stream';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer>;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private iter: AsyncIterator<Buffer>;
  private done = false;

  constructor(stream: Readable) {
    this.iter = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async fill(n: number): Promise<boolean> {
    while (this.have < n && !this.done) {
      const r = await this.iter.next();
      if (r.done) this.done = true;
      else {
        const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
        this.chunks.push(b);
        this.have += b.length;
      }
    }
    return this.have >= n;
  }

  /** Exactly n bytes, or undefined at the end of the stream. */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  /** Streams n bytes to sink chunk by chunk (file contents), without holding them all. */
  async pipe(n: number, sink: (b: Buffer) => void | Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.have === 0 && !(await this.fill(1))) throw new Error('tar: unexpected end of archive inside a file');
      const b = this.chunks[0];
      const take = Math.min(left, b.length);
      await sink(b.subarray(0, take));
      if (take === b.length) this.chunks.shift();
      else this.chunks[0] = b.subarray(take);
      this.have -= take;
      left -= take;
    }
  }

  async skip(n: number): Promise<void> {
    await this.pipe(n, () => undefined);
  }

  /** Reads to the end: padding after the end-of-archive blocks still belongs to the layer's digest. */
  async drain(): Promise<void> {
    while (!this.done) {
      const r = await this.iter.next();
      if (r.done) this.done = true;
    }
    this.chunks = [];
    this.have = 0;
  }
}

function cstr(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

function num(b: Buffer): number {
  // GNU base-256 for values that do not fit in octal.
  if (b[0] & 0x80) {
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cstr(b).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < b.length) {
    const sp = b.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(b.toString('utf8', i, sp));
    if (!Number.isFinite(len) || len <= 0) throw new Error('tar: malformed pax header');
    const rec = b.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === num(h.subarray(148, 156));
}

/** Yields each entry; the consumer must call `body` (or not: it is skipped) before asking for the next. */
export async function* readTar(stream: Readable): AsyncGenerator<{ entry: TarEntry; body: (sink: (b: Buffer) => void | Promise<void>) => Promise<void> }> {
  const r = new ByteReader(stream);
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await r.read(512);
    if (!h) return; // some writers omit the end-of-archive blocks
    if (h.every((x) => x === 0)) return r.drain();
    if (!checksumOk(h)) throw new Error('tar: bad header checksum (not a tar archive, or corrupt)');
    const size = num(h.subarray(124, 136));
    const flag = String.fromCharCode(h[156]);
    const padded = Math.ceil(size / 512) * 512;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      const data = (await r.read(padded))?.subarray(0, size);
      if (!data) throw new Error('tar: unexpected end of archive in an extended header');
      if (flag === 'x') pax = { ...pax, ...parsePax(data) };
      else if (flag === 'g') globalPax = { ...globalPax, ...parsePax(data) };
      else if (flag === 'L') longName = cstr(data);
      else longLink = cstr(data);
      continue;
    }
    const type = TYPES[flag];
    const all = { ...globalPax, ...pax };
    const magic = h.toString('latin1', 257, 262);
    const prefix = magic === 'ustar' ? cstr(h.subarray(345, 500)) : '';
    const name = all.path ?? longName ?? (prefix ? `${prefix}/${cstr(h.subarray(0, 100))}` : cstr(h.subarray(0, 100)));
    const xattrs: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(all)) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice(13)] = Buffer.from(v, 'latin1');
    const entry: TarEntry = {
      name,
      type: type ?? 'file',
      mode: num(h.subarray(100, 108)) & 0o7777,
      uid: all.uid !== undefined ? Number(all.uid) : num(h.subarray(108, 116)),
      gid: all.gid !== undefined ? Number(all.gid) : num(h.subarray(116, 124)),
      size: all.size !== undefined ? Number(all.size) : size,
      mtime: all.mtime !== undefined ? Number(all.mtime) : num(h.subarray(136, 148)),
      linkname: all.linkpath ?? longLink ?? cstr(h.subarray(157, 257)),
      devmajor: num(h.subarray(329, 337)),
      devminor: num(h.subarray(337, 345)),
      xattrs,
    };
    pax = {};
    longName = undefined;
    longLink = undefined;
    const bodySize = entry.type === 'file' ? entry.size : 0;
    const bodyPadded = type === undefined ? padded : Math.ceil(bodySize / 512) * 512;
    let consumed = false;
    const body = async (sink: (b: Buffer) => void | Promise<void>) => {
      consumed = true;
      await r.pipe(bodySize, sink);
      await r.skip(bodyPadded - bodySize);
    };
    if (type === undefined) {
      // Unknown entry types (e.g. GNU sparse 'S') are refused rather than silently mis-extracted.
      throw new Error(`tar: entry ${JSON.stringify(name)} has unsupported type ${JSON.stringify(flag)}`);
    }
    yield { entry, body };
    if (!consumed) await r.skip(bodyPadded);
  }
}
