// cgroup v2: one unified directory; controllers enabled through the parents' cgroup.subtree_control.
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { cgKeyed, cgMkdir, cgNumber, cgPids, cgRead, cgWrite, removeCgroupDirs, waitUntil, signalAll } from './files.js';
import { native } from '../../native.js';
import { compileDeviceRules, type DeviceFilter } from './devices.js';
import { pageSize, THROTTLES, type Cgroup, type CgroupStats, type LinuxResources } from './types.js';

export class CgroupV2 implements Cgroup {
  readonly version = 2 as const;
  readonly dirs: Record<string, string>;
  private readonly dir: string;

  /**
   * delegated: the cgroup (below mountRoot) handed to an unprivileged user; controllers are enabled
   * from there down, never above it.
   */
  constructor(readonly path: string, private readonly mountRoot = '/sys/fs/cgroup', private readonly delegated?: string) {
    this.dir = join(mountRoot, path);
    this.dirs = { unified: this.dir };
  }

  private need(controller: string): void {
    if (!(cgRead(join(this.dir, 'cgroup.controllers')) ?? '').split(/\s+/).includes(controller)) {
      throw new Error(`cgroup: ${controller} controller not available ${this.delegated ? `in the delegated cgroup ${this.delegated}` : 'on this host'}`);
    }
  }

