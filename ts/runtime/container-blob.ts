// OCI spec → the config blob for tsbox-init (what to mount, which process to run, with which rights).
import { existsSync, statSync } from 'node:fs';
import { BlobWriter, HookStage, InitMode, MountFlag, Tag } from './blob.js';
import { capsFromSpec } from './caps.js';
import { MS, parseMountOptions, rootPropagation } from './mount-options.js';
import { rlimitNumber } from './rlimits.js';
import { compileSeccomp, seccompFilterFromSpec, seccompPayload } from './seccomp.js';
import { OCI_VERSION, SpecError, type OciProcess, type OciSpec, type NamespaceType } from './spec.js';

export const CLONE = {
  NEWTIME: 0x80,
  NEWNS: 0x20000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const NS_FLAG: Record<NamespaceType, number> = {
  mount: CLONE.NEWNS,
  cgroup: CLONE.NEWCGROUP,
  uts: CLONE.NEWUTS,
  ipc: CLONE.NEWIPC,
  user: CLONE.NEWUSER,
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  time: CLONE.NEWTIME,
};

// The devices every container gets when /dev is its own tmpfs (runc's list).
const DEFAULT_DEVICES: { path: string; major: number; minor: number }[] = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/tty', major: 5, minor: 0 },
];

const RLIM_INFINITY = (1n << 64n) - 1n;

let kcore: boolean | undefined;
/** Whether the kernel has /proc/kcore (CONFIG_PROC_KCORE): looked at once per process. */
function hostHasKcore(): boolean {
  kcore ??= existsSync('/proc/kcore');
  return kcore;
}

function u64(n: number): bigint {
  // JSON numbers above 2^53 are already rounded; anything that large means "unlimited".
  if (n < 0 || n >= 2 ** 63) return RLIM_INFINITY;
  return BigInt(Math.trunc(n));
}

function sameNamespace(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

/**
 * A mount namespace other than ours: a new one, or one joined by path, where the root filesystem is set
 * up as runc does it. Joining our own is none at all.
 */
export function privateMountNamespace(spec: OciSpec): boolean {
  const ns = spec.linux?.namespaces?.find((n) => n.type === 'mount');
  return ns !== undefined && (!ns.path || !sameNamespace(ns.path, '/proc/self/ns/mnt'));
}

/** The namespaces the container gets new (not joined by path; cgroup apart). */
function newNamespaces(spec: OciSpec): number {
  let flags = 0;
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.path || ns.type === 'cgroup') continue;
    if (ns.type === 'time') throw new SpecError('config.json: time namespaces are not supported');
    flags |= NS_FLAG[ns.type];
  }
  return flags;
}

/**
 * With a user namespace joined by path (docker --userns-remap with --pid container:, a pod's sandbox),
 * the new namespaces must be that user namespace's: tsbox-init unshares them after joining it (runc's
 * nsexec does the same), where the clone would make them the caller's.
 */
function unsharedAfterJoin(spec: OciSpec): number {
  if (!spec.linux?.namespaces?.some((n) => n.type === 'user' && n.path)) return 0;
  const flags = newNamespaces(spec);
  // A new pid namespace would need one more fork to be in: not done.
  if (flags & NS_FLAG.pid) throw new SpecError('config.json: a new pid namespace with a user namespace joined by path is not supported');
  return flags;
}

/** clone(2) flags for the namespaces the spec wants created (joined ones, cgroup and those above are tsbox-init's). */
export function cloneFlagsFor(spec: OciSpec): number {
  return newNamespaces(spec) & ~unsharedAfterJoin(spec);
}

export interface ContainerBlobOptions {
  initMode: 'init' | 'exec';
  noPivot?: boolean;
  /** The parent wrote "deny" to /proc/<pid>/setgroups (unprivileged user namespace). */
  setgroupsDeny?: boolean;
  /** How many extra fds the process gets as 3, 4, ... (runc --preserve-fds). */
  preserveFds?: number;
  /** Bind sources by mount index, opened by the parent: the /proc/self/fd/N path tsbox-init binds from. */
  mountSources?: Map<number, string>;
  /** The fd where tsbox-init finds the owner's pipe: the container dies with its owner (config.h TSBOX_T_OWNER). */
  ownerFd?: number;
  /** The container's id and bundle, for the state the createContainer and startContainer hooks read. */
  hookState?: { id: string; bundle: string };
}

