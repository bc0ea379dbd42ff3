// ADD of a local tar archive (plain, gzip, bzip2, xz): extracted into the destination, as docker does.
// It is unpacked by the layer extractor (no entry may escape) into a scratch dir, then copied in
// through copy.ts, so the image's symlinks cannot redirect it either.
import { closeSync, openSync, readSync } from 'node:fs';
import { decompress } from '../../images/pull.js';
import { extractLayer } from '../../images/extract.js';
import { removeTree } from '../../images/tree.js';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { copyInto, type CopyOptions } from './copy.js';

export async function isArchive(file: string): Promise<boolean> {
  const b = Buffer.alloc(512);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, b, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true; // gzip
  if (n >= 3 && b.subarray(0, 3).toString() === 'BZh') return true;
  if (n >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true; // xz
  return n >= 262 && b.subarray(257, 262).toString() === 'ustar';
}

export async function addArchive(file: string, root: string, dest: string, o: CopyOptions): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'tsbox-add-'));
  try {
    const src = await decompress(file);
    await extractLayer(src, tmp);
    // An archive's own owners and modes are kept unless --chown/--chmod say otherwise.
    copyInto(root, tmp, undefined, [{ host: tmp, rel: '', isDir: true }], dest.endsWith('/') ? dest : `${dest}/`, { ...o, keepOwner: !o.owner }, 'ADD');
  } finally {
    removeTree(tmp);
  }
}
