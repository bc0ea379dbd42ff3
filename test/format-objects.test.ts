// network ls and volume ls through docker's formatter: every field of docker's networkContext and
// volumeContext, the default tables unchanged, json, template errors with docker's exit codes, inspect -f;
// their filters through the one filterObjects (network type, dangling, label k and k=v, name as docker's
// regular expression); Go's own time.Time.String() as the reference of CreatedAt, podman beside for the
// names, drivers and filter results.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { formatList, FormatError } from '../ts/cli/format/index.js';
import { goTimeOfRfc3339, networkFormat, volumeFormat } from '../ts/cli/format/contexts.js';
import { filterObjects, type ObjectFacts } from '../ts/engine/filters.js';
import type { NetworkInspect } from '../ts/engine/networks.js';
import type { VolumeInspect } from '../ts/engine/volumes.js';
import { engineRoot } from './helpers/engine-root.js';
import { unmountBelow } from './helpers/leftovers.js';
import { havePodman } from './helpers/podman-ref.js';

// The default bridge's name and state are private to this file (no container here plugs it).
const uniq = process.pid.toString(36);
process.env.TSBOX_BRIDGE_NAME = `tsbo${uniq}`;
process.env.TSBOX_NET_DIR = mkdtempSync(join(tmpdir(), 'tsbox-fmtobj-net-'));

const ID = 'b85a247de91f0123456789abcdef0123456789abcdef0123456789abcdef0123';
const net = (o: Partial<NetworkInspect>): NetworkInspect =>
  ({
    Name: 'bridge', Id: ID, Created: '2026-12-06T23:34:18.123456789Z', Scope: 'local', Driver: 'bridge', EnableIPv6: false, Internal: false, Labels: {},
    IPAM: { Driver: 'default', Options: {}, Config: [] }, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, ...o,
  }) as NetworkInspect;
const vol = (o: Partial<VolumeInspect>): VolumeInspect => ({ Name: 'v', Driver: 'local', Mountpoint: '/r/volumes/v/_data', CreatedAt: '2026-12-06T23:34:18Z', Labels: {}, Options: {}, Scope: 'local', ...o });

// --- the contexts -----------------------------------------------------------------------------------

test("network ls: docker's networkContext fields, the default table, json", (t) => {
  const nets = [net({}), net({ Name: 'web-net', Id: `ab${ID.slice(2)}`, Labels: { tier: 'front', a: '1' }, Internal: true, EnableIPv6: true, Created: '2026-12-06T23:34:18Z' })];
  const f = networkFormat({ trunc: true });
  t.is(formatList('{{.ID}}|{{.Name}}|{{.Driver}}|{{.Scope}}|{{.IPv6}}|{{.Internal}}|{{.Labels}}|{{.Label "tier"}}|{{.Label "nope"}}|{{.CreatedAt}}', nets, f), [
    'b85a247de91f|bridge|bridge|local|false|false||||2026-12-06 23:34:18.123456789 +0000 UTC',
    'ab5a247de91f|web-net|bridge|local|true|true|a=1,tier=front|front||2026-12-06 23:34:18 +0000 UTC',
    '',
  ].join('\n'));
  t.is(formatList('{{.ID}}', nets, networkFormat({ trunc: false })), `${ID}\nab${ID.slice(2)}\n`, '--no-trunc');
  // docker's default table (tabwriter: minwidth 10, padding 3), as network ls printed it before.
  t.is(formatList(undefined, nets, f), 'NETWORK ID     NAME      DRIVER    SCOPE\nb85a247de91f   bridge    bridge    local\nab5a247de91f   web-net   bridge    local\n');
  t.is(formatList('table', nets, f), formatList(undefined, nets, f));
  t.is(formatList('table {{.Name}}\t{{.IPv6}}\t{{.Internal}}\t{{.Labels}}\t{{.Label "tier"}}\t{{.CreatedAt}}', nets.slice(1), f), 'NAME      IPV6      INTERNAL   LABELS           LABEL     CREATED AT\nweb-net   true      true       a=1,tier=front   front     2026-12-06 23:34:18 +0000 UTC\n');
  t.deepEqual(JSON.parse(formatList('json', nets.slice(1), f)), { CreatedAt: '2026-12-06 23:34:18 +0000 UTC', Driver: 'bridge', ID: 'ab5a247de91f', IPv6: 'true', Internal: 'true', Labels: 'a=1,tier=front', Name: 'web-net', Scope: 'local' });
  const e = t.throws(() => formatList('{{.Mountpoint}}', nets, f), { instanceOf: FormatError });
  t.is(e.message, 'template parsing error: template: :1:2: executing "" at <.Mountpoint>: can\'t evaluate field Mountpoint in type *network.networkContext');
  t.is(e.exitCode, 1);
});

