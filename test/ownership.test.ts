// Ownership, as an app gets it from the packed tarball: the containers a Node process starts with run()
// and spawn() die and are removed when it ends, whichever way (normal end, process.exit, a throw, SIGINT,
// SIGTERM, SIGHUP, SIGKILL), and the process ends exactly as it does with child_process in their place.
import test from 'ava';
import { execFileSync, spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { installedPackage } from './helpers/package.js';
import { processesWith } from './helpers/leftovers.js';
import { importRootfs } from '../ts/images/archive.js';
import { removeContainerFiles } from '../ts/engine/run.js';
import { remove } from '../ts/runtime/operations.js';

const work = mkdtempSync(join(tmpdir(), 'tsbox-ownership-'));
// Engine root (images, records, run()'s state) and spawn()'s state root: private to this file.
const root = join(work, 'root');
const stateRoot = join(work, 'state');
let project = '';

// The app: starts containers (or, as the reference, child_process children) and then ends as asked.
const APP = `
import * as cp from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
const [impl, mode, root, tag] = process.argv.slice(2);
const detached = mode === 'detached';
// Ended by themselves in the normal case (the process lives as long as its children, as with child_process).
const secs = mode === 'normal' ? '1' : tag;
if (mode === 'listener') process.on('SIGINT', () => { console.log('app: SIGINT'); setTimeout(() => process.exit(5), 50); });
const info = { pids: [], engine: [], sandbox: [] };
if (mode === 'stopped') {
  // tsbox-init stopped before it could set its parent-death signal; the test kills us, then continues it.
  const { runContainer, sandboxSpec } = await import('tsbox');
  const { mkdtempSync, mkdirSync } = await import('node:fs');
  const layer = mkdtempSync('/dev/shm/tsbox-test-ownership-');
  for (const d of ['upper', 'work', 'root']) mkdirSync(join(layer, d));
  const spec = sandboxSpec({ args: ['sleep', tag], layerDir: layer, cwd: '/tmp' });
  const beforeStart = (pid) => {
    process.kill(pid, 'SIGSTOP');
    // Told once "go" is written (right after this returns).
    setTimeout(() => console.log(JSON.stringify({ pids: [pid], engine: [], sandbox: [{ id: 'stopped', layer }] })), 100);
  };
  await runContainer({ id: 'stopped-' + tag, spec, bundle: layer, root: process.env.TSBOX_STATE_ROOT, stdio: 'ignore', beforeStart });
} else if (mode === 'nopidns') {
  // No pid namespace: killing the first process (the reaper) leaves its children; the cgroup takes them.
  const { runContainer, sandboxSpec } = await import('tsbox');
  const { mkdtempSync, mkdirSync } = await import('node:fs');
  const layer = mkdtempSync('/dev/shm/tsbox-test-ownership-');
  for (const d of ['upper', 'work', 'root']) mkdirSync(join(layer, d));
  const spec = sandboxSpec({ args: ['sh', '-c', 'sleep ' + tag + ' & sleep ' + tag + '; true'], layerDir: layer, cwd: '/tmp' });
  spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'pid');
  const c = await runContainer({ spec, bundle: layer, root: process.env.TSBOX_STATE_ROOT, stdio: 'ignore' });
  info.pids.push(c.pid);
  info.sandbox.push({ id: c.id, layer });
} else if (impl === 'tsbox') {
  const { run, spawn } = await import('tsbox');
  const many = mode === 'race' ? 3 : mode === 'sequential' || mode === 'fds' ? 0 : 1;
  if (mode === 'race') console.log('go');
  const started = [];
  for (let i = 0; i < many; i++) {
    started.push(run({ root, image: 'busybox', cmd: ['sleep', secs], detached }).then((c) => (info.pids.push(c.pid), info.engine.push(c.id))));
    // Not root inside: the parent-death signal survives the change of credentials.
    started.push(run({ root, image: 'busybox', cmd: ['sleep', secs], user: '1000:1000', detached }).then((c) => (info.pids.push(c.pid), info.engine.push(c.id))));
    started.push(spawn('sleep', [secs], { cwd: '/tmp', stdio: 'ignore', detached }).then((c) => {
      const st = JSON.parse(readFileSync(join(process.env.TSBOX_STATE_ROOT, c.id, 'state.json'), 'utf8'));
      info.pids.push(c.pid);
      info.sandbox.push({ id: c.id, layer: st.bundle });
    }));
  }
  await Promise.all(started);
  if (mode === 'normal') {
    // Ended at once, its record kept (remove: false): still this process's, removed when it ends.
    const kept = await run({ root, image: 'busybox', cmd: ['true'], remove: false });
    await kept.exited;
    info.engine.push(kept.id);
  }
  if (mode === 'fds') {
    const text = async (c) => {
      let s = '';
      c.stdout.setEncoding('utf8').on('data', (d) => (s += d));
      await c.closed;
      return s;
    };
    // Each fd of the shell (the container's first process with run()) and what it is, listed by a child.
    const list = 'ls -l /proc/$$/fd; true';
    const a = await run({ root, image: 'busybox', cmd: ['sh', '-c', list] });
    a.stdin.end();
    const b = await spawn('sh', ['-c', list], { cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'] });
    console.log(JSON.stringify({ run: await text(a), spawn: await text(b) }));
    process.exit(0);
  }
  if (mode === 'sequential') {
    // One after the other in a long-lived process: nothing of ownership accumulates, and the signal
    // handlers are there only while something is owned.
    const during = [];
    // One that cannot start (no such image, never pulled): nothing of it stays owned either.
    const failed = await run({ root, image: 'tsbox-no-such-image', pull: 'never' }).then(() => 'started', (e) => e.code);
    for (let i = 0; i < 10; i++) {
      const a = await run({ root, image: 'busybox', cmd: ['true'] });
      const b = await spawn('true', [], { cwd: '/tmp', stdio: 'ignore' });
      during.push(process.listenerCount('SIGINT'));
      await Promise.all([a.exited, b.exited]);
    }
    await new Promise((r) => setTimeout(r, 50));
    const { readdirSync, existsSync } = await import('node:fs');
    const entries = [join(root, 'owned'), join(root, 'state', '.owned'), join(process.env.TSBOX_STATE_ROOT, '.owned')].flatMap((d) => (existsSync(d) ? readdirSync(d) : []));
    console.log(JSON.stringify({ failed, during, after: process.listenerCount('SIGINT'), entries }));
    process.exit(0);
  }
} else {
  for (let i = 0; i < 3; i++) info.pids.push(cp.spawn('sleep', [secs], { stdio: 'ignore', detached }).pid);
}
console.log(JSON.stringify(info));
if (mode === 'exit' || mode === 'detached') process.exit(3);
if (mode === 'throw') throw new Error('thrown by the app');
`;

interface Info {
  pids: number[];
  engine: string[];
  sandbox: { id: string; layer: string }[];
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  info?: Info;
}

// Apps still running when the file ends (a failed or timed-out test): killed in the teardown.
const apps = new Set<ChildProcess>();

let tags = 0;
/** A sleep duration no other process on the host has: the containers' processes are found by it. */
function newTag(): string {
  return String(900000 + process.pid * 10 + tags++);
}

/** Runs the app; once it printed what it started, act(info) (a signal, or nothing). */
function app(impl: 'tsbox' | 'child_process', mode: string, tag: string, act?: (info: Info, pid: number) => void, onGo?: (pid: number) => void): Promise<Ended> {
  const p = spawnChild(process.execPath, [join(work, 'app.mjs'), impl, mode, root, tag], { cwd: work, env: { ...installedPackage().env, TSBOX_STATE_ROOT: stateRoot }, stdio: ['ignore', 'pipe', 'pipe'] });
  apps.add(p);
  p.on('exit', () => apps.delete(p));
  let stdout = '';
  let stderr = '';
  let info: Info | undefined;
  let went = false;
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (onGo && !went && stdout.startsWith('go\n')) {
      went = true;
      onGo(p.pid!);
    }
    const line = stdout.split('\n').find((l) => l.startsWith('{'));
    if (line && !info && stdout.includes(`${line}\n`)) {
      info = JSON.parse(line) as Info;
      act?.(info, p.pid!);
    }
  });
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, info })));
}

