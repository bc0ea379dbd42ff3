// Volumes as docker's local driver keeps them: <root>/volumes/<name>/_data holds the content and
// <root>/volumes/<name>/volume.json what it was made with (driver options, labels, whether anonymous).
// A name is never a path: docker's pattern, checked before it is joined to anything.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listRecords, EngineError, type ContainerRecord } from './containers.js';
import { filterObjects, type ObjectFacts } from './filters.js';
import { UsageError } from '../errors.js';
import { recordEvent } from './events.js';
import { hostTool } from '../host-tools.js';

export interface VolumeInspect {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
}

export interface VolumeCreateOptions {
  /** Default: a random 64-hex name, and the volume is anonymous (as docker's API makes it). */
  name?: string;
  /** Only "local", as docker's default driver. */
  driver?: string;
  /** The local driver's --opt: type (tmpfs, or none with o=bind), device, o. */
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
  /** Made for one container (-v /path, VOLUME in the image): docker's com.docker.volume.anonymous label. Default: no name given. */
  anonymous?: boolean;
}

export type VolumeFilters = Partial<Record<'name' | 'label' | 'driver' | 'dangling', string | string[]>>;

export interface VolumePruneResult {
  VolumesDeleted: string[];
  SpaceReclaimed: number;
}

interface VolumeMeta {
  driver: string;
  options: Record<string, string>;
  labels: Record<string, string>;
  created: string;
}

export const ANON_LABEL = 'com.docker.volume.anonymous';
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function volumesDir(root: string): string {
  return join(root, 'volumes');
}

