// The engine as a library: containers and images with docker's names and object shapes, typed options in,
// docker's objects out. The CLI is one user of it; an embedder or an HTTP API server is another.
import type { Stats } from 'node:fs';
import { defaultRunOptions, type RunOptions } from './options.js';
import { defaultRoot } from './root.js';
import { EngineError, liveState, mustFind, saveRecord } from './containers.js';
import { removeContainerFiles, startContainer, type EngineHooks, type PullPolicy } from './run.js';
import { inspectRecord, listContainers, type ContainerInspect, type ContainerSummary, type ListOptions } from './inspect.js';
import {
  containerLogs, containerStats, killContainer, pauseContainer, removeContainer, renameContainer, restartContainer, startContainerRecord, stopContainer,
  topContainer, unpauseContainer, waitContainer, type ContainerStats, type LogEntry, type LogsOptions, type RemoveOptions, type StopOptions, type TopResult,
  type WaitCondition, type WaitResult,
} from './lifecycle.js';
import type { CommitOptions } from './commit.js';
import { Images } from './images.js';
import { createContainer, launchRecord } from './run.js';
import { attachContainer, type AttachOptions, type Attachment } from './attach.js';
import { containerChanges, type Change } from './changes.js';
import { copyIn, copyOut, exportContainer, statPath, type CopyInResult } from './archive.js';
import { updateContainer, type UpdateOptions } from './update.js';
import { readEvents, type EngineEvent, type EventsOptions } from './events.js';
import { recordExit, recordExits } from './container-events.js';
import type { Container, StdioOption } from '../runtime/api.js';
import type { Readable, Writable } from 'node:stream';
import { removeAnonymousVolumes, Volumes } from './volumes.js';
import { Networks } from './networks.js';
import { execContainer, type ExecOptions } from './exec.js';
import type { ContainerProcess } from '../runtime/api.js';
import { System } from './system.js';

export interface EngineOptions extends Omit<EngineHooks, 'pull'> {
  /** Where images, containers and networks live (default: $TSBOX_ROOT, /var/lib/tsbox as root, else the XDG data dir). */
  root?: string;
}

/** What `docker run -d` takes, as typed options; what is left out gets docker's default. */
export type CreateOptions = Partial<Omit<RunOptions, 'image' | 'detach'>> & {
  image: string;
  /** When to pull the image (docker run --pull; default 'missing'). */
  pull?: PullPolicy;
};

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

function runOptions({ pull: _, ...o }: CreateOptions): RunOptions {
  if (!o.image) throw new TypeError('create: want an image');
  const restart = o.restart ?? 'no';
  if (!RESTART.test(restart)) throw new RangeError(`invalid restart policy ${JSON.stringify(restart)}: want no, always, unless-stopped or on-failure[:N]`);
  if (o.rm && restart !== 'no') throw new RangeError('conflicting options: restart and rm');
  return {
    ...defaultRunOptions(o.image),
    ...o,
    restart,
    detach: true,
    // -i: its stdin stays open, fed through the attach socket.
    interactive: o.interactive ?? false,
  };
}

/** Containers, by id, unique id prefix or name. Errors docker's daemon would answer 404/409 with are EngineError. */
export class Containers {
  constructor(
    readonly root: string,
    private readonly hooks: EngineHooks = {},
  ) {}

  /**
   * docker run -d: creates and starts; resolves with the id once it runs (its output goes to its log).
   * The runtime watches the container's monitor until it exits, which keeps this process's event loop
   * alive meanwhile; the container outlives this process when it exits (as `tsbox run -d` does).
   */
  async run(o: CreateOptions): Promise<string> {
    const { record } = await startContainer(this.root, runOptions(o), undefined, { ...this.hooks, pull: o.pull });
    return record.Id;
  }

  /** docker create: the container, not started ("created"); resolves with its id. */
  async create(o: CreateOptions): Promise<string> {
    return (await createContainer(this.root, runOptions(o), { ...this.hooks, pull: o.pull })).Id;
  }

  /**
   * docker start -a: starts a created or stopped container with its stdio given here (pipes, fds),
   * instead of its log; resolves with the process once it runs. The caller waits for it and records
   * its exit with exited().
   */
  startAttached(idOrName: string, stdio: [StdioOption, StdioOption, StdioOption]): Promise<Container> {
    const r = mustFind(this.root, idOrName);
    if (liveState(this.root, r).Running) throw new EngineError(`container ${r.Name} is already running`, 'ERR_CONFLICT');
    return launchRecord(this.root, r, stdio, this.hooks);
  }

  /** After a process started attached (run in the foreground, start -a) exited: its exit code kept, its die event, --rm applied. */
  exited(idOrName: string, exitCode: number): void {
    const r = mustFind(this.root, idOrName);
    const at = Date.now();
    saveRecord(this.root, { ...r, ExitCode: exitCode, FinishedAt: new Date(at).toISOString() });
    recordExit(this.root, r, exitCode, at);
    // docker run --rm: the container's anonymous volumes go with it.
    if (r.Options.rm) {
      removeContainerFiles(this.root, r.Id);
      removeAnonymousVolumes(this.root, r);
    }
  }

