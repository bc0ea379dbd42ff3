// What `tsbox info` reports: the mode (root or rootless), the cgroup setup, the id mapping, the
// snapshotter, seccomp and networking as they will be used on this host.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { detectCgroupVersion } from '../runtime/cgroup/index.js';
import { delegatedRoot, v2MountRoot } from '../runtime/cgroup/rootless.js';
import { cgRead } from '../runtime/cgroup/files.js';
import { isRootless, rootlessMappings } from '../runtime/rootless.js';
import { defaultStateRoot } from '../runtime/state.js';
import { snapshotKind } from '../images/snapshot.js';
import { slirpUnavailable } from '../net/slirp.js';
import { stateRoot } from './containers.js';

export interface HostInfo {
  Version: string;
  Rootless: boolean;
  IdMapping: string;
  CgroupVersion: string;
  Cgroups: string;
  StorageDriver: string;
  RootDir: string;
  StateDir: string;
  Seccomp: string;
  Networks: string;
  Kernel: string;
}

function seccompSupported(): boolean {
  try {
    return /^Seccomp:/m.test(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    return false;
  }
}

export function hostInfo(root: string): HostInfo {
  const rootless = isRootless();
  let cgroups: string;
  let version: string;
  if (!rootless) {
    version = String(detectCgroupVersion());
    cgroups = `cgroupfs, v${version}${version === '1' && v2MountRoot() ? ` (hybrid: cgroup2 at ${v2MountRoot()})` : ''}`;
  } else {
    const mount = v2MountRoot();
    const d = delegatedRoot(mount);
    version = mount ? '2' : 'none';
    cgroups = d && mount
      ? `delegated cgroup v2 subtree ${d} (controllers: ${cgRead(`${mount}${d}/cgroup.controllers`) || 'none'}); other limits are not applied`
      : 'none: no delegated cgroup v2 subtree for this user, limits (--memory, --pids-limit, --cpus) are not applied';
  }
  let mapping = 'host ids (root)';
  if (rootless) {
    const m = rootlessMappings();
    mapping = m.full
      ? `root → uid ${process.geteuid?.()}, ${m.uidMappings.slice(1).map((x) => `${x.containerID}-${x.containerID + x.size - 1} → ${x.hostID}-${x.hostID + x.size - 1}`).join(', ')} (newuidmap)`
      : `only uid ${process.geteuid?.()} as root (${m.limitation}): images whose files belong to other users lose those owners, --user other than root fails`;
  }
  return {
    Version: '0.1.0',
    Rootless: rootless,
    IdMapping: mapping,
    CgroupVersion: version,
    Cgroups: cgroups,
    StorageDriver: snapshotKind(),
    RootDir: root,
    StateDir: stateRoot(root) || defaultStateRoot(),
    Seccomp: seccompSupported() ? 'supported (default profile on)' : 'not supported by the kernel',
    Networks: `${rootless ? 'none (default), host' : 'bridge (default), none, host, container:NAME, user networks'}, slirp4netns${slirpUnavailable() ? ` (unavailable: ${slirpUnavailable()})` : ''}`,
    Kernel: release(),
  };
}
