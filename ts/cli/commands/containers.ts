// Container commands with docker's names: run, ps, stop, kill, rm, logs, exec, inspect, wait, pause, unpause, top, stats, rename.
// The lifecycle ones parse their flags into the Engine's options and format what it returns.
import { totalmem } from 'node:os';
import { copyPath } from '../../engine/copy.js';
import { parseRunArgs } from '../../engine/options.js';
import { startContainer, type EngineHooks } from '../../engine/run.js';
import { EngineError, findContainer, mustFind } from '../../engine/containers.js';
import { posix } from 'node:path';
import { Engine } from '../../engine/engine.js';
import type { ContainerSummary } from '../../engine/inspect.js';
import { cpuPercent } from '../../engine/lifecycle.js';
import { containerIo } from '../../engine/io-stats.js';
import { exitCode, foreground, relayStdio, startFailure, type Tee } from '../relay.js';
import { relayedLog, type JsonLogWriter } from '../../engine/json-log.js';
import { containerRootfs } from '../../engine/archive.js';
import { parseSince } from '../../engine/logs.js';
import { inspectObjects } from './inspect.js';
import { args, eachContainer, errorLine, exitOf, UsageError, type Command, type GlobalOptions } from '../common.js';
import { progress, type Progress } from '../progress.js';
import { formatFailure, formatList, parseFilters } from '../format/index.js';
import { PS_FORMAT, psFormat, STATS_FORMAT, type StatsRow } from '../format/contexts.js';

/** What the engine reports goes to stderr, as docker prints it. */
let pullProgress: Progress | undefined;
export const stderrHooks: EngineHooks = {
  onWarning: (m) => process.stderr.write(`WARNING: ${m}\n`),
  onProgress: (p) => {
    if (p.status === 'missing') process.stderr.write(`Unable to find image '${p.image}' locally\n`);
    // run's implicit pull shows its layers as tsbox pull does (on stderr, as docker run).
    else if (p.id) (pullProgress ??= progress(process.stderr)).status(p.id, p.status, p.progressDetail);
  },
};

export const runCommand: Command = async (argv, g) => {
  const o = parseRunArgs(argv);
  if (o.detach) {
    const { record } = await startContainer(g.root, o, undefined, stderrHooks);
    process.stdout.write(`${record.Id}\n`);
    return 0;
  }
  // With -t the terminal is the container's monitor's, and this client attaches to it (detach keys).
  if (o.tty) {
    const lc = await import('./lifecycle.js');
    if (lc.monitorCanHoldTty(g.root, o)) return lc.runWithTerminal(g, o);
  }
  // Never the caller's terminal itself: pipes, or /dev/null with the container's own pty (-t). What it
  // writes is kept in its json-file log too, as for a detached one.
  let log: JsonLogWriter | undefined;
  const tee: Tee = (stream, d) => log?.write(stream, d);
  const relay = relayStdio({ interactive: o.interactive, none: o.tty, tee });
  let started;
  try {
    started = await startContainer(g.root, { ...o }, relay.fds, stderrHooks);
  } catch (e) {
    return startFailure(e, relay);
  }
  const { record, container: c } = started;
  log = relayedLog(g.root, record.Id);
  relay.start();
  let code;
  try {
    code = exitCode(await foreground(c, relay, o.interactive, tee));
  } finally {
    log?.close();
  }
  // Its exit code kept, its die event recorded, --rm applied.
  engineOf(g).containers.exited(record.Id, code);
  return code;
};

const engineOf = (g: GlobalOptions) => new Engine({ root: g.root, ...stderrHooks });

export const psCommand: Command = async (argv, g) => {
  const a = args(argv, {
    all: { type: 'boolean', short: 'a' }, quiet: { type: 'boolean', short: 'q' }, format: { type: 'string' }, 'no-trunc': { type: 'boolean' },
    filter: { type: 'string', short: 'f', multiple: true }, last: { type: 'string', short: 'n' }, latest: { type: 'boolean', short: 'l' }, size: { type: 'boolean', short: 's' },
  });
  try {
    const filters = parseFilters(a.values.filter);
    let limit = a.values.latest ? 1 : undefined;
    if (a.values.last !== undefined) {
      limit = Number(a.values.last);
      if (!/^-?\d+$/.test(a.values.last)) throw new UsageError(`invalid argument ${JSON.stringify(a.values.last)} for "-n, --last" flag: strconv.ParseInt: parsing ${JSON.stringify(a.values.last)}: invalid syntax`);
    }
    let format = a.values.format;
    // As docker: -q is the ids alone; -s adds the SIZE column to the default table.
    if (a.values.quiet) format = '{{.ID}}';
    else if (!format && a.values.size) format = `${PS_FORMAT}\t{{.Size}}`;
    // Sizes walk each container's files: only asked for with -s or a template naming .Size (as docker).
    const size = a.values.size === true || /\.Size\b/.test(format ?? '');
    const list: ContainerSummary[] = engineOf(g).containers.list({ all: a.values.all, filters, limit, size });
    process.stdout.write(formatList(format, list, psFormat({ trunc: !a.values['no-trunc'] })));
    return 0;
  } catch (e) {
    return formatFailure(e);
  }
};

