// Kubernetes' path: containerd's CRI plugin, driven by crictl, with two runtime handlers whose shim
// (io.containerd.runc.v2) calls runc (the reference) and tsbox-runtime. Everything is private to the test:
// containerd's root, state and socket, the runtimes' state, the CNI configuration, bridge, subnet and IPAM
// store, the pods' cgroup parent.
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { dockerArchive } from './helpers/archive.js';
import { RUNTIME } from './helpers/bins.js';
import { cgroupPids, cgroupRoots, killLeftovers, mountsBelow, processesWith, removeCgroupTree, unmountBelow, unmountedHierarchies } from './helpers/leftovers.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CNI_BIN = '/usr/lib/cni';
const CC = ['musl-gcc', 'gcc'].find(have);
const missing = [
  !have('crictl') && 'crictl is not on PATH (build it from kubernetes-sigs/cri-tools v1.26.1: GOFLAGS=-mod=vendor CGO_ENABLED=0 go build ./cmd/crictl)',
  !(have('containerd') && have('ctr')) && 'containerd is not installed (apt-get install containerd)',
  !existsSync(join(CNI_BIN, 'bridge')) && `no CNI plugins in ${CNI_BIN} (apt-get install containernetworking-plugins)`,
  !CC && 'no C compiler for the pause image (apt-get install musl-tools)',
].filter((m): m is string => !!m);
const criTest = missing.length ? test.serial.skip : test.serial;
if (missing.length) console.log(`cri: ${missing[0]}: the Kubernetes path (containerd CRI + crictl) is skipped`);

// Unique to this run, so parallel runs do not collide; the prefixes are those scripts/check-clean.sh looks for.
const NAME = `cri${process.pid % 100000}`;
const BRIDGE = `tsb${NAME}`;
const CGROUP = `tsbox-test-${NAME}`;
const NET = `tsbox-${NAME}`;
const PAUSE_IMAGE = 'localhost/tsbox-pause:cri';
const APP_IMAGE = 'localhost/tsbox-busybox:cri';
// CRI NamespaceMode POD: the container joins the pod's namespace (pause's); CONTAINER (1) would give it its own.
const POD = 0;
const MEMORY = 64 << 20;

/** A free /24 in 10.231.0.0/16 (tsbox's own networks use 10.88 and 10.89). */
function freeSubnet(): string {
  const routes = execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' });
  for (let i = 0; i < 256; i++) {
    const n = (process.pid + i) % 256;
    if (!routes.includes(`10.231.${n}.`)) return `10.231.${n}.0/24`;
  }
  throw new Error('cri: no free /24 left in 10.231.0.0/16');
}

/** containerd's config.toml with the CRI plugin and the runc and tsbox runtime handlers (docs/clients-cri.md shows it). */
function containerdConfig(dir: string, sock: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const handler = (name: string, binary?: string) => [
    `    [${cri}.containerd.runtimes.${name}]`,
    '      runtime_type = "io.containerd.runc.v2"',
    `      [${cri}.containerd.runtimes.${name}.options]`,
    ...(binary ? [`        BinaryName = "${binary}"`] : []),
    '        SystemdCgroup = false',
    // The runtimes' state stays in the test's directory (the default is /run/containerd/runc).
    `        Root = "${dir}/${name}-root"`,
  ];
  return [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    // opt would install into /opt/containerd; tracing is not wanted.
    'disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.internal.v1.tracing"]',
    `[grpc]\n  address = "${sock}"`,
    `[ttrpc]\n  address = "${sock}.ttrpc"`,
    '[debug]\n  address = ""',
    '[metrics]\n  address = ""',
    `[${cri}]`,
    `  sandbox_image = "${PAUSE_IMAGE}"`,
    // Without CAP_SYS_RESOURCE nothing may lower its oom_score_adj below containerd's own: pause could not start.
    '  restrict_oom_score_adj = true',
    '  disable_apparmor = true',
    // Pods' network namespaces are mounted under the state directory, not /run/netns.
    '  netns_mounts_under_state_dir = true',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    `  [${cri}.containerd]`,
    '    default_runtime_name = "runc"',
    ...handler('runc'),
    ...handler('tsbox', RUNTIME),
    `  [${cri}.cni]`,
    `    bin_dir = "${CNI_BIN}"`,
    `    conf_dir = "${dir}/cni"`,
    '    max_conf_num = 1',
  ].join('\n');
}