/** docker's check and words: a name that is not one is refused before it reaches a path. */
export function checkVolumeName(name: string): string {
  if (!NAME.test(name)) {
    throw new UsageError(`${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  return name;
}

function dirOf(root: string, name: string): string {
  return join(volumesDir(root), checkVolumeName(name));
}

function readMeta(root: string, name: string): VolumeMeta | undefined {
  try {
    return JSON.parse(readFileSync(join(dirOf(root, name), 'volume.json'), 'utf8')) as VolumeMeta;
  } catch {
    return undefined;
  }
}

/** The volume's content: _data, or the directory itself for volumes made before volume.json existed. */
export function mountpoint(root: string, name: string): string {
  const dir = dirOf(root, name);
  return existsSync(join(dir, 'volume.json')) ? join(dir, '_data') : dir;
}

export function volumeExists(root: string, name: string): boolean {
  try {
    return lstatSync(dirOf(root, name)).isDirectory();
  } catch {
    return false;
  }
}

function parseOpts(driver: string, opts: Record<string, string>): void {
  if (driver !== 'local') throw new UsageError(`create volume: driver ${JSON.stringify(driver)} is not supported (local)`);
  for (const k of Object.keys(opts)) if (!['type', 'device', 'o'].includes(k)) throw new UsageError(`invalid option key: ${JSON.stringify(k)}`);
  const t = opts.type;
  if (t === undefined) {
    if (opts.device || opts.o) throw new UsageError('missing required option: "type"');
    return;
  }
  if (t === 'tmpfs') return;
  if (t === 'none' && /(^|,)r?bind(,|$)/.test(opts.o ?? '') && opts.device?.startsWith('/')) return;
  throw new UsageError(`volume type ${JSON.stringify(t)} is not supported (tmpfs, or none with o=bind and an absolute device)`);
}

/** docker volume create: an existing volume of that name is returned as it is (as docker does). */
export function createVolume(root: string, o: VolumeCreateOptions = {}): VolumeInspect {
  const name = o.name ?? randomBytes(32).toString('hex');
  checkVolumeName(name);
  const driver = o.driver ?? 'local';
  const opts = o.driverOpts ?? {};
  parseOpts(driver, opts);
  if (volumeExists(root, name)) return inspectVolume(root, name);
  const dir = dirOf(root, name);
  mkdirSync(volumesDir(root), { recursive: true, mode: 0o701 });
  // Made aside and renamed in: a half-made volume is never seen, two creates of one name make one.
  const tmp = join(volumesDir(root), `.${name}.${process.pid}`);
  mkdirSync(join(tmp, '_data'), { recursive: true, mode: 0o755 });
  const meta: VolumeMeta = { driver, options: opts, labels: { ...((o.anonymous ?? o.name === undefined) ? { [ANON_LABEL]: '' } : {}), ...(o.labels ?? {}) }, created: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }; // docker's RFC 3339, whole seconds
  writeFileSync(join(tmp, 'volume.json'), JSON.stringify(meta));
  try {
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!volumeExists(root, name)) throw e;
  }
  return inspectVolume(root, name);
}

export function findVolume(root: string, name: string): VolumeInspect | undefined {
  if (!NAME.test(name) || !volumeExists(root, name)) return undefined;
  const meta = readMeta(root, name);
  const dir = dirOf(root, name);
  return {
    Name: name,
    Driver: meta?.driver ?? 'local',
    Mountpoint: mountpoint(root, name),
    CreatedAt: meta?.created ?? lstatSync(dir).birthtime.toISOString(),
    Labels: meta?.labels ?? {},
    Options: meta?.options ?? {},
    Scope: 'local',
  };
}

export function inspectVolume(root: string, name: string): VolumeInspect {
  const v = findVolume(root, name);
  if (!v) throw new EngineError(`get ${name}: no such volume`, 'ERR_NO_SUCH_VOLUME');
  return v;
}

/** The named volumes a container's -v and --mount refer to. */
export function volumesOf(r: Pick<ContainerRecord, 'Options'>): string[] {
  const out: string[] = [];
  for (const v of r.Options.volumes) {
    const src = v.split(':')[0];
    if (v.includes(':') && NAME.test(src)) out.push(src);
  }
  for (const m of r.Options.mounts) {
    const kv = parseMountSpec(m);
    if ((kv.type ?? 'volume') === 'volume' && kv.source) out.push(kv.source);
  }
  return out;
}

/** The containers (running or not) that use a volume: docker refuses to remove it meanwhile. */
export function volumeUsers(root: string, name: string): ContainerRecord[] {
  return listRecords(root).filter((r) => volumesOf(r).includes(name));
}

export function listVolumes(root: string, o: { filters?: VolumeFilters } = {}): VolumeInspect[] {
  let names: string[] = [];
  try {
    names = readdirSync(volumesDir(root)).filter((n) => NAME.test(n) && volumeExists(root, n));
  } catch {
    // none yet
  }
  const used = new Set(listRecords(root).flatMap(volumesOf));
  const all = names.map((n) => findVolume(root, n)!).sort((a, b) => a.Name.localeCompare(b.Name));
  return filterObjects('volume', all.map((v): [VolumeInspect, ObjectFacts] => [v, { name: v.Name, driver: v.Driver, labels: v.Labels, scope: v.Scope, inUse: used.has(v.Name) }]), o.filters);
}

/** docker volume rm: refused while a container uses it, even with force (as docker does). */
export function removeVolume(root: string, name: string, o: { force?: boolean } = {}): void {
  if (!findVolume(root, name)) {
    if (o.force) return;
    throw new EngineError(`No such volume: ${name}`, 'ERR_NO_SUCH_VOLUME');
  }
  const users = volumeUsers(root, name);
  if (users.length) throw new EngineError(`remove ${name}: volume is in use - [${users.map((u) => u.Id).join(', ')}]`, 'ERR_CONFLICT');
  const dir = dirOf(root, name);
  // Out of sight first (renamed), then its content: a crash between leaves no half volume under its name.
  const gone = join(volumesDir(root), `.rm.${name}.${process.pid}`);
  renameSync(dir, gone);
  rmSync(gone, { recursive: true, force: true });
}

/** What docker counts as a volume's size: its files' bytes, a hardlinked file once, directories not at all. */
function du(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = lstatSync(p, { throwIfNoEntry: false });
        if (st && !seen.has(`${st.dev}:${st.ino}`)) {
          seen.add(`${st.dev}:${st.ino}`);
          total += st.size;
        }
      }
    }
  };
  walk(dir);
  return total;
}

/** docker volume prune (API >= 1.42): unused anonymous volumes, or every unused one with all. */
export function pruneVolumes(root: string, o: { all?: boolean; filters?: Pick<VolumeFilters, 'label'> } = {}): VolumePruneResult {
  const out: VolumePruneResult = { VolumesDeleted: [], SpaceReclaimed: 0 };
  for (const v of listVolumes(root, { filters: { ...o.filters, dangling: 'true' } })) {
    if (!o.all && !(ANON_LABEL in v.Labels)) continue;
    const size = du(v.Mountpoint);
    try {
      removeVolume(root, v.Name);
    } catch {
      continue; // taken by a container meanwhile
    }
    out.VolumesDeleted.push(v.Name);
    out.SpaceReclaimed += size;
  }
  return out;
}

// --- mounts ---

/**
 * docker's --mount value: comma-separated key=value fields, a field in double quotes may hold commas;
 * aliases folded (src→source, dst/destination→target, ro→readonly); volume-opt may repeat.
 */
export interface MountSpec {
  type?: string;
  source?: string;
  target?: string;
  readonly?: boolean;
  volumeOpts: Record<string, string>;
  volumeNocopy?: boolean;
  tmpfsSize?: string;
  tmpfsMode?: string;
  bindPropagation?: string;
}

function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (const c of s) {
    if (c === '"') q = !q;
    else if (c === ',' && !q) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function bool(v: string | undefined, m: string, k: string): boolean {
  if (v === undefined || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new UsageError(`invalid --mount ${JSON.stringify(m)}: invalid value for ${k}: ${v}`);
}

export function parseMountSpec(m: string): MountSpec {
  const out: MountSpec = { volumeOpts: {} };
  for (const f of csvFields(m)) {
    if (!f) continue;
    const eq = f.indexOf('=');
    const k = (eq < 0 ? f : f.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? undefined : f.slice(eq + 1);
    const need = () => {
      if (v === undefined) throw new UsageError(`invalid --mount ${JSON.stringify(m)}: invalid field '${f}' must be a key=value pair`);
      return v;
    };
    switch (k) {
      case 'type': out.type = need(); break;
      case 'source': case 'src': out.source = need(); break;
      case 'target': case 'dst': case 'destination': out.target = need(); break;
      case 'readonly': case 'ro': out.readonly = bool(v, m, k); break;
      case 'volume-nocopy': out.volumeNocopy = bool(v, m, k); break;
      case 'volume-opt': {
        const [ok, ov] = need().split(/=(.*)/s);
        out.volumeOpts[ok] = ov ?? '';
        break;
      }
      case 'volume-driver': if (need() !== 'local') throw new UsageError(`invalid --mount ${JSON.stringify(m)}: volume driver ${v} is not supported (local)`); break;
      case 'tmpfs-size': out.tmpfsSize = need(); break;
      case 'tmpfs-mode': out.tmpfsMode = need(); break;
      case 'bind-propagation': out.bindPropagation = need(); break;
      case 'consistency': need(); break; // docker accepts and ignores it on Linux
      default: throw new UsageError(`invalid --mount ${JSON.stringify(m)}: unexpected key '${k}'`);
    }
  }
  return out;
}

/**
 * path inside the tree at rootDir, with symlinks followed as the container would see them (an
 * absolute link or a ".." never leaves rootDir): an image cannot point a volume's seed at the host.
 */
export function resolveInRoot(rootDir: string, path: string): string {
  let parts = path.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === '..') {
      done.pop();
      continue;
    }
    const full = join(rootDir, ...done, p);
    let st;
    try {
      st = lstatSync(full);
    } catch {
      return join(rootDir, ...done, p, ...parts.filter((x) => x !== '..'));
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) throw new Error(`resolve ${path} in ${rootDir}: too many levels of symbolic links`);
      const target = readlinkSync(full);
      if (target.startsWith('/')) done.length = 0;
      parts = [...target.split('/').filter((x) => x && x !== '.'), ...parts];
      continue;
    }
    done.push(p);
  }
  return join(rootDir, ...done);
}

/**
 * docker's copy-up: a new (empty) volume mounted where the image has content gets that content, with
 * its owners, modes and the directory's own attributes. Only into an empty volume, never over content.
 */
export function seedVolume(rootfs: string, path: string, data: string): void {
  let entries: string[];
  try {
    entries = readdirSync(data);
  } catch {
    return;
  }
  if (entries.length) return;
  const src = resolveInRoot(rootfs, path);
  let st;
  try {
    st = lstatSync(src);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  // cp -a: no symlink is followed inside (they are copied as links), hardlinks stay hardlinks.
  try {
    execFileSync(hostTool('cp'), ['-a', '--', `${src}/.`, `${data}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`copy ${src} into volume ${data}: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
  }
}

/**
 * At creation: every anonymous volume the container will have gets its name, once (kept in its options,
 * so a restart mounts the same ones): -v /path, --mount type=volume without source, and each VOLUME of
 * the image that no mount of the user's covers.
 */
export function nameAnonymousVolumes<T extends Pick<ContainerRecord['Options'], 'volumes' | 'mounts' | 'tmpfs'>>(root: string, o: T, imageVolumes: Record<string, unknown> | null | undefined): T {
  const anon = () => createVolume(root, { anonymous: true }).Name;
  const volumes = o.volumes.map((v) => (!v.includes(':') && v.startsWith('/') ? `${anon()}:${v}` : v));
  const mounts = o.mounts.map((m) => {
    const kv = parseMountSpec(m);
    return (kv.type ?? 'volume') === 'volume' && !kv.source ? `${m},source=${anon()}` : m;
  });
  const clean = (p: string) => '/' + p.split('/').filter(Boolean).join('/');
  const covered = new Set([...volumes.map((v) => v.split(':')[1]), ...mounts.map((m) => parseMountSpec(m).target ?? ''), ...o.tmpfs.map((t) => t.split(':')[0])].map(clean));
  for (const dst of Object.keys(imageVolumes ?? {})) if (!covered.has(clean(dst))) volumes.push(`${anon()}:${clean(dst)}`);
  return { ...o, volumes, mounts };
}

/** docker rm -v: the container's anonymous volumes that no other container uses. */
export function removeAnonymousVolumes(root: string, r: Pick<ContainerRecord, 'Options' | 'Id'>): void {
  for (const name of volumesOf(r)) {
    const v = findVolume(root, name);
    if (!v || !(ANON_LABEL in v.Labels)) continue;
    if (volumeUsers(root, name).some((u) => u.Id !== r.Id)) continue;
    try {
      removeVolume(root, name);
    } catch {
      // taken meanwhile
    }
  }
}

/** The Engine's volumes: docker's volume API, typed. */
export class Volumes {
  constructor(readonly root: string) {}

  create(o: VolumeCreateOptions = {}): VolumeInspect {
    const v = createVolume(this.root, o);
    recordEvent(this.root, 'volume', 'create', v.Name, { driver: v.Driver });
    return v;
  }

  list(o: { filters?: VolumeFilters } = {}): VolumeInspect[] {
    return listVolumes(this.root, o);
  }

  inspect(name: string): VolumeInspect {
    return inspectVolume(this.root, name);
  }

  remove(name: string, o: { force?: boolean } = {}): void {
    const had = volumeExists(this.root, name);
    removeVolume(this.root, name, o);
    if (had) recordEvent(this.root, 'volume', 'destroy', name, { driver: 'local' });
  }

  prune(o: { all?: boolean; filters?: Pick<VolumeFilters, 'label'> } = {}): VolumePruneResult {
    const r = pruneVolumes(this.root, o);
    for (const name of r.VolumesDeleted) recordEvent(this.root, 'volume', 'destroy', name, { driver: 'local' });
    return r;
  }
}

