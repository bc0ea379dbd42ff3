// The OCI lifecycle on a container that exists: start, state, kill, pause, resume, delete, ps.
import { closeSync, openSync, readdirSync, readSync, readFileSync, unlinkSync, constants as fsc } from 'node:fs';
import { native } from '../native.js';
import { waitGoneSync } from './launch.js';
import { runHooks } from './hooks.js';
import { OCI_VERSION } from './spec.js';
import { containerCgroup, fifoPath, isAlive, readState, removeStateDir, reservedCgroup, stateDir, statusOf, withLock, writeState, type ContainerState, type Status } from './state.js';
import { checkResources, mergeResources, resourcesToApply } from './cgroup/update.js';
import type { LinuxResources } from './cgroup/types.js';
import { signalNumber } from './signals.js';
import { closeQuietly } from './report.js';
import { sleepSync } from './sleep-sync.js';

export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function ociState(root: string, s: ContainerState): OciState {
  const status = statusOf(root, s);
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: status === 'stopped' ? 0 : s.pid,
    status,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    owner: s.owner,
    annotations: s.annotations,
  };
}

export function state(root: string, id: string): OciState {
  return ociState(root, readState(root, id));
}

/** Told what failed without failing the operation (a poststart or poststop hook); default: ignored. */
export type WarningSink = (message: string) => void;
const ignore: WarningSink = () => undefined;