/** -t/--time: whole seconds, as docker takes them. */
function timeFlag(cmd: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`${cmd}: invalid --time ${JSON.stringify(v)}: want whole seconds`);
  return Number(v);
}

export const stopCommand: Command = async (argv, g) => {
  const a = args(argv, { time: { type: 'string', short: 't' }, signal: { type: 'string', short: 's' } });
  if (!a.positionals.length) throw new UsageError('stop: want at least one container');
  const timeout = timeFlag('stop', a.values.time);
  return exitOf(await eachContainer('stop', a.positionals, (ref) => engineOf(g).containers.stop(ref, { timeout, signal: a.values.signal })));
};

export const killCommand: Command = async (argv, g) => {
  const a = args(argv, { signal: { type: 'string', short: 's' } });
  if (!a.positionals.length) throw new UsageError('kill: want at least one container');
  return exitOf(await eachContainer('kill', a.positionals, (ref) => engineOf(g).containers.kill(ref, a.values.signal ?? 'SIGKILL')));
};

export const rmCommand: Command = async (argv, g) => {
  const a = args(argv, { force: { type: 'boolean', short: 'f' }, volumes: { type: 'boolean', short: 'v' } });
  if (!a.positionals.length) throw new UsageError('rm: want at least one container');
  return exitOf(await eachContainer('rm', a.positionals, (ref) => engineOf(g).containers.remove(ref, { force: a.values.force, volumes: a.values.volumes }), { tolerateMissing: a.values.force }));
};

