// The engine against a hostile container and hostile timing: cp while the container swaps its
// directories for symlinks to host directories (CVE-2018-15664), in both directions, next to podman cp
// with runc as the reference; docker's cp semantics; names under concurrent runs; docker's exit codes
// for a container that does not exist.
import test from 'ava';
import { removeCgroupTree, unmountBelow } from './helpers/leftovers.js';
import { podmanRef } from './helpers/podman-ref.js';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { busyboxRootfs } from './helpers/bundle.js';
import { CLI } from './helpers/bins.js';
import { engineRoot } from './helpers/engine-root.js';

const engine = engineRoot('tsbox-security-');
const { root, tsbox } = engine;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;


/** Runs a command without waiting for it (concurrent runs and copies); stdout/stderr collected. */
function start(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** n tasks, at most width at a time. */
async function pool<T>(n: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await task(i);
    }
  }));
  return out;
}

test.before(() => engine.importBusybox());

test.after.always(() => engine.remove());

// The attacks, run inside the container. H is a host directory: what a naive cp would reach by following
// the container's symlink on the host.
/** host -> container: /w is a directory, then a symlink to H, again and again. */
const swapIn = (h: string) => `while :; do mkdir /w 2>/dev/null; rm -rf /w; ln -s ${h} /w; rm -f /w; done`;
/** container -> host: /r a directory holding x, then a symlink to H (holding the host's x); /q/x a file, then a symlink to H/x. */
const swapOut = (h: string) =>
  `mkdir -p /q; while :; do mkdir /r 2>/dev/null; echo inside > /r/x; echo inside > /q/x; rm -rf /r; ln -s ${h} /r; rm -f /q/x; ln -s ${h}/x /q/x; rm -f /r /q/x; done`;

const ROUNDS = 200;

type Direction = 'in' | 'out';

interface RaceResult {
  /** Copies that went through (others fail, as many of podman's do, while the path is a symlink). */
  copied: number;
  /** in: copies that landed in the host directory; out: copies that carried the host file's content. */
  escapes: number;
}

/** How one engine takes part: start an attacker container running script, cp, remove. */
interface Engine {
  attack(name: string, script: string): void;
  cp(src: string, dst: string): Promise<{ code: number | null }>;
  remove(name: string): void;
}

/**
 * One direction of the race for one engine (one attacker loop at a time on this 2-core machine).
 * in: half the copies are files, half directory trees; out: a file under the swapped directory, a file
 * swapped for a symlink, the swapped directory itself.
 */
async function race(e: Engine, dir: Direction, work: string, host: { hostIn: string; secretDir: string }): Promise<RaceResult> {
  const name = `swap${dir}`;
  let results: { code: number | null }[];
  const out = join(work, `out-${dir}`);
  if (dir === 'in') {
    const payload = join(work, 'payload');
    writeFileSync(payload, 'payload\n');
    const tree = join(work, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'sub', 'f'), 'payload\n');
    e.attack(name, swapIn(host.hostIn));
    await sleep(200);
    results = await pool(ROUNDS, 3, (i) => e.cp(i % 2 ? tree : payload, `${name}:/w/x${i}`));
  } else {
    mkdirSync(out);
    e.attack(name, swapOut(host.secretDir));
    await sleep(200);
    results = await pool(ROUNDS, 3, (i) => e.cp(`${name}:${['/r/x', '/q/x', '/r'][i % 3]}`, join(out, `x${i}`)));
  }
  e.remove(name);
  const copied = results.filter((r) => r.code === 0).length;
  if (dir === 'in') return { copied, escapes: readdirSync(host.hostIn).length };
  const secret = readFileSync(join(host.secretDir, 'x'), 'utf8');
  let escapes = 0;
  // A symlink copied as a symlink is no leak: its target is not read. A tree copied out is looked into.
  const walk = (p: string): void => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const c of readdirSync(p)) walk(join(p, c));
    else if (st.isFile() && readFileSync(p, 'utf8') === secret) escapes++;
  };
  walk(out);
  return { copied, escapes };
}

