// docker stats' NET I/O and BLOCK I/O for a running container: bytes through its interfaces (its
// network namespace's /proc/net/dev, loopback left out as docker leaves it) and bytes read and written
// to block devices (cgroup v1 blkio.throttle.io_service_bytes, or v2 io.stat).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustFind, stateRoot } from './containers.js';
import { containerCgroup, readState } from '../runtime/state.js';

export interface IoStats {
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
}

const read = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};

/** rx and tx bytes of every interface but lo in /proc/PID/net/dev. */
export function netBytes(pid: number): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of read(`/proc/${pid}/net/dev`).split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0] || 0;
    tx += f[8] || 0;
  }
  return { rx, tx };
}

/** Bytes read and written by the cgroup's processes on block devices. */
export function blockBytes(dirs: Record<string, string>): { read: number; write: number } {
  let r = 0;
  let w = 0;
  if (dirs.unified) {
    for (const line of read(join(dirs.unified, 'io.stat')).split('\n')) {
      r += Number(/\brbytes=(\d+)/.exec(line)?.[1] ?? 0);
      w += Number(/\bwbytes=(\d+)/.exec(line)?.[1] ?? 0);
    }
  } else if (dirs.blkio) {
    for (const line of read(join(dirs.blkio, 'blkio.throttle.io_service_bytes')).split('\n')) {
      const m = /^\d+:\d+ (Read|Write) (\d+)$/.exec(line.trim());
      if (m?.[1] === 'Read') r += Number(m[2]);
      else if (m) w += Number(m[2]);
    }
  }
  return { read: r, write: w };
}

/** The container's I/O so far (zeros for a container not running). */
export function containerIo(root: string, ref: string): IoStats {
  const r = mustFind(root, ref);
  const s = readState(stateRoot(root), r.Id);
  const net = s.pid ? netBytes(s.pid) : { rx: 0, tx: 0 };
  const blk = blockBytes(containerCgroup(s).dirs);
  return { netRx: net.rx, netTx: net.tx, blockRead: blk.read, blockWrite: blk.write };
}
