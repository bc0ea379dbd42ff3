// Containers as docker's API shows them: the inspect object and the list summary, built from the engine's
// record, the runtime's state and the image config. Fields tsbox does not have get docker's zero values.
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../images/store.js';
import { findImage } from '../images/manage.js';
import { containerImage } from './container-image.js';
import { snapshotDir, snapshotKind } from '../images/snapshot.js';
import { parsePublish } from '../net/ports.js';
import { findNetwork } from '../net/networks.js';
import { endpointsOf } from './network.js';
import { mountpoint } from './volumes.js';
import { parseSubnet } from '../net/bridge.js';
import { containerCgroup, readState } from '../runtime/state.js';
import { containerDir, liveState, listRecords, stateRoot, type ContainerRecord, type LiveState } from './containers.js';
import { shouldRestart } from './monitor.js';
import type { ImageConfig } from './spec.js';
import { CONTAINER_FILTERS, filterContainers, type ContainerFacts } from './filters.js';
import { humanDuration } from './units.js';

/** docker's zero time.Time, what it shows for a time that never happened. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts: Record<string, Record<string, never>>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  Volumes: Record<string, Record<string, never>> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  OnBuild: null;
}

export interface HostConfig {
  /** docker's other HostConfig fields, at their zero values: tsbox has no setting for them (yet). */
  [other: string]: unknown;
  Binds: string[] | null;
  NetworkMode: string;
  PortBindings: Record<string, PortBinding[]>;
  RestartPolicy: { Name: string; MaximumRetryCount: number };
  AutoRemove: boolean;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  Dns: string[];
  DnsSearch: string[];
  ExtraHosts: string[] | null;
  Privileged: boolean;
  PublishAllPorts: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  Tmpfs?: Record<string, string>;
  Init: boolean;
  Memory: number;
  MemorySwap: number;
  NanoCpus: number;
  CpuShares: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  PidsLimit: number | null;
  Ulimits: { Name: string; Soft: number; Hard: number }[] | null;
  Sysctls?: Record<string, string>;
  LogConfig: { Type: string; Config: Record<string, string> };
}

export interface EndpointSettings {
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Aliases: string[] | null;
}

export interface NetworkSettings {
  /** docker's other NetworkSettings fields (IPv6, hairpin, sandbox id), at their zero values. */
  [other: string]: unknown;
  SandboxKey: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Ports: Record<string, PortBinding[] | null>;
  Networks: Record<string, EndpointSettings>;
}

export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** docker inspect's object for a container. */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  Mounts: MountPoint[];
  Config: ContainerConfig;
  NetworkSettings: NetworkSettings;
}

/** One row of docker's container list (GET /containers/json). */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  /** Unix seconds. */
  Created: number;
  State: ContainerState['Status'];
  /** "Up 4 seconds", "Exited (3) 2 minutes ago", "Created". */
  Status: string;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  Labels: Record<string, string>;
  /** The exit code of a stopped container (not in docker's API; its filters use it). */
  ExitCode: number;
  /** The writable layer's size in bytes (docker ps -s), when asked for. */
  SizeRw?: number;
  SizeRootFs?: number;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, EndpointSettings> };
  Mounts: MountPoint[];
}

function imageConfigOf(root: string, r: ContainerRecord): ImageConfig & { ExposedPorts?: Record<string, object>; Labels?: Record<string, string>; Volumes?: Record<string, object> } {
  try {
    return containerImage(root, r)?.doc.config ?? {};
  } catch {
    return {}; // the image is gone: what the record says is all there is
  }
}

/** The container's labels as inspect's Config.Labels has them (the image's, then its own's over them). */
export function labelsOf(root: string, r: ContainerRecord): Record<string, string> {
  return { ...(imageConfigOf(root, r).Labels ?? {}), ...(r.Options.labels ?? {}) };
}

