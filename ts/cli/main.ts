// tsbox: the engine CLI. Commands are looked up lazily so that each loads only what it needs.
import { errorLine, UsageError, type Command, type GlobalOptions } from './common.js';
import { defaultRoot } from '../engine/root.js';
import { argCountError, FLAG_ERROR, flagErrorText, renderHelp, resolveCommand, scanArgs } from './help.js';
import { join } from 'node:path';

export const VERSION = '0.1.0';

const USAGE = `usage: tsbox [--root DIR] [--debug] COMMAND [ARGS...]

Containers:  run, create, ps, start, attach, stop, restart, kill, rm, logs, exec, inspect, wait, pause, unpause, top, stats, cp, port, rename, update, diff, export, events, container prune, sandbox
Networks:    network create, network ls, network rm, network inspect, network connect, network disconnect, network prune
Volumes:     volume create, volume ls, volume inspect, volume rm, volume prune
System:      info, system df, system prune, system info, system service (serve: the Docker API), unshare
Images:      pull, images, image (ls, inspect, rm, tag, save, load, import, prune), tag, rmi, save, load, import, login, logout, push, history, build, commit
Runtime:     runtime COMMAND   (runc-compatible: create, start, run, state, kill, delete, exec, ps, ...)
Other:       version, help
`;

type Loader = () => Promise<Command>;

const COMMANDS: Record<string, Loader> = {
  runtime: async () => {
    const { runtimeMain } = await import('../runtime/cli/main.js');
    return (argv) => runtimeMain(argv);
  },
  sandbox: async () => (await import('./commands/sandbox.js')).sandboxCommand,
  run: async () => (await import('./commands/containers.js')).runCommand,
  ps: async () => (await import('./commands/containers.js')).psCommand,
  stop: async () => (await import('./commands/containers.js')).stopCommand,
  kill: async () => (await import('./commands/containers.js')).killCommand,
  rm: async () => (await import('./commands/containers.js')).rmCommand,
  logs: async () => (await import('./commands/containers.js')).logsCommand,
  exec: async () => (await import('./commands/containers.js')).execCommand,
  inspect: async () => (await import('./commands/inspect.js')).inspectObjects(undefined),
  wait: async () => (await import('./commands/containers.js')).waitCommand,
  pause: async () => (await import('./commands/containers.js')).pauseCommand,
  unpause: async () => (await import('./commands/containers.js')).unpauseCommand,
  top: async () => (await import('./commands/containers.js')).topCommand,
  stats: async () => (await import('./commands/containers.js')).statsCommand,
  start: async () => (await import('./commands/containers.js')).startCommand,
  restart: async () => (await import('./commands/containers.js')).restartCommand,
  cp: async () => (await import('./commands/containers.js')).cpCommand,
  rename: async () => (await import('./commands/containers.js')).renameCommand,
  container: async () => (await import('./commands/containers.js')).containerCommand,
  _monitor: async () => (await import('./commands/containers.js')).monitorCommand,
  _proxy: async () => (await import('./commands/containers.js')).proxyCommand,
  port: async () => (await import('./commands/containers.js')).portCommand,
  create: async () => (await import('./commands/lifecycle.js')).createCommand,
  attach: async () => (await import('./commands/lifecycle.js')).attachCommand,
  events: async () => (await import('./commands/lifecycle.js')).eventsCommand,
  diff: async () => (await import('./commands/lifecycle.js')).diffCommand,
  export: async () => (await import('./commands/lifecycle.js')).exportCommand,
  update: async () => (await import('./commands/lifecycle.js')).updateCommand,
  system: async () => (await import('./commands/system.js')).systemCommand,
  network: async () => (await import('./commands/network.js')).networkCommand,
  volume: async () => (await import('./commands/volume.js')).volumeCommand,
  pull: async () => (await import('./commands/images.js')).pullCommand,
  images: async () => (await import('./commands/images.js')).imagesCommand,
  image: async () => (await import('./commands/images.js')).imageCommand,
  tag: async () => (await import('./commands/images.js')).tagCommand,
  rmi: async () => (await import('./commands/images.js')).rmiCommand,
  login: async () => (await import('./commands/images.js')).loginCommand,
  logout: async () => (await import('./commands/images.js')).logoutCommand,
  save: async () => (await import('./commands/images.js')).saveCommand,
  load: async () => (await import('./commands/images.js')).loadCommand,
  import: async () => (await import('./commands/images.js')).importCommand,
  push: async () => (await import('./commands/push.js')).pushCommand,
  history: async () => (await import('./commands/push.js')).historyCommand,
  info: async () => (await import('./commands/system.js')).infoCommand,
  unshare: async () => (await import('./commands/rootless.js')).unshareCommand,
  _unpack: async () => (await import('./commands/rootless.js')).unpackCommand,
  build: async () => (await import('./commands/build.js')).buildCommand,
  commit: async () => (await import('./commands/build.js')).commitCommand,
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  version: async () => async () => {
    process.stdout.write(`tsbox version ${VERSION}\n`);
    return 0;
  },
};

