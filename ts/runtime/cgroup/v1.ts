// cgroup v1: one directory per controller hierarchy (/sys/fs/cgroup/<controller>/<path>).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgKeyed, cgMkdir, cgNumber, cgPids, cgRead, cgWrite, cgWriteEach, removeCgroupDirs, waitUntil, signalAll } from './files.js';
import { compileDeviceRules, v1Rule, type DeviceFilter } from './devices.js';
import { pageSize, THROTTLES, type BlockIO, type Cgroup, type CgroupStats, type LinuxResources } from './types.js';

const USER_HZ_NS = 1e9 / 100;

// Each filter's rules as devices.allow/deny lines: the same filter (the default rules') is written at every start.
const v1Lines = new WeakMap<DeviceFilter, string[]>();

const known = new Map<string, Record<string, string>>();

/**
 * Hierarchies mounted under mountRoot, by the name tsbox uses for each controller. Looked up once per
 * process: every container start and teardown needs them, and hosts mount them at boot.
 */
function hierarchies(mountRoot: string): Record<string, string> {
  let out = known.get(mountRoot);
  if (!out) known.set(mountRoot, (out = findHierarchies(mountRoot)));
  return out;
}

function findHierarchies(mountRoot: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(mountRoot)) {
    if (name === 'unified') continue;
    const dir = join(mountRoot, name);
    if (!existsSync(join(dir, 'cgroup.procs'))) continue;
    // Co-mounted hierarchies ("cpu,cpuacct") appear under each name as a symlink; the first wins.
    for (const c of name.split(',')) out[c] ??= dir;
  }
  return out;
}

const CPUSET_FILES = ['cpuset.cpus', 'cpuset.mems'] as const;
// Parent cpusets of this process's containers found usable (cpus and mems set), with those values: read
// once, not at every start. Leaves are never kept.
const readyCpusets = new Map<string, string[]>();

/**
 * A new cpuset cgroup starts with empty cpus and mems, which refuses tasks: each level of the path gets
 * its parent's. Levels made just now (from `made` down) are empty without reading them.
 */
function fillCpusets(leaf: string, path: string, made: string | undefined): void {
  let cur = leaf.slice(0, leaf.length - path.replace(/\/+$/, '').length);
  let values: string[] | undefined; // cur's cpus and mems, when known
  for (const part of path.split('/').filter(Boolean)) {
    const parent = cur;
    cur = join(cur, part);
    const isLeaf = cur === leaf;
    const fresh = made !== undefined && cur.length >= made.length;
    if (!fresh) {
      const own = readyCpusets.get(cur) ?? CPUSET_FILES.map((f) => cgRead(join(cur, f)) ?? '');
      if (own.every(Boolean)) {
        if (!isLeaf) readyCpusets.set(cur, own);
        values = own;
        continue;
      }
    }
    const from = values ?? CPUSET_FILES.map((f) => cgRead(join(parent, f)) ?? '');
    try {
      CPUSET_FILES.forEach((f, i) => cgWrite(join(cur, f), from[i]));
    } catch (e) {
      // Known values gone stale (the parent's cpus changed): read them again, once.
      if (!values) throw e;
      readyCpusets.delete(parent);
      const again = CPUSET_FILES.map((f) => cgRead(join(parent, f)) ?? '');
      CPUSET_FILES.forEach((f, i) => cgWrite(join(cur, f), again[i]));
      values = again;
    }
    values ??= from;
    if (!isLeaf) readyCpusets.set(cur, values);
  }
}

export class CgroupV1 implements Cgroup {
  readonly version = 1 as const;
  readonly dirs: Record<string, string> = {};

  constructor(readonly path: string, mountRoot = '/sys/fs/cgroup') {
    for (const [c, root] of Object.entries(hierarchies(mountRoot))) this.dirs[c] = join(root, path);
  }

  private dir(controller: string): string {
    const d = this.dirs[controller];
    if (!d) throw new Error(`cgroup: ${controller} controller not available on this host`);
    return d;
  }

  private has(controller: string, file: string): boolean {
    return !!this.dirs[controller] && existsSync(join(this.dirs[controller], file));
  }

  private hierarchyDirs(): string[] {
    return [...new Set(Object.values(this.dirs))];
  }

  create(): void {
    const dirs = this.hierarchyDirs();
    const made = dirs.map(cgMkdir);
    const cpuset = this.dirs.cpuset;
    if (cpuset) fillCpusets(cpuset, this.path, made[dirs.indexOf(cpuset)]);
  }