// docker's zero values of the HostConfig and NetworkSettings fields tsbox does not set.
const HOST_CONFIG_ZERO = {
  ContainerIDFile: '', VolumeDriver: '', VolumesFrom: null, CgroupnsMode: '', DnsOptions: [], GroupAdd: null, IpcMode: 'private', Cgroup: '', Links: null,
  OomScoreAdj: 0, PidMode: '', UTSMode: '', UsernsMode: '', ShmSize: 67108864, Runtime: 'tsbox', ConsoleSize: [0, 0], Isolation: '', CgroupParent: '',
  BlkioWeight: 0, BlkioWeightDevice: null, BlkioDeviceReadBps: null, BlkioDeviceWriteBps: null, BlkioDeviceReadIOps: null, BlkioDeviceWriteIOps: null,
  CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetMems: '', Devices: null, DeviceCgroupRules: null, DeviceRequests: null, KernelMemory: 0, KernelMemoryTCP: 0,
  MemoryReservation: 0, MemorySwappiness: null, OomKillDisable: null, CpuCount: 0, CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0, MaskedPaths: null,
  ReadonlyPaths: null,
};

const NETWORK_SETTINGS_ZERO = {
  Bridge: '', SandboxID: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
  EndpointID: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPv6Gateway: '',
};

