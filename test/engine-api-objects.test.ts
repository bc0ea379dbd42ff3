// The Engine API's networks, volumes, events and system df, driven by raw requests, the docker CLI
// (beside a private dockerd as the reference), docker-compose and testcontainers, against a server this
// file starts on a private socket with a private root.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startRegistry, pushBusybox, type Registry } from './helpers/registry.js';
import { engineRoot } from './helpers/engine-root.js';
import { outputOf } from './helpers/cli.js';
import { DOCKER, haveDockerd, startDockerd } from './helpers/dockerd.js';
import { startApiServer, type ApiServer } from './helpers/api-server.js';

const engine = engineRoot('tsbox-apiobj-');
const { root } = engine;
let server: ApiServer;
let reg: Registry;
let image: string;
const tag = `o${process.pid}`;
// A /24 per run, away from docker's default pools: parallel runs and other tests do not collide.
const subnet = (i: number) => `10.${200 + (process.pid % 50)}.${(process.pid >> 6) % 200 + i}.0/24`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Debian's docker.io client (20.10), the same binary the reference is driven with. */
const dockerCli = (argv: string[], input?: string) => outputOf(DOCKER, argv, { tmp: root, input, timeout: 60_000 });
const raw = (method: string, path: string, body?: unknown) => server.raw(method, path, body === undefined ? undefined : JSON.stringify(body));
const json = async (method: string, path: string, body?: unknown) => {
  const r = await raw(method, path, body);
  return { status: r.status, body: r.body ? (JSON.parse(r.body) as any) : undefined };
};
const q = (o: object) => encodeURIComponent(JSON.stringify(o));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** The host's links now: a network's bridge must be gone once it is removed. */
const links = () => execFileSync('ls', ['/sys/class/net'], { encoding: 'utf8' }).split('\n').filter(Boolean);

test.before(async () => {
  engine.importBusybox();
  reg = await startRegistry();
  image = `${reg.addr}/objects/busybox:latest`;
  await pushBusybox(join(root, 'layout'), image);
  server = await startApiServer(root);
  process.env.DOCKER_HOST = `unix://${server.sock}`;
});

test.after.always(async () => {
  await server?.stop();
  await reg?.stop();
  engine.remove();
});

