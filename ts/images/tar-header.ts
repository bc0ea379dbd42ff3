// ustar header blocks, with a pax header first for what ustar cannot hold (long names and link
// targets, xattrs): the one writer of tar headers for save, commit and build layers.
import type { Writable } from 'node:stream';

export interface TarEntry {
  name: string;
  /** '0' file, '1' hardlink, '2' symlink, '3' char device, '4' block device, '5' dir, '6' fifo, 'x' pax. */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer>;
}

function paxRecord(k: string, v: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${k}=`), v, Buffer.from('\n')]);
  let len = body.length + 1;
  while (`${len}`.length + body.length !== len) len = `${len}`.length + body.length;
  return Buffer.concat([Buffer.from(`${len}`), body]);
}

function octal(h: Buffer, v: number, off: number, width: number): void {
  h.write(Math.max(0, Math.floor(v)).toString(8).padStart(width - 1, '0') + '\0', off, width, 'latin1');
}

/** One 512-byte ustar header block, exactly as given (names cut at 100 bytes): tests build hostile tars with it. */
export function headerBlock(e: TarEntry): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100);
  octal(h, e.mode & 0o7777, 100, 8);
  octal(h, e.uid, 108, 8);
  octal(h, e.gid, 116, 8);
  octal(h, e.size, 124, 12);
  octal(h, e.mtime, 136, 12);
  h.write(e.type, 156);
  h.write(e.linkname ?? '', 157, 100);
  h.write('ustar\0', 257);
  h.write('00', 263);
  octal(h, e.devmajor ?? 0, 329, 8);
  octal(h, e.devminor ?? 0, 337, 8);
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** Zero bytes that round n up to a whole block. */
export function padding(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

/** The header blocks of one entry: a pax header first for long names, long link targets or xattrs. */
export function entryHeader(e: TarEntry): Buffer {
  const pax: Buffer[] = [];
  let name = e.name;
  let linkname = e.linkname ?? '';
  if (Buffer.byteLength(name) > 99) {
    pax.push(paxRecord('path', Buffer.from(name)));
    name = name.slice(0, 99);
  }
  if (Buffer.byteLength(linkname) > 99) {
    pax.push(paxRecord('linkpath', Buffer.from(linkname)));
    linkname = linkname.slice(0, 99);
  }
  for (const k of Object.keys(e.xattrs ?? {}).sort()) pax.push(paxRecord(`SCHILY.xattr.${k}`, e.xattrs![k]));
  const out: Buffer[] = [];
  if (pax.length) {
    const data = Buffer.concat(pax);
    out.push(headerBlock({ name: 'PaxHeader', type: 'x', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: e.mtime }), data, padding(data.length));
  }
  out.push(headerBlock({ ...e, name, linkname }));
  return Buffer.concat(out);
}

/** A test's or an archive's plain entry: root-owned, 0644 (0755 for a directory). */
export function tarHeader(name: string, size: number, mtime: number, type: string, linkname = '', mode = type === '5' ? 0o755 : 0o644): Buffer {
  return headerBlock({ name, type, mode, uid: 0, gid: 0, size, mtime, linkname });
}

export function writeChunk(out: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => out.write(b, (err) => (err ? reject(err) : resolve())));
}
