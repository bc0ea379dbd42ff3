// The Docker Engine API server (tsbox system service) driven by real clients: the docker CLI, dockerode
// and testcontainers, against a server this file starts on a private socket with a private root.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { startRegistry, pushBusybox, rawTar, type Registry } from './helpers/registry.js';
import { CLI } from './helpers/bins.js';
import { engineRoot } from './helpers/engine-root.js';
import { outputOf } from './helpers/cli.js';
import { DOCKER, haveDockerd, startDockerd } from './helpers/dockerd.js';
import { demux, startApiServer, type ApiServer } from './helpers/api-server.js';

const engine = engineRoot('tsbox-apisrv-');
const { root } = engine;
let server: ApiServer;
let sock: string;
let docker: Docker;
let reg: Registry;
let remote: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The docker CLI (Debian's docker.io 20.10) pointed at our socket (DOCKER_HOST, set once the server is up). */
const dockerCli = (argv: string[], input?: string) => outputOf(DOCKER, argv, { tmp: root, input, timeout: 60_000 });
const raw = (method: string, path: string, body?: string | Buffer, headers?: Record<string, string>) => server.raw(method, path, body, headers);
const serverFds = () => server.fds();
/** Idle keep-alive connections close after 5 s: the fds are counted once they had the time to. */
async function settledFds(before: number): Promise<void> {
  for (let i = 0; i < 80 && serverFds() > before + 2; i++) await sleep(100);
}

test.before(async () => {
  engine.importBusybox();
  reg = await startRegistry();
  remote = `${reg.addr}/remote/busybox`;
  await pushBusybox(join(root, 'layout'), `${remote}:latest`);
  server = await startApiServer(root);
  sock = server.sock;
  docker = new Docker({ socketPath: sock });
  process.env.DOCKER_HOST = `unix://${sock}`;
});

test.after.always(async () => {
  await server?.stop();
  await reg?.stop();
  engine.remove();
});

test.serial('ping (GET and HEAD, Api-Version), version, info; versioned and bare paths; the socket is 0660', async (t) => {
  for (const p of ['/_ping', '/v1.41/_ping', '/v1.44/_ping']) {
    const r = await raw('GET', p);
    t.is(r.status, 200);
    t.is(r.body, 'OK');
    t.is(r.headers['api-version'], '1.44');
  }
  const h = await raw('HEAD', '/_ping');
  t.is(h.status, 200);
  t.is(h.body, '');
  const v = JSON.parse((await raw('GET', '/v1.43/version')).body);
  t.is(v.ApiVersion, '1.44');
  t.is(v.MinAPIVersion, '1.41');
  const info = JSON.parse((await raw('GET', '/info')).body);
  t.is(info.DockerRootDir, root);
  t.is(readFileSync('/proc/self/mounts', 'utf8').length > 0, true);
  const { statSync } = await import('node:fs');
  t.is(statSync(sock).mode & 0o777, 0o660);
  const tooNew = await raw('GET', '/v1.99/version');
  t.is(tooNew.status, 400);
  t.regex(JSON.parse(tooNew.body).message, /too new/);
});

test.serial('errors as docker\'s: unknown endpoint 404 naming it, no such container/image 404, malformed body and unknown field 400, 304, 409, 501 for search', async (t) => {
  let r = await raw('GET', '/v1.41/no/such/thing');
  t.is(r.status, 404);
  t.regex(JSON.parse(r.body).message, /GET \/no\/such\/thing/);
  r = await raw('GET', '/containers/nope/json');
  t.is(r.status, 404);
  t.regex(JSON.parse(r.body).message, /No such container: nope/);
  r = await raw('GET', '/images/nope:1/json');
  t.is(r.status, 404);
  t.regex(JSON.parse(r.body).message, /No such image/);
  r = await raw('POST', '/containers/create', '{"Image": "busybox",');
  t.is(r.status, 400);
  t.regex(JSON.parse(r.body).message, /malformed request body/);
  r = await raw('POST', '/containers/create', JSON.stringify({ Image: 'busybox', Bogus: 1 }));
  t.is(r.status, 400);
  t.regex(JSON.parse(r.body).message, /unknown field "Bogus"/);
  r = await raw('POST', '/containers/create', JSON.stringify({ Image: 'busybox', HostConfig: { Nope: true } }));
  t.is(r.status, 400);
  t.regex(JSON.parse(r.body).message, /HostConfig: unknown field "Nope"/);
  r = await raw('POST', '/containers/create', JSON.stringify({ Image: 'busybox', Cmd: 'not a list'.length }));
  t.is(r.status, 400);
  r = await raw('POST', '/containers/create?name=dup', JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '30'] }));
  t.is(r.status, 201, r.body);
  const id = JSON.parse(r.body).Id;
  r = await raw('POST', '/containers/create?name=dup', JSON.stringify({ Image: 'busybox' }));
  t.is(r.status, 409);
  t.is((await raw('POST', `/containers/${id}/stop`)).status, 304, 'stop of a created container');
  t.is((await raw('POST', `/containers/${id}/start`)).status, 204);
  t.is((await raw('POST', `/containers/${id}/start`)).status, 304, 'start of a started container');
  r = await raw('DELETE', `/containers/${id}`);
  t.is(r.status, 409, 'remove of a running one without force');
  t.is((await raw('DELETE', `/containers/${id}?force=1`)).status, 204);
  r = await raw('POST', '/build');
  t.is(r.status, 400, 'a build without a context');
  t.regex(JSON.parse(r.body).message, /Cannot locate specified Dockerfile/);
  for (const [m, p] of [['GET', '/images/search?term=x']]) {
    r = await raw(m, p);
    t.is(r.status, 501, p);
    t.truthy(JSON.parse(r.body).message, p);
  }
});

