// tsbox system service (tsbox serve): the Docker Engine API on a unix socket, until stopped or idle.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { args, UsageError, type Command } from '../common.js';
import { hostTool } from '../../host-tools.js';

/** /run/tsbox/docker.sock as root, $XDG_RUNTIME_DIR/tsbox/docker.sock otherwise (podman's places). */
export function defaultSocket(): string {
  if (process.getuid?.() === 0) return '/run/tsbox/docker.sock';
  const run = process.env.XDG_RUNTIME_DIR;
  if (!run) throw new UsageError('system service: XDG_RUNTIME_DIR is not set: give --socket PATH');
  return join(run, 'tsbox', 'docker.sock');
}

function groupId(g: string): number {
  if (/^\d+$/.test(g)) return Number(g);
  try {
    return Number(execFileSync(hostTool('getent'), ['group', g], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    throw new UsageError(`system service: --group ${g}: no such group`);
  }
}

export const serveCommand: Command = async (argv, g) => {
  const a = args(argv, { socket: { type: 'string' }, timeout: { type: 'string', short: 't' }, group: { type: 'string' } });
  // podman's form: an optional URI (unix:///path) as the one positional.
  const uri = a.positionals[0];
  if (a.positionals.length > 1 || (uri && !uri.startsWith('unix://'))) throw new UsageError('system service: want [--socket PATH | unix:///PATH] [--timeout SECONDS] [--group GROUP]');
  const socket = a.values.socket ?? (uri ? uri.slice('unix://'.length) : defaultSocket());
  const timeout = a.values.timeout === undefined ? 5 : Number(a.values.timeout);
  if (!Number.isInteger(timeout) || timeout < 0) throw new UsageError(`system service: invalid --timeout ${JSON.stringify(a.values.timeout)}: want whole seconds (0: no timeout)`);
  const { serve } = await import('../../server/server.js');
  const api = await serve({ socket, root: g.root, timeout, gid: a.values.group === undefined ? undefined : groupId(a.values.group) });
  process.stderr.write(`tsbox: serving the Docker Engine API on unix://${socket}${timeout ? ` (exits after ${timeout}s idle)` : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => void api.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    api.server.once('close', () => resolve());
  });
  return 0;
};