test("volume ls: docker's volumeContext fields, the default table, json", (t) => {
  const vols = [vol({ Name: 'data', Labels: { env: 'prod', a: 'b' } }), vol({ Name: 'cache', Driver: 'local', Mountpoint: '/r/volumes/cache/_data' })];
  const f = volumeFormat();
  t.is(formatList('{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Mountpoint}}|{{.Labels}}|{{.Label "env"}}|{{.Links}}|{{.Size}}', vols, f), 'data|local|local|/r/volumes/v/_data|a=b,env=prod|prod|N/A|N/A\ncache|local|local|/r/volumes/cache/_data|||N/A|N/A\n');
  // Links and Size once usage is known (docker system df -v's numbers): a count and go-units' HumanSize.
  t.is(formatList('{{.Links}} {{.Size}}', vols.slice(0, 1), volumeFormat({ usage: () => ({ RefCount: 2, Size: 1_234_567 }) })), '2 1.235MB\n');
  t.is(formatList(undefined, vols, f), 'DRIVER    VOLUME NAME\nlocal     data\nlocal     cache\n');
  t.is(formatList('table {{.Name}}\t{{.Labels}}\t{{.Links}}\t{{.Size}}\t{{.Mountpoint}}', vols.slice(1), f), 'VOLUME NAME   LABELS    LINKS     SIZE      MOUNTPOINT\ncache                   N/A       N/A       /r/volumes/cache/_data\n');
  t.deepEqual(JSON.parse(formatList('json', vols.slice(0, 1), f)), {
    Availability: 'N/A', Driver: 'local', Group: 'N/A', Labels: 'a=b,env=prod', Links: 'N/A', Mountpoint: '/r/volumes/v/_data', Name: 'data', Scope: 'local', Size: 'N/A', Status: 'N/A',
  });
  const e = t.throws(() => formatList('{{.ID}}', vols, f), { instanceOf: FormatError });
  t.is(e.message, 'template parsing error: template: :1:2: executing "" at <.ID>: can\'t evaluate field ID in type *formatter.volumeContext');
});