/** The whole container: namespaces to join, rootfs, system settings, then the process. */
export function containerBlob(spec: OciSpec, opts: ContainerBlobOptions): Buffer {
  const w = new BlobWriter();
  const linux = spec.linux ?? {};
  addJoins(w, (linux.namespaces ?? []).filter((n) => n.path).map((n) => ({ type: n.type, path: n.path! })));
  const unshared = unsharedAfterJoin(spec);
  if (unshared) w.u32(Tag.UNSHARE, unshared);
  if (linux.namespaces?.some((n) => n.type === 'cgroup' && !n.path)) w.flag(Tag.UNSHARE_CGROUP);

  if (privateMountNamespace(spec) && spec.root) {
    addRootfs(w, spec, opts);
  } else if (spec.root) {
    // A container in the host's mount namespace (runc's rules): it cannot hide /proc or /sys paths, and
    // its process is confined to root.path (chroot). Its mounts would be the host's: runc makes them there
    // and leaves them behind; tsbox does not make them (launch warns).
    if (linux.maskedPaths?.length || linux.readonlyPaths?.length) throw new SpecError('config.json: unable to restrict sys entries without a private MNT namespace');
    if (spec.root.readonly) throw new SpecError('config.json: a read-only root needs a private MNT namespace');
    w.str(Tag.CHROOT, spec.root.path);
  }
  if (linux.namespaces?.some((n) => n.type === 'network' && !n.path)) w.flag(Tag.LO_UP);
  if (spec.hostname !== undefined && spec.hostname !== '') w.str(Tag.HOSTNAME, spec.hostname);
  if (spec.domainname) w.str(Tag.DOMAINNAME, spec.domainname);
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) w.str(Tag.SYSCTL, k, v);
  if (spec.process?.oomScoreAdj !== undefined) w.add(Tag.OOM_SCORE_ADJ, { i32: spec.process.oomScoreAdj });
  addPersonality(w, linux.personality);
  if (!spec.process) throw new SpecError('config.json: process missing');
  // The engine's detached containers: their monitor (or tsbox-init as a reaper) writes their output as
  // json-file log lines. Without either, nobody stays to write them: the annotation means nothing then.
  if (spec.annotations?.['run.tsbox.log'] === 'json-file') {
    // docker's --log-opt max-size/max-file, as "SIZE:FILES" in bytes: the monitor rotates the file.
    const rot = /^(\d+):(\d+)$/.exec(spec.annotations['run.tsbox.log-rotate'] ?? '');
    if (rot) w.add(Tag.LOG_JSON, { u64: BigInt(rot[1]) }, { u32: Number(rot[2]) });
    else w.flag(Tag.LOG_JSON);
    // The monitor's attach socket (and, with run.tsbox.stdin=open, the process's stdin behind it).
    const sock = spec.annotations['run.tsbox.attach'];
    // run.tsbox.tty=monitor: the monitor, not the caller, gets the terminal's master (flag 2).
    const flags = (spec.annotations['run.tsbox.stdin'] === 'open' ? 1 : 0) | (spec.process?.terminal && spec.annotations['run.tsbox.tty'] === 'monitor' ? 2 : 0);
    if (sock) w.add(Tag.ATTACH, { str: sock }, { u32: flags });
  }
  addProcess(w, spec.process, spec, opts);
  if (opts.ownerFd !== undefined) w.u32(Tag.OWNER, opts.ownerFd);
  addContainerHooks(w, spec, opts.hookState);
  return w.toBuffer();
}

/** Hooks the parent runs while tsbox-init waits after the mounts (TSBOX_T_HOOK_SYNC). */
export function hasParentHooks(spec: OciSpec): boolean {
  return !!(spec.hooks?.createRuntime?.length || spec.hooks?.prestart?.length);
}

/**
 * createContainer and startContainer hooks, which run inside the container (tsbox-init, as runc's init
 * runs them); their state is the one the other hooks get, status and pid filled in there.
 */
function addContainerHooks(w: BlobWriter, spec: OciSpec, state: ContainerBlobOptions['hookState']): void {
  // The parent's own (createRuntime, prestart) run once tsbox-init has made the mounts: it says "H" and waits.
  if (hasParentHooks(spec)) w.flag(Tag.HOOK_SYNC);
  const stages = (['createContainer', 'startContainer'] as const).filter((s) => spec.hooks?.[s]?.length);
  if (!stages.length) return;
  if (!state) throw new SpecError('config.json: createContainer and startContainer hooks need a container id');
  for (const stage of stages) {
    for (const h of spec.hooks![stage]!) {
      const args = h.args ?? [];
      const env = h.env ?? [];
      w.add(Tag.HOOK, { u32: HookStage[stage] }, { u32: h.timeout ?? 0 }, { u32: args.length }, { u32: env.length }, { str: h.path }, ...args.map((str) => ({ str })), ...env.map((str) => ({ str })));
    }
  }
  // {"ociVersion","id", then status and pid (tsbox-init's), then "bundle","annotations"}: the order runc writes.
  const head = JSON.stringify({ ociVersion: OCI_VERSION, id: state.id });
  const tail = JSON.stringify({ bundle: state.bundle, ...(spec.annotations ? { annotations: spec.annotations } : {}) });
  w.str(Tag.HOOK_STATE, `${head.slice(0, -1)},`, `,${tail.slice(1)}`);
}

