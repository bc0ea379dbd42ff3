// The engine as a library: run an image like `tsbox run`, or spawn a sandboxed command like
// child_process.spawn. No TTY is assumed and nothing outlives the caller unless asked (Electron-safe).
import { defaultRoot } from './root.js';
import { apiSignal, envList, stdioTriple, type Container, type Input, type KillOptions, type Stdio } from '../runtime/api.js';
import { checkRunOptions, defaultRunOptions, type RunOptions } from './options.js';
import { UsageError } from '../errors.js';
import { removeContainerFiles, startContainer, type PullPolicy, type PullProgress } from './run.js';
import { runSandbox } from './sandbox-run.js';
import { saveRecord } from './containers.js';
import { disownRecord, ownRecord, reapRecords } from './ownership.js';

export interface RunImageOptions extends KillOptions {
  image: string;
  cmd?: string[];
  env?: Record<string, string | undefined> | string[];
  /** Bind mounts: host path → container path (read-write), or docker -v strings. */
  mounts?: Record<string, string> | string[];
  limits?: { memory?: number; cpus?: number; pids?: number };
  /** none, host, or slirp4netns (user-mode networking, the rootless choice); default none. */
  network?: 'none' | 'host' | 'slirp4netns';
  /** Working directory inside the container (child_process's cwd; workdir is the same). */
  cwd?: string;
  workdir?: string;
  user?: string;
  /** Remove the container once it exits (default true). */
  remove?: boolean;
  /** tsbox root (images, containers); default /var/lib/tsbox as root, the XDG data dir otherwise. */
  root?: string;
  /** stdin, stdout, stderr (default 'pipe' each), or one for all three. */
  stdio?: Stdio;
  /** Written to stdin, which is then ended (execa's `input`). */
  input?: Input;
  /** tsbox-init as pid 1, a reaper that forwards signals (docker run --init). Without it the command is pid 1 and ignores signals it has no handler for. */
  init?: boolean;
  /** When to pull the image: 'missing' (default), 'always' or 'never' (ImageNotFoundError at once). */
  pull?: PullPolicy;
  /** Pull progress (nothing is written to the host's stdout/stderr). */
  onProgress?: (p: PullProgress) => void;
  /** What could not be done as asked (rootless limits without a cgroup). Default: ignored. */
  onWarning?: (message: string) => void;
  /**
   * Leave the container running when this process ends (default false: it is killed and removed then,
   * whichever way the process ends, SIGKILL included). A detached container is the caller's to stop
   * (`tsbox --root ROOT rm -f ID`).
   */
  detached?: boolean;
}

/** What run() gives: the same class as runContainer's, with the engine's container name set. */
export type EngineContainer = Container & { name: string };

/**
 * Like `tsbox run`: pulls the image as `pull` says; stdio are streams; `closed` resolves with the status
 * once all output is read. Rejects when the container cannot be set up (ImageNotFoundError,
 * CommandNotFoundError, ...).
 */
export async function run(o: RunImageOptions): Promise<EngineContainer> {
  const root = o.root ?? defaultRoot();
  const env = envList(o.env ?? {});
  const volumes = Array.isArray(o.mounts) ? o.mounts : Object.entries(o.mounts ?? {}).map(([h, c]) => `${h}:${c}`);
  const workdir = o.cwd ?? o.workdir;
  const stdio = stdioTriple(o.stdio);
  if (o.killSignal !== undefined) apiSignal(o.killSignal);
  if (o.input !== undefined && stdio[0] !== 'pipe') throw new TypeError('input needs stdin to be a pipe (stdio[0] = "pipe")');
  // The engine's typed options, as `tsbox run -i --network none IMAGE` with these flags would give them.
  const opts: RunOptions = {
    ...defaultRunOptions(o.image),
    cmd: o.cmd ?? [],
    interactive: true,
    env,
    volumes,
    ...(o.limits?.memory ? { memory: Math.round(o.limits.memory) } : {}),
    ...(o.limits?.cpus ? { cpus: o.limits.cpus } : {}),
    ...(o.limits?.pids ? { pidsLimit: o.limits.pids } : {}),
    ...(workdir ? { workdir } : {}),
    ...(o.user ? { user: o.user } : {}),
    init: o.init === true,
    network: o.network ?? 'none',
    labels: {},
    networkAlias: [],
  };
  if (!opts.image) throw new UsageError('"tsbox run" requires at least 1 argument: IMAGE [COMMAND] [ARG...]');
  checkRunOptions(opts);
  reapRecords(root);
  let owned: string | undefined;
  const own = o.detached ? undefined : (id: string) => ownRecord(root, (owned = id));
  let started;
  try {
    started = await startContainer(root, opts, stdio, { pull: o.pull, onProgress: o.onProgress, onWarning: o.onWarning, own });
  } catch (e) {
    // Nothing of it is left (startContainer removed what it made): nothing to do at exit either.
    if (owned) disownRecord(root, owned);
    throw e;
  }
  const { record, container } = started;
  const remove = o.remove ?? true;
  const c = container as EngineContainer;
  c.exitStatus
    .then((st) => {
      if (remove) {
        removeContainerFiles(root, record.Id);
        disownRecord(root, record.Id);
      } else saveRecord(root, { ...record, ExitCode: st.code ?? 128 + (st.signal ?? 0), FinishedAt: new Date().toISOString() });
    })
    .catch((e: Error) => c.listenerCount('error') && c.emit('error', e));
  c.name = record.Name;
  c.watchKill(o);
  c.feed(o.input);
  return c;
}

export interface SpawnOptions extends KillOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then ended (execa's `input`). */
  input?: Input;
  /** One option for all three, or one each (child_process's forms; default 'pipe'). */
  stdio?: Stdio;
  /** Extra host paths the command may write. */
  writable?: string[];
  network?: boolean;
  /**
   * Leave the sandbox running when this process ends (default false: it is killed and its layer removed
   * then, whichever way the process ends). A detached one is the caller's to stop and `delete()`.
   */
  detached?: boolean;
}

/**
 * child_process.spawn, sandboxed: the host's filesystem read-only under a private layer, cwd writable,
 * no network, own pid/ipc/uts. Resolves once the process runs; its layer goes away when it exits.
 */
export async function spawn(command: string, args: string[] = [], o: SpawnOptions = {}): Promise<Container> {
  const env = Object.entries(o.env ?? process.env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  return runSandbox({ ...o, args: [command, ...args], env });
}
