// `tsbox sandbox [flags] -- CMD...`: run a command over the host's filesystem, isolated (ts/engine/sandbox-run.ts).
import { runSandbox } from '../../engine/sandbox-run.js';
import { exitCode, foreground, relayStdio, startFailure } from '../relay.js';
import { args, UsageError, type Command } from '../common.js';

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
  const terminal = parsed.values.tty ?? (process.stdin.isTTY === true && process.stdout.isTTY === true);
  // Its stdin is passed on as a command's is; terminals only through pipes, or the sandbox's own pty.
  const relay = relayStdio({ interactive: true, none: terminal });
  let c;
  try {
    c = await runSandbox({ args: command, cwd: parsed.values.workdir, writable: parsed.values.writable, network: net === 'host', terminal, hostname: parsed.values.hostname, stdio: relay.fds, onWarning: (m) => process.stderr.write(`tsbox: warning: ${m}\n`) });
  } catch (e) {
    return startFailure(e, relay);
  }
  relay.start();
  return exitCode(await foreground(c, relay, true));
};
