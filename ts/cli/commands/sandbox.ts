// `tsbox sandbox [flags] -- CMD...`: run a command over the host's filesystem, isolated (ts/engine/sandbox.ts).
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sandboxSpec, startSandbox } from '../../engine/sandbox.js';
import { layerPrefix, reapLayers } from '../../engine/ownership.js';
import { runContainer } from '../../runtime/api.js';
import { ContainerError } from '../../runtime/report.js';
import { exitCode, foreground, relayStdio } from '../relay.js';
import { defaultStateRoot, stateDir } from '../../runtime/state.js';
import { args, UsageError, type Command } from '../common.js';

const LAYER_PARENT = '/dev/shm';
const LEGACY_PREFIX = 'tsbox-sandbox-sandbox-';

/**
 * Layers of earlier versions, named without their owner: a sandbox's state is made after its layer, so
 * only an old one (an hour) without state is taken for a killed CLI's. Layers named with their owner
 * are reaped by reapLayers when that process is gone.
 */
function sweepLegacy(root: string): void {
  for (const name of readdirSync(LAYER_PARENT)) {
    if (!name.startsWith(LEGACY_PREFIX)) continue;
    const id = name.slice('tsbox-sandbox-'.length).split('.')[0];
    const st = lstatSync(join(LAYER_PARENT, name), { throwIfNoEntry: false });
    if (st?.isDirectory() && st.uid === process.getuid?.() && Date.now() - st.mtimeMs > 3600_000 && !existsSync(stateDir(root, id))) rmSync(join(LAYER_PARENT, name), { recursive: true, force: true });
  }
}

export const sandboxCommand: Command = async (argv) => {
  const parsed = args(argv, {
    network: { type: 'string' },
    writable: { type: 'string', multiple: true },
    workdir: { type: 'string', short: 'w' },
    hostname: { type: 'string', short: 'h' },
    tty: { type: 'boolean', short: 't' },
  });
  const command = parsed.positionals;
  if (command.length === 0) throw new UsageError('sandbox: no command given (tsbox sandbox [--network host|none] [-w DIR] [--writable PATH] -- CMD [ARGS...])');
  const net = parsed.values.network ?? 'none';
  if (net !== 'none' && net !== 'host') throw new UsageError(`sandbox: --network ${net}: want none or host`);
  const root = defaultStateRoot();
  // Another sandbox's layer is removed only once its owner is gone: one made a moment ago by a sandbox
  // starting beside this one has no state yet, and was taken for a leftover.
  reapLayers();
  sweepLegacy(root);
  const layerDir = mkdtempSync(layerPrefix());
  try {
    for (const d of ['upper', 'work', 'root']) mkdirSync(join(layerDir, d));
    const terminal = parsed.values.tty ?? (process.stdin.isTTY === true && process.stdout.isTTY === true);
    // Its stdin is passed on as a command's is; terminals only through pipes, or the sandbox's own pty.
    const relay = relayStdio({ interactive: true, none: terminal });
    let c;
    try {
      c = await startSandbox(() => {
        const spec = sandboxSpec({ args: command, layerDir, cwd: parsed.values.workdir, writable: parsed.values.writable, network: net === 'host', terminal, hostname: parsed.values.hostname });
        writeFileSync(join(layerDir, 'config.json'), JSON.stringify(spec));
        return runContainer({ id: `sandbox-${randomBytes(6).toString('hex')}`, spec, bundle: layerDir, root, stdio: relay.fds, onWarning: (m) => process.stderr.write(`tsbox: warning: ${m}\n`) });
      });
    } catch (e) {
      relay.close();
      // As a shell (and docker run) says it: 127 not found, 126 not executable.
      if (!(e instanceof ContainerError) || !/^exec /.test(e.message)) throw e;
      process.stderr.write(`tsbox: ${e.message}\n`);
      return e.errno === 2 || e.errno === 20 ? 127 : 126;
    }
    relay.start();
    return exitCode(await foreground(c, relay, true));
  } finally {
    rmSync(layerDir, { recursive: true, force: true });
  }
};