/** Go's time.Parse(time.RFC3339Nano, s).String() for each s, run by Go itself in the given zone. */
function goReference(times: string[], tz: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-fmtobj-go-'));
  try {
    writeFileSync(
      join(dir, 'main.go'),
      'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"time"\n)\n\nfunc main() {\n\tfor _, s := range os.Args[1:] {\n\t\tt, err := time.Parse(time.RFC3339Nano, s)\n\t\tif err != nil {\n\t\t\tpanic(err)\n\t\t}\n\t\tfmt.Println(t.String())\n\t}\n}\n',
    );
    mkdirSync(join(dir, 'cache'));
    const out = execFileSync('go', ['run', join(dir, 'main.go'), ...times], { encoding: 'utf8', env: { ...process.env, TZ: tz, GOCACHE: join(dir, 'cache'), GO111MODULE: 'off' }, timeout: 120000 });
    return out.split('\n').slice(0, -1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const haveGo = () => spawnSync('sh', ['-c', 'command -v go']).status === 0;

test.serial("CreatedAt: Go's time.Time.String() of the daemon's RFC 3339 time, compared with Go's own", (t) => {
  if (!haveGo()) return t.pass('go not installed');
  const times = ['2026-12-06T23:34:18.123456789Z', '2026-12-06T23:34:18.120Z', '2026-12-06T23:34:18Z', '1970-01-01T00:00:00Z', '2026-12-06T23:34:18.5+01:00', '2026-07-01T10:00:00-07:30', '2026-01-05T10:00:00-05:00', '2026-07-05T10:00:00-04:00', '2026-07-05T10:00:00+00:00'];
  const was = process.env.TZ;
  try {
    for (const tz of ['UTC', 'America/New_York']) {
      process.env.TZ = tz; // Node reads it again when it is set
      t.deepEqual(times.map(goTimeOfRfc3339), goReference(times, tz), tz);
    }
  } finally {
    if (was === undefined) delete process.env.TZ;
    else process.env.TZ = was;
  }
});

// --- the filters ------------------------------------------------------------------------------------

test("network filters: type, dangling, label k and k=v, name as docker's regular expression, id, scope, driver, docker's errors", (t) => {
  const items: [string, ObjectFacts][] = [
    ['bridge', { name: 'bridge', id: 'b85a', driver: 'bridge', labels: {}, type: 'builtin', inUse: true, scope: 'local' }],
    ['none', { name: 'none', id: '4c30', driver: 'null', labels: {}, type: 'builtin', inUse: true, scope: 'local' }],
    ['front', { name: 'front-net', id: 'ab12', driver: 'bridge', labels: { tier: 'front', owner: 'ops' }, type: 'custom', inUse: false, scope: 'local' }],
    ['back', { name: 'back-net', id: 'ab34', driver: 'bridge', labels: { tier: 'back' }, type: 'custom', inUse: true, scope: 'local' }],
  ];
  const f = (filters: Record<string, string | string[]>) => filterObjects('network', items, filters);
  t.deepEqual(f({ type: 'builtin' }), ['bridge', 'none']);
  t.deepEqual(f({ type: 'custom' }), ['front', 'back']);
  t.deepEqual(f({ type: ['custom', 'builtin'] }), ['bridge', 'none', 'front', 'back']);
  t.throws(() => f({ type: 'user' }), { message: "Invalid filter: 'type'='user'", code: 'ERR_INVALID_FILTER' });
  t.deepEqual(f({ dangling: 'true' }), ['front'], 'builtin networks are never dangling');
  t.deepEqual(f({ dangling: '1' }), ['front']);
  t.deepEqual(f({ dangling: 'false' }), ['bridge', 'none', 'back']);
  t.throws(() => f({ dangling: 'yes' }), { message: "Invalid filter 'dangling=[yes]'", code: 'ERR_INVALID_FILTER' });
  t.deepEqual(f({ label: 'tier' }), ['front', 'back']);
  t.deepEqual(f({ label: 'tier=back' }), ['back']);
  t.deepEqual(f({ label: ['tier', 'owner=ops'] }), ['front'], 'each label filter must match');
  t.deepEqual(f({ label: 'tier=' }), [], 'k= is the empty value');
  t.deepEqual(f({ name: 'net' }), ['front', 'back']);
  t.deepEqual(f({ name: '^b' }), ['bridge', 'back']);
  t.deepEqual(f({ name: ['none', 'front'] }), ['none', 'front']);
  t.deepEqual(f({ id: 'ab' }), ['front', 'back']);
  t.deepEqual(f({ id: 'b8' }), ['bridge']);
  t.deepEqual(f({ driver: 'null' }), ['none']);
  t.deepEqual(f({ scope: 'swarm' }), []);
  t.deepEqual(f({ driver: 'bridge', type: 'custom', label: 'tier=front' }), ['front']);
  t.throws(() => f({ mode: 'x' }), { message: "Invalid filter 'mode'" });
  // Volumes know no type or id.
  t.throws(() => filterObjects('volume', [], { type: 'custom' }), { message: "Invalid filter 'type'" });
  t.throws(() => filterObjects('volume', [], { id: 'x' }), { message: "Invalid filter 'id'" });
});

// --- the CLI on a real root, beside podman -----------------------------------------------------------

const e = engineRoot('tsbox-fmtobj-');
test.before(() => e.importBusybox());
test.after.always(() => {
  // A failed test's container and networks first: a network's bridge goes with its rm.
  e.tsbox(['rm', '-f', `user${uniq}`]);
  for (const n of [`fa${uniq}-net`, `fb${uniq}-net`, `pp${uniq}-n1`, `pp${uniq}-n2`]) e.tsbox(['network', 'rm', n]);
  e.remove();
  rmSync(process.env.TSBOX_NET_DIR!, { recursive: true, force: true });
});

const lines = (s: string) => s.split('\n').filter(Boolean);

test.serial('volume ls and network ls: --format, -q, json, filters, template errors; inspect -f', (t) => {
  const { tsbox } = e;
  const a = `fa${uniq}`;
  const b = `fb${uniq}`;
  t.is(tsbox(['volume', 'create', '--label', 'env=prod', '--label', 'team=a', `${a}-vol`]).code, 0);
  t.is(tsbox(['volume', 'create', `${b}-vol`]).code, 0);
  t.is(tsbox(['network', 'create', '--label', 'env=prod', `${a}-net`]).code, 0);
  t.is(tsbox(['network', 'create', `${b}-net`]).code, 0);
  // A container (exited, kept) that names b's volume and network: they are in use, not dangling.
  let r = tsbox(['run', '--name', `user${uniq}`, '-v', `${b}-vol:/data`, '--network', `${b}-net`, 'busybox', 'true']);
  t.is(r.code, 0, r.stderr);

  // volume ls: the default table as before, each field, json, -q.
  const mp = (n: string) => join(e.root, 'volumes', n, '_data');
  t.is(tsbox(['volume', 'ls']).stdout, `DRIVER    VOLUME NAME\nlocal     ${a}-vol\nlocal     ${b}-vol\n`);
  t.is(
    tsbox(['volume', 'ls', '--format', '{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Mountpoint}}|{{.Labels}}|{{.Label "env"}}|{{.Links}}|{{.Size}}']).stdout,
    `${a}-vol|local|local|${mp(`${a}-vol`)}|env=prod,team=a|prod|N/A|N/A\n${b}-vol|local|local|${mp(`${b}-vol`)}|||N/A|N/A\n`,
  );
  t.is(JSON.parse(lines(tsbox(['volume', 'ls', '--format', 'json']).stdout)[0]).Labels, 'env=prod,team=a');
  t.is(tsbox(['volume', 'ls', '-q']).stdout, `${a}-vol\n${b}-vol\n`);
  t.is(tsbox(['volume', 'ls', '-q', '--format', '{{.Driver}}']).stdout, 'local\nlocal\n', 'a template of one\'s own wins over -q, as in docker');
  const vw = Math.max(10, 'VOLUME NAME'.length + 3, `${a}-vol`.length + 3);
  t.is(tsbox(['volume', 'ls', '--format', 'table {{.Name}}\t{{.Label "team"}}', '--filter', 'label=team']).stdout, `${'VOLUME NAME'.padEnd(vw)}LABEL\n${`${a}-vol`.padEnd(vw)}a\n`);
  // Filters: label k, k=v, name, dangling, docker's errors.
  const vq = (...f: string[]) => tsbox(['volume', 'ls', '-q', ...f.flatMap((x) => ['--filter', x])]).stdout;
  t.is(vq('label=env'), `${a}-vol\n`);
  t.is(vq('label=env=prod'), `${a}-vol\n`);
  t.is(vq('label=env=dev'), '');
  t.is(vq(`name=^${b}`), `${b}-vol\n`);
  t.is(vq('dangling=true'), `${a}-vol\n`);
  t.is(vq('dangling=false'), `${b}-vol\n`);
  t.is(vq('driver=local', 'label=team=a'), `${a}-vol\n`);
  r = tsbox(['volume', 'ls', '--filter', 'dangling=maybe']);
  t.deepEqual([r.code, r.stderr], [1, "Error response from daemon: Invalid filter 'dangling=[maybe]'\n"]);
  r = tsbox(['volume', 'ls', '--filter', 'type=custom']);
  t.deepEqual([r.code, r.stderr], [1, "Error response from daemon: Invalid filter 'type'\n"]);
  r = tsbox(['volume', 'ls', '--filter', 'noequals']);
  t.deepEqual([r.code, r.stderr], [125, 'invalid argument "noequals" for "-f, --filter" flag: bad format of filter (expected name=value)\n']);
  // Template errors: docker's words and codes.
  r = tsbox(['volume', 'ls', '--format', '{{.ID}}']);
  t.deepEqual([r.code, r.stdout], [1, '']);
  t.regex(r.stderr, /^template parsing error: .*can't evaluate field ID in type \*formatter\.volumeContext\n$/);
  r = tsbox(['volume', 'ls', '--format', '{{.Name']);
  t.deepEqual([r.code, r.stderr], [1, 'template parsing error: template: :1: unclosed action\n']);
  // volume inspect -f / --format.
  t.is(tsbox(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Labels.env}} {{.Labels.nope}} {{json .Labels}}', `${a}-vol`, `${b}-vol`]).stdout, `${a}-vol local prod <no value> {"env":"prod","team":"a"}\n${b}-vol local <no value> <no value> {}\n`);
  t.is(tsbox(['volume', 'inspect', '--format', '{{.Mountpoint}}', `${a}-vol`]).stdout, `${mp(`${a}-vol`)}\n`);
  r = tsbox(['volume', 'inspect', '-f', '{{.Name}}', `${a}-vol`, 'missing']);
  t.deepEqual([r.code, r.stdout, r.stderr], [1, `${a}-vol\n`, 'Error: No such volume: missing\n']);
  r = tsbox(['volume', 'inspect', '-f', '{{.Nope}}', `${a}-vol`]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^template parsing error: .*map has no entry for key "Nope"\n$/);
  t.is(tsbox(['volume', 'inspect', '-f', '{{nope}}', `${a}-vol`]).code, 64);

  // network ls: the default table as before (docker's columns), each field, --no-trunc, -q, json.
  const insp = (n: string) => JSON.parse(tsbox(['network', 'inspect', n]).stdout)[0] as NetworkInspect;
  const na = insp(`${a}-net`);
  const nb = insp(`${b}-net`);
  const builtin = ['bridge', 'host', 'none'].map(insp);
  const w = `${a}-net`.length + 3;
  t.is(
    tsbox(['network', 'ls']).stdout,
    `${'NETWORK ID'.padEnd(15)}${'NAME'.padEnd(w)}DRIVER    SCOPE\n${[...builtin, na, nb].map((n) => `${n.Id.slice(0, 12)}   ${n.Name.padEnd(w)}${n.Driver.padEnd(10)}local\n`).join('')}`,
  );
  t.is(tsbox(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']).stdout, `bridge bridge\nhost host\nnone null\n${a}-net bridge\n${b}-net bridge\n`, "docker's documented builtin networks");
  r = tsbox(['network', 'ls', '--filter', `name=${a}`, '--format', '{{.ID}}|{{.Name}}|{{.Driver}}|{{.Scope}}|{{.IPv6}}|{{.Internal}}|{{.Labels}}|{{.Label "env"}}|{{.CreatedAt}}']);
  t.is(r.stdout, `${na.Id.slice(0, 12)}|${a}-net|bridge|local|false|false|env=prod|prod|${goTimeOfRfc3339(na.Created)}\n`, r.stderr);
  t.regex(goTimeOfRfc3339(na.Created), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} \S+$/);
  t.is(tsbox(['network', 'ls', '--no-trunc', '--filter', `name=${a}`, '--format', '{{.ID}}']).stdout, `${na.Id}\n`);
  t.is(tsbox(['network', 'ls', '-q', '--filter', `name=${a}`]).stdout, `${na.Id.slice(0, 12)}\n`);
  t.is(tsbox(['network', 'ls', '-q', '--no-trunc', '--filter', `name=${a}`]).stdout, `${na.Id}\n`);
  t.deepEqual(JSON.parse(tsbox(['network', 'ls', '--format', 'json', '--filter', `name=${b}`]).stdout), {
    CreatedAt: goTimeOfRfc3339(nb.Created), Driver: 'bridge', ID: nb.Id.slice(0, 12), IPv6: 'false', Internal: 'false', Labels: '', Name: `${b}-net`, Scope: 'local',
  });
  // Filters: type, dangling (builtins never), label k and k=v, id, docker's errors.
  const nq = (...f: string[]) => lines(tsbox(['network', 'ls', '--format', '{{.Name}}', ...f.flatMap((x) => ['--filter', x])]).stdout).join(' ');
  t.is(nq('type=builtin'), 'bridge host none');
  t.is(nq('type=custom'), `${a}-net ${b}-net`);
  t.is(nq('dangling=true'), `${a}-net`);
  t.is(nq('dangling=false'), `bridge host none ${b}-net`);
  t.is(nq('label=env'), `${a}-net`);
  t.is(nq('label=env=prod', 'type=custom'), `${a}-net`);
  t.is(nq('label=env=dev'), '');
  t.is(nq(`id=${nb.Id.slice(0, 8)}`), `${b}-net`);
  t.is(nq('driver=null'), 'none');
  r = tsbox(['network', 'ls', '--filter', 'type=user']);
  t.deepEqual([r.code, r.stderr], [1, "Error response from daemon: Invalid filter: 'type'='user'\n"]);
  r = tsbox(['network', 'ls', '--filter', 'dangling=x']);
  t.deepEqual([r.code, r.stderr], [1, "Error response from daemon: Invalid filter 'dangling=[x]'\n"]);
  r = tsbox(['network', 'ls', '--filter', 'colour=red']);
  t.deepEqual([r.code, r.stderr], [1, "Error response from daemon: Invalid filter 'colour'\n"]);
  r = tsbox(['network', 'ls', '--format', '{{.Mountpoint}}']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^template parsing error: .*can't evaluate field Mountpoint in type \*network\.networkContext\n$/);
  // network inspect -f / --format.
  t.is(tsbox(['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Labels.env}} {{len .IPAM.Config}}', `${a}-net`, 'none']).stdout, `${a}-net bridge prod 1\nnone null <no value> 0\n`);
  t.is(tsbox(['network', 'inspect', '--format', '{{json .Labels}}', `${a}-net`]).stdout, '{"env":"prod"}\n');
  r = tsbox(['network', 'inspect', '-f', '{{.Name}}', `${a}-net`, 'missing']);
  t.deepEqual([r.code, r.stdout], [1, `${a}-net\n`]);
  t.is(tsbox(['network', 'inspect', '-f', '{{.Nope}}', `${a}-net`]).code, 1);
  t.is(tsbox(['network', 'inspect', '-f', '{{if}}', `${a}-net`]).code, 64);

  t.is(tsbox(['rm', `user${uniq}`]).code, 0);
  for (const n of [a, b]) {
    t.is(tsbox(['network', 'rm', `${n}-net`]).code, 0);
    t.is(tsbox(['volume', 'rm', `${n}-vol`]).code, 0);
  }
  t.deepEqual(lines(tsbox(['network', 'ls', '--format', '{{.Name}}']).stdout), ['bridge', 'host', 'none']);
  // This file's bridges by name: other files make bridges of their own meanwhile.
  const ours = [na, nb].map((n) => n.Options['com.docker.network.bridge.name']);
  t.is(ours.filter(Boolean).length, 2);
  t.deepEqual(readdirSync('/sys/class/net').filter((l) => ours.includes(l)), [], "no bridge of this file's left");
});

test.serial("beside podman: volume ls and network ls names, drivers and filter results", (t) => {
  if (!havePodman()) return t.pass('podman not installed');
  // podman with private storage and a private network config dir: nothing runs, no bridge is made
  // (creating or listing networks only writes and reads their configs).
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-fmtobj-podman-'));
  for (const d of ['root', 'runroot', 'tmp', 'net']) mkdirSync(join(dir, d));
  t.teardown(() => {
    unmountBelow(dir); // podman's overlay driver mounts its own directory
    rmSync(dir, { recursive: true, force: true });
  });
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--network-config-dir', join(dir, 'net')];
  const podman = (args: string[]) => spawnSync('podman', [...base, ...args], { encoding: 'utf8' });
  const { tsbox } = e;
  const p = `pp${uniq}`;
  const hadBridge = spawnSync('ip', ['link', 'show', 'cni-podman0']).status === 0;
  for (const cli of [(x: string[]) => ({ code: tsbox(x).code }), (x: string[]) => ({ code: podman(x).status })]) {
    t.is(cli(['volume', 'create', '--label', 'env=prod', `${p}-v1`]).code, 0);
    t.is(cli(['volume', 'create', `${p}-v2`]).code, 0);
    t.is(cli(['network', 'create', '--label', `owner=${uniq}`, '--label', 'env=prod', `${p}-n1`]).code, 0);
    t.is(cli(['network', 'create', '--label', `owner=${uniq}`, `${p}-n2`]).code, 0);
  }
  const both = (args: string[]) => {
    const ours = tsbox(args);
    const theirs = podman(args);
    t.is(theirs.status, 0, theirs.stderr);
    t.is(ours.code, 0, ours.stderr);
    t.is(ours.stdout, theirs.stdout, args.join(' '));
  };
  both(['volume', 'ls', '--filter', `name=^${p}`, '--format', '{{.Name}} {{.Driver}}']);
  for (const f of ['label=env', 'label=env=prod', `name=^${p}-v2$`, `name=${p}`, 'dangling=true', 'driver=local']) both(['volume', 'ls', '--filter', f, '--format', '{{.Name}} {{.Driver}}']);
  // Two label filters: docker's volume service wants both (MatchKVList); podman 4's volume ls takes either.
  t.is(tsbox(['volume', 'ls', '--filter', 'label=env', '--filter', 'label=nope', '--format', '{{.Name}}']).stdout, '');
  t.is(tsbox(['volume', 'ls', '--filter', 'label=env', '--filter', 'label=env=prod', '--format', '{{.Name}}']).stdout, `${p}-v1\n`);
  both(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels.env}}', `${p}-v1`]);
  // podman's own default network ("podman") stands where docker has bridge, host and none: the user networks are compared.
  both(['network', 'ls', '--filter', `label=owner=${uniq}`, '--format', '{{.Name}} {{.Driver}}']);
  for (const f of ['label=env', 'label=env=prod', `name=^${p}-n2$`, `name=${p}-n`, 'label=nope']) both(['network', 'ls', '--filter', `label=owner=${uniq}`, '--filter', f, '--format', '{{.Name}} {{.Driver}}']);
  both(['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{index .Labels "env"}}', `${p}-n1`]);
  // Bad values are refused by both (the words are each one's own).
  t.is(tsbox(['volume', 'ls', '--filter', 'dangling=x']).code, 1);
  t.not(podman(['volume', 'ls', '--filter', 'dangling=x']).status, 0);
  t.is(tsbox(['network', 'ls', '--filter', 'dangling=x']).code, 1);
  t.not(podman(['network', 'ls', '--filter', 'dangling=x']).status, 0);
  for (const n of ['1', '2']) {
    t.is(tsbox(['volume', 'rm', `${p}-v${n}`]).code, 0);
    t.is(tsbox(['network', 'rm', `${p}-n${n}`]).code, 0);
  }
  if (!hadBridge) t.not(spawnSync('ip', ['link', 'show', 'cni-podman0']).status, 0, "podman's default bridge was never made");
});