  /**
   * Zero (or absent) means "unset, leave as is", as runc reads linux.resources: dockerd writes
   * cpu.shares 0 and blockIO.weight 0 for every container that asks for neither.
   */
  apply(r: LinuxResources | undefined): void {
    if (!r) return;
    if (r.memory) this.applyMemory(r.memory);
    const c = r.cpu;
    if (c) {
      const cpu = (f: string) => join(this.dir('cpu'), f);
      if (c.shares) {
        cgWrite(cpu('cpu.shares'), c.shares);
        // The kernel clamps shares to [2, 262144] silently: say so, as runc does.
        const got = cgNumber(cpu('cpu.shares'));
        if (got !== undefined && got !== c.shares) throw new Error(`cgroup: the ${c.shares > got ? 'maximum' : 'minimum'} allowed cpu-shares is ${got}`);
      }
      pairedWrite(cpu('cpu.cfs_period_us'), c.period, cpu('cpu.cfs_quota_us'), c.quota);
      pairedWrite(cpu('cpu.rt_period_us'), c.realtimePeriod, cpu('cpu.rt_runtime_us'), c.realtimeRuntime);
      if (c.cpus) cgWrite(join(this.dir('cpuset'), 'cpuset.cpus'), c.cpus);
      if (c.mems) cgWrite(join(this.dir('cpuset'), 'cpuset.mems'), c.mems);
    }
    if (r.pids?.limit) cgWrite(join(this.dir('pids'), 'pids.max'), r.pids.limit > 0 ? r.pids.limit : 'max');
    const b = r.blockIO;
    if (b?.weight) {
      const f = this.has('blkio', 'blkio.weight') ? 'blkio.weight' : this.has('blkio', 'blkio.bfq.weight') ? 'blkio.bfq.weight' : undefined;
      if (!f) throw new Error('cgroup: blkio weight not available on this host (no blkio.weight or blkio.bfq.weight)');
      cgWrite(join(this.dir('blkio'), f), b.weight);
    }
    if (b?.leafWeight) cgWrite(join(this.dir('blkio'), 'blkio.leaf_weight'), b.leafWeight);
    if (b) this.applyBlockIODevices(b);
    for (const h of r.hugepageLimits ?? []) {
      const file = `hugetlb.${pageSize(h.pageSize)}.limit_in_bytes`;
      cgWrite(join(this.dir('hugetlb'), file), h.limit);
    }
    if (r.devices) this.applyDevices(compileDeviceRules(r.devices));
    if (r.unified && Object.keys(r.unified).length) throw new Error('cgroup: linux.resources.unified needs a cgroup v2 host');
  }

  /**
   * The default first ("a" to devices.deny or devices.allow, which also clears the exceptions inherited
   * from the parent), then each exception: the kernel never sees a moment where more is allowed than the
   * rules say, for a cgroup that has no process yet.
   */
  private applyDevices(f: DeviceFilter): void {
    const d = this.dirs.devices;
    if (!d) {
      // Rules that allow everything need no controller; any other would silently not hold.
      if (f.defaultAllow && !f.rules.length) return;
      throw new Error('cgroup: devices controller not available on this host: device rules cannot be enforced');
    }
    cgWrite(join(d, f.defaultAllow ? 'devices.allow' : 'devices.deny'), 'a');
    let lines = v1Lines.get(f);
    if (!lines) v1Lines.set(f, (lines = f.rules.map(v1Rule)));
    cgWriteEach(join(d, f.defaultAllow ? 'devices.deny' : 'devices.allow'), lines);
  }

  /** Per-device weights and throttles, one "major:minor value" line per write (the file takes one). */
  private applyBlockIODevices(b: BlockIO): void {
    const blkio = (f: string) => join(this.dir('blkio'), f);
    for (const d of b.weightDevice ?? []) {
      if (d.weight) cgWrite(blkio(this.has('blkio', 'blkio.weight_device') ? 'blkio.weight_device' : 'blkio.bfq.weight_device'), `${d.major}:${d.minor} ${d.weight}`);
      if (d.leafWeight) cgWrite(blkio('blkio.leaf_weight_device'), `${d.major}:${d.minor} ${d.leafWeight}`);
    }
    for (const [key, file] of THROTTLES) for (const d of b[key] ?? []) cgWrite(blkio(`blkio.throttle.${file}`), `${d.major}:${d.minor} ${d.rate}`);
  }

  /** runc's order: the memory+swap limit must stay at or above the memory limit at every step. */
  private applyMemory(m: NonNullable<LinuxResources['memory']>): void {
    const d = this.dir('memory');
    const limitFile = join(d, 'memory.limit_in_bytes');
    const limit = m.limit ?? 0;
    // Swap accounting may be off in this kernel: then there is no memsw file and no swap limit.
    const swapFile = (m.swap || limit === -1) && this.has('memory', 'memory.memsw.limit_in_bytes') ? join(d, 'memory.memsw.limit_in_bytes') : undefined;
    // Unlimited memory with swap unset: swap unlimited too, else the old memsw limit would cap it.
    const swap = limit === -1 && !m.swap && swapFile ? -1 : (m.swap ?? 0);
    const setLimit = () => {
      if (!limit) return;
      try {
        cgWrite(limitFile, limit);
      } catch (e) {
        if (!(e as Error).message.endsWith('EBUSY')) throw e;
        throw new Error(`cgroup: unable to set memory limit to ${limit} (current usage: ${cgNumber(join(d, 'memory.usage_in_bytes'))}, peak usage: ${cgNumber(join(d, 'memory.max_usage_in_bytes'))})`);
      }
    };
    const setSwap = () => {
      if (swap && swapFile) cgWrite(swapFile, swap);
    };
    // A memory+swap above the current limit goes first, so that memsw never falls below the limit.
    if (limit && swap && swapFile && (swap === -1 || (cgNumber(limitFile) ?? 0) < swap)) {
      setSwap();
      setLimit();
    } else {
      setLimit();
      setSwap();
    }
    if (m.reservation) cgWrite(join(d, 'memory.soft_limit_in_bytes'), m.reservation);
    if (m.disableOOMKiller) cgWrite(join(d, 'memory.oom_control'), 1);
    // -1 (docker's default) leaves the inherited value.
    if (m.swappiness !== undefined && m.swappiness !== -1) {
      if (m.swappiness < 0 || m.swappiness > 100) throw new Error(`cgroup: invalid memory swappiness value: ${m.swappiness} (valid range is 0-100)`);
      if (this.has('memory', 'memory.swappiness')) cgWrite(join(d, 'memory.swappiness'), m.swappiness);
    }
  }