  create(): void {
    cgMkdir(this.dir);
    // Delegate the controllers the root (or our delegated cgroup) offers down to our cgroup, through the
    // parents we own. The root's own subtree_control is the host's business (systemd's), never changed here.
    const top = this.delegated ? join(this.mountRoot, this.delegated) : this.mountRoot;
    const offered = cgRead(join(top, this.delegated ? 'cgroup.controllers' : 'cgroup.subtree_control')) ?? '';
    const want = offered.split(/\s+/).filter(Boolean);
    if (!want.length) return;
    const chain: string[] = [];
    for (let d = dirname(this.dir); d.length >= top.length && d.length > this.mountRoot.length; d = dirname(d)) chain.unshift(d);
    for (const d of chain) {
      try {
        cgWrite(join(d, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
      } catch {
        // One controller that cannot be enabled (tasks live there, or not offered) fails the whole
        // write: enable the others one by one; need() reports the missing ones.
        for (const c of want) {
          try {
            cgWrite(join(d, 'cgroup.subtree_control'), `+${c}`);
          } catch {
            // not here
          }
        }
      }
    }
  }

  apply(r: LinuxResources | undefined): void {
    if (!r) return;
    const w = (controller: string, file: string, value: string | number) => {
      this.need(controller);
      cgWrite(join(this.dir, file), value);
    };
    // Zero (or absent) means "unset, leave as is", as runc reads linux.resources; -1 means "max".
    const m = r.memory;
    if (m) {
      const swap = memorySwapToV2(m.swap ?? 0, m.limit ?? 0);
      // A swap equal to the memory limit converts to 0: no swap at all, which must be written. Without
      // swap accounting in the kernel there is no swap.max and nothing to limit.
      if ((swap !== 0 || (m.swap ?? 0) > 0) && existsSync(join(this.dir, 'memory.swap.max'))) w('memory', 'memory.swap.max', swap === -1 ? 'max' : swap);
      if (m.limit) w('memory', 'memory.max', m.limit === -1 ? 'max' : m.limit);
      if (m.reservation) w('memory', 'memory.low', m.reservation === -1 ? 'max' : m.reservation);
      if (m.disableOOMKiller) throw new Error('cgroup: disabling the OOM killer is not possible with cgroup v2');
    }
    const c = r.cpu;
    if (c) {
      if (c.shares) w('cpu', 'cpu.weight', cpuSharesToWeight(c.shares));
      if (c.quota || c.period) w('cpu', 'cpu.max', `${c.quota && c.quota > 0 ? c.quota : 'max'} ${c.period || 100000}`);
      if (c.idle !== undefined) w('cpu', 'cpu.idle', c.idle);
      if (c.cpus) w('cpuset', 'cpuset.cpus', c.cpus);
      if (c.mems) w('cpuset', 'cpuset.mems', c.mems);
    }
    if (r.pids?.limit) w('pids', 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
    const b = r.blockIO;
    const bfq = join(this.dir, 'io.bfq.weight');
    if (b?.weight) {
      this.need('io');
      // BFQ takes the v1 weight as it is; io.weight has its own range.
      if (existsSync(bfq)) cgWrite(bfq, b.weight);
      else cgWrite(join(this.dir, 'io.weight'), blkioWeightToIoWeight(b.weight));
    }
    // Per-device weights only where BFQ is (io.weight has no per-device form runc writes), as runc.
    if (b?.weightDevice?.some((d) => d.weight)) {
      this.need('io');
      if (existsSync(bfq)) for (const d of b.weightDevice) if (d.weight) cgWrite(bfq, `${d.major}:${d.minor} ${d.weight}`);
    }
    for (const [key, , name] of THROTTLES) for (const d of b?.[key] ?? []) w('io', 'io.max', `${d.major}:${d.minor} ${name}=${d.rate}`);
    for (const h of r.hugepageLimits ?? []) w('hugetlb', `hugetlb.${pageSize(h.pageSize)}.max`, h.limit);
    if (r.devices) this.applyDevices(compileDeviceRules(r.devices));
    for (const [k, v] of Object.entries(r.unified ?? {})) {
      if (k.includes('/') || k.startsWith('.')) throw new Error(`cgroup: bad unified key ${JSON.stringify(k)}`);
      cgWrite(join(this.dir, k), v);
    }
  }

  /**
   * v2 has no devices files: an eBPF device filter attached to the directory decides, in place of the one
   * a previous apply attached. Where BPF cannot be loaded (no CAP_BPF/CAP_SYS_ADMIN, as in a container),
   * rules that allow everything are met without a program (as runc does); any other rule is an error.
   */
  private applyDevices(f: DeviceFilter): void {
    try {
      native().deviceFilter(this.dir, f.defaultAllow, f.rules);
    } catch (e) {
      if (f.defaultAllow && !f.rules.length && (e as NodeJS.ErrnoException).code === 'EPERM') return;
      throw e;
    }
  }
  /** A v2 cgroup takes whole processes only (cgroup.procs): no thread may enter it alone. */
  tasksFiles(): string[] {
    return [];
  }

  addProcess(pid: number): void {
    cgWrite(join(this.dir, 'cgroup.procs'), pid);
  }

  freeze(): void {
    cgWrite(join(this.dir, 'cgroup.freeze'), 1);
    waitUntil(() => /frozen 1/.test(cgRead(join(this.dir, 'cgroup.events')) ?? ''), `${this.dir} to freeze`);
  }

  thaw(): void {
    if (existsSync(join(this.dir, 'cgroup.freeze'))) cgWrite(join(this.dir, 'cgroup.freeze'), 0);
  }

  frozen(): boolean {
    return cgRead(join(this.dir, 'cgroup.freeze')) === '1';
  }

  procs(): number[] {
    return cgPids(join(this.dir, 'cgroup.procs'));
  }

  kill(signal: number): void {
    if (signal === 9 && existsSync(join(this.dir, 'cgroup.kill'))) {
      cgWrite(join(this.dir, 'cgroup.kill'), 1);
      return;
    }
    signalAll(this.procs(), signal);
  }

  stats(): CgroupStats {
    const cpu = cgKeyed(join(this.dir, 'cpu.stat'));
    const ms = cgKeyed(join(this.dir, 'memory.stat'));
    const ev = cgKeyed(join(this.dir, 'memory.events'));
    return {
      cpu: {
        usageNs: (cpu.usage_usec ?? 0) * 1000,
        userNs: cpu.user_usec !== undefined ? cpu.user_usec * 1000 : undefined,
        systemNs: cpu.system_usec !== undefined ? cpu.system_usec * 1000 : undefined,
        throttledPeriods: cpu.nr_throttled,
      },
      memory: {
        usage: cgNumber(join(this.dir, 'memory.current')) ?? 0,
        maxUsage: cgNumber(join(this.dir, 'memory.peak')),
        limit: cgNumber(join(this.dir, 'memory.max')),
        rss: ms.anon,
        cache: ms.file,
        swap: cgNumber(join(this.dir, 'memory.swap.current')),
        oomEvents: ev.oom ?? 0,
        oomKills: ev.oom_kill ?? 0,
      },
      pids: { current: cgNumber(join(this.dir, 'pids.current')) ?? 0, limit: cgNumber(join(this.dir, 'pids.max')) },
    };
  }

  exists(): boolean {
    return existsSync(this.dir);
  }

  destroy(): void {
    removeCgroupDirs([this.dir], () => this.kill(9), () => this.thaw());
  }
}

/** runc's ConvertCPUSharesToCgroupV2Value: [2, 262144] onto cpu.weight's [1, 10000]; 0 stays unset. */
export function cpuSharesToWeight(shares: number): number {
  if (!shares) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** runc's ConvertBlkIOToIOWeightValue: blkio's [10, 1000] onto io.weight's [1, 10000]; 0 stays unset. */
export function blkioWeightToIoWeight(weight: number): number {
  if (!weight) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * runc's ConvertMemorySwapToCgroupV2Value: OCI swap is memory+swap, memory.swap.max is swap alone.
 * 0 is unset, -1 is max; unlimited memory with swap unset makes swap unlimited too.
 */
export function memorySwapToV2(swap: number, memory: number): number {
  if (memory === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (memory === 0 || memory === -1) throw new Error('cgroup: unable to set swap limit without memory limit');
  if (memory < 0) throw new Error(`cgroup: invalid memory value: ${memory}`);
  if (swap < memory) throw new Error('cgroup: memory+swap limit should be >= memory limit');
  return swap - memory;
}
