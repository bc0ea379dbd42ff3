// The built-in default that needs no image: the host's own filesystem, read-only underneath a private
// writable layer, with the working directory writable, a fresh /tmp, no network, and its own pid/ipc/uts.
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../runtime/default-spec.js';
import { DEFAULT_CAPS } from '../runtime/caps.js';
import { DOCKER_DEVICE_RULES } from '../runtime/cgroup/devices.js';
import { OCI_VERSION, type OciMount, type OciSpec } from '../runtime/spec.js';

export interface SandboxOptions {
  args: string[];
  /** Directory for the writable layer (upper, work) and the mount point; on a tmpfs such as /dev/shm. */
  layerDir: string;
  /** Working directory, bind-mounted writable (default: process.cwd(); "/" is never made writable). */
  cwd?: string;
  /** Extra host paths mounted writable at the same place. */
  writable?: string[];
  /** Share the host's network namespace (default: a private one with no interfaces up). */
  network?: boolean;
  env?: string[];
  terminal?: boolean;
  hostname?: string;
}

// Host mounts the sandbox replaces with its own (or leaves out).
const PSEUDO = new Set(['proc', 'sysfs', 'devtmpfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'securityfs', 'debugfs', 'tracefs', 'bpf', 'pstore', 'configfs', 'fusectl', 'binfmt_misc', 'hugetlbfs', 'autofs', 'nsfs']);
const REPLACED = ['/proc', '/sys', '/dev', '/tmp', '/run'];

/**
 * The host's mounts as the sandbox sees them: read-only, nosuid and nodev down to the last submount (a
 * plain ro reaches only the top one), and private, so that a mount made later on the host below them,
 * which would arrive with its own writable flags, never appears in the sandbox.
 */
// nofail: a host mount unmounted between the listing and the sandbox's start is left out, not an error.
const HOST_VIEW = ['rbind', 'rro', 'rnosuid', 'rnodev', 'rprivate', 'nofail'];

/** Host mount points other than / that the overlay of / does not include, to bind read-only. */
export function hostSubmounts(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const out = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    const target = pre.split(' ')[4].replace(/\\040/g, ' ');
    const fstype = post?.split(' ')[0] ?? '';
    if (target === '/' || PSEUDO.has(fstype)) continue;
    if (REPLACED.some((r) => target === r || target.startsWith(r + '/'))) continue;
    // A parent already bound recursively brings its children along.
    if ([...out].some((o) => target.startsWith(o + '/'))) continue;
    out.add(target);
  }
  return [...out];
}

/**
 * Without root, "/" cannot be an overlay's lower layer: the mounts below it are locked in a user
 * namespace, and overlayfs refuses a lower layer with locked mounts inside. So the root is a skeleton in
 * the layer directory (the host's top-level symlinks, empty directories), and each top-level directory
 * gets an overlay of its own (user.* xattrs: userxattr), or a read-only bind when mounts lie below it.
 */
function unprivilegedRoot(layerDir: string, submounts: string[]): OciMount[] {
  const skel = join(layerDir, 'root');
  const out: OciMount[] = [];
  for (const name of readdirSync('/')) {
    const p = `/${name}`;
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      // Made again when a start is tried again (startSandbox).
      rmSync(join(skel, name), { force: true });
      symlinkSync(readlinkSync(p), join(skel, name));
      continue;
    }
    if (!st?.isDirectory()) continue;
    mkdirSync(join(skel, name), { recursive: true });
    if (REPLACED.includes(p) || submounts.includes(p)) continue; // mounted afresh, or bound as a submount
    if (submounts.some((m) => m.startsWith(`${p}/`))) {
      out.push({ destination: p, type: 'bind', source: p, options: HOST_VIEW });
      continue;
    }
    for (const d of ['upper', 'work']) mkdirSync(join(layerDir, d, name), { recursive: true });
    out.push({ destination: p, type: 'overlay', source: 'overlay', options: [`lowerdir=${p}`, `upperdir=${layerDir}/upper/${name}`, `workdir=${layerDir}/work/${name}`, 'userxattr'] });
  }
  return out;
}

/**
 * Without root, a mount the host makes below a top-level directory after the sandbox listed the host's
 * mounts fails that directory's overlay (EINVAL: a locked mount below its lower layer). A start a moment
 * later lists it and binds the directory read-only, as the listing would have: start builds its spec anew
 * each time, and is tried up to three times.
 */
export async function startSandbox<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      const locked = (e as { errno?: number }).errno === 22 && /^mount overlay on /.test((e as Error).message);
      if (attempt >= 3 || !locked) throw e;
    }
  }
}

export function sandboxSpec(o: SandboxOptions): OciSpec {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const cwd = o.cwd ?? process.cwd();
  const submounts = hostSubmounts();
  const mounts: OciMount[] = [
    ...(uid === 0
      ? [{ destination: '/', type: 'overlay', source: 'overlay', options: ['lowerdir=/', `upperdir=${o.layerDir}/upper`, `workdir=${o.layerDir}/work`] }]
      : unprivilegedRoot(o.layerDir, submounts)),
    ...submounts.map((p) => ({ destination: p, type: 'bind', source: p, options: HOST_VIEW })),
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/sys', type: o.network ? 'bind' : 'sysfs', source: o.network ? '/sys' : 'sysfs', options: o.network ? [...HOST_VIEW, 'rnoexec'] : ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
  ];
  for (const p of [...(cwd !== '/' ? [cwd] : []), ...(o.writable ?? [])]) {
    mounts.push({ destination: p, type: 'bind', source: p, options: ['rbind', 'rw'] });
  }
  const namespaces: NonNullable<OciSpec['linux']>['namespaces'] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  if (!o.network) namespaces.push({ type: 'network' });
  const caps = uid === 0 ? [...DEFAULT_CAPS] : [];
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: o.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: o.args,
      env: o.env ?? Object.entries(process.env).map(([k, v]) => `${k}=${v}`),
      cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: `${o.layerDir}/root`, readonly: false },
    hostname: o.hostname ?? 'sandbox',
    mounts,
    // child_process's contract, not a container's: SIGTERM and ^C end the command even when it has no
    // handler of its own, which as pid 1 it would ignore. tsbox-init stays in front as the reaper.
    annotations: { 'run.tsbox.init': 'true' },
    // docker's device policy: a node made in its /dev, or found in a writable path, cannot be opened.
    linux: { namespaces, maskedPaths: DEFAULT_MASKED_PATHS, readonlyPaths: DEFAULT_READONLY_PATHS, resources: { devices: DOCKER_DEVICE_RULES.map((r) => ({ ...r })) } },
  };
  if (uid !== 0) {
    // Without privileges: a user namespace in which the caller keeps its own ids.
    namespaces.push({ type: 'user' });
    spec.process!.user = { uid, gid };
    spec.linux!.uidMappings = [{ containerID: uid, hostID: uid, size: 1 }];
    spec.linux!.gidMappings = [{ containerID: gid, hostID: gid, size: 1 }];
  }
  return spec;
}
