// npm run bench: tsbox next to crun, runc, bwrap, podman and skopeo+umoci on the same rootfs; writes bench/RESULTS.md.
// Usage: node --import=tsx bench/run.ts [--rounds N] [--only a,b,c,d,e,f,g,i] [--json FILE] [--repeat N] [--results FILE|-]
// --json writes every row's numbers as well (bench/goals.ts reads them).
// One case against its references, as often as a goal must hold in a row, without touching RESULTS.md:
//   node --import=tsx bench/run.ts --only c --rounds 15 --repeat 5 --results -
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem, release, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
// tsbox as it ships (tsc's output in dist/, built by `npm run bench`), not its TypeScript through a loader.
import { runContainer } from '../dist/runtime/api.js';
import { sandboxSpec } from '../dist/engine/sandbox.js';
import { alternate, recorded, table, type Case, type Summary } from './stats.js';
import { benchImage, benchSpec, bundle, cleanWork, have, rootfs, WORK } from './fixtures.js';
import { Layout, push, startRegistry, type Registry } from '../test/helpers/registry.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, only: { type: 'string' }, json: { type: 'string' }, repeat: { type: 'string' }, results: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 30);
// Each selected case this many times in a row, a table each (the goals hold on five runs in a row).
const REPEAT = Math.max(1, Number(values.repeat ?? 1));
// Where the report goes besides stdout ('-': stdout only).
const RESULTS = values.results ?? join(import.meta.dirname, 'RESULTS.md');
const ONLY = new Set((values.only ?? 'a,b,c,d,e,f,g,i').split(','));
// Every runtime keeps its state on a tmpfs, as under /run on a systemd host (not so on every VM).
const RUN = mkdtempSync(join(tmpdir(), 'tsbox-bench-run-'));
const RUN_IS_TMPFS = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=0700', 'tsbox-bench-run', RUN]).status === 0;
const STATE = join(RUN, 'tsbox');
const stateOf = (runtime: string) => join(RUN, runtime);
// The executables as package.json ships them: the runtime's launcher and the engine's one-file bundle.
const { bin: BINS } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { bin: Record<string, string> };
const BIN = join(import.meta.dirname, '..', BINS['tsbox-runtime']);
const CLI = join(import.meta.dirname, '..', BINS.tsbox);
const HAD_CONTAINERS_CACHE = existsSync('/var/lib/containers/cache');
let seq = 0;
const id = (p: string) => `${p}-${process.pid}-${++seq}`;

function exitOf(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore', env });
    c.on('error', reject);
    c.on('exit', (code) => resolve(code ?? -1));
  });
}

async function must(p: Promise<number>, what: string): Promise<void> {
  const code = await p;
  if (code !== 0) throw new Error(`${what}: exit ${code}`);
}

/** init false (the default): the process itself is pid 1, the same process tree as crun and runc make; true puts tsbox-init there. */
const tsboxApi = (spec = benchSpec(), init = false) => async () => {
  const c = await runContainer({ id: id('tb'), init, spec: { ...spec, linux: { ...spec.linux, cgroupsPath: undefined } }, root: STATE, stdio: ['ignore', 'ignore', 'ignore'] });
  const st = await c.exited;
  if (st.code !== 0) throw new Error(`tsbox: exit ${st.code} signal ${st.signal}`);
};

/**
 * The engine CLI on its own store root, so nothing touches the default one; executed as users and npm's
 * .bin link execute it (its launcher keeps Node from parsing NODE_EXTRA_CA_CERTS at start).
 */
const tsboxCli = (root: string, ...args: string[]) => must(exitOf(CLI, ['--root', root, ...args]), `tsbox ${args[0]}`);

const ociCli = (bin: string, b: string, runtimeRoot: string) => () => must(exitOf(bin, ['--root', runtimeRoot, 'run', '--bundle', b, id(bin.split('/').pop()!)]), bin);