/** Lets a created container's process run: reads the byte tsbox-init writes to exec.fifo. */
export function start(root: string, id: string, onWarning: WarningSink = ignore): void {
  withLock(root, id, () => {
    const s = readState(root, id);
    const status = statusOf(root, s);
    if (status !== 'created') throw new Error(`cannot start container ${id}: it is ${status}, not created`);
    const fifo = fifoPath(root, id);
    // O_NONBLOCK: a dead init never opens the other end, and a blocking open would hang forever.
    const fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    try {
      const b = Buffer.alloc(1);
      const deadline = Date.now() + 10000;
      for (;;) {
        let n = -1;
        try {
          n = readSync(fd, b, 0, 1, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        if (n === 1) break;
        if ((n === 0 && !isAlive(s)) || Date.now() > deadline) {
          throw new Error(`cannot start container ${id}: its init exited before start`);
        }
        sleepSync(1);
      }
    } finally {
      closeSync(fd);
    }
    unlinkSync(fifo);
    try {
      runHooks('poststart', s.spec.hooks?.poststart, { ociVersion: OCI_VERSION, id, status: 'running', pid: s.pid, bundle: s.bundle, annotations: s.annotations });
    } catch (e) {
      // The spec says a failing poststart hook is logged, not fatal.
      onWarning((e as Error).message);
    }
  });
}

export function kill(root: string, id: string, signal: string | number, all = false): void {
  const sig = signalNumber(signal);
  withLock(root, id, () => {
    const s = readState(root, id);
    const status = statusOf(root, s);
    if (all) {
      // A stopped container too, as runc: what its process left in a shared pid namespace lives on in its
      // cgroup, and containerd's shim ends it so (then waits for its stdio to close). Only through a cgroup:
      // without one the recorded pid may name another process by now.
      const cg = containerCgroup(s);
      if (status === 'stopped' && !cg.exists()) return;
      cg.kill(sig);
      // A frozen task only dies once thawed (v1 freezer).
      if (sig === 9 && status === 'paused') cg.thaw();
      // SIGKILL: returns once they are gone (their fds closed): containerd's shim reports the exit right
      // after, and the CRI closes the stdio pipes then, losing what a survivor still held open.
      if (sig === 9) {
        // One bound for all of them (2 s), not one per survivor.
        const deadline = Date.now() + 2000;
        for (const pid of cg.procs()) waitGoneSync(pid, Math.max(0, deadline - Date.now()));
      }
      return;
    }
    if (status === 'stopped') throw new Error(`cannot kill container ${id}: container not running`);
    signalPid(s, sig);
  });
}

function signalPid(s: ContainerState, sig: number): void {
  let pidfd: number;
  try {
    pidfd = native().pidfdOpen(s.pid);
  } catch {
    return; // exited meanwhile
  }
  try {
    // The pidfd pins the process: check it is still ours before signalling (pid reuse).
    if (!isAlive(s)) return;
    native().pidfdSignal(pidfd, sig);
  } catch (e) {
    // It exited between the check and the signal: nothing left to signal.
    if (!/ESRCH/.test((e as Error).message)) throw e;
  } finally {
    closeQuietly(pidfd);
  }
}

export function pause(root: string, id: string): void {
  withLock(root, id, () => {
    const s = readState(root, id);
    const status = statusOf(root, s);
    if (status !== 'running' && status !== 'created') throw new Error(`cannot pause container ${id}: it is ${status}`);
    containerCgroup(s).freeze();
  });
}

export function resume(root: string, id: string): void {
  withLock(root, id, () => {
    const s = readState(root, id);
    const status = statusOf(root, s);
    if (status !== 'paused') throw new Error(`cannot resume container ${id}: it is ${status}, not paused`);
    containerCgroup(s).thaw();
  });
}

/**
 * Removes a stopped container (or, with force, kills it first): cgroup, poststop hooks, state.
 * Idempotent on a half-deleted container. `reaped`: the caller holds the state it wrote and has reaped
 * the process (the API), so neither the file nor /proc need to be read again.
 */
export function remove(root: string, id: string, force = false, reaped?: ContainerState, onWarning: WarningSink = ignore): void {
  // A create killed between its mkdir and its reservation file leaves an empty directory only (never so
  // for `reaped`: its caller wrote the state there).
  if (force && !reaped && isEmptyReservation(root, id)) return removeStateDir(root, id);
  withLock(root, id, () => {
    let s: ContainerState;
    try {
      s = reaped ?? readState(root, id);
    } catch (e) {
      // A create killed before writing state.json leaves the directory, and maybe the cgroup it named.
      if (!force) throw e;
      const cg = reservedCgroup(root, id);
      if (cg) cg.destroy();
      return removeStateDir(root, id);
    }
    const status = reaped ? 'stopped' : statusOf(root, s);
    const cg = containerCgroup(s);
    if (status !== 'stopped') {
      if (!force) throw new Error(`cannot delete container ${id} that is not stopped: ${status}`);
      try {
        cg.kill(9);
        if (status === 'paused') cg.thaw();
      } catch {
        // no cgroup: the pid below is enough
      }
      signalPid(s, 9);
      if (!waitGoneSync(s.pid)) throw new Error(`delete ${id}: pid ${s.pid} did not exit after SIGKILL`);
    }
    // Exec'd processes may outlive init briefly: destroy kills them when the cgroup is busy.
    try {
      cg.destroy();
    } catch (e) {
      throw new Error(`delete ${id}: ${(e as Error).message}`);
    }
    try {
      runHooks('poststop', s.spec.hooks?.poststop, { ociVersion: OCI_VERSION, id, status: 'stopped', bundle: s.bundle, annotations: s.annotations });
    } catch (e) {
      onWarning((e as Error).message);
    }
    removeStateDir(root, id);
  });
}

function isEmptyReservation(root: string, id: string): boolean {
  try {
    return readdirSync(stateDir(root, id)).length === 0;
  } catch {
    return false;
  }
}

/** Host pids of every process in the container (its cgroup). */
export function pids(root: string, id: string): number[] {
  const s = readState(root, id);
  if (statusOf(root, s) === 'stopped') return [];
  return containerCgroup(s).procs();
}

/**
 * Changes the limits of a live container (runc update): the set values of `change` are written to its
 * cgroup and recorded in its state's spec, so that `state` and later reads agree with the cgroup.
 */
export function update(root: string, id: string, change: unknown): LinuxResources {
  checkResources(change);
  return withLock(root, id, () => {
    const s = readState(root, id);
    const status = statusOf(root, s);
    if (status === 'stopped') throw new Error(`cannot update container ${id}: container not running`);
    if (!s.cgroupPath) throw new Error(`cannot update container ${id}: it has no cgroup (rootless without a delegated cgroup v2 subtree)`);
    const current = s.spec.linux?.resources;
    const apply = resourcesToApply(current, change);
    containerCgroup(s).apply(apply);
    const merged = mergeResources(current, apply);
    s.spec.linux = { ...s.spec.linux, resources: merged };
    writeState(root, s);
    return merged;
  });
}

export function readPidFile(path: string): number {
  return Number(readFileSync(path, 'utf8').trim());
}

export { stateDir };
