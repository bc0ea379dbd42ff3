// podman with runc as the reference of a security check: private storage, a cgroup parent of its own (other
// tests' podman runs share libpod_parent), and a teardown that waits for podman's own cleanup to finish.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { removeCgroupTree, unmountBelow } from './leftovers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const havePodman = () => ['podman', 'conmon', 'runc'].every((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);

export interface PodmanRef {
  /** podman's global flags. */
  base: string[];
  /** Flags for run: no network, explicit limits (this machine cannot raise the host's), the cgroup parent. */
  runFlags: string[];
  cleanup(): Promise<void>;
}

/** Whether a process still names dir in its command line (conmon, its exit command). */
function busy(dir: string): boolean {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) return true;
    } catch {
      // gone
    }
  }
  return false;
}

export function podmanRef(name: string): PodmanRef {
  const dir = mkdtempSync(join(tmpdir(), `tsbox-${name}-podman-`));
  for (const d of ['root', 'runroot', 'tmp']) mkdirSync(join(dir, d));
  const cgParent = `tsbox-test-${name}-podman-${process.pid}`;
  const base = ['--runtime', 'runc', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const runFlags = ['--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', '--cgroup-parent', `/${cgParent}`];
  return {
    base,
    runFlags,
    async cleanup() {
      spawnSync('podman', [...base, 'rm', '-af', '-t', '0']);
      // conmon runs `podman container cleanup` after the container: it mounts the storage again meanwhile.
      for (let i = 0; i < 150 && busy(dir); i++) await sleep(100);
      unmountBelow(dir);
      rmSync(dir, { recursive: true, force: true });
      removeCgroupTree(cgParent);
    },
  };
}
