// The Node-API addon against the real kernel: every test makes real system calls.
import test from 'ava';
import { spawn as spawnChild, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, readSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native, type ExitStatus, type SpawnOptions, type Spawned, type WatchedExit } from '../ts/native.js';

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const SIGKILL = 9;
const O_ACCMODE = 3;
const O_CLOEXEC = 0o2000000;

// libseccomp's numbers (seccomp.h)
const SCMP_ACT_ALLOW = 0x7fff0000;
const SCMP_ACT_ERRNO = 0x00050000;
const SCMP_CMP_EQ = 4;

// csrc/common/config.h
const TSBOX_CONFIG_MAGIC = 0x58425354;
const TSBOX_CONFIG_VERSION = 1;
const TSBOX_T_ARG = 40;
const TSBOX_T_ENV = 41;
const TSBOX_T_INIT_MODE = 51;

const isRoot = process.getuid?.() === 0;

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-native-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function record(tag: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(tag, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

function str(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

function blob(args: string[], env: string[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(TSBOX_CONFIG_MAGIC, 0);
  head.writeUInt32LE(TSBOX_CONFIG_VERSION, 4);
  return Buffer.concat([head, ...args.map((a) => record(TSBOX_T_ARG, str(a))), ...env.map((e) => record(TSBOX_T_ENV, str(e)))]);
}

/** Reads a pipe until EOF (blocking: the writer is a child that exits or execs). */
function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString();
}

/** The open flags of one of our fds, from /proc/self/fdinfo (octal there). */
function fdFlags(fd: number): number {
  const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m ? Number.parseInt(m[1]!, 8) : -1;
}

/** tsbox-init in exec mode running `sh -c script`, with its stdout on a pipe of ours. */
function spawnSh(script: string): { s: Spawned; outR: number } {
  const [outR, outW] = native().pipe();
  const s = native().spawn({ config: blob(['/bin/sh', '-c', script], ['PATH=/bin:/usr/bin']), cloneFlags: 0, stdio: [0, outW, 2] });
  closeSync(outW);
  return { s, outR };
}

/** The byte tsbox-init waits for before it sets anything up. */
function go(s: Spawned): void {
  writeSync(s.goFd, 'g');
  closeSync(s.goFd);
}

function watchExit(pidfd: number): Promise<ExitStatus> {
  return new Promise((resolve) => native().watch(pidfd, resolve));
}

test('flock: an exclusive lock held through one open file blocks LOCK_NB through another', (t) => {
  const file = join(tempDir(t), 'lock');
  writeFileSync(file, '');
  const a = openSync(file, 'r');
  const b = openSync(file, 'r');
  try {
    t.true(native().flock(a, LOCK_EX));
    t.false(native().flock(b, LOCK_EX | LOCK_NB));
    t.false(native().flock(b, LOCK_SH | LOCK_NB));
    t.true(native().flock(a, LOCK_UN));
    t.true(native().flock(b, LOCK_SH | LOCK_NB));
    t.false(native().flock(a, LOCK_EX | LOCK_NB));
  } finally {
    closeSync(a);
    closeSync(b);
  }
});

test('flock: errors name the call and the fd', (t) => {
  const e = t.throws(() => native().flock(100000, LOCK_EX)) as NodeJS.ErrnoException;
  t.is(e.message, 'flock fd 100000: EBADF');
  t.is(e.code, 'EBADF');
  t.is(e.errno, 9);
});

test('socketpair + sendFd/recvFd pass a pipe end across', (t) => {
  const [s0, s1] = native().socketpair();
  const [r, w] = native().pipe();
  try {
    native().sendFd(s0, w);
    const got = native().recvFd(s1);
    t.not(got, w);
    // The received fd is O_CLOEXEC (MSG_CMSG_CLOEXEC).
    t.truthy(fdFlags(got) & O_CLOEXEC);
    writeSync(got, 'through SCM_RIGHTS');
    closeSync(got);
    closeSync(w);
    t.is(readAll(r), 'through SCM_RIGHTS');
  } finally {
    for (const fd of [s0, s1, r]) closeSync(fd);
  }
});

test('recvFd: a message without a descriptor is an error', (t) => {
  const [s0, s1] = native().socketpair();
  try {
    writeSync(s0, 'x');
    const e = t.throws(() => native().recvFd(s1)) as NodeJS.ErrnoException;
    t.is(e.code, 'EBADMSG');
  } finally {
    closeSync(s0);
    closeSync(s1);
  }
});

test('unixConnect: a missing socket is ENOENT with its path', (t) => {
  const path = join(tempDir(t), 'none.sock');
  const e = t.throws(() => native().unixConnect(path)) as NodeJS.ErrnoException;
  t.is(e.message, `connect ${path}: ENOENT`);
});

test('mount a tmpfs on a temp dir, then umount it', (t) => {
  if (!isRoot) return t.pass('needs root');
  const dir = tempDir(t);
  native().mount('tsbox-test', dir, 'tmpfs', 0, 'size=1m,mode=0700');
  let mounted = false;
  try {
    mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir && l.includes(' - tmpfs tsbox-test '));
    writeFileSync(join(dir, 'f'), 'x');
  } finally {
    native().umount(dir, 0);
  }
  t.true(mounted);
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `));
  const e = t.throws(() => native().umount(dir, 0)) as NodeJS.ErrnoException;
  t.is(e.message, `umount2 ${dir}: EINVAL`);
});

test('seccompCompile: BPF of whole instructions; unknown syscall names are skipped', (t) => {
  const base = {
    defaultAction: SCMP_ACT_ERRNO,
    defaultErrno: 1,
    architectures: ['x86_64', 'x86', 'x32'],
    rules: [
      { names: ['read', 'write', 'exit_group'], action: SCMP_ACT_ALLOW },
      { names: ['personality'], action: SCMP_ACT_ALLOW, args: [{ index: 0, value: 0n, valueTwo: 0n, op: SCMP_CMP_EQ }] },
    ],
  };
  const bpf = native().seccompCompile(base);
  t.true(bpf.length > 0);
  t.is(bpf.length % 8, 0);
  const withUnknown = native().seccompCompile({
    ...base,
    rules: [...base.rules, { names: ['no_such_syscall_tsbox'], action: SCMP_ACT_ALLOW }],
  });
  t.deepEqual(withUnknown, bpf);
  // A rule repeating the default action changes nothing and is not an error.
  t.notThrows(() => native().seccompCompile({ ...base, rules: [{ names: ['mkdir'], action: SCMP_ACT_ERRNO, errno: 1 }] }));
  t.throws(() => native().seccompCompile({ ...base, architectures: ['no-such-arch'] }), { code: 'EINVAL' });
});

test('pidfdOpen/pidfdSignal kill a child process', async (t) => {
  const child = spawnChild('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const pidfd = native().pidfdOpen(child.pid!);
  try {
    native().pidfdSignal(pidfd, SIGKILL);
    t.is(await exited, 'SIGKILL');
    // Reaped by libuv now: the pidfd still refers to that process, never to a recycled pid.
    t.throws(() => native().pidfdSignal(pidfd, SIGKILL), { code: 'ESRCH' });
  } finally {
    closeSync(pidfd);
  }
  t.throws(() => native().pidfdOpen(child.pid!), { code: 'ESRCH' });
});

test('initFd: tsbox-init lives in a sealed memfd', (t) => {
  const fd = native().initFd();
  t.is(native().initFd(), fd);
  t.is(readlinkSync(`/proc/self/fd/${fd}`), '/memfd:tsbox-init (deleted)');
  const head = Buffer.alloc(4);
  const r = openSync(`/proc/self/fd/${fd}`, 'r');
  try {
    readSync(r, head, 0, 4, 0);
  } finally {
    closeSync(r);
  }
  t.deepEqual(head, Buffer.from('\x7fELF', 'latin1'));
  // F_SEAL_WRITE: even through a fresh read-write open, nothing can be written.
  const w = openSync(`/proc/self/fd/${fd}`, 'r+');
  try {
    t.throws(() => writeSync(w, 'x', 0), { code: 'EPERM' });
  } finally {
    closeSync(w);
  }
  // The addon keeps only a read-only fd (execve refuses files open for writing).
  t.is(fdFlags(fd) & O_ACCMODE, 0);
});

test('initFd: tsbox-init is linked with musl, whose start-up runs no CPUID', (t) => {
  // glibc's static start-up probes the CPU dozens of times, and in a VM each CPUID traps to the
  // hypervisor: ~0.5 ms per container (docs/performance.md). Every static glibc carries GLIBC_TUNABLES.
  const bin = readFileSync(`/proc/self/fd/${native().initFd()}`);
  t.is(bin.indexOf('GLIBC_TUNABLES'), -1, 'tsbox-init was linked with glibc: install musl-tools and rebuild (scripts/build-init.sh)');
});

test('spawn + watch: tsbox-init runs the process and its exit code comes back', async (t) => {
  const { s, outR } = spawnSh('echo "$PATH"; exit 7');
  t.true(s.pid > 0);
  const exit = watchExit(s.pidfd);
  go(s);
  // Exec mode: the report pipe is O_CLOEXEC in tsbox-init, so EOF without a line means success.
  t.is(readAll(s.reportFd), '');
  closeSync(s.reportFd);
  t.deepEqual(await exit, { code: 7, signal: null });
  t.is(readAll(outR), '/bin:/usr/bin\n');
  closeSync(outR);
  closeSync(s.pidfd);
});

// A cgroup v1 hierarchy of this host, for the placement tests (hybrid and v1 hosts have them).
const V1 = ['pids', 'cpuset', 'memory'].map((c) => `/sys/fs/cgroup/${c}`).filter((d) => existsSync(join(d, 'tasks')));

(isRoot && V1.length >= 2 ? test : test.skip)('spawn with cgroupTasks: tsbox-init enters the v1 cgroups itself before go; spawnAsync too', async (t) => {
  const dirs = V1.map((d) => join(d, `tsbox-test-place-${process.pid}`));
  for (const d of dirs) {
    mkdirSync(d);
    // A new cpuset cgroup has no cpus or mems, which refuses tasks: as the v1 driver does, copy them down.
    if (d.startsWith('/sys/fs/cgroup/cpuset/')) for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(d, f), readFileSync(join(d, '..', f)));
  }
  t.teardown(() => dirs.forEach((d) => rmdirSync(d)));
  const spawnAsync = (o: SpawnOptions) => new Promise<Spawned>((res, rej) => native().spawnAsync(o, (e, s) => (e ? rej(e) : res(s!))));
  for (const how of ['spawn', 'spawnAsync']) {
    const [outR, outW] = native().pipe();
    const o: SpawnOptions = { config: blob(['/bin/cat', '/proc/self/cgroup'], []), cloneFlags: 0, stdio: [0, outW, 2], cgroupTasks: dirs.map((d) => join(d, 'tasks')) };
    const s = how === 'spawn' ? native().spawn(o) : await spawnAsync(o);
    closeSync(outW);
    const exit = watchExit(s.pidfd);
    // Placed before go, by pid as the host sees it.
    for (const d of dirs) t.deepEqual(readFileSync(join(d, 'cgroup.procs'), 'utf8').trim().split('\n'), [String(s.pid)], `${how} ${d}`);
    go(s);
    t.is(readAll(s.reportFd), '');
    closeSync(s.reportFd);
    t.deepEqual(await exit, { code: 0, signal: null });
    const seen = readAll(outR);
    closeSync(outR);
    t.is(seen.split('\n').filter((l) => l.endsWith(`:/tsbox-test-place-${process.pid}`)).length, dirs.length, seen);
    closeSync(s.pidfd);
  }
});

(isRoot && V1.includes('/sys/fs/cgroup/cpuset') ? test : test.skip)('spawn with cgroupTasks: a cgroup that refuses tasks fails before go, naming its file; a file of no cgroup is refused', async (t) => {
  // An empty cpuset (no cpus, no mems) refuses every task with ENOSPC.
  const d = join('/sys/fs/cgroup/cpuset', `tsbox-test-place-bad-${process.pid}`);
  mkdirSync(d);
  t.teardown(() => rmdirSync(d));
  // The child is reaped by the addon: the cgroup is empty again and can go.
  t.throws(() => native().spawn({ config: blob(['/bin/true'], []), cloneFlags: 0, stdio: [0, 1, 2], cgroupTasks: [join(d, 'tasks')] }), { message: `write ${d}/tasks: ENOSPC`, code: 'ENOSPC' });
  const failed = await new Promise<Error | null>((res) => native().spawnAsync({ config: blob(['/bin/true'], []), cloneFlags: 0, stdio: [0, 1, 2], cgroupTasks: [join(d, 'tasks')] }, (e) => res(e)));
  t.is(failed?.message, `write ${d}/tasks: ENOSPC`);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'tasks'), '');
  t.throws(() => native().spawn({ config: blob(['/bin/true'], []), cloneFlags: 0, stdio: [0, 1, 2], cgroupTasks: [join(dir, 'tasks')] }), { message: `fstatfs ${dir}/tasks: not on a cgroup v1 filesystem: EINVAL` });
});

test('spawn: the child runs nothing when the go pipe closes without a byte', async (t) => {
  const s = native().spawn({ config: blob(['/bin/true'], []), cloneFlags: 0, stdio: [0, 1, 2] });
  const exit = watchExit(s.pidfd);
  closeSync(s.goFd);
  t.is(readAll(s.reportFd), '');
  closeSync(s.reportFd);
  t.deepEqual(await exit, { code: 1, signal: null });
  closeSync(s.pidfd);
});

test('spawn: only the fixed fds reach tsbox-init, and a killed child reports its signal', async (t) => {
  const { s, outR } = spawnSh('ls /proc/self/fd; exec sleep 60');
  const exit = watchExit(s.pidfd);
  go(s);
  t.is(readAll(s.reportFd), '');
  closeSync(s.reportFd);
  // sleep keeps the pipe open: read until the listing (it ends with ls's own fd, 3) is complete.
  let listing = '';
  const buf = Buffer.alloc(4096);
  while (!/^3$/m.test(listing)) {
    const n = readSync(outR, buf, 0, buf.length, null);
    if (n === 0) break;
    listing += buf.subarray(0, n).toString();
  }
  native().pidfdSignal(s.pidfd, SIGKILL);
  t.deepEqual(await exit, { code: null, signal: SIGKILL });
  closeSync(outR);
  closeSync(s.pidfd);
  // stdio, and the directory ls reads: none of Node's fds, and config/report are gone by then.
  t.deepEqual(listing.trim().split('\n').map(Number), [0, 1, 2, 3]);
});

test('spawn: a failure in tsbox-init right after go is reported on the report pipe', async (t) => {
  // A new user namespace whose maps were never written: becoming its root fails.
  const CLONE_NEWUSER = 0x10000000;
  const s = native().spawn({ config: blob(['/bin/true'], []), cloneFlags: CLONE_NEWUSER, stdio: [0, 1, 2] });
  const exit = watchExit(s.pidfd);
  go(s);
  t.is(readAll(s.reportFd), 'E 22 setresgid 0: EINVAL\n');
  closeSync(s.reportFd);
  t.deepEqual(await exit, { code: 1, signal: null });
  closeSync(s.pidfd);
});

test('watch with a report fd: the waiter thread reads the reports, all before the exit, which carries init\'s "X" status', async (t) => {
  const watch = (s: Spawned) =>
    new Promise<{ lines: (string | null)[]; st: WatchedExit }>((resolve) => {
      const lines: (string | null)[] = [];
      native().watch(s.pidfd, (st) => resolve({ lines, st }), s.reportFd, (l) => lines.push(l));
    });
  // Init mode: "S" once the process runs, "X <wstatus>" when it ends (kept out of the lines), EOF.
  const init = blob(['/bin/sh', '-c', 'exit 3'], ['PATH=/bin:/usr/bin']);
  const s = native().spawn({ config: Buffer.concat([init, record(TSBOX_T_INIT_MODE, u32(1))]), cloneFlags: 0, stdio: [0, 1, 2] });
  const w = watch(s);
  go(s);
  t.deepEqual(await w, { lines: ['S', null], st: { code: 3, signal: null, report: 3 << 8 } });
  closeSync(s.pidfd);
  // A failure: its "E" line, EOF, then the exit, with no "X".
  const f = native().spawn({ config: blob(['/bin/true'], []), cloneFlags: 0x10000000 /* CLONE_NEWUSER, no maps */, stdio: [0, 1, 2] });
  const wf = watch(f);
  go(f);
  t.deepEqual(await wf, { lines: ['E 22 setresgid 0: EINVAL', null], st: { code: 1, signal: null } });
  closeSync(f.pidfd);
});

test('spawn: a failure between clone and exec is reported on the report pipe (exit 127)', (t) => {
  // With at most 40 open files, moving the sources above fd 64 fails in the child, before tsbox-init
  // runs: a Node of its own under that limit spawns, so this process keeps its own.
  const script = join(tempDir(t), 'lowfd.mjs');
  writeFileSync(
    script,
    `const { native } = await import(process.argv[2]);
const { readSync, closeSync } = await import('node:fs');
const s = native().spawn({ config: Buffer.from(process.argv[3], 'base64'), cloneFlags: 0, stdio: [0, 1, 2] });
closeSync(s.goFd);
const b = Buffer.alloc(200);
process.stdout.write(b.toString('utf8', 0, readSync(s.reportFd, b, 0, 200, null)));
native().watch(s.pidfd, (st) => process.stdout.write(JSON.stringify(st)));
`,
  );
  const r = spawnSync('prlimit', ['--nofile=40:40', process.execPath, script, join(import.meta.dirname, '..', 'dist', 'native.js'), blob(['/bin/true'], []).toString('base64')], { encoding: 'utf8' });
  t.is(r.stdout, 'E 22 fcntl F_DUPFD_CLOEXEC: EINVAL\n{"code":127,"signal":null}', r.stderr);
});

test('spawn: a stdio fd that is not open fails before cloning, naming it', (t) => {
  t.throws(() => native().spawn({ config: blob(['/bin/true'], []), cloneFlags: 0, stdio: [999, 1, 2] }), { message: 'fcntl F_DUPFD_CLOEXEC stdin fd 999: EBADF' });
});

test('spawn: a missing fifo path fails before cloning, naming the path', (t) => {
  const path = join(tempDir(t), 'exec.fifo');
  const e = t.throws(() => native().spawn({ config: blob(['/bin/true'], []), cloneFlags: 0, stdio: [0, 1, 2], fifoPath: path })) as NodeJS.ErrnoException;
  t.is(e.message, `open ${path}: ENOENT`);
});

test('watch: a fd that is no child pidfd is refused at once', (t) => {
  const fd = openSync('/dev/null', 'r');
  try {
    t.throws(() => native().watch(fd, () => {}), { message: `waitid P_PIDFD fd ${fd}: EBADF` });
  } finally {
    closeSync(fd);
  }
});