function hostDirs(prefix: string) {
  const hostIn = mkdtempSync(join(tmpdir(), `${prefix}-in-`));
  const secretDir = mkdtempSync(join(tmpdir(), `${prefix}-secret-`));
  writeFileSync(join(secretDir, 'x'), `host secret ${randomBytes(8).toString('hex')}\n`);
  return { hostIn, secretDir };
}

// The attackers get half a CPU: they keep swapping through every copy without starving the copies.
const ATTACKER = ['--cpus', '0.5'];
const tsboxEscapes: Partial<Record<Direction, number>> = {};

for (const dir of ['in', 'out'] as const) {
  const what = dir === 'in' ? 'host -> container: no copy lands in the host directory' : "container -> host: no copy carries the host's file";
  test.serial(`cp race ${what} while the container swaps directories for symlinks to host paths`, async (t) => {
    const host = hostDirs('tsbox-race');
    const work = mkdtempSync(join(root, 'race-'));
    t.teardown(() => {
      tsbox(['rm', '-f', `swap${dir}`]);
      rmSync(host.hostIn, { recursive: true, force: true });
      rmSync(host.secretDir, { recursive: true, force: true });
    });
    const engine: Engine = {
      attack: (name, script) => {
        const r = tsbox(['run', '-d', ...ATTACKER, '--name', name, 'busybox', 'sh', '-c', script]);
        t.is(r.code, 0, r.stderr);
      },
      cp: (src, dst) => start(process.execPath, [CLI, '--root', root, 'cp', src, dst]),
      remove: (name) => void tsbox(['rm', '-f', name]),
    };
    const t0 = Date.now();
    const res = await race(engine, dir, work, host);
    t.log(`tsbox cp ${dir}: ${res.copied}/${ROUNDS} copied, ${res.escapes} escapes (${Date.now() - t0} ms)`);
    tsboxEscapes[dir] = res.escapes;
    t.is(res.escapes, 0);
    // The race is real: copies do go through while the container swaps.
    t.true(res.copied > 0);
  });
}

const podmanTest = have('podman') && have('runc') ? test.serial : test.serial.skip;

podmanTest('cp races, the reference: podman cp with runc against the same swaps; tsbox escapes no more than it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-race-podman-'));
  const { hostIn, secretDir } = hostDirs('tsbox-race-podman');
  const cgroup = `tsbox-race-podman-${process.pid}`;
  for (const d of ['root', 'runroot', 'tmp']) mkdirSync(join(dir, d));
  const base = ['--runtime', 'runc', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const podman = (args: string[]) => spawnSync('podman', [...base, ...args], { encoding: 'utf8', timeout: 60000 });
  t.teardown(async () => {
    podman(['rm', '-af', '-t', '0']);
    rmSync(hostIn, { recursive: true, force: true });
    rmSync(secretDir, { recursive: true, force: true });
    // conmon runs "podman container cleanup" as each container ends, which mounts the storage again:
    // unmount until nothing comes back.
    for (let i = 0; i < 50; i++) {
      unmountBelow(dir);
      try {
        rmSync(dir, { recursive: true, force: true });
        break;
      } catch {
        await sleep(200);
      }
    }
    removeCgroupTree(cgroup);
  });
  const limits = ['--network', 'none', '--cgroup-parent', `/${cgroup}`, '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', ...ATTACKER];
  const engine: Engine = {
    attack: (name, script) => {
      // Its own copy of the rootfs: the swaps write to it.
      const rootfs = join(dir, `rootfs-${name}`);
      execFileSync('cp', ['-a', busyboxRootfs(), rootfs]);
      const r = podman(['run', '-d', ...limits, '--name', name, '--rootfs', rootfs, '/bin/sh', '-c', script]);
      t.is(r.status, 0, r.stderr);
    },
    cp: (src, dst) => start('podman', [...base, 'cp', src, dst]),
    remove: (name) => void podman(['rm', '-f', '-t', '0', name]),
  };
  const work = mkdtempSync(join(dir, 'race-'));
  for (const d of ['in', 'out'] as const) {
    const t0 = Date.now();
    const res = await race(engine, d, work, { hostIn, secretDir });
    t.log(`podman cp ${d}: ${res.copied}/${ROUNDS} copied, ${res.escapes} escapes (${Date.now() - t0} ms)`);
    t.not(tsboxEscapes[d], undefined, 'the tsbox race ran first');
    t.true(tsboxEscapes[d]! <= res.escapes, `${d}: tsbox ${tsboxEscapes[d]} escapes, podman ${res.escapes}`);
  }
});

