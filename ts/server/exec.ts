// /exec/...: a process in a running container, as docker's exec instances: made by create, run by
// start (detached, or attached over the hijacked connection, framed or with a TTY), inspected after.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { liveState, mustFind, stateRoot } from '../engine/containers.js';
import { dirReader, resolveUser } from '../engine/spec.js';
import { ContainerProcess, Pty } from '../runtime/api.js';
import { execLaunch, execProcess } from '../runtime/exec.js';
import { closeQuietly, watchLaunched } from '../runtime/report.js';
import { readState } from '../runtime/state.js';
import { native } from '../native.js';
import { badRequest, conflict, notFound } from './errors.js';
import { hijack, STDERR, STDOUT } from './stdcopy.js';
import { checkFields, jsonBody, qInt, sendEmpty, sendJson, type Ctx, type Router } from './router.js';

interface ExecConfig {
  Cmd: string[];
  Env: string[];
  WorkingDir?: string;
  User?: string;
  Tty: boolean;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Privileged: boolean;
}

interface ExecInstance {
  ID: string;
  ContainerID: string;
  config: ExecConfig;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  started: boolean;
  pty?: Pty;
  created: number;
}

const CREATE_FIELDS = ['Detach', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ConsoleSize', 'DetachKeys', 'Tty', 'Env', 'Cmd', 'Privileged', 'User', 'WorkingDir'];

/** Exec instances live as long as this server (docker keeps them in its daemon too); finished ones are dropped after a while. */
const instances = new Map<string, ExecInstance>();
const KEEP_MS = 10 * 60_000;

function gc(): void {
  const now = Date.now();
  for (const [id, e] of instances) if (!e.Running && e.started && now - e.created > KEEP_MS) instances.delete(id);
}

function find(id: string): ExecInstance {
  const e = instances.get(id);
  if (!e) throw notFound(`No such exec instance: ${id}`);
  return e;
}

async function create(c: Ctx): Promise<void> {
  const body = await jsonBody(c);
  checkFields('exec config', body, CREATE_FIELDS);
  const r = mustFind(c.engine.root, c.params[0]);
  if (!liveState(c.engine.root, r).Running) throw conflict(`Container ${r.Id} is not running`);
  const cmd = body.Cmd;
  if (!Array.isArray(cmd) || !cmd.length || !cmd.every((x) => typeof x === 'string')) throw badRequest('No exec command specified');
  if (body.Privileged) throw badRequest('exec: Privileged is not supported by tsbox');
  gc();
  const id = randomBytes(32).toString('hex');
  instances.set(id, {
    ID: id,
    ContainerID: r.Id,
    config: {
      Cmd: cmd as string[],
      Env: Array.isArray(body.Env) ? (body.Env as string[]) : [],
      WorkingDir: (body.WorkingDir as string) || undefined,
      User: (body.User as string) || undefined,
      Tty: body.Tty === true,
      AttachStdin: body.AttachStdin === true,
      AttachStdout: body.AttachStdout === true,
      AttachStderr: body.AttachStderr === true,
      Privileged: false,
    },
    Running: false,
    ExitCode: null,
    Pid: 0,
    started: false,
    created: Date.now(),
  });
  sendJson(c, 201, { Id: id });
}

interface Launched {
  proc: ContainerProcess;
  /** Our ends: stdin (to write), stdout, stderr (to read); or the terminal. */
  stdin?: Socket;
  stdout?: Socket;
  stderr?: Socket;
  pty?: Pty;
}

/** Launches the exec's process; what is not attached reads or writes /dev/null. */
async function launch(c: Ctx, e: ExecInstance, attached: boolean, tty: boolean): Promise<Launched> {
  const root = c.engine.root;
  const r = mustFind(root, e.ContainerID);
  const live = liveState(root, r);
  if (!live.Running) throw conflict(`Container ${r.Id} is not running`);
  let user;
  if (e.config.User) {
    const u = resolveUser(dirReader(`/proc/${live.Pid}/root`), e.config.User);
    user = { uid: u.uid, gid: u.gid, additionalGids: [] };
  }
  const state = stateRoot(root);
  const proc = execProcess(readState(state, r.Id).spec.process, { args: e.config.Cmd, env: e.config.Env, cwd: e.config.WorkingDir, user, terminal: tty });
  const nul = openSync('/dev/null', 'r+');
  const toClose: number[] = [nul];
  const ours: (number | undefined)[] = [undefined, undefined, undefined];
  const fds: [number, number, number] = [nul, nul, nul];
  const want = [e.config.AttachStdin, e.config.AttachStdout, e.config.AttachStderr];
  if (attached && !tty) {
    for (let i = 0; i < 3; i++) {
      if (!want[i]) continue;
      const [a, b] = native().socketpair();
      ours[i] = a;
      fds[i] = b;
      toClose.push(b);
    }
  }
  const ptyPair = tty ? native().socketpair() : undefined;
  let l;
  try {
    l = execLaunch({ root: state, id: r.Id, process: proc, stdio: fds, consoleFd: ptyPair?.[1] });
  } catch (err) {
    ours.forEach((fd) => fd !== undefined && closeQuietly(fd));
    ptyPair?.forEach(closeQuietly);
    throw err;
  } finally {
    toClose.forEach((fd) => closeSync(fd));
    if (ptyPair) closeQuietly(ptyPair[1]);
  }
  const w = watchLaunched(l.spawned.pidfd, l.spawned.reportFd);
  const setup = await w.setup;
  if (setup.kind === 'error') {
    if (ptyPair) closeQuietly(ptyPair[0]);
    ours.forEach((fd) => fd !== undefined && closeQuietly(fd));
    await w.exit;
    closeQuietly(l.spawned.pidfd);
    const notFoundCmd = setup.errno === 2 || setup.errno === 20;
    // docker's exec reports a missing command as output and exit code 126/127, not as an API error.
    // dockerd sets 126 for any exec that could not start (a missing command too), and says why on its stdout.
    void notFoundCmd;
    throw Object.assign(new Error(setup.message), { exitCode: 126, notFound: notFoundCmd });
  }
  let pty: Pty | undefined;
  if (ptyPair) {
    pty = new Pty(native().recvFd(ptyPair[0]));
    closeQuietly(ptyPair[0]);
  }
  const sock = (i: number) => (ours[i] === undefined ? undefined : new Socket({ fd: ours[i], readable: i !== 0, writable: i === 0 }));
  const proc2 = new ContainerProcess(l.spawned, [], w.exit, () => undefined, pty ?? null);
  return { proc: proc2, stdin: sock(0), stdout: sock(1), stderr: sock(2), pty };
}

async function start(c: Ctx): Promise<void> {
  const e = find(c.params[0]);
  const body = await jsonBody(c);
  // hijack and stdin are dockerode's own options, sent in the body as well.
  checkFields('exec start', body, ['Detach', 'Tty', 'ConsoleSize', 'hijack', 'stdin']);
  if (e.started) throw conflict(`exec ${e.ID} has already run`);
  e.started = true;
  const detach = body.Detach === true;
  const tty = body.Tty === true || e.config.Tty;
  let l: Launched;
  try {
    l = await launch(c, e, !detach, tty);
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    if (code === undefined) throw err;
    e.ExitCode = code;
    if (detach) return sendEmpty(c, 200);
    const h = hijack(c, tty);
    // dockerd's words, on the exec's stdout.
    const why = (err as { notFound?: boolean }).notFound ? 'executable file not found in $PATH' : (err as Error).message;
    h.write(STDOUT, Buffer.from(`OCI runtime exec failed: exec failed: unable to start container process: exec: ${JSON.stringify(e.config.Cmd[0])}: ${why}: unknown\r\n`));
    h.end();
    return;
  }
  e.Running = true;
  e.Pid = l.proc.pid;
  e.pty = l.pty;
  const done = l.proc.exitStatus.then((st) => {
    e.Running = false;
    e.ExitCode = st.code ?? 128 + (st.signal ?? 0);
  });
  if (detach) {
    sendEmpty(c, 200);
    return;
  }
  const h = hijack(c, tty);
  const outputs: Promise<void>[] = [];
  const pump = (s: NodeJS.ReadableStream, stream: number) =>
    outputs.push(
      new Promise<void>((resolve) => {
        s.on('data', (b: Buffer) => h.write(stream, b));
        s.on('end', resolve);
        s.on('close', resolve);
        s.on('error', () => resolve());
      }),
    );
  if (l.pty) pump(l.pty.output, STDOUT);
  if (l.stdout) pump(l.stdout, STDOUT);
  if (l.stderr) pump(l.stderr, STDERR);
  if (h.input && (l.stdin || l.pty)) {
    h.input.on('data', (b: Buffer) => (l.pty ? l.pty.write(b) : l.stdin!.write(b)));
    h.input.on('end', () => l.stdin?.end());
  } else h.input?.on('data', () => undefined);
  h.input?.on('error', () => undefined);
  l.stdin?.on('error', () => undefined);
  // The client going away ends the process's input; the process runs on as docker's would.
  void h.gone.then(() => l.stdin?.destroy());
  await done;
  await Promise.race([Promise.all(outputs), new Promise((r) => setTimeout(r, 2000))]);
  l.pty?.close();
  h.end();
}

function resize(c: Ctx): void {
  const e = find(c.params[0]);
  const h = qInt(c.query, 'h');
  const w = qInt(c.query, 'w');
  if (h === undefined || w === undefined) throw badRequest('resize: want h and w');
  if (e.pty) e.pty.resize(h, w);
  sendEmpty(c, 200);
}

function inspect(c: Ctx): void {
  const e = find(c.params[0]);
  sendJson(c, 200, {
    ID: e.ID,
    Running: e.Running,
    ExitCode: e.ExitCode,
    ProcessConfig: { tty: e.config.Tty, entrypoint: e.config.Cmd[0], arguments: e.config.Cmd.slice(1), privileged: false, user: e.config.User ?? '' },
    OpenStdin: e.config.AttachStdin,
    OpenStderr: e.config.AttachStderr,
    OpenStdout: e.config.AttachStdout,
    CanRemove: false,
    ContainerID: e.ContainerID,
    DetachKeys: '',
    Pid: e.Pid,
  });
}

export function execRoutes(r: Router): void {
  r.on('POST', '/containers/{}/exec', create).on('POST', '/exec/{}/start', start).on('POST', '/exec/{}/resize', resize).on('GET', '/exec/{}/json', inspect);
}