test.serial('networks: create, list with filters, inspect with Containers, connect with alias and address, disconnect, remove, prune; docker errors', async (t) => {
  const name = `${tag}-net`;
  const c = await json('POST', '/v1.41/networks/create', { Name: name, CheckDuplicate: true, Driver: 'bridge', Labels: { 'app.test': tag }, IPAM: { Driver: 'default', Config: [{ Subnet: subnet(0) }] } });
  t.is(c.status, 201, JSON.stringify(c.body));
  t.regex(c.body.Id, /^[0-9a-f]{64}$/);
  t.is((await json('POST', '/networks/create', { Name: name, CheckDuplicate: true })).status, 409);
  t.is((await json('POST', '/networks/create', { Name: `${tag}-x`, Driver: 'overlay' })).status, 404);
  t.is((await json('POST', '/networks/create', { Name: `${tag}-x`, Bogus: 1 })).status, 400);
  // hostile: a name that is a path, subnets that would take the host's own routes, labels that are not strings
  t.is((await json('POST', '/networks/create', { Name: '../../etc' })).status, 400);
  t.is((await json('POST', '/networks/create', { Name: `${tag}-h`, Options: { 'com.docker.network.bridge.name': 'eth0' } })).status, 400);
  for (const sn of ['127.0.0.0/8', '0.0.0.0/0', '169.254.0.0/16', '224.0.0.0/4', 'nonsense']) t.is((await json('POST', '/networks/create', { Name: `${tag}-h`, IPAM: { Config: [{ Subnet: sn }] } })).status, 400, sn);
  t.is((await json('POST', '/networks/create', { Name: `${tag}-h`, Labels: { a: { b: 1 } } })).status, 400);
  t.is((await json('POST', `/containers/create?name=${tag}-h`, { Image: 'busybox', Labels: { a: 1 } })).status, 400);
  // a container's labels go through create to list filters and inspect (compose finds its containers so)
  const lab = await json('POST', `/containers/create?name=${tag}-lab`, { Image: 'busybox', Cmd: ['true'], Labels: { 'com.docker.compose.project': tag }, Healthcheck: { Test: ['CMD', 'true'] } });
  t.is(lab.status, 201, JSON.stringify(lab.body));
  t.true(lab.body.Warnings.some((w: string) => /Healthcheck/.test(w)), 'a healthcheck is ignored with a message');
  t.deepEqual((await json('GET', `/containers/json?all=1&filters=${q({ label: [`com.docker.compose.project=${tag}`] })}`)).body.map((x: any) => x.Id), [lab.body.Id]);
  t.is((await json('GET', `/containers/${tag}-lab/json`)).body.Config.Labels['com.docker.compose.project'], tag);
  t.is((await raw('DELETE', `/containers/${tag}-lab`)).status, 204);
  // list: docker's filters JSON, both forms
  const byLabel = await json('GET', `/networks?filters=${q({ label: [`app.test=${tag}`] })}`);
  t.deepEqual(byLabel.body.map((n: any) => n.Name), [name]);
  const byName = await json('GET', `/networks?filters=${q({ name: { [name]: true } })}`);
  t.deepEqual(byName.body.map((n: any) => n.Name), [name]);
  t.is((await json('GET', `/networks?filters=${q({ nope: ['x'] })}`)).status, 400);
  t.is((await raw('GET', '/networks?filters=notjson')).status, 400);
  const all = (await json('GET', '/networks')).body.map((n: any) => n.Name);
  for (const n of ['bridge', 'host', 'none', name]) t.true(all.includes(n), n);

  // Two containers: one on the network from create, one connected with an alias and a fixed address.
  const srv = await json('POST', `/containers/create?name=${tag}-srv`, { Image: 'busybox', Cmd: ['sh', '-c', 'echo served > /tmp/i; exec httpd -f -p 80 -h /tmp'], HostConfig: { NetworkMode: name } });
  t.is(srv.status, 201, JSON.stringify(srv.body));
  t.is((await raw('POST', `/containers/${tag}-srv/start`)).status, 204);
  const cli = await json('POST', `/containers/create?name=${tag}-cli`, { Image: 'busybox', Cmd: ['sleep', '60'] });
  t.is((await raw('POST', `/containers/${tag}-cli/start`)).status, 204);
  const ip = subnet(0).replace(/0\/24$/, '77');
  const conn = await raw('POST', `/networks/${name}/connect`, ({ Container: `${tag}-cli`, EndpointConfig: { Aliases: ['the-client'], IPAMConfig: { IPv4Address: ip } } }));
  t.is(conn.status, 200, conn.body);
  t.is((await raw('POST', `/networks/${name}/connect`, ({ Container: `${tag}-cli` }))).status, 409, 'connected twice');
  t.is((await raw('POST', `/networks/no-such-${tag}/connect`, ({ Container: `${tag}-cli` }))).status, 404);
  const ins = await json('GET', `/networks/${name}`);
  t.is(ins.status, 200);
  t.is(ins.body.Name, name);
  t.is(ins.body.Driver, 'bridge');
  t.is(ins.body.IPAM.Config[0].Subnet, subnet(0));
  t.deepEqual(ins.body.Labels, { 'app.test': tag });
  const members = Object.entries(ins.body.Containers as Record<string, any>);
  t.is(members.length, 2);
  t.is(members.find(([id]) => id === cli.body.Id)?.[1].IPv4Address, `${ip}/24`);
  t.truthy(members.find(([id]) => id === srv.body.Id)?.[1].Name);
  // by id prefix too, as docker
  t.is((await json('GET', `/networks/${ins.body.Id.slice(0, 12)}`)).body.Name, name);
  // service-name resolution: the client reaches the server by name on the user network, the server the client by its alias
  const ex = await json('POST', `/containers/${tag}-cli/exec`, { Cmd: ['wget', '-qO-', `http://${tag}-srv/i`], AttachStdout: true, AttachStderr: true });
  const out = await raw('POST', `/exec/${ex.body.Id}/start`, ({ Detach: false, Tty: true }));
  t.regex(out.body, /served/);
  const ping = await json('POST', `/containers/${tag}-srv/exec`, { Cmd: ['ping', '-c1', '-W2', 'the-client'], AttachStdout: true });
  const pong = await raw('POST', `/exec/${ping.body.Id}/start`, ({ Detach: false, Tty: true }));
  t.regex(pong.body, new RegExp(ip.replace(/\./g, '\\.')));

  // The API shows a user network's Options as docker does (none); the CLI names its bridge.
  const bridge = engine.tsbox(['network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', name]).stdout.trim();
  t.true(links().includes(bridge), bridge);
  t.deepEqual(ins.body.Options, {});
  t.is((await raw('DELETE', `/networks/${name}`)).status, 409, 'in use');
  t.is((await raw('DELETE', '/networks/bridge')).status, 403);
  t.is((await raw('POST', `/networks/${name}/disconnect`, ({ Container: `${tag}-cli` }))).status, 200);
  t.is((await raw('POST', `/networks/${name}/disconnect`, ({ Container: `${tag}-cli` }))).status, 409, 'not connected');
  t.is((await raw('POST', `/networks/${name}/disconnect`, ({ Container: `${tag}-cli`, Force: true }))).status, 200, 'Force');
  t.is(Object.keys((await json('GET', `/networks/${name}`)).body.Containers).length, 1);
  for (const n of ['srv', 'cli']) {
    const d = await raw('DELETE', `/containers/${tag}-${n}?force=true`);
    t.is(d.status, 204, d.body);
  }
  t.is((await raw('DELETE', `/networks/${name}`)).status, 204);
  t.is((await raw('GET', `/networks/${name}`)).status, 404);
  t.is((await raw('DELETE', `/networks/${name}`)).status, 404);
  t.false(links().includes(bridge), `${bridge} left behind`);

  // prune: labelled user networks nobody uses go; the predefined ones stay
  for (const i of [1, 2]) t.is((await json('POST', '/networks/create', { Name: `${tag}-p${i}`, Labels: { prune: String(i) }, IPAM: { Config: [{ Subnet: subnet(i) }] } })).status, 201);
  const pr = await json('POST', `/networks/prune?filters=${q({ label: ['prune=1'] })}`);
  t.deepEqual(pr.body, { NetworksDeleted: [`${tag}-p1`] });
  t.deepEqual((await json('POST', '/networks/prune')).body.NetworksDeleted, [`${tag}-p2`]);
});

