// The restart policy's supervisor: one small detached process per container that has a policy (or --rm,
// which it removes once it exited).
// It waits for the container to stop and starts it again as --restart says, counting restarts.
import { liveState, loadRecord, saveRecord } from './containers.js';
import { launchRecord, removeContainerFiles } from './run.js';
import { removeAnonymousVolumes } from './volumes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function shouldRestart(policy: string, exitCode: number, restarts: number): boolean {
  if (policy === 'always' || policy === 'unless-stopped') return true;
  const m = /^on-failure(?::(\d+))?$/.exec(policy);
  if (!m || exitCode === 0) return false;
  return m[1] === undefined || restarts < Number(m[1]);
}

export async function monitor(root: string, id: string): Promise<void> {
  let delay = 100;
  for (;;) {
    const r = loadRecord(root, id);
    if (!r) return; // removed
    const s = liveState(root, r);
    if (s.Running) {
      await sleep(100);
      continue;
    }
    // docker run -d --rm: gone once it exited.
    if (r.Options.rm) {
      removeContainerFiles(root, id);
      removeAnonymousVolumes(root, r);
      return;
    }
    if (r.StoppedByUser || !shouldRestart(r.Options.restart, s.ExitCode, r.RestartCount ?? 0)) return;
    // docker backs off between restarts; so do we (capped), so a crash loop does not spin.
    await sleep(delay);
    delay = Math.min(delay * 2, 10000);
    const fresh = loadRecord(root, id);
    if (!fresh || fresh.StoppedByUser) return;
    fresh.RestartCount = (fresh.RestartCount ?? 0) + 1;
    saveRecord(root, fresh);
    // launchRecord would start another monitor: this one carries on instead.
    await launchRecord(root, { ...fresh, Options: { ...fresh.Options, restart: 'no' } }).then(() => {
      const after = loadRecord(root, id);
      if (after) saveRecord(root, { ...after, Options: fresh.Options });
    });
  }
}
