// Starting a container's first process: cgroup, clone through the addon, id maps, hooks, "go".
// Shared by the runtime CLI (create/run) and the API; they differ only in how they read the reports.
import { writeFileSync, unlinkSync } from 'node:fs';
import { native, type SpawnOptions, type Spawned } from '../native.js';
import { defaultCgroupPath, detectCgroupVersion, openCgroup, type Cgroup, type LinuxResources } from './cgroup/index.js';
import { delegatedRoot, NoCgroup, v2MountRoot } from './cgroup/rootless.js';
import { setgroupsDenied, writeIdMaps } from './idmap.js';
import { isRootless } from './rootless.js';
import { cloneFlagsFor, containerBlob } from './container-blob.js';
import { deviceRules } from './cgroup/devices.js';
import { runHooks } from './hooks.js';
import { closeQuietly } from './report.js';
import { hasNamespace, OCI_VERSION, SpecError, type OciSpec } from './spec.js';
import { fifoPath, procStartTime, removeStateDir, reserveId, writeState, type ContainerState } from './state.js';

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
  /** tsbox-init stays as pid 1 (default) or execs the process directly. */
  init?: boolean;
  /** File fd where tsbox-init records the exit status (init mode). */
  statusFd?: number;
  /** Called with the host pid once the namespaces exist and before anything runs in them (network setup). */
  beforeStart?: (pid: number) => void;
  /** Told what could not be done as asked (limits without a cgroup when rootless); default: process.emitWarning. */
  onWarning?: (message: string) => void;
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
  return opts.init ?? true;
}

type Placement = Pick<ContainerState, 'cgroupPath' | 'cgroupVersion' | 'cgroupMount' | 'cgroupDelegated'>;

/**
 * Where the container's cgroup goes. As root: the spec's path on the host's hierarchy. Rootless: below
 * the delegated cgroup v2 subtree if there is one, else nowhere (cgroupPath "").
 */
function placement(spec: OciSpec, id: string): Placement {
  const path = spec.linux?.cgroupsPath || defaultCgroupPath(id);
  if (!isRootless()) return { cgroupPath: path, cgroupVersion: detectCgroupVersion() };
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
}

interface Prepared {
  place: Placement;
  init: boolean;
  ownUserns: boolean;
  cgroup: Cgroup;
  spawn: SpawnOptions;
}

/** Before the clone: checks, the cgroup with its limits, the config blob, the console socket. */
function prepareLaunch(opts: LaunchOptions, made: Made): Prepared {
  const { root, id, spec } = opts;
  if (spec.process?.terminal && opts.consoleSocket === undefined && opts.consoleFd === undefined) {
    throw new Error('process.terminal is set: a console socket is needed (--console-socket)');
  }
  if (isRootless() && !hasNamespace(spec, 'user')) {
    throw new SpecError('config.json: without root a container needs a user namespace with uid and gid mappings (tsbox-runtime spec --rootless writes one)');
  }
  const place = placement(spec, id);
  const resources = spec.linux?.resources;
  let cgroup: Cgroup;
  if (isRootless()) {
    cgroup = made.cgroup = place.cgroupPath ? openCgroup(place.cgroupPath, { version: 2, mountRoot: place.cgroupMount, delegated: place.cgroupDelegated }) : new NoCgroup(0);
    cgroup.create();
    applyRootless(cgroup, resources, opts.onWarning ?? ((m) => process.emitWarning(m)));
  } else {
    cgroup = made.cgroup = openCgroup(place.cgroupPath, { version: place.cgroupVersion });
    cgroup.create();
    // Device rules always: a spec without any gets runc's default (deny all but the standard nodes).
    cgroup.apply({ ...resources, devices: deviceRules(resources?.devices, spec.linux?.devices) });
  }

  if (opts.splitStart) native().mkfifo(fifoPath(root, id), 0o600);
  const init = initWanted(opts);
  const userns = hasNamespace(spec, 'user');
  const ownUserns = userns !== undefined && !userns.path;
  const config = containerBlob(spec, { initMode: init ? 'init' : 'exec', noPivot: opts.noPivot, setgroupsDeny: ownUserns && setgroupsDenied(spec.linux?.gidMappings) });
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
    },
  };
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
  const hookState = { ociVersion: OCI_VERSION, id, status: 'creating', pid: spawned.pid, bundle: opts.bundle, annotations: spec.annotations };
  runHooks('createRuntime', spec.hooks?.createRuntime, hookState);
  runHooks('prestart', spec.hooks?.prestart, hookState);

  letGo(spawned);
  return { state, spawned, cgroup: p.cgroup };
}

function failLaunch(opts: LaunchOptions, made: Made): void {
  if (opts.consoleFd === undefined) closeQuietly(made.consoleFd);
  abortLaunch(opts.root, opts.id, made.spawned, made.cgroup);
}

/**
 * Reserves the id, prepares the cgroup, clones tsbox-init, places it, runs the createRuntime and
 * prestart hooks and lets it go. The caller then reads the report fd. On any failure here,
 * everything created so far is undone.
 */
export function launch(opts: LaunchOptions): Launched {
  reserveId(opts.root, opts.id);
  const made: Made = {};
  try {
    const p = prepareLaunch(opts, made);
    return finishLaunch(opts, p, made, native().spawn(p.spawn));
  } catch (e) {
    failLaunch(opts, made);
    throw e;
  }
}

/** launch() with the clone on the addon's spawner thread: the API's way, so that many starts overlap. */
export async function launchAsync(opts: LaunchOptions): Promise<Launched> {
  reserveId(opts.root, opts.id);
  const made: Made = {};
  try {
    const p = prepareLaunch(opts, made);
    const spawned = await new Promise<Spawned>((resolve, reject) => native().spawnAsync(p.spawn, (e, s) => (e ? reject(e) : resolve(s!))));
    return finishLaunch(opts, p, made, spawned);
  } catch (e) {
    failLaunch(opts, made);
    throw e;
  }
}

/** Into its cgroups before go: tsbox-init entered them itself when given tasks files (v1), else by pid. */
export function placeSpawned(cgroup: Cgroup, spawned: Spawned): void {
  if (!cgroup.tasksFiles().length) cgroup.addProcess(spawned.pid);
}

/** The child waits for exactly one byte on the go pipe before it execs tsbox-init. */
export function letGo(spawned: Spawned): void {
  writeFileSync(spawned.goFd, 'g');
  closeQuietly(spawned.goFd);
}

/** Undoes a launch that failed: kill and reap the child, remove its cgroup and state. */
export function abortLaunch(root: string, id: string, spawned: Spawned | undefined, cgroup: Cgroup | undefined): void {
  if (spawned) {
    try {
      native().pidfdSignal(spawned.pidfd, 9);
    } catch {
      // already gone
    }
    closeQuietly(spawned.goFd);
    // The waiter thread reaps it; until then it is a zombie, which counts as gone.
    const pidfd = spawned.pidfd;
    native().watch(pidfd, () => closeQuietly(pidfd));
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

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Waits (up to timeoutMs) until pid is gone or a zombie. */
export function waitGoneSync(pid: number, timeoutMs = 10000): boolean {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; Date.now() < deadline; delay = Math.min(delay * 2, 50)) {
    if (procStartTime(pid) === undefined) return true;
    Atomics.wait(sleeper, 0, 0, delay);
  }
  return procStartTime(pid) === undefined;
}
