// `tsbox sandbox [flags] -- CMD...`: run a command over the host's filesystem, isolated (ts/engine/sandbox.ts).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sandboxSpec } from '../../engine/sandbox.js';
import { runContainer } from '../../runtime/api.js';
import { ContainerError } from '../../runtime/report.js';
import { exitCode, foreground, relayStdio } from '../relay.js';
import { defaultStateRoot, stateDir } from '../../runtime/state.js';
import { args, UsageError, type Command } from '../common.js';

const LAYER_PARENT = '/dev/shm';
const PREFIX = 'tsbox-sandbox-';

/** Layers left by a sandbox whose CLI was killed: their container state is gone. */
function sweepStale(root: string): void {
  for (const name of readdirSync(LAYER_PARENT)) {
    if (!name.startsWith(PREFIX)) continue;
    const id = name.slice(PREFIX.length).split('.')[0];
    if (!existsSync(stateDir(root, id))) rmSync(join(LAYER_PARENT, name), { recursive: true, force: true });
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
  sweepStale(root);
  const id = `sandbox-${randomBytes(6).toString('hex')}`;
  const layerDir = mkdtempSync(join(LAYER_PARENT, `${PREFIX}${id}.`));
  try {
    for (const d of ['upper', 'work', 'root']) mkdirSync(join(layerDir, d));
    const spec = sandboxSpec({
      args: command,
      layerDir,
      cwd: parsed.values.workdir,
      writable: parsed.values.writable,
      network: net === 'host',
      terminal: parsed.values.tty ?? (process.stdin.isTTY === true && process.stdout.isTTY === true),
      hostname: parsed.values.hostname,
    });
    writeFileSync(join(layerDir, 'config.json'), JSON.stringify(spec));
    // Its stdin is passed on as a command's is; terminals only through pipes, or the sandbox's own pty.
    const relay = relayStdio({ interactive: true, none: spec.process!.terminal });
    let c;
    try {
      c = await runContainer({ id, spec, bundle: layerDir, root, stdio: relay.fds, onWarning: (m) => process.stderr.write(`tsbox: warning: ${m}\n`) });
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
