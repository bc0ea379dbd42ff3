// Container commands with docker's names: run, ps, stop, kill, rm, logs, exec, inspect, wait, pause, unpause, top, stats.
import { existsSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { copyPath } from '../../engine/copy.js';
import { parseRunArgs } from '../../engine/options.js';
import { launchRecord, removeContainerFiles, startContainer, type EngineHooks } from '../../engine/run.js';
import { containerDir, EngineError, listRecords, liveState, mustFind, saveRecord, stateRoot, type ContainerRecord } from '../../engine/containers.js';
import { ContainerError } from '../../runtime/report.js';
import * as ops from '../../runtime/operations.js';
import { containerCgroup, readState } from '../../runtime/state.js';
import { signalNumber } from '../../runtime/signals.js';
import { runtimeMain } from '../../runtime/cli/main.js';
import { ContainerProcess, Pty } from '../../runtime/api.js';
import { execLaunch, execProcess } from '../../runtime/exec.js';
import { closeQuietly, watchLaunched } from '../../runtime/report.js';
import { native } from '../../native.js';
import { exitCode, foreground, relayStdio } from '../relay.js';
import { dirReader, resolveUser } from '../../engine/spec.js';
import { snapshotDir, snapshotKind } from '../../images/snapshot.js';
import { isRootless } from '../../runtime/rootless.js';
import { parseLogLines, parseSince, type LogLine } from '../../engine/logs.js';
import { args, UsageError, type Command } from '../common.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Exit codes as docker's: 125 tsbox failed, 126 not executable, 127 not found. */
function execFailureCode(e: unknown): number | undefined {
  if (!(e instanceof ContainerError)) return undefined;
  if (/^exec /.test(e.message)) return e.errno === 2 || e.errno === 20 ? 127 : 126;
  return undefined;
}

/** What the engine reports goes to stderr, as docker prints it. */
const stderrHooks: EngineHooks = {
  onWarning: (m) => process.stderr.write(`WARNING: ${m}\n`),
  onProgress: (p) => {
    if (p.status === 'missing') process.stderr.write(`Unable to find image '${p.image}' locally\n`);
  },
};

export const runCommand: Command = async (argv, g) => {
  const o = parseRunArgs(argv);
  if (o.detach) {
    const { record } = await startContainer(g.root, o, undefined, stderrHooks);
    process.stdout.write(`${record.Id}\n`);
    return 0;
  }
  // Never the caller's terminal itself: pipes, or /dev/null with the container's own pty (-t).
  const relay = relayStdio({ interactive: o.interactive, none: o.tty });
  let started;
  try {
    started = await startContainer(g.root, { ...o }, relay.fds, stderrHooks);
  } catch (e) {
    relay.close();
    const code = execFailureCode(e);
    if (code === undefined) throw e;
    process.stderr.write(`tsbox: ${(e as Error).message}\n`);
    return code;
  }
  relay.start();
  const { record, container: c } = started;
  const code = exitCode(await foreground(c, relay, o.interactive));
  if (o.rm) removeContainerFiles(g.root, record.Id);
  else saveRecord(g.root, { ...record, ExitCode: code, FinishedAt: new Date().toISOString() });
  return code;
};

function psRow(r: ContainerRecord, root: string) {
  const s = liveState(root, r);
  const status = s.Running ? (s.Paused ? 'Up (Paused)' : 'Up') : s.Status === 'exited' ? `Exited (${s.ExitCode})` : 'Created';
  return { ID: r.Id.slice(0, 12), Image: r.Image, Command: JSON.stringify(r.Args.join(' ')), CreatedAt: r.Created, Status: status, State: s.Status, Names: r.Name, running: s.Running };
}

export const psCommand: Command = async (argv, g) => {
  const a = args(argv, { all: { type: 'boolean', short: 'a' }, quiet: { type: 'boolean', short: 'q' }, format: { type: 'string' } });
  const rows = listRecords(g.root).map((r) => psRow(r, g.root)).filter((r) => a.values.all || r.running);
  if (a.values.quiet) {
    for (const r of rows) process.stdout.write(`${r.ID}\n`);
  } else if (a.values.format === 'json') {
    for (const { running: _, ...r } of rows) process.stdout.write(JSON.stringify(r) + '\n');
  } else if (a.values.format) {
    throw new UsageError(`ps: unsupported --format ${JSON.stringify(a.values.format)} (json)`);
  } else {
    const w = (s: string, n: number) => s.padEnd(n);
    process.stdout.write(`${w('CONTAINER ID', 15)}${w('IMAGE', 24)}${w('COMMAND', 24)}${w('STATUS', 16)}NAMES\n`);
    for (const r of rows) process.stdout.write(`${w(r.ID, 15)}${w(r.Image.slice(0, 22), 24)}${w(r.Command.slice(0, 22), 24)}${w(r.Status, 16)}${r.Names}\n`);
  }
  return 0;
};

function stopSignal(r: ContainerRecord): string {
  return r.Options.stopSignal ?? 'SIGTERM';
}

async function waitStopped(root: string, r: ContainerRecord, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!liveState(root, r).Running) return true;
    await sleep(20);
  }
  return !liveState(root, r).Running;
}

