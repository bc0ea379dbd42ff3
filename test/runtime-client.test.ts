// The tsbox-runtime client executable (csrc/client/) on its own: the cold path gives what Node gives, a
// socket directory that is not the caller's own means cold and no server, and the client's side of the
// protocol against a server played here (msgListen): the request, 'Z', 'N', a clone of tsbox-init that is
// the client's own child, watched exits, spawn failures worded as the addon's, forwarded signals.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, statSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native, type SpawnOptions } from '../ts/native.js';
import { REPO } from './helpers/bins.js';
import { leftovers, makeBundle, removeBundle, STATE_ROOT } from './helpers/bundle.js';

const CLIENT = join(REPO, 'build', 'Release', 'tsbox-runtime');
const NODE_CLI = [join(REPO, 'bin', 'cached.cjs'), join(REPO, 'dist', 'tsbox-runtime.cjs')];
const LOCK_EX = 2;
const LOCK_NB = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// csrc/common/config.h
const record = (tag: number, payload: Buffer) => {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(tag, 0);
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload]);
};
function blob(args: string[], env: string[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x58425354, 0);
  head.writeUInt32LE(1, 4);
  return Buffer.concat([head, ...args.map((a) => record(40, Buffer.from(`${a}\0`))), ...env.map((e) => record(41, Buffer.from(`${e}\0`)))]);
}

// The wire format: 1 byte type, then fields of u32 LE length + bytes.
function encode(type: string, fields: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(type)];
  for (const f of fields) {
    const b = typeof f === 'string' ? Buffer.from(f) : f;
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length, 0);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}
function decode(data: Buffer): { type: string; fields: string[] } {
  const fields: string[] = [];
  for (let off = 1; off < data.length; ) {
    const len = data.readUInt32LE(off);
    fields.push(data.subarray(off + 4, off + 4 + len).toString());
    off += 4 + len;
  }
  return { type: String.fromCharCode(data[0]!), fields };
}

type Run = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; child: ChildProcess };

/** Runs the client (or node's cold CLI) with stdout/stderr in files; onStart gets the child at once. */
async function run(cmd: string[], env: NodeJS.ProcessEnv, o: { cwd?: string; onStart?: (c: ChildProcess) => void } = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-client-out-'));
  const out = openSync(join(dir, 'o'), 'w');
  const err = openSync(join(dir, 'e'), 'w');
  try {
    const child = spawn(cmd[0]!, cmd.slice(1), { env, cwd: o.cwd, stdio: ['ignore', out, err] });
    o.onStart?.(child);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
      child.on('error', rej);
      child.on('exit', (c, s) => res([c, s]));
    });
    return { code, signal, stdout: readFileSync(join(dir, 'o'), 'utf8'), stderr: readFileSync(join(dir, 'e'), 'utf8'), child };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A private XDG_RUNTIME_DIR (so a private socket directory) and state root for one test. */
function privateEnv(t: { teardown(fn: () => void): void }, extra: NodeJS.ProcessEnv = {}) {
  const xdg = mkdtempSync(join(tmpdir(), 'tsbox-client-xdg-'));
  const root = mkdtempSync(join(tmpdir(), 'tsbox-client-root-'));
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: xdg, TSBOX_RUNTIME_IDLE_MS: '200', TSBOX_RUNTIME_DEBUG: '1', ...extra };
  delete env.TSBOX_RUNTIME_COLD;
  t.teardown(async () => {
    await noServerLeft(xdg);
    rmSync(xdg, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });
  return { xdg, root, env, sockDir: join(xdg, 'tsbox', '.runtime') };
}

/**
 * Takes a server lock (busy while its server lives), waiting up to 15 s; returns its fd. A server that
 * went idle meanwhile has removed the file: it is made again, and a file that was removed while this
 * waited for it is not the lock any more (the same rule as the servers').
 */
async function takeLock(file: string): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const fd = openSync(file, 'a');
    if (native().flock(fd, LOCK_EX | LOCK_NB)) {
      if (statSync(file, { throwIfNoEntry: false })?.ino === fstatSync(fd).ino) return fd;
    }
    closeSync(fd);
    await sleep(50);
  }
  throw new Error(`${file}: still locked after 15 s: a server did not end`);
}

