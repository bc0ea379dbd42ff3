// docker update: resources (written to a running container's cgroup, as runc update does, and kept in
// its record for its next start) and the restart policy (a running container that had none gets the
// supervisor that applies it; one with a policy already has one, which reads the record each time).
import * as ops from '../runtime/operations.js';
import { EngineError, liveState, loadRecord, mustFind, saveRecord, stateRoot } from './containers.js';
import { startMonitor } from './run.js';
import { containerEvent } from './container-events.js';
import type { RunOptions } from './options.js';

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

export interface UpdateOptions extends Partial<Pick<RunOptions, 'memory' | 'memorySwap' | 'cpus' | 'cpuShares' | 'cpuQuota' | 'cpuPeriod' | 'cpusetCpus' | 'pidsLimit'>> {
  /** docker's restart policy: no, always, unless-stopped, on-failure[:N]. */
  restart?: string;
  /** Removed once it exits (--rm), from now on: run -t's client detached before the exit. */
  autoRemove?: boolean;
}

const RESOURCE_KEYS = ['memory', 'memorySwap', 'cpus', 'cpuShares', 'cpuQuota', 'cpuPeriod', 'cpusetCpus', 'pidsLimit'] as const;

/** The OCI resources of the fields given (as spec.ts builds them at create). */
function resourcesOf(o: UpdateOptions, current: RunOptions): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  if (o.memory !== undefined || o.memorySwap !== undefined) {
    const limit = o.memory ?? current.memory;
    if (limit === undefined) throw new EngineError('Cannot update container: memory-swap needs a memory limit too', 'ERR_CONFLICT');
    const swap = o.memorySwap ?? (o.memory !== undefined ? o.memory * 2 : current.memorySwap);
    if (swap !== undefined && swap !== -1 && swap < limit) throw new EngineError('Cannot update container: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time', 'ERR_CONFLICT');
    r.memory = { limit, ...(swap !== undefined ? { swap } : {}) };
  }
  if (o.cpus !== undefined || o.cpuShares !== undefined || o.cpuQuota !== undefined || o.cpuPeriod !== undefined || o.cpusetCpus !== undefined) {
    r.cpu = {
      ...(o.cpus !== undefined ? { quota: Math.round(o.cpus * 100000), period: 100000 } : {}),
      ...(o.cpuQuota !== undefined ? { quota: o.cpuQuota } : {}),
      ...(o.cpuPeriod !== undefined ? { period: o.cpuPeriod } : {}),
      ...(o.cpuShares !== undefined ? { shares: o.cpuShares } : {}),
      ...(o.cpusetCpus !== undefined ? { cpus: o.cpusetCpus } : {}),
    };
  }
  if (o.pidsLimit !== undefined) r.pids = { limit: o.pidsLimit };
  return r;
}

export function updateContainer(root: string, ref: string, o: UpdateOptions): void {
  const r = mustFind(root, ref);
  if (o.restart !== undefined) {
    if (!RESTART.test(o.restart)) throw new RangeError(`invalid restart policy ${JSON.stringify(o.restart)}: want no, always, unless-stopped or on-failure[:N]`);
    if (r.Options.rm && o.restart !== 'no') throw new EngineError('Cannot update container: Restart policy cannot be updated because AutoRemove is enabled for the container', 'ERR_CONFLICT');
  }
  const resources = resourcesOf(o, r.Options);
  // The running container's cgroup first: what it refuses (a limit below its usage) changes nothing.
  if (Object.keys(resources).length && liveState(root, r).Running) {
    try {
      ops.update(stateRoot(root), r.Id, { ...resources });
    } catch (e) {
      throw new EngineError(`Cannot update container ${r.Id}: ${(e as Error).message}`, 'ERR_ENGINE');
    }
  }
  const fresh = loadRecord(root, r.Id) ?? r;
  const options: RunOptions = { ...fresh.Options };
  for (const k of RESOURCE_KEYS) if (o[k] !== undefined) (options as unknown as Record<string, unknown>)[k] = o[k];
  if (o.memory !== undefined && o.memorySwap === undefined) options.memorySwap = undefined;
  if (o.cpus !== undefined) {
    options.cpuQuota = undefined;
    options.cpuPeriod = undefined;
  }
  const had = fresh.Options.restart;
  if (o.restart !== undefined) options.restart = o.restart;
  if (o.autoRemove !== undefined) {
    if (o.autoRemove && options.restart !== 'no') throw new EngineError('Cannot update container: conflicting options: restart and rm', 'ERR_CONFLICT');
    options.rm = o.autoRemove;
  }
  saveRecord(root, { ...fresh, Options: options });
  const supervised = had !== 'no' || fresh.Options.rm;
  // The supervisor removes an exited --rm container too: one that exited already goes now.
  if (o.autoRemove && !supervised) startMonitor(root, r.Id);
  else if (o.restart !== undefined && had === 'no' && o.restart !== 'no' && fresh.Options.detach && liveState(root, fresh).Running && !supervised) startMonitor(root, r.Id);
  containerEvent(root, fresh, 'update');
}
