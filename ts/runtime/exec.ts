// A new process inside a running container: join all its namespaces and its cgroup, same caps and seccomp.
import { readFileSync } from 'node:fs';
import { native, type SpawnOptions, type Spawned } from '../native.js';
import type { Cgroup } from './cgroup/index.js';
import { execBlob } from './container-blob.js';
import { cloneAsync, letGo, placeSpawned } from './launch.js';
import { isRootless } from './rootless.js';
import { closeQuietly } from './report.js';
import type { NamespaceType, OciProcess } from './spec.js';
import { containerCgroup, readState, statusOf, type ContainerState } from './state.js';

const PROC_NS: Record<NamespaceType, string> = {
  user: 'user',
  mount: 'mnt',
  pid: 'pid',
  network: 'net',
  ipc: 'ipc',
  uts: 'uts',
  cgroup: 'cgroup',
  time: 'time',
};

export interface ExecOptions {
  root: string;
  id: string;
  process: OciProcess;
  stdio: [number, number, number];
  consoleSocket?: string;
  consoleFd?: number;
  /** fds the process gets as 3, 4, ... (runc exec --preserve-fds). */
  preserveFds?: number[];
}

export interface ExecLaunched {
  state: ContainerState;
  spawned: Spawned;
}

/** The container's process settings with overrides, as runc exec builds one without --process. */
export function execProcess(base: OciProcess | undefined, over: Partial<OciProcess> & { args: string[] }): OciProcess {
  const env = [...(base?.env ?? [])];
  for (const e of over.env ?? []) {
    const k = e.slice(0, e.indexOf('=') + 1);
    const i = k ? env.findIndex((x) => x.startsWith(k)) : -1;
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  return {
    ...(base ?? { cwd: '/', user: { uid: 0, gid: 0 } }),
    ...over,
    env,
    cwd: over.cwd ?? base?.cwd ?? '/',
    user: over.user ?? base?.user ?? { uid: 0, gid: 0 },
  } as OciProcess;
}

function readSetgroups(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim();
  } catch {
    return '';
  }
}

interface PreparedExec {
  state: ContainerState;
  spawn: SpawnOptions;
  cgroup: Cgroup;
  /** The console socket connection made here (closed once spawned). */
  consoleFd?: number;
}

function prepareExec(opts: ExecOptions): PreparedExec {
  const s = readState(opts.root, opts.id);
  const status = statusOf(opts.root, s);
  if (status !== 'running' && status !== 'created') throw new Error(`cannot exec in container ${opts.id}: it is ${status}`);
  if (opts.process.terminal && opts.consoleSocket === undefined && opts.consoleFd === undefined) {
    throw new Error('process.terminal is set: a console socket is needed (--console-socket)');
  }
  const joins = (s.spec.linux?.namespaces ?? [])
    .filter((n) => n.type !== 'time')
    .map((n) => ({ type: n.type, path: `/proc/${s.pid}/ns/${PROC_NS[n.type]}` }));
  // The clone itself happens in the container's pid namespace (setns on the cloning thread), so the pid
  // clients get is the process's, inside the container. Without root that setns needs rights only the
  // user namespace gives: tsbox-init joins after go and forks the process, staying outside itself.
  const pidJoin = joins.find((j) => j.type === 'pid');
  const viaInit = pidJoin !== undefined && isRootless();
  const initMode = viaInit ? 'init' : 'exec';
  // A container whose gid_map was written without privilege has setgroups denied, for its execs too.
  const setgroupsDeny = joins.some((j) => j.type === 'user') && readSetgroups(s.pid) === 'deny';
  const config = execBlob(s.spec, opts.process, { initMode, joins, setgroupsDeny, preserveFds: opts.preserveFds?.length });
  const cgroup = containerCgroup(s);
  const made = opts.consoleFd === undefined && opts.consoleSocket !== undefined ? native().unixConnect(opts.consoleSocket) : undefined;
  const consoleFd = opts.consoleFd ?? made;
  return {
    state: s,
    cgroup,
    consoleFd: made,
    spawn: {
      config,
      cloneFlags: 0,
      stdio: opts.stdio,
      consoleFd: opts.process.terminal ? consoleFd : undefined,
      cgroupTasks: cgroup.tasksFiles(),
      extraFds: opts.preserveFds,
      pidNamespace: pidJoin && !viaInit ? pidJoin.path : undefined,
    },
  };
}

/** Into the cgroup and go; on failure the child is killed (and reaped by the waiter). */
function finishExec(p: PreparedExec, spawned: Spawned): ExecLaunched {
  try {
    placeSpawned(p.cgroup, spawned);
    letGo(spawned);
    return { state: p.state, spawned };
  } catch (e) {
    try {
      native().pidfdSignal(spawned.pidfd, 9);
    } catch {
      // gone
    }
    const pidfd = spawned.pidfd;
    native().watch(pidfd, () => closeQuietly(pidfd));
    closeQuietly(spawned.goFd);
    closeQuietly(spawned.reportFd);
    throw e;
  }
}

export function execLaunch(opts: ExecOptions): ExecLaunched {
  const p = prepareExec(opts);
  try {
    return finishExec(p, native().spawn(p.spawn));
  } finally {
    closeQuietly(p.consoleFd);
  }
}

/** execLaunch() with the clone on the addon's spawner thread (or a runtime server's client). */
export async function execLaunchAsync(opts: ExecOptions): Promise<ExecLaunched> {
  const p = prepareExec(opts);
  try {
    return finishExec(p, await cloneAsync(p.spawn));
  } finally {
    closeQuietly(p.consoleFd);
  }
}
