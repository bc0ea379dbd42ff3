// Starting a container's first process: cgroup, clone through the addon, id maps, hooks, "go".
// Shared by the runtime CLI (create/run) and the API; they differ only in how they read the reports.
import { writeFileSync, unlinkSync } from 'node:fs';
import { native, type Spawned } from '../native.js';
import { defaultCgroupPath, detectCgroupVersion, openCgroup, type Cgroup } from './cgroup/index.js';
import { cloneFlagsFor, containerBlob } from './container-blob.js';
import { deviceRules } from './cgroup/devices.js';
import { runHooks } from './hooks.js';
import { closeQuietly } from './report.js';
import { hasNamespace, OCI_VERSION, type OciIdMapping, type OciSpec } from './spec.js';
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

function writeIdMap(pid: number, file: 'uid_map' | 'gid_map', maps: OciIdMapping[] | undefined): void {
  const text = (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
  try {
    writeFileSync(`/proc/${pid}/${file}`, text);
  } catch (e) {
    throw new Error(`write /proc/${pid}/${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/**
 * Reserves the id, prepares the cgroup, clones tsbox-init, places it, runs the createRuntime and
 * prestart hooks and lets it go. The caller then reads the report fd. On any failure here,
 * everything created so far is undone.
 */
export function launch(opts: LaunchOptions): Launched {
  const { root, id, spec } = opts;
  reserveId(root, id);
  let cgroup: Cgroup | undefined;
  let spawned: Spawned | undefined;
  let consoleFd: number | undefined;
  try {
    if (spec.process?.terminal && opts.consoleSocket === undefined && opts.consoleFd === undefined) {
      throw new Error('process.terminal is set: a console socket is needed (--console-socket)');
    }
    const cgroupVersion = detectCgroupVersion();
    const cgroupPath = spec.linux?.cgroupsPath || defaultCgroupPath(id);
    cgroup = openCgroup(cgroupPath, { version: cgroupVersion });
    cgroup.create();
    const resources = spec.linux?.resources;
    cgroup.apply(resources && { ...resources, devices: deviceRules(resources.devices, spec.linux?.devices) });

    if (opts.splitStart) native().mkfifo(fifoPath(root, id), 0o600);
    const init = initWanted(opts);
    const config = containerBlob(spec, { initMode: init ? 'init' : 'exec', noPivot: opts.noPivot });
    consoleFd = opts.consoleFd ?? (opts.consoleSocket !== undefined ? native().unixConnect(opts.consoleSocket) : undefined);

    spawned = native().spawn({
      config,
      cloneFlags: cloneFlagsFor(spec),
      stdio: opts.stdio,
      fifoPath: opts.splitStart ? fifoPath(root, id) : undefined,
      consoleFd: spec.process?.terminal ? consoleFd : undefined,
      statusFd: opts.statusFd,
    });
    if (opts.consoleFd === undefined) closeQuietly(consoleFd);
    consoleFd = undefined;

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
      cgroupPath,
      cgroupVersion,
      initMode: init ? 'init' : 'exec',
      spec,
    };
    // Written before the process may run: a crash of this process from here on leaves a state
    // that names the pid, so "delete --force" can clean up.
    writeState(root, state);

    const userns = hasNamespace(spec, 'user');
    if (userns && !userns.path) {
      writeIdMap(spawned.pid, 'uid_map', spec.linux?.uidMappings);
      writeIdMap(spawned.pid, 'gid_map', spec.linux?.gidMappings);
    }
    cgroup.addProcess(spawned.pid);
    opts.beforeStart?.(spawned.pid);
    const hookState = { ociVersion: OCI_VERSION, id, status: 'creating', pid: spawned.pid, bundle: opts.bundle, annotations: spec.annotations };
    runHooks('createRuntime', spec.hooks?.createRuntime, hookState);
    runHooks('prestart', spec.hooks?.prestart, hookState);

    letGo(spawned);
    return { state, spawned, cgroup };
  } catch (e) {
    if (opts.consoleFd === undefined) closeQuietly(consoleFd);
    abortLaunch(root, id, spawned, cgroup);
    throw e;
  }
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
