// Docker (Debian's docker.io, dockerd 20.10) with tsbox-runtime registered beside runc: each flow runs once
// with --runtime runc (the reference) and once with --runtime tsbox, with the same assertions. The daemon
// is private (its own data root, exec root, socket, pid file, cgroup parent) and leaves nothing behind:
// no default bridge, no iptables rules, no ip_forward change, its managed containerd and shims stopped.
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { dockerArchive } from './helpers/archive.js';
import { RUNTIME } from './helpers/bins.js';
import { unmountBelow } from './helpers/leftovers.js';

// The 20.10 client that ships with the daemon (a newer one may sit earlier in PATH).
const DOCKER = '/usr/bin/docker';
const have = existsSync('/usr/sbin/dockerd') && existsSync(DOCKER);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DIR = mkdtempSync(join(tmpdir(), 'tsbox-docker-'));
const SOCK = join(DIR, 'docker.sock');
const EXEC_ROOT = join(DIR, 'exec');
// Absolute: runc and tsbox both resolve a relative cgroup path below their own cgroup.
const CGROUP = `tsbox-test-docker-${process.pid}`;
const BRIDGE = `tsbdk${process.pid % 100000}`;
// dockerd 20.10 writes its trust key to /etc/docker/key.json whatever its data root.
const KEY = '/etc/docker/key.json';
const keyExisted = existsSync(KEY);
const etcExisted = existsSync('/etc/docker');
const RUNTIMES = ['runc', 'tsbox'] as const;
type Rt = (typeof RUNTIMES)[number];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const env = { ...process.env, DOCKER_CONFIG: join(DIR, 'client'), DOCKER_HOST: `unix://${SOCK}` };

function quote(args: string[]): string {
  return args.map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(' ');
}

/** The docker client; tty: under script(1), which gives it a terminal. */
function docker(args: string[], o: { input?: string; tty?: boolean; timeout?: number } = {}): Result {
  const [c, a] = o.tty ? ['script', ['-qec', quote([DOCKER, ...args]), '/dev/null']] : [DOCKER, args];
  const r = spawnSync(c, a, { encoding: 'utf8', input: o.input ?? '', timeout: o.timeout ?? 30000, env });
  return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function dockerAsync(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const p = spawn(DOCKER, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const inspect = (name: string, format: string) => docker(['inspect', '-f', format, name]).stdout.trim();

async function until(what: string, ok: () => boolean, ms = 15000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (ok()) return;
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

const cgroupRoots = () => (existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c)));

/** Kills what the daemon left: processes naming our directory (containerd, shims) and those in our cgroups. */
function killLeftovers(): void {
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.includes(DIR)) spawnSync('kill', ['-KILL', p]);
  }
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) spawnSync('kill', ['-KILL', p]);
  };
  for (const r of cgroupRoots()) if (existsSync(join(r, CGROUP))) walk(join(r, CGROUP));
}

/** Removes our (empty) cgroup subtree in every hierarchy; a busy one stays, for check-clean to report. */
function removeCgroupTree(): void {
  const rm = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      // busy
    }
  };
  for (const r of cgroupRoots()) if (existsSync(join(r, CGROUP))) rm(join(r, CGROUP));
}

let daemon: ChildProcess | undefined;
// The daemon logs to a file, not a pipe: the flows block this event loop in spawnSync, and a daemon whose
// log pipe is full stops answering.
const LOG = join(DIR, 'dockerd.log');
const daemonLog = () => readFileSync(LOG, 'utf8');