/** A bridge network with no gateway, no masquerade and no port mapping: the CNI plugins add no iptables rule and set no sysctl. */
function cniConfig(dir: string, subnet: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: NET,
    plugins: [{ type: 'bridge', bridge: BRIDGE, isGateway: false, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: join(dir, 'ipam') } }],
  });
}

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 90000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface Env {
  dir: string;
  sock: string;
  log: string;
  subnet: string;
  daemon: ChildProcess;
  cniExisted: boolean;
}
let env: Env | undefined;

const crictl = (args: string[]) => run('crictl', ['--timeout', '60s', '-r', `unix://${env!.sock}`, '-i', `unix://${env!.sock}`, ...args]);

/** A static pause binary in a rootfs of its own, as an image whose entrypoint is /pause. */
function pauseArchive(dir: string, out: string): void {
  const rootfs = join(dir, 'pause-rootfs');
  mkdirSync(rootfs);
  chmodSync(rootfs, 0o755);
  execFileSync(CC!, ['-static', '-O2', '-o', join(rootfs, 'pause'), join(import.meta.dirname, 'fixtures', 'pause.c')]);
  dockerArchive(rootfs, out, PAUSE_IMAGE, { Entrypoint: ['/pause'], Cmd: [] });
}

test.before(async (t) => {
  if (missing.length) return;
  const unmounted = unmountedHierarchies();
  if (unmounted.length) return t.fail(`cgroup v1 hierarchies nothing mounts (${unmounted.join(' ')}): containerd cannot load a container's cgroup here; scripts/setup.sh mounts them as systemd does`);
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-cri-'));
  const sock = join(dir, 'containerd.sock');
  const subnet = freeSubnet();
  mkdirSync(join(dir, 'cni'));
  writeFileSync(join(dir, 'cni', '10-tsbox.conflist'), cniConfig(dir, subnet));
  writeFileSync(join(dir, 'config.toml'), containerdConfig(dir, sock));
  const log = join(dir, 'containerd.log');
  const fd = openSync(log, 'w');
  const daemon = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  // libcni keeps its results cache in /var/lib/cni whatever the configuration says: remove it after if it is ours.
  env = { dir, sock, log, subnet, daemon, cniExisted: existsSync('/var/lib/cni') };
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);

  pauseArchive(dir, join(dir, 'pause.tar'));
  dockerArchive(busyboxRootfs(), join(dir, 'busybox.tar'), APP_IMAGE);
  for (const archive of ['pause.tar', 'busybox.tar']) {
    const r = run('ctr', ['-a', sock, '-n', 'k8s.io', 'image', 'import', join(dir, archive)]);
    if (r.code !== 0) return t.fail(`ctr image import ${archive}: ${r.stderr}`);
  }
  // The CRI plugin learns of imported images from containerd's events, and of the CNI configuration by watching it.
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    const info = crictl(['info']);
    ready =
      info.code === 0 &&
      (JSON.parse(info.stdout) as { status: { conditions: { status: boolean }[] } }).status.conditions.every((c) => c.status) &&
      crictl(['inspecti', PAUSE_IMAGE]).code === 0 &&
      crictl(['inspecti', APP_IMAGE]).code === 0;
    if (!ready) await sleep(100);
  }
  if (!ready) t.fail(`containerd's CRI plugin is not ready: ${crictl(['info']).stdout.slice(0, 2000)}`);
});

test.after.always('the pods leave nothing behind: processes, mounts, network namespaces, bridge, cgroups', async (t) => {
  if (!env) return;
  const { dir, sock, daemon, cniExisted } = env;
  crictl(['rmp', '--force', '--all']);
  daemon.kill('SIGTERM');
  if (daemon.exitCode === null && daemon.signalCode === null) await new Promise((r) => daemon.on('exit', r));
  killLeftovers(sock, CGROUP);
  await sleep(200);
  unmountBelow(dir);
  spawnSync('ip', ['link', 'del', BRIDGE]);
  const results = '/var/lib/cni/results';
  if (existsSync(results)) for (const f of readdirSync(results).filter((f) => f.startsWith(`${NET}-`))) rmSync(join(results, f));
  if (!cniExisted) {
    for (const d of [results, '/var/lib/cni']) {
      try {
        rmdirSync(d);
      } catch {
        // another client's cache
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  t.deepEqual(removeCgroupTree(CGROUP), []);
  t.false(existsSync(`/sys/class/net/${BRIDGE}`), `bridge ${BRIDGE} left`);
});

// crictl inspect/inspectp/stats output: deep JSON read field by field.
type Json = Record<string, any>;

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return `(pid ${pid} is gone)`;
  }
};
const nsOf = (pid: number | 'self', ns: string) => {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return `(pid ${pid} is gone)`;
  }
};

/**
 * The checks of a flow: each logged pass/FAIL and the flow carried on (a failed assertion would end it), so a
 * run reports every step; done() fails the test with all the failures.
 */
