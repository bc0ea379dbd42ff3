// The docker commands the engine issue (#16) names, in one table, each run against tsbox with a private root and checked
// against the output shape docker documents (docs.docker.com/engine/reference/commandline/*, the Engine
// API's objects): table headers, JSON keys, exit codes, error words. Ids and times are normalised before
// any comparison of text. Rows share their containers and run in order (later rows see what earlier made).
// The deep checks of each command live in format*.test.ts, engine-lifecycle, volumes-networks and cli-ux;
// this is the one list of the whole surface.
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './helpers/bins.js';
import { engineRoot, type EngineRoot } from './helpers/engine-root.js';

const uniq = randomBytes(3).toString('hex');
const N = {
  run: `pr${uniq}`, exited: `pe${uniq}`, created: `pc${uniq}`, renamed: `pc2${uniq}`, rm: `prm${uniq}`, logs: `plo${uniq}`, nolog: `pln${uniq}`,
  web: `pw${uniq}`, net: `pn${uniq}`, net2: `pn2${uniq}`, vol: `pv${uniq}`, label: `pl${uniq}`,
};
let engine: EngineRoot;
const started = Math.floor(Date.now() / 1000) - 1;

interface Out {
  code: number;
  stdout: string;
  /** stdout's bytes (tar streams). */
  raw: Buffer;
  stderr: string;
}

function tsbox(argv: string[], input?: string): Promise<Out> {
  return new Promise((resolve) => {
    const c = execFile(process.execPath, [CLI, '--root', engine.root, ...argv], { timeout: 60000, encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout: stdout.toString(), raw: stdout, stderr: stderr.toString() }),
    );
    c.stdin!.end(input ?? '');
  });
}

/** Ids (64 and 12 hex), dates and "N units ago" as placeholders: what stays is the shape. */
export function normalise(s: string): string {
  return s
    .replace(/\b(sha256:)?[0-9a-f]{64}\b/g, '<id>')
    .replace(/\b[0-9a-f]{12}\b/g, '<id>')
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)/g, '<time>')
    .replace(/\d{4}-\d\d-\d\d [\d:]+ [+-]\d{4} \w+/g, '<time>')
    .replace(/(About an?|Less than a|\d+) \w+ ago/g, '<ago>')
    .replace(/Up (About an?|Less than a|\d+) \w+/g, 'Up <dur>');
}

/** docker's table: the header's columns, 3+ spaces apart (tabwriter). */
const headerOf = (stdout: string) => stdout.split('\n')[0].split(/ {3,}/).map((s) => s.trim());
const jsonLines = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const hasKeys = (o: unknown, keys: string[]) => keys.filter((k) => !(k in (o as object)));

interface Row {
  /** What docker's documentation says the command does or prints (the reference it is checked against). */
  doc: string;
  argv: () => string[];
  input?: string;
  code?: number;
  /** The table header's columns, in order. */
  header?: string[];
  /** Keys every JSON object (one per line, or the array's entries) must have. */
  keys?: string[];
  stdout?: RegExp;
  stderr?: RegExp;
  /** The normalised stdout, exactly. */
  shape?: string;
  /** More checks; returns what is wrong, or nothing. */
  check?: (o: Out) => Promise<string | undefined> | string | undefined;
}

const REF = 'https://docs.docker.com/engine/reference/commandline';
const PS_HEADER = ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'];
// docker ps --format '{{json .}}' (20.10): the fields of its formatter context.
const PS_KEYS = ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status'];
// GET /containers/{id}/json.
const INSPECT_KEYS = ['Id', 'Created', 'Path', 'Args', 'State', 'Image', 'ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath', 'Name', 'RestartCount', 'Driver', 'Platform', 'HostConfig', 'GraphDriver', 'Mounts', 'Config', 'NetworkSettings'];
const STATE_KEYS = ['Status', 'Running', 'Paused', 'Restarting', 'OOMKilled', 'Dead', 'Pid', 'ExitCode', 'Error', 'StartedAt', 'FinishedAt'];
const inspect = async (ref: string, tmpl: string) => (await tsbox(['inspect', '-f', tmpl, ref])).stdout.trim();