test.serial('docker CLI: run --rm (output, exit codes 0/3/127), CLI sees what the server made and the other way round', (t) => {
  let r = dockerCli(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  t.is(r.code, 3, r.stderr);
  t.is(r.stdout, 'out\n');
  t.regex(r.stderr, /err\n/);
  r = dockerCli(['run', '--rm', 'busybox', 'not-a-command']);
  t.is(r.code, 127);
  t.regex(r.stderr, /executable file not found/);
  t.deepEqual(readdirSync(join(root, 'containers')), [], 'run --rm leaves nothing, started or not');
  r = dockerCli(['run', '-d', '--name', 'from-api', 'busybox', 'sleep', '60']);
  t.is(r.code, 0, r.stderr);
  t.regex(engine.tsbox(['ps']).stdout, /from-api/);
  t.is(engine.tsbox(['run', '-d', '--name', 'from-cli', 'busybox', 'sleep', '60']).code, 0);
  r = dockerCli(['ps', '--format', '{{.Names}} {{.Status}}', '--filter', 'name=from-']);
  t.regex(r.stdout, /from-cli Up/);
  t.regex(r.stdout, /from-api Up/);
  t.is(dockerCli(['rm', '-f', 'from-api', 'from-cli']).code, 0);
  t.notRegex(engine.tsbox(['ps', '-a']).stdout, /from-/);
});

test.serial('docker CLI: run -d -p with a TCP connection, logs -f, exec, inspect -f, stats --no-stream, cp both ways, stop, kill, rm -f', async (t) => {
  t.teardown(() => void dockerCli(['rm', '-f', 'web']));
  let r = dockerCli(['run', '-d', '--name', 'web', '-p', '127.0.0.1::8080', 'busybox', 'sh', '-c', 'echo started; exec httpd -f -p 8080 -h /etc']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^[0-9a-f]{64}\n$/);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(dockerCli(['port', 'web', '8080']).stdout)?.[1]);
  t.true(port > 0);
  const body = await (await fetch(`http://127.0.0.1:${port}/passwd`)).text();
  t.regex(body, /^root:x:0:0/);
  t.regex(dockerCli(['ps', '--format', '{{.Names}}|{{.Ports}}']).stdout, new RegExp(`web\\|127\\.0\\.0\\.1:${port}->8080/tcp`));
  r = dockerCli(['exec', 'web', 'sh', '-c', 'echo in-exec; echo e2 >&2; exit 5']);
  t.is(r.code, 5);
  t.is(r.stdout, 'in-exec\n');
  t.is(r.stderr, 'e2\n');
  t.is(dockerCli(['exec', 'web', 'not-a-command']).code, 126, 'as dockerd (the reference test below)');
  t.is(dockerCli(['exec', '-i', 'web', 'cat'], 'from stdin\n').stdout, 'from stdin\n');
  t.is(dockerCli(['inspect', '-f', '{{.State.Status}} {{.Name}}', 'web']).stdout, 'running /web\n');
  r = dockerCli(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'web']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^web \d+\n$/);
  const host = mkdtempSync(join(root, 'cp-'));
  t.is(dockerCli(['cp', 'web:/etc/passwd', join(host, 'passwd')]).code, 0);
  t.regex(readFileSync(join(host, 'passwd'), 'utf8'), /^root:/);
  writeFileSync(join(host, 'up.txt'), 'uploaded\n');
  r = dockerCli(['cp', join(host, 'up.txt'), 'web:/tmp/']);
  t.is(r.code, 0, r.stderr);
  t.is(dockerCli(['exec', 'web', 'cat', '/tmp/up.txt']).stdout, 'uploaded\n');
  // logs -f ends when the container stops.
  const logs = spawn(DOCKER, ['logs', '-f', 'web'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  logs.stdout.on('data', (d) => (out += d));
  const ended = new Promise<number | null>((res) => logs.on('close', res));
  await sleep(300);
  r = dockerCli(['stop', '-t', '1', 'web']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'web\n');
  t.is(await ended, 0);
  t.is(out, 'started\n');
  t.is(dockerCli(['stop', 'web']).code, 0, 'stop of a stopped container (304) is no error');
  r = dockerCli(['kill', 'web']);
  t.is(r.code, 1);
  t.regex(r.stderr, /is not running/);
  t.is(dockerCli(['rm', '-f', 'web']).stdout, 'web\n');
  r = dockerCli(['inspect', 'web']);
  t.is(r.code, 1);
  t.regex(r.stderr, /No such/);
});

test.serial('docker CLI: pull from the registry, images, tag, rmi, save | load', (t) => {
  let r = dockerCli(['pull', remote]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`Downloaded newer image for ${remote.replace(/\./g, '\\.')}:latest`));
  r = dockerCli(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  t.regex(r.stdout, new RegExp(`${remote}:latest`));
  t.is(dockerCli(['tag', remote, 'copy:one']).code, 0);
  t.regex(dockerCli(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout, /copy:one/);
  const tar = join(root, 'saved.tar');
  r = outputOf('sh', ['-c', `docker save copy:one > ${tar}`], { tmp: root });
  t.is(r.code, 0, r.stderr);
  t.is(dockerCli(['rmi', 'copy:one']).code, 0);
  t.notRegex(dockerCli(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout, /copy:one/);
  r = outputOf('sh', ['-c', `docker load < ${tar}`], { tmp: root });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /Loaded image: .*copy:one/);
  t.is(dockerCli(['rmi', 'copy:one']).code, 0);
  r = dockerCli(['rmi', 'no-such:image']);
  t.is(r.code, 1);
  t.regex(r.stderr, /No such image/);
});

test.serial('dockerode: create, attach, start, wait, remove; demuxStream; listContainers with filters', async (t) => {
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; exit 4'], name: 'dode' });
  const stream = await c.attach({ stream: true, stdout: true, stderr: true, hijack: true });
  const got = demux(docker, stream);
  const ended = new Promise((r) => stream.on('end', r));
  await c.start();
  t.deepEqual(await c.wait(), { StatusCode: 4, Error: null });
  await ended;
  t.is(got.out, 'to-out\n');
  t.is(got.err, 'to-err\n');
  const list = await docker.listContainers({ all: true, filters: { name: ['dode'], status: ['exited'] } });
  t.is(list.length, 1);
  t.is(list[0].Names[0], '/dode');
  t.is((await docker.listContainers({ filters: { status: ['running'], name: ['dode'] } })).length, 0);
  t.is((await c.inspect()).State.ExitCode, 4);
  await c.remove();
  await t.throwsAsync(c.inspect(), { message: /No such container/ });
});

test.serial('dockerode: exec with hijack (stdin, stdout, stderr), exec inspect; getArchive/putArchive', async (t) => {
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '60'] });
  await c.start();
  const ex = await c.exec({ Cmd: ['sh', '-c', 'read x; echo got $x; echo oops >&2; exit 6'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
  const s = await ex.start({ hijack: true, stdin: true });
  const got = demux(docker, s);
  s.write('hello\n');
  await new Promise((r) => s.on('end', r));
  t.is(got.out, 'got hello\n');
  t.is(got.err, 'oops\n');
  const info = await ex.inspect();
  t.is(info.ExitCode, 6);
  t.false(info.Running);
  t.true(info.Pid > 0);
  // putArchive: a tar made by tar(1), unpacked into /tmp; getArchive gives a tar of the path back.
  const dir = mkdtempSync(join(root, 'arch-'));
  writeFileSync(join(dir, 'a.txt'), 'archived\n');
  const tarFile = join(root, 'a.tar');
  outputOf('tar', ['-C', dir, '-cf', tarFile, 'a.txt'], { tmp: root });
  await c.putArchive(tarFile, { path: '/tmp' });
  const tarStream = await c.getArchive({ path: '/tmp/a.txt' });
  const chunks: Buffer[] = [];
  for await (const b of tarStream) chunks.push(b as Buffer);
  const tarOut = Buffer.concat(chunks);
  t.is(tarOut.subarray(0, 5).toString(), 'a.txt');
  t.true(tarOut.includes('archived\n'));
  const head = await raw('HEAD', `/containers/${c.id}/archive?path=/tmp/a.txt`);
  const stat = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString());
  t.like(stat, { name: 'a.txt', size: 9 });
  t.is((await raw('HEAD', `/containers/${c.id}/archive?path=/nope`)).status, 404);
  await c.remove({ force: true });
});

test.serial('dockerode: pull with followProgress from the registry, X-Registry-Auth accepted', async (t) => {
  const name = `${reg.addr}/remote/busybox:latest`;
  const stream = await docker.pull(name, { authconfig: { username: 'u', password: 'p', serveraddress: reg.addr } });
  const events: { status?: string }[] = [];
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), (ev: { status?: string }) => events.push(ev)));
  t.true(events.some((e) => /Downloaded newer image/.test(e.status ?? '')));
  t.truthy((await docker.getImage(name).inspect()).Id);
  // No such image: a 404 before any progress, as docker's daemon answers.
  await t.throwsAsync(docker.pull(`${reg.addr}/remote/none:latest`), { message: /HTTP code 404/ });
});