function mergeEnv(base: string[], extra: string[]): string[] {
  const out = [...base];
  for (const kv of extra) {
    if (!kv.includes('=')) continue;
    const k = kv.slice(0, kv.indexOf('=') + 1);
    const i = out.findIndex((x) => x.startsWith(k));
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}

function portBindings(publish: string[]): Record<string, PortBinding[]> {
  const out: Record<string, PortBinding[]> = {};
  for (const p of publish) {
    try {
      const m = parsePublish(p);
      (out[`${m.containerPort}/${m.protocol}`] ??= []).push({ HostIp: m.hostIp === '0.0.0.0' ? '' : m.hostIp, HostPort: m.hostPort ? String(m.hostPort) : '' });
    } catch {
      // checked when the container was made
    }
  }
  return out;
}

/** A named volume's content directory (its _data), as docker's Mounts show it. */
function volumeSource(root: string, name: string): string {
  try {
    return mountpoint(root, name);
  } catch {
    return '';
  }
}

function mountsOf(root: string, r: ContainerRecord): MountPoint[] {
  const o = r.Options;
  const out: MountPoint[] = [];
  for (const v of o.volumes) {
    const [src, dst, mode = 'rw'] = v.split(':');
    const named = !src.startsWith('/') && !src.startsWith('.');
    out.push(named
      ? { Type: 'volume', Name: src, Source: volumeSource(root, src), Destination: dst, Driver: 'local', Mode: mode === 'rw' ? 'z' : mode, RW: mode !== 'ro', Propagation: '' }
      : { Type: 'bind', Source: src, Destination: dst, Mode: mode === 'rw' ? '' : mode, RW: mode !== 'ro', Propagation: 'rprivate' });
  }
  for (const m of o.mounts) {
    const kv = Object.fromEntries(m.split(',').map((p) => (p.includes('=') ? p.split(/=(.*)/s).slice(0, 2) : [p, 'true'])));
    const type = (kv.type ?? 'volume') as MountPoint['Type'];
    const ro = kv.readonly === 'true' || kv.ro === 'true' || kv.readonly === '1';
    const src = kv.source ?? kv.src ?? '';
    const dst = kv.target ?? kv.destination ?? kv.dst ?? '';
    if (type === 'volume') out.push({ Type: 'volume', Name: src, Source: volumeSource(root, src), Destination: dst, Driver: 'local', Mode: 'z', RW: !ro, Propagation: '' });
    else out.push({ Type: type, Source: type === 'tmpfs' ? '' : src, Destination: dst, Mode: '', RW: !ro, Propagation: type === 'bind' ? 'rprivate' : '' });
  }
  for (const t of o.tmpfs) out.push({ Type: 'tmpfs', Source: '', Destination: t.split(':')[0], Mode: '', RW: true, Propagation: '' });
  return out;
}

function networkName(r: ContainerRecord): string {
  const n = r.Options.network;
  if (n === 'default') return process.getuid?.() === 0 ? 'bridge' : 'none';
  return n === 'slirp' ? 'slirp4netns' : n;
}

function endpoints(root: string, r: ContainerRecord, running: boolean): Record<string, EndpointSettings> {
  const name = networkName(r);
  if (name === 'host' || name.startsWith('container:')) return { [name.split(':')[0]]: endpoint('', 0, '') };
  const net = name === 'none' || name === 'slirp4netns' ? undefined : findNetwork(root, name);
  const ip = running ? r.IPAddress ?? '' : '';
  let bits = 0;
  let gateway = '';
  if (net && ip) ({ bits, gateway } = parseSubnet(net.subnet));
  if (!net) return { [name]: endpoint(ip, bits, gateway) };
  // Every bridge network it is on now (its own, and those of network connect), with MAC and aliases.
  const live = running ? endpointsOf(root, r) : {};
  const out: Record<string, EndpointSettings> = { [name]: endpoint(ip, bits, gateway) };
  for (const [n, e] of Object.entries(live)) out[n] = { ...e, EndpointID: '', Aliases: e.Aliases.length ? e.Aliases : null };
  if (running && !live[name]) delete out[name];
  return out;
}

function endpoint(ip: string, bits: number, gateway: string): EndpointSettings {
  return { NetworkID: '', EndpointID: '', Gateway: gateway, IPAddress: ip, IPPrefixLen: bits, MacAddress: '', Aliases: null };
}

function oomKilled(root: string, r: ContainerRecord): boolean {
  try {
    return containerCgroup(readState(stateRoot(root), r.Id)).stats().memory.oomKills > 0;
  } catch {
    return false; // no cgroup any more
  }
}

function stateOf(root: string, r: ContainerRecord, s: LiveState): ContainerState {
  // Stopped, not by the user, with a policy that brings it back: its supervisor is about to restart it.
  const restarting = !s.Running && s.Status === 'exited' && r.Options.detach && !r.StoppedByUser && r.Options.restart !== 'no' && shouldRestart(r.Options.restart, s.ExitCode, r.RestartCount ?? 0);
  return {
    Status: restarting ? 'restarting' : s.Status,
    Running: s.Running,
    Paused: s.Paused,
    Restarting: restarting,
    OOMKilled: oomKilled(root, r),
    Dead: false,
    Pid: s.Pid,
    ExitCode: s.ExitCode,
    Error: '',
    StartedAt: s.StartedAt ?? ZERO_TIME,
    FinishedAt: s.FinishedAt ?? ZERO_TIME,
  };
}

function restartPolicy(policy: string): { Name: string; MaximumRetryCount: number } {
  const m = /^on-failure(?::(\d+))?$/.exec(policy);
  return m ? { Name: 'on-failure', MaximumRetryCount: Number(m[1] ?? 0) } : { Name: policy, MaximumRetryCount: 0 };
}

export function inspectRecord(root: string, r: ContainerRecord): ContainerInspect {
  const o = r.Options;
  const s = liveState(root, r);
  const image = imageConfigOf(root, r);
  const dir = containerDir(root, r.Id);
  const entrypoint = o.entrypoint !== undefined ? (o.entrypoint ? [o.entrypoint] : null) : image.Entrypoint ?? null;
  const cmd = o.cmd.length ? o.cmd : o.entrypoint !== undefined ? null : image.Cmd ?? null;
  const mounts = mountsOf(root, r);
  const etc = (f: string) => (existsSync(join(dir, f)) ? join(dir, f) : '');
  const exposed: Record<string, Record<string, never>> = {};
  for (const k of [...Object.keys(image.ExposedPorts ?? {}), ...Object.keys(portBindings(o.publish))]) exposed[k] = {};
  const ports: Record<string, PortBinding[] | null> = Object.fromEntries(Object.keys(exposed).map((k) => [k, null]));
  if (s.Running) for (const p of r.Ports ?? []) (ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  const nets = endpoints(root, r, s.Running);
  const main = Object.values(nets)[0] ?? endpoint('', 0, '');
  return {
    Id: r.Id,
    Created: r.Created,
    Path: r.Args[0] ?? '',
    Args: r.Args.slice(1),
    State: stateOf(root, r, s),
    Image: r.ImageId,
    ResolvConfPath: etc('resolv.conf'),
    HostnamePath: etc('hostname'),
    HostsPath: etc('hosts'),
    LogPath: existsSync(join(dir, 'container.log')) ? join(dir, 'container.log') : '',
    Name: `/${r.Name}`,
    RestartCount: r.RestartCount ?? 0,
    Driver: snapshotKind(),
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      ...HOST_CONFIG_ZERO,
      Binds: o.volumes.length ? [...o.volumes] : null,
      NetworkMode: networkName(r),
      PortBindings: portBindings(o.publish),
      RestartPolicy: restartPolicy(o.restart),
      AutoRemove: o.rm,
      CapAdd: o.capAdd.length ? o.capAdd : null,
      CapDrop: o.capDrop.length ? o.capDrop : null,
      Dns: o.dns,
      DnsSearch: o.dnsSearch,
      ExtraHosts: o.addHost.length ? o.addHost : null,
      Privileged: o.privileged,
      PublishAllPorts: o.publishAll,
      ReadonlyRootfs: o.readOnly,
      SecurityOpt: o.securityOpt.length ? o.securityOpt : null,
      ...(o.tmpfs.length ? { Tmpfs: Object.fromEntries(o.tmpfs.map((t) => [t.split(':')[0], t.split(/:(.*)/s)[1] ?? ''])) } : {}),
      Init: o.init,
      Memory: o.memory ?? 0,
      MemorySwap: o.memorySwap ?? 0,
      NanoCpus: o.cpus ? Math.round(o.cpus * 1e9) : 0,
      CpuShares: o.cpuShares ?? 0,
      CpuPeriod: o.cpuPeriod ?? 0,
      CpuQuota: o.cpuQuota ?? 0,
      CpusetCpus: o.cpusetCpus ?? '',
      PidsLimit: o.pidsLimit ?? null,
      Ulimits: o.ulimits.length
        ? o.ulimits.map((u) => {
            const [name, v = ''] = u.split('=');
            const [soft, hard = soft] = v.split(':');
            return { Name: name, Soft: Number(soft), Hard: Number(hard) };
          })
        : null,
      ...(o.sysctls.length ? { Sysctls: Object.fromEntries(o.sysctls.map((x) => x.split(/=(.*)/s).slice(0, 2))) } : {}),
      // As given (docker keeps --log-opt's strings).
      LogConfig: { Type: o.logDriver ?? 'json-file', Config: Object.fromEntries((o.logOpts ?? []).map((x) => [x.split('=')[0], x.slice(x.indexOf('=') + 1)])) },
    },
    GraphDriver: { Name: snapshotKind(), Data: { MergedDir: join(snapshotDir(root, r.Id), 'rootfs') } },
    Mounts: mounts,
    Config: {
      Hostname: o.hostname ?? r.Id.slice(0, 12),
      Domainname: '',
      User: o.user ?? image.User ?? '',
      AttachStdin: o.interactive && !o.detach,
      AttachStdout: !o.detach,
      AttachStderr: !o.detach,
      ExposedPorts: exposed,
      Tty: o.tty,
      OpenStdin: o.interactive,
      StdinOnce: o.interactive && !o.detach,
      Env: mergeEnv(image.Env ?? [], o.env),
      Cmd: cmd,
      Image: r.Image,
      Volumes: image.Volumes ? Object.fromEntries(Object.keys(image.Volumes).map((k) => [k, {}])) : null,
      WorkingDir: o.workdir ?? image.WorkingDir ?? '',
      Entrypoint: entrypoint,
      OnBuild: null,
      Labels: { ...(image.Labels ?? {}), ...(o.labels ?? {}) },
      ...(o.stopSignal ?? image.StopSignal ? { StopSignal: o.stopSignal ?? image.StopSignal } : {}),
      ...(o.stopTimeout !== undefined ? { StopTimeout: o.stopTimeout } : {}),
    },
    NetworkSettings: {
      ...NETWORK_SETTINGS_ZERO,
      SandboxKey: s.Pid ? `/proc/${s.Pid}/ns/net` : '',
      Gateway: main.Gateway,
      IPAddress: main.IPAddress,
      IPPrefixLen: main.IPPrefixLen,
      MacAddress: main.MacAddress,
      Ports: ports,
      Networks: nets,
    },
  };
}

const ago = humanDuration;

/** docker ps's STATUS: "Up 4 seconds", "Up 4 seconds (Paused)", "Exited (3) 2 minutes ago", "Created". */
export function statusText(s: ContainerState, now = Date.now()): string {
  if (s.Running) return `Up ${ago(now - Date.parse(s.StartedAt))}${s.Paused ? ' (Paused)' : ''}`;
  if (s.Restarting) return `Restarting (${s.ExitCode}) ${ago(now - Date.parse(s.FinishedAt))} ago`;
  if (s.Status === 'exited') return s.FinishedAt === ZERO_TIME ? `Exited (${s.ExitCode})` : `Exited (${s.ExitCode}) ${ago(now - Date.parse(s.FinishedAt))} ago`;
  return 'Created';
}

/**
 * Bytes of the regular files below dir, each inode once. Iterative: a container may nest directories
 * deeper than a recursive walk's stack.
 */
export function treeSize(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue; // gone, or not a directory
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
        if (!st || seen.has(`${st.ino}`)) continue;
        seen.add(`${st.ino}`);
        total += Number(st.size);
      }
    }
  }
  return total;
}