/** The stop signal, then SIGKILL after the timeout (docker stop). */
async function stopOne(root: string, r: ContainerRecord, timeout: number): Promise<void> {
  saveRecord(root, { ...r, StoppedByUser: true });
  if (!liveState(root, r).Running) return;
  try {
    ops.kill(stateRoot(root), r.Id, stopSignal(r));
  } catch {
    return; // exited meanwhile
  }
  if (await waitStopped(root, r, timeout * 1000)) return;
  try {
    ops.kill(stateRoot(root), r.Id, 'SIGKILL', true);
  } catch {
    // exited meanwhile
  }
  await waitStopped(root, r, 10000);
}

export const stopCommand: Command = async (argv, g) => {
  const a = args(argv, { time: { type: 'string', short: 't' } });
  if (!a.positionals.length) throw new UsageError('stop: want at least one container');
  let code = 0;
  for (const ref of a.positionals) {
    try {
      const r = mustFind(g.root, ref);
      await stopOne(g.root, r, Number(a.values.time ?? r.Options.stopTimeout ?? 10));
      process.stdout.write(`${ref}\n`);
    } catch (e) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      code = 1;
    }
  }
  return code;
};

export const killCommand: Command = async (argv, g) => {
  const a = args(argv, { signal: { type: 'string', short: 's' } });
  if (!a.positionals.length) throw new UsageError('kill: want at least one container');
  const sig = a.values.signal ?? 'SIGKILL';
  signalNumber(sig);
  for (const ref of a.positionals) {
    const r = mustFind(g.root, ref);
    if (!liveState(g.root, r).Running) throw new EngineError(`Cannot kill container: ${ref}: container is not running`);
    saveRecord(g.root, { ...r, StoppedByUser: true });
    ops.kill(stateRoot(g.root), r.Id, sig);
    process.stdout.write(`${ref}\n`);
  }
  return 0;
};

export const rmCommand: Command = async (argv, g) => {
  const a = args(argv, { force: { type: 'boolean', short: 'f' }, volumes: { type: 'boolean', short: 'v' } });
  if (!a.positionals.length) throw new UsageError('rm: want at least one container');
  let code = 0;
  for (const ref of a.positionals) {
    try {
      const r = mustFind(g.root, ref);
      if (liveState(g.root, r).Running && !a.values.force) {
        throw new Error(`cannot remove container "${r.Name}": container is running: stop the container before removing or force remove`);
      }
      removeContainerFiles(g.root, r.Id);
      process.stdout.write(`${ref}\n`);
    } catch (e) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      code = 1;
    }
  }
  return code;
};

