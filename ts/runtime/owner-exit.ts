// What runs when this process ends, whichever way it ends (ownership.ts says what is owned):
// - normal end, process.exit(), an uncaught exception: the 'exit' listener, synchronously;
// - SIGINT, SIGTERM, SIGHUP with no other listener: the same cleanup, then the signal is raised again with
//   its default effect, so the process dies of it as it would have without tsbox. An app that listens
//   decides itself (never swallowed, never decided by us); 'exit' still cleans up when it exits.
import { isMainThread } from 'node:worker_threads';

type Cleanup = () => void;
// Containers are killed first, then what went with them (engine records, sandbox layers).
const stages: [Map<string, Cleanup>, Map<string, Cleanup>] = [new Map(), new Map()];
let exitHook = false;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let signalHooks = false;

function cleanupAll(): void {
  for (const stage of stages) {
    for (const [key, fn] of [...stage]) {
      stage.delete(key);
      try {
        fn();
      } catch {
        // gone already, or nothing more to do at this point: the next start reaps what is left
      }
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  // Another listener makes the signal the app's to act on (save work on ^C, or ignore it): never
  // swallowed by us, never decided by us. The 'exit' listener still cleans up when it does exit.
  if (process.listenerCount(sig) > 1) return;
  cleanupAll();
  signalsOff();
  // No listener is left: the signal has its default effect again, and the process dies of it.
  process.kill(process.pid, sig);
}

const handlers = new Map<string, () => void>(SIGNALS.map((s) => [s, () => onSignal(s)]));

function signalsOn(): void {
  // Signals reach the main thread only; a worker's containers are cleaned up by its 'exit' and teardown.
  // Electron's main process quits gracefully on these signals itself (its 'exit' cleans up): a Node
  // listener would replace that handler.
  if (signalHooks || !isMainThread || process.versions.electron) return;
  signalHooks = true;
  for (const s of SIGNALS) process.on(s, handlers.get(s)!);
}

function signalsOff(): void {
  if (!signalHooks) return;
  signalHooks = false;
  for (const s of SIGNALS) process.removeListener(s, handlers.get(s)!);
}

/**
 * Runs fn synchronously when this process ends (stage 0: containers, killed first; stage 1: what goes
 * with them). The SIGINT/SIGTERM/SIGHUP handlers are installed only while something is owned.
 */
export function atOwnerExit(key: string, fn: Cleanup, stage: 0 | 1 = 1): void {
  stages[stage].set(key, fn);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', cleanupAll);
  }
  signalsOn();
}

let offPending = false;

export function cancelAtOwnerExit(key: string): void {
  for (const stage of stages) stage.delete(key);
  // Off once nothing is owned at the end of this turn of the event loop: a process starting containers
  // one after another owns the next one within the same turn, and each removal and installation costs a
  // signal watcher and a dozen system calls. A signal that comes meanwhile finds nothing to clean up and
  // is raised again with its default effect, as if the handler were gone (onSignal).
  if (stages[0].size || stages[1].size || offPending) return;
  offPending = true;
  setImmediate(() => {
    offPending = false;
    if (!stages[0].size && !stages[1].size) signalsOff();
  });
}