/** docker ps -s: the writable layer (overlay's upper; a copied rootfs is all writable) and the image under it. */
function sizes(root: string, r: ContainerRecord): { SizeRw: number; SizeRootFs: number } {
  const dir = snapshotDir(root, r.Id);
  const rw = treeSize(join(dir, snapshotKind() === 'copy' ? 'rootfs' : 'upper'));
  let image = 0;
  try {
    const store = new Store(root);
    for (const d of containerImage(root, r)?.rec.diffIds ?? []) image += treeSize(store.layerPath(d));
  } catch {
    // the image is gone
  }
  return { SizeRw: rw, SizeRootFs: snapshotKind() === 'copy' ? rw : rw + image };
}

export function summaryOf(root: string, r: ContainerRecord, o: { size?: boolean } = {}): ContainerSummary {
  const i = inspectRecord(root, r);
  return {
    ...(o.size ? sizes(root, r) : {}),
    Id: r.Id,
    Names: [`/${r.Name}`],
    // docker's: the name it was made with while that still names its image, else the image's id.
    Image: r.Image === r.ImageId || findImageName(root, r.Image) === r.ImageId ? r.Image : r.ImageId,
    ImageID: r.ImageId,
    Command: r.Args.join(' '),
    Created: Math.floor(Date.parse(r.Created) / 1000),
    State: i.State.Status,
    Status: statusText(i.State),
    Ports: Object.entries(i.NetworkSettings.Ports).flatMap(([k, b]) => {
      const [port, type] = k.split('/');
      return b?.length ? b.map((x) => ({ IP: x.HostIp, PrivatePort: Number(port), PublicPort: Number(x.HostPort), Type: type })) : [{ PrivatePort: Number(port), Type: type }];
    }),
    Labels: i.Config.Labels,
    ExitCode: i.State.ExitCode,
    HostConfig: { NetworkMode: i.HostConfig.NetworkMode },
    NetworkSettings: { Networks: i.NetworkSettings.Networks },
    Mounts: i.Mounts,
  };
}