test.before(async (t) => {
  if (!have) return;
  mkdirSync(join(DIR, 'client'));
  // An empty config file: a host's /etc/docker/daemon.json must not change the daemon under test.
  writeFileSync(join(DIR, 'daemon.json'), '{}');
  const logFd = openSync(LOG, 'w');
  daemon = spawn(
    'dockerd',
    [
      '--config-file', join(DIR, 'daemon.json'),
      '--data-root', join(DIR, 'data'),
      '--exec-root', EXEC_ROOT,
      '--pidfile', join(DIR, 'docker.pid'),
      '-H', `unix://${SOCK}`,
      '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false',
      '--bridge=none',
      '--exec-opt', 'native.cgroupdriver=cgroupfs',
      '--cgroup-parent', `/${CGROUP}`,
      '--add-runtime', `tsbox=${RUNTIME}`,
    ],
    { stdio: ['ignore', 'ignore', logFd] },
  );
  closeSync(logFd);
  await until('dockerd to answer', () => docker(['version', '--format', '{{.Server.Version}}']).code === 0, 30000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${daemonLog()}`);
  });
  const archive = join(DIR, 'busybox.tar');
  dockerArchive(busyboxRootfs(), archive, 'busybox:latest');
  const r = docker(['load', '-i', archive]);
  t.is(r.code, 0, r.stderr);
});

let logMark = 0;
test.beforeEach(() => {
  if (have) logMark = daemonLog().length;
});
test.afterEach.always((t) => {
  if (have && !t.passed) t.log(`dockerd (errors and warnings during this flow):\n${daemonLog().slice(logMark).split('\n').filter((l) => /level=(error|warn)/.test(l)).slice(-15).join('\n')}`);
});

test.after.always('the daemon stops and leaves nothing behind', async (t) => {
  if (!have) return;
  const ids = docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
  if (ids.length) docker(['rm', '-f', ...ids]);
  for (const n of docker(['network', 'ls', '-q', '--filter', 'type=custom']).stdout.split('\n').filter(Boolean)) docker(['network', 'rm', n]);
  if (daemon && daemon.exitCode === null) {
    const gone = new Promise((r) => daemon!.on('exit', r));
    daemon.kill('SIGTERM');
    await Promise.race([gone, sleep(20000)]);
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  }
  killLeftovers();
  await sleep(300);
  unmountBelow(DIR);
  rmSync(DIR, { recursive: true, force: true });
  removeCgroupTree();
  spawnSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
  if (!keyExisted) rmSync(KEY, { force: true });
  if (!etcExisted) rmSync('/etc/docker', { recursive: true, force: true });
  const left = cgroupRoots().filter((r) => existsSync(join(r, CGROUP)));
  t.deepEqual(left, [], 'cgroups left behind');
  t.false(existsSync(`/sys/class/net/${BRIDGE}`), 'bridge left behind');
  t.deepEqual(
    readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(DIR)),
    [],
    'mounts left behind',
  );
});

interface Flow {
  (t: ExecutionContext, rt: Rt, name: (s: string) => string): Promise<void> | void;
}

const flows: [string, Flow][] = [];
const flow = (title: string, f: Flow) => flows.push([title, f]);

/** `docker run --runtime rt ...` */
const runArgs = (rt: Rt, ...args: string[]) => ['run', '--runtime', rt, ...args];

/** A detached busybox container, removed when the test ends. */
function detached(t: ExecutionContext, rt: Rt, name: string, args: string[], opts: string[] = []): void {
  t.teardown(() => {
    const r = docker(['rm', '-f', name]);
    if (r.code !== 0) t.log(`docker rm -f ${name}: ${r.code} ${r.stderr.trim()}`);
  });
  const r = docker(runArgs(rt, '-d', '--name', name, ...opts, 'busybox', ...args));
  if (r.code !== 0) throw new Error(`docker run -d ${name}: exit ${r.code}: ${r.stderr.trim()}`);
}

/** The container's cgroup directory in a v1 hierarchy (or the v2 one), from its first process. */
function cgroupDir(name: string, controller: string): string {
  const pid = inspect(name, '{{.State.Pid}}');
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => (controller === 'unified' ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes(controller)));
  if (!line) throw new Error(`no ${controller} cgroup for ${name}`);
  const path = line.split(':').slice(2).join(':');
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? join('/sys/fs/cgroup', path) : join('/sys/fs/cgroup', controller, path);
}

flow('run --rm prints the output and removes the container', (t, rt, n) => {
  const r = docker(runArgs(rt, '--rm', '--name', n('rm'), 'busybox', 'echo', 'hi'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'hi\n');
  t.is(docker(['ps', '-aq', '--filter', `name=^${n('rm')}$`]).stdout.trim(), '');
});

flow('exit code 3', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', 'busybox', 'sh', '-c', 'exit 3'));
  t.is(r.code, 3, r.stderr);
});

flow('-i passes stdin', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'), { input: 'from stdin\n' });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'from stdin\ndone\n');
});

flow('-t gives a terminal', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '-t', 'busybox', 'sh', '-c', 'tty; exit 4'), { tty: true });
  t.is(r.code, 4, r.stdout + r.stderr);
  t.regex(r.stdout, /\/dev\/pts\/\d+/);
});

flow('-d then logs', async (t, rt, n) => {
  detached(t, rt, n('logs'), ['sh', '-c', 'echo to-out; echo to-err >&2; sleep 300']);
  await until('logs', () => docker(['logs', n('logs')]).stdout.includes('to-out'));
  const r = docker(['logs', n('logs')]);
  t.is(r.stdout, 'to-out\n');
  t.is(r.stderr, 'to-err\n');
});

flow('stop: a pid-1 sleep ignores SIGTERM, is killed after the timeout, exit 137', (t, rt, n) => {
  detached(t, rt, n('stop'), ['sleep', '300']);
  const t0 = Date.now();
  const r = docker(['stop', '-t', '2', n('stop')]);
  const took = Date.now() - t0;
  t.is(r.code, 0, r.stderr);
  t.true(took >= 1900, `stop took ${took} ms: SIGTERM ended pid 1 at once`);
  t.is(inspect(n('stop'), '{{.State.ExitCode}}'), '137');
});

flow('exec: output and exit code', (t, rt, n) => {
  detached(t, rt, n('exec'), ['sleep', '300']);
  let r = docker(['exec', n('exec'), 'sh', '-c', 'echo exec-ok; cat /proc/1/cmdline | tr "\\0" " "']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'exec-ok\nsleep 300 ');
  r = docker(['exec', n('exec'), 'sh', '-c', 'exit 5']);
  t.is(r.code, 5);
});

flow('exec -it gives a terminal', (t, rt, n) => {
  detached(t, rt, n('execit'), ['sleep', '300']);
  const r = docker(['exec', '-it', n('execit'), 'sh', '-c', 'tty; exit 6'], { tty: true });
  t.is(r.code, 6, r.stdout + r.stderr);
  t.regex(r.stdout, /\/dev\/pts\/\d+/);
});

flow('pause/unpause', (t, rt, n) => {
  detached(t, rt, n('pause'), ['sh', '-c', 'while true; do date +%s%N > /tmp/tick; sleep 0.05; done']);
  let r = docker(['pause', n('pause')]);
  t.is(r.code, 0, r.stderr);
  t.is(inspect(n('pause'), '{{.State.Status}}'), 'paused');
  r = docker(['unpause', n('pause')]);
  t.is(r.code, 0, r.stderr);
  t.is(inspect(n('pause'), '{{.State.Status}}'), 'running');
  r = docker(['exec', n('pause'), 'true']);
  t.is(r.code, 0, r.stderr);
});

flow('top lists the container\'s processes, nothing else', (t, rt, n) => {
  detached(t, rt, n('top'), ['sleep', '300']);
  const r = docker(['top', n('top'), '-o', 'pid,args']);
  t.is(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(1).join(' '));
  t.deepEqual(rows, ['sleep 300']);
});

flow('stats --no-stream', (t, rt, n) => {
  detached(t, rt, n('stats'), ['sleep', '300'], ['--memory', '64m']);
  const r = docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', n('stats')]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^${n('stats')} [\\d.]+[KMG]?i?B / 64MiB [1-9]\\d*\\n$`));
});