/** Median ms of `node -e 0`, with or without the environment's extra CA bundle. */
function nodeStart(withCerts: boolean): string {
  const env = { ...process.env };
  if (!withCerts) delete env.NODE_EXTRA_CA_CERTS;
  const ms = Array.from({ length: 11 }, () => {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0'], { env });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }).sort((x, y) => x - y);
  return ms[5].toFixed(0);
}

const sections: string[] = [];
const notes: string[] = [];

/**
 * crun refuses a hybrid host whose cgroup2 mount still holds controllers (a fresh VM of this kind has
 * hugetlb there); scripts/setup.sh gives each a v1 hierarchy, as systemd lays out a hybrid host.
 */
function noteCgroup2Controllers(): void {
  const f = '/sys/fs/cgroup/unified/cgroup.controllers';
  const held = existsSync(f) ? readFileSync(f, 'utf8').trim() : '';
  if (held) notes.push(`cgroup2 holds ${held.split(/\s+/).join(', ')} on this hybrid host: crun refuses it (scripts/setup.sh mounts them as v1 hierarchies)`);
}

/** Runtimes that can run the bench container on this host (a trial run each; failures are noted). */
function usableRuntimes(): string[] {
  const b = bundle('probe');
  return ['crun', 'runc'].filter((r) => {
    if (!have(r)) {
      notes.push(`${r}: not installed`);
      return false;
    }
    const p = spawnSync(r, ['--root', stateOf(r), 'run', '--bundle', b, id(`${r}-probe`)], { encoding: 'utf8' });
    const why = (p.stderr || p.stdout).trim().split('\n').pop() ?? '';
    if (p.status !== 0) notes.push(`${r}: cannot run the bench container on this host: ${why}`);
    return p.status === 0;
  });
}
noteCgroup2Controllers();
const runtimes = usableRuntimes();

const lastLine = (p: { stdout: string; stderr: string }) => ((p.stderr || p.stdout).trim().split('\n').pop() ?? '').replace(/^Error: /, '');

/**
 * podman with everything private under dir: storage, run state, temp files and network configs (so
 * `system reset` clears only ours); cgroupfs and an events file, as there is no systemd to ask.
 */
const podmanGlobals = (dir: string, driver: string) => [
  ...['--root', join(dir, 'proot'), '--runroot', join(dir, 'prun'), '--tmpdir', join(dir, 'ptmp'), '--network-config-dir', join(dir, 'pnet')],
  ...['--storage-driver', driver, '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'],
];

/** Unmounts whatever is still mounted under dir (deepest first): podman's overlay home, layers of a failed run. */
function unmountUnder(dir: string): void {
  const points = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => (l.split(' ')[1] ?? '').replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(dir + '/'));
  for (const m of points.sort((a, b) => b.length - a.length)) if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
}

/** Waits (up to 10 s) until podman's cgroups are empty: conmon's exit command may outlive `podman run --rm`. */
async function podmanSettled(): Promise<void> {
  const procs = () =>
    readdirSync('/sys/fs/cgroup').flatMap((c) => {
      const f = join('/sys/fs/cgroup', c, 'tsbox-bench', 'podman', 'conmon', 'cgroup.procs');
      return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : [];
    });
  for (let i = 0; i < 100 && procs().length; i++) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Loads the image tar into podman's private storage (overlay, else vfs) and finds the flags it needs to
 * run there, a trial run each: its default runtime (crun) refuses a hybrid cgroup host, and as root it
 * sets its own RLIMIT_NOFILE/NPROC, which fail without CAP_SYS_RESOURCE (lowered ones work). The full argv for `run --rm IMAGE
 * true`, or undefined (noted) when podman cannot run it; globals for cleanup either way.
 */
function podmanRun(dir: string, tar: string, image: string): { argv?: string[]; globals: string[] } {
  let globals = podmanGlobals(dir, 'overlay');
  if (!have('podman')) {
    notes.push('podman: not installed');
    return { globals };
  }
  for (const driver of ['overlay', 'vfs']) {
    globals = podmanGlobals(dir, driver);
    const p = spawnSync('podman', [...globals, 'load', '-q', '-i', tar], { encoding: 'utf8' });
    if (p.status === 0) break;
    notes.push(`podman: cannot load the bench image with ${driver} storage: ${lastLine(p)}`);
    if (driver === 'vfs') return { globals };
    spawnSync('podman', [...globals, 'system', 'reset', '-f'], { stdio: 'ignore' });
    unmountUnder(dir);
  }
  const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
  const errors: string[] = [];
  for (const [runtime, limits] of [[[], []], [[], ulimits], [['--runtime', 'runc'], []], [['--runtime', 'runc'], ulimits]]) {
    // Never a bridge or a pull: same as tsbox's run; a cgroup of ours, removed at the end.
    const argv = [...globals, ...runtime, 'run', '--rm', '--network', 'none', '--pull', 'never', '--cgroup-parent', '/tsbox-bench/podman', ...limits, image, 'true'];
    const p = spawnSync('podman', argv, { encoding: 'utf8' });
    if (p.status === 0) {
      if (errors.length) notes.push(`podman: runs here only with \`${[...runtime, ...limits].join(' ')}\` (without: ${errors.join('; ')})`);
      return { argv, globals };
    }
    errors.push(lastLine(p));
  }
  notes.push(`podman: cannot run the bench container on this host: ${errors.join('; ')}`);
  return { globals };
}

async function caseA(): Promise<void> {
  const b = bundle('a');
  const cases: Case[] = [
    { name: 'tsbox API (in-process)', run: tsboxApi() },
    { name: 'tsbox API, --init', run: tsboxApi(benchSpec(), true) },
  ];
  for (const r of runtimes) cases.push({ name: `node spawning ${r} run`, run: ociCli(r, b, stateOf(r)) });
  if (have('unshare')) cases.push({ name: 'unshare + pivot_root (the kernel\'s floor)', run: unshareFloor(rootfs()) });
  sections.push(table('(a) start+teardown of /bin/true from a running Node process', await alternate(cases, ROUNDS)));
}

async function caseB(): Promise<void> {
  const b = bundle('b');
  const cases: Case[] = [{ name: 'tsbox-runtime run', run: () => must(exitOf(BIN, ['--root', STATE, 'run', '--bundle', b, id('tbcli')]), 'tsbox-runtime') }];
  for (const r of runtimes) cases.push({ name: `${r} run`, run: ociCli(r, b, stateOf(r)) });
  // Every call in Node, as without a runtime server (the first call of an environment, or TSBOX_RUNTIME_COLD=1).
  const cold = { ...process.env, TSBOX_RUNTIME_COLD: '1' };
  cases.push({ name: 'tsbox-runtime run, cold (TSBOX_RUNTIME_COLD=1)', run: () => must(exitOf(BIN, ['--root', STATE, 'run', '--bundle', b, id('tbcold')], cold), 'tsbox-runtime (cold)') });
  // containerd's shim calls create, start and delete, each a process of its own.
  const sequence = (bin: string, root: string) => async () => {
    const c = id('seq');
    for (const args of [['create', '--bundle', b, c], ['start', c], ['delete', '-f', c]]) await must(exitOf(bin, ['--root', root, ...args]), `${bin} ${args[0]}`);
  };
  cases.push({ name: 'tsbox-runtime create+start+delete', run: sequence(BIN, STATE) });
  for (const r of runtimes) cases.push({ name: `${r} create+start+delete`, run: sequence(r, stateOf(r)) });
  sections.push(table('(b) runtime CLI: run --bundle of /bin/true', await alternate(cases, Math.max(5, ROUNDS >> 1))));
  // 20 CLI processes at once, as containerd starts pods: containers per second.
  const n = 20;
  const bundles = Array.from({ length: n }, (_, i) => bundle(`bc${i}`));
  const many: Case[] = [{ name: `tsbox-runtime run ×${n}`, run: () => Promise.all(bundles.map((x) => must(exitOf(BIN, ['--root', STATE, 'run', '--bundle', x, id('tbcli')]), 'tsbox-runtime'))).then(() => undefined) }];
  for (const r of runtimes) many.push({ name: `${r} run ×${n}`, run: () => Promise.all(bundles.map((x) => ociCli(r, x, stateOf(r))())).then(() => undefined) });
  const rows = (await alternate(many, Math.max(5, ROUNDS >> 2), 1)).map((s) => ({ ...s, median: (n * 1000) / s.median, min: (n * 1000) / s.max, max: (n * 1000) / s.min }));
  sections.push(table(`(b2) runtime CLI: ${n} runs at once (containers per second, higher is better)`, rows, 'containers/s'));
}

/**
 * The kernel's floor for case (a): the same namespaces from util-linux's unshare, a fresh pivot_root into
 * the bench rootfs (busybox's sh, mount and pivot_root, no fork for its applets) and /bin/true; no cgroup.
 */
const unshareFloor = (root: string) => () =>
  must(
    exitOf('unshare', ['--fork', '--pid', '--mount', '--uts', '--ipc', '--net', '--propagation', 'private', join(root, 'bin/busybox'), 'sh', '-c', `mount --bind ${root} ${root} && cd ${root} && mkdir -p .old && pivot_root . .old && umount -l /.old && exec /bin/true`]),
    'unshare',
  );

/** The start of each executable and of the library in a fresh Node, against Node's own (`node -e 0`). */
async function caseI(): Promise<void> {
  // Without the CA bundle for every row: this is tsbox's own cost (the notes give the bundle's).
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  // In the checkout, 'tsbox' resolves to the package itself (its "exports"), as in an application.
  const node = (...args: string[]) => () =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(process.execPath, args, { stdio: 'ignore', env, cwd: join(import.meta.dirname, '..') });
      c.on('error', reject);
      c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`node ${args.join(' ')}: exit ${code}`))));
    });
  const cases: Case[] = [
    { name: 'node -e 0', run: node('-e', '0') },
    { name: "import('tsbox')", run: node('--input-type=module', '-e', "await import('tsbox')") },
    { name: "require('tsbox')", run: node('-e', "require('tsbox')") },
    { name: 'tsbox --version', run: node(CLI, '--version') },
    { name: 'tsbox-runtime --version', run: () => must(exitOf(BIN, ['--version']), 'tsbox-runtime --version') },
  ];
  sections.push(table('(i) start-up: the executables and the library in a fresh Node (NODE_EXTRA_CA_CERTS unset)', await alternate(cases, ROUNDS)));
}

