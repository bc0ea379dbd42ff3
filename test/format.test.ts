// --format, inspect -f, --filter and the ps/images tables as docker has them: Go's text/template (each
// function, pipelines, table headers, Go's errors), go-units' durations and sizes against their own
// documented cases, the ps table at fixed times, and the CLI on real containers beside podman.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template, TemplateError } from '../ts/cli/format/exec.js';
import { formatInspect, formatList, FormatError, tabwrite } from '../ts/cli/format/index.js';
import { displayablePorts, ellipsis, imagesFormat, psFormat } from '../ts/cli/format/contexts.js';
import { bytesSize, humanDuration, humanSize, humanSizeWithPrecision } from '../ts/engine/units.js';
import { filterObjects } from '../ts/engine/filters.js';
import { globMatch } from '../ts/engine/path-match.js';
import type { ContainerSummary } from '../ts/engine/inspect.js';
import { engineRoot } from './helpers/engine-root.js';
import { havePodman, podmanRef } from './helpers/podman-ref.js';

const run = (src: string, data: unknown) => new Template(src).execute(data);

// --- go-units ---------------------------------------------------------------------------------------

test("humanDuration: go-units' documented outputs", (t) => {
  const s = 1000;
  const min = 60 * s;
  const hour = 60 * min;
  const day = 24 * hour;
  const week = 7 * day;
  const month = 30 * day;
  const year = 365 * day;
  const cases: [number, string][] = [
    [450, 'Less than a second'], [1 * s, '1 second'], [47 * s, '47 seconds'], [59 * s, '59 seconds'], [60 * s, 'About a minute'], [90 * s, 'About a minute'],
    [3 * min, '3 minutes'], [35 * min + 40 * s, '35 minutes'], [59 * min, '59 minutes'], [1 * hour, 'About an hour'], [hour + 29 * min, 'About an hour'],
    [hour + 31 * min, '2 hours'], [3 * hour + 29 * min, '3 hours'], [3 * hour + 31 * min, '4 hours'], [24 * hour, '24 hours'], [day + 12 * hour, '36 hours'],
    [2 * day, '2 days'], [13 * day + 5 * hour, '13 days'], [2 * week, '2 weeks'], [2 * week + 4 * day, '2 weeks'], [month, '4 weeks'], [month + 2 * week, '6 weeks'],
    [2 * month, '2 months'], [5 * month + 2 * week, '5 months'], [24 * month, '24 months'], [24 * month + 2 * week, '2 years'], [3 * year + 2 * month, '3 years'],
  ];
  for (const [ms, want] of cases) t.is(humanDuration(ms), want, `${ms} ms`);
});

test("humanSize and bytesSize: go-units' documented outputs", (t) => {
  const KB = 1000;
  const MB = KB * 1000;
  const GB = MB * 1000;
  const TB = GB * 1000;
  const PB = TB * 1000;
  t.is(humanSize(1000), '1kB');
  t.is(humanSize(1024), '1.024kB');
  t.is(humanSize(1000000), '1MB');
  t.is(humanSize(1048576), '1.049MB');
  t.is(humanSize(2 * MB), '2MB');
  t.is(humanSize(3.42 * GB), '3.42GB');
  t.is(humanSize(5.372 * TB), '5.372TB');
  t.is(humanSize(2.22 * PB), '2.22PB');
  t.is(humanSize(10000000000000 * PB), '1e+04YB');
  // docker images and ps -s: precision 3.
  t.is(humanSizeWithPrecision(1_240_000, 3), '1.24MB');
  t.is(humanSizeWithPrecision(4_261_000, 3), '4.26MB');
  t.is(humanSizeWithPrecision(999_500, 3), '1e+03kB');
  t.is(humanSizeWithPrecision(0, 3), '0B');
  const KiB = 1024;
  t.is(bytesSize(KiB), '1KiB');
  t.is(bytesSize(KiB * KiB), '1MiB');
  t.is(bytesSize(3.42 * KiB ** 3), '3.42GiB');
  t.is(bytesSize(2.22 * KiB ** 5), '2.22PiB');
});

// --- text/template ----------------------------------------------------------------------------------