test('cp: docker semantics, through files, trees, symlinks and modes, both ways', (t) => {
  let r = tsbox(['run', '-d', '--name', 'cpsem', 'busybox', 'sh', '-c', 'mkdir -p /data/sub; echo one > /data/sub/f; ln -s /etc/passwd /data/link; chmod 4755 /data/sub/f; ln -s /nowhere /dangling; sleep 300']);
  t.is(r.code, 0, r.stderr);
  t.teardown(() => tsbox(['rm', '-f', 'cpsem']));
  const host = mkdtempSync(join(root, 'cpsem-'));
  const exec = (cmd: string) => tsbox(['exec', 'cpsem', 'sh', '-c', cmd]).stdout;
  for (let i = 0; i < 50 && !exec('cat /data/sub/f 2>/dev/null'); i++) execFileSync('sleep', ['0.1']);

  // Out: a tree to a new path, symlinks as symlinks (never followed to the host's /etc/passwd), modes kept
  // but setuid dropped on the way to the host.
  t.is(tsbox(['cp', 'cpsem:/data', join(host, 'data')]).code, 0);
  t.is(readFileSync(join(host, 'data/sub/f'), 'utf8'), 'one\n');
  t.is(readlinkSync(join(host, 'data/link')), '/etc/passwd');
  t.is(statSync(join(host, 'data/sub/f')).mode & 0o7777, 0o755);
  // Into an existing directory: under its own name; SRC/. : the contents.
  t.is(tsbox(['cp', 'cpsem:/data', join(host, 'data')]).code, 0);
  t.true(existsSync(join(host, 'data/data/sub/f')));
  mkdirSync(join(host, 'flat'), { mode: 0o700 });
  t.is(tsbox(['cp', 'cpsem:/data/.', join(host, 'flat')]).code, 0);
  t.deepEqual(readdirSync(join(host, 'flat')).sort(), ['link', 'sub']);
  t.is(statSync(join(host, 'flat')).mode & 0o7777, 0o700, 'a host directory copied into keeps its own mode');
  // -a keeps setuid; -L follows the last symlink, inside the container's root.
  t.is(tsbox(['cp', '-a', 'cpsem:/data/sub/f', join(host, 'suid')]).code, 0);
  t.is(statSync(join(host, 'suid')).mode & 0o7777, 0o4755);
  t.is(tsbox(['cp', '-L', 'cpsem:/data/link', join(host, 'passwd')]).code, 0);
  t.is(readFileSync(join(host, 'passwd'), 'utf8'), readFileSync(join(busyboxRootfs(), 'etc/passwd'), 'utf8'), "the container's /etc/passwd, not the host's");
  t.is(tsbox(['cp', 'cpsem:/dangling', join(host, 'dangling')]).code, 0);
  t.is(readlinkSync(join(host, 'dangling')), '/nowhere');

  // In: a file onto a new name, into a directory, a tree, modes kept.
  writeFileSync(join(host, 'in.txt'), 'in\n');
  chmodSync(join(host, 'in.txt'), 0o640);
  t.is(tsbox(['cp', join(host, 'in.txt'), 'cpsem:/tmp/']).code, 0);
  t.is(tsbox(['cp', join(host, 'in.txt'), 'cpsem:/tmp/renamed']).code, 0);
  t.is(exec('cat /tmp/in.txt /tmp/renamed; stat -c %a /tmp/in.txt'), 'in\nin\n640\n');
  t.is(tsbox(['cp', join(host, 'data'), 'cpsem:/copied']).code, 0);
  t.is(exec('cat /copied/sub/f; readlink /copied/link'), 'one\n/etc/passwd\n');
  // A symlink as the destination is replaced, never written through (to the container's file or the host's).
  t.is(tsbox(['cp', join(host, 'in.txt'), 'cpsem:/data/link']).code, 0);
  t.is(exec('readlink /data/link; cat /data/link'), 'in\n', 'the link itself was replaced, its target untouched');
  t.not(readFileSync('/etc/passwd', 'utf8'), 'in\n');

  // docker's errors: exit 1, one line.
  r = tsbox(['cp', 'cpsem:/nothing', join(host, 'x')]);
  t.is(r.code, 1);
  t.is(r.stderr, 'Error: No such container:path: cpsem:/nothing\n');
  r = tsbox(['cp', join(host, 'in.txt'), 'cpsem:/no/such/dir/']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^Error: .*must exist\n$/);
  r = tsbox(['cp', join(host, 'data'), 'cpsem:/tmp/renamed']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^Error: cannot overwrite non-directory .* with directory .*\n$/);
  r = tsbox(['cp', 'cpsem:/data/sub/f/', join(host, 'y')]);
  t.is(r.code, 1);
  t.regex(r.stderr, /not a directory\n$/);
});

