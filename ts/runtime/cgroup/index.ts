// The cgroup manager: v1 or v2 detected at run time, cgroupsPath resolved as the OCI spec says.
import { existsSync, readFileSync } from 'node:fs';
import { CgroupV1 } from './v1.js';
import { CgroupV2 } from './v2.js';
import { v2MountRoot } from './rootless.js';
import type { Cgroup, CgroupVersion } from './types.js';

export type { Cgroup, CgroupStats, CgroupVersion, LinuxResources } from './types.js';

let unified: boolean | undefined;

/** /sys/fs/cgroup is a cgroup2 mount (a unified host): looked at once, as hosts mount it at boot. */
function unifiedHost(): boolean {
  unified ??= existsSync('/sys/fs/cgroup/cgroup.controllers');
  return unified;
}

/** /sys/fs/cgroup is a cgroup2 mount (unified host) when it has cgroup.controllers. */
export function detectCgroupVersion(): CgroupVersion {
  if (process.env.TSBOX_CGROUP_VERSION === '1' || process.env.TSBOX_CGROUP_VERSION === '2') return Number(process.env.TSBOX_CGROUP_VERSION) as CgroupVersion;
  return unifiedHost() ? 2 : 1;
}

export function defaultCgroupPath(id: string): string {
  return `/tsbox/${id}`;
}

/** This process's own cgroup path (v2 line, else the first v1 line with a controller). */
function ownCgroup(version: CgroupVersion): string {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n').filter(Boolean);
  const line = version === 2 ? lines.find((l) => l.startsWith('0::')) : lines.find((l) => /^\d+:[^:]*(memory|pids|cpu)[^:]*:/.test(l));
  return line ? line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1) : '/';
}

/**
 * OCI cgroupsPath: absolute → from the hierarchy root; relative → below our own cgroup;
 * "slice:prefix:name" (systemd style, no systemd manager here) → "/<slice>/<prefix>-<name>.scope".
 */
export function resolveCgroupPath(path: string, version: CgroupVersion): string {
  if (!path.includes('/') && path.split(':').length === 3) {
    const [slice, prefix, name] = path.split(':');
    return `/${slice || 'system.slice'}/${prefix ? `${prefix}-` : ''}${name}.scope`;
  }
  if (path.split('/').includes('..')) throw new Error(`cgroup: path ${JSON.stringify(path)} must not contain ".."`);
  if (path.startsWith('/')) return path;
  return `${ownCgroup(version).replace(/\/$/, '')}/${path}`;
}

/**
 * Where the cgroup2 hierarchy is: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one
 * (v2 asked for by TSBOX_CGROUP_VERSION=2), never the tmpfs that holds the v1 hierarchies.
 */
function v2Root(): string | undefined {
  return unifiedHost() ? undefined : v2MountRoot();
}

export function openCgroup(path: string, opts: { version?: CgroupVersion; mountRoot?: string; delegated?: string } = {}): Cgroup {
  const version = opts.version ?? detectCgroupVersion();
  const p = resolveCgroupPath(path, version);
  return version === 2 ? new CgroupV2(p, opts.mountRoot ?? v2Root(), opts.delegated) : new CgroupV1(p, opts.mountRoot);
}
