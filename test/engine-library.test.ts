// The engine as a library under the CLI: an embedder (a child Node process importing the built package
// entry, with a private root) lists, inspects, stops and removes containers the CLI made, the CLI sees and
// removes the ones the library made, images are pulled, listed, inspected and removed, and no CLI module
// is loaded meanwhile. Inspect's shapes are checked against docker's documented keys, and nothing outside
// ts/cli imports from it.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { busyboxRootfs } from './helpers/bundle.js';
import { startRegistry, Layout, push, type Registry } from './helpers/registry.js';
import { engineRoot } from './helpers/engine-root.js';
import { REPO } from './helpers/bins.js';
import { havePodman } from './helpers/podman-ref.js';
import { unmountBelow } from './helpers/leftovers.js';

const engine = engineRoot('tsbox-library-');
const { root, tsbox } = engine;
let reg: Registry;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Imports of ts/cli from outside it that are allowed: none (the layers import downward only).
const KNOWN_CLI_IMPORTS: { file: string; names: string[] }[] = [];

// ---------------------------------------------------------------------------------------------------
// The embedder: a child process that imports dist/index.js (what `import 'tsbox'` gives) and records
// every module Node loads, through a module hook.

const work = mkdtempSync(join(root, 'embedder-'));
writeFileSync(join(work, 'hooks.mjs'), "import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) {\n  if (url.startsWith('file:')) appendFileSync(process.env.EMBEDDER_MODULES, url + '\\n');\n  return next(url, context);\n}\n");
writeFileSync(join(work, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");

interface Embedded {
  result: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  modules: string[];
  stderr: string;
}

let runs = 0;
function embedder(body: string): Embedded {
  const n = ++runs;
  const file = join(work, `embedder-${n}.mjs`);
  const modules = join(work, `modules-${n}.txt`);
  writeFileSync(
    file,
    `import { Engine } from ${JSON.stringify(pathToFileURL(join(REPO, 'dist', 'index.js')).href)};\n` +
      `const engine = new Engine({ root: ${JSON.stringify(root)} });\n` +
      `const result = await (async () => {\n${body}\n})();\n` +
      // A container run from here is watched until it exits: the embedder leaves as the CLI does, with exit.
      `process.stdout.write(JSON.stringify(result ?? null), () => process.exit(0));\n`,
  );
  writeFileSync(modules, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(work, 'register.mjs')).href, file], { encoding: 'utf8', env: { ...process.env, EMBEDDER_MODULES: modules }, timeout: 120000 });
  if (r.status !== 0) throw new Error(`embedder exited ${r.status}: ${r.stderr}`);
  return { result: JSON.parse(r.stdout), modules: readFileSync(modules, 'utf8').split('\n').filter(Boolean), stderr: r.stderr };
}

/** The dist modules of ts/cli an embedder may load while KNOWN_CLI_IMPORTS is not empty: the modules those imports name. */
const ALLOWED_CLI_MODULES = new Set(KNOWN_CLI_IMPORTS.length ? [pathToFileURL(join(REPO, 'dist', 'cli', 'common.js')).href] : []);

function checkNoCli(t: import('ava').ExecutionContext, e: Embedded): void {
  const dist = pathToFileURL(join(REPO, 'dist')).href;
  t.true(e.modules.includes(`${dist}/engine/engine.js`), 'the module hook saw the engine load (the check can see what loads)');
  const cli = e.modules.filter((m) => m.startsWith(`${dist}/cli/`));
  t.deepEqual(cli.filter((m) => !ALLOWED_CLI_MODULES.has(m)), [], 'no CLI module is loaded by an embedder');
  t.is(e.stderr, '', 'the engine writes nothing to the embedder\'s stderr');
}

// ---------------------------------------------------------------------------------------------------
// docker's documented keys (Engine API v1.43: ContainerInspectResponse, ContainerSummary, ImageInspect,
// ImageSummary) with their JSON types; "a|b" allows either.

type Shape = { [k: string]: string | Shape };