export const logsCommand: Command = async (argv, g) => {
  const a = args(argv, { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' }, timestamps: { type: 'boolean', short: 't' }, since: { type: 'string' } });
  if (a.positionals.length !== 1) throw new UsageError('logs: want exactly one container');
  const r = mustFind(g.root, a.positionals[0]);
  const file = join(containerDir(g.root, r.Id), 'container.log');
  if (!existsSync(file)) throw new Error(`logs: container ${a.positionals[0]} was not started detached: its output went to the terminal`);
  let since: number | undefined;
  try {
    since = a.values.since !== undefined ? parseSince(a.values.since) : undefined;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const show = (lines: LogLine[]) => {
    for (const l of lines) {
      if (since !== undefined && Date.parse(l.time) < since) continue;
      const text = a.values.timestamps ? `${l.time} ${l.log}` : l.log;
      (l.stream === 'stderr' ? process.stderr : process.stdout).write(text);
    }
  };
  let lines = parseLogLines(readFileSync(file, 'utf8'));
  if (a.values.tail !== undefined && a.values.tail !== 'all') {
    const n = Number(a.values.tail);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`logs: invalid --tail ${JSON.stringify(a.values.tail)}`);
    lines = n === 0 ? [] : lines.slice(-n);
  }
  show(lines);
  if (!a.values.follow) return 0;
  let pos = statSync(file).size;
  let rest = '';
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const size = statSync(file).size;
      while (pos < size) {
        const buf = Buffer.alloc(Math.min(65536, size - pos));
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        const text = rest + buf.toString('utf8', 0, n);
        const cut = text.lastIndexOf('\n') + 1;
        show(parseLogLines(text.slice(0, cut)));
        rest = text.slice(cut);
      }
      if (!liveState(g.root, r).Running && statSync(file).size === pos) return 0;
      await sleep(50);
    }
  } finally {
    closeSync(fd);
  }
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
  const r = mustFind(g.root, ref);
  const live = liveState(g.root, r);
  if (!live.Running) throw new EngineError(`Container ${ref} is not running`);
  let user;
  if (a.values.user) {
    const u = resolveUser(dirReader(`/proc/${live.Pid}/root`), a.values.user);
    user = { uid: u.uid, gid: u.gid, additionalGids: [] };
  }
  const root = stateRoot(g.root);
  const detach = a.values.detach === true;
  const interactive = a.values.interactive === true && !detach;
  // A detached exec has nobody to hold a terminal (docker -dt gives it one nobody reads).
  const tty = a.values.tty === true && !detach;
  const proc = execProcess(readState(root, r.Id).spec.process, { args: cmd, env: a.values.env, cwd: a.values.workdir, user, terminal: tty });
  // Never the caller's terminal itself: pipes, or /dev/null with a pty of its own (-t), or nothing (-d).
  const relay = relayStdio({ interactive, none: tty || detach });
  const ptyPair = tty ? native().socketpair() : undefined;
  let l;
  try {
    l = execLaunch({ root, id: r.Id, process: proc, stdio: relay.fds, consoleFd: ptyPair?.[1] });
  } catch (e) {
    relay.close();
    ptyPair?.forEach(closeQuietly);
    throw e;
  } finally {
    if (ptyPair) closeQuietly(ptyPair[1]);
  }
  relay.start();
  const w = watchLaunched(l.spawned.pidfd, l.spawned.reportFd);
  const setup = await w.setup;
  if (setup.kind === 'error') {
    if (ptyPair) closeQuietly(ptyPair[0]);
    await w.exit;
    await relay.finish();
    closeQuietly(l.spawned.pidfd);
    const e = new ContainerError(setup.message, setup.errno);
    const code = execFailureCode(e);
    if (code === undefined) throw e;
    process.stderr.write(`tsbox: ${e.message}\n`);
    return code;
  }
  let pty: Pty | null = null;
  if (ptyPair) {
    pty = new Pty(native().recvFd(ptyPair[0]));
    closeQuietly(ptyPair[0]);
  }
  const p = new ContainerProcess(l.spawned, [], w.exit, () => undefined, pty);
  if (detach) {
    // The process goes on without us; its pidfd is the addon's watch until this CLI exits.
    await relay.finish();
    return 0;
  }
  return exitCode(await foreground(p, relay, interactive));
};