flow('--memory: OOMKilled true, exit 137', (t, rt, n) => {
  t.teardown(() => void docker(['rm', '-f', n('oom')]));
  const r = docker(runArgs(rt, '--name', n('oom'), '--memory', '32m', '--memory-swap', '32m', 'busybox', 'sh', '-c', 'x=$(head -c 200m /dev/zero | tr "\\0" a); echo survived'));
  t.is(r.code, 137, r.stdout + r.stderr);
  t.is(inspect(n('oom'), '{{.State.OOMKilled}} {{.State.ExitCode}}'), 'true 137');
});

flow('--pids-limit', (t, rt) => {
  // A subshell forks until refused (ash exits on "can't fork"); then, with builtins only (no fork), the
  // parent waits for the sleeps to end before it forks cat.
  const script = [
    'f=/sys/fs/cgroup/pids; [ -e $f/pids.max ] || f=/sys/fs/cgroup',
    'read before < $f/pids.current',
    '(for i in $(seq 20); do sleep 1 & done) 2>/tmp/err',
    'while read n < $f/pids.current && [ "$n" -gt "$before" ]; do :; done',
    'cat /tmp/err $f/pids.max',
  ].join('\n');
  const r = docker(runArgs(rt, '--rm', '--pids-limit', '8', 'busybox', 'sh', '-c', script));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /can't fork/);
  t.regex(r.stdout, /\n8\n$/);
});