test('cp: device nodes in a container are never opened nor copied out', (t) => {
  let r = tsbox(['run', '-d', '--name', 'cpdev', 'busybox', 'sleep', '300']);
  t.is(r.code, 0, r.stderr);
  t.teardown(() => tsbox(['rm', '-f', 'cpdev']));
  const id = JSON.parse(tsbox(['inspect', 'cpdev']).stdout)[0].Id as string;
  // A node for the host's first loop device and one for its memory, as an image or a container could make them.
  const rootfs = join(root, 'containers', id, 'snapshot', 'rootfs');
  mkdirSync(join(rootfs, 'nodes'));
  execFileSync('mknod', [join(rootfs, 'nodes/loop'), 'b', '7', '0']);
  execFileSync('mknod', [join(rootfs, 'nodes/mem'), 'c', '1', '1']);
  writeFileSync(join(rootfs, 'nodes/plain'), 'plain\n');
  const host = mkdtempSync(join(root, 'cpdev-'));
  r = tsbox(['cp', 'cpdev:/nodes', join(host, 'nodes')]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /2 device node\(s\) or socket\(s\) not copied/);
  t.deepEqual(readdirSync(join(host, 'nodes')), ['plain']);
  r = tsbox(['cp', 'cpdev:/nodes/loop', join(host, 'loop')]);
  t.is(r.code, 0, r.stderr);
  t.false(existsSync(join(host, 'loop')));
});