const CONTAINER_INSPECT: Shape = {
  Id: 'string', Created: 'string', Path: 'string', Args: 'array', Image: 'string', ResolvConfPath: 'string', HostnamePath: 'string', HostsPath: 'string',
  LogPath: 'string', Name: 'string', RestartCount: 'number', Driver: 'string', Platform: 'string', MountLabel: 'string', ProcessLabel: 'string', AppArmorProfile: 'string',
  State: { Status: 'string', Running: 'boolean', Paused: 'boolean', Restarting: 'boolean', OOMKilled: 'boolean', Dead: 'boolean', Pid: 'number', ExitCode: 'number', Error: 'string', StartedAt: 'string', FinishedAt: 'string' },
  HostConfig: {
    Binds: 'array|null', NetworkMode: 'string', PortBindings: 'object', RestartPolicy: { Name: 'string', MaximumRetryCount: 'number' }, AutoRemove: 'boolean', CapAdd: 'array|null',
    CapDrop: 'array|null', Dns: 'array', DnsSearch: 'array', ExtraHosts: 'array|null', Privileged: 'boolean', PublishAllPorts: 'boolean', ReadonlyRootfs: 'boolean',
    SecurityOpt: 'array|null', Init: 'boolean|null', Memory: 'number', MemorySwap: 'number', NanoCpus: 'number', CpuShares: 'number', CpuPeriod: 'number', CpuQuota: 'number',
    CpusetCpus: 'string', PidsLimit: 'number|null', Ulimits: 'array|null', LogConfig: { Type: 'string', Config: 'object|null' },
  },
  GraphDriver: { Name: 'string', Data: 'object|null' },
  Mounts: 'array',
  Config: {
    Hostname: 'string', Domainname: 'string', User: 'string', AttachStdin: 'boolean', AttachStdout: 'boolean', AttachStderr: 'boolean', ExposedPorts: 'object', Tty: 'boolean',
    OpenStdin: 'boolean', StdinOnce: 'boolean', Env: 'array', Cmd: 'array|null', Image: 'string', Volumes: 'object|null', WorkingDir: 'string', Entrypoint: 'array|null', Labels: 'object',
  },
  NetworkSettings: { SandboxKey: 'string', Gateway: 'string', IPAddress: 'string', IPPrefixLen: 'number', MacAddress: 'string', Ports: 'object', Networks: 'object' },
};

const CONTAINER_SUMMARY: Shape = {
  Id: 'string', Names: 'array', Image: 'string', ImageID: 'string', Command: 'string', Created: 'number', State: 'string', Status: 'string', Ports: 'array', Labels: 'object',
  HostConfig: { NetworkMode: 'string' }, NetworkSettings: { Networks: 'object' }, Mounts: 'array',
};

const IMAGE_INSPECT: Shape = {
  Id: 'string', RepoTags: 'array', RepoDigests: 'array', Parent: 'string', Comment: 'string', Created: 'string', DockerVersion: 'string', Author: 'string', Config: 'object|null',
  Architecture: 'string', Os: 'string', Size: 'number', GraphDriver: { Name: 'string', Data: 'object|null' }, RootFS: { Type: 'string', Layers: 'array' }, Metadata: { LastTagTime: 'string' },
};

const IMAGE_SUMMARY: Shape = { Id: 'string', ParentId: 'string', RepoTags: 'array', RepoDigests: 'array', Created: 'number', Size: 'number', SharedSize: 'number', Labels: 'object', Containers: 'number' };

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every documented key present with a documented type: the list of what differs. */
function shapeErrors(value: unknown, shape: Shape, path = ''): string[] {
  if (typeOf(value) !== 'object') return [`${path || '.'}: ${typeOf(value)}, not an object`];
  const v = value as Record<string, unknown>;
  return Object.entries(shape).flatMap(([k, want]) => {
    const p = `${path}.${k}`;
    if (!(k in v)) return [`${p}: missing`];
    if (typeof want !== 'string') return shapeErrors(v[k], want, p);
    return want.split('|').includes(typeOf(v[k])) ? [] : [`${p}: ${typeOf(v[k])}, want ${want}`];
  });
}

// ---------------------------------------------------------------------------------------------------

