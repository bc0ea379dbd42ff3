// docker run semantics → an OCI spec: the image's Entrypoint/Cmd/Env/WorkingDir/User, then the flags.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { allCaps, DEFAULT_CAPS, normalizeCap } from '../runtime/caps.js';
import { defaultMounts, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../runtime/default-spec.js';
import { parseUlimit } from '../runtime/rlimits.js';
import { defaultSeccompProfile } from '../runtime/seccomp-default.js';
import type { OciSeccomp } from '../runtime/seccomp.js';
import { OCI_VERSION, type OciDevice, type OciMount, type OciSpec } from '../runtime/spec.js';
import { DOCKER_DEVICE_RULES, PRIVILEGED_DEVICE_RULES } from '../runtime/cgroup/devices.js';
import { UsageError } from '../errors.js';
import type { Snapshot } from '../images/snapshot.js';
import { isRootless, rootlessMappings } from '../runtime/rootless.js';
import { parseBytes, securityOpts, type RunOptions, type SecurityOpts } from './options.js';
import { checkVolumeName, createVolume, findVolume, parseMountSpec, seedVolume, type VolumeCreateOptions } from './volumes.js';

export interface ImageConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A file of the container's filesystem by its path relative to "/" (e.g. "etc/passwd"). */
export type RootReader = (rel: string) => string | undefined;

/** Reads from a directory that is the container's root (a mounted rootfs, /proc/PID/root). */
export function dirReader(dir: string): RootReader {
  return (rel) => {
    try {
      return readFileSync(join(dir, rel), 'utf8');
    } catch {
      return undefined;
    }
  };
}

/** "name", "uid", "name:group", "uid:gid" → numeric ids, looked up in the image's /etc/passwd and /etc/group. */
export function resolveUser(read: RootReader, user: string | undefined): { uid: number; gid: number; additionalGids: number[] } {
  if (!user) return { uid: 0, gid: 0, additionalGids: [] };
  const [u, g] = user.split(':');
  const table = (file: string) => (read(file) ?? '').split('\n').filter(Boolean).map((l) => l.split(':'));
  const passwd = table('etc/passwd');
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    gid = Number(passwd.find((p) => p[2] === u)?.[3] ?? 0);
  } else {
    const p = passwd.find((x) => x[0] === u);
    if (!p) throw new UsageError(`unable to find user ${u}: no matching entries in passwd file`);
    uid = Number(p[2]);
    gid = Number(p[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const e = table('etc/group').find((x) => x[0] === g);
      if (!e) throw new UsageError(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(e[2]);
    }
  }
  const name = passwd.find((p) => Number(p[2]) === uid)?.[0];
  const additionalGids = name ? table('etc/group').filter((x) => x[3]?.split(',').includes(name)).map((x) => Number(x[2])) : [];
  return { uid, gid, additionalGids };
}

function mergeEnv(base: string[], extra: string[]): string[] {
  const out = [...base];
  for (const e of extra) {
    const kv = e.includes('=') ? e : process.env[e] !== undefined ? `${e}=${process.env[e]}` : undefined;
    if (!kv) continue;
    const k = kv.slice(0, kv.indexOf('=') + 1);
    const i = out.findIndex((x) => x.startsWith(k));
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}

/**
 * docker's mount options, which this follows exactly: a tmpfs (--tmpfs, --mount type=tmpfs) is
 * noexec,nosuid,nodev and rprivate unless the user's own options say otherwise (the later option wins, as
 * with docker's MergeTmpfsOptions), as are /dev/shm and /dev/mqueue; /proc and /sys are nosuid,noexec,nodev.
 * Binds and volumes (-v, --mount type=bind|volume) and the rootfs are not nodev with docker either: what
 * keeps a device node in them (made there, or shipped in an image) from being opened is the device cgroup
 * (DOCKER_DEVICE_RULES), not the mount. /dev itself cannot be nodev: its standard nodes live there.
 */
function tmpfsOptions(user: string[]): string[] {
  return ['noexec', 'nosuid', 'nodev', 'rprivate', ...user];
}

const PROPAGATION = ['shared', 'slave', 'private', 'rshared', 'rslave', 'rprivate'];

/** A named volume at dst: its content bound in (seeded from the image first), or its tmpfs or bind as made. */
function volumeMount(root: string, name: string, dst: string, ro: boolean, rootfs: string | undefined, o: { create?: VolumeCreateOptions; nocopy?: boolean; propagation?: string } = {}): OciMount {
  checkVolumeName(name);
  const v = findVolume(root, name) ?? createVolume(root, { ...o.create, name });
  const t = v.Options.type;
  if (t === 'tmpfs') return { destination: dst, type: 'tmpfs', source: v.Options.device || 'tmpfs', options: tmpfsOptions([...(v.Options.o ? v.Options.o.split(',') : []), ...(ro ? ['ro'] : [])]) };
  if (t === 'none') return { destination: dst, type: 'bind', source: v.Options.device, options: ['rbind', ro ? 'ro' : 'rw', o.propagation ?? 'rprivate'] };
  if (rootfs && !o.nocopy) seedVolume(rootfs, dst, v.Mountpoint);
  return { destination: dst, type: 'bind', source: v.Mountpoint, options: ['rbind', ro ? 'ro' : 'rw', o.propagation ?? 'rprivate'] };
}

/**
 * -v host:ctr[:opts] (a missing host directory is made, as docker does), -v name:ctr (a named volume),
 * -v /ctr (an anonymous one), --mount type=bind|volume|tmpfs with docker's keys, --tmpfs /path[:opts].
 * rootfs: the image's content, which a new volume is seeded with (undefined: not visible here, no seed).
 */
function userMounts(o: RunOptions, volumesDir: string, rootfs?: string): OciMount[] {
  const root = dirname(volumesDir);
  const out: OciMount[] = [];
  for (const v of o.volumes) {
    const parts = v.split(':');
    if (parts.length === 1 && isAbsolute(v)) {
      out.push(volumeMount(root, createVolume(root, { anonymous: true }).Name, v, false, rootfs));
      continue;
    }
    if (parts.length < 2 || parts.length > 3) throw new UsageError(`invalid volume ${JSON.stringify(v)}: want HOST:CONTAINER[:ro|rw]`);
    const [src, dst, mode = 'rw'] = parts;
    if (!isAbsolute(dst)) throw new UsageError(`invalid volume ${JSON.stringify(v)}: the container path must be absolute`);
    const flags = mode.split(',');
    if (flags.some((f) => !['ro', 'rw', 'z', 'Z', 'nocopy', ...PROPAGATION].includes(f))) throw new UsageError(`invalid volume ${JSON.stringify(v)}: invalid mode: ${mode}`);
    const ro = flags.includes('ro');
    const propagation = flags.find((f) => PROPAGATION.includes(f));
    if (src.startsWith('/') || src.startsWith('.')) {
      const host = resolve(src);
      // docker makes a missing bind source (as root, mode 0755) for -v, though not for --mount.
      if (!existsSync(host)) mkdirSync(host, { recursive: true, mode: 0o755 });
      out.push({ destination: dst, type: 'bind', source: host, options: ['rbind', ro ? 'ro' : 'rw', propagation ?? 'rprivate'] });
    } else out.push(volumeMount(root, src, dst, ro, rootfs, { nocopy: flags.includes('nocopy'), propagation }));
  }
  for (const m of o.mounts) {
    const kv = parseMountSpec(m);
    const type = kv.type ?? 'volume';
    const dst = kv.target;
    if (!dst || !isAbsolute(dst)) throw new UsageError(`invalid --mount ${JSON.stringify(m)}: target must be an absolute path`);
    const ro = kv.readonly === true;
    if (kv.bindPropagation !== undefined && (type !== 'bind' || !PROPAGATION.includes(kv.bindPropagation))) throw new UsageError(`invalid --mount ${JSON.stringify(m)}: invalid bind-propagation ${kv.bindPropagation}`);
    if (Object.keys(kv.volumeOpts).length && type !== 'volume') throw new UsageError(`invalid --mount ${JSON.stringify(m)}: cannot mix 'volume-*' options with mount type '${type}'`);
    if ((kv.tmpfsSize || kv.tmpfsMode) && type !== 'tmpfs') throw new UsageError(`invalid --mount ${JSON.stringify(m)}: cannot mix 'tmpfs-*' options with mount type '${type}'`);
    if (type === 'tmpfs') {
      if (kv.source) throw new UsageError(`invalid --mount ${JSON.stringify(m)}: source is not supported for tmpfs mounts`);
      if (kv.tmpfsMode !== undefined && !/^[0-7]{1,4}$/.test(kv.tmpfsMode)) throw new UsageError(`invalid --mount ${JSON.stringify(m)}: invalid tmpfs-mode ${kv.tmpfsMode}`);
      const size = kv.tmpfsSize !== undefined ? String(parseBytes(kv.tmpfsSize, 'tmpfs-size')) : undefined;
      const extra = [...(ro ? ['ro'] : []), ...(size ? [`size=${size}`] : []), ...(kv.tmpfsMode ? [`mode=${kv.tmpfsMode}`] : [])];
      out.push({ destination: dst, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(extra) });
    } else if (type === 'bind') {
      if (!kv.source) throw new UsageError(`invalid --mount ${JSON.stringify(m)}: source is required when specifying bind mounts`);
      const host = resolve(kv.source);
      if (!existsSync(host)) throw new UsageError(`invalid mount config for type "bind": bind source path does not exist: ${host}`);
      out.push({ destination: dst, type: 'bind', source: host, options: ['rbind', ro ? 'ro' : 'rw', kv.bindPropagation ?? 'rprivate'] });
    } else if (type === 'volume') {
      const name = kv.source ?? createVolume(root, { anonymous: true }).Name;
      out.push(volumeMount(root, name, dst, ro, rootfs, { nocopy: kv.volumeNocopy, create: { driverOpts: kv.volumeOpts } }));
    } else throw new UsageError(`invalid --mount ${JSON.stringify(m)}: type must be bind, volume or tmpfs`);
  }
  for (const t of o.tmpfs) {
    const [dst, opts] = t.split(/:(.*)/s);
    if (!isAbsolute(dst)) throw new UsageError(`invalid --tmpfs ${JSON.stringify(t)}: the path must be absolute`);
    out.push({ destination: dst, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(opts ? opts.split(',') : []) });
  }
  return out;
}

/** Whether the kernel enforces AppArmor here (dockerd's apparmor.IsEnabled). */
function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

/** apparmor=PROFILE: the process execs into it where AppArmor is enabled, as under dockerd (which ignores it elsewhere). */
function apparmorFor(sec: SecurityOpts): string | undefined {
  return sec.apparmor && sec.apparmor !== 'unconfined' && apparmorEnabled() ? sec.apparmor : undefined;
}

function seccompFor(o: RunOptions, sec: SecurityOpts, caps: string[]): OciSeccomp | undefined {
  if (sec.seccomp === 'unconfined') return undefined;
  if (sec.seccomp !== undefined) {
    try {
      return JSON.parse(readFileSync(sec.seccomp, 'utf8')) as OciSeccomp;
    } catch (e) {
      throw new UsageError(`--security-opt seccomp=${sec.seccomp}: ${(e as Error).message}`);
    }
  }
  return o.privileged ? undefined : defaultSeccompProfile(caps);
}

// Directories runc's HostDevices leaves out of a privileged container's /dev: its own mounts and fds.
const NOT_HOST_DEVICES = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every char and block node under the host's /dev, with its mode and owner, as docker --privileged gives them. */
function hostDevices(dir = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!NOT_HOST_DEVICES.has(e.name)) out.push(...hostDevices(path));
      continue;
    }
    // /dev/console is the container's own terminal (or none), never the host's.
    if (e.name === 'console' || !(e.isCharacterDevice() || e.isBlockDevice())) continue;
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    const dev = BigInt(st.rdev); // glibc's major() and minor()
    const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n));
    const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n));
    out.push({ path, type: e.isBlockDevice() ? 'b' : 'c', major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  }
  return out;
}

