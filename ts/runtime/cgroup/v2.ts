// cgroup v2: one unified directory; controllers enabled through the parents' cgroup.subtree_control.
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { cgKeyed, cgMkdir, cgNumber, cgPids, cgRead, cgWrite, removeCgroupDirs, waitUntil, signalAll } from './files.js';
import { native } from '../../native.js';
import { compileDeviceRules, type DeviceFilter } from './devices.js';
import type { Cgroup, CgroupStats, LinuxResources } from './types.js';

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
    const m = r.memory;
    if (m) {
      if (m.limit !== undefined) w('memory', 'memory.max', m.limit > 0 ? m.limit : 'max');
      if (m.reservation !== undefined) w('memory', 'memory.low', m.reservation);
      // OCI swap is memory+swap; v2 limits swap alone.
      if (m.swap !== undefined && existsSync(join(this.dir, 'memory.swap.max'))) {
        w('memory', 'memory.swap.max', m.swap < 0 ? 'max' : Math.max(0, m.swap - (m.limit ?? 0)));
      }
      if (m.disableOOMKiller) throw new Error('cgroup: disabling the OOM killer is not possible with cgroup v2');
    }
    const c = r.cpu;
    if (c) {
      if (c.shares !== undefined) w('cpu', 'cpu.weight', Math.round(1 + ((c.shares - 2) * 9999) / 262142));
      if (c.quota !== undefined || c.period !== undefined) {
        const period = c.period ?? 100000;
        w('cpu', 'cpu.max', `${c.quota === undefined || c.quota < 0 ? 'max' : c.quota} ${period}`);
      }
      if (c.idle !== undefined) w('cpu', 'cpu.idle', c.idle);
      if (c.cpus) w('cpuset', 'cpuset.cpus', c.cpus);
      if (c.mems) w('cpuset', 'cpuset.mems', c.mems);
    }
    if (r.pids?.limit !== undefined) w('pids', 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
    if (r.blockIO?.weight !== undefined) w('io', 'io.weight', `default ${Math.round(1 + ((r.blockIO.weight - 10) * 9999) / 990)}`);
    for (const h of r.hugepageLimits ?? []) w('hugetlb', `hugetlb.${h.pageSize}.max`, h.limit);
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