/** The processes whose command line names xdg, as "pid cmdline". */
function processesNaming(xdg: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(xdg)) out.push(`${pid} ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Every server started under xdg has ended: its lock is free, and then no process names the directory. A
 * server removes its lock file before Node's own exit, which takes a while on a loaded machine: up to 10 s.
 */
async function noServerLeft(xdg: string): Promise<void> {
  const dir = join(xdg, 'tsbox', '.runtime');
  const locks = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.lock')) : [];
  for (const f of locks) closeSync(await takeLock(join(dir, f)));
  let left = processesNaming(xdg);
  for (let i = 0; i < 200 && left.length; i++) {
    await sleep(50);
    left = processesNaming(xdg);
  }
  if (left.length) throw new Error(`a process still names ${xdg} 10 s after its lock was free: ${left.join('; ')}`);
}

const lockFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.lock')) : []);

test.after.always('no cgroups or states left behind', (t) => {
  const { cgroups, states } = leftovers();
  t.deepEqual(cgroups, []);
  t.deepEqual(states, []);
});

test('cold path: the same output and exit code as Node running the runtime CLI, TSBOX_RUNTIME_COLD=1 the same', async (t) => {
  t.true(existsSync(CLIENT), 'npm run compile builds build/Release/tsbox-runtime');
  const { root, env, xdg } = privateEnv(t);
  for (const args of [['--version'], ['--help'], [], ['nonsense'], ['--root', root, 'list'], ['--root', root, 'state', 'nope'], ['--root', root, 'kill', 'nope', 'KILL']]) {
    const ref = await run(['node', ...NODE_CLI, ...args], env);
    for (const e of [env, { ...env, TSBOX_RUNTIME_COLD: '1' }]) {
      const r = await run([CLIENT, ...args], e);
      const why = `${args.join(' ')} COLD=${e.TSBOX_RUNTIME_COLD ?? ''}`;
      t.is(r.code, ref.code, why);
      t.is(r.stdout, ref.stdout, why);
      // Only the client's own debug lines ("cold: why") come on top of Node's stderr.
      t.is(r.stderr.split('\n').filter((l) => !l.startsWith('tsbox-runtime: cold: ')).join('\n'), ref.stderr, why);
    }
  }
  // COLD=1 looks at nothing: no socket directory is made.
  const x2 = mkdtempSync(join(tmpdir(), 'tsbox-client-xdg-'));
  t.teardown(() => rmSync(x2, { recursive: true, force: true }));
  t.is((await run([CLIENT, '--root', root, 'list'], { ...env, XDG_RUNTIME_DIR: x2, TSBOX_RUNTIME_COLD: '1' })).code, 0);
  t.deepEqual(readdirSync(x2), []);
  t.true(existsSync(xdg));
});

test('cold path runs a container as the Node CLI does; a server start is attempted and leaves nothing behind', async (t) => {
  // The server it starts stays long enough to be seen (200 ms idle could pass before the look, under load).
  const { env, xdg, sockDir } = privateEnv(t, { TSBOX_RUNTIME_IDLE_MS: '3000' });
  const b = makeBundle(['sh', '-c', 'echo "out $0"; echo err >&2; exit 4']);
  t.teardown(() => removeBundle(b));
  const ref = await run(['node', ...NODE_CLI, '--root', STATE_ROOT, 'run', '--bundle', b.dir, `${b.id}-ref`], env);
  t.is(ref.code, 4, ref.stderr);
  const r = await run([CLIENT, '--root', STATE_ROOT, 'run', '--bundle', b.dir, b.id], env);
  t.is(r.code, 4, r.stderr);
  t.is(r.stdout, ref.stdout);
  t.is(r.stdout, 'out sh\n');
  t.regex(r.stderr, /^err$/m);
  // The socket directory is the caller's own, and a server was asked for (its lock made).
  const st = statSync(sockDir);
  t.is(st.mode & 0o777, 0o700);
  t.is(st.uid, process.geteuid!());
  t.is(statSync(join(xdg, 'tsbox')).mode & 0o777, 0o711);
  t.is(lockFiles(sockDir).length, 1);
  await noServerLeft(xdg);
});

test('a socket directory that is not the caller\'s own means cold, and no server is started there', async (t) => {
  const cases: [string, (xdg: string) => string][] = [
    ['.runtime a symlink to a directory of ours', (xdg) => {
      const target = join(xdg, 'elsewhere');
      mkdirSync(target, { mode: 0o700 });
      mkdirSync(join(xdg, 'tsbox'), { mode: 0o711 });
      symlinkSync(target, join(xdg, 'tsbox', '.runtime'));
      return target;
    }],
    ['tsbox a symlink', (xdg) => {
      const target = join(xdg, 'elsewhere');
      mkdirSync(join(target, '.runtime'), { recursive: true, mode: 0o700 });
      symlinkSync(target, join(xdg, 'tsbox'));
      return join(target, '.runtime');
    }],
    ['.runtime mode 0777', (xdg) => {
      const d = join(xdg, 'tsbox', '.runtime');
      mkdirSync(d, { recursive: true });
      chmodSync(d, 0o777);
      return d;
    }],
    ['.runtime mode 0750', (xdg) => {
      const d = join(xdg, 'tsbox', '.runtime');
      mkdirSync(d, { recursive: true });
      chmodSync(d, 0o750);
      return d;
    }],
    ['.runtime owned by another uid', (xdg) => {
      const d = join(xdg, 'tsbox', '.runtime');
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chownSync(d, 65534, 65534);
      return d;
    }],
    ['tsbox writable by others', (xdg) => {
      const d = join(xdg, 'tsbox', '.runtime');
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chmodSync(join(xdg, 'tsbox'), 0o777);
      return d;
    }],
    ['XDG_RUNTIME_DIR owned by another uid', (xdg) => {
      const d = join(xdg, 'tsbox', '.runtime');
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chmodSync(join(xdg, 'tsbox'), 0o711);
      chownSync(xdg, 65534, 65534);
      return d;
    }],
    ['tsbox owned by another uid', (xdg) => {
      const d = join(xdg, 'tsbox', '.runtime');
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chownSync(join(xdg, 'tsbox'), 65534, 65534);
      return d;
    }],
  ];
  for (const [name, make] of cases) {
    const { env, xdg, root } = privateEnv(t);
    const target = make(xdg);
    const r = await run([CLIENT, '--root', root, 'list'], env);
    t.is(r.code, 0, `${name}: ${r.stderr}`);
    t.regex(r.stdout, /^ID\s+PID\s+STATUS/, name);
    t.regex(r.stderr, /^tsbox-runtime: cold: .*(ELOOP|ENOTDIR|owner|mode)/m, name);
    t.notRegex(r.stderr, /no server on/, name);
    t.deepEqual(lockFiles(target), [], name);
    t.deepEqual(readdirSync(target).filter((f) => f.endsWith('.sock')), [], name);
  }
});

test('--preserve-fds N > 0 goes cold: those fds are the caller\'s', async (t) => {
  const { env, root, sockDir } = privateEnv(t);
  const r = await run([CLIENT, '--root', root, 'run', '--preserve-fds', '2', '--bundle', '/nonexistent', 'x'], env);
  t.is(r.code, 1);
  t.regex(r.stderr, /^tsbox-runtime: cold: --preserve-fds$/m);
  t.false(existsSync(sockDir));
});

/**
 * A server played by the test at the socket a client of env looks for: the first call names it (the
 * debug line "no server on ..."); its lock is then held here, so that no real server starts meanwhile.
 */
async function playServer(t: { teardown(fn: () => void | Promise<void>): void }, env: NodeJS.ProcessEnv, root: string) {
  const first = await run([CLIENT, '--root', root, 'list'], env);
  const m = /no server on (\S+\.sock)/.exec(first.stderr);
  if (!m) throw new Error(`no socket named: ${first.stderr}`);
  const sock = m[1]!;
  const lock = await takeLock(sock.replace(/\.sock$/, '.lock'));
  if (existsSync(sock)) unlinkSync(sock);
  const inbox: { conn: number; data: Buffer | null; fds: number[] }[] = [];
  let wake: (() => void) | undefined;
  const lfd = native().msgListen(sock, (conn, data, fds) => {
    inbox.push({ conn, data, fds });
    wake?.();
  });
  t.teardown(() => {
    native().msgClose(lfd);
    closeSync(lock);
  });
  const next = async () => {
    while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
    const got = inbox.shift()!;
    return { conn: got.conn, fds: got.fds, msg: got.data ? decode(got.data) : null };
  };
  const send = (conn: number, type: string, fields: (string | Buffer)[], fds: number[] = []) => native().msgSend(conn, encode(type, fields), fds);
  return { sock, next, send };
}

test('warm: the request carries cwd, argv, env and the caller\'s stdio; Z is the exit code; N and an early close mean cold', async (t) => {
  const { env, root } = privateEnv(t);
  const srv = await playServer(t, env, root);
  const cwd = mkdtempSync(join(tmpdir(), 'tsbox-client-cwd-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));

  const call = run([CLIENT, '--root', 'rel', 'state', 'abc'], env, { cwd });
  const req = await srv.next();
  t.is(req.msg!.type, 'R');
  const f = req.msg!.fields;
  t.is(f[0], '1');
  t.is(f[1], cwd);
  t.deepEqual(f.slice(2, 3 + Number(f[2])), ['4', '--root', 'rel', 'state', 'abc']);
  const envc = Number(f[7]);
  const sent = f.slice(8, 8 + envc);
  const want = Object.entries(env).filter(([k, v]) => v !== undefined && k !== 'NODE_EXTRA_CA_CERTS').map(([k, v]) => `${k}=${v}`);
  t.deepEqual([...sent].sort(), want.sort());
  t.is(req.fds.length, 3);
  // stdin was 'ignore' (/dev/null), stdout and stderr are files of run(): the client's own, not copies.
  t.true(fstatSync(req.fds[0]!).isCharacterDevice());
  t.true(fstatSync(req.fds[1]!).isFile());
  writeSync(req.fds[1]!, 'from the server\n');
  for (const fd of req.fds) closeSync(fd);
  srv.send(req.conn, 'Z', ['7']);
  const r = await call;
  t.is(r.code, 7);
  t.is(r.stdout, 'from the server\n');
  t.is((await srv.next()).msg, null); // the client closed its end

  // 'N': the server declines; the client runs the call cold.
  const declined = run([CLIENT, '--root', root, 'list'], env);
  const r2 = await srv.next();
  for (const fd of r2.fds) closeSync(fd);
  srv.send(r2.conn, 'N', []);
  const d = await declined;
  t.is(d.code, 0, d.stderr);
  t.regex(d.stdout, /^ID\s+PID/);
  t.regex(d.stderr, /cold: the runtime server declined the call/);
  await srv.next();
});

test('warm: S clones tsbox-init as the client\'s own child, W and E report its exit, F words failures as the addon does, signals go as K', async (t) => {
  const { env, root } = privateEnv(t);
  const srv = await playServer(t, env, root);
  const call = run([CLIENT, '--root', root, 'run', 'x'], env);
  const req = await srv.next();
  for (const fd of req.fds) closeSync(fd);
  const conn = req.conn;
  const [outR, outW] = native().pipe();
  const devnull = openSync('/dev/null', 'r+');
  const config = blob(['/bin/sh', '-c', 'echo "hi $PPID"; exit 3'], ['PATH=/bin:/usr/bin']);
  // fields: cloneFlags, monitor, fifoPath, pidNamespace, hasConsole, hasStatus, nExtra, nTasks, tasks..., config
  srv.send(conn, 'S', ['0', '0', '', '', '0', '0', '0', '0', config], [devnull, outW, devnull]);
  closeSync(outW);
  const p = await srv.next();
  t.is(p.msg!.type, 'P');
  const [pid, monitorPid] = p.msg!.fields.map(Number);
  t.is(monitorPid, 0);
  t.is(p.fds.length, 3);
  const [pidfd, goFd, reportFd] = p.fds as [number, number, number];
  // The container's first process is the client's child, as with runc: the caller's subreaper gets it.
  const ppid = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  t.is(readlinkSync(`/proc/${ppid}/exe`), CLIENT);
  writeSync(goFd, 'g');
  closeSync(goFd);
  srv.send(conn, 'W', [String(pid)]);
  const e = await srv.next();
  t.deepEqual(e.msg, { type: 'E', fields: [String(pid), '3', '', String(3 << 8)] });
  const buf = Buffer.alloc(100);
  const n = readSync(outR, buf);
  t.is(buf.subarray(0, n).toString(), `hi ${ppid}\n`);
  closeSync(outR);
  closeSync(reportFd);
  closeSync(pidfd);

  // A failure before the clone: the same errno, code and message as the addon's spawn() throws.
  const opts: SpawnOptions = { config, cloneFlags: 0, stdio: [devnull, devnull, devnull], fifoPath: '/nonexistent/exec.fifo' };
  const ref = t.throws(() => native().spawn(opts)) as NodeJS.ErrnoException;
  srv.send(conn, 'S', ['0', '0', '/nonexistent/exec.fifo', '', '0', '0', '0', '0', config], [devnull, devnull, devnull]);
  const fail = await srv.next();
  t.deepEqual(fail.msg, { type: 'F', fields: [String(ref.errno), ref.code!, ref.message] });
  t.is(ref.message, 'open /nonexistent/exec.fifo: ENOENT');
  // A malformed request (fds that do not match the counts): F with EPROTO, the client carries on.
  srv.send(conn, 'S', ['0', '0', '', '', '1', '0', '0', '0', config], [devnull, devnull, devnull]);
  const bad = await srv.next();
  t.is(bad.msg!.type, 'F');
  t.is(bad.msg!.fields[1], 'EPROTO');
  closeSync(devnull);

  // Signals the client gets go to the server as K.
  process.kill(ppid, 'SIGTERM');
  t.deepEqual((await srv.next()).msg, { type: 'K', fields: ['15'] });
  process.kill(ppid, 'SIGWINCH');
  t.deepEqual((await srv.next()).msg, { type: 'K', fields: ['28'] });
  srv.send(conn, 'Z', ['3']);
  const r = await call;
  t.is(r.code, 3, r.stderr);
  t.is(r.signal, null);
  t.is((await srv.next()).msg, null);
});