const rows: [string, Row][] = [
  // --format on ps, images, inspect, stats, network ls, volume ls, info, version.
  ['ps', { doc: `${REF}/ps: running containers, columns CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES`, argv: () => ['ps'], code: 0, header: PS_HEADER, stdout: new RegExp(`\\n[0-9a-f]{12} +busybox +"sh -c echo x > /tmp…" +[^\\n]*ago +Up [^\\n]* ${N.run}\\n`) }],
  ['ps --format json', { doc: `${REF}/ps#format: {{json .}} prints the formatter's fields as one JSON object a line`, argv: () => ['ps', '-a', '--format', '{{json .}}'], code: 0, keys: PS_KEYS }],
  ['ps --format table', { doc: `${REF}/ps#format: "table" adds the header of the fields named`, argv: () => ['ps', '--format', 'table {{.Names}}\t{{.Status}}'], code: 0, header: ['NAMES', 'STATUS'] }],
  ['images', { doc: `${REF}/images: REPOSITORY, TAG, IMAGE ID, CREATED, SIZE`, argv: () => ['images'], code: 0, header: ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], stdout: /\nbusybox +latest +[0-9a-f]{12} / }],
  ['images --format json', { doc: `${REF}/images#format: .ID .Repository .Tag .Digest .CreatedSince .CreatedAt .Size`, argv: () => ['images', '--format', '{{json .}}'], code: 0, keys: ['ID', 'Repository', 'Tag', 'Digest', 'CreatedSince', 'CreatedAt', 'Size'] }],
  ['inspect -f', { doc: `${REF}/inspect: -f applies a Go template to each object`, argv: () => ['inspect', '-f', '{{.Name}} {{.State.Status}} {{index .Config.Labels "a"}}', N.run], code: 0, shape: `/${N.run} running b\n` }],
  ['inspect', { doc: 'Engine API GET /containers/{id}/json: the object with its State', argv: () => ['inspect', N.run], code: 0, check: (o) => {
    const [c] = JSON.parse(o.stdout) as Record<string, Record<string, unknown>>[];
    const missing = [...hasKeys(c, INSPECT_KEYS), ...hasKeys(c.State, STATE_KEYS).map((k) => `State.${k}`), ...hasKeys(c.Config, ['Hostname', 'Env', 'Cmd', 'Image', 'Labels', 'WorkingDir', 'User']).map((k) => `Config.${k}`)];
    return missing.length ? `missing ${missing.join(', ')}` : undefined;
  } }],
  ['image inspect', { doc: 'Engine API GET /images/{name}/json', argv: () => ['image', 'inspect', 'busybox'], code: 0, check: (o) => {
    const missing = hasKeys(JSON.parse(o.stdout)[0], ['Id', 'RepoTags', 'RepoDigests', 'Created', 'Config', 'Architecture', 'Os', 'Size', 'RootFS']);
    return missing.length ? `missing ${missing.join(', ')}` : undefined;
  } }],
  ['inspect missing', { doc: `${REF}/inspect: an unknown name prints [] and "Error: No such object", exit 1`, argv: () => ['inspect', `nosuch${uniq}`], code: 1, stdout: /^\[\]\n$/, stderr: /^Error: No such (object|container): nosuch/ }],
  ['stats --no-stream', { doc: `${REF}/stats: CONTAINER ID, NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS`, argv: () => ['stats', '--no-stream', N.run], code: 0, header: ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'], stdout: /\d+(\.\d+)?[KMG]?i?B \/ \d+(\.\d+)?[KMG]iB +\d+\.\d\d% / }],
  ['stats --format json', { doc: `${REF}/stats#format: .Container .Name .ID .CPUPerc .MemUsage .NetIO .BlockIO .MemPerc .PIDs`, argv: () => ['stats', '--no-stream', '--format', '{{json .}}', N.run], code: 0, keys: ['Container', 'Name', 'ID', 'CPUPerc', 'MemUsage', 'NetIO', 'BlockIO', 'MemPerc', 'PIDs'] }],
  ['network ls', { doc: `${REF}/network_ls: NETWORK ID, NAME, DRIVER, SCOPE; bridge, host and none always`, argv: () => ['network', 'ls'], code: 0, header: ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], stdout: /bridge +bridge +local\n[\s\S]*host +host +local\n[\s\S]*none +null +local\n/ }],
  ['network ls --format json', { doc: `${REF}/network_ls#format: .ID .Name .Driver .Scope .IPv6 .Internal .Labels .CreatedAt`, argv: () => ['network', 'ls', '--format', '{{json .}}'], code: 0, keys: ['ID', 'Name', 'Driver', 'Scope', 'IPv6', 'Internal', 'Labels', 'CreatedAt'] }],
  ['volume create', { doc: `${REF}/volume_create: prints the volume's name`, argv: () => ['volume', 'create', '--label', `owner=${uniq}`, N.vol], code: 0, shape: `${N.vol}\n` }],
  ['volume ls', { doc: `${REF}/volume_ls: DRIVER, VOLUME NAME`, argv: () => ['volume', 'ls'], code: 0, header: ['DRIVER', 'VOLUME NAME'], stdout: new RegExp(`local +${N.vol}\\n`) }],
  ['volume ls --format json', { doc: `${REF}/volume_ls#format: .Name .Driver .Scope .Mountpoint .Labels`, argv: () => ['volume', 'ls', '--format', '{{json .}}'], code: 0, keys: ['Name', 'Driver', 'Scope', 'Mountpoint', 'Labels'] }],
  ['volume inspect', { doc: 'Engine API GET /volumes/{name}: Name, Driver, Mountpoint, CreatedAt, Labels, Options, Scope', argv: () => ['volume', 'inspect', N.vol], code: 0, check: (o) => {
    const [v] = JSON.parse(o.stdout) as Record<string, unknown>[];
    const missing = hasKeys(v, ['Name', 'Driver', 'Mountpoint', 'CreatedAt', 'Labels', 'Options', 'Scope']);
    return missing.length ? `missing ${missing.join(', ')}` : (v.Labels as Record<string, string>).owner !== uniq ? 'label lost' : undefined;
  } }],
  ['info --format', { doc: `${REF}/info: --format '{{json .}}' is GET /info's object (Containers, Images, Driver, ServerVersion, ...)`, argv: () => ['info', '--format', '{{json .}}'], code: 0, keys: ['Containers', 'ContainersRunning', 'ContainersPaused', 'ContainersStopped', 'Images', 'Driver', 'DockerRootDir', 'ServerVersion', 'KernelVersion', 'OperatingSystem', 'OSType', 'Architecture', 'NCPU', 'MemTotal', 'Name'] }],
  ['info --format field', { doc: `${REF}/info#format: {{.Containers}} and friends are numbers`, argv: () => ['info', '--format', '{{.ContainersRunning}}/{{.Images}}'], code: 0, stdout: /^\d+\/1\n$/ }],
  ['version --format', { doc: `${REF}/version: Client and Server, --format '{{.Server.Version}}'`, argv: () => ['version', '--format', '{{json .}}'], code: 0, keys: ['Client', 'Server'], check: (o) => (hasKeys(JSON.parse(o.stdout).Server, ['Version', 'ApiVersion', 'Os', 'Arch', 'Components']).join(', ') || undefined) }],
  // --filter on ps, images, volume ls, network ls.
  ['ps --filter name', { doc: `${REF}/ps#filter: name= matches part of the name`, argv: () => ['ps', '-a', '--filter', `name=${N.run}`, '--format', '{{.Names}}'], code: 0, shape: `${N.run}\n` }],
  ['ps --filter label', { doc: `${REF}/ps#filter: label=KEY=VALUE`, argv: () => ['ps', '-a', '--filter', 'label=a=b', '--format', '{{.Names}}'], code: 0, shape: `${N.run}\n` }],
  ['ps --filter status', { doc: `${REF}/ps#filter: status=exited, Status "Exited (CODE) ... ago"`, argv: () => ['ps', '-a', '--filter', 'status=exited', '--filter', `name=${N.exited}`, '--format', '{{.Names}} {{.Status}}'], code: 0, shape: `${N.exited} Exited (3) <ago>\n` }],
  ['ps --filter exited', { doc: `${REF}/ps#filter: exited=CODE`, argv: () => ['ps', '-a', '--filter', 'exited=3', '--format', '{{.Names}}'], code: 0, shape: `${N.exited}\n` }],
  ['ps --filter id, ancestor', { doc: `${REF}/ps#filter: id= (a prefix), ancestor=IMAGE`, argv: () => ['ps', '--filter', 'ancestor=busybox', '--filter', `name=${N.run}`, '-q'], code: 0, stdout: /^[0-9a-f]{12}\n$/ }],
  ['ps bad filter', { doc: `${REF}/ps#filter: an unknown filter is an error ("invalid filter"), exit 1 from the daemon`, argv: () => ['ps', '--filter', 'bogus=1'], stderr: /Error response from daemon: Invalid filter 'bogus'/, check: (o) => (o.code === 0 ? 'exit 0' : undefined) }],
  ['images --filter reference', { doc: `${REF}/images#filter: reference=PATTERN`, argv: () => ['images', '--filter', 'reference=busy*', '--format', '{{.Repository}}:{{.Tag}}'], code: 0, shape: 'busybox:latest\n' }],
  ['images --filter dangling', { doc: `${REF}/images#filter: dangling=true, untagged images only`, argv: () => ['images', '--filter', 'dangling=true', '-q'], code: 0, shape: '' }],
  ['volume ls --filter label', { doc: `${REF}/volume_ls#filter: label=KEY=VALUE`, argv: () => ['volume', 'ls', '--filter', `label=owner=${uniq}`, '-q'], code: 0, shape: `${N.vol}\n` }],
  ['network ls --filter name', { doc: `${REF}/network_ls#filter: name=`, argv: () => ['network', 'ls', '--filter', 'name=none', '--format', '{{.Name}} {{.Driver}}'], code: 0, shape: 'none null\n' }],
  // ps -l, -n, --no-trunc, -s.
  ['ps -l', { doc: `${REF}/ps: -l, the latest created container (all states)`, argv: () => ['ps', '-l', '--format', '{{.Names}}'], code: 0, shape: `${N.label}\n` }],
  ['ps -n', { doc: `${REF}/ps: -n N, the N last created (all states)`, argv: () => ['ps', '-n', '2', '-q'], code: 0, stdout: /^([0-9a-f]{12}\n){2}$/ }],
  ['ps --no-trunc', { doc: `${REF}/ps: --no-trunc, full ids`, argv: () => ['ps', '--no-trunc', '-q', '--filter', `name=${N.run}`], code: 0, stdout: /^[0-9a-f]{64}\n$/ }],
  ['ps -s', { doc: `${REF}/ps: -s adds SIZE, "N (virtual M)"`, argv: () => ['ps', '-s', '--filter', `name=${N.run}`], code: 0, header: [...PS_HEADER, 'SIZE'], stdout: /\d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)\n/ }],
  // --label, --label-file on run/create; create; start -a; rename; update.
  ['run --label-file', { doc: `${REF}/run#label: --label-file, one KEY=VALUE a line`, argv: () => ['inspect', '-f', '{{json .Config.Labels}}', N.label], code: 0, shape: '{"f":"from-file","l":"flag"}\n' }],
  ['create', { doc: `${REF}/create: prints the new container's id; it is "created"`, argv: () => ['create', '--name', N.created, '--network', 'none', 'busybox', 'echo', 'hi'], code: 0, stdout: /^[0-9a-f]{64}\n$/, check: async () => ((await inspect(N.created, '{{.State.Status}}')) === 'created' ? undefined : 'not created') }],
  ['start -a', { doc: `${REF}/start: -a attaches its output; the exit code is the container's`, argv: () => ['start', '-a', N.created], code: 0, shape: 'hi\n' }],
  ['rename', { doc: `${REF}/rename: no output; the old name is gone`, argv: () => ['rename', N.created, N.renamed], code: 0, shape: '', check: async () => ((await tsbox(['inspect', N.created])).code === 1 ? undefined : 'old name still found') }],
  ['update', { doc: `${REF}/update: prints the container's name; --restart, --memory, --cpus`, argv: () => ['update', '--restart', 'on-failure:2', '-m', '64m', '--cpus', '0.5', N.run], code: 0, shape: `${N.run}\n`, check: async () => {
    const got = await inspect(N.run, '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}');
    return got === 'on-failure:2 67108864 500000000' ? undefined : got;
  } }],
  // events, diff, export, cp streams.
  ['events', { doc: `${REF}/events: --since/--until end the stream; --format '{{json .}}' is the Engine API's event (Type, Action, Actor, time, timeNano)`, argv: () => ['events', '--since', String(started), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'event=rename', '--format', '{{json .}}'], code: 0, keys: ['Type', 'Action', 'Actor', 'scope', 'time', 'timeNano'], check: (o) => {
    const e = jsonLines(o.stdout);
    return e.length === 1 && (e[0].Actor as { Attributes: Record<string, string> }).Attributes.name === N.renamed ? undefined : o.stdout;
  } }],
  ['diff', { doc: `${REF}/diff: lines "A|C|D PATH"`, argv: () => ['diff', N.run], code: 0, stdout: /^C \/tmp\nA \/tmp\/parity\n$/ }],
  ['export', { doc: `${REF}/export: the filesystem as a tar stream on stdout`, argv: () => ['export', N.exited], code: 0, check: (o) => (o.raw.subarray(257, 262).toString() === 'ustar' ? undefined : 'not a tar') }],
  ['cp CONTAINER:PATH -', { doc: `${REF}/cp: DEST_PATH "-" writes a tar of SRC_PATH to stdout`, argv: () => ['cp', `${N.run}:/tmp/parity`, '-'], code: 0, check: (o) => (o.raw.subarray(0, 7).toString() === 'parity\0' && o.raw.subarray(257, 262).toString() === 'ustar' ? undefined : 'not a tar of parity') }],
  ['cp - CONTAINER:PATH', { doc: `${REF}/cp: SRC_PATH "-" reads a tar from stdin into the directory DEST_PATH`, argv: () => ['cp', '-', `${N.run}:/root`], input: tarOf('in.txt', 'copied\n'), code: 0, check: async () => {
    const r = await tsbox(['exec', N.run, 'cat', '/root/in.txt']);
    return r.stdout === 'copied\n' ? undefined : r.stdout + r.stderr;
  } }],
  ['cp - hostile tar', { doc: `${REF}/cp: the tar is extracted into DEST_PATH; a member naming ../ stays inside the container`, argv: () => ['cp', '-', `${N.run}:/root`], input: tarOf(`../../../../../../tmp/tsbox-parity-escape-${uniq}`, 'owned\n'), check: async () => {
    if (existsSync(`/tmp/tsbox-parity-escape-${uniq}`)) return 'written on the host';
    return undefined;
  } }],
  // -d --rm; logs and --log-opt.
  ['run -d --rm', { doc: `${REF}/run#rm: with -d the container is removed when it exits`, argv: () => ['run', '-d', '--rm', '--name', N.rm, '--network', 'none', 'busybox', 'true'], code: 0, stdout: /^[0-9a-f]{64}\n$/, check: async () => {
    for (let i = 0; i < 50; i++) {
      if ((await tsbox(['ps', '-a', '-q', '--filter', `name=${N.rm}`])).stdout === '') return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
    return 'still listed';
  } }],
  ['logs', { doc: `${REF}/logs: what the container wrote, stdout to stdout`, argv: () => ['logs', N.exited], code: 0, shape: 'out\n' }],
  ['logs --log-opt', { doc: `${REF}/../../config/containers/logging/json-file: max-size/max-file rotate; inspect's HostConfig.LogConfig keeps them`, argv: () => ['logs', N.logs], code: 0, check: async (o) => {
    const lines = o.stdout.trim().split('\n');
    if (lines.at(-1) !== '3000' || lines.length >= 3000) return `${lines.length} lines, last ${lines.at(-1)}`;
    const cfg = await inspect(N.logs, '{{json .HostConfig.LogConfig}}');
    return cfg === '{"Type":"json-file","Config":{"max-file":"2","max-size":"1k"}}' ? undefined : cfg;
  } }],
  ['logs --log-driver none', { doc: `${REF}/logs: a driver without reading: "configured logging driver does not support reading", exit 1`, argv: () => ['logs', N.nolog], code: 1, stderr: /configured logging driver does not support reading/ }],
  // network connect / disconnect / alias.
  ['network connect --alias', { doc: `${REF}/network_connect: no output; the container's Networks gain NETWORK with the aliases`, argv: () => ['network', 'connect', '--alias', 'second', N.net2, N.web], code: 0, shape: '', check: async () => {
    const nets = JSON.parse(await inspect(N.web, '{{json .NetworkSettings.Networks}}')) as Record<string, { Aliases: string[] | null; IPAddress: string }>;
    const ok = nets[N.net]?.Aliases?.includes('first') && nets[N.net2]?.Aliases?.includes('second') && /^\d+\.\d+\.\d+\.\d+$/.test(nets[N.net2].IPAddress);
    return ok ? undefined : JSON.stringify(nets);
  } }],
  ['network disconnect', { doc: `${REF}/network_disconnect: no output; NETWORK leaves the container's Networks`, argv: () => ['network', 'disconnect', N.net2, N.web], code: 0, shape: '', check: async () => {
    const nets = JSON.parse(await inspect(N.web, '{{json .NetworkSettings.Networks}}')) as Record<string, unknown>;
    return Object.keys(nets).join() === N.net ? undefined : Object.keys(nets).join();
  } }],
  // --help, flag errors, prune prompts.
  ['--help', { doc: `${REF}/cli: every command answers --help with "Usage:  docker COMMAND ...", exit 0`, argv: () => ['run', '--help'], code: 0, stdout: /^\nUsage: {2}tsbox run \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]\n/ }],
  ['unknown flag', { doc: `${REF}/cli: "unknown flag: --bogus" and "See 'docker ps --help'.", exit 125`, argv: () => ['ps', '--bogus'], code: 125, stderr: /^unknown flag: --bogus\nSee 'tsbox ps --help'\.\n/ }],
  ['bad flag value', { doc: `${REF}/run: pflag's words for a bad value, exit 125`, argv: () => ['run', '-m', 'abc', 'busybox'], code: 125, stderr: /^invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'\n/ }],
  ['system prune asks', { doc: `${REF}/system_prune: asks "Are you sure you want to continue? [y/N]"; no answer is no`, argv: () => ['system', 'prune'], code: 0, stdout: /^WARNING! This will remove:\n {2}- all stopped containers\n[\s\S]*Are you sure you want to continue\? \[y\/N\] $/, check: async () => ((await tsbox(['inspect', N.exited])).code === 0 ? undefined : 'removed without a yes') }],
  ['image prune asks', { doc: `${REF}/image_prune: "WARNING! This will remove all dangling images." then the question`, argv: () => ['image', 'prune'], input: 'n\n', code: 0, stdout: /^WARNING! This will remove all dangling images\.\nAre you sure you want to continue\? \[y\/N\] / }],
  ['volume prune -f', { doc: `${REF}/volume_prune: "Deleted Volumes:" then "Total reclaimed space:"`, argv: () => ['volume', 'prune', '-f'], code: 0, stdout: /Total reclaimed space: \d/ }],
  ['volume rm', { doc: `${REF}/volume_rm: prints the name`, argv: () => ['volume', 'rm', N.vol], code: 0, shape: `${N.vol}\n` }],
  ['system df', { doc: `${REF}/system_df: TYPE, TOTAL, ACTIVE, SIZE, RECLAIMABLE; Images, Containers, Local Volumes`, argv: () => ['system', 'df'], code: 0, header: ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], stdout: /\nImages +1 +1 +[\d.]+[kMG]?B +[\d.]+[kMG]?B \(\d+%\)\nContainers +\d+ +\d+ +[\d.]+[kMG]?B +[\d.]+[kMG]?B.*\nLocal Volumes +\d+ +\d+ / }],
];

