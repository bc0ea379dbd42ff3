// Runs a container through the runtime API and collects its output.
import { runContainer, type Container, type RuntimeOptions } from '../../ts/runtime/api.js';
import type { ExitStatus } from '../../ts/native.js';
import { finished } from 'node:stream/promises';
import { makeBundle, removeBundle, STATE_ROOT, type Bundle } from './bundle.js';
import type { OciSpec } from '../../ts/runtime/spec.js';

export interface Output extends ExitStatus {
  stdout: string;
  stderr: string;
}

export function collect(c: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null; exited: Promise<ExitStatus> }): Promise<Output> {
  let stdout = '';
  let stderr = '';
  c.stdout?.setEncoding('utf8');
  c.stderr?.setEncoding('utf8');
  c.stdout?.on('data', (d: string) => (stdout += d));
  c.stderr?.on('data', (d: string) => (stderr += d));
  // An empty stream may have ended before anyone listened (net.Socket reads ahead): finished() knows.
  const ended = (s: NodeJS.ReadableStream | null) => (s ? finished(s).catch(() => undefined) : Promise.resolve());
  return Promise.all([c.exited, ended(c.stdout), ended(c.stderr)]).then(([st]) => ({ ...st, stdout, stderr }));
}

/** Starts a busybox container running `sh -c script` and returns it with its bundle. */
export async function start(script: string, mutate?: (s: OciSpec) => void, opts: Partial<RuntimeOptions> = {}): Promise<{ c: Container; b: Bundle }> {
  const b = makeBundle(['sh', '-c', script], mutate);
  try {
    const c = await runContainer({ id: b.id, spec: b.spec, bundle: b.dir, root: STATE_ROOT, ...opts });
    c.exited.finally(() => removeBundle(b));
    return { c, b };
  } catch (e) {
    removeBundle(b);
    throw e;
  }
}

/** Runs `sh -c script` to completion. */
export async function sh(script: string, mutate?: (s: OciSpec) => void, opts: Partial<RuntimeOptions> = {}): Promise<Output> {
  const { c } = await start(script, mutate, opts);
  c.stdin?.end();
  return collect(c);
}