export const inspectCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  if (!a.positionals.length) throw new UsageError('inspect: want at least one container');
  let code = 0;
  const out = a.positionals.flatMap((ref) => {
    let r: ContainerRecord;
    try {
      r = mustFind(g.root, ref);
    } catch (e) {
      // docker prints what it found (`[]` for nothing) and an error line for each missing one: exit 1.
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      code = 1;
      return [];
    }
    const s = liveState(g.root, r);
    let oom = false;
    try {
      oom = containerCgroup(readState(stateRoot(g.root), r.Id)).stats().memory.oomKills > 0;
    } catch {
      // no cgroup any more
    }
    return {
      Id: r.Id,
      Name: `/${r.Name}`,
      Created: r.Created,
      Path: r.Args[0],
      Args: r.Args.slice(1),
      Image: r.ImageId,
      RestartCount: r.RestartCount ?? 0,
      NetworkSettings: { IPAddress: r.IPAddress ?? '', Ports: Object.fromEntries((r.Ports ?? []).map((p) => [`${p.containerPort}/${p.protocol}`, [{ HostIp: p.hostIp, HostPort: String(p.hostPort) }]])) },
      State: { Status: s.Status, Running: s.Running, Paused: s.Paused, Pid: s.Pid, ExitCode: s.ExitCode, OOMKilled: oom, StartedAt: s.StartedAt ?? '', FinishedAt: s.FinishedAt ?? '' },
      Config: { Image: r.Image, Cmd: r.Options.cmd, Entrypoint: r.Options.entrypoint, Env: r.Options.env, Tty: r.Options.tty },
      HostConfig: { AutoRemove: r.Options.rm, Memory: r.Options.memory ?? 0, PidsLimit: r.Options.pidsLimit ?? 0, RestartPolicy: { Name: r.Options.restart } },
    };
  });
  process.stdout.write(JSON.stringify(out, null, 4) + '\n');
  return code;
};

export const waitCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  for (const ref of a.positionals) {
    const r = mustFind(g.root, ref);
    while (liveState(g.root, r).Running) await sleep(50);
    process.stdout.write(`${liveState(g.root, r).ExitCode}\n`);
  }
  return 0;
};

export const pauseCommand: Command = async (argv, g) => {
  for (const ref of args(argv, {}).positionals) ops.pause(stateRoot(g.root), mustFind(g.root, ref).Id);
  return 0;
};

export const unpauseCommand: Command = async (argv, g) => {
  for (const ref of args(argv, {}).positionals) ops.resume(stateRoot(g.root), mustFind(g.root, ref).Id);
  return 0;
};

export const topCommand: Command = async (argv, g) => {
  const [ref, ...psArgs] = argv;
  if (!ref) throw new UsageError('top: want CONTAINER [ps OPTIONS]');
  return runtimeMain(['--root', stateRoot(g.root), 'ps', mustFind(g.root, ref).Id, ...psArgs]);
};

export const statsCommand: Command = async (argv, g) => {
  const a = args(argv, { 'no-stream': { type: 'boolean' }, format: { type: 'string' } });
  if (!a.values['no-stream']) throw new UsageError('stats: only --no-stream is supported in this version');
  const refs = a.positionals.length ? a.positionals : listRecords(g.root).filter((r) => liveState(g.root, r).Running).map((r) => r.Id);
  const rows = [];
  for (const ref of refs) {
    const r = mustFind(g.root, ref);
    const cg = containerCgroup(readState(stateRoot(g.root), r.Id));
    const s1 = cg.stats();
    const t0 = process.hrtime.bigint();
    await sleep(200);
    const s2 = cg.stats();
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = ((s2.cpu.usageNs - s1.cpu.usageNs) / ns) * 100;
    rows.push({ ID: r.Id.slice(0, 12), Name: r.Name, CPUPerc: `${cpu.toFixed(2)}%`, MemUsage: `${s2.memory.usage} / ${s2.memory.limit ?? 'unlimited'}`, PIDs: String(s2.pids.current) });
  }
  if (a.values.format === 'json') for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    process.stdout.write('CONTAINER ID   NAME                 CPU %     MEM USAGE / LIMIT          PIDS\n');
    for (const r of rows) process.stdout.write(`${r.ID.padEnd(15)}${r.Name.padEnd(21)}${r.CPUPerc.padEnd(10)}${r.MemUsage.padEnd(27)}${r.PIDs}\n`);
  }
  return 0;
};