test.serial('names: 50 concurrent runs over 10 names give one container per name; rm -f frees it; a stale reservation is taken over', async (t) => {
  const names = Array.from({ length: 10 }, (_, i) => `race${i}`);
  t.teardown(() => tsbox(['rm', '-f', ...names]));
  const runs = await Promise.all(Array.from({ length: 50 }, (_, i) => start(process.execPath, [CLI, '--root', root, 'run', '-d', '--name', names[i % 10], 'busybox', 'sleep', '300'])));
  const ps = tsbox(['ps', '-a', '--format', 'json']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Names: string; State: string });
  for (const n of names) t.is(ps.filter((c) => c.Names === n).length, 1, `one container named ${n}`);
  t.is(runs.filter((r) => r.code === 0).length, 10);
  const losers = runs.filter((r) => r.code !== 0);
  t.is(losers.length, 40);
  for (const r of losers) {
    t.is(r.code, 125);
    t.regex(r.stderr, /^tsbox: Conflict\. The container name "\/race\d" is already in use by container "[0-9a-f]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\.\n$/);
  }
  t.is(ps.filter((c) => names.includes(c.Names) && c.State === 'running').length, 10);

  t.is(tsbox(['rm', '-f', 'race0']).code, 0);
  let r = tsbox(['run', '-d', '--name', 'race0', 'busybox', 'sleep', '300']);
  t.is(r.code, 0, r.stderr);
  // A run killed after reserving, before its record: its pid is gone, its reservation is stale.
  writeFileSync(join(root, 'names', 'stale0'), JSON.stringify({ id: 'f'.repeat(64), pid: 2 ** 22 + 1, start: '1' }));
  r = tsbox(['run', '-d', '--name', 'stale0', 'busybox', 'sleep', '300']);
  t.is(r.code, 0, r.stderr);
  t.is(tsbox(['rm', '-f', 'stale0']).code, 0);
  t.false(existsSync(join(root, 'names', 'stale0')));
  // A name holds no path: it cannot reach out of the names directory.
  r = tsbox(['run', '-d', '--name', '../escape', 'busybox', 'true']);
  t.is(r.code, 125);
});

podmanTest('names, the reference: concurrent podman runs (runc) over the same names also give one container per name', async (t) => {
  const ref = podmanRef('names');
  t.teardown(() => ref.cleanup());
  const names = Array.from({ length: 5 }, (_, i) => `prace${i}`);
  const runs = await Promise.all(
    Array.from({ length: 20 }, (_, i) => start('podman', [...ref.base, 'run', '-d', ...ref.runFlags, '--name', names[i % 5], '--rootfs', busyboxRootfs(), '/bin/sleep', '300'])),
  );
  const all = spawnSync('podman', [...ref.base, 'ps', '-a', '--format', '{{.Names}}'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const n of names) t.is(all.filter((x) => x === n).length, 1, `podman: one container named ${n}`);
  t.is(runs.filter((r) => r.code === 0).length, 5);
});

test('a missing container: exit 1 and an error naming it in every command (docker\'s exact words: engine-api-containers, against dockerd)', (t) => {
  const table: [string, string[]][] = [
    ['stop', ['stop', 'nosuch']],
    ['kill', ['kill', 'nosuch']],
    ['rm', ['rm', 'nosuch']],
    ['logs', ['logs', 'nosuch']],
    ['exec', ['exec', 'nosuch', 'true']],
    ['inspect', ['inspect', 'nosuch']],
    ['wait', ['wait', 'nosuch']],
    ['pause', ['pause', 'nosuch']],
    ['unpause', ['unpause', 'nosuch']],
    ['top', ['top', 'nosuch']],
    ['stats', ['stats', '--no-stream', 'nosuch']],
    ['start', ['start', 'nosuch']],
    ['restart', ['restart', 'nosuch']],
    ['port', ['port', 'nosuch']],
    ['cp out', ['cp', 'nosuch:/etc/passwd', join(root, 'never')]],
    ['cp in', ['cp', '/etc/hostname', 'nosuch:/tmp/']],
    ['container stop', ['container', 'stop', 'nosuch']],
  ];
  for (const [what, argv] of table) {
    const r = tsbox(argv);
    t.is(r.code, 1, `${what}: ${r.stderr}`);
    t.regex(r.stderr, /^Error( response from daemon)?: .*No such (container|object)(:path)?: nosuch\b/, what);
    t.is(r.stdout, what === 'inspect' ? '[]\n' : '', what);
  }
  t.false(existsSync(join(root, 'never')));
  // run is the one that says 125 when tsbox itself fails.
  t.is(tsbox(['run', '--rm', 'no-such-image-anywhere:1', 'true']).code, 125);
});
