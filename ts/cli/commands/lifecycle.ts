// docker's container lifecycle beyond run: create, start -a/-i, attach (detach keys), events, diff,
// export, cp with tar streams, update --restart. Flags become the Engine's options; output is docker's.
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { parseBytes, parseRunArgs, type RunOptions } from '../../engine/options.js';
import { logConfig } from '../../engine/logging.js';
import { startContainer } from '../../engine/run.js';
import type { UpdateOptions } from '../../engine/update.js';
import { Engine } from '../../engine/engine.js';
import { parseSince } from '../../engine/logs.js';
import { checkEventFilters, formatEvent } from '../../engine/events.js';
import { DEFAULT_DETACH_KEYS, DetachMatcher, parseDetachKeys } from '../../engine/detach-keys.js';
import { attachSocket, mustFind } from '../../engine/containers.js';
import type { EngineHooks } from '../../engine/run.js';
import { stderrHooks } from './containers.js';
import { exitCode, foreground, relayStdio, type Tee } from '../relay.js';
import { relayedLog, type JsonLogWriter } from '../../engine/json-log.js';
import { args, eachContainer, exitOf, UsageError, type Command, type GlobalOptions } from '../common.js';

// What the engine reports goes to stderr, as run's (pull progress included).
const hooks: EngineHooks = stderrHooks;
const engineOf = (g: GlobalOptions) => new Engine({ root: g.root, ...hooks });

/** docker create: run's flags; prints the id of the container, which is "Created". */
export const createCommand: Command = async (argv, g) => {
  const o = parseRunArgs(argv);
  if (o.detachKeys !== undefined) parseDetachKeys(o.detachKeys);
  const { image, ...rest } = o;
  const id = await engineOf(g).containers.create({ ...rest, image });
  process.stdout.write(`${id}\n`);
  return 0;
};

/** docker start [-a] [-i]: with -a the CLI stays with the container (its output here, its exit code returned). */
export const startAttachedCommand: Command = async (argv, g) => {
  const a = args(argv, { attach: { type: 'boolean', short: 'a' }, interactive: { type: 'boolean', short: 'i' }, 'detach-keys': { type: 'string' } });
  if (!a.positionals.length) throw new UsageError('"tsbox start" requires at least 1 argument: CONTAINER [CONTAINER...]');
  const c = engineOf(g).containers;
  if (!a.values.attach && !a.values.interactive) {
    const failed = await eachContainer('start', a.positionals, (ref) => c.start(ref));
    if (failed.length) process.stderr.write(`Error: failed to start containers: ${failed.join(', ')}\n`);
    return exitOf(failed);
  }
  if (a.positionals.length > 1) throw new UsageError('you cannot start and attach multiple containers at once');
  const ref = a.positionals[0];
  const r = mustFind(g.root, ref);
  const interactive = a.values.interactive === true;
  let log: JsonLogWriter | undefined;
  const tee: Tee = (stream, d) => log?.write(stream, d);
  const relay = relayStdio({ interactive, none: r.Options.tty, tee });
  let p;
  try {
    p = await c.startAttached(ref, relay.fds);
  } catch (e) {
    relay.close();
    throw e;
  }
  log = relayedLog(g.root, r.Id);
  relay.start();
  let code;
  try {
    code = exitCode(await foreground(p, relay, interactive, tee));
  } finally {
    log?.close();
  }
  c.exited(r.Id, code);
  return code;
};

/** docker attach: the container's output from now on, input to its stdin (-i) or terminal (-t); the detach keys (default ctrl-p,ctrl-q) leave it running. */
export const attachCommand: Command = async (argv, g) => {
  const a = args(argv, { 'detach-keys': { type: 'string' }, 'no-stdin': { type: 'boolean' }, 'sig-proxy': { type: 'string' } });
  if (a.positionals.length !== 1) throw new UsageError('"tsbox attach" requires exactly 1 argument: CONTAINER');
  return attachClient(g, a.positionals[0], { detachKeys: a.values['detach-keys'], stdin: !a.values['no-stdin'], sigProxy: a.values['sig-proxy'] !== 'false' });
};