const data = {
  Names: 'web',
  State: { Status: 'running', Pid: 42, Running: true },
  Config: { Labels: { 'com.example.tier': 'front', app: 'web' }, Env: ['PATH=/bin', 'A=1'], Cmd: ['sleep', '300'] },
  Mounts: [{ Source: '/a', Destination: '/x' }, { Source: '/b', Destination: '/y' }],
  Empty: [],
  Ratio: 0.5,
};

test('fields, nested fields, maps, index, len', (t) => {
  t.is(run('{{.Names}} {{.State.Status}} {{.State.Pid}} {{.State.Running}} {{.Ratio}}', data), 'web running 42 true 0.5');
  t.is(run('{{index .Config.Labels "com.example.tier"}} {{.Config.Labels.app}} {{index .Config.Cmd 1}} {{index .Mounts 1 | json}}', data), 'front web 300 {"Source":"/b","Destination":"/y"}');
  t.is(run('{{len .Config.Env}} {{len .Names}} {{len .Config.Labels}}', data), '2 3 2');
  t.is(run('{{.Config.Labels}}', data), 'map[app:web com.example.tier:front]');
  t.is(run('{{.Config.Cmd}}', data), '[sleep 300]');
  t.is(run('{{.Config.Labels.missing}}', data), '<no value>', 'a missing map key, as Go prints it');
});

test('json, join, split, lower, upper, title, pad, truncate', (t) => {
  t.is(run('{{json .Config.Labels}}', data), '{"app":"web","com.example.tier":"front"}', "a map's keys sorted, as encoding/json writes them");
  t.is(run('{{json .State}}', data), '{"Status":"running","Pid":42,"Running":true}', "a struct's fields in their order");
  t.is(run('{{json .Names}} {{json .Empty}} {{json .State.Pid}}', data), '"web" [] 42');
  t.is(run('{{json "<&>"}}', data), '"<&>"', 'no HTML escaping, as docker sets its encoder');
  t.is(run('{{join .Config.Env ","}}', data), 'PATH=/bin,A=1');
  t.is(run('{{split "a:b:c" ":"}} {{index (split "a:b:c" ":") 2}}', data), '[a b c] c');
  t.is(run('{{lower "ABC"}} {{upper .Names}} {{title "hello wide world"}}', data), 'abc WEB Hello Wide World');
  t.is(run('[{{pad .Names 2 1}}] {{truncate "abcdef" 3}} {{truncate "ab" 3}}', data), '[  web ] abc ab');
  const e = t.throws(() => run('{{join .Names ","}}', data), { instanceOf: TemplateError });
  t.regex(e.message, /error calling join: wrong type for value; expected \[\]string; got string/);
});

test('range, if/else if/else, with, variables, break/continue', (t) => {
  t.is(run('{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}', data), '/a:/x /b:/y ');
  t.is(run('{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}};{{end}}', data), '0=/a;1=/b;');
  t.is(run('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}', data), 'app=web,com.example.tier=front,', 'map keys sorted, as Go ranges them');
  t.is(run('{{range .Empty}}x{{else}}none{{end}}', data), 'none');
  t.is(run('{{if eq .State.Status "exited"}}E{{else if .State.Running}}R{{else}}?{{end}}', data), 'R');
  t.is(run('{{if and .State.Running (gt .State.Pid 1)}}yes{{end}} {{if or .Empty .Names}}or{{end}} {{if not .Empty}}empty{{end}}', data), 'yes or empty');
  t.is(run('{{with .State}}{{.Status}}{{end}} {{with .Empty}}x{{else}}nothing{{end}}', data), 'running nothing');
  t.is(run('{{$n := .Names}}{{range .Mounts}}{{$n}}{{.Source}} {{end}}{{$.Names}}', data), 'web/a web/b web');
  t.is(run('{{range .Config.Env}}{{if eq . "A=1"}}{{break}}{{end}}{{.}} {{end}}', data), 'PATH=/bin ');
  t.is(run('{{range .Config.Env}}{{if eq . "PATH=/bin"}}{{continue}}{{end}}{{.}}{{end}}', data), 'A=1');
  t.is(run('{{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{ge 1 2}} {{eq .Names "x" "web"}}', data), 'true true true false true');
  t.is(run('{{- " a " -}}  \n  {{- /* a comment */ -}} b', data), ' a b');
});

