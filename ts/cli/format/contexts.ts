// What docker's --format templates see for each row of ps, images and stats: docker's field names and the
// strings its formatter makes of them (truncated ids and commands, "2 hours ago", "1.24MB", the PORTS text).
// Each is a class, so a field docker does not have is the same error as docker's.
import type { ContainerSummary } from '../../engine/inspect.js';
import type { ImageSummary } from '../../engine/images.js';
import type { NetworkInspect } from '../../engine/networks.js';
import type { VolumeInspect } from '../../engine/volumes.js';
import { bytesSize, humanDuration, humanSize, humanSizeWithPrecision } from '../../engine/units.js';
import { goQuote } from './gofmt.js';
import type { ListFormat } from './index.js';

/** docker's formatter.Ellipsis: at most width characters, the last one "…" when cut. */
export function ellipsis(s: string, width: number): string {
  const chars = [...s];
  if (width <= 0) return '';
  if (chars.length <= width) return s;
  if (width === 1) return chars[0];
  return `${chars.slice(0, width - 1).join('')}…`;
}

/** Go's time.Time.String() of a Unix time, in the local zone: "2026-12-06 23:34:18 +0000 UTC". */
export function goTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const off = -d.getTimezoneOffset();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const zone = off === 0 ? 'UTC' : (new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? '');
  const sign = off < 0 ? '-' : '+';
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.trunc(Math.abs(off) / 60))}${p(Math.abs(off) % 60)} ${zone}`;
}

const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

type Port = ContainerSummary['Ports'][number];

/** docker's DisplayablePorts: "0.0.0.0:8080->80/tcp, 443/tcp", consecutive ports as ranges. */
export function displayablePorts(ports: Port[]): string {
  const sorted = [...ports].sort((a, b) =>
    a.PrivatePort !== b.PrivatePort ? a.PrivatePort - b.PrivatePort : (a.IP ?? '') !== (b.IP ?? '') ? ((a.IP ?? '') < (b.IP ?? '') ? -1 : 1) : (a.PublicPort ?? 0) !== (b.PublicPort ?? 0) ? (a.PublicPort ?? 0) - (b.PublicPort ?? 0) : a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0,
  );
  const groups = new Map<string, { first: number; last: number }>();
  const keys: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const form = (key: string, first: number, last: number) => {
    const i = key.lastIndexOf('/');
    const ip = i >= 0 ? key.slice(0, i) : '';
    const type = i >= 0 ? key.slice(i + 1) : key;
    let g = first === last ? String(first) : `${first}-${last}`;
    if (ip) g = `${ip.includes(':') ? `[${ip}]` : ip}:${g}->${g}`;
    return `${g}/${type}`;
  };
  for (const p of sorted) {
    let key = p.Type;
    const ip = p.IP || (p.PublicPort ? '0.0.0.0' : '');
    if (ip) {
      if (p.PublicPort !== p.PrivatePort) {
        hostMappings.push(`${ip.includes(':') ? `[${ip}]` : ip}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${ip}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
      keys.push(key);
    } else if (p.PrivatePort === g.last + 1) g.last = p.PrivatePort;
    else {
      result.push(form(key, g.first, g.last));
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    }
  }
  for (const k of keys) result.push(form(k, groups.get(k)!.first, groups.get(k)!.last));
  return [...result, ...hostMappings].join(', ');
}

/** A row of docker ps as its templates see it (docker's formatter.ContainerContext). */
export class ContainerContext {
  declare readonly goType: string;

  constructor(
    private readonly c: ContainerSummary,
    private readonly trunc: boolean,
    private readonly now: number,
  ) {
    Object.defineProperty(this, 'goType', { value: '*formatter.ContainerContext', enumerable: false });
  }