/** Registers more commands (image, network and engine modules add theirs). */
export function registerCommands(more: Record<string, Loader>): void {
  Object.assign(COMMANDS, more);
}

// version takes --format: docker's Client/Server object through the template formatter.
registerCommands({ version: async () => (await import('./commands/system.js')).versionCommand(VERSION) });

/** The names main dispatches (every one but the internal _ ones has a help entry). */
export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}

export async function main(argv: string[]): Promise<number> {
  const g: GlobalOptions = { root: defaultRoot(), debug: false };
  let i = 0;
  let path = '';
  try {
    for (; i < argv.length && argv[i].startsWith('-'); i++) {
      const a = argv[i];
      if (a === '--root') {
        if (i + 1 >= argv.length) throw new UsageError('flag needs an argument: --root');
        g.root = argv[++i];
      } else if (a.startsWith('--root=')) g.root = a.slice(7);
      else if (a === '--debug' || a === '-D') g.debug = true;
      else if (a === '--version' || a === '-v') {
        process.stdout.write(`tsbox version ${VERSION}\n`);
        return 0;
      } else if (a === '--help' || a === '-h') {
        process.stdout.write(USAGE);
        return 0;
      } else throw new UsageError(`unknown flag: ${a}`);
    }
    const name = argv[i];
    if (name === 'help' && argv[i + 1]) {
      const h = resolveCommand(argv.slice(i + 1));
      if (!h.entry) throw new UsageError(`unknown help topic ${JSON.stringify(argv.slice(i + 1).join(' '))}`);
      process.stdout.write(renderHelp(h.path, h.entry));
      return 0;
    }
    if (!name || name === 'help') {
      process.stdout.write(USAGE);
      return name ? 0 : 125;
    }
    const load = COMMANDS[name];
    if (!load) throw new UsageError(`unknown command "${name}" (see "tsbox help")`);
    const r = resolveCommand(argv.slice(i));
    path = r.path;
    if (r.entry && !r.entry.own) {
      // A group alone (tsbox network) shows its commands, as docker does.
      if (r.entry.subs && path === name && (!r.rest.length || r.rest[0] === '--help' || r.rest[0] === '-h')) {
        process.stdout.write(renderHelp(path, r.entry));
        return 0;
      }
      const scan = scanArgs(r.entry, r.rest);
      if (scan.help) {
        process.stdout.write(renderHelp(path, r.entry));
        return 0;
      }
      const bad = scan.count === undefined || r.entry.subs ? undefined : argCountError(path, r.entry, scan.count);
      if (bad) {
        process.stderr.write(bad);
        return 1;
      }
    }
    // Each command is a process: compiled seccomp programs are kept in the root between them. Loaded here,
    // not by --version or help: its hashing is node:crypto, a few ms of Node's start.
    (await import('../runtime/seccomp-cache.js')).useSeccompCacheDir(join(g.root, 'seccomp-cache'));
    return await (await load())(argv.slice(i + 1), g);
  } catch (e) {
    // What docker's daemon would refuse (no such container, not running): its words and exit code (1).
    const code = (e as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number') {
      process.stderr.write(`${errorLine(path, e as Error)}\n`);
      return code;
    }
    // Bad flags in docker's words, with its pointer to the command's help.
    if (e instanceof UsageError && path && FLAG_ERROR.test(e.message)) {
      process.stderr.write(flagErrorText(path, e.message));
      return 125;
    }
    process.stderr.write(`tsbox: ${(e as Error).message}\n`);
    if (g.debug && !(e instanceof UsageError)) process.stderr.write(`${(e as Error).stack}\n`);
    return 125;
  }
}