export const logsCommand: Command = async (argv, g) => {
  const a = args(argv, { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' }, timestamps: { type: 'boolean', short: 't' }, since: { type: 'string' }, until: { type: 'string' } });
  if (a.positionals.length !== 1) throw new UsageError('logs: want exactly one container');
  const time = (flag: string, v: string | undefined) => {
    try {
      return v !== undefined ? new Date(parseSince(v)) : undefined;
    } catch (e) {
      throw new UsageError((e as Error).message.replace('--since', `--${flag}`));
    }
  };
  const since = time('since', a.values.since);
  const until = time('until', a.values.until);
  let tail: number | 'all' = 'all';
  if (a.values.tail !== undefined && a.values.tail !== 'all') {
    tail = Number(a.values.tail);
    if (!Number.isInteger(tail) || tail < 0) throw new UsageError(`logs: invalid --tail ${JSON.stringify(a.values.tail)}`);
  }
  const entries = engineOf(g).containers.logs(a.positionals[0], { follow: a.values.follow, since, until, tail, timestamps: a.values.timestamps });
  for await (const e of entries) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
  return 0;
};

export const execCommand: Command = async (argv, g) => {
  // Flags before the container name; everything after it is the command.
  const flags: string[] = [];
  let i = 0;
  const withValue = new Set(['-e', '--env', '-w', '--workdir', '-u', '--user']);
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    flags.push(argv[i]);
    if (withValue.has(argv[i])) flags.push(argv[++i]);
  }
  const a = args(flags, { interactive: { type: 'boolean', short: 'i' }, tty: { type: 'boolean', short: 't' }, detach: { type: 'boolean', short: 'd' }, env: { type: 'string', short: 'e', multiple: true }, workdir: { type: 'string', short: 'w' }, user: { type: 'string', short: 'u' } });
  const [ref, ...cmd] = argv.slice(i);
  if (!ref || !cmd.length) throw new UsageError('exec: want CONTAINER COMMAND [ARG...]');
  const detach = a.values.detach === true;
  const interactive = a.values.interactive === true && !detach;
  // A detached exec has nobody to hold a terminal (docker -dt gives it one nobody reads).
  const tty = a.values.tty === true && !detach;
  // Never the caller's terminal itself: pipes, or /dev/null with a pty of its own (-t), or nothing (-d).
  const relay = relayStdio({ interactive, none: tty || detach });
  let p;
  try {
    p = await engineOf(g).containers.exec(ref, { cmd, env: a.values.env, workdir: a.values.workdir, user: a.values.user, tty, stdio: relay.fds });
  } catch (e) {
    return startFailure(e, relay);
  }
  relay.start();
  if (detach) {
    // The process goes on without us; its pidfd is the addon's watch until this CLI exits.
    await relay.finish();
    return 0;
  }
  return exitCode(await foreground(p, relay, interactive));
};

export const waitCommand: Command = async (argv, g) => {
  return exitOf(await eachContainer('wait', args(argv, {}).positionals, (ref) => engineOf(g).containers.wait(ref), { out: (_, r) => String(r.StatusCode) }));
};

export const pauseCommand: Command = async (argv, g) => {
  return exitOf(await eachContainer('pause', args(argv, {}).positionals, (ref) => engineOf(g).containers.pause(ref)));
};

export const unpauseCommand: Command = async (argv, g) => {
  return exitOf(await eachContainer('unpause', args(argv, {}).positionals, (ref) => engineOf(g).containers.unpause(ref)));
};

/** Columns as docker's CLI aligns them (text/tabwriter: minimum width 20, padding 3); the last one unpadded. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(20, ...rows.map((r) => (r[i] ?? '').length + 3)));
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c)).join('') + '\n').join('');
}

export const topCommand: Command = async (argv, g) => {
  const [ref, ...psArgs] = argv;
  if (!ref) throw new UsageError('top: want CONTAINER [ps OPTIONS]');
  const t = engineOf(g).containers.top(ref, psArgs.length ? psArgs : undefined);
  process.stdout.write(table([t.Titles, ...t.Processes]));
  return 0;
};

export const statsCommand: Command = async (argv, g) => {
  const a = args(argv, { 'no-stream': { type: 'boolean' }, format: { type: 'string' }, all: { type: 'boolean', short: 'a' }, 'no-trunc': { type: 'boolean' } });
  const c = engineOf(g).containers;
  const collect = async (): Promise<StatsRow[]> => {
    const refs = a.positionals.length ? a.positionals : c.list({ all: a.values.all }).filter((s) => a.values.all || s.State === 'running' || s.State === 'paused').map((s) => s.Id);
    const rows: StatsRow[] = [];
    for (const ref of refs) {
      // A container that stopped (or went) since the listing shows no row, as docker drops it.
      const s = await c.stats(ref).catch((e) => (a.positionals.length ? Promise.reject(e) : undefined));
      if (!s) continue;
      // A limit at or above the host's memory is no limit: docker shows the host's memory then.
      const limit = s.memory_stats.limit > 0 && s.memory_stats.limit < totalmem() ? s.memory_stats.limit : totalmem();
      rows.push({ container: ref, id: a.values['no-trunc'] ? s.id : s.id.slice(0, 12), name: s.name, cpuPercent: cpuPercent(s), memUsage: s.memory_stats.usage, memLimit: limit, pids: s.pids_stats.current, ...containerIo(g.root, s.id) });
    }
    return rows;
  };
  try {
    if (a.values['no-stream']) {
      process.stdout.write(formatList(a.values.format, await collect(), STATS_FORMAT));
      return 0;
    }
    // Streaming, as docker: every second, the table redrawn from the top on a terminal, appended otherwise.
    const tty = process.stdout.isTTY === true;
    for (;;) {
      const t0 = Date.now();
      const text = formatList(a.values.format, await collect(), STATS_FORMAT);
      process.stdout.write(tty ? `\x1b[2J\x1b[H${text}` : text);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t0))));
    }
  } catch (e) {
    return formatFailure(e);
  }
};

export const startCommand: Command = async (argv, g) => (await import('./lifecycle.js')).startAttachedCommand(argv, g);

export const restartCommand: Command = async (argv, g) => {
  const a = args(argv, { time: { type: 'string', short: 't' } });
  if (!a.positionals.length) throw new UsageError('restart: want at least one container');
  const timeout = timeFlag('restart', a.values.time);
  return exitOf(await eachContainer('restart', a.positionals, (ref) => engineOf(g).containers.restart(ref, { timeout })));
};

export const renameCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  if (a.positionals.length !== 2) throw new UsageError('rename: want CONTAINER NEW_NAME');
  try {
    engineOf(g).containers.rename(a.positionals[0], a.positionals[1]);
  } catch (e) {
    // docker's CLI says the daemon's answer, then its own line.
    process.stderr.write(`${errorLine('rename', e as Error)}\n`);
    process.stderr.write(`Error: failed to rename container named ${a.positionals[0]}\n`);
    return 1;
  }
  return 0;
};

export const monitorCommand: Command = async (argv, g) => {
  const { monitor } = await import('../../engine/monitor.js');
  await monitor(g.root, argv[0]);
  return 0;
};

export const containerCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  const subs: Record<string, Command> = {
    ls: psCommand, list: psCommand, ps: psCommand, run: runCommand, start: startCommand, stop: stopCommand, restart: restartCommand, kill: killCommand,
    rm: rmCommand, logs: logsCommand, exec: execCommand, inspect: inspectObjects('container'), wait: waitCommand, pause: pauseCommand, unpause: unpauseCommand,
    top: topCommand, stats: statsCommand, prune: containerPruneCommand, cp: cpCommand, rename: renameCommand,
    create: async (a, gg) => (await import('./lifecycle.js')).createCommand(a, gg), attach: async (a, gg) => (await import('./lifecycle.js')).attachCommand(a, gg),
    diff: async (a, gg) => (await import('./lifecycle.js')).diffCommand(a, gg), export: async (a, gg) => (await import('./lifecycle.js')).exportCommand(a, gg),
    update: async (a, gg) => (await import('./lifecycle.js')).updateCommand(a, gg),
  };
  const c = sub ? subs[sub] : undefined;
  if (!c) throw new UsageError(`container: unknown subcommand ${JSON.stringify(sub ?? '')}`);
  return c(rest, g);
};

export const containerPruneCommand: Command = async (argv, g) => {
  args(argv, { force: { type: 'boolean', short: 'f' } });
  const ids = new Engine({ root: g.root }).system.pruneContainers();
  process.stdout.write(ids.map((id) => `${id}\n`).join('') + `Deleted Containers: ${ids.length}\n`);
  return 0;
};

/** tsbox cp CONTAINER:PATH HOSTPATH, or HOSTPATH CONTAINER:PATH (ts/engine/copy.ts does the copy). */
export const cpCommand: Command = async (argv, g) => {
  const a = args(argv, { archive: { type: 'boolean', short: 'a' }, 'follow-link': { type: 'boolean', short: 'L' } });
  if (a.positionals.length !== 2) throw new UsageError('cp: want SRC DEST, one of them CONTAINER:PATH');
  const [src, dst] = a.positionals;
  if (src === '-' || dst === '-') return (await import('./lifecycle.js')).cpStream(g, src, dst, a.values['follow-link'] === true);
  const split = (p: string) => {
    const i = p.indexOf(':');
    return i > 0 && !p.startsWith('/') && !p.startsWith('.') ? { ref: p.slice(0, i), path: p.slice(i + 1) } : undefined;
  };
  const s = split(src);
  const d = split(dst);
  if (!!s === !!d) throw new UsageError('cp: exactly one of SRC and DEST must be CONTAINER:PATH');
  const c = (s ?? d)!;
  if (!c.path) throw new UsageError(`cp: ${c.ref}: want a path after the colon`);
  const r = findContainer(g.root, c.ref);
  // docker's client asks for the path in the container (the destination's directory when copying in).
  if (!r) throw new EngineError(`No such container:path: ${c.ref}:${s || c.path.endsWith('/') ? c.path : posix.dirname(c.path)}`, 'ERR_NO_SUCH_CONTAINER');
  const inside = { root: containerRootfs(g.root, r), path: c.path, label: `${c.ref}:${c.path}` };
  const skipped = s ? copyPath(inside, { path: dst }, cpOptions(a.values)) : copyPath({ path: src }, inside, cpOptions(a.values));
  if (skipped) process.stderr.write(`WARNING: cp: ${skipped} device node(s) or socket(s) not copied\n`);
  return 0;
};

const cpOptions = (v: { archive?: boolean; 'follow-link'?: boolean }) => ({ archive: v.archive, followLink: v['follow-link'] });

export const portCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  if (!a.positionals.length) throw new UsageError('port: want CONTAINER [PRIVATE_PORT]');
  const r = mustFind(g.root, a.positionals[0]);
  const want = a.positionals[1]?.split('/')[0];
  for (const p of r.Ports ?? []) {
    if (want && String(p.containerPort) !== want) continue;
    process.stdout.write(`${p.containerPort}/${p.protocol} -> ${p.hostIp}:${p.hostPort}\n`);
  }
  return 0;
};

export const proxyCommand: Command = async (argv) => {
  const { runProxy } = await import('../../net/ports.js');
  runProxy(argv[0], Number(argv[1]), argv[2], Number(argv[3]), argv[4]);
  await new Promise(() => undefined);
  return 0;
};
