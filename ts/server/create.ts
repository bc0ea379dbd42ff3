// POST /containers/create: docker's ContainerConfig and HostConfig as the engine's typed run options
// (engine.containers.create makes the container, not started). Known fields the engine has no
// equivalent for come back as docker's Warnings when set; unknown fields are a 400.
import type { RunOptions } from '../engine/options.js';
import { badRequest } from './errors.js';
import { checkFields } from './router.js';

const CONFIG_FIELDS = [
  'Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty', 'OpenStdin', 'StdinOnce', 'Env', 'Cmd',
  'Healthcheck', 'ArgsEscaped', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'NetworkDisabled', 'MacAddress', 'OnBuild', 'Labels', 'StopSignal',
  'StopTimeout', 'Shell', 'HostConfig', 'NetworkingConfig', 'Platform',
  // dockerode sends its ?name= in the body too
  'name',
] as const;

const HOST_FIELDS = [
  'Binds', 'ContainerIDFile', 'LogConfig', 'NetworkMode', 'PortBindings', 'RestartPolicy', 'AutoRemove', 'VolumeDriver', 'VolumesFrom', 'ConsoleSize',
  'Annotations', 'CapAdd', 'CapDrop', 'CgroupnsMode', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'IpcMode', 'Cgroup', 'Links',
  'OomScoreAdj', 'PidMode', 'Privileged', 'PublishAllPorts', 'ReadonlyRootfs', 'SecurityOpt', 'StorageOpt', 'Tmpfs', 'UTSMode', 'UsernsMode',
  'ShmSize', 'Sysctls', 'Runtime', 'Isolation', 'CpuShares', 'Memory', 'NanoCpus', 'CgroupParent', 'BlkioWeight', 'BlkioWeightDevice',
  'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod',
  'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems', 'Devices', 'DeviceCgroupRules', 'DeviceRequests', 'KernelMemory', 'KernelMemoryTCP',
  'MemoryReservation', 'MemorySwap', 'MemorySwappiness', 'OomKillDisable', 'PidsLimit', 'Ulimits', 'CpuCount', 'CpuPercent', 'IOMaximumIOps',
  'IOMaximumBandwidth', 'Mounts', 'MaskedPaths', 'ReadonlyPaths', 'Init',
] as const;

const MOUNT_FIELDS = ['Target', 'Source', 'Type', 'ReadOnly', 'Consistency', 'BindOptions', 'VolumeOptions', 'TmpfsOptions'];

type Obj = Record<string, unknown>;

/** Set to something other than docker's zero value (what clients send for "not asked"). */
function isSet(v: unknown): boolean {
  // Negative numbers are docker's "unset" for MemorySwappiness and the like.
  if (v === undefined || v === null || v === '' || v === false || (typeof v === 'number' && v <= 0)) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.values(v as Obj).some(isSet);
  return true;
}

function strList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest(`${what}: want a list of strings`);
  return v;
}

function num(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`${what}: want a number`);
  return v;
}

function str(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(`${what}: want a string`);
  return v;
}

// What the engine does not do (yet); set, they are reported in Warnings rather than failing the create.
const IGNORED_HOST = ['ContainerIDFile', 'VolumeDriver', 'VolumesFrom', 'Annotations', 'CgroupnsMode', 'DnsOptions', 'GroupAdd', 'IpcMode', 'Cgroup', 'Links',
  'OomScoreAdj', 'PidMode', 'StorageOpt', 'UTSMode', 'UsernsMode', 'ShmSize', 'Runtime', 'Isolation', 'CgroupParent', 'BlkioWeight', 'BlkioWeightDevice',
  'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetMems',
  'Devices', 'DeviceCgroupRules', 'DeviceRequests', 'KernelMemory', 'KernelMemoryTCP', 'MemoryReservation', 'MemorySwappiness', 'OomKillDisable',
  'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth', 'MaskedPaths', 'ReadonlyPaths'];
