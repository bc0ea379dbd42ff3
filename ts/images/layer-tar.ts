// An overlayfs upper directory as an image layer tar: the upper dir IS the layer's diff, in overlay's
// spelling (whiteouts are 0/0 character devices, an opaque directory has trusted.overlay.opaque=y);
// the tar spells them as OCI does (.wh.NAME, .wh..wh..opq). Owners, modes, xattrs (file capabilities
// among them) and hardlinks are kept; entries are sorted and, with a clamp (SOURCE_DATE_EPOCH), no
// timestamp is later than it, so the same tree gives the same bytes.
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, lstatSync, openSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { entryHeader, padding as pad, writeChunk as write } from './tar-header.js';
import { hostTool } from '../host-tools.js';

export interface LayerTarOptions {
  /** Latest timestamp written (seconds): SOURCE_DATE_EPOCH. */
  clamp?: number;
  /** Paths (relative) left out: a container's mount points the runtime created (commit). */
  skip?: (rel: string, st: Stats) => boolean;
}

export interface LayerTar {
  /** sha256 of the tar (uncompressed): the layer's diff id and, stored as is, its blob digest. */
  digest: string;
  size: number;
  /** Entries written (0: the step changed nothing). */
  entries: number;
}

/** Every xattr of every file below dir (getfattr -R, one process): path relative to dir → name → value. */
function readXattrs(dir: string): Map<string, Record<string, Buffer>> {
  const out = new Map<string, Record<string, Buffer>>();
  const r = spawnSync(hostTool('getfattr'), ['-R', '-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names', dir], { maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`getfattr ${dir}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message} (install the attr package)`);
  let cur: Record<string, Buffer> | undefined;
  for (const line of r.stdout.toString().split('\n')) {
    if (line.startsWith('# file: ')) {
      const p = line.slice(8).replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
      cur = {};
      out.set(p === dir ? '' : p.slice(dir.length + 1), cur);
    } else if (cur && line.includes('=')) {
      const i = line.indexOf('=');
      const v = line.slice(i + 1);
      cur[line.slice(0, i)] = v.startsWith('0s') ? Buffer.from(v.slice(2), 'base64') : Buffer.from(v.replace(/^"|"$/g, ''));
    }
  }
  return out;
}

/** Writes the layer tar of an overlay upper dir (or of any directory, as a full layer) to file. */
export async function upperToTar(upper: string, file: string, opts: LayerTarOptions = {}): Promise<LayerTar> {
  const xattrs = readXattrs(upper);
  const hash = createHash('sha256');
  let size = 0;
  let entries = 0;
  const ws = createWriteStream(file, { mode: 0o600 });
  const emit = async (b: Buffer) => {
    hash.update(b);
    size += b.length;
    await write(ws, b);
  };
  const links = new Map<string, string>();
  const clampT = (t: number) => Math.floor(opts.clamp !== undefined ? Math.min(t, opts.clamp) : t);
  const meta = (rel: string, st: Stats) => {
    const x: Record<string, Buffer> = {};
    // Overlay's own bookkeeping is no file attribute of the image.
    for (const [k, v] of Object.entries(xattrs.get(rel) ?? {})) if (!k.startsWith('trusted.overlay.') && !k.startsWith('user.overlay.')) x[k] = v;
    return { mode: st.mode, uid: st.uid, gid: st.gid, mtime: clampT(st.mtimeMs / 1000), xattrs: x };
  };
  const walk = async (rel: string): Promise<void> => {
    const names = readdirSync(join(upper, rel)).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const p = join(upper, r);
      const st = lstatSync(p);
      if (opts.skip?.(r, st)) continue;
      const m = meta(r, st);
      if (st.isCharacterDevice() && st.rdev === 0) {
        // overlay whiteout → OCI whiteout
        await emit(entryHeader({ name: rel ? `${rel}/.wh.${n}` : `.wh.${n}`, type: '0', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: m.mtime }));
        entries++;
        continue;
      }
      if (st.isDirectory()) {
        await emit(entryHeader({ name: `${r}/`, type: '5', size: 0, ...m }));
        entries++;
        const ox = xattrs.get(r) ?? {};
        const opaque = ox['trusted.overlay.opaque'] ?? ox['user.overlay.opaque'];
        if (opaque && opaque.toString() === 'y') {
          await emit(entryHeader({ name: `${r}/.wh..wh..opq`, type: '0', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: m.mtime }));
          entries++;
        }
        await walk(r);
        continue;
      }
      entries++;
      if (st.isSymbolicLink()) {
        await emit(entryHeader({ name: r, type: '2', size: 0, linkname: readlinkSync(p), ...m }));
        continue;
      }
      if (st.isFile() && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first) {
          await emit(entryHeader({ name: r, type: '1', size: 0, linkname: first, ...m }));
          continue;
        }
        links.set(key, r);
      }
      if (st.isFile()) {
        await emit(entryHeader({ name: r, type: '0', size: st.size, ...m }));
        let got = 0;
        const fd = openSync(p, 'r');
        try {
          for await (const c of createReadStream('', { fd, autoClose: false, highWaterMark: 1 << 20 })) {
            const b = c as Buffer;
            const take = b.subarray(0, Math.max(0, st.size - got));
            got += take.length;
            if (take.length) await emit(take);
          }
        } finally {
          closeSync(fd);
        }
        if (got !== st.size) throw new Error(`read ${p}: file changed size while it was written to the layer`);
        const pd = pad(st.size);
        if (pd.length) await emit(pd);
        continue;
      }
      const type = st.isCharacterDevice() ? '3' : st.isBlockDevice() ? '4' : st.isFIFO() ? '6' : '';
      if (!type) continue; // sockets are not part of an image
      await emit(entryHeader({ name: r, type, size: 0, devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00), ...m }));
    }
  };
  try {
    await walk('');
    await emit(Buffer.alloc(1024));
  } finally {
    await new Promise<void>((resolve) => ws.end(() => resolve()));
  }
  return { digest: `sha256:${hash.digest('hex')}`, size, entries };
}