function killAll(pids: number[] = []): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ended by itself
    }
  }
}

const cgroupDirs = (id: string) =>
  readdirSync('/sys/fs/cgroup')
    .flatMap((h) => [join('/sys/fs/cgroup', h, 'tsbox', id), join('/sys/fs/cgroup', h, id)])
    .concat([join('/sys/fs/cgroup/tsbox', id)])
    .filter((d) => existsSync(d));

/** What is left of the containers the app started: processes, cgroups, state, records, layers, index entries. */
function leftovers(info: Info, tag: string): string[] {
  const left: string[] = [];
  for (const pid of processesWith('sleep', tag)) left.push(`process ${pid}`);
  for (const id of info.engine) {
    left.push(...cgroupDirs(id).map((d) => `cgroup ${d}`));
    for (const p of [join(root, 'state', id), join(root, 'containers', id)]) if (existsSync(p)) left.push(p);
    for (const dir of [join(root, 'owned'), join(root, 'state', '.owned')]) for (const e of existsSync(dir) ? readdirSync(dir) : []) if (e.endsWith(id)) left.push(join(dir, e));
  }
  for (const { id, layer } of info.sandbox) {
    left.push(...cgroupDirs(id).map((d) => `cgroup ${d}`));
    for (const p of [join(stateRoot, id), layer]) if (existsSync(p)) left.push(p);
    const dir = join(stateRoot, '.owned');
    for (const e of existsSync(dir) ? readdirSync(dir) : []) if (e.endsWith(id)) left.push(join(dir, e));
  }
  return left;
}