test.serial('testcontainers: GenericContainer with an exposed port, mapped port, command, environment, files, exec, logs, wait strategies, stop', async (t) => {
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  // This machine has /.dockerenv: testcontainers asks GET /networks/bridge for the host (its gateway).
  delete process.env.TESTCONTAINERS_HOST_OVERRIDE;
  process.env.DOCKER_HOST = `unix://${sock}`;
  const { GenericContainer, Wait } = await import('testcontainers');
  const dir = mkdtempSync(join(root, 'tc-'));
  writeFileSync(join(dir, 'index.html'), 'from testcontainers\n');
  const c = await new GenericContainer('busybox')
    .withExposedPorts(8080)
    .withEnvironment({ GREETING: 'hi there' })
    .withCopyFilesToContainer([{ source: join(dir, 'index.html'), target: '/www/index.html' }])
    .withCommand(['sh', '-c', 'echo "$GREETING"; echo ready; exec httpd -f -p 8080 -h /www'])
    .withWaitStrategy(Wait.forLogMessage('ready'))
    .start();
  try {
    const port = c.getMappedPort(8080);
    t.true(port > 0);
    // "ready" is printed just before httpd starts listening.
    let page = '';
    for (let i = 0; i < 50 && !page; i++) page = await fetch(`http://${c.getHost()}:${port}/index.html`).then((r) => r.text(), () => sleep(100).then(() => ''));
    t.is(page, 'from testcontainers\n');
    const ex = await c.exec(['sh', '-c', 'echo $GREETING']);
    t.is(ex.exitCode, 0);
    t.is(ex.output, 'hi there\n');
    const logs = await c.logs();
    let text = '';
    await new Promise<void>((r) => {
      logs.on('data', (d) => (text += d));
      logs.on('end', () => r());
      setTimeout(r, 1000);
    });
    t.regex(text, /hi there/);
  } finally {
    await c.stop();
  }
  const c2 = await new GenericContainer('busybox').withExposedPorts(8081).withCommand(['httpd', '-f', '-p', '8081']).withWaitStrategy(Wait.forListeningPorts()).start();
  const p2 = c2.getMappedPort(8081);
  await new Promise<void>((resolve, reject) => {
    const s = connect(p2, '127.0.0.1', () => {
      s.end();
      resolve();
    });
    s.on('error', reject);
  });
  await c2.stop();
  t.pass();
});

