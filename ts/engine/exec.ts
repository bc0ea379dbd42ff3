// docker exec: another process in a running engine container, with its namespaces, cgroup, caps and seccomp,
// typed options in, a ContainerProcess out (its pipes, or the fds given, or a pty of its own with tty).
import { native } from '../native.js';
import { execLaunch, execProcess } from '../runtime/exec.js';
import { closeQuietly, watchLaunched } from '../runtime/report.js';
import { containerError } from '../errors.js';
import { ContainerProcess, openEnds, Pty, setupStdio, stdioTriple, type Stdio } from '../runtime/api.js';
import { readState } from '../runtime/state.js';
import { EngineError, liveState, mustFind, stateRoot } from './containers.js';
import { dirReader, resolveUser } from './spec.js';

// What an exec gives its callers (the CLI's relay, the API server).
export type { ContainerProcess, Pty, StdioOption } from '../runtime/api.js';

export interface ExecOptions {
  /** The command and its arguments (docker exec CONTAINER CMD...). */
  cmd: string[];
  /** KEY=VALUE over the container's environment (-e). */
  env?: string[];
  /** NAME|UID[:GROUP|GID] as the container's /etc/passwd and /etc/group resolve it (-u). */
  user?: string;
  /** Working directory (-w); default the container's. */
  workdir?: string;
  /** A pty of its own (-t): the process's terminal, on the returned process's `pty`; stdio then is its stdin/stdout/stderr only for what is not the terminal. */
  tty?: boolean;
  /**
   * stdin, stdout, stderr: 'pipe' (the returned process's streams), 'ignore', 'inherit' or an fd (default:
   * stdin ignored, stdout and stderr piped, docker exec without -i).
   */
  stdio?: Stdio;
}

/** Resolves once the process runs; rejects with EngineError (no such container, not running) or the process's setup error (CommandNotFoundError, NotExecutableError). */
export async function execContainer(root: string, idOrName: string, o: ExecOptions): Promise<ContainerProcess> {
  if (!o.cmd?.length) throw new TypeError('exec: want a command');
  const r = mustFind(root, idOrName);
  const live = liveState(root, r);
  if (!live.Running) throw new EngineError(`Container ${r.Id} is not running`, 'ERR_CONFLICT');
  let user;
  if (o.user) {
    // The container's own account files, read through its root (no path of the host's).
    const u = resolveUser(dirReader(`/proc/${live.Pid}/root`), o.user);
    user = { uid: u.uid, gid: u.gid, additionalGids: [] };
  }
  const state = stateRoot(root);
  const tty = o.tty === true;
  const proc = execProcess(readState(state, r.Id).spec.process, { args: o.cmd, env: o.env, cwd: o.workdir, user, terminal: tty });
  const io = setupStdio(o.stdio === undefined ? ['ignore', 'pipe', 'pipe'] : stdioTriple(o.stdio));
  const ptyPair = tty ? native().socketpair() : undefined;
  let l;
  try {
    l = execLaunch({ root: state, id: r.Id, process: proc, stdio: io.childFds, consoleFd: ptyPair?.[1] });
  } catch (e) {
    io.parentFds.forEach((fd) => fd !== undefined && closeQuietly(fd));
    ptyPair?.forEach(closeQuietly);
    throw e;
  } finally {
    io.toClose.forEach(closeQuietly);
    if (ptyPair) closeQuietly(ptyPair[1]);
  }
  const w = watchLaunched(l.spawned.pidfd, l.spawned.reportFd);
  const setup = await w.setup;
  if (setup.kind === 'error') {
    if (ptyPair) closeQuietly(ptyPair[0]);
    io.parentFds.forEach((fd) => fd !== undefined && closeQuietly(fd));
    await w.exit;
    closeQuietly(l.spawned.pidfd);
    throw containerError(setup.message, setup.errno);
  }
  let pty: Pty | null = null;
  if (ptyPair) {
    pty = new Pty(native().recvFd(ptyPair[0]));
    closeQuietly(ptyPair[0]);
  }
  return new ContainerProcess(l.spawned, openEnds(io), w.exit, () => undefined, pty);
}
