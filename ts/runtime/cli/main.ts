// tsbox-runtime: the runc-compatible OCI runtime CLI (containerd, podman and friends call it like runc).
// Loads only the runtime modules, so that it starts fast.
import { appendFileSync } from 'node:fs';
import { callerPath, ctx, err, out, runWithContext, type CallContext } from './context.js';
import { defaultStateRoot } from '../state.js';
import { join } from 'node:path';
import { useSeccompCacheDir } from '../seccomp-cache.js';
import { useHookStdout } from '../hooks.js';
import { FlagError, parseFlags, str, bool } from './args.js';
import { commands } from './commands.js';

export const VERSION = '0.1.0';

const GLOBAL_FLAGS = {
  root: { type: 'string' as const },
  log: { type: 'string' as const },
  'log-format': { type: 'string' as const },
  debug: { type: 'boolean' as const },
  'systemd-cgroup': { type: 'boolean' as const },
  rootless: { type: 'string' as const },
  criu: { type: 'string' as const },
  version: { type: 'boolean' as const, short: 'v' },
  help: { type: 'boolean' as const, short: 'h' },
};

const USAGE = `usage: tsbox-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [ARGS...]
commands: create, start, run, state, kill, delete, exec, ps, pause, resume, update, list, spec, features
`;

function logError(logFile: string | undefined, format: string | undefined, msg: string): void {
  err(`tsbox-runtime: ${msg}\n`);
  if (!logFile) return;
  // containerd reads the last "error" object of the JSON log to explain a failure.
  const line = format === 'json' ? JSON.stringify({ level: 'error', msg, time: new Date().toISOString() }) : `time="${new Date().toISOString()}" level=error msg=${JSON.stringify(msg)}`;
  try {
    appendFileSync(logFile, line + '\n');
  } catch {
    // the stderr line above is all we can do
  }
}

// Asked at each use: a served call's programs go beside its own state root, its hooks write to its stdout.
useSeccompCacheDir(() => ctx().seccompCacheDir);
useHookStdout(() => ctx().stdout);

/** Runs one call: this process's own (cold), or a client's when the runtime server passes its context. */
export function runtimeMain(argv: string[], context?: CallContext): Promise<number> {
  return context ? runWithContext(context, () => call(argv)) : call(argv);
}

async function call(argv: string[]): Promise<number> {
  let log: string | undefined;
  let format: string | undefined;
  try {
    const g = parseFlags(argv, GLOBAL_FLAGS, true);
    log = callerPath(str(g, 'log'));
    format = str(g, 'log-format');
    if (bool(g, 'version')) {
      out(`tsbox-runtime version ${VERSION}\nspec: 1.1.0\n`);
      return 0;
    }
    const [cmd, ...rest] = g.rest;
    if (bool(g, 'help') || !cmd || cmd === 'help') {
      out(USAGE);
      return cmd || bool(g, 'help') ? 0 : 1;
    }
    const handler = commands[cmd];
    if (!handler) throw new FlagError(`unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
    const root = callerPath(str(g, 'root')) ?? defaultStateRoot();
    // Compiled seccomp programs are kept between calls, beside the state (no container id starts with a dot).
    ctx().seccompCacheDir = join(root, '.seccomp-cache');
    return await handler(rest, { root });
  } catch (e) {
    logError(log, format, (e as Error).message);
    return 1;
  }
}
