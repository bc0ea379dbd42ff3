// docker attach to a detached container: its output from now on, read from the json-file log the
// monitor writes. The monitor serves no terminal or stdin to later clients yet, so input is not passed on
// (only the detach keys and the signals docker's --sig-proxy forwards are acted on, by the client).
import { containerLogs, logFile, type LogEntry } from './lifecycle.js';
import { EngineError, liveState, mustFind } from './containers.js';
import { containerEvent } from './container-events.js';

export interface AttachOptions {
  /** Ends the stream (the client detached). */
  signal?: AbortSignal;
  stdout?: boolean;
  stderr?: boolean;
}

/** The container's output from now until it stops or signal aborts; records attach and detach events. */
export async function* attachContainer(root: string, ref: string, o: AttachOptions = {}): AsyncGenerator<LogEntry> {
  const r = mustFind(root, ref);
  if (!liveState(root, r).Running) throw new EngineError('You cannot attach to a stopped container, start it first', 'ERR_NOT_RUNNING');
  logFile(root, ref); // a container without a log (--log-driver none) has nothing to attach to
  containerEvent(root, r, 'attach');
  try {
    // The log's lines from this moment on: tail 0, then follow.
    yield* containerLogs(root, ref, { follow: true, tail: 0, signal: o.signal, stdout: o.stdout, stderr: o.stderr });
  } finally {
    if (o.signal?.aborted) containerEvent(root, r, 'detach');
  }
}