function checker(t: ExecutionContext) {
  const failures: string[] = [];
  const check = (name: string, ok: boolean, detail = '') => {
    t.log(`${ok ? 'pass' : 'FAIL'}  ${name}${ok || !detail ? '' : `: ${detail}`}`);
    if (!ok) failures.push(`${name}${detail ? `: ${detail}` : ''}`);
  };
  const done = () => {
    if (failures.length) t.fail(`${failures.length} step(s) failed:\n${failures.join('\n')}`);
    else t.pass();
  };
  return { check, done };
}

type Check = (name: string, ok: boolean, detail?: string) => void;

async function podFlow(t: ExecutionContext, handler: 'runc' | 'tsbox'): Promise<void> {
  if (!env) return t.fail('containerd did not start');
  const { check, done } = checker(t);
  try {
    await steps(t, handler, env, check);
  } finally {
    done();
  }
}

/** runp, two containers, the namespaces seen from inside, exec, logs, memory, stats, stop, rm, stopp, rmp, leftovers. */
async function steps(t: ExecutionContext, handler: string, { dir, log, subnet, daemon }: Env, check: Check): Promise<void> {
  const logFrom = readFileSync(log).length;
  const logs = join(dir, 'logs', handler);
  mkdirSync(logs, { recursive: true });
  const nsOptions = { namespace_options: { network: POD, pid: POD, ipc: POD } };
  const podConfig = join(dir, `pod-${handler}.json`);
  writeFileSync(
    podConfig,
    JSON.stringify({
      metadata: { name: `pod-${handler}`, namespace: 'tsbox-test', uid: `${NAME}-${handler}`, attempt: 0 },
      hostname: `pod-${handler}`,
      log_directory: logs,
      linux: { cgroup_parent: `/${CGROUP}`, security_context: nsOptions },
    }),
  );
  const container = (name: string, command: string[], resources?: Json) => {
    const file = join(dir, `${name}-${handler}.json`);
    writeFileSync(file, JSON.stringify({ metadata: { name }, image: { image: APP_IMAGE }, command, log_path: `${name}.log`, linux: { resources, security_context: nsOptions } }));
    return file;
  };
  const execIn = (id: string, script: string) => crictl(['exec', id, 'sh', '-c', script]);

  // The pod: pause in its own pid, network, ipc and uts namespaces, on the bridge.
  let r = crictl(['runp', '--runtime', handler, podConfig]);
  check('runp', r.code === 0, r.stderr);
  const pod = r.stdout.trim();
  if (r.code !== 0) return;
  const podInfo = JSON.parse(crictl(['inspectp', pod]).stdout) as Json;
  check('the pod is ready', podInfo.status?.state === 'SANDBOX_READY', String(podInfo.status?.state));
  const podIp = String(podInfo.status?.network?.ip ?? '');
  check(`the pod has an address in ${subnet}`, podIp.startsWith(subnet.replace(/0\/24$/, '')), podIp);
  const pausePid = Number(podInfo.info?.pid);
  check('the pid reported for the pod is the pause process', cmdline(pausePid) === '/pause', `pid ${pausePid} runs ${cmdline(pausePid)}`);

  // Two containers in the pod's namespaces; app with a memory limit.
  const ids: string[] = [];
  for (const [name, cmd, res] of [
    ['app', ['sh', '-c', 'echo app-started; echo app-warning >&2; exec sleep 600'], { memory_limit_in_bytes: MEMORY }],
    // A child besides the container's process: stop must kill it too (the shim's kill --all once the process is gone).
    ['side', ['sh', '-c', 'sleep 600 & exec sleep 601'], undefined],
  ] as const) {
    r = crictl(['create', pod, container(name, [...cmd], res), podConfig]);
    check(`create ${name}`, r.code === 0, r.stderr);
    const id = r.stdout.trim();
    r = crictl(['start', id]);
    check(`start ${name}`, r.code === 0, r.stderr);
    ids.push(id);
  }
  const [app, side] = ids;
  r = crictl(['ps', '--pod', pod, '--state', 'running', '-q']);
  check('both containers run', r.stdout.trim().split('\n').filter(Boolean).length === 2, r.stdout + r.stderr);

  // The pid namespace: the app sees the pod's processes only, with pause as pid 1.
  r = execIn(app, 'cat /proc/1/cmdline');
  check('pid 1 in the app container is the pause process', r.stdout.replace(/\0/g, ' ').trim() === '/pause', `exit ${r.code}: ${r.stdout.replace(/\0/g, ' ').slice(0, 200)} ${r.stderr.slice(0, 200)}`);
  // The side container's shell forks its background sleep and execs the other one: give it the time to.
  const want = JSON.stringify(['pause', 'ps', 'sleep', 'sleep', 'sleep']);
  let comms: string[] = [];
  for (let i = 0; i < 20 && JSON.stringify(comms) !== want; i++) {
    if (i) await sleep(100);
    comms = crictl(['exec', app, 'ps', '-o', 'comm']).stdout.trim().split('\n').slice(1).sort();
  }
  check(
    'the app container sees only the pod: pause, the three sleeps and ps',
    JSON.stringify(comms) === want,
    `${comms.length} processes: ${comms.slice(0, 12).join(', ')}${comms.length > 12 ? ', ...' : ''}`,
  );
  const appNs = execIn(app, 'readlink /proc/self/ns/pid; readlink /proc/self/ns/net').stdout.trim().split('\n');
  const sideNs = execIn(side, 'readlink /proc/self/ns/pid; readlink /proc/self/ns/net').stdout.trim().split('\n');
  check('the app container is not in the host pid namespace', appNs[0] !== nsOf('self', 'pid'), `app ${appNs[0]}, host ${nsOf('self', 'pid')}`);
  check('both containers share the pod pid namespace', appNs[0] === sideNs[0] && appNs[0] === nsOf(pausePid, 'pid'), `app ${appNs[0]}, side ${sideNs[0]}, pause ${nsOf(pausePid, 'pid')}`);
  const appPid = Number((JSON.parse(crictl(['inspect', app]).stdout) as Json).info?.pid);
  check('the pid reported for the app container is its process, in the pod pid namespace', cmdline(appPid) === 'sleep 600' && nsOf(appPid, 'pid') === appNs[0], `pid ${appPid} runs ${cmdline(appPid)} in ${nsOf(appPid, 'pid')}`);

  // What a hostile pod would do with the host's pid namespace: signal the host's processes (containerd here).
  r = execIn(app, `kill -0 ${daemon.pid}`);
  check('the app container cannot signal a host process', r.code !== 0, `kill -0 ${daemon.pid} (containerd) succeeded`);

  // The network namespace: one for the pod, with its address and hostname.
  check('both containers share the pod network namespace', appNs[1] === sideNs[1] && appNs[1] === nsOf(pausePid, 'net') && appNs[1] !== nsOf('self', 'net'), `app ${appNs[1]}, side ${sideNs[1]}, pause ${nsOf(pausePid, 'net')}`);
  for (const [name, id] of [['app', app], ['side', side]]) {
    r = execIn(id, 'hostname; ip -4 -o addr show dev eth0');
    check(`${name} has the pod's hostname and address`, r.stdout.startsWith(`pod-${handler}\n`) && r.stdout.includes(` ${podIp}/`), r.stdout + r.stderr);
  }

  // exec: output, status.
  r = execIn(app, 'echo exec-ok; id -u');
  check('exec', r.code === 0 && r.stdout === 'exec-ok\n0\n', `exit ${r.code}: ${r.stdout} ${r.stderr}`);
  r = execIn(app, 'exit 3');
  check('exec reports the exit code', r.code !== 0 && r.stderr.includes('exit code 3'), `exit ${r.code}: ${r.stderr}`);

  // logs: the container's stdout and stderr, each on its stream.
  r = crictl(['logs', app]);
  check('logs', r.code === 0 && r.stdout === 'app-started\n' && r.stderr === 'app-warning\n', `exit ${r.code}: stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);

  // The memory limit, as the spec says, on the host's cgroup, seen inside, and enforced.
  const spec = (JSON.parse(crictl(['inspect', app]).stdout) as Json).info?.runtimeSpec;
  check('the spec carries the memory limit', spec?.linux?.resources?.memory?.limit === MEMORY, JSON.stringify(spec?.linux?.resources?.memory));
  const cgPath = String(spec?.linux?.cgroupsPath ?? '');
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const hostLimit = v2 ? join('/sys/fs/cgroup', cgPath, 'memory.max') : join('/sys/fs/cgroup/memory', cgPath, 'memory.limit_in_bytes');
  const limitRead = existsSync(hostLimit) ? readFileSync(hostLimit, 'utf8').trim() : `${hostLimit} is missing`;
  check('the limit is set on the container cgroup', limitRead === String(MEMORY), limitRead);
  r = execIn(app, v2 ? 'cat /sys/fs/cgroup/memory.max' : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes');
  check('the limit reads back inside the container', r.stdout.trim() === String(MEMORY), r.stdout + r.stderr);
  r = execIn(app, 'head -c 200m /dev/zero | tail > /dev/null');
  check('a process that outgrows the limit is OOM-killed', r.stderr.includes('exit code 137'), `exit ${r.code}: ${r.stderr}`);

  // stats, from the shim's cgroup metrics.
  r = crictl(['stats', '-o', 'json', app]);
  const stats = r.code === 0 ? ((JSON.parse(r.stdout) as Json).stats?.[0] as Json | undefined) : undefined;
  check(
    'stats',
    stats?.attributes?.id === app && Number(stats?.memory?.workingSetBytes?.value) > 0 && Number(stats?.cpu?.usageCoreNanoSeconds?.value) > 0,
    `${r.stderr}${JSON.stringify(stats?.memory ?? r.stdout).slice(0, 300)}`,
  );

  // stop as the kubelet does: SIGTERM and a grace period (a sleep that is not pid 1 ends at once), or SIGKILL
  // at once (crictl's default, the kubelet's once the grace is over).
  for (const [name, id, grace] of [['app', app, '10'], ['side', side, '0']]) {
    const start = Date.now();
    r = crictl(['stop', '--timeout', grace, id]);
    const ms = Date.now() - start;
    check(`stop ${name} (grace ${grace} s)`, r.code === 0, r.stderr);
    t.log(`      stop ${name} took ${ms} ms`);
    check(`stop ${name} returns within 5 s`, ms < 5000, `${ms} ms`);
    const state = (JSON.parse(crictl(['inspect', id]).stdout) as Json).status?.state;
    check(`${name} has exited`, state === 'CONTAINER_EXITED', String(state));
    const left = cgroupPids(`${CGROUP}/${id}`);
    check(`no process of ${name} is left`, left.length === 0, left.map((p) => `${p}: ${cmdline(p)}`).join('; '));
  }
  r = crictl(['rm', app, side]);
  check('rm', r.code === 0, r.stderr);
  check('the pod has no container left', crictl(['ps', '-a', '--pod', pod, '-q']).stdout.trim() === '');

  r = crictl(['stopp', pod]);
  check('stopp', r.code === 0, r.stderr);
  r = crictl(['rmp', pod]);
  check('rmp', r.code === 0, r.stderr);
  check('no pod is left', crictl(['pods', '-q']).stdout.trim() === '');

  // Nothing of the pod is left: shims, processes, mounts (rootfs, shm, netns), veths, addresses, cgroups, state.
  for (let i = 0; i < 50 && processesWith('containerd-shim', `-id ${pod}`).length; i++) await sleep(100);
  const shims = processesWith('containerd-shim', `-id ${pod}`);
  check('no shim is left', shims.length === 0, shims.map(cmdline).join('; '));
  const procs = cgroupPids(CGROUP);
  check('no process is left in the pods cgroup parent', procs.length === 0, procs.map((p) => `${p}: ${cmdline(p)}`).join('; '));
  const cgroups = cgroupRoots().flatMap((root) => (existsSync(join(root, CGROUP)) ? readdirSync(join(root, CGROUP), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(root, CGROUP, e.name)) : []));
  check('no cgroup is left', cgroups.length === 0, cgroups.join(' '));
  const mounts = mountsBelow(dir);
  check('no mount is left (rootfs, shm, netns)', mounts.length === 0, mounts.join(' '));
  const veths = existsSync(`/sys/class/net/${BRIDGE}/brif`) ? readdirSync(`/sys/class/net/${BRIDGE}/brif`) : [];
  check('no veth is left on the bridge', veths.length === 0, veths.join(' '));
  const leases = existsSync(join(dir, 'ipam', NET)) ? readdirSync(join(dir, 'ipam', NET)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  check('no address is left leased', leases.length === 0, leases.join(' '));
  const rtRoot = join(dir, `${handler}-root`, 'k8s.io');
  const states = existsSync(rtRoot) ? readdirSync(rtRoot).filter((f) => [pod, app, side].includes(f)) : [];
  check('the runtime keeps no state of the pod', states.length === 0, states.join(' '));

  // containerd's own account of the flow: no error about the pod or its containers.
  const errors = readFileSync(log)
    .subarray(logFrom)
    .toString('utf8')
    .split('\n')
    .filter((l) => /level=error/.test(l) && [pod, app, side].some((id) => l.includes(id)));
  check('containerd logged no error about the pod', errors.length === 0, `\n${errors.map((l) => l.slice(0, 400)).join('\n')}`);
}

criTest('a pod of two containers sharing its network and pid namespaces, with runc (the reference)', (t) => podFlow(t, 'runc'));
criTest('a pod of two containers sharing its network and pid namespaces, with tsbox-runtime', (t) => podFlow(t, 'tsbox'));