/** The attached client of attach and run -t: returns the container's exit code, or 0 once detached. */
export async function attachClient(
  g: GlobalOptions,
  ref: string,
  o: { detachKeys?: string; stdin: boolean; sigProxy: boolean; replay?: boolean; wait?: Promise<{ StatusCode: number }>; seen?: { bytes: number; detached: boolean } },
): Promise<number> {
  const r = mustFind(g.root, ref);
  let keys;
  try {
    keys = parseDetachKeys(o.detachKeys ?? r.Options.detachKeys ?? DEFAULT_DETACH_KEYS);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const engine = engineOf(g);
  const att = await engine.containers.attach(ref, { replay: o.replay });
  const stdin = process.stdin;
  const reading = o.stdin && att.stdin;
  // On a terminal the keys come raw, one by one, as docker's client reads them.
  const raw = reading && stdin.isTTY === true;
  // With a terminal of its own (-t) the container's pty echoes, translates and signals (^C); without,
  // this client does what the line discipline would have.
  const own = raw && !att.tty;
  const matcher = new DetachMatcher(keys);
  let detached = false;
  const onInput = (d: Buffer) => {
    const { pass, detach } = matcher.feed(d);
    if (own && o.sigProxy && pass.includes(3)) engine.containers.kill(r.Id, 'SIGINT');
    // (Output processing stays on in Node's raw mode: \n is shown as \r\n already.)
    const line = own ? Buffer.from(pass.toString('latin1').replace(/\x03/g, '').replace(/\r/g, '\n'), 'latin1') : pass;
    if (own && line.length) process.stdout.write(line);
    if (line.length) att.write(line);
    if (detach) {
      detached = true;
      att.close();
    }
  };
  const onSignal = (s: NodeJS.Signals) => {
    try {
      engine.containers.kill(r.Id, s);
    } catch {
      // exited meanwhile
    }
  };
  const resize = () => {
    if (process.stdout.isTTY) att.resize(process.stdout.rows, process.stdout.columns);
  };
  if (att.tty) {
    resize();
    process.on('SIGWINCH', resize);
  }
  if (raw) stdin.setRawMode(true);
  if (reading) stdin.on('data', onInput);
  const signals: NodeJS.Signals[] = o.sigProxy && !att.tty ? ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] : [];
  for (const s of signals) process.on(s, onSignal);
  try {
    for await (const c of att.output) {
      if (o.seen) o.seen.bytes += c.data.length;
      (c.stream === 'stderr' ? process.stderr : process.stdout).write(c.data);
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
    process.off('SIGWINCH', resize);
    if (reading) {
      stdin.off('data', onInput);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    }
  }
  if (detached) {
    if (o.seen) o.seen.detached = true;
    process.stderr.write('read escape sequence\n');
    return 0;
  }
  return (await (o.wait ?? engine.containers.wait(r.Id))).StatusCode;
}

/** Whether run -t can leave the terminal to the container's monitor: it needs the log (and a socket path short enough). */
export function monitorCanHoldTty(root: string, o: RunOptions): boolean {
  return logConfig(o).driver === 'json-file' && Buffer.byteLength(attachSocket(root, 'f'.repeat(64))) <= 107;
}

/**
 * docker run -t: the container starts detached with its terminal held by its monitor, and this client
 * attaches to it at once (with what it wrote meanwhile): the detach keys (default ctrl-p,ctrl-q) leave it
 * running, its terminal with it.
 */
export async function runWithTerminal(g: GlobalOptions, o: RunOptions): Promise<number> {
  const engine = engineOf(g);
  // --rm is applied here once the exit code is known, or by the supervisor if the client detaches.
  const { record } = await startContainer(g.root, { ...o, rm: false }, undefined, hooks);
  const id = record.Id;
  const wait = engine.containers.wait(id);
  const seen = { bytes: 0, detached: false };
  let code: number;
  try {
    code = await attachClient(g, id, { detachKeys: o.detachKeys, stdin: o.interactive, sigProxy: true, replay: true, wait, seen });
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_NOT_RUNNING') throw e;
    code = (await wait).StatusCode; // exited before the client came
  }
  if (seen.detached) {
    if (o.rm) engine.containers.update(id, { autoRemove: true });
    return code;
  }
  // Gone before the client could read anything: its log has what it wrote.
  if (!seen.bytes) for await (const e of engine.containers.logs(id)) (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.text);
  if (o.rm) engine.containers.remove(id, { force: true, volumes: true });
  return code;
}

/** docker events: --since, --until, --filter KEY=VALUE, --format (json or {{json .}}). */
export const eventsCommand: Command = async (argv, g) => {
  const a = args(argv, { since: { type: 'string' }, until: { type: 'string' }, filter: { type: 'string', short: 'f', multiple: true }, format: { type: 'string' } });
  const filters: Record<string, string[]> = {};
  for (const f of a.values.filter ?? []) {
    const i = f.indexOf('=');
    if (i <= 0) throw new UsageError(`bad format of filter (expected name=value): ${f}`);
    (filters[f.slice(0, i)] ??= []).push(f.slice(i + 1));
  }
  const time = (flag: string, v: string | undefined) => {
    try {
      return v !== undefined ? new Date(parseSince(v)) : undefined;
    } catch {
      throw new UsageError(`invalid --${flag} ${JSON.stringify(v)}: want a time, a timestamp or a duration like 10m`);
    }
  };
  const fmt = a.values.format;
  if (fmt !== undefined && fmt !== 'json' && fmt !== '{{json .}}') throw new UsageError(`events: unsupported --format ${JSON.stringify(fmt)} (json)`);
  let checked;
  try {
    checked = checkEventFilters(filters);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    for await (const e of engineOf(g).events({ since: time('since', a.values.since), until: time('until', a.values.until), filters: checked, signal: ac.signal })) {
      process.stdout.write((fmt ? JSON.stringify(e) : formatEvent(e)) + '\n');
    }
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
  return 0;
};

/** docker diff: A/C/D lines. */
export const diffCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  if (a.positionals.length !== 1) throw new UsageError('"tsbox diff" requires exactly 1 argument: CONTAINER');
  for (const c of engineOf(g).containers.changes(a.positionals[0])) process.stdout.write(`${'CAD'[c.Kind]} ${c.Path}\n`);
  return 0;
};

function output(file: string | undefined, what: string): Writable {
  if (file !== undefined && file !== '-') return createWriteStream(file, { mode: 0o644 });
  if (process.stdout.isTTY) throw new UsageError(`cowardly refusing to save to a terminal. Use the -o flag or redirect (${what})`);
  return process.stdout;
}

/** docker export [-o FILE] CONTAINER. */
export const exportCommand: Command = async (argv, g) => {
  const a = args(argv, { output: { type: 'string', short: 'o' } });
  if (a.positionals.length !== 1) throw new UsageError('"tsbox export" requires exactly 1 argument: CONTAINER');
  const out = output(a.values.output, 'export');
  await engineOf(g).containers.export(a.positionals[0], out);
  if (out !== process.stdout) await new Promise((r) => (out.writableFinished ? r(undefined) : out.once('finish', r)));
  return 0;
};

/** cp with "-" on one side: a tar stream on stdout (CONTAINER:PATH -) or from stdin (- CONTAINER:PATH). */
export async function cpStream(g: GlobalOptions, src: string, dst: string, followLink: boolean): Promise<number> {
  const split = (p: string) => {
    const i = p.indexOf(':');
    if (i <= 0) throw new UsageError('cp: with "-", the other side must be CONTAINER:PATH');
    return { ref: p.slice(0, i), path: p.slice(i + 1) };
  };
  const c = engineOf(g).containers;
  if (dst === '-') {
    const s = split(src);
    await c.copyOut(s.ref, s.path, output(undefined, 'cp'), { followLink });
    return 0;
  }
  const d = split(dst);
  const { skipped } = await c.copyIn(d.ref, d.path, process.stdin);
  if (skipped) process.stderr.write(`WARNING: cp: ${skipped} device node(s), fifo(s) or socket(s) in the archive not extracted\n`);
  return 0;
}

/** docker update: --restart and the resource flags, for one or more containers. */
export const updateCommand: Command = async (argv, g) => {
  const a = args(argv, {
    restart: { type: 'string' }, memory: { type: 'string', short: 'm' }, 'memory-swap': { type: 'string' }, cpus: { type: 'string' },
    'cpu-shares': { type: 'string', short: 'c' }, 'cpu-quota': { type: 'string' }, 'cpu-period': { type: 'string' }, 'cpuset-cpus': { type: 'string' }, 'pids-limit': { type: 'string' },
  });
  if (!a.positionals.length) throw new UsageError('"tsbox update" requires at least 1 argument: CONTAINER [CONTAINER...]');
  const v = a.values;
  const int = (flag: string, s: string | undefined) => {
    if (s === undefined) return undefined;
    if (!/^-?\d+$/.test(s)) throw new UsageError(`invalid argument ${JSON.stringify(s)} for "--${flag}" flag: not an integer`);
    return Number(s);
  };
  if (v.cpus !== undefined && !(Number(v.cpus) > 0)) throw new UsageError(`invalid argument ${JSON.stringify(v.cpus)} for "--cpus" flag: want a positive number`);
  const o: UpdateOptions = {
    ...(v.restart !== undefined ? { restart: v.restart } : {}),
    ...(v.memory !== undefined ? { memory: parseBytes(v.memory, '--memory') } : {}),
    ...(v['memory-swap'] !== undefined ? { memorySwap: v['memory-swap'] === '-1' ? -1 : parseBytes(v['memory-swap'], '--memory-swap') } : {}),
    ...(v.cpus !== undefined ? { cpus: Number(v.cpus) } : {}),
    ...(v['cpu-shares'] !== undefined ? { cpuShares: int('cpu-shares', v['cpu-shares']) } : {}),
    ...(v['cpu-quota'] !== undefined ? { cpuQuota: int('cpu-quota', v['cpu-quota']) } : {}),
    ...(v['cpu-period'] !== undefined ? { cpuPeriod: int('cpu-period', v['cpu-period']) } : {}),
    ...(v['cpuset-cpus'] !== undefined ? { cpusetCpus: v['cpuset-cpus'] } : {}),
    ...(v['pids-limit'] !== undefined ? { pidsLimit: int('pids-limit', v['pids-limit']) } : {}),
  };
  if (!Object.keys(o).length) throw new UsageError('update: you must provide one or more flags when using this command');
  return exitOf(await eachContainer('update', a.positionals, (ref) => {
    try {
      return engineOf(g).containers.update(ref, o);
    } catch (e) {
      throw e instanceof RangeError ? new UsageError(e.message) : e;
    }
  }));
};

