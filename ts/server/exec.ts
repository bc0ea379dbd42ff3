// /exec/...: a process in a running container, as docker's exec instances: made by create, run by
// start (detached, or attached over the hijacked connection, framed or with a TTY), inspected after.
import { randomBytes } from 'node:crypto';
import { liveState, mustFind } from '../engine/containers.js';
import { execContainer, type ContainerProcess, type Pty, type StdioOption } from '../engine/exec.js';
import { CommandNotFoundError, ContainerError } from '../errors.js';
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

/**
 * Launches the exec's process through the engine's exec (pipes, as dockerd gives); what is not attached
 * reads or writes /dev/null. A process that could not start carries docker's 126 and whether it was not found.
 */
async function launch(c: Ctx, e: ExecInstance, attached: boolean, tty: boolean): Promise<ContainerProcess> {
  const want = [e.config.AttachStdin, e.config.AttachStdout, e.config.AttachStderr];
  const stdio = want.map((w) => (attached && !tty && w ? 'pipe' : 'ignore')) as [StdioOption, StdioOption, StdioOption];
  try {
    return await execContainer(c.engine.root, e.ContainerID, { cmd: e.config.Cmd, env: e.config.Env, workdir: e.config.WorkingDir, user: e.config.User || undefined, tty, stdio });
  } catch (err) {
    if (!(err instanceof ContainerError)) throw err;
    throw Object.assign(new Error(err.message), { exitCode: 126, notFound: err instanceof CommandNotFoundError });
  }
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
  let l: ContainerProcess;
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
  e.Pid = l.pid;
  e.pty = l.pty ?? undefined;
  const done = l.exitStatus.then((st) => {
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