flow('--read-only', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--read-only', 'busybox', 'sh', '-c', 'touch /x 2>&1; echo $?; grep " / " /proc/mounts | grep -c "[ ,]ro[ ,]"'));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /Read-only file system\n1\n1\n$/);
});

flow('--cap-drop ALL', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--cap-drop', 'ALL', 'busybox', 'sh', '-c', 'grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status; chown 1 /tmp 2>&1 || echo refused'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.replace(/\t/g, ' '), 'CapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 0000000000000000\nchown: /tmp: Operation not permitted\nrefused\n');
});

flow('--user 1000:1000', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--user', '1000:1000', 'busybox', 'sh', '-c', 'id -u; id -g; touch /root/x 2>/dev/null || echo denied'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '1000\n1000\ndenied\n');
});

flow('-v bind mount, both ways', (t, rt) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-docker-vol-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'in'), 'from host\n');
  const r = docker(runArgs(rt, '--rm', '-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'cat /data/in; echo from container > /data/out'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'from host\n');
  t.is(readFileSync(join(dir, 'out'), 'utf8'), 'from container\n');
});

flow('--tmpfs', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--tmpfs', '/scratch:size=1m', 'busybox', 'sh', '-c', 'grep " /scratch " /proc/mounts | cut -d" " -f3; echo x > /scratch/f && cat /scratch/f'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'tmpfs\nx\n');
});

flow('--network none: loopback only', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'lo\n');
});

flow('--network host: the host\'s network namespace', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), readlinkSync('/proc/self/ns/net'));
});

flow('user bridge network: containers resolve each other by name', (t, rt, n) => {
  const net = n('net');
  t.teardown(() => void docker(['network', 'rm', net]));
  // One bridge name for both runtimes, made and deleted here; an unusual subnet.
  let r = docker(['network', 'create', '--subnet', '10.213.77.0/24', '-o', `com.docker.network.bridge.name=${BRIDGE}`, net]);
  t.is(r.code, 0, r.stderr);
  detached(t, rt, n('srv'), ['sleep', '300'], ['--network', net]);
  const ip = inspect(n('srv'), '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}');
  t.regex(ip, /^10\.213\.77\.\d+$/);
  r = docker(runArgs(rt, '--rm', '--network', net, 'busybox', 'sh', '-c', `nslookup ${n('srv')} | grep -A1 "Name:"; ping -c1 -W3 ${n('srv')} >/dev/null && echo ping-ok`));
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, new RegExp(`Address:?\\s+${ip.replace(/\./g, '\\.')}\\n`));
  t.regex(r.stdout, /ping-ok\n$/);
});

flow('--init: docker-init is pid 1, no warning', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/comm'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'docker-init\n');
  t.notRegex(r.stderr, /tini|PID 1/);
});

flow('update --memory: the new limit is in the cgroup', (t, rt, n) => {
  detached(t, rt, n('upd'), ['sleep', '300'], ['--memory', '128m']);
  const r = docker(['update', '--memory', '64m', n('upd')]);
  t.is(r.code, 0, r.stderr);
  t.is(inspect(n('upd'), '{{.HostConfig.Memory}}'), String(64 << 20));
  const dir = cgroupDir(n('upd'), existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'unified' : 'memory');
  const file = existsSync(join(dir, 'memory.max')) ? 'memory.max' : 'memory.limit_in_bytes';
  t.is(readFileSync(join(dir, file), 'utf8').trim(), String(64 << 20));
});

flow('--restart on-failure:2: restarted twice', async (t, rt, n) => {
  detached(t, rt, n('restart'), ['sh', '-c', 'exit 1'], ['--restart', 'on-failure:2']);
  await until('two restarts and an exit', () => inspect(n('restart'), '{{.State.Status}} {{.RestartCount}}') === 'exited 2', 30000).catch(() => {});
  t.is(inspect(n('restart'), '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}'), 'exited 2 1');
});

flow('kill -s USR1 reaches a trap in sh', async (t, rt, n) => {
  detached(t, rt, n('usr1'), ['sh', '-c', 'trap "echo got-usr1; exit 7" USR1; echo ready; while true; do sleep 0.1; done']);
  await until('the trap', () => docker(['logs', n('usr1')]).stdout.includes('ready'));
  const r = docker(['kill', '-s', 'USR1', n('usr1')]);
  t.is(r.code, 0, r.stderr);
  await until('exit', () => inspect(n('usr1'), '{{.State.Status}}') === 'exited').catch(() => {});
  t.is(inspect(n('usr1'), '{{.State.Status}} {{.State.ExitCode}}'), 'exited 7');
  t.is(docker(['logs', n('usr1')]).stdout, 'ready\ngot-usr1\n');
});

