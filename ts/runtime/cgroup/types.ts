// The cgroup manager's interface, shared by the v1 and v2 drivers, and OCI linux.resources.
export type CgroupVersion = 1 | 2;

export interface LinuxResources {
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; kernelTCP?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string; idle?: number };
  pids?: { limit?: number };
  blockIO?: BlockIO;
  hugepageLimits?: { pageSize: string; limit: number }[];
  devices?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
  unified?: Record<string, string>;
}

/** OCI linux.resources.blockIO: a weight for the cgroup and per device, and per-device throttles. */
export interface BlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: { major: number; minor: number; weight?: number; leafWeight?: number }[];
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

/** The four throttles: the OCI key, v1's blkio.throttle.* file, v2's io.max key. */
export const THROTTLES = [
  ['throttleReadBpsDevice', 'read_bps_device', 'rbps'],
  ['throttleWriteBpsDevice', 'write_bps_device', 'wbps'],
  ['throttleReadIOPSDevice', 'read_iops_device', 'riops'],
  ['throttleWriteIOPSDevice', 'write_iops_device', 'wiops'],
] as const;

export interface CgroupStats {
  cpu: { usageNs: number; userNs?: number; systemNs?: number; throttledPeriods?: number };
  memory: { usage: number; maxUsage?: number; limit?: number; rss?: number; cache?: number; swap?: number; oomEvents: number; oomKills: number };
  pids: { current: number; limit?: number };
}

export interface Cgroup {
  readonly version: CgroupVersion;
  /** The OCI cgroupsPath-like path, e.g. "/tsbox/abc". */
  readonly path: string;
  /** v1: controller → directory; v2: { unified: directory }. */
  readonly dirs: Record<string, string>;
  create(): void;
  apply(resources: LinuxResources | undefined): void;
  addProcess(pid: number): void;
  /**
   * v1 "tasks" files through which a new tsbox-init enters this cgroup itself (SpawnOptions.cgroupTasks),
   * sparing the global lock that addProcess takes in the kernel; empty where only addProcess works.
   */
  tasksFiles(): string[];
  freeze(): void;
  thaw(): void;
  frozen(): boolean;
  procs(): number[];
  kill(signal: number): void;
  stats(): CgroupStats;
  exists(): boolean;
  /** Removes the cgroup; processes still in it are killed first (thawed if frozen). */
  destroy(): void;
}

/** A hugetlb page size as the kernel names its files ("2MB", "1GB"): it becomes part of a file name. */
export function pageSize(size: string): string {
  if (!/^[0-9]+[KMGT]B$/.test(size)) throw new Error(`cgroup: bad hugepage size ${JSON.stringify(size)} (want e.g. "2MB")`);
  return size;
}
