// What a client started by a test (containerd, its shims, their containers) may leave on the host when a
// flow fails half-way, and how a test's teardown removes it: mounts, processes, cgroups.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** Unmounts whatever a client left below dir (snapshots, sandbox shm, network namespaces), deepest first. */
export function unmountBelow(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m?.startsWith(dir))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
}

/** The mount points below dir (none once a flow is over). */
export function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && m.startsWith(dir));
}

export const cgroupRoots = () => (existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c)));

/** The pids in a cgroup subtree (relative path), in every hierarchy. */
export function cgroupPids(cgroup: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) pids.add(Number(p));
  };
  for (const r of cgroupRoots()) if (existsSync(join(r, cgroup))) walk(join(r, cgroup));
  return [...pids];
}

/** The live processes (not zombies) whose command line contains every one of words. */
export function processesWith(...words: string[]): number[] {
  const found: number[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd && words.every((w) => cmd.includes(w))) found.push(Number(p));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Kills what a failed flow left running: the client's shims (by their socket) and every process in its cgroups. */
export function killLeftovers(address: string, cgroup: string): void {
  for (const p of processesWith('containerd-shim', address)) spawnSync('kill', ['-KILL', String(p)]);
  for (const p of cgroupPids(cgroup)) spawnSync('kill', ['-KILL', String(p)]);
}

/**
 * v1 hierarchies the kernel lists in /proc/self/cgroup that nothing mounts (one unmounted after use lives on
 * until reboot): containerd cannot load any container's cgroup on such a host.
 */
export function unmountedHierarchies(): string[] {
  const mounted = new Set(
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' - ')[1]?.split(' '))
      .filter((f) => f?.[0] === 'cgroup')
      .flatMap((f) => f![2].split(',')),
  );
  return readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .filter(([id, ctrls]) => id !== undefined && id !== '0' && ctrls && !mounted.has(ctrls.split(',')[0]))
    .map(([, ctrls]) => ctrls);
}

/** Removes the (empty) cgroup subtree a client created, in every hierarchy; busy ones stay and are returned. */
export function removeCgroupTree(name: string): string[] {
  const left: string[] = [];
  const rm = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  };
  for (const r of cgroupRoots()) if (existsSync(join(r, name))) rm(join(r, name));
  return left;
}