test.serial('volumes: create, list {Volumes, Warnings} with filters, inspect, remove (in use, force), prune (filters, all)', async (t) => {
  const v = `${tag}-vol`;
  const c = await json('POST', '/volumes/create', { Name: v, Driver: 'local', Labels: { app: tag }, DriverOpts: {} });
  t.is(c.status, 201);
  t.like(c.body, { Name: v, Driver: 'local', Labels: { app: tag }, Scope: 'local' });
  t.is((await json('POST', '/volumes/create', { Name: v })).status, 201, 'an existing volume: answered with it, as docker');
  t.is((await json('POST', '/volumes/create', { Name: '../x' })).status, 400);
  t.is((await json('POST', '/volumes/create', { Name: `${tag}-y`, Driver: 'nfs' })).status, 400);
  t.is((await json('POST', '/volumes/create', { Name: `${tag}-t`, DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } })).status, 201);
  const l = await json('GET', `/volumes?filters=${q({ label: [`app=${tag}`] })}`);
  t.deepEqual(Object.keys(l.body).sort(), ['Volumes', 'Warnings']);
  t.deepEqual(l.body.Volumes.map((x: any) => x.Name), [v]);
  t.is((await json('GET', `/volumes?filters=${q({ bogus: ['1'] })}`)).status, 400);
  const i = await json('GET', `/volumes/${v}`);
  t.is(i.body.Name, v);
  t.true(i.body.Mountpoint.startsWith(root));
  t.is((await json('GET', `/volumes/${tag}-none`)).status, 404);
  // in use by a container (even a stopped one): 409, with force too
  const ctr = await json('POST', `/containers/create?name=${tag}-vu`, { Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: [`${v}:/data`] } });
  t.is(ctr.status, 201);
  t.is((await raw('DELETE', `/volumes/${v}`)).status, 409);
  t.is((await raw('DELETE', `/volumes/${v}?force=true`)).status, 409);
  t.is((await raw('DELETE', `/containers/${tag}-vu`)).status, 204);
  t.is((await raw('DELETE', `/volumes/${v}`)).status, 204);
  t.is((await raw('DELETE', `/volumes/${v}`)).status, 404);
  t.is((await raw('DELETE', `/volumes/${v}?force=true`)).status, 204, 'force: a missing one is no error');
  // prune: API 1.42+ takes anonymous ones only unless all=true
  t.is((await json('POST', '/volumes/create', { Name: `${tag}-named`, Labels: { p: '1' } })).status, 201);
  const anon = await json('POST', '/volumes/create', {});
  t.is(anon.status, 201);
  t.regex(anon.body.Name, /^[0-9a-f]{64}$/);
  const p1 = await json('POST', '/v1.43/volumes/prune');
  t.false(p1.body.VolumesDeleted.includes(`${tag}-named`));
  const p2 = await json('POST', `/v1.43/volumes/prune?filters=${q({ all: ['true'], label: ['p=1'] })}`);
  t.deepEqual(p2.body.VolumesDeleted, [`${tag}-named`]);
  t.is(typeof p2.body.SpaceReclaimed, 'number');
  t.is((await raw('DELETE', `/volumes/${tag}-t`)).status, 204);
});

