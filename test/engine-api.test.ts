// The engine as a library: run an image with streams, and spawn a sandboxed command.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { collect } from './helpers/run.js';
import { run, spawn } from '../ts/engine/api.js';
import { importRootfs } from '../ts/images/archive.js';
import { remove } from '../ts/runtime/operations.js';
import { defaultStateRoot, readState } from '../ts/runtime/state.js';

const root = mkdtempSync(join(tmpdir(), 'tsbox-engine-api-'));

test.before(async () => {
  const tarball = join(root, 'busybox.tar.gz');
  execFileSync('tar', ['-C', busyboxRootfs(), '-czf', tarball, '.']);
  await importRootfs(root, tarball, 'busybox');
});

test.after.always(() => rmSync(root, { recursive: true, force: true }));

test('run({ image, cmd, env, limits }) streams stdio, resolves the exit status and removes the container', async (t) => {
  const c = await run({ root, image: 'busybox', cmd: ['sh', '-c', 'read x; echo "$GREETING $x"; cat /sys/fs/cgroup/pids/pids.max; exit 3'], env: { GREETING: 'hello' }, limits: { pids: 30 } });
  c.stdin!.end('world\n');
  const r = await collect(c);
  t.is(r.stdout, 'hello world\n30\n', r.stderr);
  t.is(r.code, 3);
  // Other tests of this file run their containers under the same root meanwhile: this one's own directory.
  t.false(existsSync(join(root, 'containers', c.id)));
});

test('run(): the process can open /dev/stdin, /dev/stdout and /dev/stderr, as under docker (pipes, not this process\'s sockets)', async (t) => {
  // Images log to /dev/stdout (nginx's access.log is a link to it); a socket there cannot be opened (ENXIO).
  const c = await run({ root, image: 'busybox', cmd: ['sh', '-c', 'cat /dev/stdin; echo out > /dev/stdout; echo err > /dev/stderr'], input: 'in\n' });
  const r = await collect(c);
  t.is(r.stdout, 'in\nout\n', r.stderr);
  t.is(r.stderr, 'err\n');
  const e = await collect(await spawn('sh', ['-c', 'cat /dev/stdin; echo out > /dev/stdout'], { cwd: '/tmp', input: 'in\n' }));
  t.is(e.stdout, 'in\nout\n', e.stderr);
});

test('run: exec and stats on a running container', async (t) => {
  const c = await run({ root, image: 'busybox', cmd: ['sleep', '30'] });
  t.teardown(() => c.kill('SIGKILL'));
  const e = await collect(await c.exec(['echo', 'inside']));
  t.is(e.stdout, 'inside\n');
  t.true(c.stats().pids.current >= 1);
  c.kill('SIGKILL');
  t.like(await c.exited, { signal: 'SIGKILL' });
});

test('spawn(): a sandboxed child_process.spawn over the host filesystem', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'tsbox-spawn-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const marker = `/etc/tsbox-spawn-${process.pid}`;
  const c = await spawn('sh', ['-c', `hostname; touch ${marker} && echo wrote; echo data > out`], { cwd });
  const r = await collect(c);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'sandbox\nwrote\n');
  t.false(existsSync(marker));
  t.true(existsSync(join(cwd, 'out')));
});

test('containers the API started are cleaned up when the process exits', async (t) => {
  const script = `
    import { spawn } from ${JSON.stringify(join(import.meta.dirname, '..', 'ts', 'engine', 'api.ts'))};
    const c = await spawn('sleep', ['30'], { cwd: '/tmp' });
    console.log(c.pid);
    process.exit(0);
  `;
  const out = execFileSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  const pid = Number(out.trim());
  t.true(pid > 0);
  await new Promise((r) => setTimeout(r, 100));
  t.false(existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), 'the container process is gone');
});

test('a worker thread terminated while its containers run: no crash, they are killed, the process goes on', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-worker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Plain Node, as the package ships (dist/): workers do not get this suite's TypeScript loader.
  const api = JSON.stringify(join(import.meta.dirname, '..', 'dist', 'engine', 'api.js'));
  const worker = join(dir, 'worker.mjs');
  writeFileSync(worker, `
    import { parentPort } from 'node:worker_threads';
    const { spawn } = await import(${api});
    const c = await spawn('sleep', ['30'], { cwd: '/tmp' });
    parentPort.postMessage({ pid: c.pid, id: c.id });`);
  writeFileSync(join(dir, 'main.mjs'), `
    import { Worker } from 'node:worker_threads';
    const started = [];
    for (let i = 0; i < 3; i++) {
      const w = new Worker(${JSON.stringify(worker)});
      started.push(await new Promise((res, rej) => (w.once('message', res), w.once('error', rej))));
      await w.terminate();
    }
    // The addon (and its waiter and spawner threads) stays loaded and serves this thread as before.
    const { spawn } = await import(${api});
    const c = await spawn('true', [], { cwd: '/tmp' });
    console.log(JSON.stringify({ started, main: await c.exited }));`);
  const p = spawnSync(process.execPath, [join(dir, 'main.mjs')], { encoding: 'utf8' });
  const out = p.status === 0 ? (JSON.parse(p.stdout) as { started: { pid: number; id: string }[]; main: unknown }) : undefined;
  // What a terminated worker cannot clean up in JS: the stopped containers' state, cgroups and layers.
  for (const { id } of out?.started ?? []) {
    rmSync(readState(defaultStateRoot(), id).bundle, { recursive: true, force: true });
    remove(defaultStateRoot(), id, true);
  }
  t.is(p.status, 0, `${p.signal ?? ''} ${p.stderr}`);
  // No "closed but not opened in unmanaged mode" warning: the addon closes the fds it made.
  t.is(p.stderr, '');
  t.deepEqual(out?.main, { code: 0, signal: null });
  for (const { pid } of out?.started ?? []) t.false(existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), `sleep ${pid} was killed`);
});
