// The warm path of tsbox-runtime: the client executable forwards a call to a runtime server (Node, the
// same runtime CLI code) and clones the container itself. Each call here is made twice where it matters,
// warm and with TSBOX_RUNTIME_COLD=1 (Node itself, as before), and both must give the same results.
// Every call runs with one explicit environment and a private XDG_RUNTIME_DIR: the servers of this file
// are its own (a server serves only callers with its environment).
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, linkSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { leftovers, makeBundle, removeBundle, STATE_ROOT, type Bundle } from './helpers/bundle.js';
import { RUNTIME as BIN, REPO } from './helpers/bins.js';
import { native } from '../ts/native.js';
import { decode, encode } from '../ts/runtime/remote-native.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLIENT = join(REPO, 'build/Release/tsbox-runtime');
const HAVE_CLIENT = existsSync(CLIENT);
const OUT = mkdtempSync(join(tmpdir(), 'tsbox-warm-out-'));
// mkdtemp: 0700 and ours, as the client wants the socket directory's parent.
const XDG = mkdtempSync(join(tmpdir(), 'tsbox-warm-xdg-'));
const SOCK_DIR = join(XDG, 'tsbox', '.runtime');

type Env = Record<string, string>;
const ENV: Env = { PATH: process.env.PATH ?? '/usr/bin:/bin', XDG_RUNTIME_DIR: XDG, TSBOX_RUNTIME_DEBUG: '1', TSBOX_RUNTIME_IDLE_MS: '30000', SHELL: '/bin/sh' };
const COLD: Env = { ...ENV, TSBOX_RUNTIME_COLD: '1' };

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The debug lines of the client ("tsbox-runtime: cold: why") are not output: warm and cold must print the same. */
const COLD_LINE = /^tsbox-runtime: cold: .*\n/gm;
const clean = (s: string) => s.replace(COLD_LINE, '');

/** One call; stdout and stderr in files (a detached container keeps them open). */
function rt(args: string[], o: { env?: Env; cwd?: string; input?: string; root?: string } = {}): Result & { cold: boolean } {
  const dir = mkdtempSync(join(OUT, 'o-'));
  const out = openSync(join(dir, 'o'), 'w');
  const err = openSync(join(dir, 'e'), 'w');
  try {
    const r = spawnSync(BIN, ['--root', o.root ?? STATE_ROOT, ...args], { env: o.env ?? ENV, cwd: o.cwd, input: o.input, stdio: [o.input === undefined ? 'ignore' : 'pipe', out, err], timeout: 60000 });
    const stderr = readFileSync(join(dir, 'e'), 'utf8');
    return { code: r.status, signal: r.signal, stdout: readFileSync(join(dir, 'o'), 'utf8'), stderr: clean(stderr), cold: COLD_LINE.test(stderr) || (o.env ?? ENV).TSBOX_RUNTIME_COLD === '1' };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** pids of the runtime servers listening in dir (their command line names the socket). */
function servers(dir = SOCK_DIR): number[] {
  const found: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--serve');
      if (i >= 0 && argv[i + 1]?.startsWith(dir + '/')) found.push(Number(p));
    } catch {
      // gone
    }
  }
  return found;
}

/** The socket of the server started by callers with exactly env (other tests' callers add to it: python adds LC_CTYPE). */
function socketOf(env: Env): string {
  const want = Object.entries(env).map(([k, v]) => `${k}=${v}`).sort().join('\n');
  for (const pid of servers()) {
    const vars = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((e) => e && !e.startsWith('PWD=')).sort().join('\n');
    if (vars !== want) continue;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return basename(argv[argv.indexOf('--serve') + 1]);
  }
  throw new Error('no server of that environment');
}

function sockets(dir = SOCK_DIR): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sock')) : [];
}

/** Calls until one is served warm (the first one of an environment starts the server and runs cold). */
async function warmUp(env: Env = ENV, cwd?: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (!rt(['list'], { env, cwd }).cold) return;
    await sleep(20);
  }
  throw new Error('no runtime server came up');
}

async function until(what: string, ok: () => boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await sleep(25);
  }
}