/** docker ps's filters: each key's values are alternatives, different keys must all match (ts/engine/filters.ts). */
export type ContainerFilters = Partial<Record<(typeof CONTAINER_FILTERS)[number], string | string[]>>;

function findImageName(root: string, ref: string): string | undefined {
  try {
    return findImage(new Store(root), ref)?.config;
  } catch {
    return undefined;
  }
}

export interface ListOptions {
  /** Stopped and created containers too (docker ps -a); a status filter implies it. */
  all?: boolean;
  filters?: ContainerFilters;
  /** The n most recently created only (docker ps -n); -1 for all. */
  limit?: number;
  /** SizeRw and SizeRootFs (docker ps -s): walks each container's files. */
  size?: boolean;
}

/** docker ps: newest first. */
export function listContainers(root: string, o: ListOptions = {}): ContainerSummary[] {
  const f = o.filters ?? {};
  const all = o.all || f.status !== undefined || f.exited !== undefined || (o.limit !== undefined && o.limit > 0);
  const items = listRecords(root).map((r) => {
    const s = summaryOf(root, r);
    const facts: ContainerFacts = {
      id: r.Id, name: r.Name, labels: s.Labels, state: s.State, exitCode: s.ExitCode, image: r.Image, imageId: r.ImageId,
      networks: Object.keys(s.NetworkSettings.Networks), mounts: s.Mounts, created: Date.parse(r.Created),
    };
    return [s, facts] as [ContainerSummary, ContainerFacts];
  });
  // Newest first, as docker lists them; -n counts after the filters.
  items.sort((a, b) => b[1].created - a[1].created);
  let out = filterContainers(items, f, (ref) => findImageName(root, ref)).filter((s) => all || s.State === 'running' || s.State === 'paused' || s.State === 'restarting');
  if (o.limit !== undefined && o.limit > 0) out = out.slice(0, o.limit);
  if (!o.size) return out;
  const records = new Map(listRecords(root).map((r) => [r.Id, r]));
  return out.map((s) => (records.has(s.Id) ? { ...s, ...sizes(root, records.get(s.Id)!) } : s));
}