test.serial('50 concurrent API clients create/start/wait/remove: none lost, no fd leaked by the server', async (t) => {
  t.teardown(() => {
    const left = dockerCli(['ps', '-aq', '--filter', 'name=par-']).stdout.split('\n').filter(Boolean);
    if (left.length) dockerCli(['rm', '-f', ...left]);
  });
  // Warm the server up (lazy imports, caches) before counting its fds.
  const w = await docker.createContainer({ Image: 'busybox', Cmd: ['true'] });
  await w.start();
  await w.wait();
  await w.remove();
  await sleep(300);
  const before = serverFds();
  const results = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      // One connection per client, closed after each request: the server's fds are counted after.
      const d = new Docker({ socketPath: sock, agent: new Agent({ keepAlive: false }) } as Docker.DockerOptions);
      const c = await d.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', `exit ${i % 7}`], name: `par-${i}` });
      await c.start();
      const { StatusCode } = await c.wait();
      await c.remove();
      return StatusCode;
    }),
  );
  t.deepEqual(results, Array.from({ length: 50 }, (_, i) => i % 7));
  t.deepEqual(readdirSync(join(root, 'containers')), []);
  await settledFds(before);
  t.true(serverFds() <= before + 2, `server fds ${before} → ${serverFds()}`);
});