test.serial('events: since/until replays, filters, a stream that follows until the client goes away (no fd left); system df', async (t) => {
  // Warm the server up first: its first container start opens fds it keeps (the embedded init, worker threads).
  await json('POST', `/containers/create?name=${tag}-warm`, { Image: 'busybox', Cmd: ['true'] });
  await raw('POST', `/containers/${tag}-warm/start`);
  await json('POST', `/containers/${tag}-warm/wait`);
  await raw('DELETE', `/containers/${tag}-warm`);
  await sleep(5500);
  const start = Date.now() / 1000;
  // A follower on network and volume events, opened before anything happens.
  const got: any[] = [];
  const before = server.fds();
  const req = request({ socketPath: server.sock, path: `/events?filters=${q({ type: ['network', 'volume'] })}` });
  const streamed = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) got.push(JSON.parse(buf.slice(0, i)));
        if (got.some((e) => e.Type === 'volume' && e.Action === 'destroy')) resolve();
      });
    });
  });
  req.end();
  await sleep(300);
  const net = `${tag}-ev`;
  t.is((await json('POST', '/networks/create', { Name: net, IPAM: { Config: [{ Subnet: subnet(3) }] } })).status, 201);
  t.is((await raw('DELETE', `/networks/${net}`)).status, 204);
  const c = await json('POST', `/containers/create?name=${tag}-ev`, { Image: 'busybox', Cmd: ['true'], Labels: { evl: tag } });
  t.is((await raw('POST', `/containers/${tag}-ev/start`)).status, 204);
  await json('POST', `/containers/${tag}-ev/wait`);
  t.is((await json('POST', '/volumes/create', { Name: `${tag}-ev` })).status, 201);
  t.is((await raw('DELETE', `/volumes/${tag}-ev`)).status, 204);
  await Promise.race([streamed, sleep(10_000)]);
  req.destroy();
  // (the container's connect and disconnect on the default bridge come in between)
  t.true(got.some((e) => e.Action === 'connect' && e.Actor.Attributes.name === 'bridge' && e.Actor.Attributes.container === c.body.Id));
  const mine = got.filter((e) => e.Type === 'volume' || e.Actor.Attributes.name === net);
  t.deepEqual(mine.map((e) => `${e.Type} ${e.Action}`), ['network create', 'network destroy', 'volume create', 'volume destroy']);
  const nc = mine[0];
  t.is(nc.Actor.Attributes.name, net);
  t.is(nc.Actor.Attributes.type, 'bridge');
  t.regex(nc.Actor.ID, /^[0-9a-f]{64}$/);
  t.is(typeof nc.time, 'number');
  t.is(typeof nc.timeNano, 'number');
  t.is(nc.scope, 'local');
  // The follower is gone: the server holds no more fds than before it (idle keep-alives close after 5 s).
  for (let i = 0; i < 80 && server.fds() > before + 1; i++) await sleep(100);
  t.true(server.fds() <= before + 1, `server fds ${before} → ${server.fds()}`);

  // A bounded replay: since/until, filtered by container and label, docker's legacy fields for containers.
  const until = Date.now() / 1000 + 0.5;
  const r = await raw('GET', `/events?since=${start}&until=${until.toFixed(9)}&filters=${q({ type: ['container'], label: [`evl=${tag}`] })}`);
  t.is(r.status, 200);
  const evs = r.body.trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(evs.map((e) => e.Action).filter((a) => ['create', 'start', 'die'].includes(a)), ['create', 'start', 'die']);
  for (const e of evs) {
    t.is(e.id, c.body.Id);
    t.is(e.status, e.Action);
    t.is(e.from, 'busybox');
    t.is(e.Actor.Attributes.name, `${tag}-ev`);
  }
  t.is((await raw('GET', `/events?since=${start}&until=${until}&filters=${q({ bogus: ['x'] })}`)).status, 400);
  t.is((await raw('GET', '/events?since=yesterday')).status, 400);

  const df = await json('GET', '/system/df');
  t.is(df.status, 200);
  t.deepEqual(Object.keys(df.body).sort(), ['BuildCache', 'Containers', 'Images', 'LayersSize', 'Volumes']);
  t.true(df.body.Containers.some((x: any) => x.Id === c.body.Id));
  t.true(df.body.Images.length >= 1);
  t.is((await raw('DELETE', `/containers/${tag}-ev`)).status, 204);
});

