// cgroups without root: a delegated cgroup v2 subtree (systemd's user@UID.service, or one an
// administrator chowned to the user) when there is one; otherwise no cgroup at all. Then the container
// is its pid namespace: processes are found through /proc and no limit is applied (the caller warns).
import { constants, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { accessible } from '../rootless.js';
import { dirname, join } from 'node:path';
import { signalAll } from './files.js';
import type { Cgroup, CgroupStats, LinuxResources } from './types.js';

/** Where the cgroup2 hierarchy is mounted: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid). */
export function v2MountRoot(mountinfo?: string): string | undefined {
  let text = mountinfo;
  try {
    text ??= readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const points = text
    .split('\n')
    .filter((l) => l.split(' - ')[1]?.startsWith('cgroup2 '))
    .map((l) => l.split(' ')[4]);
  return points.find((p) => p === '/sys/fs/cgroup') ?? points.find((p) => p.startsWith('/sys/fs/cgroup')) ?? points[0];
}

/**
 * The topmost cgroup above (or at) our own that we may manage: we can create cgroups in it and move
 * processes through its cgroup.procs. Undefined when nothing is delegated to us.
 */
export function delegatedRoot(mountRoot = v2MountRoot()): string | undefined {
  if (!mountRoot) return undefined;
  let own: string | undefined;
  try {
    own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
  } catch {
    return undefined;
  }
  if (!own || own === '/') return undefined;
  const ok = (p: string) => accessible(join(mountRoot, p), constants.W_OK) && accessible(join(mountRoot, p, 'cgroup.procs'), constants.W_OK);
  if (!ok(own)) return undefined;
  let top = own;
  while (dirname(top) !== '/' && ok(dirname(top))) top = dirname(top);
  return top;
}

/** A container with no cgroup of its own: its processes are those of its pid namespace. */
export class NoCgroup implements Cgroup {
  readonly version = 2 as const;
  readonly path = '';
  readonly dirs: Record<string, string> = {};

  constructor(private readonly pid: number) {}

  create(): void {}

  apply(_r: LinuxResources | undefined): void {}

  addProcess(_pid: number): void {}

  tasksFiles(): string[] {
    return [];
  }

  freeze(): void {
    throw new Error('pause needs a cgroup: this container runs without one (rootless, no delegated cgroup v2 subtree)');
  }

  thaw(): void {}

  frozen(): boolean {
    return false;
  }

  procs(): number[] {
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${this.pid}/ns/pid`);
    } catch {
      return [];
    }
    // Sharing our pid namespace: only the process itself is known to be the container's.
    if (ns === readlinkSync('/proc/self/ns/pid')) return [this.pid];
    const out: number[] = [];
    for (const n of readdirSync('/proc')) {
      if (!/^\d+$/.test(n)) continue;
      try {
        if (readlinkSync(`/proc/${n}/ns/pid`) === ns) out.push(Number(n));
      } catch {
        // gone, or not ours to look at
      }
    }
    return out;
  }

  kill(signal: number): void {
    signalAll(this.procs(), signal);
  }

  stats(): CgroupStats {
    return { cpu: { usageNs: 0 }, memory: { usage: 0, oomEvents: 0, oomKills: 0 }, pids: { current: this.procs().length } };
  }

  exists(): boolean {
    return false;
  }

  destroy(): void {}
}