  /** docker attach: the running container's output from now on, and its stdin when it has one open (-i). */
  attach(idOrName: string, o: AttachOptions = {}): Promise<Attachment> {
    return attachContainer(this.root, idOrName, o);
  }

  /**
   * docker exec: cmd in the running container (its namespaces, cgroup, caps, seccomp); resolves once it
   * runs with the process (its streams per stdio, its pty with tty; await exitStatus for the code).
   */
  exec(idOrName: string, o: ExecOptions): Promise<ContainerProcess> {
    return execContainer(this.root, idOrName, o);
  }

  /** docker diff: the changes of the container's writable layer against its image. */
  changes(idOrName: string): Change[] {
    return containerChanges(this.root, idOrName);
  }

  /** docker export: the container's filesystem as a tar stream written to out. */
  export(idOrName: string, out: Writable): Promise<void> {
    return exportContainer(this.root, idOrName, out);
  }

  /** What is at PATH in the container, its last symlink not followed (EngineError ERR_NO_SUCH_PATH when nothing). */
  statPath(idOrName: string, path: string): { name: string; stats: Stats } {
    return statPath(this.root, idOrName, path);
  }

  /** docker cp CONTAINER:PATH -: PATH as a tar stream written to out. */
  copyOut(idOrName: string, path: string, out: Writable, o: { followLink?: boolean } = {}): Promise<void> {
    return copyOut(this.root, idOrName, path, out, o);
  }

  /** docker cp - CONTAINER:PATH: a tar stream extracted into the directory PATH (safely: nothing outside it, no devices). */
  copyIn(idOrName: string, path: string, input: Readable): Promise<CopyInResult> {
    return copyIn(this.root, idOrName, path, input);
  }

  /** docker update (the restart policy). */
  update(idOrName: string, o: UpdateOptions): void {
    updateContainer(this.root, idOrName, o);
  }

  list(o: ListOptions = {}): ContainerSummary[] {
    return listContainers(this.root, o);
  }

  inspect(idOrName: string): ContainerInspect {
    return inspectRecord(this.root, mustFind(this.root, idOrName));
  }

  start(idOrName: string): Promise<void> {
    return startContainerRecord(this.root, idOrName, this.hooks);
  }

  stop(idOrName: string, o: StopOptions = {}): Promise<void> {
    return stopContainer(this.root, idOrName, o);
  }

  kill(idOrName: string, signal: string | number = 'SIGKILL'): void {
    killContainer(this.root, idOrName, signal);
  }

  restart(idOrName: string, o: { timeout?: number } = {}): Promise<void> {
    return restartContainer(this.root, idOrName, o, this.hooks);
  }

  remove(idOrName: string, o: RemoveOptions = {}): void {
    removeContainer(this.root, idOrName, o);
  }

  pause(idOrName: string): void {
    pauseContainer(this.root, idOrName);
  }

  unpause(idOrName: string): void {
    unpauseContainer(this.root, idOrName);
  }

  wait(idOrName: string, o: { condition?: WaitCondition; signal?: AbortSignal } = {}): Promise<WaitResult> {
    return waitContainer(this.root, idOrName, o);
  }

  /** An async iterator of log entries (for await ... of); with follow it ends when the container stops. */
  logs(idOrName: string, o: LogsOptions = {}): AsyncGenerator<LogEntry> {
    return containerLogs(this.root, idOrName, o);
  }

  rename(idOrName: string, newName: string): void {
    renameContainer(this.root, idOrName, newName);
  }

  top(idOrName: string, psArgs?: string[]): TopResult {
    return topContainer(this.root, idOrName, psArgs);
  }

  /** docker commit: the container's changes as a new image over its own; resolves with its id and manifest digest. */
  async commit(idOrName: string, o: CommitOptions = {}): Promise<{ id: string; digest: string }> {
    const { commitContainer } = await import('./commit.js');
    return commitContainer(this.root, idOrName, o);
  }

  stats(idOrName: string, o: { interval?: number } = {}): Promise<ContainerStats> {
    return containerStats(this.root, idOrName, o);
  }
}

export class Engine {
  readonly root: string;
  readonly containers: Containers;
  readonly images: Images;
  readonly volumes: Volumes;
  readonly networks: Networks;
  readonly system: System;

  constructor(o: EngineOptions = {}) {
    this.root = o.root ?? defaultRoot();
    this.containers = new Containers(this.root, { onWarning: o.onWarning, onProgress: o.onProgress });
    this.images = new Images(this.root);
    this.volumes = new Volumes(this.root);
    this.networks = new Networks(this.root);
    this.system = new System(this.root, this.images, this.networks);
  }

  /** docker events: what the engine recorded, since/until/filters, then (follow, the default) what happens next. */
  events(o: EventsOptions = {}): AsyncGenerator<EngineEvent> {
    return readEvents(this.root, { ...o, poll: () => recordExits(this.root) });
  }
}

/** new Engine({ root }). */
export function engine(root?: string): Engine {
  return new Engine({ root });
}