  get ID(): string {
    return this.trunc ? shortId(this.c.Id) : this.c.Id;
  }
  get Names(): string {
    return this.c.Names.map((n) => n.replace(/^\//, '')).join(',');
  }
  get Image(): string {
    if (!this.c.Image) return '<no image>';
    return this.trunc && /^sha256:[0-9a-f]{64}$/.test(this.c.Image) ? shortId(this.c.Image) : this.c.Image;
  }
  get Command(): string {
    return goQuote(this.trunc ? ellipsis(this.c.Command, 20) : this.c.Command);
  }
  get CreatedAt(): string {
    return goTime(this.c.Created);
  }
  get RunningFor(): string {
    return `${humanDuration(this.now - this.c.Created * 1000)} ago`;
  }
  get Ports(): string {
    return displayablePorts(this.c.Ports);
  }
  get State(): string {
    return this.c.State;
  }
  get Status(): string {
    return this.c.Status;
  }
  get Size(): string {
    const rw = humanSizeWithPrecision(this.c.SizeRw ?? 0, 3);
    return (this.c.SizeRootFs ?? 0) > 0 ? `${rw} (virtual ${humanSizeWithPrecision(this.c.SizeRootFs!, 3)})` : rw;
  }
  get Labels(): string {
    return Object.entries(this.c.Labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(',');
  }
  Label(name: string): string {
    return Object.prototype.hasOwnProperty.call(this.c.Labels ?? {}, name) ? this.c.Labels[name] : '';
  }
  get LocalVolumes(): string {
    return String(this.c.Mounts.filter((m) => m.Type === 'volume' && (m.Driver ?? 'local') === 'local').length);
  }
  get Mounts(): string {
    return this.c.Mounts.map((m) => {
      const name = m.Type === 'volume' ? m.Name ?? m.Source : m.Source;
      return this.trunc ? ellipsis(name, 15) : name;
    }).join(',');
  }
  get Networks(): string {
    return Object.keys(this.c.NetworkSettings.Networks).sort().join(',');
  }
  /** docker's MarshalJSON of a context: every field without arguments, as strings, keys sorted. */
  toJSON(): Record<string, string> {
    return marshal(this, ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status']);
  }
}

function marshal(o: object, fields: string[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f, (o as Record<string, string>)[f]]));
}

export const PS_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export function psFormat(o: { trunc: boolean; now?: number }): ListFormat<ContainerSummary> {
  const now = o.now ?? Date.now();
  return {
    defaultFormat: PS_FORMAT,
    headers: {
      ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE', Status: 'STATUS',
      Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Label: 'LABEL', LocalVolumes: 'LOCAL VOLUMES', Mounts: 'MOUNTS', Networks: 'NETWORKS',
    },
    context: (c) => new ContainerContext(c, o.trunc, now),
  };
}

/** One row of docker images: an image under one of its names. */
export interface ImageRow {
  image: ImageSummary;
  repository: string;
  tag: string;
  digest: string;
}

export class ImageContext {
  declare readonly goType: string;

  constructor(
    private readonly r: ImageRow,
    private readonly trunc: boolean,
    private readonly now: number,
  ) {
    Object.defineProperty(this, 'goType', { value: '*formatter.imageContext', enumerable: false });
  }

  get ID(): string {
    return this.trunc ? shortId(this.r.image.Id) : this.r.image.Id;
  }
  get Repository(): string {
    return this.r.repository;
  }
  get Tag(): string {
    return this.r.tag;
  }
  get Digest(): string {
    return this.r.digest;
  }
  get CreatedSince(): string {
    return this.r.image.Created ? `${humanDuration(this.now - this.r.image.Created * 1000)} ago` : 'N/A';
  }
  get CreatedAt(): string {
    return goTime(this.r.image.Created);
  }
  get Size(): string {
    return humanSizeWithPrecision(this.r.image.Size, 3);
  }
  get Containers(): string {
    return this.r.image.Containers < 0 ? 'N/A' : String(this.r.image.Containers);
  }
  get VirtualSize(): string {
    return this.Size;
  }
  get SharedSize(): string {
    return this.r.image.SharedSize < 0 ? 'N/A' : humanSizeWithPrecision(this.r.image.SharedSize, 3);
  }
  get UniqueSize(): string {
    return this.r.image.SharedSize < 0 ? 'N/A' : humanSizeWithPrecision(this.r.image.Size - this.r.image.SharedSize, 3);
  }
  toJSON(): Record<string, string> {
    return marshal(this, ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
  }
}

export function imagesFormat(o: { trunc: boolean; digests?: boolean; now?: number }): ListFormat<ImageRow> {
  const now = o.now ?? Date.now();
  return {
    defaultFormat: o.digests ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}' : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}',
    headers: {
      ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Containers: 'CONTAINERS',
      VirtualSize: 'VIRTUAL SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
    },
    context: (r) => new ImageContext(r, o.trunc, now),
  };
}

/** What docker stats shows of one container. */
export interface StatsRow {
  container: string;
  id: string;
  name: string;
  cpuPercent: number;
  memUsage: number;
  /** undefined: no limit (docker then shows the host's memory). */
  memLimit: number;
  pids: number;
  netRx?: number;
  netTx?: number;
  blockRead?: number;
  blockWrite?: number;
}

export class StatsContext {
  declare readonly goType: string;

  constructor(private readonly s: StatsRow) {
    Object.defineProperty(this, 'goType', { value: '*formatter.statsContext', enumerable: false });
  }

  get Container(): string {
    return this.s.container;
  }
  get Name(): string {
    return this.s.name.replace(/^\//, '');
  }
  get ID(): string {
    return this.s.id;
  }
  get CPUPerc(): string {
    return `${this.s.cpuPercent.toFixed(2)}%`;
  }
  get MemUsage(): string {
    return `${bytesSize(this.s.memUsage)} / ${bytesSize(this.s.memLimit)}`;
  }
  get MemPerc(): string {
    return `${(this.s.memLimit > 0 ? (this.s.memUsage / this.s.memLimit) * 100 : 0).toFixed(2)}%`;
  }
  get NetIO(): string {
    return `${humanSizeWithPrecision(this.s.netRx ?? 0, 3)} / ${humanSizeWithPrecision(this.s.netTx ?? 0, 3)}`;
  }
  get BlockIO(): string {
    return `${humanSizeWithPrecision(this.s.blockRead ?? 0, 3)} / ${humanSizeWithPrecision(this.s.blockWrite ?? 0, 3)}`;
  }
  get PIDs(): string {
    return String(this.s.pids);
  }
  toJSON(): Record<string, string> {
    return marshal(this, ['BlockIO', 'CPUPerc', 'Container', 'ID', 'MemPerc', 'MemUsage', 'Name', 'NetIO', 'PIDs']);
  }
}

export const STATS_FORMAT = {
  defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}',
  headers: { Container: 'CONTAINER', ID: 'CONTAINER ID', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' },
  context: (s: StatsRow) => new StatsContext(s),
} satisfies ListFormat<StatsRow>;

/**
 * Go's time.Time.String() of a time docker's CLI decoded from the daemon's RFC 3339 text
 * ("2026-12-06T23:34:18.123456789Z" -> "2026-12-06 23:34:18.123456789 +0000 UTC"): the fraction without
 * trailing zeros, Z as UTC, an offset the local zone has then under that zone's name, any other as Go's
 * fabricated zone (named by its offset, "+0100 +0100"). Not RFC 3339: the text as it is.
 */
export function goTimeOfRfc3339(s: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(s);
  if (!m) return s;
  const frac = (m[3] ?? '').slice(0, 9).replace(/0+$/, '');
  const time = `${m[1]} ${m[2]}${frac ? `.${frac}` : ''}`;
  if (m[4].toUpperCase() === 'Z') return `${time} +0000 UTC`;
  const offset = m[4].replace(':', '');
  const minutes = (offset[0] === '-' ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(3)));
  const local = goTime(Date.parse(s) / 1000);
  // The local zone at that instant has this offset: Go names it as the local zone.
  if (-new Date(Date.parse(s)).getTimezoneOffset() === minutes) return `${time} ${local.split(' ').slice(2).join(' ')}`;
  return `${time} ${offset} ${offset}`;
}

/** docker's Labels column of networks and volumes: k=v joined by commas ("" for none), keys sorted. */
function joinLabels(labels: Record<string, string> | null | undefined): string {
  return Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(',');
}

const labelOf = (labels: Record<string, string> | null | undefined, name: string) => (labels && Object.prototype.hasOwnProperty.call(labels, name) ? labels[name] : '');

/** A row of docker network ls as its templates see it (docker's formatter networkContext). */
export class NetworkContext {
  declare readonly goType: string;

  constructor(
    private readonly n: NetworkInspect,
    private readonly trunc: boolean,
  ) {
    Object.defineProperty(this, 'goType', { value: '*network.networkContext', enumerable: false });
  }

  get ID(): string {
    return this.trunc ? shortId(this.n.Id) : this.n.Id;
  }
  get Name(): string {
    return this.n.Name;
  }
  get Driver(): string {
    return this.n.Driver;
  }
  get Scope(): string {
    return this.n.Scope;
  }
  get IPv6(): string {
    return String(this.n.EnableIPv6);
  }
  get Internal(): string {
    return String(this.n.Internal);
  }
  get Labels(): string {
    return joinLabels(this.n.Labels);
  }
  Label(name: string): string {
    return labelOf(this.n.Labels, name);
  }
  get CreatedAt(): string {
    return goTimeOfRfc3339(this.n.Created);
  }
  toJSON(): Record<string, string> {
    return marshal(this, ['CreatedAt', 'Driver', 'ID', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']);
  }
}

export const NETWORK_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

export function networkFormat(o: { trunc: boolean }): ListFormat<NetworkInspect> {
  return {
    defaultFormat: NETWORK_FORMAT,
    headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', Label: 'LABEL', CreatedAt: 'CREATED AT' },
    context: (n) => new NetworkContext(n, o.trunc),
  };
}

/** What docker system df -v would add to a volume: how many containers use it and its size. */
export interface VolumeUsage {
  RefCount: number;
  Size: number;
}

/**
 * A row of docker volume ls (docker's formatter volumeContext). Links and Size are "N/A" unless usage was
 * computed; Availability, Group and Status belong to cluster volumes, "N/A" for local ones as in docker.
 */
export class VolumeContext {
  declare readonly goType: string;

  constructor(
    private readonly v: VolumeInspect,
    private readonly usage?: VolumeUsage,
  ) {
    Object.defineProperty(this, 'goType', { value: '*formatter.volumeContext', enumerable: false });
  }

  get Name(): string {
    return this.v.Name;
  }
  get Driver(): string {
    return this.v.Driver;
  }
  get Scope(): string {
    return this.v.Scope;
  }
  get Mountpoint(): string {
    return this.v.Mountpoint;
  }
  get Labels(): string {
    return joinLabels(this.v.Labels);
  }
  Label(name: string): string {
    return labelOf(this.v.Labels, name);
  }
  get Links(): string {
    return this.usage ? String(this.usage.RefCount) : 'N/A';
  }
  get Size(): string {
    return this.usage ? humanSize(this.usage.Size) : 'N/A';
  }
  get Availability(): string {
    return 'N/A';
  }
  get Group(): string {
    return 'N/A';
  }
  get Status(): string {
    return 'N/A';
  }
  toJSON(): Record<string, string> {
    return marshal(this, ['Availability', 'Driver', 'Group', 'Labels', 'Links', 'Mountpoint', 'Name', 'Scope', 'Size', 'Status']);
  }
}

export const VOLUME_FORMAT = 'table {{.Driver}}\t{{.Name}}';

export function volumeFormat(o: { usage?: (v: VolumeInspect) => VolumeUsage | undefined } = {}): ListFormat<VolumeInspect> {
  return {
    defaultFormat: VOLUME_FORMAT,
    headers: {
      Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Label: 'LABEL', Links: 'LINKS', Size: 'SIZE',
      Availability: 'AVAILABILITY', Group: 'GROUP', Status: 'STATUS',
    },
    context: (v) => new VolumeContext(v, o.usage?.(v)),
  };
}
