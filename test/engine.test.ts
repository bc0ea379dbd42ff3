// The engine CLI as docker users drive it: run (foreground, detached, -it), ps, logs, exec, stop, kill,
// inspect, rm, with real containers from a busybox image.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxRootfs } from './helpers/bundle.js';
import { startRegistry, Layout, push, type Registry } from './helpers/registry.js';
import { CLI } from './helpers/bins.js';
import { engineRoot } from './helpers/engine-root.js';

const engine = engineRoot('tsbox-engine-');
const { root, tsbox } = engine;
let reg: Registry;


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  engine.importBusybox();
  reg = await startRegistry();
  const l = new Layout(join(root, 'layout'));
  l.image([busyboxRootfs()], { tag: 'latest' });
  l.write();
  await push(join(root, 'layout'), 'latest', `${reg.addr}/remote/busybox:latest`);
});

test.after.always(async () => {
  await reg?.stop();
  engine.remove();
});

test.serial('run -i from a Node parent (its stdio are sockets): /dev/stdin, /dev/stdout and /dev/stderr open, as under docker', (t) => {
  // docker's containers always get pipes; a socket passed on as it is cannot be opened (ENXIO).
  for (const log of [[], ['--log-driver', 'none']]) {
    const r = spawnSync(process.execPath, [CLI, '--root', root, 'run', '--rm', '-i', ...log, 'busybox', 'sh', '-c', 'cat /dev/stdin; echo out > /dev/stdout; echo err > /dev/stderr'], { input: 'in\n', encoding: 'utf8' });
    t.is(r.stdout, 'in\nout\n', `${log.join(' ')}: ${r.stderr}`);
    t.is(r.stderr, 'err\n');
    t.is(r.status, 0);
  }
});

test.serial('run pulls a missing image from the registry, runs it and --rm leaves nothing', (t) => {
  const r = tsbox(['run', '--rm', `${reg.addr}/remote/busybox`, 'echo', 'hello']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'hello\n');
  t.regex(r.stderr, /Unable to find image/);
  t.deepEqual(readdirSync(join(root, 'containers')), []);
  t.deepEqual(readdirSync(join(root, 'state')).filter((n) => n !== '.locks'), []);
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(root), 'no snapshot mount left');
});

test('exit codes: the container\'s own, 125 for tsbox errors, 126 not executable, 127 not found', (t) => {
  t.is(tsbox(['run', '--rm', 'busybox', 'sh', '-c', 'exit 7']).code, 7);
  // Without --init the shell is pid 1 and the kernel ignores its own SIGTERM (as with docker); with it, 143.
  t.is(tsbox(['run', '--rm', 'busybox', 'sh', '-c', 'kill -TERM $$; exit 4']).code, 4);
  t.is(tsbox(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'kill -TERM $$']).code, 143);
  let r = tsbox(['run', '--rm', '--bogus', 'busybox', 'true']);
  t.is(r.code, 125);
  t.is(r.stderr, "unknown flag: --bogus\nSee 'tsbox run --help'.\n");
  t.is(tsbox(['run', '--rm', 'no-such-image-here:latest', 'true']).code, 125);
  r = tsbox(['run', '--rm', 'busybox', '/bin']);
  t.is(r.code, 126, r.stderr);
  r = tsbox(['run', '--rm', 'busybox', 'not-a-command']);
  t.is(r.code, 127);
  t.regex(r.stderr, /exec not-a-command: ENOENT/);
});

test('env, workdir, user, hostname, entrypoint, volumes, tmpfs, read-only', (t) => {
  const vol = mkdtempSync(join(root, 'vol-'));
  chmodSync(vol, 0o755);
  writeFileSync(join(vol, 'data'), 'from host\n', { mode: 0o644 });
  const envFile = join(vol, 'env');
  writeFileSync(envFile, '# comment\nFROM_FILE=yes\n');
  const r = tsbox([
    'run', '--rm', '-e', 'A=1', '--env-file', envFile, '-w', '/work', '-u', '65534:65534', '-h', 'box', '-v', `${vol}:/data:ro`, '--tmpfs', '/scratch',
    '--entrypoint', 'sh', 'busybox', '-c', 'echo $A $FROM_FILE $(pwd) $(id -u):$(id -g) $(hostname); cat /data/data; echo x > /data/y 2>/dev/null || echo ro-data; echo ok > /scratch/f && cat /scratch/f',
  ]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '1 yes /work 65534:65534 box\nfrom host\nro-data\nok\n');
  const ro = tsbox(['run', '--rm', '--read-only', 'busybox', 'sh', '-c', 'touch /z 2>/dev/null || echo ro-root']);
  t.is(ro.stdout, 'ro-root\n', ro.stderr);
});