async function settled<T>(check: () => T[], ms = 1000): Promise<T[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = check();
    if (!left.length || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test.before(async () => {
  project = installedPackage().project;
  mkdirSync(stateRoot);
  symlinkSync(join(project, 'node_modules'), join(work, 'node_modules'));
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'ownership-app', private: true, type: 'module' }));
  writeFileSync(join(work, 'app.mjs'), APP);
  const tarball = join(work, 'busybox.tar.gz');
  execFileSync('tar', ['-C', busyboxRootfs(), '-czf', tarball, '.']);
  await importRootfs(root, tarball, 'busybox');
});

test.after.always(() => {
  for (const p of apps) p.kill('SIGKILL');
  // Whatever a failed test left: every container of the private roots, then the roots.
  for (const id of existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : []) {
    try {
      removeContainerFiles(root, id);
    } catch {
      // already gone
    }
  }
  for (const id of readdirSync(stateRoot).filter((n) => !n.startsWith('.'))) {
    try {
      remove(stateRoot, id, true);
    } catch {
      // already gone
    }
  }
  for (const l of leftLayers) rmSync(l, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});
// The layers of this file's sandboxes, for the teardown after a failure.
const leftLayers = new Set<string>();

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

for (const mode of ['normal', 'exit', 'throw', ...SIGNALS]) {
  test.serial(`${mode}: nothing of the app's containers is left within a second, and it ends as with child_process`, async (t) => {
    const signal = (SIGNALS as readonly string[]).includes(mode) ? (mode as NodeJS.Signals) : undefined;
    const act = signal ? (_: Info, pid: number) => process.kill(pid, signal) : undefined;
    const tag = newTag();
    const ref = await app('child_process', mode, tag, act);
    killAll(ref.info?.pids); // children it left (as child_process does)
    const tagged = newTag();
    const r = await app('tsbox', mode, tagged, act);
    t.truthy(r.info, r.stderr);
    r.info?.sandbox.forEach((s) => leftLayers.add(s.layer));
    t.is(r.info?.pids.length, 3);
    if (mode === 'normal') t.is(r.info?.engine.length, 3, 'and one with remove: false, its record kept until the process ends');
    t.deepEqual(await settled(() => leftovers(r.info!, tagged)), []);
    t.deepEqual({ code: r.code, signal: r.signal }, { code: ref.code, signal: ref.signal }, r.stderr);
    if (mode === 'throw') t.regex(r.stderr, /thrown by the app/);
  });
}

test.serial('SIGKILL: the kernel kills the containers at once; the next start in a new process removes the rest', async (t) => {
  const tag = newTag();
  const ref = await app('child_process', 'wait', tag, (_, pid) => process.kill(pid, 'SIGKILL'));
  killAll(ref.info?.pids);
  const tagged = newTag();
  const r = await app('tsbox', 'wait', tagged, (_, pid) => process.kill(pid, 'SIGKILL'));
  t.truthy(r.info, r.stderr);
  r.info?.sandbox.forEach((s) => leftLayers.add(s.layer));
  t.deepEqual({ code: r.code, signal: r.signal }, { code: ref.code, signal: ref.signal });
  t.deepEqual({ code: r.code, signal: r.signal }, { code: null, signal: 'SIGKILL' });
  // No JavaScript ran: the parent-death signal did it.
  t.deepEqual(await settled(() => processesWith('sleep', tagged)), []);
  // State, cgroups, records and layers wait for the next start (leftovers() looks in every hierarchy,
  // cgroup2's too: on this hybrid host the containers' cgroups are v1 ones).
  const waiting = leftovers(r.info!, tagged);
  for (const kind of [/^cgroup \/sys\/fs\/cgroup\/(memory|pids)\//, new RegExp(`^${root}/state/`), new RegExp(`^${root}/containers/`), new RegExp(`^${stateRoot}/sandbox-`), /^\/dev\/shm\/tsbox-sandbox-api\./]) {
    t.true(waiting.some((l) => kind.test(l)), `${kind}`);
  }
  const next = await app('tsbox', 'exit', newTag());
  t.is(next.code, 3, next.stderr);
  t.deepEqual(leftovers(r.info!, tagged), []);
});

test.serial('the owner killed while its containers start: none of them survives it, and the next start reaps them', async (t) => {
  const tags: string[] = [];
  for (const delay of [0, 25, 50, 100, 150, 200, 250, 300, 350, 400, 500]) {
    const tag = newTag();
    tags.push(tag);
    const r = await app('tsbox', 'race', tag, undefined, (pid) => setTimeout(() => process.kill(pid, 'SIGKILL'), delay));
    t.is(r.signal, 'SIGKILL', `delay ${delay}: ${r.stderr}`);
  }
  for (const tag of tags) t.deepEqual(await settled(() => processesWith('sleep', tag)), [], `tag ${tag}`);
  const states = readdirSync(stateRoot).filter((n) => !n.startsWith('.'));
  t.log(`${states.length} sandbox states and ${readdirSync(join(root, 'containers')).length} engine records left by the killed owners`);
  const next = await app('tsbox', 'exit', newTag());
  t.is(next.code, 3, next.stderr);
  // The reaper found every state and record of the killed owners.
  const owned = [join(root, 'owned'), join(root, 'state', '.owned'), join(stateRoot, '.owned')].flatMap((d) => (existsSync(d) ? readdirSync(d) : []));
  t.deepEqual(owned, []);
  t.deepEqual(readdirSync(join(root, 'containers')), []);
  t.deepEqual(readdirSync(stateRoot).filter((n) => !n.startsWith('.')), []);
});

test.serial('an owner gone before the parent-death signal was set: tsbox-init sees its pipe hung up and exits', async (t) => {
  const tag = newTag();
  let stopped = 0;
  const r = await app('tsbox', 'stopped', tag, (info, pid) => {
    stopped = info.pids[0];
    info.sandbox.forEach((s) => leftLayers.add(s.layer));
    process.kill(pid, 'SIGKILL');
  });
  t.is(r.signal, 'SIGKILL', r.stderr);
  t.true(stopped > 0);
  // The owner is gone (reaped by us); tsbox-init goes on from where it was stopped.
  process.kill(stopped, 'SIGCONT');
  const alive = () => (existsSync(`/proc/${stopped}`) && !/State:\s+Z/.test(readFileSync(`/proc/${stopped}/status`, 'utf8')) ? [`tsbox-init ${stopped}`] : []);
  t.deepEqual(await settled(() => [...alive(), ...processesWith('sleep', tag).map((p) => `process ${p}`)]), []);
  const next = await app('tsbox', 'exit', newTag());
  t.is(next.code, 3, next.stderr);
  t.false(existsSync(join(stateRoot, `stopped-${tag}`)));
  for (const l of leftLayers) if (l.includes('tsbox-test-ownership-')) rmSync(l, { recursive: true, force: true });
});

for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
  test.serial(`no pid namespace, ${signal}: the first process's children are killed with the cgroup`, async (t) => {
    const tag = newTag();
    const r = await app('tsbox', 'nopidns', tag, (info, pid) => {
      info.sandbox.forEach((s) => leftLayers.add(s.layer));
      // Once the shell and both its sleeps run.
      const wait = () => (processesWith('sleep', tag).length >= 3 ? process.kill(pid, signal) : setTimeout(wait, 20));
      wait();
    });
    t.is(r.signal, signal, r.stderr);
    const info = r.info!;
    const ours = (): string[] => leftovers(info, tag).filter((l) => !l.includes('tsbox-test-ownership-'));
    if (signal === 'SIGKILL') {
      t.deepEqual(await settled(() => processesWith('tsbox-init').filter((p) => p === info.pids[0])), [], 'the first process died with its owner');
      // Its children, outside any pid namespace of their own, live on until the cgroup goes.
      t.true(processesWith('sleep', tag).length >= 2);
      const next = await app('tsbox', 'exit', newTag());
      t.is(next.code, 3, next.stderr);
    }
    t.deepEqual(await settled(ours), []);
  });
}

test.serial('sequential containers in one process: no ownership entry or signal handler outlives them', async (t) => {
  const r = await app('tsbox', 'sequential', newTag());
  t.is(r.code, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"failed"'));
  t.deepEqual(JSON.parse(line ?? '{}'), { failed: 'ERR_IMAGE_NOT_FOUND', during: Array(10).fill(1), after: 0, entries: [] });
});

test.serial('a reused pid is not taken for the owner: its start time differs', async (t) => {
  const tag = newTag();
  const r = await app('tsbox', 'wait', tag, (_, pid) => process.kill(pid, 'SIGKILL'));
  t.is(r.signal, 'SIGKILL');
  r.info?.sandbox.forEach((s) => leftLayers.add(s.layer));
  t.deepEqual(await settled(() => processesWith('sleep', tag)), []);
  // What the killed owner left, as if its pid now belonged to another live process (ours, started at
  // another time): first with our real start time (a live owner: kept), then with the one it had.
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const ourStart = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  const dead = r.info!.sandbox[0].layer.split('tsbox-sandbox-api.')[1].split('-').slice(0, 2).join('-');
  const layerOf = (layer: string, stamp: string) => layer.replace(`tsbox-sandbox-api.${dead}-`, `tsbox-sandbox-api.${stamp}-`);
  const relabel = (from: string, to: string) => {
    for (const dir of [join(root, 'owned'), join(root, 'state', '.owned'), join(stateRoot, '.owned')]) {
      for (const e of existsSync(dir) ? readdirSync(dir) : []) if (e.startsWith(`${from}-`)) renameSync(join(dir, e), join(dir, to + e.slice(from.length)));
    }
    for (const sr of [join(root, 'state'), stateRoot]) {
      for (const id of readdirSync(sr).filter((n) => !n.startsWith('.'))) {
        const f = join(sr, id, 'state.json');
        if (existsSync(f)) writeFileSync(f, readFileSync(f, 'utf8').replace(`"ownedBy":"${from}"`, `"ownedBy":"${to}"`));
      }
    }
    for (const { layer } of r.info!.sandbox) {
      renameSync(layerOf(layer, from), layerOf(layer, to));
      leftLayers.add(layerOf(layer, to));
    }
  };
  const live = `${process.pid}-${ourStart}`;
  relabel(dead, live);
  const next = await app('tsbox', 'exit', newTag());
  t.is(next.code, 3, next.stderr);
  t.true(r.info!.engine.every((id) => existsSync(join(root, 'containers', id))), 'a live owner\'s records stay');
  t.true(r.info!.sandbox.every(({ id, layer }) => existsSync(join(stateRoot, id)) && existsSync(layerOf(layer, live))));
  // The same pid with another start time: not that process, so the owner is gone.
  const reused = `${process.pid}-${Number(ourStart) + 1}`;
  relabel(live, reused);
  const again = await app('tsbox', 'exit', newTag());
  t.is(again.code, 3, again.stderr);
  t.deepEqual(leftovers(r.info!, tag).filter((l) => !l.includes('tsbox-sandbox-api')), []);
  t.false(existsSync(layerOf(r.info!.sandbox[0].layer, reused)));
});

test.serial('the container never gets the owner\'s pipe: it has only its stdio', async (t) => {
  const r = await app('tsbox', 'fds', newTag());
  t.is(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{"run"')) ?? '{}') as { run?: string; spawn?: string };
  // Beyond stdio, no pipe or socket (the owner's pipe is one): only what the shell opened itself.
  for (const [which, text] of Object.entries(got)) {
    const fds = text.trim().split('\n').filter((l) => l.includes(' -> ')).map((l) => l.split(' -> ')[0].split(' ').pop()! + ' ' + l.split(' -> ')[1]).map((l) => l.split(' '));
    t.deepEqual(fds.slice(0, 3).map(([fd]) => fd), ['0', '1', '2'], `${which}: ${text}`);
    t.deepEqual(fds.slice(3).filter(([, target]) => /^(pipe|socket):/.test(target)), [], `${which}: ${text}`);
  }
  t.is(Object.keys(got).length, 2);
});

test.serial('detached: true survives the owner, and is the caller\'s to stop', async (t) => {
  const tag = newTag();
  const r = await app('tsbox', 'detached', tag);
  t.is(r.code, 3, r.stderr);
  const info = r.info!;
  await new Promise((res) => setTimeout(res, 500));
  t.is(processesWith('sleep', tag).length, 3, 'all three still run');
  // Another process's first start does not take them for orphans.
  const next = await app('tsbox', 'exit', newTag());
  t.is(next.code, 3, next.stderr);
  t.is(processesWith('sleep', tag).length, 3);
  for (const id of info.engine) removeContainerFiles(root, id);
  for (const { id } of info.sandbox) remove(stateRoot, id, true);
  t.deepEqual(await settled(() => leftovers(info, tag)), [], 'a detached sandbox\'s layer goes with its deletion');
});

test.serial('an app with its own SIGINT listener decides: not killed by tsbox, its containers cleaned up when it exits', async (t) => {
  const act = (_: Info, pid: number) => process.kill(pid, 'SIGINT');
  const ref = await app('child_process', 'listener', newTag(), act);
  killAll(ref.info?.pids);
  const tag = newTag();
  const r = await app('tsbox', 'listener', tag, act);
  t.deepEqual({ code: r.code, signal: r.signal }, { code: 5, signal: null }, r.stderr);
  t.deepEqual({ code: r.code, signal: r.signal }, { code: ref.code, signal: ref.signal });
  t.regex(r.stdout, /app: SIGINT/);
  t.deepEqual(await settled(() => leftovers(r.info!, tag)), []);
});

test.serial('containers owned by a live process are not reaped by another process\'s start', async (t) => {
  const tag = newTag();
  let owner = 0;
  let ready!: (i: Info) => void;
  const started = new Promise<Info>((res) => (ready = res));
  const running = app('tsbox', 'wait', tag, (i, pid) => {
    owner = pid;
    ready(i);
  });
  const info = await started;
  const next = await app('tsbox', 'exit', newTag());
  t.is(next.code, 3, next.stderr);
  t.is(processesWith('sleep', tag).length, 3);
  for (const id of info.engine) t.true(existsSync(join(root, 'containers', id)));
  for (const { id, layer } of info.sandbox) t.true(existsSync(join(stateRoot, id)) && existsSync(layer));
  process.kill(owner, 'SIGTERM');
  const r = await running;
  t.is(r.signal, 'SIGTERM');
  t.deepEqual(await settled(() => leftovers(info, tag)), []);
});