export interface SpecInputs {
  id: string;
  snapshot: Pick<Snapshot, 'rootfs' | 'rootMount' | 'readFile'>;
  image: ImageConfig;
  opts: RunOptions;
  /** Where the container's generated /etc/hosts, /etc/hostname and /etc/resolv.conf live. */
  etcDir?: string;
  volumesDir: string;
}

export function buildSpec({ id, snapshot, image, opts: o, etcDir, volumesDir }: SpecInputs): OciSpec {
  const entrypoint = o.entrypoint !== undefined ? (o.entrypoint ? [o.entrypoint] : []) : image.Entrypoint ?? [];
  const cmd = o.cmd.length ? o.cmd : o.entrypoint !== undefined ? [] : image.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new UsageError('no command specified: the image has no Entrypoint or Cmd');
  const sec = securityOpts(o);
  const hostname = o.hostname ?? id.slice(0, 12);
  const env = mergeEnv([DEFAULT_PATH, `HOSTNAME=${hostname}`, ...(o.tty ? ['TERM=xterm'] : [])], [...(image.Env ?? []), ...o.env]);
  let caps = o.privileged ? allCaps() : [...DEFAULT_CAPS];
  // Drops first, then adds: "--cap-drop ALL --cap-add X" leaves exactly X, as with docker.
  for (const c of o.capDrop) caps = c.toUpperCase() === 'ALL' ? [] : caps.filter((x) => x !== normalizeCap(c));
  for (const c of o.capAdd) caps = c.toUpperCase() === 'ALL' ? allCaps() : [...new Set([...caps, normalizeCap(c)])];
  const user = resolveUser(snapshot.readFile, o.user ?? image.User);
  const mounts: OciMount[] = [...(snapshot.rootMount ? [snapshot.rootMount] : []), ...defaultMounts()].map((m) =>
    m.type === 'cgroup' || m.type === 'sysfs'
      ? { ...m, options: [...(m.options ?? []).filter((x) => x !== 'ro'), o.privileged ? 'rw' : 'ro'] }
      : m.type === 'proc'
        ? { ...m, options: ['nosuid', 'noexec', 'nodev'] } // docker's /proc
        : m,
  );
  if (o.network === 'host') mounts.splice(mounts.findIndex((m) => m.type === 'sysfs'), 1, { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  if (etcDir) {
    for (const f of ['hosts', 'hostname', 'resolv.conf']) {
      if (existsSync(join(etcDir, f))) mounts.push({ destination: `/etc/${f}`, type: 'bind', source: join(etcDir, f), options: ['rbind', 'rprivate'] });
    }
  }
  // The merged rootfs is visible here as root only (rootless, the container mounts it itself).
  mounts.push(...userMounts(o, volumesDir, snapshot.rootMount ? undefined : snapshot.rootfs));
  const namespaces: NonNullable<OciSpec['linux']>['namespaces'] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  // container:NAME joins the other's namespace (by path, added by the caller); host shares ours.
  if (o.network !== 'host' && o.network !== 'container') namespaces.push({ type: 'network' });
  const cpuPeriod = o.cpus !== undefined ? 100000 : o.cpuPeriod;
  const cpuQuota = o.cpus !== undefined ? Math.round(o.cpus * 100000) : o.cpuQuota;
  const resources: NonNullable<NonNullable<OciSpec['linux']>['resources']> = {};
  if (o.memory !== undefined) resources.memory = { limit: o.memory, ...(o.memorySwap !== undefined ? { swap: o.memorySwap } : { swap: o.memory * 2 }) };
  if (cpuQuota !== undefined || cpuPeriod !== undefined || o.cpuShares !== undefined || o.cpusetCpus) {
    resources.cpu = { quota: cpuQuota, period: cpuPeriod, shares: o.cpuShares, cpus: o.cpusetCpus };
  }
  if (o.pidsLimit !== undefined) resources.pids = { limit: o.pidsLimit };
  // docker's device policy: deny all but the standard nodes (runc adds mknod of any node, ptys, tun);
  // --privileged allows every device and gets the host's nodes (as docker does, not in a user namespace).
  resources.devices = (o.privileged ? PRIVILEGED_DEVICE_RULES : DOCKER_DEVICE_RULES).map((r) => ({ ...r }));
  const sysctl = Object.fromEntries(
    o.sysctls.map((s) => {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new UsageError(`invalid --sysctl ${JSON.stringify(s)}: want KEY=VALUE`);
      return [s.slice(0, eq), s.slice(eq + 1)];
    }),
  );
  const rlimits = o.ulimits.map((u) => {
    let p;
    try {
      p = parseUlimit(u);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const n = (b: bigint) => (b >= 1n << 63n ? 2 ** 64 - 1 : Number(b));
    return { type: p.type, soft: n(p.soft), hard: n(p.hard) };
  });
  const rootless = isRootless() ? rootlessMappings() : undefined;
  if (rootless) {
    namespaces.push({ type: 'user' });
    if (!rootless.full && (user.uid !== 0 || user.gid !== 0)) {
      throw new UsageError(`cannot run as ${o.user ?? image.User} without root: only your own id is mapped into the container (${rootless.limitation})`);
    }
  }
  const cwd = o.workdir ?? (image.WorkingDir || '/');
  if (!cwd.startsWith('/')) throw new UsageError(`invalid working directory ${JSON.stringify(cwd)}: it must be absolute`);
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: o.tty,
      user,
      args,
      env,
      cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      noNewPrivileges: sec.noNewPrivileges,
      apparmorProfile: apparmorFor(sec),
      rlimits: rlimits.length ? rlimits : undefined,
    },
    root: { path: snapshot.rootfs, readonly: o.readOnly },
    hostname,
    mounts,
    annotations: { 'run.tsbox.init': o.init ? 'true' : 'false' },
    linux: {
      namespaces,
      resources: Object.keys(resources).length ? resources : undefined,
      sysctl: Object.keys(sysctl).length ? sysctl : undefined,
      devices: o.privileged && !rootless ? hostDevices() : undefined,
      seccomp: seccompFor(o, sec, caps),
      maskedPaths: o.privileged ? [] : DEFAULT_MASKED_PATHS,
      readonlyPaths: o.privileged ? [] : DEFAULT_READONLY_PATHS,
      ...(rootless ? { uidMappings: rootless.uidMappings, gidMappings: rootless.gidMappings } : {}),
    },
  };
}

