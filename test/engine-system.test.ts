// The Engine's exec, image save/load/import/prune and system part, as a library uses them: typed options
// in, no argv, no CLI module; streams as well as paths. The CLI's own output for the same commands is
// checked in engine.test.ts, image.test.ts, cli-ux.test.ts and docker-parity.test.ts.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Engine } from '../ts/engine/engine.js';
import { EngineError } from '../ts/engine/containers.js';
import { CommandNotFoundError } from '../ts/errors.js';
import type { ContainerProcess } from '../ts/runtime/api.js';
import { busyboxRootfs } from './helpers/bundle.js';
import { engineRoot, type EngineRoot } from './helpers/engine-root.js';

let cli: EngineRoot;
let engine: Engine;
let running: string;
const other = mkdtempSync(join(tmpdir(), 'tsbox-engsys-other-'));

test.before(async () => {
  cli = engineRoot('tsbox-engsys-');
  cli.importBusybox();
  engine = new Engine({ root: cli.root });
  running = await engine.containers.run({ image: 'busybox', cmd: ['sleep', '300'], network: 'none', name: 'engsys-run' });
});

test.after.always(() => {
  cli?.remove();
  for (const id of new Engine({ root: other }).containers.list({ all: true })) new Engine({ root: other }).containers.remove(id.Id, { force: true });
  rmSync(other, { recursive: true, force: true });
});

const text = async (s: NodeJS.ReadableStream | null) => {
  let out = '';
  if (s) for await (const c of s) out += c.toString();
  return out;
};

async function outputOf(p: ContainerProcess) {
  const [stdout, stderr, st] = await Promise.all([text(p.stdout), text(p.stderr), p.exitStatus]);
  return { stdout, stderr, code: st.code };
}

test.serial('exec: pipes by default, the exit code, env, workdir and user resolved in the container', async (t) => {
  const p = await engine.containers.exec('engsys-run', { cmd: ['sh', '-c', 'echo out; echo err >&2; exit 4'] });
  t.is(p.stdin, null, 'no stdin without asking (docker exec without -i)');
  t.deepEqual(await outputOf(p), { stdout: 'out\n', stderr: 'err\n', code: 4 });
  const q = await engine.containers.exec(running, { cmd: ['sh', '-c', 'echo "$(id -u):$(id -g) $(pwd) $X"'], env: ['X=from-exec'], workdir: '/tmp', user: 'nobody' });
  t.deepEqual(await outputOf(q), { stdout: '65534:65534 /tmp from-exec\n', stderr: '', code: 0 });
  // stdin as a pipe: what the caller writes reaches the process.
  const r = await engine.containers.exec(running, { cmd: ['cat'], stdio: 'pipe' });
  r.stdin!.end('piped\n');
  t.is((await outputOf(r)).stdout, 'piped\n');
});

test.serial('exec -t: a pty of its own; a missing command is CommandNotFoundError (127); a stopped container is refused', async (t) => {
  const p = await engine.containers.exec(running, { cmd: ['sh', '-c', 'tty; [ -t 0 ] && echo term'], tty: true, stdio: 'ignore' });
  t.truthy(p.pty);
  // The pty's end is EIO (Pty turns it into the stream's end): read by events, not async iteration.
  let out = '';
  p.pty!.output.on('data', (c: Buffer) => (out += c.toString()));
  const [, st] = await Promise.all([new Promise((r) => p.pty!.output.once('close', r)), p.exitStatus]);
  t.regex(out, /^\/dev\/pts\/\d+\r\nterm\r\n$/);
  t.is(st.code, 0);
  const e = await t.throwsAsync(engine.containers.exec(running, { cmd: ['/no/such/command'] }));
  t.true(e instanceof CommandNotFoundError, String(e));
  t.is((e as CommandNotFoundError).exitCode, 127);
  const stopped = await engine.containers.create({ image: 'busybox', cmd: ['true'], network: 'none' });
  const s = await t.throwsAsync(engine.containers.exec(stopped, { cmd: ['true'] }));
  t.true(s instanceof EngineError);
  t.regex(s!.message, /is not running/);
  const n = await t.throwsAsync(engine.containers.exec('engsys-nosuch', { cmd: ['true'] }));
  t.is((n as EngineError).code, 'ERR_NO_SUCH_CONTAINER');
  engine.containers.remove(stopped);
});