flow('20 concurrent runs', async (t, rt) => {
  const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => dockerAsync(runArgs(rt, '--rm', 'busybox', 'echo', `n${i}`))));
  t.deepEqual(
    rs.map((r) => `${r.code} ${r.stdout.trim()}${r.code ? ` ${r.stderr.trim()}` : ''}`),
    rs.map((_, i) => `0 n${i}`),
  );
});

flow('--pid container: chain: C in B in A sees only the chain\'s processes', (t, rt, n) => {
  detached(t, rt, n('pa'), ['sleep', '301']);
  detached(t, rt, n('pb'), ['sleep', '302'], ['--pid', `container:${n('pa')}`]);
  const mark = daemonLog().length;
  const r = docker(runArgs(rt, '--rm', '--pid', `container:${n('pb')}`, 'busybox', 'ps', '-o', 'pid,args'));
  t.is(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const seen = rows.map((c) => c.slice(1).join(' ')).sort();
  const pid1 = rows.find((c) => c[0] === '1')?.slice(1).join(' ');
  t.is(seen.length, 3, `C sees ${seen.length} processes; its pid 1 is ${pid1}`);
  if (seen.length === 3) t.deepEqual(seen, ['ps -o pid,args', 'sleep 301', 'sleep 302']);
  t.is(pid1, 'sleep 301');
  // A container without its own pid namespace: the shim kills what is left with kill --all after the
  // process exits, which must not fail on a stopped container.
  t.notRegex(daemonLog().slice(mark), /killall failed/);
});

/** runc's output for a flow (it runs first), which tsbox's must equal: for outputs this host decides. */
const reference = new Map<string, string>();
function sameAsRunc(t: ExecutionContext, rt: Rt, key: string, out: string): void {
  if (rt === 'runc') reference.set(key, out);
  else t.is(out, reference.get(key) ?? '(runc did not run)', `as under runc: ${key}`);
}

flow('--device: a host device passed in under a new name, read only; without it, refused', (t, rt) => {
  // /dev/fuse: not among docker's default devices, and opening it (either way) does nothing more.
  const script = 'ls -l /dev/myfuse | cut -c1; (exec 3</dev/myfuse) && echo read-ok; (exec 3>/dev/myfuse) 2>/dev/null || echo write-refused';
  let r = docker(runArgs(rt, '--rm', '--device', '/dev/fuse:/dev/myfuse:r', 'busybox', 'sh', '-c', script));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'c\nread-ok\nwrite-refused\n');
  r = docker(runArgs(rt, '--rm', 'busybox', 'sh', '-c', 'mknod /tmp/f c 10 229; (exec 3</tmp/f) 2>/dev/null || echo refused'));
  t.is(r.stdout, 'refused\n', r.stderr);
});

flow('--cap-add, --cap-drop, --security-opt seccomp=unconfined and no-new-privileges', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--cap-add', 'SYS_ADMIN', '--cap-drop', 'CHOWN', '--security-opt', 'seccomp=unconfined', '--security-opt', 'no-new-privileges', 'busybox', 'sh', '-c', 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.replace(/\t/g, ' '), 'CapEff: 00000000a82425fa\nNoNewPrivs: 1\nSeccomp: 0\n');
});