const IGNORED_CONFIG = ['Domainname', 'Healthcheck', 'Volumes', 'NetworkDisabled', 'MacAddress', 'OnBuild', 'Shell'];

/** NetworkingConfig.EndpointsConfig[the container's network].Aliases: compose names services this way. */
function endpointAliases(nc: unknown, net: string | undefined): string[] | undefined {
  const eps = (nc as { EndpointsConfig?: Record<string, { Aliases?: string[] | null }> } | undefined)?.EndpointsConfig;
  const a = net && eps?.[net]?.Aliases;
  return a && a.length ? strList(a, 'Aliases') : undefined;
}

export interface CreateRequest {
  options: RunOptions;
  warnings: string[];
  autoRemove: boolean;
}

/** The body of POST /containers/create (and ?name=) as run options. */
export function createOptions(body: Obj, name: string | undefined): CreateRequest {
  checkFields('container config', body, CONFIG_FIELDS);
  const h = (body.HostConfig ?? {}) as Obj;
  checkFields('HostConfig', h, HOST_FIELDS);
  const warnings: string[] = [];
  for (const k of IGNORED_CONFIG) if (isSet(body[k])) warnings.push(`${k} is not supported by tsbox and was ignored`);
  for (const k of IGNORED_HOST) if (isSet(h[k])) warnings.push(`HostConfig.${k} is not supported by tsbox and was ignored`);
  const log = h.LogConfig as { Type?: string } | undefined;
  if (log?.Type && log.Type !== 'json-file' && log.Type !== 'none') warnings.push(`log driver ${log.Type} is not supported: json-file is used`);

  if (body.Labels != null && (typeof body.Labels !== 'object' || Array.isArray(body.Labels) || Object.values(body.Labels).some((v) => typeof v !== 'string'))) throw badRequest('Labels: want an object of strings');
  const image = str(body.Image, 'Image');
  if (!image) throw badRequest('config: Image is required');
  const entrypoint = body.Entrypoint === undefined || body.Entrypoint === null ? undefined : strList(body.Entrypoint, 'Entrypoint');
  const cmd = strList(body.Cmd, 'Cmd');
  const labels = body.Labels ?? undefined;
  if (labels !== undefined && (labels === null || typeof labels !== 'object' || Array.isArray(labels) || !Object.values(labels).every((v) => typeof v === 'string'))) {
    throw badRequest('Labels: want an object of strings');
  }

  const mounts = ((h.Mounts ?? []) as Obj[]).map((m) => {
    checkFields('Mount', m, MOUNT_FIELDS);
    const type = str(m.Type, 'Mount.Type') ?? 'volume';
    const parts = [`type=${type}`];
    if (m.Source) parts.push(`source=${str(m.Source, 'Mount.Source')}`);
    parts.push(`target=${str(m.Target, 'Mount.Target') ?? ''}`);
    if (m.ReadOnly) parts.push('readonly');
    const t = m.TmpfsOptions as { SizeBytes?: number; Mode?: number } | undefined;
    if (t?.SizeBytes) parts.push(`tmpfs-size=${t.SizeBytes}`);
    if (t?.Mode) parts.push(`tmpfs-mode=${t.Mode.toString(8)}`);
    return parts.join(',');
  });
  const tmpfs = Object.entries((h.Tmpfs ?? {}) as Record<string, string>).map(([p, o]) => (o ? `${p}:${o}` : p));
  const publish: string[] = [];
  for (const [port, binds] of Object.entries((h.PortBindings ?? {}) as Record<string, { HostIp?: string; HostPort?: string }[] | null>)) {
    for (const b of binds?.length ? binds : [{}]) publish.push(`${b.HostIp ? `${b.HostIp}:` : ''}${b.HostPort ? `${b.HostPort}:` : ''}${port}`);
  }
  // Exposed ports nobody bound are published on a free port only with PublishAllPorts, as docker does.
  const exposed = Object.keys((body.ExposedPorts ?? {}) as Obj);
  const publishAll = h.PublishAllPorts === true;
  if (publishAll) for (const p of exposed) if (!(p in ((h.PortBindings ?? {}) as Obj))) publish.push(p);
  const rp = (h.RestartPolicy ?? {}) as { Name?: string; MaximumRetryCount?: number };
  let restart = rp.Name || 'no';
  if (restart === 'on-failure' && rp.MaximumRetryCount) restart = `on-failure:${rp.MaximumRetryCount}`;
  const nanoCpus = num(h.NanoCpus, 'NanoCpus');
  const pids = num(h.PidsLimit, 'PidsLimit');
  const memory = num(h.Memory, 'Memory');
  const swap = num(h.MemorySwap, 'MemorySwap');
  const net = str(h.NetworkMode, 'NetworkMode');
  const stopTimeout = num(body.StopTimeout, 'StopTimeout');
  const ulimits = ((h.Ulimits ?? []) as { Name: string; Soft: number; Hard: number }[]).map((u) => `${u.Name}=${u.Soft}:${u.Hard}`);
  const sysctls = Object.entries((h.Sysctls ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`);
  const options: RunOptions = {
    image,
    cmd: entrypoint?.length ? [...entrypoint.slice(1), ...cmd] : cmd,
    entrypoint: entrypoint === undefined ? undefined : entrypoint[0] ?? '',
    name,
    detach: true,
    rm: false,
    // OpenStdin: the monitor keeps its stdin open for attach; Tty: the monitor holds its terminal.
    interactive: body.OpenStdin === true,
    tty: body.Tty === true,
    labels: labels as Record<string, string> | undefined,
    logDriver: log?.Type === 'none' ? 'none' : undefined,
    env: strList(body.Env, 'Env'),
    workdir: str(body.WorkingDir, 'WorkingDir'),
    user: str(body.User, 'User'),
    hostname: str(body.Hostname, 'Hostname'),
    volumes: strList(h.Binds, 'Binds'),
    mounts,
    tmpfs,
    readOnly: h.ReadonlyRootfs === true,
    init: h.Init === true,
    privileged: h.Privileged === true,
    capAdd: strList(h.CapAdd, 'CapAdd'),
    capDrop: strList(h.CapDrop, 'CapDrop'),
    securityOpt: strList(h.SecurityOpt, 'SecurityOpt'),
    memory: memory || undefined,
    memorySwap: swap || undefined,
    cpus: nanoCpus ? nanoCpus / 1e9 : undefined,
    cpuShares: num(h.CpuShares, 'CpuShares') || undefined,
    cpuQuota: num(h.CpuQuota, 'CpuQuota') || undefined,
    cpuPeriod: num(h.CpuPeriod, 'CpuPeriod') || undefined,
    cpusetCpus: str(h.CpusetCpus, 'CpusetCpus'),
    pidsLimit: pids && pids > 0 ? pids : undefined,
    ulimits,
    sysctls,
    network: !net || net === 'default' ? 'default' : net,
    stopSignal: str(body.StopSignal, 'StopSignal'),
    stopTimeout: stopTimeout ?? undefined,
    restart,
    platform: str(body.Platform, 'Platform'),
    publish,
    publishAll: false,
    dns: strList(h.Dns, 'Dns'),
    dnsSearch: strList(h.DnsSearch, 'DnsSearch'),
    addHost: strList(h.ExtraHosts, 'ExtraHosts'),
    networkAlias: endpointAliases(body.NetworkingConfig, net),
  };
  if (!/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(restart)) throw badRequest(`invalid restart policy ${JSON.stringify(rp.Name)}`);
  const autoRemove = h.AutoRemove === true;
  if (autoRemove && restart !== 'no') throw badRequest('conflicting options: AutoRemove and RestartPolicy');
  return { options, warnings, autoRemove };
}