test.serial('the docker CLI: network create/connect/rm, volume create/ls/rm, events while other commands run; as against dockerd', async (t) => {
  if (!haveDockerd()) return t.pass('dockerd is not installed');
  const ref = await startDockerd();
  let refNet = '';
  try {
    const tar = join(root, 'ref-busybox.tar');
    t.is(outputOf('sh', ['-c', `${DOCKER} save busybox > ${tar}`], { tmp: root }).code, 0);
    t.is(ref.docker(['load', '-i', tar]).code, 0);
    const n = `${tag}-cn`;
    const cases: [string[], RegExp?][] = [
      // Each side its own subnet: two bridges on one host with the same one would take each other's routes.
      [['network', 'create', '--subnet', 'SUBNET', '--label', 'k=v', n]],
      [['network', 'create', n], /already exists/],
      [['network', 'ls', '--filter', `name=${n}`, '--format', '{{.Name}} {{.Driver}} {{.Scope}}']],
      [['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Labels}}', n]],
      [['run', '-d', '--name', `${tag}-c1`, '--network', n, 'busybox', 'sleep', '30']],
      [['run', '-d', '--name', `${tag}-c2`, 'busybox', 'sleep', '30']],
      [['network', 'connect', '--alias', 'second', n, `${tag}-c2`]],
      [['network', 'connect', n, `${tag}-c2`], /already exists in network/],
      [['exec', `${tag}-c1`, 'ping', '-c1', '-W2', 'second'], undefined],
      [['network', 'rm', n], /has active endpoints/],
      [['network', 'disconnect', n, `${tag}-c2`]],
      [['network', 'rm', 'no-such-net'], /No such network: no-such-net/],
      // dockerd runs here with --bridge=none: host is the predefined network both have
      [['network', 'rm', 'host'], /host is a pre-defined network and cannot be removed/],
      [['rm', '-f', `${tag}-c1`, `${tag}-c2`]],
      [['network', 'rm', n]],
      [['volume', 'create', '--label', 'a=b', `${tag}-cv`]],
      [['volume', 'ls', '--filter', `name=${tag}-cv`, '--format', '{{.Name}} {{.Driver}}']],
      [['volume', 'ls', '--filter', 'bogus=1'], /Error response from daemon: Invalid filter 'bogus'/],
      [['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}', `${tag}-cv`]],
      [['volume', 'rm', `${tag}-cv`]],
      [['volume', 'rm', `${tag}-cv`], /Error: No such volume: o\d+-cv/],
      [['volume', 'inspect', `${tag}-cv`], /Error: No such volume: o\d+-cv/],
    ];
    const ids = (x: string) => x.replace(subnet(4), 'SUBNET').replace(subnet(6), 'SUBNET').replace(/\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b/g, 'ID');
    const t0 = Math.floor(Date.now() / 1000);
    for (const [args, err] of cases) {
      if (args[1] === 'rm' && args[2] === n) refNet = ref.docker(['network', 'inspect', '-f', '{{.Id}}', n]).stdout.trim();
      const ours = dockerCli(args.map((a) => a.replace('SUBNET', subnet(4))));
      const theirs = ref.docker(args.map((a) => a.replace('SUBNET', subnet(6))));
      const what = `docker ${args.join(' ')}`;
      if (args[0] === 'exec') {
        // dockerd runs here with --iptables=false, and the host's FORWARD policy drops its bridge's
        // traffic: the reference resolves the alias the same way, its packets do not get through.
        const first = (x: string) => x.split('\n')[0].replace(/\d+\.\d+\.\d+\.\d+/, 'IP');
        t.is(first(ours.stdout), first(theirs.stdout), `${what}: the alias resolves`);
        t.is(ours.code, 0, `${what}: ${ours.stderr}`);
        continue;
      }
      t.is(ours.code, theirs.code, `${what}: exit code (ours: ${ours.stdout.trim()} ${ours.stderr.trim()} | dockerd: ${theirs.stdout.trim()} ${theirs.stderr.trim()})`);
      t.is(ids(ours.stdout), ids(theirs.stdout), `${what}: stdout`);
      if (err) {
        t.regex(ours.stderr, err, `${what}: stderr (tsbox)`);
        t.regex(theirs.stderr, err, `${what}: stderr (dockerd)`);
      }
    }
    // docker events over what just ran: the same network and volume events, in the same order, as docker prints them.
    const t1 = Math.floor(Date.now() / 1000) + 1;
    const evArgs = ['events', '--since', String(t0), '--until', String(t1), '--filter', 'type=network', '--filter', 'type=volume', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}'];
    // The reference has no default bridge here (--bridge=none): its lines are left out. dockerd 20.10
    // sends a running container's disconnect twice: a line repeated at once counts once. Containers are
    // named by their order of appearance.
    const norm = (out: string) => {
      const names = new Map<string, string>();
      return out
        .split('\n')
        .filter((l, i, a) => l && !/ bridge /.test(l) && l !== a[i - 1])
        .map((l) => l.replace(/[0-9a-f]{64}/, (id) => names.get(id) ?? (names.set(id, `c${names.size + 1}`), `c${names.size}`)));
    };
    const ours = dockerCli(evArgs);
    const theirs = ref.docker(evArgs);
    t.is(ours.code, 0, ours.stderr);
    t.is(theirs.code, 0, theirs.stderr);
    t.deepEqual(norm(ours.stdout), norm(theirs.stdout));
    t.regex(ours.stdout, new RegExp(`network create ${n}`));
    // volume events have no name attribute: the volume is the actor
    t.regex(ours.stdout, /volume create/);
    // docker events following while other commands run, ended by the client (SIGTERM at the timeout)
    const follow = outputOf('sh', ['-c', `(sleep 1; ${DOCKER} volume create ${tag}-fv >/dev/null; ${DOCKER} volume rm ${tag}-fv >/dev/null) & exec timeout 4 ${DOCKER} events --filter type=volume --format '{{.Type}} {{.Action}} {{.Actor.ID}}'`], { tmp: root });
    t.is(follow.stdout, `volume create ${tag}-fv\nvolume destroy ${tag}-fv\n`);
  } finally {
    t.deepEqual(await ref.stop(), [], 'dockerd left cgroups behind');
    // dockerd leaves a removed user network's bridge on the host: the reference's own mess, cleaned here.
    for (const l of links()) if (l.startsWith('br-') && refNet.startsWith(l.slice(3))) execFileSync('ip', ['link', 'del', l]);
  }
});