test('limits: memory, cpus, pids; capabilities and seccomp', (t) => {
  let r = tsbox(['run', '--rm', '--memory', '64m', '--cpus', '0.5', '--pids-limit', '20', 'busybox', 'sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max']);
  t.is(r.stdout, `${64 * 1024 * 1024}\n50000\n20\n`, r.stderr);
  r = tsbox(['run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'NET_BIND_SERVICE', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
  t.regex(r.stdout, /CapEff:\s+0000000000000400/);
  r = tsbox(['run', '--rm', 'busybox', 'sh', '-c', 'unshare -n true 2>&1 || echo refused']);
  t.regex(r.stdout, /refused/);
  r = tsbox(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'unshare -n true && echo allowed']);
  t.is(r.stdout, 'allowed\n', r.stderr);
});

test('detached: ps, logs after the CLI exited, exec, stop of a process that ignores SIGTERM, inspect, rm', async (t) => {
  let r = tsbox(['run', '-d', '--name', 'stubborn', 'busybox', 'sh', '-c', 'trap "" TERM; echo started; while true; do sleep 0.1; done']);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  t.regex(id, /^[a-f0-9]{64}$/);
  await sleep(300);
  t.regex(tsbox(['ps']).stdout, new RegExp(`${id.slice(0, 12)}\\s+busybox.*Up [^\\n]*stubborn`));
  t.is(tsbox(['logs', 'stubborn']).stdout, 'started\n');
  r = tsbox(['exec', 'stubborn', 'sh', '-c', 'echo from exec; cat /proc/1/comm']);
  // docker's semantics: the command is pid 1, and nothing of tsbox is in the container.
  t.is(r.stdout, 'from exec\nsh\n', r.stderr);
  t.notRegex(tsbox(['top', 'stubborn']).stdout, /tsbox/);
  const t0 = Date.now();
  r = tsbox(['stop', '-t', '1', 'stubborn']);
  t.is(r.code, 0, r.stderr);
  t.true(Date.now() - t0 >= 1000, 'the timeout was waited for');
  const info = JSON.parse(tsbox(['inspect', 'stubborn']).stdout)[0];
  t.like(info.State, { Status: 'exited', Running: false, ExitCode: 137, OOMKilled: false });
  t.truthy(info.State.StartedAt);
  t.notRegex(tsbox(['ps']).stdout, /stubborn/);
  t.regex(tsbox(['ps', '-a']).stdout, /Exited \(137\) [^\n]* ago +stubborn/);
  t.is(tsbox(['rm', 'stubborn']).code, 0);
  t.is(tsbox(['inspect', 'stubborn']).code, 1);
});

test('kill, wait, rm -f of a running container, OOMKilled', async (t) => {
  // --init: tsbox-init is pid 1 and passes the signal on to sleep, which dies of it.
  let r = tsbox(['run', '-d', '--init', 'busybox', 'sleep', '30']);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  t.is(tsbox(['rm', id]).code, 1);
  t.is(tsbox(['kill', '-s', 'USR1', id]).code, 0);
  t.is(tsbox(['wait', id]).stdout, `${128 + 10}\n`);
  t.is(tsbox(['rm', id]).code, 0);
  // Without it the command is pid 1 and gets the signal itself.
  r = tsbox(['run', '-d', 'busybox', 'sh', '-c', 'trap "exit 7" USR1; while :; do sleep 0.05; done']);
  const own = r.stdout.trim();
  await sleep(300);
  t.is(tsbox(['kill', '-s', 'USR1', own]).code, 0);
  t.is(tsbox(['wait', own]).stdout, '7\n');
  t.is(tsbox(['rm', own]).code, 0);
  r = tsbox(['run', '-d', '--memory', '16m', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
  t.is(r.code, 0, r.stderr);
  const oom = r.stdout.trim();
  tsbox(['wait', oom]);
  const info = JSON.parse(tsbox(['inspect', oom]).stdout)[0];
  t.like(info.State, { ExitCode: 137, OOMKilled: true });
  r = tsbox(['run', '-d', 'busybox', 'sleep', '30']);
  t.is(tsbox(['rm', '-f', r.stdout.trim()]).code, 0);
});

test('run -it through a terminal', (t) => {
  const cmd = [process.execPath, CLI, '--root', root, 'run', '-it', '--rm', 'busybox', 'sh', '-c', 'tty; read x; echo got=$x'].map((a) => `'${a}'`).join(' ');
  // script(1) gives the CLI a terminal; what we type goes through the CLI's raw stdin into the container's pty.
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60000, input: 'typed\r' });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /\/dev\/pts\/\d+/);
  t.regex(r.stdout, /got=typed/);
});