export const startCommand: Command = async (argv, g) => {
  const a = args(argv, { attach: { type: 'boolean', short: 'a' } });
  if (!a.positionals.length) throw new UsageError('start: want at least one container');
  if (a.values.attach) throw new UsageError('start: --attach is not supported yet');
  for (const ref of a.positionals) {
    const r = mustFind(g.root, ref);
    if (!liveState(g.root, r).Running) await launchRecord(g.root, r, undefined, stderrHooks);
    process.stdout.write(`${ref}\n`);
  }
  return 0;
};

export const restartCommand: Command = async (argv, g) => {
  const a = args(argv, { time: { type: 'string', short: 't' } });
  if (!a.positionals.length) throw new UsageError('restart: want at least one container');
  for (const ref of a.positionals) {
    const r = mustFind(g.root, ref);
    await stopOne(g.root, r, Number(a.values.time ?? r.Options.stopTimeout ?? 10));
    await launchRecord(g.root, mustFind(g.root, ref), undefined, stderrHooks);
    process.stdout.write(`${ref}\n`);
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
    rm: rmCommand, logs: logsCommand, exec: execCommand, inspect: inspectCommand, wait: waitCommand, pause: pauseCommand, unpause: unpauseCommand,
    top: topCommand, stats: statsCommand, prune: containerPruneCommand, cp: cpCommand,
  };
  const c = sub ? subs[sub] : undefined;
  if (!c) throw new UsageError(`container: unknown subcommand ${JSON.stringify(sub ?? '')}`);
  return c(rest, g);
};

export const containerPruneCommand: Command = async (argv, g) => {
  args(argv, { force: { type: 'boolean', short: 'f' } });
  let n = 0;
  for (const r of listRecords(g.root)) {
    if (liveState(g.root, r).Running) continue;
    removeContainerFiles(g.root, r.Id);
    process.stdout.write(`${r.Id}\n`);
    n++;
  }
  process.stdout.write(`Deleted Containers: ${n}\n`);
  return 0;
};

/** tsbox cp CONTAINER:PATH HOSTPATH, or HOSTPATH CONTAINER:PATH (ts/engine/copy.ts does the copy). */
export const cpCommand: Command = async (argv, g) => {
  const a = args(argv, { archive: { type: 'boolean', short: 'a' }, 'follow-link': { type: 'boolean', short: 'L' } });
  if (a.positionals.length !== 2) throw new UsageError('cp: want SRC DEST, one of them CONTAINER:PATH');
  const [src, dst] = a.positionals;
  if (src === '-' || dst === '-') throw new UsageError('cp: copying a tar stream from or to "-" is not supported');
  const split = (p: string) => {
    const i = p.indexOf(':');
    return i > 0 && !p.startsWith('/') && !p.startsWith('.') ? { ref: p.slice(0, i), path: p.slice(i + 1) } : undefined;
  };
  const s = split(src);
  const d = split(dst);
  if (!!s === !!d) throw new UsageError('cp: exactly one of SRC and DEST must be CONTAINER:PATH');
  const c = (s ?? d)!;
  if (!c.path) throw new UsageError(`cp: ${c.ref}: want a path after the colon`);
  const r = mustFind(g.root, c.ref);
  let rootfs = join(snapshotDir(g.root, r.Id), 'rootfs');
  // Rootless, the filesystem is mounted only inside the container: reach it through its first process.
  if (isRootless() && snapshotKind() !== 'copy') {
    const live = liveState(g.root, r);
    if (!live.Running) throw new Error(`cp: container ${c.ref} is not running (without root its filesystem is mounted only while it runs)`);
    rootfs = `/proc/${live.Pid}/root`;
  }
  const inside = { root: rootfs, path: c.path, label: `${c.ref}:${c.path}` };
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