  addProcess(pid: number): void {
    for (const dir of new Set(Object.values(this.dirs))) cgWrite(join(dir, 'cgroup.procs'), pid);
  }

  tasksFiles(): string[] {
    return [...new Set(Object.values(this.dirs))].map((d) => join(d, 'tasks'));
  }

  freeze(): void {
    const f = join(this.dir('freezer'), 'freezer.state');
    cgWrite(f, 'FROZEN');
    waitUntil(() => cgRead(f) === 'FROZEN', `${f} to read FROZEN`);
  }

  thaw(): void {
    if (!this.dirs.freezer || !existsSync(this.dirs.freezer)) return;
    cgWrite(join(this.dirs.freezer, 'freezer.state'), 'THAWED');
  }

  frozen(): boolean {
    return this.dirs.freezer !== undefined && cgRead(join(this.dirs.freezer, 'freezer.state')) === 'FROZEN';
  }

  procs(): number[] {
    const d = this.dirs.pids ?? this.dirs.memory ?? Object.values(this.dirs)[0];
    return d ? cgPids(join(d, 'cgroup.procs')) : [];
  }

  kill(signal: number): void {
    signalAll(this.procs(), signal);
  }

  stats(): CgroupStats {
    const mem = this.dirs.memory;
    const ms = mem ? cgKeyed(join(mem, 'memory.stat')) : {};
    const oom = mem ? cgKeyed(join(mem, 'memory.oom_control')) : {};
    const acct = this.dirs.cpuacct;
    const cs = acct ? cgKeyed(join(acct, 'cpuacct.stat')) : {};
    const cpuStat = this.dirs.cpu ? cgKeyed(join(this.dirs.cpu, 'cpu.stat')) : {};
    const limit = mem ? cgNumber(join(mem, 'memory.limit_in_bytes')) : undefined;
    return {
      cpu: {
        usageNs: (acct && cgNumber(join(acct, 'cpuacct.usage'))) || 0,
        userNs: cs.user !== undefined ? cs.user * USER_HZ_NS : undefined,
        systemNs: cs.system !== undefined ? cs.system * USER_HZ_NS : undefined,
        throttledPeriods: cpuStat.nr_throttled,
      },
      memory: {
        usage: (mem && cgNumber(join(mem, 'memory.usage_in_bytes'))) || 0,
        maxUsage: mem ? cgNumber(join(mem, 'memory.max_usage_in_bytes')) : undefined,
        // The kernel's "unlimited" is a page-rounded LONG_MAX.
        limit: limit !== undefined && limit < 2 ** 62 ? limit : undefined,
        rss: ms.total_rss ?? ms.rss,
        cache: ms.total_cache ?? ms.cache,
        swap: ms.total_swap ?? ms.swap,
        oomEvents: (mem && cgNumber(join(mem, 'memory.failcnt'))) || 0,
        oomKills: oom.oom_kill ?? 0,
      },
      pids: {
        current: (this.dirs.pids && cgNumber(join(this.dirs.pids, 'pids.current'))) || 0,
        limit: this.dirs.pids ? cgNumber(join(this.dirs.pids, 'pids.max')) : undefined,
      },
    };
  }

  exists(): boolean {
    return Object.values(this.dirs).some((d) => existsSync(d));
  }

  destroy(): void {
    removeCgroupDirs(this.hierarchyDirs(), this.killAll, () => this.thaw());
  }

  // The pids of every hierarchy: a busy one may hold them when another is gone already.
  private readonly killAll = () => signalAll(this.hierarchyDirs().flatMap((d) => cgPids(join(d, 'cgroup.procs'))), 9);
}

/**
 * A period and its limit (cfs period/quota, rt period/runtime), each written only when non-zero. The
 * kernel checks one against the other: a new period it refuses (EINVAL) is written again after the limit.
 */
function pairedWrite(periodFile: string, period: number | undefined, limitFile: string, limit: number | undefined): void {
  let retry = false;
  if (period) {
    try {
      cgWrite(periodFile, period);
    } catch (e) {
      if (!limit || !(e as Error).message.endsWith('EINVAL')) throw e;
      retry = true;
    }
  }
  if (!limit) return;
  cgWrite(limitFile, limit);
  if (retry) cgWrite(periodFile, period!);
}