export interface ExecBlobOptions extends ContainerBlobOptions {
  /** Namespaces of the running container to join, in order (user first). */
  joins: { type: NamespaceType; path: string }[];
}

/** A process started inside a running container: join its namespaces, then run like its init would. */
export function execBlob(spec: OciSpec, process: OciProcess, opts: ExecBlobOptions): Buffer {
  const w = new BlobWriter();
  addJoins(w, opts.joins);
  // The container's execution domain holds for what runs in it later too (runc 1.2, crun).
  addPersonality(w, spec.linux?.personality);
  addProcess(w, process, spec, opts);
  return w.toBuffer();
}

function addJoins(w: BlobWriter, joins: { type: NamespaceType; path: string }[]): void {
  // The user namespace goes first: joining it grants the rights to join the others.
  const ordered = [...joins.filter((j) => j.type === 'user'), ...joins.filter((j) => j.type !== 'user')];
  for (const j of ordered) w.add(Tag.SETNS, { u32: NS_FLAG[j.type] }, { str: j.path });
}

function addRootfs(w: BlobWriter, spec: OciSpec, opts: ContainerBlobOptions): void {
  const linux = spec.linux ?? {};
  w.str(Tag.ROOTFS, spec.root!.path);
  w.u32(Tag.ROOT_PROPAGATION, rootPropagation(linux.rootfsPropagation));
  if (opts.noPivot) w.flag(Tag.NO_PIVOT);

  let devIsTmpfs = false;
  let hasDevpts = false;
  for (const [index, m] of (spec.mounts ?? []).entries()) {
    const o = parseMountOptions(m.options, m.type);
    let extra = 0;
    let flags = o.flags;
    if (o.bind) {
      extra |= MountFlag.BIND;
      flags |= MS.BIND;
      if (o.recursive) {
        extra |= MountFlag.RECURSIVE;
        flags |= MS.REC;
      }
      const src = m.source ?? '';
      let st;
      try {
        st = statSync(src);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (o.nofail && code === 'ENOENT') continue;
        throw new SpecError(`mount ${src} on ${m.destination}: stat ${src}: ${code ?? e}`);
      }
      if (!st.isDirectory()) extra |= MountFlag.FILE;
      if (o.nofail) extra |= MountFlag.NOFAIL;
    }
    if (m.type === 'cgroup' || m.type === 'cgroup2') extra |= MountFlag.CGROUP;
    if (m.destination === '/dev' && !o.bind) devIsTmpfs = true;
    if (m.destination === '/dev/pts' && m.type === 'devpts') hasDevpts = true;
    const tree = o.bind ? opts.mountSources?.get(index) : undefined;
    if (tree) extra |= MountFlag.TREE_FD;
    const source = tree ?? m.source ?? '';
    if (o.rattr) extra |= MountFlag.RATTR;
    const rattr = o.rattr ? [{ u32: o.rattr.set }, { u32: o.rattr.clr }] : [];
    w.add(Tag.MOUNT, { u32: flags }, { u32: o.propagation }, { u32: extra }, { str: source }, { str: m.destination }, { str: o.bind ? '' : (m.type ?? '') }, { str: o.data }, ...rattr);
  }

  const devices = new Map<string, { type: string; major: number; minor: number; mode: number; uid: number; gid: number }>();
  if (devIsTmpfs) {
    for (const d of DEFAULT_DEVICES) devices.set(d.path, { type: 'c', major: d.major, minor: d.minor, mode: 0o666, uid: 0, gid: 0 });
  }
  for (const d of linux.devices ?? []) {
    if (!d.path?.startsWith('/dev/')) throw new SpecError(`config.json: device path ${JSON.stringify(d.path)} must be under /dev`);
    const type = d.type === 'u' ? 'c' : d.type;
    if (!['c', 'b', 'p'].includes(type)) throw new SpecError(`config.json: device ${d.path}: unknown type ${JSON.stringify(d.type)}`);
    devices.set(d.path, { type, major: d.major ?? 0, minor: d.minor ?? 0, mode: (d.fileMode ?? 0o666) & 0o7777, uid: d.uid ?? 0, gid: d.gid ?? 0 });
  }
  for (const [path, d] of devices) {
    w.add(Tag.DEVICE, { u32: d.type.charCodeAt(0) }, { u32: d.major }, { u32: d.minor }, { u32: d.mode }, { u32: d.uid }, { u32: d.gid }, { str: path });
  }
  if (devIsTmpfs) {
    w.str(Tag.SYMLINK, '/proc/self/fd', '/dev/fd');
    w.str(Tag.SYMLINK, '/proc/self/fd/0', '/dev/stdin');
    w.str(Tag.SYMLINK, '/proc/self/fd/1', '/dev/stdout');
    w.str(Tag.SYMLINK, '/proc/self/fd/2', '/dev/stderr');
    if (hostHasKcore()) w.str(Tag.SYMLINK, '/proc/kcore', '/dev/core');
    if (hasDevpts) w.str(Tag.SYMLINK, 'pts/ptmx', '/dev/ptmx');
  }
  for (const p of linux.maskedPaths ?? []) w.str(Tag.MASKED_PATH, p);
  for (const p of linux.readonlyPaths ?? []) w.str(Tag.READONLY_PATH, p);
  if (spec.root?.readonly) w.flag(Tag.ROOT_READONLY);
}