function stopServers(dir = SOCK_DIR): Promise<void> {
  for (const pid of servers(dir)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  return until('servers gone', () => servers(dir).length === 0);
}

test.after.always('no servers, cgroups or states left behind', async (t) => {
  await stopServers();
  rmSync(OUT, { recursive: true, force: true });
  rmSync(XDG, { recursive: true, force: true });
  const { cgroups, states } = leftovers();
  t.deepEqual(cgroups, []);
  t.deepEqual(states, []);
});

const warmTest = HAVE_CLIENT ? test.serial : test.serial.skip;

function bundle(args: string[], mutate?: Parameters<typeof makeBundle>[1]): Bundle {
  return makeBundle(args, mutate);
}

warmTest('run: exit codes, stdout, stderr and stdin are the same warm and cold', async (t) => {
  await warmUp();
  for (const [args, input, code] of [
    [['true'], undefined, 0],
    [['sh', '-c', 'echo out; echo err >&2; exit 7'], undefined, 7],
    [['sh', '-c', 'read x; echo "got $x"; exit 5'], 'hello\n', 5],
  ] as [string[], string | undefined, number][]) {
    const b = bundle(args);
    t.teardown(() => removeBundle(b));
    const warm = rt(['run', '--bundle', b.dir, `${b.id}-w`], { input });
    const cold = rt(['run', '--bundle', b.dir, `${b.id}-c`], { input, env: COLD });
    t.false(warm.cold, `${args.join(' ')} ran cold`);
    t.is(warm.code, code, warm.stderr);
    t.deepEqual({ code: warm.code, stdout: warm.stdout, stderr: warm.stderr }, { code: cold.code, stdout: cold.stdout, stderr: cold.stderr }, args.join(' '));
  }
});

warmTest('run: a signal to the caller reaches the container (128+N or its trap) and the container is the caller\'s child', async (t) => {
  await warmUp();
  const b = bundle(['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.05; done']);
  const pidFile = join(b.dir, 'pid');
  t.teardown(() => removeBundle(b));
  for (const env of [ENV, COLD]) {
    rmSync(pidFile, { force: true });
    const id = `${b.id}-${env === ENV ? 'w' : 'c'}`;
    const child = spawn(BIN, ['--root', STATE_ROOT, 'run', '--bundle', b.dir, '--pid-file', pidFile, id], { env, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    await until('pid file', () => existsSync(pidFile));
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // The clone is the client's (warm) or Node's own (cold): the caller's child either way, as with runc.
    const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    t.is(ppid, child.pid, env === ENV ? 'warm' : 'cold');
    await sleep(100);
    child.kill('SIGTERM');
    t.is(await exited, 7);
  }
  // SIGKILL by `kill` while a warm run waits: 128+9.
  const k = bundle(['sleep', '30']);
  t.teardown(() => removeBundle(k));
  const child = spawn(BIN, ['--root', STATE_ROOT, 'run', '--bundle', k.dir, k.id], { env: ENV, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  await until('running', () => rt(['state', k.id]).stdout.includes('"running"'));
  t.is(rt(['kill', k.id, 'KILL']).code, 0);
  t.is(await exited, 137);
});

warmTest('create, start, state, kill, delete, exec: warm as cold', async (t) => {
  await warmUp();
  const b = bundle(['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.05; done']);
  t.teardown(() => removeBundle(b));
  for (const env of [ENV, COLD]) {
    const id = `${b.id}-${env === ENV ? 'w' : 'c'}`;
    t.teardown(() => rt(['delete', '--force', id], { env: COLD }));
    const pidFile = join(b.dir, `${id}.pid`);
    const steps: unknown[] = [];
    const call = (args: string[]) => {
      const r = rt(args, { env });
      if (env === ENV) t.false(r.cold, args.join(' '));
      return r;
    };
    let r = call(['create', '--bundle', b.dir, '--pid-file', pidFile, id]);
    t.is(r.code, 0, r.stderr);
    const st = JSON.parse(call(['state', id]).stdout);
    t.is(st.pid, Number(readFileSync(pidFile, 'utf8')));
    steps.push(st.status);
    steps.push(call(['start', id]).code, JSON.parse(call(['state', id]).stdout).status);
    r = call(['exec', id, 'sh', '-c', 'echo in-$(cat /proc/1/comm); echo e >&2; exit 4']);
    steps.push(r.code, r.stdout, r.stderr);
    r = call(['delete', id]);
    steps.push(r.code, r.stderr.replace(id, 'ID'));
    steps.push(call(['kill', id, 'TERM']).code);
    await until('stopped', () => JSON.parse(call(['state', id]).stdout).status === 'stopped');
    steps.push(call(['delete', id]).code);
    r = call(['state', id]);
    steps.push(r.code, r.stderr.replace(id, 'ID'));
    steps.push(call(['delete', '--force', id]).code);
    t.deepEqual(steps, ['created', 0, 'running', 4, 'in-sh\n', 'e\n', 1, 'tsbox-runtime: cannot delete container ID that is not stopped: running\n', 0, 0, 1, 'tsbox-runtime: container "ID" does not exist\n', 0], env === ENV ? 'warm' : 'cold');
  }
});

warmTest('relative --bundle, --pid-file and --root are the caller\'s, from its cwd', async (t) => {
  const b = bundle(['sh', '-c', 'echo from-$(hostname)']);
  t.teardown(() => removeBundle(b));
  const cwd = dirname(b.dir);
  await warmUp(ENV, cwd);
  for (const env of [ENV, COLD]) {
    const id = `${b.id}-${env === ENV ? 'w' : 'c'}`;
    const rel = `${basename(b.dir)}/${id}.pid`;
    // --root, --bundle and --pid-file all relative to the caller's cwd (STATE_ROOT is beside the bundle).
    const r = rt(['create', '--bundle', basename(b.dir), '--pid-file', rel, id], { env, cwd, root: basename(STATE_ROOT) });
    t.is(r.code, 0, r.stderr);
    if (env === ENV) t.false(r.cold);
    t.is(Number(readFileSync(join(b.dir, `${id}.pid`), 'utf8')), JSON.parse(rt(['state', id]).stdout).pid);
    t.is(rt(['delete', '--force', id], { env }).code, 0);
  }
});

warmTest('a pty run through script(1): the terminal is the caller\'s, warm as cold', async (t) => {
  const b = bundle(['sh', '-c', 'tty >/dev/null && echo is-a-tty; stty size; echo done'], (s) => {
    s.process!.terminal = true;
  });
  t.teardown(() => removeBundle(b));
  await warmUp();
  const outs: string[] = [];
  for (const env of [ENV, COLD]) {
    const id = `${b.id}-${env === ENV ? 'w' : 'c'}`;
    const cmd = `stty rows 33 cols 111; ${BIN} --root ${STATE_ROOT} run --bundle ${b.dir} ${id}`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env, encoding: 'utf8', timeout: 30000 });
    t.is(r.status, 0, r.stderr + r.stdout);
    // A NUL the terminal echoes as ^@ comes at no fixed place (cold too).
    outs.push(clean(r.stdout.replace(/\r|\^@/g, '')));
  }
  t.regex(outs[0], /is-a-tty\n33 111\ndone/);
  t.is(outs[0], outs[1]);
});

warmTest('after create, the container\'s parent is the caller\'s subreaper (as with runc), not the server', async (t) => {
  await warmUp();
  const b = bundle(['sleep', '30']);
  t.teardown(() => removeBundle(b));
  // A subreaper (prctl PR_SET_CHILD_SUBREAPER) runs create and reports the container's parent once create has exited.
  const py = `
import ctypes, os, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)
cmd, pidfile = sys.argv[1:-1], sys.argv[-1]
rc = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
pid = int(open(pidfile).read())
for line in open('/proc/%d/status' % pid):
    if line.startswith('PPid:'):
        print(rc, os.getpid(), int(line.split()[1]))
`;
  const runcRoot = mkdtempSync(join(tmpdir(), 'tsbox-warm-runc-'));
  t.teardown(() => rmSync(runcRoot, { recursive: true, force: true }));
  const cases: [string, string[], Env][] = [
    ['warm', [BIN, '--root', STATE_ROOT, 'create', '--bundle', b.dir], ENV],
    ['cold', [BIN, '--root', STATE_ROOT, 'create', '--bundle', b.dir], COLD],
    ['runc', ['runc', '--root', runcRoot, 'create', '--bundle', b.dir], ENV],
  ];
  for (const [name, cmd, env] of cases) {
    const id = `${b.id}-${name}`;
    const pidFile = join(b.dir, `${name}.pid`);
    const r = spawnSync('/usr/bin/python3', ['-c', py, ...cmd, '--pid-file', pidFile, id, pidFile], { env, encoding: 'utf8' });
    const [rc, reaper, ppid] = r.stdout.trim().split(' ').map(Number);
    t.is(rc, 0, `${name}: ${r.stderr}`);
    t.is(ppid, reaper, name);
    if (name === 'runc') spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id]);
    else t.is(rt(['delete', '--force', id]).code, 0);
    // The subreaper is gone: its orphans went to init, which reaps them.
  }
});

warmTest('a caller with another environment is not served by the server it reaches: N, and its call runs cold', async (t) => {
  await warmUp();
  const sock = socketOf(ENV);
  // The test plays a client that reaches the server with its own environment.
  const conn = native().msgConnect(join(SOCK_DIR, sock));
  const env = Object.entries({ ...ENV, OTHER: '1' }).map(([k, v]) => `${k}=${v}`);
  native().msgSend(conn, encode('R', ['1', '/', '1', 'list', String(env.length), ...env]), [0, 1, 2]);
  const reply = native().msgRecv(conn);
  native().close(conn);
  t.is(decode(reply.data!).type, 'N');
  // The same environment is served: Z 0.
  const ok = native().msgConnect(join(SOCK_DIR, sock));
  const same = Object.entries(ENV).map(([k, v]) => `${k}=${v}`);
  const devNull = openSync('/dev/null', 'r+');
  native().msgSend(ok, encode('R', ['1', '/', '3', '--root', STATE_ROOT, 'list', String(same.length), ...same]), [devNull, devNull, devNull]);
  closeSync(devNull);
  const z = decode(native().msgRecv(ok).data!);
  native().close(ok);
  t.deepEqual([z.type, z.fields.map(String)], ['Z', ['0']]);
  // The real client, whose key names another socket, is led to this server's (a hard link): refused, runs cold, succeeds.
  const other = { ...ENV, OTHER: '1' };
  const otherSock = keySocket(other);
  // That first call started a server for the other environment: stopped, so that its socket is free.
  const serving = () => servers().filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(otherSock));
  await until('the other server', () => serving().length === 1 && existsSync(otherSock));
  for (const pid of serving()) process.kill(pid, 'SIGTERM');
  await until('the other server gone', () => serving().length === 0 && !existsSync(otherSock));
  linkSync(join(SOCK_DIR, sock), otherSock);
  t.teardown(() => rmSync(otherSock, { force: true }));
  const r = spawnSync(BIN, ['--root', STATE_ROOT, 'list'], { env: other, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /cold: .*declined/, `linked ${sock} as ${otherSock}`);
});

/** The socket path the client uses for env (it names it in its reason for going cold when no server is up). */
function keySocket(env: Env): string {
  const r = spawnSync(BIN, ['--root', STATE_ROOT, 'list'], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const m = /(\/\S+\.sock)/.exec(r.stderr);
  if (!m) throw new Error(`no socket path in ${JSON.stringify(r.stderr)}`);
  return m[1];
}

/** Stops the servers that were not running before. */
async function stopNew(before: number[]): Promise<void> {
  const extra = servers().filter((p) => !before.includes(p));
  for (const pid of extra) process.kill(pid, 'SIGTERM');
  await until('those servers gone', () => !servers().some((p) => extra.includes(p)));
}

warmTest('a client that breaks the protocol does not end the server', async (t) => {
  await warmUp();
  const sock = socketOf(ENV);
  const bad = native().msgConnect(join(SOCK_DIR, sock));
  native().msgSend(bad, Buffer.from('Z\xff\xff\xff\xff', 'latin1'), []);
  native().msgSend(bad, Buffer.from('R'), []);
  native().close(bad);
  const r = rt(['list']);
  t.is(r.code, 0);
  t.false(r.cold);
});

warmTest('20 calls at once with no server: one server starts, every call succeeds', async (t) => {
  const env = { ...ENV, RACE: '1' };
  const was = servers();
  const before = was.length;
  let most = 0;
  const watch = setInterval(() => (most = Math.max(most, servers().length - before)), 5);
  const calls = Array.from({ length: 20 }, () => {
    const p = spawn(BIN, ['--root', STATE_ROOT, 'list'], { env, stdio: 'ignore' });
    return new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  });
  const codes = await Promise.all(calls);
  await sleep(500);
  clearInterval(watch);
  t.deepEqual(codes, Array(20).fill(0));
  t.is(most, 1);
  await warmUp(env);
  t.is(servers().length - before, 1);
  await stopNew(was);
});

warmTest('idle: the server exits after TSBOX_RUNTIME_IDLE_MS, leaving no process, socket or lock file', async (t) => {
  const dirOf = mkdtempSync(join(tmpdir(), 'tsbox-warm-idle-'));
  t.teardown(() => rmSync(dirOf, { recursive: true, force: true }));
  const sockDir = join(dirOf, 'tsbox', '.runtime');
  const env = { ...ENV, XDG_RUNTIME_DIR: dirOf, TSBOX_RUNTIME_IDLE_MS: '400' };
  await warmUp(env);
  t.is(servers(sockDir).length, 1);
  t.is(sockets(sockDir).length, 1);
  const b = bundle(['true']);
  t.teardown(() => removeBundle(b));
  const r = rt(['run', '--bundle', b.dir, b.id], { env });
  t.is(r.code, 0, r.stderr);
  t.false(r.cold);
  await until('server gone', () => servers(sockDir).length === 0, 5000);
  t.deepEqual(sockets(sockDir), []);
  // Nor its lock file: one per environment ever served would pile up in /run.
  t.deepEqual(readdirSync(sockDir), []);
  // The next call starts a server again.
  t.is(rt(['run', '--bundle', b.dir, b.id], { env }).code, 0);
  await until('a new server', () => servers(sockDir).length === 1, 5000);
  await until('server gone', () => servers(sockDir).length === 0, 5000);
  t.deepEqual(readdirSync(sockDir), []);
});

warmTest('a server killed -9 between calls: the next call works (stale socket) and a new server takes over', async (t) => {
  const dirOf = mkdtempSync(join(tmpdir(), 'tsbox-warm-kill-'));
  t.teardown(async () => {
    await stopServers(join(dirOf, 'tsbox', '.runtime'));
    rmSync(dirOf, { recursive: true, force: true });
  });
  const sockDir = join(dirOf, 'tsbox', '.runtime');
  const env = { ...ENV, XDG_RUNTIME_DIR: dirOf };
  await warmUp(env);
  const [pid] = servers(sockDir);
  process.kill(pid, 'SIGKILL');
  await until('killed', () => !existsSync(`/proc/${pid}`));
  t.is(sockets(sockDir).length, 1, 'the socket stays behind');
  const b = bundle(['sh', '-c', 'echo ok']);
  t.teardown(() => removeBundle(b));
  let r = rt(['run', '--bundle', b.dir, `${b.id}-1`], { env });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'ok\n');
  await warmUp(env);
  r = rt(['run', '--bundle', b.dir, `${b.id}-2`], { env });
  t.false(r.cold);
  t.is(r.stdout, 'ok\n');
  t.is(servers(sockDir).length, 1);
  // The files of a killed server whose environment never calls again go when another server starts:
  // kill this one too, then a caller of another environment starts one beside.
  const [second] = servers(sockDir);
  const files = readdirSync(sockDir).sort();
  process.kill(second, 'SIGKILL');
  await until('killed', () => !existsSync(`/proc/${second}`));
  t.deepEqual(readdirSync(sockDir).sort(), files, 'its socket and lock file stay behind');
  const other = { ...env, TSBOX_WARM_OTHER: '1' };
  await warmUp(other);
  t.deepEqual(readdirSync(sockDir).filter((f) => files.includes(f)), [], 'swept by the next server');
  t.is(readdirSync(sockDir).length, 2, 'the new server\'s own socket and lock file');
});

warmTest('--preserve-fds goes cold (the fds are the caller\'s) and works', async (t) => {
  await warmUp();
  const b = bundle(['sh', '-c', 'echo via-3 >&3']);
  t.teardown(() => removeBundle(b));
  const file = join(b.dir, 'three');
  writeFileSync(file, '');
  const fd = openSync(file, 'w');
  const r = spawnSync(BIN, ['--root', STATE_ROOT, 'run', '--preserve-fds', '1', '--bundle', b.dir, b.id], { env: ENV, stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
  closeSync(fd);
  t.is(r.status, 0, r.stderr);
  t.is(readFileSync(file, 'utf8'), 'via-3\n');
});

warmTest('update -r - reads the caller\'s stdin, and ps lists the container: warm as cold', async (t) => {
  await warmUp();
  const b = bundle(['sleep', '30']);
  t.teardown(() => removeBundle(b));
  const pidsMax = () => {
    const file = ['/sys/fs/cgroup/pids', '/sys/fs/cgroup'].map((r) => `${r}${b.spec.linux!.cgroupsPath!}/pids.max`).find((f) => existsSync(f));
    return file ? readFileSync(file, 'utf8').trim() : 'no pids cgroup';
  };
  for (const env of [ENV, COLD]) {
    const id = `${b.id}-${env === ENV ? 'w' : 'c'}`;
    b.spec.linux!.cgroupsPath = b.spec.linux!.cgroupsPath!.replace(/\/[^/]+$/, `/${id}`);
    b.write();
    t.teardown(() => rt(['delete', '--force', id], { env: COLD }));
    t.is(rt(['run', '--detach', '--bundle', b.dir, id], { env }).code, 0);
    const r = rt(['update', '-r', '-', id], { env, input: JSON.stringify({ pids: { limit: 77 } }) });
    t.is(r.code, 0, r.stderr);
    if (env === ENV) t.false(r.cold);
    t.is(pidsMax(), '77');
    const ps = rt(['ps', id], { env });
    t.is(ps.code, 0, ps.stderr);
    t.regex(ps.stdout, /PID[\s\S]*sleep 30/);
    t.is(rt(['delete', '--force', id], { env }).code, 0);
  }
});

warmTest('a state lock another process holds: the served call waits for it, and the server serves other calls meanwhile', async (t) => {
  await warmUp();
  const b = bundle(['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.05; done']);
  t.teardown(() => {
    rt(['delete', '--force', b.id], { env: COLD });
    removeBundle(b);
  });
  t.is(rt(['run', '--detach', '--bundle', b.dir, b.id]).code, 0);
  // Held the way a cold call holds it (tsbox-runtime's withLock: flock of the state directory).
  const dirFd = openSync(join(STATE_ROOT, b.id), 'r');
  t.true(native().flock(dirFd, 2));
  const kill = spawn(BIN, ['--root', STATE_ROOT, 'kill', b.id, 'TERM'], { env: ENV, stdio: 'ignore' });
  const killed = new Promise<number | null>((r) => kill.on('exit', (c) => r(c)));
  await sleep(300);
  t.is(kill.exitCode, null, 'kill waits for the lock');
  const other = rt(['state', b.id]);
  t.false(other.cold);
  t.is(JSON.parse(other.stdout).status, 'running', 'served while the kill waits');
  native().flock(dirFd, 8 /* LOCK_UN */);
  closeSync(dirFd);
  t.is(await killed, 0);
  await until('stopped', () => JSON.parse(rt(['state', b.id]).stdout).status === 'stopped');
  t.is(rt(['delete', b.id]).code, 0);
});

warmTest('hooks write to the caller\'s stdout, warm as cold', async (t) => {
  await warmUp();
  const b = bundle(['true'], (s) => {
    s.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo hook-$(cat | grep -o creating)'] }], poststop: [{ path: '/bin/sh', args: ['sh', '-c', 'echo poststop'] }] };
  });
  t.teardown(() => removeBundle(b));
  const outs = [ENV, COLD].map((env) => {
    const r = rt(['run', '--bundle', b.dir, `${b.id}-${env === ENV ? 'w' : 'c'}`], { env });
    t.is(r.code, 0, r.stderr);
    return r.stdout;
  });
  t.is(outs[0], 'hook-creating\npoststop\n');
  t.is(outs[1], outs[0]);
});

/**
 * A Node script that plays a client on the socket at path: sends the request 'R' (a `list`, with ENV)
 * and prints the first letter of the answer ('N', 'Z', ...) after what the call itself wrote.
 */
function rawCaller(path: string): string {
  const env = Object.entries(ENV).map(([k, v]) => `${k}=${v}`);
  return `
const n = { exports: {} };
process.dlopen(n, ${JSON.stringify(join(REPO, 'build/Release/tsbox.node'))});
const a = n.exports;
const enc = (t, f) => Buffer.concat([Buffer.from(t), ...f.flatMap((x) => { const b = Buffer.from(x); const l = Buffer.alloc(4); l.writeUInt32LE(b.length); return [l, b]; })]);
const env = ${JSON.stringify(env)};
const c = a.msgConnect(${JSON.stringify(path)});
a.msgSend(c, enc('R', ['1', '/', '3', '--root', '/', 'list'].concat([String(env.length)], env)), [0, 1, 2]);
const m = a.msgRecv(c);
process.stdout.write(m.data ? String.fromCharCode(m.data[0]) : 'closed');
`;
}

warmTest('a caller of another uid is refused even where it can reach the socket (N)', async (t) => {
  await warmUp();
  const path = join(SOCK_DIR, socketOf(ENV));
  // Only a misconfigured host lets another user reach it (0700 directory, 0600 socket): opened up here.
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-warm-uid-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  spawnSync('chmod', ['755', dir]);
  const open = join(dir, 's.sock');
  linkSync(path, open);
  const mode = spawnSync('stat', ['-c', '%a', path], { encoding: 'utf8' }).stdout.trim();
  spawnSync('chmod', ['666', path]);
  t.teardown(() => void spawnSync('chmod', [mode, path]));
  const script = rawCaller(open);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', env: ENV });
  t.is(r.stdout, 'N', r.stderr);
});

warmTest('a root caller with fewer capabilities, or under no_new_privs, is refused where it reaches the socket (N)', async (t) => {
  await warmUp();
  const path = join(SOCK_DIR, socketOf(ENV));
  const script = rawCaller(path);
  // The same uid (root), environment and namespaces: only what it may do differs.
  for (const restrict of [['--bounding-set=-sys_admin', '--inh-caps=-sys_admin'], ['--no-new-privs']]) {
    const r = spawnSync('setpriv', [...restrict, process.execPath, '-e', script], { encoding: 'utf8', env: ENV });
    t.is(r.stdout, 'N', `${restrict.join(' ')}: ${r.stderr}`);
  }
  // And the same script unrestricted is served (the refusal above is the restriction's).
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: ENV });
  t.regex(r.stdout, /^ID\tPID\tSTATUS[^]*Z$/, r.stderr);
});

warmTest('a clone that fails in the client (F) reads as the addon\'s error, and leaves nothing behind', async (t) => {
  await warmUp();
  const b = bundle(['true'], (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: '/proc/999999999/ns/pid' } : n));
  });
  t.teardown(() => removeBundle(b));
  const [warm, cold] = [ENV, COLD].map((env) => rt(['run', '--bundle', b.dir, `${b.id}-${env === ENV ? 'w' : 'c'}`], { env }));
  t.false(warm.cold);
  t.is(warm.code, 1);
  t.is(warm.stderr, 'tsbox-runtime: setns /proc/999999999/ns/pid: ENOENT\n');
  t.deepEqual(warm, { ...cold, cold: false });
  t.deepEqual(leftovers().states, []);
});