test('50 concurrent runs from separate processes all succeed and leave nothing', async (t) => {
  const codes = await Promise.all(
    Array.from({ length: 50 }, (_, i) => new Promise<number | null>((res) => spawn(process.execPath, [CLI, '--root', root, 'run', '--rm', 'busybox', 'sh', '-c', `exit $((${i} % 3))`], { stdio: 'ignore' }).on('exit', res))),
  );
  t.deepEqual(codes, Array.from({ length: 50 }, (_, i) => i % 3));
  const left = readdirSync(join(root, 'containers')).filter((id) => JSON.parse(readFileSync(join(root, 'containers', id, 'config.json'), 'utf8')).Options.rm);
  t.deepEqual(left, []);
});

test('--restart on-failure:2 restarts twice; start, restart, cp, container prune, system df/prune', async (t) => {
  let r = tsbox(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 3']);
  t.is(r.code, 0, r.stderr);
  let info;
  for (let i = 0; i < 100; i++) {
    info = JSON.parse(tsbox(['inspect', 'flaky']).stdout)[0];
    if (info.RestartCount === 2 && !info.State.Running) break;
    await sleep(100);
  }
  await sleep(500);
  info = JSON.parse(tsbox(['inspect', 'flaky']).stdout)[0];
  t.is(info.RestartCount, 2);
  t.like(info.State, { Running: false, ExitCode: 3 });
  t.is(tsbox(['logs', 'flaky']).stdout, 'run\nrun\nrun\n');

  r = tsbox(['run', '-d', '--name', 'keeper', 'busybox', 'sh', '-c', 'echo $$ >> /count; sleep 30']);
  t.is(r.code, 0, r.stderr);
  await sleep(200);
  t.is(tsbox(['stop', '-t', '1', 'keeper']).code, 0);
  t.is(tsbox(['start', 'keeper']).code, 0);
  await sleep(200);
  t.true(JSON.parse(tsbox(['inspect', 'keeper']).stdout)[0].State.Running);
  r = tsbox(['restart', '-t', '1', 'keeper']);
  t.is(r.code, 0, r.stderr);
  await sleep(200);
  // Three starts wrote three lines into the same container filesystem.
  const host = mkdtempSync(join(root, 'cp-'));
  t.is(tsbox(['cp', 'keeper:/count', join(host, 'count')]).code, 0);
  t.is(readFileSync(join(host, 'count'), 'utf8').trim().split('\n').length, 3);
  writeFileSync(join(host, 'in.txt'), 'copied in\n');
  t.is(tsbox(['cp', join(host, 'in.txt'), 'keeper:/tmp/']).code, 0);
  t.is(tsbox(['exec', 'keeper', 'cat', '/tmp/in.txt']).stdout, 'copied in\n');
  t.regex(tsbox(['system', 'df']).stdout, /Images\s+[1-9]\d*\s+[1-9]\d*\s+\d+(\.\d+)?[kMG]?B\s+\S+( \(\d+%\))?\nContainers\s+[1-9]/);
  tsbox(['stop', '-t', '1', 'keeper']);
  r = tsbox(['container', 'prune', '-f']);
  t.regex(r.stdout, /Deleted Containers: [1-9]/);
  t.notRegex(tsbox(['ps', '-a']).stdout, /keeper|flaky/);
  t.is(tsbox(['system', 'prune', '-f']).code, 0);
});

test('logs: json-file lines with streams and timestamps, --tail, --since, -f until the container exits', async (t) => {
  const r = tsbox(['run', '-d', 'busybox', 'sh', '-c', 'echo one; echo two >&2; sleep 0.3; echo three']);
  const id = r.stdout.trim();
  const followed = tsbox(['logs', '-f', id]);
  t.is(followed.stdout, 'one\nthree\n');
  t.is(followed.stderr, 'two\n');
  const ts = tsbox(['logs', '--timestamps', id]).stdout.split('\n').filter(Boolean);
  t.is(ts.length, 2);
  for (const l of ts) t.regex(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (one|three)$/);
  t.is(tsbox(['logs', '--tail', '1', id]).stdout, 'three\n');
  t.is(tsbox(['logs', '--since', new Date(Date.now() + 60000).toISOString(), id]).stdout, '');
  t.is(tsbox(['logs', '--since', '10m', id]).stdout, 'one\nthree\n');
  t.is(tsbox(['logs', '--since', 'yesterday', id]).code, 125);
  const raw = readFileSync(join(root, 'containers', id, 'container.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.like(raw[1], { log: 'two\n', stream: 'stderr' });
  tsbox(['rm', id]);
});

test('pause/unpause, top, stats --no-stream, exec with -e -w -u', async (t) => {
  // A child that lives throughout (the loop's own sleeps come and go: under load stats could see only sh).
  const id = tsbox(['run', '-d', 'busybox', 'sh', '-c', 'sleep 600 & while true; do sleep 0.05; done']).stdout.trim();
  t.teardown(() => tsbox(['rm', '-f', id]));
  await sleep(200);
  t.is(tsbox(['pause', id]).code, 0);
  t.is(JSON.parse(tsbox(['inspect', id]).stdout)[0].State.Status, 'paused');
  t.regex(tsbox(['ps']).stdout, /Up [^\n]*\(Paused\)/);
  t.is(tsbox(['unpause', id]).code, 0);
  t.is(JSON.parse(tsbox(['inspect', id]).stdout)[0].State.Status, 'running');
  const top = tsbox(['top', id]);
  t.regex(top.stdout, /^UID\s+PID\s+PPID/);
  // The command is pid 1 and its monitor is outside the container: top shows no tsbox process.
  t.regex(top.stdout, /sh -c sleep 600 & while true/);
  t.notRegex(top.stdout, /tsbox-init/);
  const stats = JSON.parse(tsbox(['stats', '--no-stream', '--format', 'json', id]).stdout);
  t.regex(stats.CPUPerc, /^\d+\.\d\d%$/);
  t.true(Number(stats.PIDs) >= 2);
  t.regex(stats.MemUsage, /^[\d.]+[KMG]?i?B \/ [\d.]+[KMG]?i?B$/);
  const ex = tsbox(['exec', '-e', 'X=42', '-w', '/tmp', '-u', 'nobody', id, 'sh', '-c', 'echo $X $(pwd) $(id -u)']);
  t.is(ex.stdout, '42 /tmp 65534\n', ex.stderr);
});

test('--network none: only lo, up, and no route; --network host: the host interfaces', (t) => {
  let r = tsbox(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ip -o link | wc -l; ip -o link | grep -c "lo:.*UP"; ip route | wc -l; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-ok']);
  t.is(r.stdout.replace(/ +/g, ''), '1\n1\n0\nlo-ok\n', r.stderr);
  // The host's own network namespace (interface counts change while other tests plug veths).
  r = tsbox(['run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']);
  t.is(r.stdout.trim(), readlinkSync('/proc/self/ns/net'), r.stderr);
});

test('more run flags: --mount, --memory-swap, cpu shares/quota/period/cpuset, --ulimit, --sysctl, seccomp=FILE, --stop-signal', async (t) => {
  const dir = mkdtempSync(join(root, 'mnt-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'f'), 'bound\n', { mode: 0o644 });
  const profile = join(dir, 'seccomp.json');
  writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
  const cg = '/sys/fs/cgroup';
  const r = tsbox([
    'run', '--rm', '--network', 'none', '--mount', 'type=tmpfs,target=/m', '--mount', `type=bind,source=${dir},target=/b,readonly`,
    '--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', '--cpu-quota', '20000', '--cpu-period', '100000', '--cpuset-cpus', '0',
    '--ulimit', 'nofile=256:512', '--sysctl', 'kernel.shmmni=999', '--security-opt', `seccomp=${profile}`,
    'busybox', 'sh', '-c',
    `grep -c " /m tmpfs" /proc/mounts; cat /b/f; touch /b/x 2>/dev/null || echo ro; cat ${cg}/memory/memory.memsw.limit_in_bytes ${cg}/cpu/cpu.shares ${cg}/cpu/cpu.cfs_quota_us ${cg}/cpuset/cpuset.cpus; ulimit -n; ulimit -Hn; cat /proc/sys/kernel/shmmni; mkdir /tmp/d 2>/dev/null || echo mkdir-denied`,
  ]);
  t.is(r.stdout, `1\nbound\nro\n${128 * 1024 * 1024}\n512\n20000\n0\n256\n512\n999\nmkdir-denied\n`, r.stderr);
  // --stop-signal: stop sends it instead of SIGTERM.
  const id = tsbox(['run', '-d', '--network', 'none', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "exit 9" USR1; while true; do sleep 0.05; done']).stdout.trim();
  await sleep(200);
  t.is(tsbox(['stop', '-t', '5', id]).code, 0);
  t.is(JSON.parse(tsbox(['inspect', id]).stdout)[0].State.ExitCode, 9);
  tsbox(['rm', id]);
});