test.serial('a client that goes away mid-attach or mid-wait leaves nothing behind; the container goes on', async (t) => {
  const before = serverFds();
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'while :; do echo tick; sleep 0.1; done'] });
  await c.start();
  for (let i = 0; i < 5; i++) {
    const s = await c.attach({ stream: true, stdout: true, stderr: true, hijack: true });
    await new Promise((r) => s.once('data', r));
    s.destroy();
    const req = request({ socketPath: sock, method: 'POST', path: `/containers/${c.id}/wait` });
    req.on('error', () => undefined);
    req.end();
    await sleep(100);
    req.destroy();
  }
  await sleep(500);
  t.true((await c.inspect()).State.Running);
  await c.remove({ force: true });
  await settledFds(before);
  t.true(serverFds() <= before + 2, `server fds ${before} → ${serverFds()}`);
  t.deepEqual(readdirSync(join(root, 'containers')), []);
});

test.serial('a hostile container or tar: PUT archive never writes outside the container, GET never reads the host through its symlinks', async (t) => {
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'ln -s / /tmp/hostroot; ln -s /etc /tmp/etc-link; sleep 60'] });
  await c.start();
  await sleep(300);
  const marker = join(root, `escape-${process.pid}`);
  // An entry that climbs out, a symlink then a file through it, an absolute path.
  const evil = rawTar([
    { name: `../../../../../..${marker}-dotdot`, data: 'x' },
    { name: 'lnk', type: '2', linkname: root },
    { name: `lnk/escape-${process.pid}-through-link`, data: 'x' },
    { name: `${marker}-abs`, data: 'x' },
  ]);
  const put = await raw('PUT', `/containers/${c.id}/archive?path=/tmp`, evil, { 'Content-Type': 'application/x-tar' });
  t.true([200, 400].includes(put.status), put.body);
  for (const f of ['-dotdot', '-abs']) t.false(existsSync(marker + f), `nothing at ${marker}${f}`);
  t.false(existsSync(join(root, `escape-${process.pid}-through-link`)));
  // Through the container's own symlink to /: its root, not the host's.
  await c.putArchive(rawTar([{ name: 'planted', data: 'y' }]), { path: '/tmp/hostroot/tmp' });
  t.false(existsSync('/tmp/planted'), 'the container\'s / is its own');
  const got: Buffer[] = [];
  for await (const b of await c.getArchive({ path: '/tmp/etc-link/passwd' })) got.push(b as Buffer);
  const text = Buffer.concat(got).toString('latin1');
  t.regex(text, /root:x:0:0:root:\/root:\/bin\/sh/, 'the container\'s /etc/passwd');
  t.notRegex(text, new RegExp(readFileSync('/etc/passwd', 'utf8').split('\n')[1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'not the host\'s');
  await c.remove({ force: true });
});

/** A name that makes a backtracking engine take 2^40 steps for `(a+)+$`. */
const LONG = `${'a'.repeat(40)}-x`;
/** An answer or, after ms, 'timeout': a stalled server must fail the test, not hang it. */
const within = <T>(ms: number, p: Promise<T>) => Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);