test.serial('docker-compose: two services from the registry and one built (FROM the registry, RUN, COPY), depends_on, a user network with name resolution, a named volume across down/up, a published port; up/ps/logs/exec/restart/down -v, and up --build after a change in the context (recreated on the new image)', async (t) => {
  const dir = join(root, 'compose');
  mkdirSync(join(dir, 'api'), { recursive: true });
  // The built service: FROM the registry's image (the builder pulls it), a RUN and a COPY.
  writeFileSync(join(dir, 'api', 'Dockerfile'), `FROM ${image}\nRUN mkdir -p /srv && echo "run at build" > /srv/built\nCOPY greeting.txt /srv/greeting.txt\nCMD ["httpd", "-f", "-p", "8081", "-h", "/srv"]\n`);
  writeFileSync(join(dir, 'api', 'greeting.txt'), 'copied at build\n');
  const port = await freePort();
  const project = `tsboxobj${process.pid}`;
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    `version: "3.8"
services:
  web:
    image: ${image}
    command: ["sh", "-c", "mkdir -p /data/www; [ -f /data/www/first ] || echo $$RANDOM-$$RANDOM > /data/www/first; echo \\"$$GREETING\\" > /data/www/greeting; echo web up; exec httpd -f -p 8080 -h /data/www"]
    environment:
      GREETING: hello from compose
    volumes:
      - data:/data
    ports:
      - "127.0.0.1:${port}:8080"
    networks: [appnet]
    healthcheck:
      test: ["CMD", "true"]
  client:
    image: ${image}
    depends_on: [web]
    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web:8080/greeting && break; sleep 0.5; done; exec sleep 300"]
    networks: [appnet]
  api:
    build:
      context: ./api
    networks: [appnet]
volumes:
  data:
networks:
  appnet:
    ipam:
      config:
        - subnet: ${subnet(5)}
`,
  );
  const compose = (...args: string[]) => outputOf('docker-compose', ['-p', project, ...args], { tmp: root, cwd: dir, timeout: 120_000 });
  const fetchText = async (path: string) => {
    for (let i = 0; i < 50; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}${path}`);
        if (r.ok) return await r.text();
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    return '';
  };
  try {
    const up = compose('up', '-d', '--build');
    t.is(up.code, 0, up.stderr);
    t.regex(up.stdout + up.stderr, /Successfully built [0-9a-f]{12}/);
    t.regex(up.stderr, /Creating network "\w+_appnet"/);
    t.regex(up.stderr, /Creating volume "\w+_data"/);
    const ps = compose('ps');
    t.is(ps.code, 0, ps.stderr);
    t.regex(ps.stdout, new RegExp(`${project}_web_1 .* Up .*127\\.0\\.0\\.1:${port}->8080/tcp`));
    t.regex(ps.stdout, new RegExp(`${project}_client_1 .* Up`));
    t.regex(ps.stdout, new RegExp(`${project}_api_1 .* Up`));
    t.is(await fetchText('/greeting'), 'hello from compose\n', 'the published port, and environment');
    // compose finds its containers by their com.docker.compose.* labels
    const labelled = (await json('GET', `/containers/json?filters=${q({ label: [`com.docker.compose.project=${project}`] })}`)).body;
    t.is(labelled.length, 3);
    // the other services reach the built one by its service name: what its RUN made and its COPY brought
    for (const svc of ['client', 'web']) {
      let got = { code: -1 as number | null, stdout: '', stderr: '' };
      for (let i = 0; i < 30 && got.code !== 0; i++, await sleep(100)) got = compose('exec', '-T', svc, 'sh', '-c', 'wget -qO- http://api:8081/built && wget -qO- http://api:8081/greeting.txt');
      t.is(got.stdout, 'run at build\ncopied at build\n', `${svc}: ${got.stderr}`);
    }
    // the client reached web by its service name on the user network
    let logs = '';
    for (let i = 0; i < 50 && !/hello from compose/.test(logs); i++, await sleep(100)) logs = compose('logs', '--no-color').stdout;
    t.regex(logs, /client_1 +\| hello from compose/);
    t.regex(logs, /web_1 +\| web up/);
    const ex = compose('exec', '-T', 'client', 'wget', '-qO-', 'http://web:8080/greeting');
    t.is(ex.code, 0, ex.stderr);
    t.is(ex.stdout, 'hello from compose\n');
    const first = await fetchText('/first');
    t.regex(first, /^\d+-\d+\n$/);
    const rs = compose('restart');
    t.is(rs.code, 0, rs.stderr);
    t.is(await fetchText('/greeting'), 'hello from compose\n');
    // down keeps the named volume; up again finds what the first up wrote in it
    const down = compose('down');
    t.is(down.code, 0, down.stderr);
    t.is((await json('GET', `/volumes/${project}_data`)).status, 200);
    t.is((await json('GET', `/networks/${project}_appnet`)).status, 404);
    t.is(compose('up', '-d').code, 0);
    t.is(await fetchText('/first'), first, 'the named volume survived down and up');
    t.regex(compose('exec', '-T', 'client', 'wget', '-qO-', 'http://api:8081/greeting.txt').stdout, /copied at build/, 'the built service after down and up');
    // A change in the build context: up --build builds again and recreates the service's container on the
    // new image; the old image stays, dangling, as under dockerd (the name moved on).
    const before = (await json('GET', `/images/${project}_api/json`)).body.Id;
    writeFileSync(join(dir, 'api', 'greeting.txt'), 'copied at the second build\n');
    const again = compose('up', '-d', '--build');
    t.is(again.code, 0, again.stderr);
    t.regex(again.stderr, new RegExp(`Recreating ${project}_api_1`));
    let second = '';
    for (let i = 0; i < 30 && !/second/.test(second); i++, await sleep(100)) second = compose('exec', '-T', 'client', 'wget', '-qO-', 'http://api:8081/greeting.txt').stdout;
    t.is(second, 'copied at the second build\n');
    const dangling = (await json('GET', `/images/json?filters=${q({ dangling: ['true'] })}`)).body;
    t.deepEqual(dangling.filter((i: { Id: string }) => i.Id === before).map((i: { RepoTags: string[] }) => i.RepoTags), [['<none>:<none>']]);
    // --rmi local: compose removes the image it built, too
    const downV = compose('down', '-v', '--rmi', 'local');
    t.is(downV.code, 0, downV.stderr);
    t.regex(downV.stderr, /Removing volume \w+_data/);
    t.regex(downV.stderr, new RegExp(`Removing image ${project}_api`));
  } finally {
    compose('down', '-v', '--rmi', 'local', '-t', '1');
  }
  t.deepEqual((await json('GET', `/images/json?filters=${q({ reference: [`${project}_api`] })}`)).body, [], 'the built image is gone');
  t.is((await json('GET', `/images/${encodeURIComponent(image)}/json`)).status, 200, 'the base image stays (compose removes only what it built)');
  t.deepEqual((await json('GET', '/containers/json?all=1')).body, [], 'no container left, the build\'s own included');
  t.is((await json('GET', `/volumes/${project}_data`)).status, 404);
  t.deepEqual((await json('GET', `/containers/json?all=true&filters=${q({ label: [`com.docker.compose.project=${project}`] })}`)).body, []);
  t.deepEqual((await json('GET', `/networks?filters=${q({ name: [project] })}`)).body, []);
});

test.serial('testcontainers: a Network with two containers that reach each other by alias, with no host override', async (t) => {
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  delete process.env.TESTCONTAINERS_HOST_OVERRIDE;
  const { GenericContainer, Network } = await import('testcontainers');
  const network = await new Network().start();
  try {
    const srv = await new GenericContainer('busybox').withNetwork(network).withNetworkAliases('tc-server').withExposedPorts(8080).withCommand(['sh', '-c', 'echo tc-ok > /tmp/i; exec httpd -f -p 8080 -h /tmp']).start();
    const cli = await new GenericContainer('busybox').withNetwork(network).withNetworkAliases('tc-client').withCommand(['sleep', '60']).start();
    try {
      let r = { exitCode: -1, output: '' };
      for (let i = 0; i < 20 && r.exitCode !== 0; i++, await sleep(100)) r = await cli.exec(['timeout', '3', 'wget', '-qO-', 'http://tc-server:8080/i']);
      t.is(r.output, 'tc-ok\n', JSON.stringify(r));
      t.is((await srv.exec(['ping', '-c1', '-W2', 'tc-client'])).exitCode, 0);
      // the host testcontainers found (the bridge network's gateway, asked for because of /.dockerenv) reaches the mapped port
      const page = await fetch(`http://${srv.getHost()}:${srv.getMappedPort(8080)}/i`).then((x) => x.text());
      t.is(page, 'tc-ok\n');
    } finally {
      await cli.stop();
      await srv.stop();
    }
  } finally {
    await network.stop();
  }
});
