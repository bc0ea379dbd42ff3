// The engine as a library: containers and images with docker's names and object shapes, typed options in,
// docker's objects out. The CLI is one user of it; an embedder or an HTTP API server is another.
import type { RunOptions } from './options.js';
import { defaultRoot } from './root.js';
import { mustFind } from './containers.js';
import { startContainer, type EngineHooks, type PullPolicy } from './run.js';
import { inspectRecord, listContainers, type ContainerInspect, type ContainerSummary, type ListOptions } from './inspect.js';
import {
  containerLogs, containerStats, killContainer, pauseContainer, removeContainer, renameContainer, restartContainer, startContainerRecord, stopContainer,
  topContainer, unpauseContainer, waitContainer, type ContainerStats, type LogEntry, type LogsOptions, type RemoveOptions, type StopOptions, type TopResult,
  type WaitCondition, type WaitResult,
} from './lifecycle.js';
import type { CommitOptions } from './commit.js';
import { Images } from './images.js';
import { Volumes } from './volumes.js';
import { Networks } from './networks.js';

export interface EngineOptions extends Omit<EngineHooks, 'pull'> {
  /** Where images, containers and networks live (default: $TSBOX_ROOT, /var/lib/tsbox as root, else the XDG data dir). */
  root?: string;
}

/** What `docker run -d` takes, as typed options; what is left out gets docker's default. */
export type CreateOptions = Partial<Omit<RunOptions, 'image' | 'detach' | 'interactive'>> & {
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
    cmd: [], rm: false, tty: false, env: [], volumes: [], mounts: [], tmpfs: [], readOnly: false, init: false, privileged: false, capAdd: [], capDrop: [],
    securityOpt: [], ulimits: [], sysctls: [], network: 'default', publish: [], publishAll: false, dns: [], dnsSearch: [], addHost: [],
    ...o,
    restart,
    detach: true,
    interactive: false,
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

  constructor(o: EngineOptions = {}) {
    this.root = o.root ?? defaultRoot();
    this.containers = new Containers(this.root, { onWarning: o.onWarning, onProgress: o.onProgress });
    this.images = new Images(this.root);
    this.volumes = new Volumes(this.root);
    this.networks = new Networks(this.root);
  }
}

/** new Engine({ root }). */
export function engine(root?: string): Engine {
  return new Engine({ root });
}