test('printf, print, println, pipelines, parentheses', (t) => {
  t.is(run('{{printf "%s-%d-%5.2f-%-4s|%q-%x-%t-%v" .Names 3 3.14159 "ab" "x\\ny" 255 true .Config.Cmd}}', data), 'web-3- 3.14-ab  |"x\\ny"-ff-true-[sleep 300]');
  t.is(run('{{printf "%d %d" 1}}', data), '1 %!d(MISSING)');
  t.is(run('{{printf "%d" 1 2}}', data), '1%!(EXTRA int=2)');
  t.is(run('{{printf "%05d|%+d|%x|%X|%o|%%" 42 5 "hi" 255 8}}', data), '00042|+5|6869|FF|10|%');
  t.is(run('{{.Names | printf "%q"}} {{.Names | upper | printf "<%s>"}}', data), '"web" <WEB>');
  t.is(run('{{print 1 2 "a" 3}}|{{println 1 "b"}}', data), '1 2a3|1 b\n');
  t.is(run('{{(index .Mounts 0).Source}} {{len (split "a,b" ",")}}', data), '/a 2');
  t.is(run('{{html "<a&b>"}} {{js "it\'s"}} {{urlquery "a b&c"}} {{slice "abcdef" 1 3}}', data), "&lt;a&amp;b&gt; it\\'s a+b%26c bc");
});