/** A one-file tar (ustar), as `tar -c` would write it. */
function tarOf(name: string, content: string): string {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  body.write(content);
  return Buffer.concat([h, body, Buffer.alloc(1024)]).toString('latin1');
}

test.before(async () => {
  engine = engineRoot('tsbox-parity-');
  engine.importBusybox();
  const labels = join(engine.root, 'labels');
  writeFileSync(labels, '# docker skips comments\nf=from-file\n');
  const must = async (argv: string[]) => {
    const r = await tsbox(argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  await must(['run', '-d', '--name', N.run, '--label', 'a=b', '--network', 'none', 'busybox', 'sh', '-c', 'echo x > /tmp/parity; exec sleep 300']);
  const r = await tsbox(['run', '--name', N.exited, '--network', 'none', 'busybox', 'sh', '-c', 'echo out; exit 3']);
  if (r.code !== 3) throw new Error(r.stderr);
  await must(['run', '--name', N.logs, '--network', 'none', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=2', 'busybox', 'seq', '1', '3000']);
  await must(['run', '--name', N.nolog, '--network', 'none', '--log-driver', 'none', 'busybox', 'true']);
  await must(['network', 'create', N.net]);
  await must(['network', 'create', N.net2]);
  await must(['run', '-d', '--name', N.web, '--network', N.net, '--network-alias', 'first', 'busybox', 'sleep', '300']);
  // Last created: ps -l shows it.
  await must(['create', '--name', N.label, '--network', 'none', '--label', 'l=flag', '--label-file', labels, 'busybox', 'true']);
});

test.after.always(async () => {
  rmSync(`/tmp/tsbox-parity-escape-${uniq}`, { force: true });
  if (!engine) return;
  // Containers, then their networks (bridges, rules), then the root.
  for (const id of (await tsbox(['ps', '-a', '-q', '--no-trunc'])).stdout.split('\n').filter(Boolean)) await tsbox(['rm', '-f', id]);
  for (const n of [N.net, N.net2]) await tsbox(['network', 'rm', n]);
  engine.remove();
});

for (const [name, row] of rows) {
  test.serial(name, async (t) => {
    const argv = row.argv();
    const o = await tsbox(argv, row.input);
    const what = `tsbox ${argv.join(' ')}\n${row.doc}\nstdout: ${o.stdout.slice(0, 2000)}\nstderr: ${o.stderr}`;
    if (row.code !== undefined) t.is(o.code, row.code, what);
    if (row.header) t.deepEqual(headerOf(o.stdout), row.header, what);
    if (row.keys) {
      const objs = o.stdout.trimStart().startsWith('[') ? (JSON.parse(o.stdout) as Record<string, unknown>[]) : jsonLines(o.stdout);
      t.true(objs.length > 0, what);
      for (const x of objs) t.deepEqual(hasKeys(x, row.keys), [], what);
    }
    if (row.stdout) t.regex(o.stdout, row.stdout, what);
    if (row.stderr) t.regex(o.stderr, row.stderr, what);
    if (row.shape !== undefined) t.is(normalise(o.stdout), row.shape, what);
    if (row.check) t.is(await row.check(o), undefined, what);
  });
}