test.serial('images: save to a stream, load from one into another root; import from a stream with changes', async (t) => {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await engine.images.save('busybox', out);
  const tar = Buffer.concat(chunks);
  t.is(tar.subarray(257, 262).toString(), 'ustar');
  const elsewhere = new Engine({ root: other });
  const loaded = await elsewhere.images.load(Readable.from([tar]));
  t.deepEqual(loaded.map((l) => l.name), ['docker.io/library/busybox:latest']);
  t.is(loaded[0].id, engine.images.inspect('busybox').Id, 'the same image id on both sides');
  const rootfs = execFileSync('tar', ['-C', busyboxRootfs(), '-cz', '.'], { maxBuffer: 64 << 20 });
  const imp = await elsewhere.images.import(Readable.from([rootfs]), { name: 'localhost/engsys:1', changes: ['ENV A=b', 'CMD ["sh"]', 'WORKDIR /tmp'] });
  const cfg = elsewhere.images.inspect(imp.id).Config!;
  t.true(cfg.Env!.includes('A=b'));
  t.deepEqual(cfg.Cmd, ['sh']);
  t.is(cfg.WorkingDir, '/tmp');
  // A stream that is not an archive: a one-line error, nothing kept.
  await t.throwsAsync(elsewhere.images.load(Readable.from([Buffer.from('not a tar')])));
  t.is(elsewhere.images.list().length, 2);
});

test.serial('images.prune: only unreferenced blobs by default; with all, every image no container uses', async (t) => {
  const e = new Engine({ root: other });
  // Loaded in the test above (serial order is not needed: both make sure of their own image).
  if (!e.images.list().some((i) => i.RepoTags.includes('localhost/engsys:1'))) {
    const rootfs = execFileSync('tar', ['-C', busyboxRootfs(), '-cz', '.'], { maxBuffer: 64 << 20 });
    await e.images.import(Readable.from([rootfs]), { name: 'localhost/engsys:1' });
  }
  e.images.tag('localhost/engsys:1', 'localhost/engsys:used');
  const keep = await e.containers.create({ image: 'localhost/engsys:used', cmd: ['true'], network: 'none' });
  const before = e.images.list().length;
  t.deepEqual(e.images.prune().ImagesDeleted, []);
  t.is(e.images.list().length, before);
  const r = e.images.prune({ all: true, filters: { label: ['no-such-label'] } });
  t.deepEqual(r.ImagesDeleted, [], 'the label filter excludes every image');
  t.throws(() => e.images.prune({ all: true, filters: { bogus: ['1'] } as never }), { message: /invalid filter 'bogus'/ });
  const all = e.images.prune({ all: true });
  const left = e.images.list().flatMap((i) => i.RepoTags);
  t.true(left.includes('localhost/engsys:used'), 'the image a container uses stays');
  t.false(left.includes('docker.io/library/busybox:latest'));
  t.true(all.ImagesDeleted.some((d) => 'Untagged' in d && d.Untagged === 'docker.io/library/busybox:latest'));
  e.containers.remove(keep);
});

test.serial('system: info has docker\'s counts, version its Client and Server, df its three rows; prune removes stopped containers', async (t) => {
  const stopped = await engine.containers.create({ image: 'busybox', cmd: ['true'], network: 'none' });
  const info = engine.system.info();
  t.true(info.Containers >= 2);
  t.true(info.ContainersRunning >= 1);
  t.is(info.Images, 1);
  t.is(info.DockerRootDir, cli.root);
  t.is(info.Driver, info.StorageDriver);
  const v = engine.system.version('9.9.9');
  t.is(v.Client.Version, '9.9.9');
  t.is(v.Server.Components[0].Name, 'Engine');
  const df = engine.system.df();
  t.is(df.Images.Total, 1);
  t.is(df.Images.Active, 1);
  t.true(df.Images.Size > 1_000_000);
  t.true(df.Containers.Total >= 2);
  const pruned = engine.system.prune();
  t.true(pruned.ContainersDeleted.includes(stopped));
  t.false(pruned.ContainersDeleted.includes(running), 'a running container stays');
  t.is(engine.containers.inspect(running).State.Running, true);
});
