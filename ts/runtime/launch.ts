// Starting a container's first process: cgroup, clone through the addon, id maps, hooks, "go".
// Shared by the runtime CLI (create/run) and the API; they differ only in how they read the reports.
import { chmodSync, chownSync, constants, existsSync, readSync, writeFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { native, type SpawnOptions, type Spawned } from '../native.js';
import { defaultCgroupPath, detectCgroupVersion, openCgroup, type Cgroup, type LinuxResources } from './cgroup/index.js';
import { delegatedRoot, NoCgroup, v2MountRoot } from './cgroup/rootless.js';
import { setgroupsDenied, writeIdMaps } from './idmap.js';
import { accessible, inUserNamespace, isRootless } from './rootless.js';
import { cloneFlagsFor, containerBlob, hasParentHooks, privateMountNamespace } from './container-blob.js';
import { ContainerError, containerError } from '../errors.js';
import { deviceRules } from './cgroup/devices.js';
import { runHooks } from './hooks.js';
import { closeQuietly, parseLine } from './report.js';
import { hasNamespace, OCI_VERSION, SpecError, type OciSpec } from './spec.js';
import { parseMountOptions } from './mount-options.js';
import { FD_EXTRA } from './blob.js';
import { fifoPath, procStartTime, removeStateDir, reserveId, writeState, type ContainerState, type Placement } from './state.js';
import { sleepSync } from './sleep-sync.js';

export interface LaunchOptions {
  /** State root (runc --root). */
  root: string;
  id: string;
  bundle: string;
  /** Validated spec (loadSpec / validateSpec). */
  spec: OciSpec;
  stdio: [number, number, number];
  /** Path of a unix socket that receives the pty master (runc --console-socket). */
  consoleSocket?: string;
  /** Already connected socket for the pty master (API). */
  consoleFd?: number;
  /** create/start split: tsbox-init waits on <state>/exec.fifo. */
  splitStart: boolean;
  noPivot?: boolean;
  /**
   * tsbox-init stays as pid 1, a reaper that runs the process as its child; by default (runc's contract)
   * it execs the process, which is pid 1 itself.
   */
  init?: boolean;
  /**
   * A detached container: a monitor (tsbox-init outside the container's namespaces and cgroups) clones it
   * and keeps its exit status (statusFd) and json-file log (annotation run.tsbox.log) after we are gone.
   */
  monitor?: boolean;
  /** fds the process gets as 3, 4, ... (runc --preserve-fds). */
  preserveFds?: number[];
  /** File fd where tsbox-init records the exit status (init mode). */
  statusFd?: number;
  /** Called with the host pid once the namespaces exist and before anything runs in them (network setup). */
  beforeStart?: (pid: number) => void;
  /** Told what could not be done as asked (limits without a cgroup when rootless); default: process.emitWarning. */
  onWarning?: (message: string) => void;
  /**
   * An owned container dies with this process: the read end of its owner pipe, and the stamp recorded in
   * the state. The parent-death signal follows the thread that cloned: the addon's spawner thread, which
   * lives as long as the process.
   */
  owner?: { fd: number; stamp: string };
}

export interface Launched {
  state: ContainerState;
  spawned: Spawned;
  cgroup: Cgroup;
}

function initWanted(opts: LaunchOptions): boolean {
  const a = opts.spec.annotations?.['run.tsbox.init'];
  if (a === 'false') return false;
  if (a === 'true') return true;
  return opts.init ?? false;
}

/**
 * In a new user namespace tsbox-init is root only of that namespace: a bind source below a directory
 * it cannot search (podman's 0700 userdata) cannot be reached by path. The sources are cloned here as
 * detached trees (open_tree), with our own rights, and tsbox-init attaches them with move_mount.
 */
function cloneBindSources(spec: OciSpec, first: number): { fds: number[]; sources: Map<number, string> } {
  const fds: number[] = [];
  const sources = new Map<number, string>();
  try {
    (spec.mounts ?? []).forEach((m, i) => {
      const o = parseMountOptions(m.options, m.type);
      if (!o.bind) return;
      let fd: number;
      try {
        fd = native().openTree(m.source ?? '', o.recursive);
      } catch (e) {
        // Left out by the config blob too (its stat finds nothing).
        if (o.nofail && (e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw new SpecError(`mount ${m.source} on ${m.destination}: ${(e as Error).message}`);
      }
      sources.set(i, `/proc/self/fd/${first + fds.length}`);
      fds.push(fd);
    });
  } catch (e) {
    fds.forEach(closeQuietly);
    throw e;
  }
  return { fds, sources };
}

/** The host uid and gid of the container's root: the exec fifo is theirs (runc does the same). */
function hostRoot(spec: OciSpec): { uid: number; gid: number } {
  const host = (maps: { containerID: number; hostID: number; size: number }[] | undefined) => {
    const m = maps?.find((x) => x.containerID <= 0 && 0 < x.containerID + x.size);
    return m ? m.hostID - m.containerID : 0;
  };
  return { uid: host(spec.linux?.uidMappings), gid: host(spec.linux?.gidMappings) };
}

/** Whether every directory of this cgroup could be made: the nearest existing one is writable for us. */
function mayCreate(cgroup: Cgroup): boolean {
  return Object.values(cgroup.dirs).every((d) => {
    let p = d;
    while (!existsSync(p) && p !== dirname(p)) p = dirname(p);
    return accessible(p, constants.W_OK);
  });
}

/**
 * Where the container's cgroup goes. As root: the spec's path on the host's hierarchy. Rootless: below
 * the delegated cgroup v2 subtree if there is one, else nowhere (cgroupPath ""). Root of a user
 * namespace (rootless podman runs its runtime so) whose spec names no cgroup and who may not make the
 * default one in the host's hierarchies is placed as rootless, as runc's rootless manager does.
 */
function placement(spec: OciSpec, id: string): Placement {
  const path = spec.linux?.cgroupsPath || defaultCgroupPath(id);
  if (!isRootless() && (spec.linux?.cgroupsPath || !inUserNamespace() || mayCreate(openCgroup(path)))) return { cgroupPath: path, cgroupVersion: detectCgroupVersion() };
  const mount = v2MountRoot();
  const delegated = delegatedRoot(mount);
  if (!mount || !delegated) return { cgroupPath: '', cgroupVersion: 2 };
  const inside = path.startsWith(`${delegated}/`) ? path : `${delegated}/${path.startsWith('/') ? path.slice(1) : path}`;
  return { cgroupPath: inside, cgroupVersion: 2, cgroupMount: mount, cgroupDelegated: delegated };
}

const LIMIT_NAMES: Record<string, string> = { memory: 'memory', cpu: 'cpu', pids: 'pids', blockIO: 'blkio', hugepageLimits: 'hugetlb', unified: 'unified' };

/**
 * Rootless: each kind of limit is applied where the delegated cgroup offers its controller; the others
 * are named in one warning, never silently dropped. Device rules need root (a BPF program on v2); the
 * user namespace already forbids creating device nodes.
 */
function applyRootless(cgroup: Cgroup, resources: LinuxResources | undefined, warn: (m: string) => void): void {
  const missing: string[] = [];
  let reason = '';
  for (const [k, v] of Object.entries(resources ?? {})) {
    if (k === 'devices' || v === undefined) continue;
    if (!cgroup.path) {
      missing.push(LIMIT_NAMES[k] ?? k);
      continue;
    }
    try {
      cgroup.apply({ [k]: v });
    } catch (e) {
      missing.push(LIMIT_NAMES[k] ?? k);
      reason ||= (e as Error).message;
    }
  }
  if (!missing.length) return;
  warn(
    cgroup.path
      ? `rootless: ${missing.join(', ')} limits not applied (${reason})`
      : `rootless: ${missing.join(', ')} limits not applied: no delegated cgroup v2 subtree for this user, the container runs without a cgroup`,
  );
}

/** What a launch has made so far: undone by abortLaunch when a later step fails. */
interface Made {
  cgroup?: Cgroup;
  spawned?: Spawned;
  consoleFd?: number;
  /** Bind sources opened for a new user namespace: the addon has its own copies once spawned. */
  sourceFds?: number[];
}

interface Prepared {
  place: Placement;
  init: boolean;
  ownUserns: boolean;
  cgroup: Cgroup;
  spawn: SpawnOptions;
}

/** Before the clone: checks, the cgroup with its limits, the config blob, the console socket. */
function prepareLaunch(opts: LaunchOptions, made: Made, place: Placement): Prepared {
  const { root, id, spec } = opts;
  if (spec.process?.terminal && opts.consoleSocket === undefined && opts.consoleFd === undefined) {
    throw new Error('process.terminal is set: a console socket is needed (--console-socket)');
  }
  if (isRootless() && !hasNamespace(spec, 'user')) {
    throw new SpecError('config.json: without root a container needs a user namespace with uid and gid mappings (tsbox-runtime spec --rootless writes one)');
  }
  const resources = spec.linux?.resources;
  let cgroup: Cgroup;
  // Placed as rootless (above): no cgroup, or one in a delegated subtree.
  if (!place.cgroupPath || place.cgroupDelegated !== undefined) {
    cgroup = made.cgroup = place.cgroupPath ? openCgroup(place.cgroupPath, { version: 2, mountRoot: place.cgroupMount, delegated: place.cgroupDelegated }) : new NoCgroup(0);
    cgroup.create();
    applyRootless(cgroup, resources, opts.onWarning ?? ((m) => process.emitWarning(m)));
  } else {
    cgroup = made.cgroup = openCgroup(place.cgroupPath, { version: place.cgroupVersion });
    cgroup.create();
    // Device rules always: a spec without any gets runc's default (deny all but the standard nodes).
    cgroup.apply({ ...resources, devices: deviceRules(resources?.devices) });
  }

  const init = initWanted(opts);
  if (!privateMountNamespace(spec) && spec.mounts?.length) {
    (opts.onWarning ?? ((m) => process.emitWarning(m)))(`no mount namespace: the spec's ${spec.mounts.length} mounts are not made (they would be the host's)`);
  }
  const userns = hasNamespace(spec, 'user');
  const ownUserns = userns !== undefined && !userns.path;
  if (opts.splitStart) {
    // Opened for writing by the container's process after it dropped to its own user (runc's mode and
    // owner): only `start` (host root) reads it.
    const fifo = fifoPath(root, id);
    native().mkfifo(fifo, 0o622);
    chmodSync(fifo, 0o622);
    if (ownUserns && !isRootless()) {
      const r = hostRoot(spec);
      chownSync(fifo, r.uid, r.gid);
    }
  }
  const preserved = opts.preserveFds ?? [];
  // open_tree(OPEN_TREE_CLONE) needs CAP_SYS_ADMIN of the caller's own mount namespace: without root
  // the sources are reached by path, with the caller's rights, as before.
  const binds = ownUserns && !isRootless() ? cloneBindSources(spec, FD_EXTRA + preserved.length) : { fds: [], sources: new Map<number, string>() };
  made.sourceFds = binds.fds;
  const config = containerBlob(spec, {
    initMode: init ? 'init' : 'exec',
    noPivot: opts.noPivot,
    setgroupsDeny: ownUserns && setgroupsDenied(spec.linux?.gidMappings),
    preserveFds: preserved.length,
    mountSources: binds.sources,
    ownerFd: opts.owner ? FD_EXTRA + preserved.length + binds.fds.length : undefined,
    hookState: { id, bundle: opts.bundle },
  });
  // A pid namespace given by path is entered by the cloning thread (the monitor does it itself), so the
  // container's first process is inside it. Without root that needs rights only the user namespace
  // gives: tsbox-init joins it after go and forks the process there (it stays outside).
  const pidns = hasNamespace(spec, 'pid')?.path;
  const enterPidns = pidns && !opts.monitor && !isRootless() ? pidns : undefined;
  const consoleFd = (made.consoleFd = opts.consoleFd ?? (opts.consoleSocket !== undefined ? native().unixConnect(opts.consoleSocket) : undefined));
  return {
    place,
    init,
    ownUserns,
    cgroup,
    spawn: {
      config,
      cloneFlags: cloneFlagsFor(spec),
      stdio: opts.stdio,
      fifoPath: opts.splitStart ? fifoPath(root, id) : undefined,
      consoleFd: spec.process?.terminal ? consoleFd : undefined,
      statusFd: opts.statusFd,
      cgroupTasks: cgroup.tasksFiles(),
      extraFds: [...preserved, ...binds.fds, ...(opts.owner ? [opts.owner.fd] : [])],
      monitor: opts.monitor,
      pidNamespace: enterPidns,
    },
  };
}

function closeSources(made: Made): void {
  for (const fd of made.sourceFds ?? []) closeQuietly(fd);
  made.sourceFds = undefined;
}

/** After the clone: state, id maps, placement, network and hooks, then go. */
function finishLaunch(opts: LaunchOptions, p: Prepared, made: Made, spawned: Spawned): Launched {
  const { root, id, spec } = opts;
  made.spawned = spawned;
  if (opts.consoleFd === undefined) closeQuietly(made.consoleFd);
  made.consoleFd = undefined;
  const state: ContainerState = {
    ociVersion: OCI_VERSION,
    id,
    pid: spawned.pid,
    pidStartTime: procStartTime(spawned.pid) ?? '',
    bundle: opts.bundle,
    rootfs: spec.root?.path ?? '',
    created: new Date().toISOString(),
    owner: '',
    ...(opts.owner ? { ownedBy: opts.owner.stamp } : {}),
    annotations: spec.annotations,
    ...p.place,
    initMode: p.init ? 'init' : 'exec',
    spec,
  };
  // Written before the process may run: a crash of this process from here on leaves a state
  // that names the pid, so "delete --force" can clean up.
  writeState(root, state);

  if (p.ownUserns) writeIdMaps(spawned.pid, spec.linux?.uidMappings, spec.linux?.gidMappings);
  placeSpawned(p.cgroup, spawned);
  opts.beforeStart?.(spawned.pid);
  if (hasParentHooks(spec)) {
    // runc's place for them: once the container's mounts are made, before pivot_root. tsbox-init makes
    // them after this first go, says "H" and waits for the second.
    writeFileSync(spawned.goFd, 'g');
    awaitHookPoint(spawned.reportFd);
    const hookState = { ociVersion: OCI_VERSION, id, status: 'creating', pid: spawned.pid, bundle: opts.bundle, annotations: spec.annotations };
    runHooks('createRuntime', spec.hooks?.createRuntime, hookState);
    runHooks('prestart', spec.hooks?.prestart, hookState);
  }
  letGo(spawned);
  return { state, spawned, cgroup: p.cgroup };
}

function failLaunch(opts: LaunchOptions, made: Made): void {
  if (opts.consoleFd === undefined) closeQuietly(made.consoleFd);
  closeSources(made);
  abortLaunch(opts.root, opts.id, made.spawned, made.cgroup);
}

/**
 * Reserves the id, prepares the cgroup, clones tsbox-init, places it, runs the createRuntime and
 * prestart hooks and lets it go. The caller then reads the report fd. On any failure here,
 * everything created so far is undone. The clone happens on the addon's spawner thread (so that many
 * starts overlap), or in the client of a call the runtime server serves.
 */
export async function launchAsync(opts: LaunchOptions): Promise<Launched> {
  const place = placement(opts.spec, opts.id);
  reserveId(opts.root, opts.id, place);
  const made: Made = {};
  try {
    const p = prepareLaunch(opts, made, place);
    const spawned = await cloneAsync(p.spawn);
    closeSources(made);
    return finishLaunch(opts, p, made, spawned);
  } catch (e) {
    failLaunch(opts, made);
    throw e;
  }
}

/** native().spawnAsync as a promise: the addon's spawner thread, or a served call's client. */
export function cloneAsync(opts: SpawnOptions): Promise<Spawned> {
  return new Promise<Spawned>((resolve, reject) => native().spawnAsync(opts, (e, s) => (e ? reject(e) : resolve(s!))));
}

/** Into its cgroups before go: tsbox-init entered them itself when given tasks files (v1), else by pid. */
export function placeSpawned(cgroup: Cgroup, spawned: Spawned): void {
  if (!cgroup.tasksFiles().length) cgroup.addProcess(spawned.pid);
}

/**
 * Reads tsbox-init's report up to its "H" (the mounts made, waiting for the hooks), one byte at a time:
 * what it says after the hooks is for the caller's reader. Its failure before then is thrown.
 */
function awaitHookPoint(fd: number): void {
  const byte = Buffer.alloc(1);
  let line = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, byte, 0, 1, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') sleepSync(1);
      if (code === 'EAGAIN' || code === 'EINTR') continue;
      throw e;
    }
    if (n === 0) throw new ContainerError('tsbox-init exited before the createRuntime and prestart hooks', 0);
    if (byte[0] !== 0x0a) {
      line += byte.toString('latin1');
      continue;
    }
    if (line === 'H') return;
    const r = parseLine(Buffer.from(line, 'latin1').toString('utf8'));
    if (r?.kind === 'error') throw containerError(r.message, r.errno);
    line = '';
  }
}

/** tsbox-init's go: the one byte it waits for before its setup (the second, after the parent's hooks). */
export function letGo(spawned: Spawned): void {
  writeFileSync(spawned.goFd, 'g');
  closeQuietly(spawned.goFd);
}

/** Undoes a launch that failed: kill and reap the child, remove its cgroup and state. */
export function abortLaunch(root: string, id: string, spawned: Spawned | undefined, cgroup: Cgroup | undefined): void {
  if (spawned) {
    for (const fd of [spawned.pidfd, spawned.monitorPidfd]) {
      try {
        if (fd !== undefined) native().pidfdSignal(fd, 9);
      } catch {
        // already gone
      }
    }
    closeQuietly(spawned.goFd);
    // The waiter thread reaps our child (the monitor, if any); until then it is a zombie, which counts as gone.
    const pidfd = spawned.monitorPidfd ?? spawned.pidfd;
    native().watch(pidfd, () => closeQuietly(pidfd));
    if (spawned.monitorPidfd !== undefined) closeQuietly(spawned.pidfd);
    waitGoneSync(spawned.pid);
    closeQuietly(spawned.reportFd);
  }
  if (cgroup) {
    try {
      cgroup.kill(9);
      cgroup.destroy();
    } catch {
      // best effort: the error that brought us here matters more
    }
  }
  try {
    unlinkSync(fifoPath(root, id));
  } catch {
    // not created
  }
  removeStateDir(root, id);
}

/** Waits (up to timeoutMs) until pid is gone or a zombie. */
export function waitGoneSync(pid: number, timeoutMs = 10000): boolean {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; Date.now() < deadline; delay = Math.min(delay * 2, 50)) {
    if (procStartTime(pid) === undefined) return true;
    sleepSync(delay);
  }
  return procStartTime(pid) === undefined;
}
