// A minimal streaming ustar writer (regular files only, pax headers for long names): what save needs.
import { createReadStream, statSync } from 'node:fs';
import type { Writable } from 'node:stream';

function header(name: string, size: number, mtime: number): Buffer[] {
  const out: Buffer[] = [];
  if (Buffer.byteLength(name) > 99) {
    // pax "path" record for names ustar cannot hold.
    const rec = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      let len = body.length + 1;
      while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
      return `${len}${body}`;
    };
    const data = Buffer.from(rec('path', name));
    out.push(tarHeader('PaxHeader', data.length, mtime, 'x'), pad(data));
    name = name.slice(-99);
  }
  out.push(tarHeader(name, size, mtime, '0'));
  return out;
}

/** One ustar header block (type '0' file, '1' hardlink, '2' symlink, '5' dir, 'x' pax). */
export function tarHeader(name: string, size: number, mtime: number, type: string, linkname = '', mode = type === '5' ? 0o755 : 0o644): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write(mode.toString(8).padStart(7, '0') + '\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write(Math.floor(mtime).toString(8).padStart(11, '0') + '\0', 136);
  h.write(type, 156);
  if (linkname) h.write(linkname, 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

function pad(data: Buffer): Buffer {
  const rest = (512 - (data.length % 512)) % 512;
  return rest ? Buffer.concat([data, Buffer.alloc(rest)]) : data;
}

function write(out: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => (out.write(b, (e) => (e ? reject(e) : resolve()))));
}

export class TarWriter {
  constructor(private readonly out: Writable) {}

  async addBuffer(name: string, data: Buffer): Promise<void> {
    for (const h of header(name, data.length, Date.now() / 1000)) await write(this.out, h);
    await write(this.out, pad(data));
  }

  async addFile(name: string, path: string): Promise<void> {
    const size = statSync(path).size;
    for (const h of header(name, size, Date.now() / 1000)) await write(this.out, h);
    for await (const chunk of createReadStream(path)) await write(this.out, chunk as Buffer);
    const rest = (512 - (size % 512)) % 512;
    if (rest) await write(this.out, Buffer.alloc(rest));
  }

  async finish(): Promise<void> {
    await write(this.out, Buffer.alloc(1024));
    await new Promise<void>((resolve, reject) => this.out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}
