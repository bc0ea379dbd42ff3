// The runc-compatible CLI, run as a separate process the way containerd and podman run it.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, readSync, rmSync, symlinkSync, writeFileSync, closeSync } from 'node:fs';
import { readState } from '../ts/runtime/state.js';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs, leftovers, makeBundle, removeBundle, STATE_ROOT, TEST_CGROUP_PARENT, type Bundle } from './helpers/bundle.js';
import { native } from '../ts/native.js';
import { RUNTIME as BIN } from './helpers/bins.js';
import { outputOf } from './helpers/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Output goes to files, not pipes: a created container keeps the CLI's stdio open (as with runc),
// and spawnSync would wait for those pipes to close.
const OUT_DIR = mkdtempSync(join(tmpdir(), 'tsbox-cli-out-'));
const rt = (args: string[], input?: string) => outputOf(BIN, ['--root', STATE_ROOT, ...args], { tmp: OUT_DIR, input, timeout: 60000 });
test.after.always('no cgroups or states left behind', (t) => {
  rmSync(OUT_DIR, { recursive: true, force: true });
  const { cgroups, states } = leftovers();
  t.deepEqual(cgroups, []);
  t.deepEqual(states, []);
});

/** The console socket's peer sends the master once setup reaches the terminal: wait for it. */
async function recvFdWhenReady(fd: number): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      return native().recvFd(fd);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || i > 500) throw e;
      await sleep(10);
    }
  }
}

function withBundle(args: string[], mutate?: Parameters<typeof makeBundle>[1]): Bundle {
  return makeBundle(args, mutate);
}


test('the launcher runs through a symlink, as npm links it into node_modules/.bin', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-bin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(BIN, join(dir, 'tsbox-runtime'));
  const r = spawnSync(join(dir, 'tsbox-runtime'), ['--version'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^tsbox-runtime version /);
});