test('methods with arguments on a row, and a field docker does not have is an error', (t) => {
  const c = psFormat({ trunc: true, now: Date.parse('2026-01-01T00:00:10Z') }).context(summary({ Labels: { app: 'web', tier: 'front' } }));
  t.is(run('{{.Label "app"}}|{{.Label "nope"}}|{{.Labels}}', c), 'web||app=web,tier=front');
  const e = t.throws(() => run('{{.Nope}}', c), { instanceOf: TemplateError });
  t.is(e.message, 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext');
  t.is(run('{{json .}}', c).startsWith('{"Command":"\\"sleep 300\\"","CreatedAt":'), true, 'json of a row: its fields as strings, keys sorted');
});

test("Go's parse and execution errors, word for word", (t) => {
  const err = (src: string) => t.throws(() => run(src, data), { instanceOf: TemplateError }).message;
  t.is(err('{{nope .}}'), 'template: :1: function "nope" not defined');
  t.is(err('{{range}}{{end}}'), 'template: :1: missing value for range');
  t.is(err('{{if .Names}}'), 'template: :1: unexpected EOF');
  t.is(err('x\n{{end}}'), 'template: :2: unexpected {{end}}');
  t.is(err('{{.Names'), 'template: :1: unclosed action');
  t.is(err('{{$x}}'), 'template: :1: undefined variable "$x"');
  t.is(err('{{"x}}'), 'template: :1: unterminated quoted string');
  t.is(err('{{len}}'), 'template: :1:2: executing "" at <len>: wrong number of args for len: want 1 got 0');
  t.is(err('{{.Names.X}}'), 'template: :1:2: executing "" at <.Names.X>: can\'t evaluate field X in type string');
  t.is(err('{{index .Mounts 5}}'), 'template: :1:2: executing "" at <index>: error calling index: index out of range: 5');
  t.is(err('{{eq 1 "a"}}'), 'template: :1:2: executing "" at <eq>: error calling eq: incompatible types for comparison');
  t.is(err('{{range .Names}}{{end}}'), 'template: :1:8: executing "" at <{{range .Names}}{{en...>: range can\'t iterate over web');
});

test('a hostile template fails with an error, never a crash or a hang', (t) => {
  // Output without end: a range over a huge count stops at the output limit.
  const big = t.throws(() => run('{{range 1000000000000}}xxxxxxxxxxxxxxxx{{end}}', data), { instanceOf: TemplateError });
  t.regex(big.message, /output exceeds 64 MiB/);
  // Nested ranges over a big list: the same limit.
  const list = { L: Array.from({ length: 100_000 }, (_, i) => i) };
  t.throws(() => run('{{range .L}}{{range $.L}}{{.}}{{end}}{{end}}', list), { message: /output exceeds/ });
  // A template that calls itself: bounded depth.
  t.throws(() => run('{{define "t"}}{{template "t" .}}{{end}}{{template "t" .}}', data), { message: /exceeded maximum template depth/ });
  t.throws(() => run('{{template "missing"}}', data), { message: /no such template "missing"/ });
  // Deep nesting of parentheses and blocks parses without exhausting the stack.
  t.is(run(`${'{{if 1}}'.repeat(200)}ok${'{{end}}'.repeat(200)}`, data), 'ok');
  // A row's internals and Object's prototype are not fields.
  const row = psFormat({ trunc: true }).context(summary({ Labels: JSON.parse('{"__proto__":"p","a":"1"}') as Record<string, string> }));
  for (const f of ['c', 'constructor', 'goType', 'toJSON', 'hasOwnProperty']) t.throws(() => run(`{{.${f}}}`, row), { message: /can't evaluate field/ }, f);
  t.is(run('{{.Label "__proto__"}}|{{.Label "toString"}}|{{.Labels}}', row), 'p||__proto__=p,a=1');
  t.is(run('{{.__proto__}}|{{.constructor}}', { a: 1 }), '<no value>|<no value>');
  // Untrusted strings in the data are data: no re-parsing of what a field holds.
  t.is(run('{{.Names}}', { Names: '{{nope}}' }), '{{nope}}');
});

// --- tables -----------------------------------------------------------------------------------------

function summary(o: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    Id: 'a'.repeat(64), Names: ['/web'], Image: 'busybox', ImageID: 'sha256:' + 'b'.repeat(64), Command: 'sleep 300', Created: Date.parse('2026-01-01T00:00:00Z') / 1000,
    State: 'running', Status: 'Up 4 seconds', Ports: [], Labels: {}, ExitCode: 0, HostConfig: { NetworkMode: 'bridge' }, NetworkSettings: { Networks: { bridge: {} as never } }, Mounts: [],
    ...o,
  };
}

test("tabwriter: docker's columns (min width 10, padding 3), the last cell unpadded", (t) => {
  t.is(tabwrite('A\tBB\tC\nlong cell here\tx\tlast\n'), 'A                BB        C\nlong cell here   x         last\n');
});

test('the ps table at fixed times: CREATED, STATUS, COMMAND cut and quoted, PORTS, NAMES', (t) => {
  const now = Date.parse('2026-01-01T02:00:00Z');
  const rows = [
    summary({ Id: '1'.repeat(64), Names: ['/web'], Command: 'sh -c \'while true; do echo hi; sleep 1; done\'', Created: now / 1000 - 5, Status: 'Up 4 seconds', Ports: [{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }] }),
    summary({ Id: '2'.repeat(64), Names: ['/job'], Command: 'false', Created: now / 1000 - 90, State: 'exited', Status: 'Exited (3) 2 minutes ago' }),
    summary({ Id: '3'.repeat(64), Names: ['/old'], Command: 'top', Created: now / 1000 - 2 * 3600, State: 'created', Status: 'Created' }),
  ];
  const out = formatList(undefined, rows, psFormat({ trunc: true, now }));
  t.is(
    out,
    [
      'CONTAINER ID   IMAGE     COMMAND                  CREATED              STATUS                     PORTS                    NAMES',
      '111111111111   busybox   "sh -c \'while true; …"   5 seconds ago        Up 4 seconds               127.0.0.1:8080->80/tcp   web',
      '222222222222   busybox   "false"                  About a minute ago   Exited (3) 2 minutes ago                            job',
      '333333333333   busybox   "top"                    2 hours ago          Created                                             old',
      '',
    ].join('\n'),
  );
  // --no-trunc: full ids and commands.
  const full = formatList('{{.ID}} {{.Command}}', rows.slice(0, 1), psFormat({ trunc: false, now }));
  t.is(full, `${'1'.repeat(64)} "sh -c 'while true; do echo hi; sleep 1; done'"\n`);
  // A table with a template of one's own: docker's header titles.
  t.is(formatList('table {{.Names}}\t{{.State}}\t{{.Label "x"}}\t{{.CreatedAt}}', rows.slice(1, 2), psFormat({ trunc: true, now })), 'NAMES     STATE     LABEL     CREATED AT\njob       exited              2026-01-01 01:58:30 +0000 UTC\n');
  // json: one object a line.
  t.is(JSON.parse(formatList('json', rows.slice(0, 1), psFormat({ trunc: true, now }))).Ports, '127.0.0.1:8080->80/tcp');
});

test("PORTS as docker's DisplayablePorts: ranges, host mappings, unpublished", (t) => {
  t.is(displayablePorts([{ PrivatePort: 80, Type: 'tcp' }, { PrivatePort: 443, Type: 'tcp' }]), '80/tcp, 443/tcp');
  t.is(displayablePorts([{ PrivatePort: 81, Type: 'tcp' }, { PrivatePort: 80, Type: 'tcp' }]), '80-81/tcp');
  t.is(displayablePorts([{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 80, Type: 'tcp' }, { IP: '0.0.0.0', PrivatePort: 81, PublicPort: 81, Type: 'tcp' }]), '0.0.0.0:80-81->80-81/tcp');
  t.is(displayablePorts([{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { IP: '::', PrivatePort: 53, PublicPort: 5353, Type: 'udp' }]), '[::]:5353->53/udp, 127.0.0.1:8080->80/tcp');
  t.is(ellipsis('abcdefghijklmnopqrstuvwxyz', 20), 'abcdefghijklmnopqrs…');
  t.is(ellipsis('short', 20), 'short');
});

test('the images table: REPOSITORY TAG IMAGE ID CREATED SIZE', (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const image = { Id: 'sha256:' + 'c'.repeat(64), ParentId: '', RepoTags: ['busybox:latest'], RepoDigests: [], Created: now / 1000 - 3 * 7 * 86400, Size: 4_261_000, SharedSize: -1, Labels: {}, Containers: -1 };
  const out = formatList(undefined, [{ image, repository: 'busybox', tag: 'latest', digest: '<none>' }], imagesFormat({ trunc: true, now }));
  t.is(out, 'REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\nbusybox      latest    cccccccccccc   3 weeks ago   4.26MB\n');
});

test('inspect -f: a missing field is an error, a missing label "<no value>"; bad templates exit 64', (t) => {
  const obj = { Id: 'x', State: { Status: 'running' }, Config: { Labels: { a: '1' } } };
  t.is(formatInspect('{{.State.Status}} {{.Config.Labels.b}}', [obj, obj]), 'running <no value>\nrunning <no value>\n');
  const e1 = t.throws(() => formatInspect('{{.Nope}}', [obj]), { instanceOf: FormatError });
  t.is(e1.message, 'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"');
  t.is(e1.exitCode, 1);
  const e2 = t.throws(() => formatInspect('{{nope}}', [obj]), { instanceOf: FormatError });
  t.is(e2.message, 'template parsing error: template: :1: function "nope" not defined');
  t.is(e2.exitCode, 64);
  t.is(formatInspect('json', [obj]), '[{"Id":"x","State":{"Status":"running"},"Config":{"Labels":{"a":"1"}}}]\n');
});

test('network and volume filters (for their ls): name, label, driver, dangling, unknown keys', (t) => {
  const items: [string, Parameters<typeof filterObjects>[1][number][1]][] = [
    ['v1', { name: 'data-1', driver: 'local', labels: { env: 'prod' }, inUse: true }],
    ['v2', { name: 'cache', driver: 'local', labels: {}, inUse: false }],
    ['v3', { name: 'data-2', driver: 'tmpfs', labels: { env: 'dev' } }],
  ];
  t.deepEqual(filterObjects('volume', items, { name: 'data' }), ['v1', 'v3']);
  t.deepEqual(filterObjects('volume', items, { label: 'env=prod' }), ['v1']);
  t.deepEqual(filterObjects('volume', items, { label: 'env' }), ['v1', 'v3']);
  t.deepEqual(filterObjects('volume', items, { driver: 'tmpfs' }), ['v3']);
  t.deepEqual(filterObjects('volume', items, { dangling: 'true' }), ['v2', 'v3']);
  t.deepEqual(filterObjects('volume', items, { dangling: 'false', name: ['data'] }), ['v1']);
  t.throws(() => filterObjects('volume', items, { bogus: 'x' }), { message: "Invalid filter 'bogus'" });
  t.throws(() => filterObjects('volume', items, { dangling: 'maybe' }), { message: "Invalid filter 'dangling=[maybe]'" });
  t.true(globMatch('busy*', 'busybox'));
  t.true(globMatch('*/app:1.?', 'localhost/app:1.2'));
  t.false(globMatch('busy*', 'library/busybox'), '* stays within a path segment');
});

// --- the CLI on real containers, beside podman ------------------------------------------------------

const e = engineRoot('tsbox-format-');
test.before(() => e.importBusybox());
test.after.always(() => e.remove());

const normalize = (s: string) => s.replace(/Less than a second|About a minute|\d+ seconds?|\d+ minutes/g, 'N');

test.serial('ps: --format, filters, -l/-n, -q, --no-trunc, -s and labels on real containers, beside podman', async (t) => {
  const { tsbox } = e;
  const labels = join(e.root, 'labels');
  writeFileSync(labels, '# a comment\ntier=front\n\nowner=ops\n');
  let r = tsbox(['run', '-d', '--name', 'fmt-web', '--network', 'none', '--label', 'app=web', '--label-file', labels, 'busybox', 'sleep', '300']);
  t.is(r.code, 0, r.stderr);
  const webId = r.stdout.trim();
  r = tsbox(['run', '--name', 'fmt-job', '--network', 'none', '-l', 'app=job', 'busybox', 'sh', '-c', 'exit 3']);
  t.is(r.code, 3, r.stderr);
  r = tsbox(['run', '--name', 'fmt-ok', '--network', 'none', 'busybox', 'true']);
  t.is(r.code, 0, r.stderr);

  // Labels: in inspect, in ps's filter and its columns.
  t.is(tsbox(['inspect', '-f', '{{json .Config.Labels}}', 'fmt-web']).stdout, '{"app":"web","owner":"ops","tier":"front"}\n');
  t.is(tsbox(['inspect', '-f', '{{index .Config.Labels "app"}} {{.State.Status}} {{.Name}}', 'fmt-web', 'fmt-job']).stdout, 'web running /fmt-web\njob exited /fmt-job\n');
  const names = (args: string[]) => tsbox(['ps', ...args, '--format', '{{.Names}}']).stdout.split('\n').filter(Boolean).sort().join(' ');
  t.is(names(['-a', '--filter', 'label=app']), 'fmt-job fmt-web');
  t.is(names(['-a', '--filter', 'label=app=job']), 'fmt-job');
  t.is(names(['-a', '--filter', 'label=tier=front', '--filter', 'label=owner']), 'fmt-web');
  t.is(names(['-a', '--filter', 'exited=3']), 'fmt-job');
  t.is(names(['-a', '--filter', 'exited=0']), 'fmt-ok');
  t.is(names(['--filter', 'status=exited']), 'fmt-job fmt-ok');
  t.is(names(['-a', '--filter', 'status=running']), 'fmt-web');
  t.is(names(['-a', '--filter', 'name=fmt-j']), 'fmt-job');
  t.is(names(['-a', '--filter', 'name=^/fmt-(ok|web)$']), 'fmt-ok fmt-web');
  t.is(names(['-a', '--filter', 'name=^fmt-ok$']), 'fmt-ok');
  t.is(names(['-a', '--filter', `id=${webId.slice(0, 6)}`]), 'fmt-web');
  t.is(names(['-a', '--filter', 'ancestor=busybox']), 'fmt-job fmt-ok fmt-web');
  t.is(names(['-a', '--filter', 'ancestor=nosuchimage']), '');
  t.is(names(['-a', '--filter', 'network=none']), 'fmt-job fmt-ok fmt-web');
  t.is(names(['-a', '--filter', 'since=fmt-web']), 'fmt-job fmt-ok');
  t.is(names(['-a', '--filter', 'before=fmt-ok']), 'fmt-job fmt-web');
  t.is(names(['-a', '--filter', 'status=running', '--filter', 'status=exited']), 'fmt-job fmt-ok fmt-web', 'values of one key are alternatives');
  r = tsbox(['ps', '--filter', 'bogus=1']);
  t.is(r.code, 1);
  t.is(r.stderr, "Error response from daemon: Invalid filter 'bogus'\n");
  r = tsbox(['ps', '--filter', 'status=sleeping']);
  t.is(r.code, 1);
  t.is(r.stderr, "Error response from daemon: Invalid filter 'status=sleeping'\n");
  r = tsbox(['ps', '--filter', 'noequals']);
  t.is(r.code, 125);

  // -l, -n, -q, --no-trunc, -s.
  t.is(names(['-l']), 'fmt-ok');
  t.is(names(['-n', '2']), 'fmt-job fmt-ok');
  t.is(tsbox(['ps', '-q']).stdout, `${webId.slice(0, 12)}\n`);
  t.is(tsbox(['ps', '-q', '--no-trunc']).stdout, `${webId}\n`);
  r = tsbox(['exec', 'fmt-web', 'sh', '-c', 'head -c 1500000 /dev/zero > /big']);
  t.is(r.code, 0, r.stderr);
  r = tsbox(['ps', '-s']);
  t.regex(r.stdout, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES +SIZE\n/);
  t.regex(r.stdout, /fmt-web +1\.5MB \(virtual [\d.]+[kM]B\)\n/);
  // The default table: docker's columns and words.
  r = tsbox(['ps', '-a']);
  t.regex(r.stdout, /^CONTAINER ID   IMAGE     COMMAND +CREATED +STATUS +PORTS +NAMES\n/);
  t.regex(r.stdout, new RegExp(`${webId.slice(0, 12)}   busybox   "sleep 300" +(Less than a second|\\d+ seconds?) ago +Up (Less than a second|\\d+ seconds?) +fmt-web\\n`));
  t.regex(r.stdout, /"sh -c exit 3" +.* ago +Exited \(3\) .* ago +fmt-job\n/);
  // json, one object a line.
  const rows = tsbox(['ps', '-a', '--format', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  t.deepEqual(rows.map((x) => x.Names).sort(), ['fmt-job', 'fmt-ok', 'fmt-web']);
  t.is(rows.find((x) => x.Names === 'fmt-web')!.Labels, 'app=web,owner=ops,tier=front');
  t.is(rows.find((x) => x.Names === 'fmt-web')!.Size, '0B', 'no size walk unless -s or a template naming .Size');
  t.regex(tsbox(['ps', '--format', '{{.Names}} {{.Size}}']).stdout, /^fmt-web 1\.5MB \(virtual [\d.]+[kM]B\)\n$/);
  // Templates that fail: docker's error and exit code, nothing on stdout.
  r = tsbox(['ps', '--format', '{{range}}']);
  t.deepEqual([r.code, r.stdout, r.stderr], [1, '', 'template parsing error: template: :1: missing value for range\n']);
  r = tsbox(['ps', '--format', '{{undefinedFunc .ID}}']);
  t.deepEqual([r.code, r.stderr], [1, 'template parsing error: template: :1: function "undefinedFunc" not defined\n']);
  r = tsbox(['inspect', '-f', '{{undefinedFunc .}}', 'fmt-web']);
  t.is(r.code, 64);
  r = tsbox(['inspect', '-f', '{{range 1000000000000}}xxxxxxxxxxxxxxxxxxxxxxxx{{end}}', 'fmt-web']);
  t.is(r.code, 1);
  t.regex(r.stderr, /^template parsing error: template: .*output exceeds 64 MiB\n$/);

  if (!havePodman()) {
    t.log('podman not installed: the reference comparison is skipped');
    return;
  }
  // podman implements docker's templates and ps columns: the same containers show the same text.
  const ref = podmanRef('format');
  t.teardown(() => ref.cleanup());
  const podman = (args: string[]) => spawnSync('podman', [...ref.base, ...args], { encoding: 'utf8' });
  const tarball = join(e.root, 'busybox.tar.gz');
  let p = podman(['import', tarball, 'busybox']);
  t.is(p.status, 0, p.stderr);
  p = podman(['run', '-d', ...ref.runFlags, '--name', 'fmt-web', '--label', 'app=web', '--label-file', labels, 'busybox', 'sleep', '300']);
  t.is(p.status, 0, p.stderr);
  p = podman(['run', ...ref.runFlags, '--name', 'fmt-job', '-l', 'app=job', 'busybox', 'sh', '-c', 'exit 3']);
  t.is(p.status, 3, p.stderr);
  p = podman(['run', ...ref.runFlags, '--name', 'fmt-ok', 'busybox', 'true']);
  t.is(p.status, 0, p.stderr);
  // podman's one known difference: a running container's status says "Up 4 seconds ago" (docker: "Up 4 seconds").
  const podmanUp = (s: string) => s.replace(/\bUp N ago\b/g, 'Up N');
  const both = (args: string[]) => {
    const ours = tsbox(args);
    const theirs = podman(args);
    t.is(theirs.status, 0, theirs.stderr);
    t.is(normalize(ours.stdout.split('\n').sort().join('\n')), podmanUp(normalize(theirs.stdout.split('\n').sort().join('\n'))), args.join(' '));
  };
  both(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
  // (ancestor is left out: podman names the imported image localhost/busybox and matches only that.)
  for (const f of ['label=app', 'label=app=job', 'label=tier=front', 'exited=3', 'exited=0', 'status=exited', 'status=running', 'name=fmt-j', 'name=^fmt-(ok|web)$', 'since=fmt-web', 'before=fmt-ok']) {
    both(['ps', '-a', '--filter', f, '--format', '{{.Names}}']);
  }
  both(['inspect', '-f', '{{json .Config.Labels}}', 'fmt-web']);
  both(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{index .Config.Labels "app"}}', 'fmt-job']);
  both(['ps', '-a', '--format', '{{if eq .Names "fmt-job"}}{{.Names | upper}}{{else}}{{printf "%-8s|" .Names}}{{end}} {{len .Names}} {{json .Names}}']);
});

test.serial('images: the table, --format, filters, -q; version and info templates', (t) => {
  const { tsbox } = e;
  t.is(tsbox(['tag', 'busybox', 'fmt/other:v1']).code, 0);
  let r = tsbox(['images']);
  t.regex(r.stdout, /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\n/);
  t.regex(r.stdout, /\nbusybox +latest +[0-9a-f]{12} +(Less than a second|\d+ (seconds?|minutes)|About a minute) ago +[\d.]+[kM]B\n/);
  t.is(tsbox(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split('\n').filter(Boolean).sort().join(' '), 'busybox:latest fmt/other:v1');
  t.is(tsbox(['images', '--filter', 'reference=fmt/*', '--format', '{{.Repository}}']).stdout, 'fmt/other\n');
  t.is(tsbox(['images', 'busybox', '--format', '{{.Tag}}']).stdout, 'latest\n');
  t.is(tsbox(['images', '--filter', 'dangling=true', '-q']).stdout, '');
  t.is(tsbox(['images', '--filter', 'label=nope', '-q']).stdout, '');
  r = tsbox(['images', '--filter', 'colour=red']);
  t.deepEqual([r.code, r.stderr], [1, "Error response from daemon: Invalid filter 'colour'\n"]);
  const id = tsbox(['image', 'inspect', '-f', '{{.Id}}', 'busybox']).stdout.trim();
  t.regex(id, /^sha256:[0-9a-f]{64}$/);
  t.is(tsbox(['images', '-q']).stdout, `${id.slice(7, 19)}\n`, 'one id for an image under two names');
  t.is(tsbox(['images', '--no-trunc', '--format', '{{.ID}}', 'busybox']).stdout, `${id}\n`);
  t.is(JSON.parse(tsbox(['images', '--format', 'json', 'busybox']).stdout).ID, id.slice(7, 19));
  r = tsbox(['version', '--format', '{{.Client.Version}}|{{.Server.Os}}']);
  t.regex(r.stdout, /^\d+\.\d+\.\d+\|linux\n$/);
  r = tsbox(['info', '--format', '{{.StorageDriver}}']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^\S+\n$/);
  t.true(typeof JSON.parse(tsbox(['info', '--format', '{{json .}}']).stdout).RootDir === 'string');
  r = tsbox(['stats', '--no-stream', '--format', 'table {{.Name}}\t{{.MemUsage}}\t{{.PIDs}}', 'fmt-web']);
  t.regex(r.stdout, /^NAME +MEM USAGE \/ LIMIT +PIDS\nfmt-web +[\d.]+[KMG]?i?B \/ [\d.]+[KMG]?i?B +1\n$/);
});
