// docker update --restart: the policy changes in the record; a running container that had none gets
// the supervisor that applies it (one with a policy already has one, which reads the record each time).
import { EngineError, liveState, loadRecord, mustFind, saveRecord } from './containers.js';
import { startMonitor } from './run.js';
import { containerEvent } from './container-events.js';

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

export interface UpdateOptions {
  /** docker's restart policy: no, always, unless-stopped, on-failure[:N]. */
  restart?: string;
}

export function updateContainer(root: string, ref: string, o: UpdateOptions): void {
  const r = mustFind(root, ref);
  if (o.restart === undefined) return;
  if (!RESTART.test(o.restart)) throw new RangeError(`invalid restart policy ${JSON.stringify(o.restart)}: want no, always, unless-stopped or on-failure[:N]`);
  if (r.Options.rm && o.restart !== 'no') throw new EngineError('Cannot update container: Restart policy cannot be updated because AutoRemove is enabled for the container', 'ERR_CONFLICT');
  const had = r.Options.restart;
  const fresh = loadRecord(root, r.Id) ?? r;
  saveRecord(root, { ...fresh, Options: { ...fresh.Options, restart: o.restart } });
  if (had === 'no' && o.restart !== 'no' && fresh.Options.detach && liveState(root, fresh).Running) startMonitor(root, r.Id);
  containerEvent(root, fresh, 'update');
}
