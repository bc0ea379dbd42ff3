// A sandbox's life, for `tsbox sandbox` and the library's spawn() alike: its layer in /dev/shm, its spec,
// its start (tried again as startSandbox says), and the layer gone when it exits or its owner does.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runContainer, type Container, type Input, type KillOptions, type Stdio } from '../runtime/api.js';
import { defaultStateRoot } from '../runtime/state.js';
import { sandboxSpec, startSandbox, type SandboxOptions } from './sandbox.js';
import { detachedLayerPrefix, layerPrefix, reapLayers, trackLayer, untrackLayer } from './ownership.js';

export interface SandboxRunOptions extends Omit<SandboxOptions, 'layerDir'>, KillOptions {
  stdio?: Stdio;
  input?: Input;
  /** Leave it running when this process ends; its layer then goes when it is deleted, by whoever deletes it. */
  detached?: boolean;
  onWarning?: (message: string) => void;
}

/** Resolves once the command runs; rejects as runContainer does (CommandNotFoundError, ...), leaving nothing behind. */
export async function runSandbox(o: SandboxRunOptions): Promise<Container> {
  reapLayers();
  const layerDir = mkdtempSync(o.detached ? detachedLayerPrefix() : layerPrefix());
  try {
    for (const d of ['upper', 'work', 'root']) mkdirSync(join(layerDir, d));
    if (!o.detached) trackLayer(layerDir);
    const c = await startSandbox(() => {
      const spec = sandboxSpec({ ...o, layerDir });
      // A detached sandbox outlives us: its container's poststop hook removes the layer.
      if (o.detached) spec.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', 'cat >/dev/null; rm -rf "$1"', 'sh', layerDir] }] };
      // The layer is the container's bundle: its config.json is there, as a hook reading the bundle expects.
      writeFileSync(join(layerDir, 'config.json'), JSON.stringify(spec));
      return runContainer({ id: `sandbox-${randomBytes(6).toString('hex')}`, spec, bundle: layerDir, root: defaultStateRoot(), stdio: o.stdio, timeout: o.timeout, killSignal: o.killSignal, signal: o.signal, input: o.input, detached: o.detached, onWarning: o.onWarning });
    });
    c.exitStatus.finally(() => {
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