flow('--ipc and --network container: the other container\'s namespaces; --ipc shareable', (t, rt, n) => {
  detached(t, rt, n('ns'), ['sleep', '300'], ['--ipc', 'shareable']);
  const pid = inspect(n('ns'), '{{.State.Pid}}');
  const want = ['ipc', 'net'].map((k) => readlinkSync(`/proc/${pid}/ns/${k}`)).join('\n');
  const r = docker(runArgs(rt, '--rm', '--ipc', `container:${n('ns')}`, '--network', `container:${n('ns')}`, 'busybox', 'sh', '-c', 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/net'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), want);
  t.not(readlinkSync(`/proc/${pid}/ns/ipc`), readlinkSync('/proc/self/ns/ipc'));
});

flow('exec -u, -w, -e; exec into a stopped container is refused', (t, rt, n) => {
  detached(t, rt, n('ex'), ['sleep', '300'], ['-e', 'FROM_RUN=1']);
  let r = docker(['exec', '-u', '1000:1000', '-w', '/tmp', '-e', 'A=b', n('ex'), 'sh', '-c', 'id -u; id -g; pwd; echo $A $FROM_RUN']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '1000\n1000\n/tmp\nb 1\n');
  t.is(docker(['stop', '-t', '0', n('ex')]).code, 0);
  r = docker(['exec', n('ex'), 'true']);
  t.is(r.code, 1);
  t.regex(r.stderr, /is not running/);
});

flow('--sysctl, --ulimit, --oom-score-adj, --shm-size, --group-add, a --workdir that does not exist', (t, rt) => {
  const script = 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax /proc/self/oom_score_adj; ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | awk "{print \\$2}"; id -G; pwd';
  const r = docker(runArgs(rt, '--rm', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.msgmax=4096', '--ulimit', 'nofile=100:200', '--oom-score-adj', '500', '--shm-size', '8m', '--group-add', '1234', '-w', '/made/by/docker', 'busybox', 'sh', '-c', script));
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^1\n4096\n500\n100\n200\n8192\n(\d+ )*1234\n\/made\/by\/docker\n$/);
  sameAsRunc(t, rt, 'settings', r.stdout);
});

flow('--cpus, --cpuset-cpus, --cpu-shares: in the container\'s cgroup', (t, rt, n) => {
  detached(t, rt, n('cpu'), ['sleep', '300'], ['--cpus', '0.5', '--cpuset-cpus', '0', '--cpu-shares', '512']);
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const read = (c: string, f: string) => readFileSync(join(cgroupDir(n('cpu'), v2 ? 'unified' : c), f), 'utf8').trim();
  if (v2) t.is(read('cpu', 'cpu.max'), '50000 100000');
  else t.deepEqual([read('cpu', 'cpu.cfs_quota_us'), read('cpu', 'cpu.cfs_period_us'), read('cpu', 'cpu.shares')], ['50000', '100000', '512']);
  t.is(read('cpuset', 'cpuset.cpus'), '0');
});

flow('--cgroupns private: the container sees its own cgroup as /', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--cgroupns', 'private', 'busybox', 'sh', '-c', 'grep -E "^[0-9]+:(memory|pids):" /proc/self/cgroup | cut -d: -f2- | sort'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'memory:/\npids:/\n');
});

flow('-v with ro, and a named volume', (t, rt, n) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-docker-prop-'));
  t.teardown(() => {
    docker(['volume', 'rm', '-f', n('vol')]);
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'f'), 'x\n');
  const r = docker(runArgs(rt, '--rm', '-v', `${dir}:/ro:ro`, '-v', `${n('vol')}:/vol`, 'busybox', 'sh', '-c', 'cat /ro/f; touch /ro/g 2>/dev/null || echo ro; echo y > /vol/y && cat /vol/y'));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'x\nro\ny\n');
});

flow('--pid, --uts and --ipc host: the host\'s namespaces', (t, rt) => {
  const r = docker(runArgs(rt, '--rm', '--pid', 'host', '--uts', 'host', '--ipc', 'host', 'busybox', 'sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/uts; readlink /proc/self/ns/ipc; hostname; [ -d /proc/1 ] && cat /proc/1/comm'));
  t.is(r.code, 0, r.stderr);
  const own = (k: string) => readlinkSync(`/proc/self/ns/${k}`);
  t.is(r.stdout, `${own('pid')}\n${own('uts')}\n${own('ipc')}\n${readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()}\n${readFileSync('/proc/1/comm', 'utf8')}`);
});

flow('rm -f and kill of a paused container', async (t, rt, n) => {
  detached(t, rt, n('p1'), ['sleep', '300']);
  detached(t, rt, n('p2'), ['sh', '-c', 'trap "exit 9" TERM; while true; do sleep 0.1; done']);
  for (const c of [n('p1'), n('p2')]) t.is(docker(['pause', c]).code, 0);
  let r = docker(['rm', '-f', n('p1')]);
  t.is(r.code, 0, r.stderr);
  t.is(docker(['ps', '-aq', '--filter', `name=^${n('p1')}$`]).stdout.trim(), '');
  r = docker(['kill', n('p2')]);
  t.is(r.code, 0, r.stderr);
  await until('exit', () => inspect(n('p2'), '{{.State.Status}}') === 'exited').catch(() => {});
  t.is(inspect(n('p2'), '{{.State.Status}} {{.State.ExitCode}}'), 'exited 137');
});