async function caseC(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-bench-c-'));
  const image = 'localhost/tsbox-bench:latest';
  let podman: { argv?: string[]; globals: string[] } | undefined;
  try {
    const { tar } = benchImage(join(dir, 'image'), image);
    const root = join(dir, 'troot');
    await tsboxCli(root, 'load', '-i', tar);
    const cases: Case[] = [{ name: 'tsbox run --rm', run: () => tsboxCli(root, 'run', '--rm', '--network', 'none', image, 'true') }];
    podman = podmanRun(dir, tar, image);
    const argv = podman.argv;
    if (argv) cases.push({ name: 'podman run --rm', run: () => must(exitOf('podman', argv), 'podman run') });
    sections.push(table('(c) engine CLI: run --rm --network none IMAGE true (busybox image, private storage)', await alternate(cases, Math.max(5, ROUNDS >> 1))));
  } finally {
    if (podman) {
      await podmanSettled();
      spawnSync('podman', [...podman.globals, 'system', 'reset', '-f'], { stdio: 'ignore' });
    }
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function caseD(): Promise<void> {
  const rows: Summary[] = [];
  for (const n of [20, 100]) {
    const bundles = Array.from({ length: n }, (_, i) => bundle(`d${i}`));
    const cases: Case[] = [
      { name: `tsbox API ×${n}`, run: () => Promise.all(bundles.map(() => tsboxApi()())).then(() => undefined) },
      { name: `tsbox API, --init ×${n}`, run: () => Promise.all(bundles.map(() => tsboxApi(benchSpec(), true)())).then(() => undefined) },
    ];
    // Every runtime that runs here, each container from its own CLI process as containerd would start them.
    for (const r of runtimes) cases.push({ name: `${r} ×${n}`, run: () => Promise.all(bundles.map((b) => ociCli(r, b, stateOf(r))())).then(() => undefined) });
    for (const s of await alternate(cases, Math.max(5, ROUNDS >> 2), 1)) {
      // Containers per second from the median batch time.
      rows.push({ ...s, median: (n * 1000) / s.median, min: (n * 1000) / s.max, max: (n * 1000) / s.min });
    }
  }
  sections.push(table('(d) concurrent start+teardown (containers per second, higher is better)', rows, 'containers/s'));
}

async function caseE(): Promise<void> {
  const layer = mkdtempSync('/dev/shm/tsbox-bench-sandbox-');
  const cases: Case[] = [
    {
      name: 'tsbox sandbox (API)',
      run: async () => {
        for (const d of ['upper', 'work', 'root']) mkdirSync(join(layer, d), { recursive: true });
        await tsboxApi(sandboxSpec({ args: ['/bin/true'], layerDir: layer, cwd: '/' }))();
        rmSync(join(layer, 'upper'), { recursive: true, force: true });
        rmSync(join(layer, 'work'), { recursive: true, force: true });
      },
    },
  ];
  if (have('bwrap')) {
    cases.push({
      name: 'bwrap (spawned from node)',
      run: () => must(exitOf('bwrap', ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '/bin/true']), 'bwrap'),
    });
  }
  try {
    sections.push(table('(e) sandbox of /bin/true over the host filesystem', await alternate(cases, ROUNDS)));
  } finally {
    rmSync(layer, { recursive: true, force: true });
  }
}

/**
 * A Debian minbase-like tree under dir, from this (Debian) host: the files of every package of priority
 * required and of the libraries they load, as dpkg lists them (about 5,700 paths, 105 MB). Undefined
 * off Debian.
 */
function debianLike(dir: string): string | undefined {
  if (!have('dpkg-query')) return undefined;
  const required = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${Priority}\\n'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.endsWith(' required'))
    .map((l) => l.split(' ')[0]);
  const libs = ['libc6', 'libgcc-s1', 'libstdc++6', 'libselinux1', 'libpcre2-8-0', 'libacl1', 'libattr1', 'libaudit1', 'libcap-ng0', 'libcap2', 'libcrypt1', 'libdb5.3', 'libgmp10', 'libsystemd0', 'libzstd1', 'liblzma5', 'libbz2-1.0', 'zlib1g', 'libtinfo6', 'libmd0', 'libsemanage2', 'libsepol2', 'libblkid1', 'libmount1', 'libuuid1', 'libsmartcols1', 'libudev1', 'libseccomp2', 'libgcrypt20', 'libgpg-error0', 'liblz4-1', 'libxxhash0', 'libapt-pkg6.0', 'libssl3', 'gpgv', 'debian-archive-keyring', 'libext2fs2', 'libcom-err2', 'libss2', 'logsave', 'adduser', 'libpam0g'];
  const root = join(dir, 'rootfs');
  mkdirSync(root, { recursive: true });
  // tar keeps owners, modes and links; paths that are symlinks on the host (/lib on a merged /usr) stay links.
  const list = join(dir, 'files');
  const files = spawnSync('sh', ['-c', 'for p in "$@"; do dpkg -L "$p" 2>/dev/null; done | sort -u', 'sh', ...required, ...libs], { encoding: 'utf8', maxBuffer: 1 << 26 })
    .stdout.split('\n')
    .filter((f) => f.startsWith('/') && existsSync(f))
    // Through their real parents (/bin/cp is /usr/bin/cp on a merged /usr): no entry below a symlink.
    .map((f) => join(realpathSync(dirname(f)), basename(f)));
  writeFileSync(list, [...new Set(files)].map((f) => f.slice(1)).join('\n'));
  const t = spawnSync('sh', ['-c', `tar -C / --no-recursion -cf - -T ${list} | tar -C ${root} -xf -`]);
  return t.status === 0 ? root : undefined;
}

async function caseF(): Promise<void> {
  const missing = ['docker-registry', 'skopeo', 'umoci'].filter((c) => !have(c));
  if (missing.includes('docker-registry') || missing.includes('skopeo')) {
    notes.push(`(f) skipped: ${missing.join(', ')} not installed`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-bench-f-'));
  let registry: Registry | undefined;
  try {
    registry = await startRegistry();
    // busybox and two layers of 4 MiB random data: about 9 MB to fetch, verify and unpack.
    const { layout } = benchImage(join(dir, 'image'), 'latest', [4, 4]);
    const images = [{ title: 'a 3-layer, ~9 MB image', ref: `${registry.addr}/tsbox-bench/pull:latest` }];
    await push(layout, 'latest', images[0].ref);
    const deb = debianLike(join(dir, 'debian'));
    if (deb) {
      const l = new Layout(join(dir, 'debian', 'layout'));
      l.image([deb], { tag: 'latest', arch: process.arch === 'x64' ? 'amd64' : process.arch });
      l.write();
      rmSync(deb, { recursive: true, force: true });
      images.push({ title: 'a Debian minbase-like image (one layer, ~5,700 paths, ~105 MB)', ref: `${registry.addr}/tsbox-bench/debian:latest` });
      await push(l.dir, 'latest', images[1].ref);
    } else notes.push('(f) the Debian-like image needs dpkg: not measured');
    // A fresh store / layout / bundle each round, removed after it untimed: every pull fetches every layer.
    let used: string[] = [];
    const fresh = (p: string) => {
      const d = join(dir, id(p));
      used.push(d);
      return d;
    };
    const after = () => {
      for (const d of used) {
        if (existsSync(join(d, 'proot'))) {
          spawnSync('podman', [...podmanGlobals(d, 'overlay'), 'system', 'reset', '-f'], { stdio: 'ignore' });
          unmountUnder(d);
        }
        rmSync(d, { recursive: true, force: true });
      }
      used = [];
    };
    if (missing.length) notes.push(`(f) skopeo+umoci: ${missing.join(', ')} not installed`);
    if (!have('podman')) notes.push('(f) podman: not installed');
    for (const { title, ref } of images) {
      // 127.0.0.1 is plain http to tsbox without a flag (isInsecure in ts/images/reference.ts).
      const cases: Case[] = [{ name: 'tsbox pull', run: () => tsboxCli(fresh('troot'), 'pull', '-q', ref), after }];
      if (!missing.length) {
        cases.push({
          name: 'skopeo copy + umoci unpack',
          run: async () => {
            const l = fresh('layout');
            await must(exitOf('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${l}:latest`]), 'skopeo copy');
            await must(exitOf('umoci', ['unpack', '--image', `${l}:latest`, fresh('bundle')]), 'umoci unpack');
          },
          after,
        });
      }
      if (have('podman')) cases.push({ name: 'podman pull (overlay)', run: () => must(exitOf('podman', [...podmanGlobals(fresh('podman'), 'overlay'), 'pull', '-q', '--tls-verify=false', ref]), 'podman pull'), after });
      sections.push(table(`(f) pull + unpack of ${title} from a local registry (plain http)`, await alternate(cases, Math.max(5, ROUNDS >> 1))));
    }
  } finally {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function caseG(): Promise<void> {
  const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const ppid = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
  // tsbox-init as pid 1 (--init), and as the monitor of a detached engine container (the container's parent).
  const c = await runContainer({ id: id('mem'), init: true, spec: benchSpec(['sleep', '30']), root: STATE, stdio: ['ignore', 'ignore', 'ignore'] });
  const m = await runContainer({ id: id('mon'), monitor: true, spec: benchSpec(['sleep', '30']), root: STATE, stdio: ['ignore', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 200));
  const initRss = rss(c.pid);
  const monitorRss = rss(ppid(m.pid));
  for (const x of [c, m]) {
    x.kill('SIGKILL');
    await x.exited;
  }
  // Smallest memory limit that still runs /bin/true, by bisection over MiB.
  let lo = 0;
  let hi = 64;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const ok = await tsboxApi(benchSpec(['/bin/true'], (s) => (s.linux!.resources = { memory: { limit: mid * 1024 * 1024 } })))().then(() => true, () => false);
    if (ok) hi = mid;
    else lo = mid;
  }
  recorded.push({ section: '(g) memory', name: 'tsbox-init RSS (--init)', unit: 'KiB', median: initRss, min: initRss, max: initRss, runs: 1 });
  sections.push(`### (g) memory\n\n| what | value |\n|---|---:|\n| RSS of tsbox-init (pid 1, --init) while the container sleeps | ${initRss} KiB |\n| RSS of the monitor of a detached container (tsbox-init outside it) | ${monitorRss} KiB |\n| smallest memory limit that runs /bin/true | ${hi} MiB |\n`);
}

async function main(): Promise<void> {
  const started = new Date();
  try {
    for (let r = 0; r < REPEAT; r++) {
      if (ONLY.has('a')) await caseA();
      if (ONLY.has('b')) await caseB();
      if (ONLY.has('c')) await caseC();
      if (ONLY.has('d')) await caseD();
      if (ONLY.has('e')) await caseE();
      if (ONLY.has('f')) await caseF();
      if (ONLY.has('g')) await caseG();
      if (ONLY.has('i')) await caseI();
    }
  } finally {
    cleanWork();
    rmSync(STATE, { recursive: true, force: true });
    if (RUN_IS_TMPFS) spawnSync('umount', [RUN]);
    rmSync(RUN, { recursive: true, force: true });
    // Depth first: podman nests conmon's cgroup under its parent (tsbox-bench/podman/conmon).
    spawnSync('sh', ['-c', 'for d in /sys/fs/cgroup/*/tsbox-bench /sys/fs/cgroup/tsbox-bench; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done; true']);
    // skopeo and podman (as root) keep a blob-info cache in /var/lib/containers/cache: gone again if we made it.
    if (!HAD_CONTAINERS_CACHE) {
      rmSync('/var/lib/containers/cache', { recursive: true, force: true });
      if (existsSync('/var/lib/containers') && !readdirSync('/var/lib/containers').length) rmdirSync('/var/lib/containers');
    }
  }
  // Node 20 parses NODE_EXTRA_CA_CERTS at every start: neither launcher lets it (the engine's registry
  // client reads the bundle on its first TLS connection, the runtime makes none).
  notes.push(RUN_IS_TMPFS ? 'State of every runtime (tsbox, crun, runc) on one tmpfs, as /run is on a systemd host.' : `State of every runtime under ${RUN} (no tmpfs could be mounted).`);
  if (process.env.NODE_EXTRA_CA_CERTS) notes.push(`NODE_EXTRA_CA_CERTS is set (${process.env.NODE_EXTRA_CA_CERTS}): the launchers keep Node from parsing it at start; \`node -e 0\` takes ${nodeStart(true)} ms with it, ${nodeStart(false)} ms without`);
  notes.push('Where the time of a start goes and what was done about it: docs/performance.md (bench/prof-b.ts measures the phases).');
  const head = `# tsbox benchmarks\n\n${started.toISOString()} on ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}; ${ROUNDS} rounds, medians with min/max, cases run in alternation.\n\n`;
  const md = head + sections.join('\n') + (notes.length ? `\n### Notes\n\n${[...new Set(notes)].map((n) => `- ${n}`).join('\n')}\n` : '');
  if (RESULTS !== '-') writeFileSync(RESULTS, md);
  if (values.json) writeFileSync(values.json, JSON.stringify({ started: started.toISOString(), rounds: ROUNDS, rows: recorded, notes }, null, 1));
  process.stdout.write(md);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack}\n`);
  process.exit(1);
});