/**
 * The AppArmor profile and SELinux label the process execs into, as runc applies them: never dropped. A
 * label on a host without SELinux is refused at once, in runc's words; a profile the kernel refuses
 * fails in tsbox-init (csrc/init/label.c).
 */
function addLabels(w: BlobWriter, p: OciProcess): void {
  if (p.apparmorProfile) w.str(Tag.APPARMOR, p.apparmorProfile);
  if (p.selinuxLabel) {
    if (!existsSync('/sys/fs/selinux/enforce')) throw new SpecError('selinux label is specified in config, but selinux is disabled or not supported');
    w.str(Tag.SELINUX_LABEL, p.selinuxLabel);
  }
}

const PERSONAS: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

/** linux.personality (OCI 1.1): the execution domain, as crun and runc 1.2 set it; no flags are defined. */
function addPersonality(w: BlobWriter, personality: NonNullable<OciSpec['linux']>['personality']): void {
  if (!personality) return;
  const persona = PERSONAS[personality.domain];
  if (persona === undefined) throw new SpecError(`config.json: linux.personality.domain ${JSON.stringify(personality.domain)}: want LINUX or LINUX32`);
  if (personality.flags?.length) throw new SpecError(`config.json: linux.personality.flags ${JSON.stringify(personality.flags)}: no flags are supported`);
  w.u32(Tag.PERSONALITY, persona);
}

function addProcess(w: BlobWriter, p: OciProcess, spec: OciSpec, opts: ContainerBlobOptions): void {
  for (const a of p.args) w.str(Tag.ARG, a);
  addLabels(w, p);
  const env = p.env ?? [];
  for (const e of env) w.str(Tag.ENV, e);
  w.str(Tag.CWD, p.cwd || '/');
  w.u32(Tag.UID, p.user.uid);
  w.u32(Tag.GID, p.user.gid);
  for (const g of p.user.additionalGids ?? []) w.u32(Tag.ADDITIONAL_GID, g);
  if (p.user.umask !== undefined) w.u32(Tag.UMASK, p.user.umask);
  for (const r of p.rlimits ?? []) {
    w.add(Tag.RLIMIT, { u32: rlimitNumber(r.type) }, { u64: u64(r.soft) }, { u64: u64(r.hard) });
  }
  if (p.capabilities) {
    const c = capsFromSpec(p.capabilities);
    w.add(Tag.CAPS, { u64: c.bounding }, { u64: c.effective }, { u64: c.permitted }, { u64: c.inheritable }, { u64: c.ambient });
  }
  if (p.noNewPrivileges) w.flag(Tag.NO_NEW_PRIVS);
  const seccomp = spec.linux?.seccomp;
  if (seccomp) {
    const filter = seccompFilterFromSpec(seccomp);
    w.add(Tag.SECCOMP, { bytes: seccompPayload(filter.flags ?? 0, compileSeccomp(seccomp)) });
  }
  if (p.terminal && p.consoleSize) w.add(Tag.CONSOLE_SIZE, { u16: p.consoleSize.height }, { u16: p.consoleSize.width });
  if (opts.setgroupsDeny) w.flag(Tag.SETGROUPS_DENY);
  if (opts.preserveFds) w.u32(Tag.PRESERVE_FDS, opts.preserveFds);
  w.u32(Tag.INIT_MODE, opts.initMode === 'init' ? InitMode.INIT : InitMode.EXEC);
}