/** Bytes docker counts for a layer directory: the regular-file entries of its tar (a hard link's entry has none). */
function tarFileBytes(dir: string): number {
  const listing = execFileSync('sh', ['-c', 'tar --numeric-owner -C "$1" -cf - . | tar -tvf -', 'sh', dir], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return listing.split('\n').filter((l) => l.startsWith('-')).reduce((n, l) => n + Number(l.split(/\s+/)[2]), 0);
}

let linked: string;

test.before(async () => {
  engine.importBusybox();
  reg = await startRegistry();
  // A layer with one file and three more hard links to it, and a symlink out of the layer to the host's root.
  linked = join(root, 'linked-layer');
  mkdirSync(join(linked, 'data'), { recursive: true });
  writeFileSync(join(linked, 'data', 'big'), Buffer.alloc(256 * 1024, 7));
  for (const n of ['a', 'b', 'c']) linkSync(join(linked, 'data', 'big'), join(linked, 'data', `link-${n}`));
  symlinkSync('/', join(linked, 'data', 'host-root'));
  symlinkSync('../../../../../../usr', join(linked, 'data', 'up'));
  const l = new Layout(join(root, 'layout'));
  l.image([busyboxRootfs()], { tag: 'latest' });
  l.image([busyboxRootfs(), linked], { tag: 'linked' });
  l.write();
  await push(join(root, 'layout'), 'latest', `${reg.addr}/lib/busybox:latest`);
  await push(join(root, 'layout'), 'linked', `${reg.addr}/lib/linked:1`);
});

test.after.always(async () => {
  await reg?.stop();
  engine.remove();
});

test.serial('an embedder lists, inspects, reads the logs of, stops and removes a container the CLI made; no CLI module loaded', async (t) => {
  const r = tsbox(['run', '-d', '--name', 'cli-made', '--memory', '64m', '-p', '127.0.0.1::80', '-e', 'FROM_CLI=1', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exec sleep 300']);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  t.teardown(() => tsbox(['rm', '-f', id]));
  await sleep(300);
  const seen = embedder(`
    const list = engine.containers.list();
    const inspect = engine.containers.inspect('cli-made');
    const logs = [];
    for await (const e of engine.containers.logs('cli-made', { timestamps: true })) logs.push(e);
    const top = engine.containers.top('cli-made');
    const stats = await engine.containers.stats('cli-made');
    const t0 = Date.now();
    await engine.containers.stop('cli-made', { timeout: 1 });
    const stopMs = Date.now() - t0;
    const waited = await engine.containers.wait('cli-made');
    const after = engine.containers.inspect('cli-made');
    const running = engine.containers.list().map((c) => c.Id);
    const all = engine.containers.list({ all: true, filters: { name: 'cli-made', status: 'exited' } }).map((c) => c.Id);
    return { list, inspect, logs, top, stats, stopMs, waited, after, running, all };
  `);
  checkNoCli(t, seen);
  const { list, inspect, logs, top, stats, stopMs, waited, after, running, all } = seen.result;
  const row = list.find((c: { Id: string }) => c.Id === id);
  t.truthy(row, 'the CLI-made container is in the list');
  t.deepEqual(shapeErrors(row, CONTAINER_SUMMARY), []);
  t.deepEqual(row.Names, ['/cli-made']);
  t.is(row.State, 'running');
  t.regex(row.Status, /^Up (Less than a second|\d+ seconds?)$/);
  t.deepEqual(shapeErrors(inspect, CONTAINER_INSPECT), []);
  t.like(inspect, { Id: id, Name: '/cli-made', Path: 'sh', State: { Status: 'running', Running: true, ExitCode: 0, FinishedAt: '0001-01-01T00:00:00Z' } });
  t.deepEqual(inspect.Args, ['-c', 'echo out; echo err >&2; exec sleep 300']);
  t.deepEqual(inspect.Config.Cmd, ['sh', '-c', 'echo out; echo err >&2; exec sleep 300']);
  t.is(inspect.Config.Image, 'busybox');
  t.true(inspect.Config.Env.includes('FROM_CLI=1'));
  t.is(inspect.HostConfig.Memory, 64 * 1024 * 1024);
  t.deepEqual(inspect.HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  t.deepEqual(inspect.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  t.regex(inspect.NetworkSettings.Ports['80/tcp'][0].HostPort, /^\d+$/);
  t.regex(inspect.NetworkSettings.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
  t.true(existsSync(inspect.LogPath));
  t.true(inspect.State.Pid > 0);
  // The CLI's own inspect prints the same object.
  const cli = JSON.parse(tsbox(['inspect', 'cli-made']).stdout)[0];
  t.deepEqual(Object.keys(cli), Object.keys(inspect));
  t.deepEqual(logs.map((e: { stream: string; text: string }) => [e.stream, e.text.replace(/^\S+ /, '')]).sort(), [['stderr', 'err\n'], ['stdout', 'out\n']]);
  t.regex(logs[0].text, /^\d{4}-\d\d-\d\dT\S+Z /);
  t.deepEqual(top.Titles.slice(0, 3), ['UID', 'PID', 'PPID']);
  t.deepEqual(top.Processes.map((p: string[]) => p.at(-1)), ['sleep 300']);
  t.is(stats.memory_stats.limit, 64 * 1024 * 1024);
  t.true(stats.pids_stats.current >= 1);
  t.true(stopMs >= 900, 'sleep as pid 1 ignores SIGTERM: the timeout was waited for');
  t.deepEqual(waited, { StatusCode: 137 });
  t.like(after.State, { Status: 'exited', Running: false, ExitCode: 137, Pid: 0 });
  t.notRegex(after.State.FinishedAt, /^0001/);
  t.false(running.includes(id));
  t.deepEqual(all, [id]);
  // Removal by the library: the CLI no longer knows it.
  const removed = embedder(`
    const gone = engine.containers.wait('cli-made', { condition: 'removed' });
    engine.containers.remove('cli-made');
    return { waited: await gone, ids: engine.containers.list({ all: true }).map((c) => c.Id) };
  `);
  checkNoCli(t, removed);
  t.deepEqual(removed.result.waited, { StatusCode: 137 });
  t.false(removed.result.ids.includes(id));
  t.is(tsbox(['inspect', id]).code, 1);
  t.false(existsSync(join(root, 'containers', id)));
});

test.serial('the CLI sees, renames and removes what the library made; library errors are docker\'s', async (t) => {
  const made = embedder(`
    const id = await engine.containers.run({ image: 'busybox', name: 'lib-made', cmd: ['sh', '-c', 'echo from-lib; exec sleep 300'], env: ['X=1'], restart: 'no' });
    let refused, killed, renamed, badName;
    try { engine.containers.remove('lib-made'); } catch (e) { refused = { name: e.name, code: e.code, message: e.message }; }
    try { engine.containers.kill('nosuch'); } catch (e) { killed = { name: e.name, code: e.code, message: e.message }; }
    try { engine.containers.rename('lib-made', '../escape'); } catch (e) { badName = e.message; }
    engine.containers.rename('lib-made', 'lib-renamed');
    const next = engine.containers.wait('lib-renamed', { condition: 'next-exit' });
    engine.containers.kill('lib-renamed', 'SIGKILL');
    const waited = await next;
    await engine.containers.start('lib-renamed');
    const restarted = engine.containers.inspect('lib-renamed').State;
    return { id, refused, killed, badName, waited, restarted };
  `);
  checkNoCli(t, made);
  const { id, refused, killed, badName, waited, restarted } = made.result;
  t.teardown(() => tsbox(['rm', '-f', id]));
  t.regex(id, /^[a-f0-9]{64}$/);
  t.deepEqual(refused, { name: 'EngineError', code: 'ERR_CONFLICT', message: `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove` });
  t.deepEqual(killed, { name: 'EngineError', code: 'ERR_NO_SUCH_CONTAINER', message: 'Cannot kill container: nosuch: No such container: nosuch' });
  t.regex(badName, /Invalid container name/);
  t.deepEqual(waited, { StatusCode: 137 });
  t.true(restarted.Running);
  t.regex(tsbox(['ps']).stdout, new RegExp(`${id.slice(0, 12)}\\s+busybox.*Up [^\\n]*lib-renamed\\n`));
  t.is(tsbox(['logs', 'lib-renamed']).stdout, 'from-lib\nfrom-lib\n');
  const info = JSON.parse(tsbox(['inspect', 'lib-renamed']).stdout)[0];
  t.is(info.Name, '/lib-renamed');
  t.true(info.Config.Env.includes('X=1'));
  t.is(tsbox(['inspect', 'lib-made']).code, 1, 'the old name is free');
  // ps's filters and -n are the library's.
  t.is(tsbox(['ps', '-q', '--filter', 'name=lib-ren', '--filter', 'status=running']).stdout, `${id.slice(0, 12)}\n`);
  t.is(tsbox(['ps', '-q', '-f', 'name=^/lib-made$']).stdout, '');
  t.is(tsbox(['ps', '-q', '-n', '1']).stdout, `${id.slice(0, 12)}\n`);
  t.is(tsbox(['ps', '-q', '--filter', 'status=exited', '--filter', `id=${id.slice(0, 8)}`]).stdout, '');
  const bad = tsbox(['ps', '--filter', 'bogus=1']);
  t.is(bad.code, 1);
  t.is(bad.stderr, "Error response from daemon: Invalid filter 'bogus'\n");
  let r = tsbox(['rename', 'lib-renamed', 'again']);
  t.is(r.code, 0, r.stderr);
  r = tsbox(['rm', '-f', 'again']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'again\n');
  t.deepEqual(embedder(`return engine.containers.list({ all: true }).map((c) => c.Id);`).result.includes(id), false);
});

test.serial('images: the library pulls, lists, inspects, tags and removes; hard links counted once, symlinks never followed', (t) => {
  const e = embedder(`
    const pulled = await engine.images.pull(${JSON.stringify(`${reg.addr}/lib/busybox:latest`)});
    const linked = await engine.images.pull(${JSON.stringify(`${reg.addr}/lib/linked:1`)});
    engine.images.tag(pulled.id, 'mine:v1');
    const list = engine.images.list();
    const filtered = engine.images.list({ filters: { reference: 'mine:*' } }).map((i) => i.RepoTags);
    const inspect = engine.images.inspect('mine:v1');
    const linkedInspect = engine.images.inspect(linked.id);
    const history = engine.images.history(linked.id);
    let missing;
    try { engine.images.inspect('no-such-image:1'); } catch (e) { missing = { name: e.name, code: e.code, message: e.message }; }
    return { pulled, linked, list, filtered, inspect, linkedInspect, history, missing };
  `);
  checkNoCli(t, e);
  const { pulled, linked: lk, list, filtered, inspect, linkedInspect, history, missing } = e.result;
  t.is(pulled.name, `${reg.addr}/lib/busybox:latest`);
  t.regex(pulled.id, /^sha256:[a-f0-9]{64}$/);
  t.regex(pulled.digest, /^sha256:[a-f0-9]{64}$/);
  for (const i of list) t.deepEqual(shapeErrors(i, IMAGE_SUMMARY), [], i.Id);
  const entry = list.find((i: { Id: string }) => i.Id === pulled.id);
  // One entry per image id, with every name it has: the pull's and the tag, and the CLI's import (same layers, other config) apart.
  t.deepEqual(entry.RepoTags.sort(), [`${reg.addr}/lib/busybox:latest`, 'docker.io/library/mine:v1'].sort());
  t.true(entry.RepoDigests.includes(`${reg.addr}/lib/busybox@${pulled.digest}`));
  // docker's reference filter keeps the matching names only.
  t.deepEqual(filtered, [['docker.io/library/mine:v1']]);
  t.deepEqual(shapeErrors(inspect, IMAGE_INSPECT), []);
  t.like(inspect, { Id: pulled.id, Architecture: 'amd64', Os: 'linux', RootFS: { Type: 'layers' } });
  t.deepEqual(inspect.Config.Cmd, ['sh']);
  // Sizes as docker counts them: the layers' tar file entries (a hard link adds nothing), compared with GNU tar's
  // own listing. The linked layer's symlinks point at the host's / and out of the layer: a walk that followed
  // them would count the host's files.
  const base = tarFileBytes(busyboxRootfs());
  t.is(inspect.Size, base);
  t.is(linkedInspect.Size, base + tarFileBytes(linked));
  t.is(tarFileBytes(linked), 256 * 1024, 'the reference counts the linked file once');
  t.is(history.length, 2);
  t.deepEqual(missing, { name: 'EngineError', code: 'ERR_NO_SUCH_IMAGE', message: 'No such image: no-such-image:1' });
  // The CLI shows what the library pulled and tagged, with the same sizes.
  const rows = tsbox(['images', '--format', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.true(rows.some((r) => r.Repository === 'mine' && r.Tag === 'v1' && r.ID === pulled.id.slice(7, 19)));
  // A container the CLI runs from the library's image blocks its removal.
  const c = tsbox(['run', '-d', 'mine:v1', 'sleep', '300']);
  t.is(c.code, 0, c.stderr);
  t.teardown(() => tsbox(['rm', '-f', c.stdout.trim()]));
  const refused = embedder(`try { engine.images.remove(${JSON.stringify(pulled.id)}, { force: true }); } catch (e) { return e.code + ' ' + e.message; }`);
  checkNoCli(t, refused);
  t.regex(refused.result, /^ERR_CONFLICT conflict: unable to delete [a-f0-9]{12} \(cannot be forced\) - image is being used by running container [a-f0-9]{12}$/);
  t.is(tsbox(['rm', '-f', c.stdout.trim()]).code, 0);
  const rm = embedder(`
    const untag = engine.images.remove('mine:v1');
    const all = engine.images.remove(${JSON.stringify(`${reg.addr}/lib/busybox:latest`)});
    const gone = engine.images.remove(${JSON.stringify(lk.id)});
    return { untag, all, gone, left: engine.images.list().flatMap((i) => i.RepoTags) };
  `);
  checkNoCli(t, rm);
  t.deepEqual(rm.result.untag, [{ Untagged: 'docker.io/library/mine:v1' }]);
  t.deepEqual(rm.result.all[0], { Untagged: `${reg.addr}/lib/busybox:latest` });
  // docker's order: the names, the image, then its layers.
  t.deepEqual(rm.result.all[1], { Deleted: pulled.id });
  t.deepEqual(rm.result.gone.find((x: object) => 'Deleted' in x), { Deleted: lk.id });
  t.deepEqual(rm.result.left, ['docker.io/library/busybox:latest']);
  t.notRegex(tsbox(['images']).stdout, /mine|lib\//);
});

// ---------------------------------------------------------------------------------------------------
// The reference: podman's docker-compatible API (podman system service, runc) answers docker's inspect for
// a container and an image; every key it gives, tsbox gives too, with the same JSON type.

function getJson(socket: string, path: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((res, rej) => {
    const req = request({ socketPath: socket, path, headers: { Host: 'd' } }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => (r.statusCode === 200 ? res(JSON.parse(body)) : rej(new Error(`GET ${path}: ${r.statusCode} ${body}`))));
    });
    req.on('error', rej);
    req.end();
  });
}

/** Keys the reference has and tsbox lacks, and keys whose JSON types differ (null goes with anything). */
function keyDiff(ours: Record<string, unknown>, ref: Record<string, unknown>, path: string, except: string[]): string[] {
  return Object.keys(ref).flatMap((k) => {
    const p = `${path}.${k}`;
    if (except.includes(p)) return [];
    if (!(k in ours)) return [`${p}: missing`];
    const [a, b] = [typeOf(ours[k]), typeOf(ref[k])];
    return a !== b && a !== 'null' && b !== 'null' ? [`${p}: ${a}, the reference has ${b}`] : [];
  });
}

// docker omits these when empty (omitempty), or only with ?size=1: podman fills them in regardless.
const REF_EXCEPT = ['.SizeRootFs', '.State.Health', '.Config.StopSignal', '.Config.StopTimeout'];

test.serial('inspect has every key docker\'s API has, with its type: compared with podman\'s docker-compatible API (runc)', async (t) => {
  if (!havePodman()) return t.fail('podman, conmon and runc are needed for the reference');
  const dir = mkdtempSync(join(root, 'podman-'));
  for (const d of ['root', 'runroot', 'tmp']) mkdirSync(join(dir, d));
  const base = ['--runtime', 'runc', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const env = { ...process.env, TMPDIR: join(dir, 'tmp') };
  const podman = (args: string[]) => execFileSync('podman', [...base, ...args], { env, encoding: 'utf8' });
  const socket = join(dir, 'api.sock');
  const service = spawn('podman', [...base, 'system', 'service', '--time=0', `unix://${socket}`], { env, stdio: 'ignore' });
  t.teardown(async () => {
    service.kill('SIGTERM');
    await new Promise((r) => (service.exitCode !== null ? r(null) : service.on('exit', r)));
    unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
  execFileSync('tar', ['-C', busyboxRootfs(), '-cf', join(dir, 'rootfs.tar'), '.']);
  podman(['import', '--quiet', join(dir, 'rootfs.tar'), 'localhost/refbox:1']);
  podman(['create', '--network', 'none', '--name', 'ref', '--memory', '64m', '-e', 'A=1', 'localhost/refbox:1', 'sh', '-c', 'sleep 1']);
  const ref = await getJson(socket, '/v1.41/containers/ref/json');
  const refImage = await getJson(socket, '/v1.41/images/localhost/refbox:1/json');
  t.is(ref.Name, '/ref', 'the reference answered');
  const run = tsbox(['run', '-d', '--name', 'shape', '--memory', '64m', '-e', 'A=1', 'busybox', 'sh', '-c', 'exec sleep 300']);
  t.is(run.code, 0, run.stderr);
  t.teardown(() => tsbox(['rm', '-f', 'shape']));
  const ours = JSON.parse(tsbox(['inspect', 'shape']).stdout)[0];
  const diffs = [
    ...keyDiff(ours, ref, '', REF_EXCEPT),
    ...['State', 'Config', 'HostConfig', 'NetworkSettings', 'GraphDriver'].flatMap((k) => keyDiff(ours[k], ref[k], `.${k}`, REF_EXCEPT)),
  ];
  t.deepEqual(diffs, [], 'container inspect');
  t.deepEqual(shapeErrors(ref, CONTAINER_INSPECT).filter((e) => !REF_EXCEPT.some((x) => e.startsWith(x))).filter((e) => !/^\.Config\.ExposedPorts|^\.HostConfig\.Init/.test(e)), [], 'the documented list holds for the reference too (ExposedPorts and Init are omitempty in docker)');
  const ourImage = JSON.parse(tsbox(['image', 'inspect', 'busybox']).stdout)[0];
  t.deepEqual([...keyDiff(ourImage, refImage, '', []), ...keyDiff(ourImage.RootFS, refImage.RootFS, '.RootFS', [])], [], 'image inspect');
  t.deepEqual(shapeErrors(refImage, IMAGE_INSPECT), [], 'the documented image list holds for the reference');
});

// ---------------------------------------------------------------------------------------------------
// The dependency direction: nothing outside ts/cli imports from it (static and dynamic imports, re-exports).

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const IMPORT = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

function cliImports(): { file: string; spec: string; names: string[] }[] {
  const ts = join(REPO, 'ts');
  const out: { file: string; spec: string; names: string[] }[] = [];
  for (const f of tsFiles(ts)) {
    const rel = relative(REPO, f);
    if (rel.startsWith('ts/cli/')) continue;
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(IMPORT)) {
      const spec = m[2] ?? m[3] ?? m[4];
      if (!spec.startsWith('.')) continue;
      const target = relative(ts, resolve(dirname(f), spec));
      if (!target.startsWith(`cli/`) && target !== 'cli') continue;
      const names = /\{([^}]*)\}/.exec(m[1] ?? '')?.[1].split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]).filter(Boolean) ?? ['*'];
      out.push({ file: rel, spec, names });
    }
  }
  return out;
}

test('nothing outside ts/cli imports from ts/cli, but for the known imports listed (printed here)', (t) => {
  const found = cliImports();
  t.log(`imports into ts/cli from outside it (allowed):\n${KNOWN_CLI_IMPORTS.map((k) => `  ${k.file}: ${k.names.join(', ')}`).join('\n') || '  (none)'}`);
  const unknown = found.filter((f) => !f.names.every((n) => KNOWN_CLI_IMPORTS.some((k) => k.file === f.file && k.names.includes(n))));
  t.deepEqual(unknown, [], 'imports from ts/cli outside it');
  const stale = KNOWN_CLI_IMPORTS.filter((k) => !found.some((f) => f.file === k.file));
  t.deepEqual(stale, [], 'listed as known but no longer there: remove them from KNOWN_CLI_IMPORTS');
  // The scan finds what it should: a dynamic import and a re-export are imports too.
  const probe = join(REPO, 'ts', 'engine', `.probe-${process.pid}.ts`);
  writeFileSync(probe, "export { args } from '../cli/common.js';\nconst m = () => import('../cli/main.js');\n");
  try {
    const names = cliImports().filter((f) => f.file === relative(REPO, probe)).map((f) => f.spec);
    t.deepEqual(names, ['../cli/common.js', '../cli/main.js']);
  } finally {
    rmSync(probe, { force: true });
  }
});
