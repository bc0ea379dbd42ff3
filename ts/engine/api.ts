// The engine as a library: run an image like `tsbox run`, or spawn a sandboxed command like
// child_process.spawn. No TTY is assumed and nothing outlives the caller unless asked (Electron-safe).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { defaultRoot } from '../cli/common.js';
import { runContainer, type Container, type KillOptions, type Stdio } from '../runtime/api.js';
import { defaultStateRoot } from '../runtime/state.js';
import { parseRunArgs, type RunOptions } from './options.js';
import { removeContainerFiles, startContainer } from './run.js';
import { sandboxSpec } from './sandbox.js';
import { saveRecord } from './containers.js';
import { detachedLayerPrefix, disownRecord, layerPrefix, ownRecord, reapLayers, reapRecords, trackLayer, untrackLayer } from './ownership.js';

export interface RunImageOptions {
  image: string;
  cmd?: string[];
  env?: Record<string, string> | string[];
  /** Bind mounts: host path → container path (read-write), or docker -v strings. */
  mounts?: Record<string, string> | string[];
  limits?: { memory?: number; cpus?: number; pids?: number };
  /** none, host, or slirp4netns (user-mode networking, the rootless choice); default as for tsbox run. */
  network?: 'none' | 'host' | 'slirp4netns';
  workdir?: string;
  user?: string;
  /** Remove the container once it exits (default true). */
  remove?: boolean;
  /** tsbox root (images, containers); default /var/lib/tsbox as root, the XDG data dir otherwise. */
  root?: string;
  /**
   * Leave the container running when this process ends (default false: it is killed and removed then,
   * whichever way the process ends, SIGKILL included). A detached container is the caller's to stop
   * (`tsbox --root ROOT rm -f ID`).
   */
  detached?: boolean;
}

export interface EngineContainer {
  id: string;
  container: Container;
  pid: Container['pid'];
  /** child_process's events: 'spawn', 'exit', 'close' (after all output), 'error'. */
  on: Container['on'];
  once: Container['once'];
  closed: Container['closed'];
  stdout: Container['stdout'];
  stderr: Container['stderr'];
  stdin: Container['stdin'];
  exited: Container['exited'];
  kill: Container['kill'];
  /** docker stop: SIGTERM, then SIGKILL after the timeout (seconds). */
  stop: Container['stop'];
  exec: Container['exec'];
  stats: Container['stats'];
}

/** Like `tsbox run`: pulls the image when missing; stdio are streams; `exited` resolves with the status. */
export async function run(o: RunImageOptions): Promise<EngineContainer> {
  const root = o.root ?? defaultRoot();
  const env = Array.isArray(o.env) ? o.env : Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const volumes = Array.isArray(o.mounts) ? o.mounts : Object.entries(o.mounts ?? {}).map(([h, c]) => `${h}:${c}`);
  const argv = [
    ...env.flatMap((e) => ['-e', e]),
    ...volumes.flatMap((v) => ['-v', v]),
    ...(o.limits?.memory ? ['--memory', String(o.limits.memory)] : []),
    ...(o.limits?.cpus ? ['--cpus', String(o.limits.cpus)] : []),
    ...(o.limits?.pids ? ['--pids-limit', String(o.limits.pids)] : []),
    ...(o.workdir ? ['-w', o.workdir] : []),
    ...(o.user ? ['-u', o.user] : []),
    '--network', o.network ?? 'none',
    '-i',
    o.image,
    ...(o.cmd ?? []),
  ];
  const opts: RunOptions = parseRunArgs(argv);
  if (!o.detached) reapRecords(root);
  const { record, container } = await startContainer(root, opts, ['pipe', 'pipe', 'pipe'], o.detached ? undefined : (id) => ownRecord(root, id));
  const remove = o.remove ?? true;
  container.exited.then((st) => {
    if (remove) {
      removeContainerFiles(root, record.Id);
      disownRecord(root, record.Id);
    } else saveRecord(root, { ...record, ExitCode: st.code ?? 128 + (st.signal ?? 0), FinishedAt: new Date().toISOString() });
  });
  return {
    id: record.Id,
    container,
    pid: container.pid,
    on: container.on.bind(container),
    once: container.once.bind(container),
    closed: container.closed,
    stdout: container.stdout,
    stderr: container.stderr,
    stdin: container.stdin,
    exited: container.exited,
    kill: container.kill.bind(container),
    stop: container.stop.bind(container),
    exec: container.exec.bind(container),
    stats: container.stats.bind(container),
  };
}

export interface SpawnOptions extends KillOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
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
  if (!o.detached) reapLayers();
  const layerDir = mkdtempSync(o.detached ? detachedLayerPrefix() : layerPrefix());
  for (const d of ['upper', 'work', 'root']) mkdirSync(join(layerDir, d));
  const env = Object.entries(o.env ?? process.env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  try {
    const spec = sandboxSpec({ args: [command, ...args], layerDir, cwd: o.cwd, env, writable: o.writable, network: o.network });
    // A detached sandbox outlives us: its layer goes when it is deleted, whoever deletes it.
    if (o.detached) spec.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', 'cat >/dev/null; rm -rf "$1"', 'sh', layerDir] }] };
    else trackLayer(layerDir);
    const c = await runContainer({ id: `sandbox-${randomBytes(6).toString('hex')}`, spec, bundle: layerDir, root: defaultStateRoot(), stdio: o.stdio, timeout: o.timeout, killSignal: o.killSignal, signal: o.signal, detached: o.detached });
    c.exited.finally(() => {
      untrackLayer(layerDir);
      if (!o.detached) rmSync(layerDir, { recursive: true, force: true });
    });
    return c;
  } catch (e) {
    untrackLayer(layerDir);
    rmSync(layerDir, { recursive: true, force: true });
    throw e;
  }
}