flow('--health-cmd: the check runs by exec and the container turns healthy; exec -d runs on its own', async (t, rt, n) => {
  detached(t, rt, n('hc'), ['sleep', '300'], ['--health-cmd', 'test -f /tmp/ok', '--health-interval', '1s', '--health-retries', '1']);
  await until('unhealthy', () => inspect(n('hc'), '{{.State.Health.Status}}') === 'unhealthy', 20000).catch(() => {});
  t.is(inspect(n('hc'), '{{.State.Health.Status}}'), 'unhealthy');
  t.is(docker(['exec', '-d', n('hc'), 'sh', '-c', 'sleep 0.5; touch /tmp/ok']).code, 0);
  await until('healthy', () => inspect(n('hc'), '{{.State.Health.Status}}') === 'healthy', 20000).catch(() => {});
  t.is(inspect(n('hc'), '{{.State.Health.Status}}'), 'healthy');
});

flow('--stop-signal: stop sends it; update --pids-limit and --cpus on a running container', async (t, rt, n) => {
  detached(t, rt, n('ss'), ['sh', '-c', 'trap "echo got-usr2; exit 5" USR2; while true; do sleep 0.1; done'], ['--stop-signal', 'USR2']);
  let r = docker(['update', '--pids-limit', '50', '--cpus', '0.25', n('ss')]);
  t.is(r.code, 0, r.stderr);
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const read = (c: string, f: string) => readFileSync(join(cgroupDir(n('ss'), v2 ? 'unified' : c), f), 'utf8').trim();
  t.is(read('pids', 'pids.max'), '50');
  t.is(v2 ? read('cpu', 'cpu.max') : read('cpu', 'cpu.cfs_quota_us'), v2 ? '25000 100000' : '25000');
  r = docker(['stop', '-t', '10', n('ss')]);
  t.is(r.code, 0, r.stderr);
  t.is(inspect(n('ss'), '{{.State.ExitCode}}'), '5');
  t.is(docker(['logs', n('ss')]).stdout, 'got-usr2\n');
});

flow('--memory-reservation, --memory-swappiness, --oom-kill-disable, --device-read-bps, --device-write-iops: the cgroup as runc sets it', (t, rt, n) => {
  // The root filesystem's disk: any block device the host has.
  const disk = readdirSync('/sys/block').find((d) => !/^(loop|ram|zram|nbd)/.test(d));
  if (!disk) return t.pass('no disk');
  const opts = ['--memory', '64m', '--memory-reservation', '32m', '--memory-swappiness', '10', '--oom-kill-disable', '--device-read-bps', `/dev/${disk}:1mb`, '--device-write-iops', `/dev/${disk}:100`];
  const r = docker(runArgs(rt, '-d', '--name', n('mem'), ...opts, 'busybox', 'sleep', '300'));
  t.teardown(() => void docker(['rm', '-f', n('mem')]));
  if (r.code !== 0) return sameAsRunc(t, rt, 'memory-blkio', `refused: ${r.stderr.replace(/\b[0-9a-f]{64}\b/g, 'ID').replace(/runc create failed: |tsbox/g, '')}`);
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return t.pass('v1 files only');
  const mem = (f: string) => readFileSync(join(cgroupDir(n('mem'), 'memory'), f), 'utf8').trim();
  const blk = (f: string) => readFileSync(join(cgroupDir(n('mem'), 'blkio'), f), 'utf8').trim();
  const out = [mem('memory.soft_limit_in_bytes'), mem('memory.swappiness'), mem('memory.oom_control').split('\n')[0], blk('blkio.throttle.read_bps_device'), blk('blkio.throttle.write_iops_device')].join('\n');
  t.regex(out, /^33554432\n10\noom_kill_disable 1\n\d+:\d+ 1048576\n\d+:\d+ 100$/);
  sameAsRunc(t, rt, 'memory-blkio', out);
});

const dockerTest = have ? test.serial : test.serial.skip;
if (!have) console.log('docker: docker.io is not installed (apt-get install docker.io): its flows are skipped');

let seq = 0;
for (const [title, f] of flows) {
  for (const rt of RUNTIMES) {
    const id = ++seq;
    dockerTest(`[${rt}] ${title}`, (t) => f(t, rt, (s) => `${rt}-${s}-${id}`));
  }
}