test.serial('name filters are Go regexps matched in linear time: (a+)+$ against a long name answers at once, /_ping meanwhile; a bad pattern matches nothing', async (t) => {
  t.teardown(() => void dockerCli(['rm', '-f', LONG]));
  const c = dockerCli(['create', '--name', LONG, 'busybox', 'true']);
  t.is(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  const names = (filters: Record<string, string[]>) => docker.listContainers({ all: true, filters }).then((l) => l.map((x) => x.Names[0]));
  const listed = within(10_000, names({ name: ['(a+)+$'] }));
  // The list is on the server before the ping is sent: one stalled thread would answer neither.
  await sleep(200);
  const t0 = Date.now();
  const ping = await within(5_000, raw('GET', '/_ping'));
  t.not(ping, 'timeout', 'the server answers /_ping while it filters');
  t.true(Date.now() - t0 < 2000, `/_ping took ${Date.now() - t0} ms`);
  t.deepEqual(await listed, [], 'Go: $ is the end of the name, which is "-x"');
  // Go's semantics: an unanchored search, RE2 syntax; a pattern Go cannot compile matches only itself.
  t.deepEqual(await names({ name: ['(a+)+-x$'] }), [`/${LONG}`]);
  t.deepEqual(await names({ name: [`^/a{40}-x$`] }), [`/${LONG}`]);
  t.deepEqual(await names({ name: ['(?i)A{40}'] }), [`/${LONG}`]);
  for (const bad of ['(', 'a{2000}', '(?=a)', '\\1']) {
    const r = await raw('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [bad] }))}`);
    t.is(r.status, 200, `${bad}: ${r.body}`);
    t.deepEqual(JSON.parse(r.body), [], bad);
  }
  // The same through the CLI (the engine library under it), and for networks and volumes.
  const cli = outputOf(process.execPath, [CLI, '--root', root, 'ps', '-a', '--format', '{{.Names}}', '--filter', 'name=(a+)+$'], { tmp: root, timeout: 10_000 });
  t.is(cli.code, 0, cli.stderr);
  t.is(cli.stdout, '');
  t.is(engine.tsbox(['ps', '-a', '--format', '{{.ID}}', '--no-trunc', '--filter', 'name=(a+)+-x$']).stdout, `${id}\n`);
  for (const kind of ['networks', 'volumes']) {
    const r = await within(10_000, raw('GET', `/${kind}?filters=${encodeURIComponent(JSON.stringify({ name: [`(a+)+$`, '('] }))}`));
    t.not(r, 'timeout', kind);
    if (r !== 'timeout') t.is(r.status, 200, kind);
  }
  // Image reference filters are Go's path.Match globs: `*a` thirty times against sixty a's is linear too
  // (a backtracking RegExp takes C(60,30) steps).
  const aaa = 'a'.repeat(60);
  t.teardown(() => void dockerCli(['rmi', aaa]));
  t.is(dockerCli(['tag', 'busybox', aaa]).code, 0);
  const img = await within(10_000, raw('GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: [`${'*a'.repeat(30)}b`] }))}`));
  t.not(img, 'timeout', 'images reference');
  if (img !== 'timeout') t.deepEqual(JSON.parse(img.body), []);
  const mine = await raw('GET', `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: [`${'*a'.repeat(30)}`] }))}`);
  t.deepEqual(JSON.parse(mine.body).flatMap((i: { RepoTags: string[] }) => i.RepoTags), [`${aaa}:latest`]);
});

test.serial('--timeout N: the server exits after N seconds idle; --timeout 0 runs on', async (t) => {
  const s2 = join(root, 'idle.sock');
  const p = spawn(process.execPath, [CLI, '--root', root, 'serve', '--socket', s2, '--timeout', '1', '--group', '65534'], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => p.on('exit', r));
  for (let i = 0; i < 100 && !existsSync(s2); i++) await sleep(50);
  const { statSync } = await import('node:fs');
  t.like(statSync(s2), { uid: 0, gid: 65534 }, 'root and the --group only');
  t.is(statSync(s2).mode & 0o777, 0o660);
  const t0 = Date.now();
  t.is(await exited, 0);
  t.true(Date.now() - t0 < 5000);
  t.false(existsSync(s2), 'the socket goes with the server');
  const bad = outputOf(process.execPath, [CLI, '--root', root, 'system', 'service', '--socket', s2, '--timeout', 'soon'], { tmp: root });
  t.is(bad.code, 125);
  t.regex(bad.stderr, /invalid --timeout/);
  t.is((await raw('GET', '/_ping')).status, 200, 'the test server (--timeout 0) still answers');
});

test.serial('the docker CLI against tsbox and against dockerd (the reference): the same exit codes and output', async (t) => {
  if (!haveDockerd()) return t.pass('dockerd is not installed');
  const ref = await startDockerd();
  try {
    // The reference gets our busybox through our own save.
    const tar = join(root, 'ref-busybox.tar');
    t.is(outputOf('sh', ['-c', `docker save busybox > ${tar}`], { tmp: root }).code, 0);
    t.is(ref.docker(['load', '-i', tar]).code, 0);
    const both = (args: string[], input?: string) => ({ ours: dockerCli(args, input), theirs: ref.docker(args, input) });
    const cases: [string[], RegExp?, string?][] = [
      [['run', '--rm', 'busybox', 'sh', '-c', 'echo out; exit 3']],
      [['run', '--rm', 'busybox', 'not-a-command'], /executable file not found/],
      [['run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', 'nobody', 'busybox', 'sh', '-c', 'echo $A; pwd; id -u; echo e >&2']],
      [['run', '--rm', '--entrypoint', 'echo', 'busybox', 'from', 'entrypoint']],
      [['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat /dev/stdin; echo out > /dev/stdout; echo err > /dev/stderr'], undefined, 'in\n'],
      [['run', '--rm', 'busybox', 'sh', '-c', 'echo out > /dev/stdout; echo err > /dev/stderr']],
      [['run', '--rm', '--read-only', 'busybox', 'touch', '/x']],
      [['run', '--rm', '--tmpfs', '/scratch', 'busybox', 'sh', '-c', 'touch /scratch/x && echo ok']],
      [['run', '--rm', '--name', 'ref-n', 'busybox', 'hostname']],
      [['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'chown', 'nobody', '/tmp'], /Operation not permitted/],
      // --security-opt as dockerd parses it: Go's booleans, the old ":" form, apparmor and label (neither
      // enforced on this host: dockerd runs the container all the same), an unknown key refused.
      [['run', '--rm', '--security-opt', 'no-new-privileges=1', '--security-opt', 'apparmor=tsbox-test-profile', '--security-opt', 'label=disable', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status']],
      [['run', '--rm', '--security-opt', 'no-new-privileges:false', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status']],
      [['run', '--rm', '--security-opt', 'bogus=1', 'busybox', 'true'], /invalid --security-opt 2: "bogus=1"/],
      [['run', '--rm', '--security-opt', 'bogus', 'busybox', 'true'], /Invalid --security-opt: "bogus"/],
      [['run', '-d', '--name', 'ref-a', 'busybox', 'sleep', '30']],
      [['run', '-d', '--name', 'ref-a', 'busybox', 'true'], /Conflict\. The container name "\/ref-a" is already in use/],
      [['exec', 'ref-a', 'sh', '-c', 'echo x; exit 5']],
      [['exec', 'ref-a', 'not-a-command']],
      [['rm', 'ref-a'], /running/],
      [['inspect', '-f', '{{.State.Status}} {{.Name}} {{.Config.Cmd}}', 'ref-a']],
      [['exec', '-i', 'ref-a', 'sh', '-c', 'cat; echo done'], undefined, 'piped in\n'],
      [['exec', '-u', 'nobody', '-w', '/tmp', '-e', 'B=2', 'ref-a', 'sh', '-c', 'id -u; pwd; echo $B']],
      // The process's stdio can be opened again by name (pipes, as dockerd gives; a socket cannot be).
      [['exec', '-i', 'ref-a', 'sh', '-c', 'cat /dev/stdin; echo out > /dev/stdout; echo err > /dev/stderr'], undefined, 'in\n'],
      // dockerd's CLI words it "No such container:path", ours passes the server's message on: the same 404 and exit code.
      [['cp', 'ref-a:/nope', join(root, 'nope')], /No such container:path: ref-a:\/nope|Could not find the file \/nope in container ref-a/],
      [['ps', '--format', '{{.Names}} {{.Command}}', '--filter', 'name=ref-a']],
      [['stop', '-t', '1', 'ref-a']],
      [['stop', 'ref-a']],
      [['kill', 'ref-a'], /is not running/],
      [['exec', 'ref-a', 'true'], /is not running/],
      [['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'ref-a']],
      [['rm', 'ref-a']],
      [['inspect', 'ref-a'], /No such object: ref-a/],
      [['logs', 'ref-a'], /No such container: ref-a/],
      [['rmi', 'no-such:image'], /No such image: no-such:image/],
      // Name filters: Go's regexps (an unanchored search; an invalid one matches nothing, no error).
      [['create', '--name', LONG, 'busybox', 'true']],
      [['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=(a+)+$']],
      [['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=(a+)+-x$']],
      [['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=^/a{40}']],
      [['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=(']],
      [['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=(?=a)']],
      [['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=a{2000}']],
      [['network', 'ls', '--format', '{{.Name}}', '--filter', 'name=(']],
      [['network', 'ls', '--format', '{{.Name}}', '--filter', 'name=^h(o+)+st$']],
      [['rm', LONG]],
      [['tag', 'busybox', 'ref-copy:1']],
      [['rmi', 'ref-copy:1']],
    ];
    for (const [args, err, input] of cases) {
      const { ours, theirs } = both(args, input);
      const what = `docker ${args.join(' ')}`;
      t.is(ours.code, theirs.code, `${what}: exit code (ours: ${ours.stdout.trim()} ${ours.stderr.trim()} | dockerd: ${theirs.stdout.trim()} ${theirs.stderr.trim()})`);
      const ids = (x: string) => x.replace(/\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b/g, 'ID');
      t.is(ids(ours.stdout), ids(theirs.stdout), `${what}: stdout`);
      if (err) {
        t.regex(ours.stderr, err, `${what}: stderr (tsbox)`);
        t.regex(theirs.stderr, err, `${what}: stderr (dockerd)`);
      }
    }
  } finally {
    t.deepEqual(await ref.stop(), [], 'dockerd left cgroups behind');
  }
});

test.serial('dockerode: restart, rename, top, pause/unpause, logs with tail and timestamps, stats one-shot and streamed, exec with a TTY, container prune', async (t) => {
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo one; echo two; echo three; exec sleep 60'], name: 'misc' });
  await c.start();
  await sleep(300);
  const logs = (await c.logs({ stdout: true, stderr: true, tail: 2, timestamps: true })) as unknown as Buffer;
  const lines = logs.toString('latin1').split('\n').filter(Boolean);
  t.is(lines.length, 2);
  t.regex(lines[1], /\d{4}-\d\d-\d\dT[\d:.]+Z three$/);
  const top = await c.top();
  t.true(top.Processes.some((p: string[]) => p.join(' ').includes('sleep 60')));
  await c.pause();
  t.is((await c.inspect()).State.Status, 'paused');
  await c.unpause();
  t.is((await c.inspect()).State.Status, 'running');
  const started = (await c.inspect()).State.StartedAt;
  await c.restart({ t: 1 });
  t.not((await c.inspect()).State.StartedAt, started);
  await c.rename({ name: 'misc2' });
  t.is((await c.inspect()).Name, '/misc2');
  const one = await c.stats({ stream: false });
  t.true(one.memory_stats.usage > 0);
  t.is(one.name, '/misc2');
  const streamed = (await c.stats({ stream: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
  const first = await new Promise<string>((r) => streamed.once('data', (d: Buffer) => r(d.toString())));
  streamed.destroy();
  t.is(JSON.parse(first.split('\n')[0]).id, c.id);
  // A TTY exec: raw bytes, no framing.
  const ex = await c.exec({ Cmd: ['sh', '-c', 'tty; echo x'], AttachStdout: true, AttachStderr: true, Tty: true });
  const s = await ex.start({ hijack: true, stdin: false, Tty: true });
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString('latin1')));
  await new Promise((r) => s.on('end', r));
  t.regex(out, /^\/dev\/pts\/\d+\r\nx\r\n$/);
  await c.kill();
  await c.wait();
  const stopped = await docker.createContainer({ Image: 'busybox', Cmd: ['true'] });
  const pruned = await docker.pruneContainers();
  t.true(pruned.ContainersDeleted.includes(c.id));
  t.true(pruned.ContainersDeleted.includes(stopped.id));
  await t.throwsAsync(c.inspect(), { message: /No such container/ });
});

test.serial('a client that goes away mid-pull: the server goes on, the store has the whole image or none of it', async (t) => {
  await docker.getImage(`${remote}:latest`).remove().catch(() => undefined);
  await new Promise<void>((resolve) => {
    const req = request({ socketPath: sock, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(remote)}&tag=latest` }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => resolve());
    req.end();
  });
  await sleep(1500);
  t.is((await raw('GET', '/_ping')).status, 200);
  const found = await raw('GET', `/images/${encodeURIComponent(`${remote}:latest`)}/json`);
  if (found.status === 200) t.true(JSON.parse(found.body).RootFS.Layers.length > 0);
  else t.is(found.status, 404);
  // And a new pull completes and runs.
  const r = dockerCli(['run', '--rm', `${remote}:latest`, 'echo', 'pulled']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'pulled\n');
});