test('--version, features and spec', (t) => {
  t.regex(rt(['--version']).stdout, /tsbox-runtime version \d+\.\d+\.\d+\nspec: 1\./);
  const f = JSON.parse(rt(['features']).stdout);
  t.true(f.linux.namespaces.includes('pid'));
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-spec-'));
  try {
    t.is(rt(['spec', '--bundle', dir]).code, 0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    t.deepEqual(spec.process.args, ['sh']);
    t.not(rt(['spec', '--bundle', dir]).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('create, state, start, ps, pause, resume, kill, delete', async (t) => {
  const b = withBundle(['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.05; done']);
  t.teardown(() => {
    rt(['delete', '--force', b.id]);
    removeBundle(b);
  });
  const pidFile = join(b.dir, 'pid');
  let r = rt(['create', '--bundle', b.dir, '--pid-file', pidFile, b.id]);
  t.is(r.code, 0, r.stderr);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  let st = JSON.parse(rt(['state', b.id]).stdout);
  t.is(st.status, 'created');
  t.is(st.pid, pid);
  t.is(rt(['start', b.id]).code, 0);
  st = JSON.parse(rt(['state', b.id]).stdout);
  t.is(st.status, 'running');
  await sleep(100);
  const pids = JSON.parse(rt(['ps', '--format', 'json', b.id]).stdout) as number[];
  t.true(pids.includes(pid), JSON.stringify(pids));
  t.is(rt(['pause', b.id]).code, 0);
  t.is(JSON.parse(rt(['state', b.id]).stdout).status, 'paused');
  t.is(rt(['resume', b.id]).code, 0);
  t.is(JSON.parse(rt(['state', b.id]).stdout).status, 'running');
  r = rt(['delete', b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, /not stopped/);
  t.is(rt(['kill', b.id, 'TERM']).code, 0);
  for (let i = 0; i < 100 && JSON.parse(rt(['state', b.id]).stdout).status !== 'stopped'; i++) await sleep(20);
  t.is(JSON.parse(rt(['state', b.id]).stdout).status, 'stopped');
  t.is(rt(['delete', b.id]).code, 0);
  r = rt(['state', b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, /does not exist/);
  // containerd deletes twice.
  t.is(rt(['delete', '--force', b.id]).code, 0);
});

test('run in the foreground returns the exit code and passes stdio', (t) => {
  const b = withBundle(['sh', '-c', 'read x; echo "got $x"; exit 5']);
  t.teardown(() => removeBundle(b));
  const r = rt(['run', '--bundle', b.dir, b.id], 'hello\n');
  t.is(r.code, 5, r.stderr);
  t.is(r.stdout, 'got hello\n');
  t.false(existsSync(join(STATE_ROOT, b.id)));
});

test('exec into a running container, with a process file, detached and not', async (t) => {
  const b = withBundle(['sleep', '30']);
  t.teardown(() => {
    rt(['delete', '--force', b.id]);
    removeBundle(b);
  });
  t.is(rt(['run', '--detach', '--bundle', b.dir, b.id]).code, 0);
  let r = rt(['exec', b.id, 'sh', '-c', 'cat /proc/1/comm; exit 4']);
  t.is(r.code, 4, r.stderr);
  t.is(r.stdout, 'sleep\n');
  const proc = join(b.dir, 'process.json');
  writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'echo $A; id -u'], env: ['A=from-file', 'PATH=/bin'], cwd: '/', user: { uid: 65534, gid: 65534 } }));
  r = rt(['exec', '--process', proc, b.id]);
  t.is(r.stdout, 'from-file\n65534\n', r.stderr);
  const pidFile = join(b.dir, 'exec.pid');
  r = rt(['exec', '--detach', '--pid-file', pidFile, b.id, 'sleep', '30']);
  t.is(r.code, 0, r.stderr);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  t.true(existsSync(`/proc/${pid}`));
  // The pid file names the exec'd process itself, inside the container's pid namespace (runc's).
  t.is(readFileSync(`/proc/${pid}/comm`, 'utf8'), 'sleep\n');
  t.is(readlinkSync(`/proc/${pid}/ns/pid`), readlinkSync(`/proc/${readState(STATE_ROOT, b.id).pid}/ns/pid`));
  r = rt(['exec', b.id, '/nope']);
  t.not(r.code, 0);
  t.regex(r.stderr, /ENOENT/);
  t.is(rt(['kill', '--all', b.id, 'KILL']).code, 0);
});

test('console socket receives the pty master (one SCM_RIGHTS message, as runc)', async (t) => {
  const b = withBundle(['sh', '-c', 'tty; stty size'], (s) => {
    s.process!.terminal = true;
    s.process!.consoleSize = { height: 30, width: 100 };
  });
  const sockPath = join(b.dir, 'console.sock');
  let master = -1;
  let received!: Promise<void>;
  const server = createServer((sock) => {
    received = recvFdWhenReady((sock as unknown as { _handle: { fd: number } })._handle.fd).then((fd) => {
      master = fd;
      sock.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
  t.teardown(() => {
    server.close();
    rt(['delete', '--force', b.id]);
    removeBundle(b);
  });
  const child = spawn(BIN, ['--root', STATE_ROOT, 'create', '--bundle', b.dir, '--console-socket', sockPath, b.id], { stdio: 'pipe' });
  const code = await new Promise((r) => child.on('exit', r));
  t.is(code, 0);
  await received;
  t.true(master >= 0);
  t.is(rt(['start', b.id]).code, 0);
  const out = await new Promise<string>((resolve) => {
    let s = '';
    const buf = Buffer.alloc(4096);
    const deadline = Date.now() + 5000;
    for (;;) {
      let n = 0;
      try {
        n = readSync(master, buf, 0, buf.length, null);
      } catch {
        break;
      }
      if (n === 0) break;
      s += buf.toString('utf8', 0, n);
      if (/\d+ \d+/.test(s) || Date.now() > deadline) break;
    }
    resolve(s);
  });
  closeSync(master);
  t.regex(out, /\/dev\/pts\/\d+/);
  t.regex(out, /30 100/);
});

test('bad specs and flags give a clear error and a non-zero exit', (t) => {
  const b = withBundle(['true']);
  t.teardown(() => removeBundle(b));
  writeFileSync(join(b.dir, 'config.json'), '{ not json');
  let r = rt(['create', '--bundle', b.dir, b.id]);
  t.is(r.code, 1);
  t.regex(r.stderr, /parse .*config\.json/);
  b.spec.root!.path = '/nonexistent-rootfs';
  b.write();
  r = rt(['create', '--bundle', b.dir, b.id]);
  t.regex(r.stderr, /rootfs \/nonexistent-rootfs: ENOENT/);
  b.spec.root!.path = busyboxRootfs();
  (b.spec.linux!.namespaces as { type: string }[]).push({ type: 'bogus' });
  b.write();
  r = rt(['create', '--bundle', b.dir, b.id]);
  t.regex(r.stderr, /unknown namespace type "bogus"/);
  t.false(existsSync(join(STATE_ROOT, b.id)));
  r = rt(['create', '--bogus-flag', b.id]);
  t.regex(r.stderr, /flag provided but not defined: --bogus-flag/);
  t.is(rt(['frobnicate']).code, 1);
});

test('errors go to the --log file as JSON lines', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'log.json');
  const r = spawnSync(BIN, ['--root', STATE_ROOT, '--log', log, '--log-format', 'json', 'state', 'missing-container'], { encoding: 'utf8' });
  t.is(r.status, 1);
  const line = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop()!);
  t.is(line.level, 'error');
  t.regex(line.msg, /does not exist/);
});

const procStat = (pid: string) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '0 (gone) X';
  }
};

test('kill --all ends what a stopped container left in a shared pid namespace, as runc does (the shim of a pod container relies on it)', async (t) => {
  // Killing the process of a container that joined another's pid namespace leaves its children running;
  // containerd's shim then calls `kill --all` on the stopped container and waits for its stdio to close.
  const cgroupProcs = (id: string) => {
    const f = join('/sys/fs/cgroup', existsSync('/sys/fs/cgroup/cgroup.controllers') ? '' : 'pids', TEST_CGROUP_PARENT, id, 'cgroup.procs');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
  };
  for (const [name, bin] of [['runc', 'runc'], ['tsbox', BIN]] as const) {
    if (name === 'runc' && spawnSync('sh', ['-c', 'command -v runc']).status !== 0) continue;
    const root = mkdtempSync(join(tmpdir(), `tsbox-killall-${name}-`));
    // Output to a file, not a pipe: a detached container keeps the runtime's stdio open.
    const run = (args: string[]) => {
      const err = join(root, 'stderr');
      const e = openSync(err, 'w');
      const r = spawnSync(bin, ['--root', root, ...args], { stdio: ['ignore', 'ignore', e], timeout: 60000 });
      closeSync(e);
      return { status: r.status, stderr: readFileSync(err, 'utf8') };
    };
    const holder = withBundle(['sleep', '60']);
    let member: Bundle | undefined;
    t.teardown(() => {
      for (const b of [member, holder]) if (b) run(['delete', '--force', b.id]);
      for (const b of [member, holder]) if (b) removeBundle(b);
      rmSync(root, { recursive: true, force: true });
    });
    let r = run(['run', '--detach', '--bundle', holder.dir, holder.id]);
    t.is(r.status, 0, `${name}: ${r.stderr}`);
    const holderPid = Number(JSON.parse(spawnSync(bin, ['--root', root, 'state', holder.id], { encoding: 'utf8' }).stdout).pid);
    // Fifty survivors: their deaths take longer than a call's return, so a kill --all that did not wait shows.
    member = withBundle(['sh', '-c', 'for i in $(seq 50); do sleep 61 & done; exec sleep 62'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${holderPid}/ns/pid` } : n));
    });
    r = run(['run', '--detach', '--bundle', member.dir, member.id]);
    t.is(r.status, 0, `${name}: ${r.stderr}`);
    for (let i = 0; i < 100 && cgroupProcs(member.id).length < 51; i++) await sleep(20);
    t.is(cgroupProcs(member.id).length, 51, `${name}: the process and its children run`);
    t.is(run(['kill', member.id, 'KILL']).status, 0);
    for (let i = 0; i < 100 && cgroupProcs(member.id).length > 50; i++) await sleep(20);
    t.is(cgroupProcs(member.id).length, 50, `${name}: the children outlive the process`);
    r = run(['kill', '--all', member.id, 'KILL']);
    t.is(r.status, 0, `${name}: kill --all of the stopped container: ${r.stderr}`);
    // tsbox returns once they are dead (the shim reports the exit next and the CRI closes their stdio then);
    // runc 1.1 returns after signalling, and only its own start-up time hides the race.
    if (name === 'tsbox') t.deepEqual(cgroupProcs(member.id).filter((p) => !/^\S+ \(.*\) [ZX]/.test(procStat(p))), [], 'kill --all KILL returned while processes lived');
    for (let i = 0; i < 100 && cgroupProcs(member.id).length > 0; i++) await sleep(20);
    t.deepEqual(cgroupProcs(member.id), [], `${name}: kill --all leaves nothing`);
    t.is(run(['delete', member.id]).status, 0);
    t.is(run(['delete', '--force', holder.id]).status, 0);
  }
});
