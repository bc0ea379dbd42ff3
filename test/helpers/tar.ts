// A tar with exactly the given entries, binary contents allowed (hostile archives GNU tar would refuse to write).
import { tarHeader } from '../../ts/images/tar-header.js';

export interface RawEntry {
  name: string;
  type?: '0' | '1' | '2' | '5';
  linkname?: string;
  data?: string | Buffer;
}

export function tarOf(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
    blocks.push(tarHeader(e.name, data.length, 0, e.type ?? '0', e.linkname), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
