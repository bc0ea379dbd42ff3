// docker's container lifecycle beyond run, through the CLI on a private root: create and start -a/-i,
// attach with detach keys on a real pty, events (--since/--until/--filter/--format json), diff, export
// and cp tar streams (beside podman with runc for the same container content), a hostile tar on cp -,
// -d --rm, json-file rotation, --log-driver none, update --restart.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { engineRoot } from './helpers/engine-root.js';
import { CLI } from './helpers/bins.js';
import { tarOf } from './helpers/tar.js';
import { tarHeader } from '../ts/images/tar-header.js';
import { havePodman, podmanRef, type PodmanRef } from './helpers/podman-ref.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const e = engineRoot('tsbox-lifecycle-');
const tsbox = e.tsbox;
let pod: PodmanRef | undefined;

/**
 * A client on a pty of its own (script(1)) running a shell command: what we write to script's stdin is
 * typed on that pty, step by step; killed if it has not ended 10 s after the last step.
 */
async function ptyClient(cmd: string, steps: Buffer[], stepMs: number): Promise<{ out: string; done: boolean }> {
  const p = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  const closed = new Promise((r) => p.once('close', r));
  await sleep(2000);
  for (const s of steps) {
    p.stdin.write(s);
    await sleep(stepMs);
  }
  const done = await Promise.race([closed.then(() => true), sleep(10000).then(() => false)]);
  if (!done) p.kill('SIGKILL');
  return { out, done };
}
test.before(() => {
  e.importBusybox();
  if (havePodman()) {
    pod = podmanRef('lifecycle');
    const tarball = join(e.root, 'busybox.tar.gz');
    const r = spawnSync('podman', [...pod.base, 'import', tarball, 'busybox'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  }
});

test.after.always(async () => {
  e.remove();
  await pod?.cleanup();
});

const podman = (argv: string[], input?: Buffer) => spawnSync('podman', [...pod!.base, ...argv], { input, maxBuffer: 64 << 20 });

/** A tar's entries as `tar -tv` lists them: type+mode, owner, size, name (no user names or times, which differ by design). */
function listing(tar: Buffer): string[] {
  const out = execFileSync('tar', ['--numeric-owner', '-tvf', '-'], { input: tar, encoding: 'utf8', maxBuffer: 64 << 20 });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(/\s+/);
      // perms owner size date time name [-> target]
      // docker names directories with a trailing slash, podman's cp not always: compared without.
      return [f[0], f[1], f[0].startsWith('d') || f[0].startsWith('l') ? '' : f[2], f.slice(5).join(' ').replace(/\/$/, '')].join(' ');
    })
    .sort();
}

const running = (name: string) => JSON.parse(tsbox(['inspect', name]).stdout)[0]?.State.Running === true;
const tsboxRaw = (argv: string[], input?: Buffer) => spawnSync(process.execPath, [CLI, '--root', e.root, ...argv], { input, maxBuffer: 64 << 20, timeout: 60000 });

test.serial('create leaves the container Created; start -a runs it with its output here and its exit code', (t) => {
  const c = tsbox(['create', '--name', 'made', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stdout, /^[0-9a-f]{64}\n$/);
  const st = JSON.parse(tsbox(['inspect', 'made']).stdout)[0].State;
  t.is(st.Status, 'created');
  t.false(st.Running);
  t.regex(tsbox(['ps', '-a', '--format', '{{.Command}} {{.Status}} {{.Names}}']).stdout, /^"sh -c .?echo out; ech.* Created made\n/m);
  const made = JSON.parse(tsbox(['inspect', 'made']).stdout)[0];
  t.is(made.Path, 'sh');
  t.deepEqual(made.Args, ['-c', 'echo out; echo err >&2; exit 3']);
  const s = tsbox(['start', '-a', 'made']);
  t.is(s.code, 3, s.stderr);
  t.is(s.stdout, 'out\n');
  t.is(s.stderr, 'err\n');
  const after = JSON.parse(tsbox(['inspect', 'made']).stdout)[0].State;
  t.is(after.Status, 'exited');
  t.is(after.ExitCode, 3);
  // -i: stdin reaches it.
  t.is(tsbox(['create', '-i', '--name', 'cat', 'busybox', 'cat']).code, 0);
  const i = tsbox(['start', '-a', '-i', 'cat'], 'through stdin\n');
  t.is(i.code, 0, i.stderr);
  t.is(i.stdout, 'through stdin\n');
  // Without -a: started detached, its output in its log.
  t.is(tsbox(['create', '--name', 'bg', 'busybox', 'echo', 'logged']).code, 0);
  t.is(tsbox(['start', 'bg']).stdout, 'bg\n');
  t.is(tsbox(['wait', 'bg']).stdout, '0\n');
  t.is(tsbox(['logs', 'bg']).stdout, 'logged\n');
  for (const n of ['made', 'cat', 'bg']) tsbox(['rm', n]);
});

test.serial('events: what the engine did, with --since/--until, filters and json, followed while commands run', async (t) => {
  const t0 = new Date().toISOString();
  // Followed: a client started before the commands sees them as they happen.
  const follow = spawn(process.execPath, [CLI, '--root', e.root, 'events', '--format', 'json', '--filter', 'container=evt'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let live = '';
  follow.stdout.on('data', (d) => (live += d));
  await sleep(1500);
  t.is(tsbox(['run', '-d', '--name', 'evt', '--label', 'team=a', 'busybox', 'sleep', '100']).code, 0);
  t.is(tsbox(['pause', 'evt']).code, 0);
  t.is(tsbox(['unpause', 'evt']).code, 0);
  t.is(tsbox(['kill', '-s', 'USR1', 'evt']).code, 0);
  t.is(tsbox(['stop', '-t', '1', 'evt']).code, 0);
  t.is(tsbox(['rename', 'evt', 'evt2']).code, 0);
  t.is(tsbox(['rm', 'evt2']).code, 0);
  // A detached container's exit is recorded with its own time though nobody watched it.
  t.is(tsbox(['run', '-d', '--name', 'quick', 'busybox', 'sh', '-c', 'exit 7']).code, 0);
  await sleep(1500);
  const t1 = new Date().toISOString();
  follow.kill('SIGINT');
  await new Promise((r) => follow.once('close', r));
  const liveActions = live.split('\n').filter(Boolean).map((l) => JSON.parse(l).Action);
  // The name filter matches the events recorded under that name (rename's is under the new one).
  t.deepEqual(liveActions, ['create', 'start', 'pause', 'unpause', 'kill', 'kill', 'kill', 'die', 'stop']);

  const hist = tsbox(['events', '--since', t0, '--until', t1, '--format', 'json']);
  t.is(hist.code, 0, hist.stderr);
  const all = hist.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const evt = all.filter((x) => x.Actor.Attributes.name === 'evt' || x.Actor.Attributes.name === 'evt2');
  t.deepEqual(evt.map((x) => x.Action), ['create', 'start', 'pause', 'unpause', 'kill', 'kill', 'kill', 'die', 'stop', 'rename', 'destroy']);
  const first = evt[0];
  t.is(first.Type, 'container');
  t.is(first.scope, 'local');
  t.is(first.Actor.Attributes.image, 'busybox');
  t.is(first.Actor.Attributes.team, 'a');
  t.regex(first.Actor.ID, /^[0-9a-f]{64}$/);
  t.is(first.id, first.Actor.ID);
  t.is(first.status, 'create');
  t.true(Math.abs(first.timeNano / 1e9 - first.time) < 1);
  t.deepEqual(evt.filter((x) => x.Action === 'kill').map((x) => x.Actor.Attributes.signal), ['10', '15', '9']);
  t.is(evt.find((x) => x.Action === 'rename').Actor.Attributes.oldName, '/evt');
  t.is(evt.find((x) => x.Action === 'die').Actor.Attributes.exitCode, '137');
  const quickDie = all.find((x) => x.Actor.Attributes.name === 'quick' && x.Action === 'die');
  t.is(quickDie?.Actor.Attributes.exitCode, '7');
  // The times are in order.
  t.deepEqual(all.map((x) => x.timeNano), [...all.map((x) => x.timeNano)].sort((a, b) => a - b));

  // Filters: event, type, label, image; several values of one key are OR, keys are AND.
  const f = (args: string[]) => tsbox(['events', '--since', t0, '--until', t1, '--format', 'json', ...args]).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.deepEqual(f(['--filter', 'event=die']).map((x) => x.Actor.Attributes.name).sort(), ['evt', 'quick']);
  t.deepEqual(f(['--filter', 'event=pause', '--filter', 'event=unpause']).map((x) => x.Action), ['pause', 'unpause']);
  t.is(f(['--filter', 'type=image']).length, 0);
  t.deepEqual([...new Set(f(['--filter', 'label=team=a']).map((x) => x.Actor.Attributes.name))].sort(), ['evt', 'evt2']);
  t.is(f(['--filter', 'label=team']).length, f(['--filter', 'label=team=a']).length);
  t.is(f(['--filter', 'label=team=b']).length, 0);
  t.is(f(['--filter', 'image=busybox', '--filter', 'event=create']).length, 2);
  // --until in the past of the first event: nothing. The default format is docker's line.
  t.is(tsbox(['events', '--since', t0, '--until', t0]).stdout, '');
  const line = tsbox(['events', '--since', t0, '--until', t1, '--filter', 'event=create', '--filter', 'container=quick']).stdout;
  t.regex(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container create [0-9a-f]{64} \(image=busybox, name=quick\)\n$/);
  // Bad input: docker's words and exit code.
  const bad = tsbox(['events', '--filter', 'colour=red', '--until', '0s']);
  t.is(bad.code, 125);
  t.regex(bad.stderr, /Invalid filter 'colour'/);
  // Image events: tag, untag (no container uses the image meanwhile: tsbox's rmi refuses then).
  tsbox(['rm', '-f', 'quick']);
  t.is(tsbox(['tag', 'busybox', 'bb:evt']).code, 0);
  const rmi = tsbox(['rmi', 'bb:evt']);
  t.is(rmi.code, 0, rmi.stderr + tsbox(['ps', '-a']).stdout);
  const img = tsbox(['events', '--since', t1, '--until', '0s', '--filter', 'type=image', '--format', 'json']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // docker's attributes: the new name for tag, the image id for untag.
  t.deepEqual(img.map((x) => x.Action), ['tag', 'untag']);
  t.is(img[0].Actor.Attributes.name, 'bb:evt');
  t.is(img[1].Actor.Attributes.name, img[1].Actor.ID);
  t.regex(img[1].Actor.ID, /^sha256:[0-9a-f]{64}$/);
});

/** The same changes in a container of each engine. */
const CHANGES = 'mkdir -p /new/sub && echo x > /new/sub/f && ln -s /etc/passwd /new/link && rm /etc/group && echo y >> /etc/passwd && chmod 600 /new/sub/f';

const exitCodes = (json: string) => json.split('\n').filter(Boolean).map((l) => `${(JSON.parse(l) as { Actor: { Attributes: { exitCode: string } } }).Actor.Attributes.exitCode}\n`).join('');

test.serial('a detached container\'s exit is one die event: not while its status is being written, once when its monitor was killed', async (t) => {
  t.is(tsbox(['run', '-d', '--name', 'onedie', 'busybox', 'sleep', '100']).code, 0);
  const id = tsbox(['inspect', '-f', '{{.Id}}', 'onedie']).stdout.trim();
  const pid = Number(tsbox(['inspect', '-f', '{{.State.Pid}}', 'onedie']).stdout.trim());
  const monitor = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  const status = join(e.root, 'containers', id, 'exit-status');
  t.teardown(() => tsbox(['rm', '-f', 'onedie']));
  // The monitor killed first: the process's exit has nobody to write it down.
  process.kill(monitor, 'SIGKILL');
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await sleep(50);
  const dies = () => exitCodes(tsbox(['events', '--since', '0', '--until', new Date(Date.now() + 1000).toISOString(), '--filter', 'container=onedie', '--filter', 'event=die', '--format', 'json']).stdout);
  // A status file truncated a moment ago reads as one being written (the monitor truncates, then writes).
  writeFileSync(status, '');
  t.is(tsbox(['ps', '-a', '-q', '--filter', 'name=onedie']).code, 0);
  t.is(dies(), '', 'no die while the status may still come');
  // What the monitor then writes is the one exit recorded.
  writeFileSync(status, '2304\n');
  t.is(tsbox(['ps', '-a', '-q', '--filter', 'name=onedie']).code, 0);
  t.is(dies(), '9\n');
  t.is(tsbox(['ps', '-a', '-q', '--filter', 'name=onedie']).code, 0);
  t.is(dies(), '9\n', 'recorded once');
  // A status that stays empty: its keeper is gone, and the exit is recorded once as it reads (137).
  t.is(tsbox(['run', '-d', '--name', 'onedie2', 'busybox', 'sleep', '100']).code, 0);
  t.teardown(() => tsbox(['rm', '-f', 'onedie2']));
  const pid2 = Number(tsbox(['inspect', '-f', '{{.State.Pid}}', 'onedie2']).stdout.trim());
  process.kill(Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid2}/status`, 'utf8'))![1]), 'SIGKILL');
  process.kill(pid2, 'SIGKILL');
  const status2 = join(e.root, 'containers', tsbox(['inspect', '-f', '{{.Id}}', 'onedie2']).stdout.trim(), 'exit-status');
  for (let i = 0; i < 200 && Date.now() - statSync(status2).mtimeMs < 5500; i++) await sleep(50);
  const dies2 = () => exitCodes(tsbox(['events', '--since', '0', '--until', new Date(Date.now() + 1000).toISOString(), '--filter', 'container=onedie2', '--filter', 'event=die', '--format', 'json']).stdout);
  tsbox(['ps', '-a']);
  tsbox(['ps', '-a']);
  t.is(dies2(), '137\n');
});

test.serial('diff lists A/C/D as docker; podman agrees on the same changes', async (t) => {
  t.is(tsbox(['run', '-d', '--name', 'chg', 'busybox', 'sh', '-c', `${CHANGES} && sleep 100`]).code, 0);
  await sleep(800);
  const d = tsbox(['diff', 'chg']);
  t.is(d.code, 0, d.stderr);
  const mine = d.stdout.split('\n').filter(Boolean);
  t.deepEqual(mine, ['C /etc', 'D /etc/group', 'C /etc/passwd', 'A /new', 'A /new/link', 'A /new/sub', 'A /new/sub/f']);
  if (!pod) return t.log('podman not installed: no reference run');
  const run = podman(['run', '-d', '--name', 'chg', ...pod.runFlags, 'busybox', 'sh', '-c', `${CHANGES} && sleep 100`]);
  t.is(run.status, 0, run.stderr.toString());
  await sleep(1500);
  const theirs = podman(['diff', 'chg']).stdout.toString().split('\n').filter(Boolean);
  // podman lists its own mount points (/run, /etc/hostname, ...) that tsbox keeps out, as docker's init layer does.
  const ours = new Set(mine);
  t.deepEqual(theirs.filter((l) => ours.has(l)).sort(), [...mine].sort());
});

test.serial('export and cp CONTAINER:PATH - stream tars with the same entries as podman for the same content', async (t) => {
  // chg from the diff test runs in both engines.
  const exp = tsboxRaw(['export', 'chg']);
  t.is(exp.status, 0, exp.stderr.toString());
  const mine = listing(exp.stdout);
  t.true(mine.includes('-rw------- 0/0 2 new/sub/f'), mine.join('\n'));
  t.true(mine.some((l) => l.startsWith('lrwxrwxrwx 0/0  new/link -> /etc/passwd')));
  t.false(mine.some((l) => / etc\/group$/.test(l)));
  const out = tsboxRaw(['cp', 'chg:/new', '-']);
  t.is(out.status, 0, out.stderr.toString());
  t.deepEqual(listing(out.stdout), ['drwxr-xr-x 0/0  new', 'drwxr-xr-x 0/0  new/sub', '-rw------- 0/0 2 new/sub/f', 'lrwxrwxrwx 0/0  new/link -> /etc/passwd'].sort());
  // docker's names: directories end in a slash.
  t.regex(execFileSync('tar', ['-tf', '-'], { input: out.stdout, encoding: 'utf8' }), /^new\/\nnew\/link\n|^new\/\n/);
  const one = tsboxRaw(['cp', 'chg:/etc/passwd', '-']);
  t.deepEqual(listing(one.stdout).map((l) => l.split(' ').pop()), ['passwd']);
  // -o writes a file; a terminal is refused (docker's "cowardly refusing").
  const file = join(e.root, 'chg.tar');
  t.is(tsbox(['export', '-o', file, 'chg']).code, 0);
  t.deepEqual(listing(readFileSync(file)), mine);
  t.is(tsbox(['cp', 'chg:/nope', '-']).code, 1);
  if (!pod) return t.log('podman not installed: no reference run');
  // podman opens /dev/stdout, which a socket (spawnSync's stdout) is not: to a file.
  const pe = podman(['export', '-o', join(e.root, 'pod.tar'), 'chg']);
  t.is(pe.status, 0, pe.stderr.toString());
  const theirs = listing(readFileSync(join(e.root, 'pod.tar')));
  // Both engines' own mount points and files are theirs: compared are the image's and the container's.
  const engineMade = /^(\S+ \S+ \S* )(etc\/(hosts|hostname|resolv\.conf|mtab( -> .*)?)|run\/.*|run|dev\/.*|\.containerenv)$/;
  const a = mine.filter((l) => !engineMade.test(l));
  const b = theirs.filter((l) => !engineMade.test(l));
  t.deepEqual(a.filter((l) => !b.includes(l)), []);
  t.deepEqual(b.filter((l) => !a.includes(l)), []);
  t.deepEqual(listing(out.stdout), listing(podman(['cp', 'chg:/new', '-']).stdout));
});

test.serial('cp - CONTAINER:PATH extracts a tar stream into the container, as podman does', async (t) => {
  const tar = tarOf([
    { name: 'in/', type: '5' },
    { name: 'in/a.txt', data: 'alpha\n' },
    { name: 'in/l', type: '2', linkname: 'a.txt' },
  ]);
  const r = tsboxRaw(['cp', '-', 'chg:/tmp'], tar);
  t.is(r.status, 0, r.stderr.toString());
  t.is(tsbox(['exec', 'chg', 'cat', '/tmp/in/a.txt']).stdout, 'alpha\n');
  t.is(tsbox(['exec', 'chg', 'readlink', '/tmp/in/l']).stdout, 'a.txt\n');
  if (!pod) return;
  t.is(podman(['cp', '-', 'chg:/tmp'], tar).status, 0);
  t.deepEqual(listing(tsboxRaw(['cp', 'chg:/tmp/in', '-']).stdout), listing(podman(['cp', 'chg:/tmp/in', '-']).stdout));
});

test.serial('cp - with a hostile tar: nothing lands outside the destination, no device is made, the host is untouched', async (t) => {
  const host = mkdtempSync(join(tmpdir(), 'tsbox-lifecycle-host-'));
  const before = readdirSync(host);
  const cases: { name: string; tar: Buffer }[] = [
    { name: '../ escape', tar: tarOf([{ name: '../../../../../../..' + host + '/dotdot', data: 'x' }]) },
    { name: 'symlink then through it', tar: tarOf([{ name: 'evil', type: '2', linkname: host }, { name: 'evil/through', data: 'x' }]) },
    { name: 'hardlink to a host file', tar: tarOf([{ name: 'hl', type: '1', linkname: '../../../../../../etc/passwd' }]) },
  ];
  for (const c of cases) {
    const r = tsboxRaw(['cp', '-', 'chg:/tmp'], c.tar);
    t.not(r.status, 0, c.name);
    t.regex(r.stderr.toString(), /outside the destination|through the symlink|not a file extracted before it/, c.name);
  }
  // An absolute name is rooted at the destination, as docker does; a device node is left out with a warning.
  const dev = Buffer.concat([tarHeader('null-dev', 0, 0, '3'), Buffer.alloc(1024)]);
  const abs = tarOf([{ name: `${host}/abs`, data: 'rooted' }]);
  const ra = tsboxRaw(['cp', '-', 'chg:/tmp'], abs);
  t.is(ra.status, 0, ra.stderr.toString());
  t.is(tsbox(['exec', 'chg', 'cat', `/tmp${host}/abs`]).stdout, 'rooted');
  const rd = tsboxRaw(['cp', '-', 'chg:/tmp'], dev);
  t.is(rd.status, 0, rd.stderr.toString());
  t.regex(rd.stderr.toString(), /1 device node/);
  t.not(tsbox(['exec', 'chg', 'ls', '/tmp/null-dev']).code, 0);
  // A symlink in the container pointing out: extracting into it stays in the container's root.
  t.is(tsbox(['exec', 'chg', 'ln', '-s', host, '/tmp/out']).code, 0);
  const rl = tsboxRaw(['cp', '-', 'chg:/tmp/out'], tarOf([{ name: 'planted', data: 'x' }]));
  t.deepEqual(readdirSync(host), before, rl.stderr.toString());
  t.false(existsSync(join(host, 'dotdot')) || existsSync(join(host, 'through')) || existsSync(join(host, 'abs')) || existsSync(join(host, 'planted')));
  t.is(lstatSync('/etc/passwd').nlink, 1);
  // The engine's scratch directories are gone.
  t.deepEqual(readdirSync(join(e.root, 'tmp')), []);
  rmSync(host, { recursive: true, force: true });
  tsbox(['rm', '-f', 'chg']);
  if (pod) podman(['rm', '-f', '-t', '0', 'chg']);
});

test.serial('run -d --rm: the container is gone once it exited', async (t) => {
  // It runs until the test lets it go: a loaded machine may take longer than any sleep to list it.
  const r = tsbox(['run', '-d', '--rm', '--name', 'gone', 'busybox', 'sh', '-c', 'until [ -e /tmp/go ]; do sleep 0.1; done']);
  t.is(r.code, 0, r.stderr);
  t.regex(tsbox(['ps']).stdout, /gone/);
  t.is(tsbox(['exec', 'gone', 'touch', '/tmp/go']).code, 0);
  for (let i = 0; i < 100 && tsbox(['ps', '-a', '-q', '--filter', 'name=gone']).stdout; i++) await sleep(100);
  t.is(tsbox(['ps', '-a', '-q', '--filter', 'name=gone']).stdout, '');
  t.false(readdirSync(join(e.root, 'containers')).some((id) => id.startsWith(r.stdout.trim().slice(0, 12))));
  // Its events: die, then destroy.
  const ev = tsbox(['events', '--since', '1m', '--until', '0s', '--filter', 'container=gone', '--format', 'json']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).Action);
  t.deepEqual(ev, ['create', 'start', 'die', 'destroy']);
});

test.serial('--log-opt max-size/max-file rotates the json-file log; logs reads across the files', async (t) => {
  const lines = 400;
  const r = tsbox(['run', '-d', '--name', 'rot', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', `i=0; while [ $i -lt ${lines} ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done`]);
  t.is(r.code, 0, r.stderr);
  t.is(tsbox(['wait', 'rot']).stdout, '0\n');
  const id = r.stdout.trim();
  const files = readdirSync(join(e.root, 'containers', id)).filter((f) => f.startsWith('container.log'));
  t.deepEqual(files.sort(), ['container.log', 'container.log.1', 'container.log.2']);
  // Each at most ~max-size: rotation happens after the line that crossed it.
  for (const f of files) t.true(statSync(join(e.root, 'containers', id, f)).size <= 2048 + 200, f);
  // A library reader that stops early (a for-await with a break) leaves no log file open.
  const { Engine } = await import('../ts/engine/engine.js');
  const openFds = () => readdirSync('/proc/self/fd').length;
  for await (const _ of new Engine({ root: e.root }).containers.logs('rot')) break;
  const fdsBefore = openFds();
  for (const follow of [false, true]) for await (const _ of new Engine({ root: e.root }).containers.logs('rot', { follow })) break;
  t.is(openFds(), fdsBefore, 'no descriptor left open');
  const logs = tsbox(['logs', 'rot']).stdout.split('\n').filter(Boolean);
  t.true(logs.length > 10 && logs.length < lines);
  t.is(logs.at(-1), `line-${lines - 1}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`);
  // In order, without gaps, across the files.
  const nums = logs.map((l) => Number(l.split('-')[1]));
  t.deepEqual(nums, nums.map((_, i) => nums[0] + i));
  // max-file=1: the file starts over.
  const one = tsbox(['run', '-d', '--name', 'rot1', '--log-opt', 'max-size=1k', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxx; i=$((i+1)); done']);
  tsbox(['wait', 'rot1']);
  const dir1 = join(e.root, 'containers', one.stdout.trim());
  t.deepEqual(readdirSync(dir1).filter((f) => f.startsWith('container.log')), ['container.log']);
  t.true(statSync(join(dir1, 'container.log')).size <= 1024 + 200);
  // logs -f follows the file across rotations: every line, in order.
  const slow = tsbox(['run', '-d', '--name', 'rotf', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=5', 'busybox', 'sh', '-c', 'sleep 1; i=0; while [ $i -lt 300 ]; do echo follow-$i-xxxxxxxxxxxxxxxxxxxx; i=$((i+1)); [ $((i % 20)) -eq 0 ] && sleep 0.2; done']);
  t.is(slow.code, 0, slow.stderr);
  const followed = tsbox(['logs', '-f', 'rotf']).stdout.split('\n').filter(Boolean);
  t.deepEqual(followed.map((l) => Number(l.split('-')[1])), [...Array(300).keys()]);
  // A burst: dozens of rotations between two looks of the follower, each renaming every file, and the last
  // lines still written by the monitor after the process exited (lost before: whole files skipped).
  const burst = tsbox(['run', '-d', '--name', 'rotb', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=100', 'busybox', 'sh', '-c', 'sleep 1; i=0; while [ $i -lt 600 ]; do echo burst-$i-xxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done']);
  t.is(burst.code, 0, burst.stderr);
  const all = tsbox(['logs', '-f', 'rotb']);
  t.deepEqual(all.stdout.split('\n').filter(Boolean).map((l) => Number(l.split('-')[1])), [...Array(600).keys()], all.stderr);
  // Bad options: docker's errors, exit 125.
  const bad = tsbox(['run', '--log-opt', 'max-file=x', 'busybox', 'true']);
  t.is(bad.code, 125);
  t.regex(bad.stderr, /max-file/);
  t.is(tsbox(['run', '--log-opt', 'colour=red', 'busybox', 'true']).code, 125);
  tsbox(['rm', 'rot', 'rot1', 'rotf', 'rotb']);
});

test.serial('--log-driver none: no log file; logs says docker\'s error; an unknown driver is refused', async (t) => {
  const r = tsbox(['run', '-d', '--name', 'quiet', '--log-driver', 'none', 'busybox', 'echo', 'nowhere']);
  t.is(r.code, 0, r.stderr);
  t.is(tsbox(['wait', 'quiet']).stdout, '0\n');
  t.false(existsSync(join(e.root, 'containers', r.stdout.trim(), 'container.log')));
  const l = tsbox(['logs', 'quiet']);
  t.is(l.code, 1);
  t.is(l.stderr, 'Error response from daemon: configured logging driver does not support reading\n');
  const u = tsbox(['run', '--log-driver', 'syslog', 'busybox', 'true']);
  t.is(u.code, 125);
  t.regex(u.stderr, /logging driver "syslog" is not supported/);
  tsbox(['rm', 'quiet']);
});

test.serial('attach: output from now on, input to its stdin (-i); ctrl-p ctrl-q (and --detach-keys) detach on a real pty, the container runs on', async (t) => {
  if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) return t.pass('no script(1)');
  t.is(tsbox(['run', '-d', '-i', '--name', 'att', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 3 ]; do echo tick-$i; i=$((i+1)); done; while read l; do echo "got: $l"; done; echo stdin-closed; exit 5']).code, 0);
  await sleep(1000);
  // The socket is its owner's only: it is the container's stdin.
  const sockDir = join(e.root, 'attach');
  t.is(statSync(sockDir).mode & 0o777, 0o700);
  const socks = readdirSync(sockDir);
  t.is(socks.length, 1);
  t.is(statSync(join(sockDir, socks[0])).mode & 0o777, 0o600);
  t.true(statSync(join(sockDir, socks[0])).isSocket());
  const attach = (extra: string, steps: Buffer[]) => ptyClient(`${process.execPath} ${CLI} --root ${e.root} attach ${extra} att; echo rc=$?`, steps, 700);
  // Typed lines (Enter is \r on a raw terminal) reach its stdin; its answers come back; then the keys.
  const a = await attach('', [Buffer.from('hello\r'), Buffer.from('world\r'), Buffer.from([0x10, 0x11])]);
  t.true(a.done, a.out);
  t.regex(a.out, /got: hello\r?\n/);
  t.regex(a.out, /got: world\r?\n/);
  // Only output from the moment of attaching: not the first lines, written before the client came.
  t.notRegex(a.out, /tick-0/);
  t.regex(a.out, /read escape sequence/);
  t.regex(a.out, /rc=0/);
  t.true(running('att'));
  // Other keys: ctrl-x,a; a ctrl-x followed by something else is input, not a detach.
  const b = await attach('--detach-keys ctrl-x,a', [Buffer.from([0x18, 0x62, 0x0d]), Buffer.from([0x18, 0x61])]);
  t.true(b.done, b.out);
  t.regex(b.out, /got: \x18b/);
  t.regex(b.out, /read escape sequence/);
  t.true(running('att'));
  // Input from a pipe too; the client ends with the container, with its exit code.
  // (It stays attached: ended with SIGKILL, as SIGTERM would be passed on to the container.)
  const p = spawnSync(process.execPath, [CLI, '--root', e.root, 'attach', 'att'], { input: 'piped\n', encoding: 'utf8', timeout: 4000, killSignal: 'SIGKILL' });
  t.regex(p.stdout ?? '', /got: piped/);
  t.is(tsbox(['logs', 'att']).stdout, 'tick-0\ntick-1\ntick-2\ngot: hello\ngot: world\ngot: \x18b\ngot: piped\n');
  const ev = tsbox(['events', '--since', '1m', '--until', '0s', '--filter', 'container=att', '--filter', 'event=attach', '--filter', 'event=detach', '--format', 'json']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).Action);
  t.deepEqual(ev.slice(0, 4), ['attach', 'detach', 'attach', 'detach']);
  tsbox(['rm', '-f', 'att']);
  t.deepEqual(readdirSync(sockDir), []);
  // The container's exit ends the client with its code.
  t.is(tsbox(['run', '-d', '--name', 'att2', 'busybox', 'sh', '-c', 'sleep 2; echo bye; exit 4']).code, 0);
  const end = tsbox(['attach', 'att2']);
  t.is(end.code, 4, end.stderr);
  t.is(end.stdout, 'bye\n');
  tsbox(['rm', 'att2']);
  // A stopped container: docker's error.
  t.is(tsbox(['create', '--name', 'idle', 'busybox', 'true']).code, 0);
  const s = tsbox(['attach', 'idle']);
  t.is(s.code, 1);
  t.regex(s.stderr, /You cannot attach to a stopped container, start it first/);
  tsbox(['rm', 'idle']);
});

test.serial('update --restart: a running container without a policy gets one, and it applies', async (t) => {
  t.is(tsbox(['run', '-d', '--name', 'upd', 'busybox', 'sh', '-c', 'sleep 2; exit 1']).code, 0);
  const u = tsbox(['update', '--restart', 'on-failure:2', 'upd']);
  t.is(u.code, 0, u.stderr);
  t.is(u.stdout, 'upd\n');
  t.deepEqual(JSON.parse(tsbox(['inspect', 'upd']).stdout)[0].HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
  let count = 0;
  for (let i = 0; i < 200 && count < 2; i++) {
    await sleep(100);
    count = JSON.parse(tsbox(['inspect', 'upd']).stdout)[0].RestartCount;
  }
  t.is(count, 2);
  t.is(tsbox(['update', '--restart', 'sometimes', 'upd']).code, 125);
  t.is(tsbox(['update', '--restart', 'no', 'nosuch']).code, 1);
  // --rm and a policy do not go together, as docker says.
  t.is(tsbox(['run', '-d', '--rm', '--name', 'updrm', 'busybox', 'sleep', '100']).code, 0);
  const c = tsbox(['update', '--restart', 'always', 'updrm']);
  t.is(c.code, 1);
  t.regex(c.stderr, /AutoRemove is enabled/);
  tsbox(['stop', '-t', '0', 'upd']);
  tsbox(['rm', '-f', 'upd', 'updrm']);
});

test.serial('update of resources: the running cgroup and the record (kept across a restart), beside podman update', async (t) => {
  const r = tsbox(['run', '-d', '--name', 'res', 'busybox', 'sleep', '100']);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const u = tsbox(['update', '-m', '64m', '--pids-limit', '50', '--cpus', '0.5', 'res']);
  t.is(u.code, 0, u.stderr);
  const cg = (ctrl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctrl}/tsbox/${id}/${file}`, 'utf8').trim();
  const v1 = existsSync(`/sys/fs/cgroup/memory/tsbox/${id}`);
  if (v1) {
    t.is(cg('memory', 'memory.limit_in_bytes'), String(64 << 20));
    t.is(cg('pids', 'pids.max'), '50');
    t.is(cg('cpu', 'cpu.cfs_quota_us'), '50000');
  }
  const hc = JSON.parse(tsbox(['inspect', 'res']).stdout)[0].HostConfig;
  t.is(hc.Memory, 64 << 20);
  t.is(hc.PidsLimit, 50);
  t.is(hc.NanoCpus, 500000000);
  // Below what it uses: refused, nothing changed.
  const low = tsbox(['update', '-m', '4k', 'res']);
  t.is(low.code, 1);
  t.regex(low.stderr, /^Error response from daemon: Cannot update container/);
  if (v1) t.is(cg('memory', 'memory.limit_in_bytes'), String(64 << 20));
  t.is(tsbox(['restart', '-t', '0', 'res']).code, 0);
  if (v1) t.is(cg('memory', 'memory.limit_in_bytes'), String(64 << 20));
  t.is(tsbox(['update', '--cpus', 'lots', 'res']).code, 125);
  t.is(tsbox(['update', 'res']).code, 125);
  tsbox(['rm', '-f', 'res']);
  if (!pod) return;
  t.is(podman(['run', '-d', '--name', 'res', ...pod.runFlags, 'busybox', 'sleep', '100']).status, 0);
  // podman 4.3's update has no --pids-limit.
  const pu = podman(['update', '--memory', '64m', '--cpus', '0.5', 'res']);
  t.is(pu.status, 0, pu.stderr.toString());
  // Its inspect does not show the change (podman 4.3): its cgroup, found through its process, does.
  const pid = JSON.parse(podman(['inspect', 'res']).stdout.toString())[0].State.Pid;
  const of = (ctrl: string) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(ctrl))?.split(':')[2];
  if (v1) {
    t.is(readFileSync(`/sys/fs/cgroup/memory${of('memory')}/memory.limit_in_bytes`, 'utf8').trim(), String(64 << 20));
    t.is(readFileSync(`/sys/fs/cgroup/cpu${of('cpu')}/cpu.cfs_quota_us`, 'utf8').trim(), '50000');
  }
  podman(['rm', '-f', '-t', '0', 'res']);
});

test.serial('a foreground container keeps its json-file log too: pipes, a pty, start -a; --log-driver none does not', async (t) => {
  const r = tsbox(['run', '--name', 'fg', 'busybox', 'sh', '-c', 'echo out; echo err >&2; printf partial']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'out\npartial');
  t.is(r.stderr, 'err\n');
  const l = tsbox(['logs', 'fg']);
  t.is(l.stdout, 'out\npartial');
  t.is(l.stderr, 'err\n');
  // The lines as docker's json-file writes them.
  const id = JSON.parse(tsbox(['inspect', 'fg']).stdout)[0].Id;
  const lines = readFileSync(join(e.root, 'containers', id, 'container.log'), 'utf8').split('\n').filter(Boolean).map((x) => JSON.parse(x));
  t.deepEqual(lines.map((x) => [x.stream, x.log]).sort(), [['stderr', 'err\n'], ['stdout', 'out\n'], ['stdout', 'partial']]);
  for (const x of lines) t.regex(x.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  // A lot of output, all of it both here and in the log.
  const big = tsbox(['run', '--name', 'fgbig', 'busybox', 'seq', '1', '50000']);
  t.is(big.stdout.split('\n').length, 50001);
  t.is(tsbox(['logs', 'fgbig']).stdout, big.stdout);
  // start -a of a created one.
  t.is(tsbox(['create', '--name', 'fgc', 'busybox', 'echo', 'created-then-attached']).code, 0);
  t.is(tsbox(['start', '-a', 'fgc']).stdout, 'created-then-attached\n');
  t.is(tsbox(['logs', 'fgc']).stdout, 'created-then-attached\n');
  // -t on a real pty: what the pty gave.
  if (spawnSync('sh', ['-c', 'command -v script']).status === 0) {
    const s = spawnSync('script', ['-qfec', `${process.execPath} ${CLI} --root ${e.root} run -t --name fgt busybox echo on-a-tty`, '/dev/null'], { encoding: 'utf8', timeout: 60000 });
    t.regex(s.stdout, /on-a-tty/);
    t.is(tsbox(['logs', 'fgt']).stdout, 'on-a-tty\r\n');
  }
  const n = tsbox(['run', '--name', 'fgn', '--log-driver', 'none', 'busybox', 'echo', 'unlogged']);
  t.is(n.stdout, 'unlogged\n');
  t.is(tsbox(['logs', 'fgn']).stderr, 'Error response from daemon: configured logging driver does not support reading\n');
  tsbox(['rm', 'fg', 'fgbig', 'fgc', 'fgt', 'fgn']);
});

test.serial('run -it: the detach keys leave the container running with its terminal; attach finds it again; --rm applies after', async (t) => {
  if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) return t.pass('no script(1)');
  const client = (cmd: string, steps: Buffer[]) => ptyClient(`stty cols 91 rows 27; ${cmd}; echo rc=$?`, steps, 800);
  const cli = `${process.execPath} ${CLI} --root ${e.root}`;
  const a = await client(`${cli} run -it --rm --name itd busybox sh`, [Buffer.from('echo in-$((6*7)); tty; stty size\r'), Buffer.from([0x10, 0x11])]);
  t.true(a.done, a.out);
  t.regex(a.out, /in-42/);
  t.regex(a.out, /\/dev\/pts\/\d+/);
  // The client's terminal size reached the container's.
  t.regex(a.out, /27 91/);
  t.regex(a.out, /rc=0/);
  t.true(running('itd'));
  t.true(JSON.parse(tsbox(['inspect', 'itd']).stdout)[0].HostConfig.AutoRemove);
  // Attached again: the same shell (its variable), and its exit ends the client with its code.
  const b = await client(`${cli} attach itd`, [Buffer.from('echo again-$((1+1)); exit 9\r')]);
  t.true(b.done, b.out);
  t.regex(b.out, /again-2/);
  t.regex(b.out, /rc=9/);
  // --rm: gone once it exited.
  for (let i = 0; i < 50 && tsbox(['ps', '-a', '-q', '--filter', 'name=itd']).stdout; i++) await sleep(100);
  t.is(tsbox(['ps', '-a', '-q', '--filter', 'name=itd']).stdout, '');
  // A quick one: all its output, its code, and --rm, though it may end before the client attaches.
  for (let i = 0; i < 3; i++) {
    const q = spawnSync('script', ['-qfec', `${cli} run -t --rm --name quick${i} busybox sh -c 'echo fast-${i}; exit 5'; echo rc=$?`, '/dev/null'], { encoding: 'utf8', timeout: 60000 });
    t.regex(q.stdout, new RegExp(`fast-${i}\\r*\\n`));
    t.regex(q.stdout, /rc=5/);
  }
  for (let i = 0; i < 50 && tsbox(['ps', '-a', '-q', '--filter', 'name=quick']).stdout; i++) await sleep(100);
  t.is(tsbox(['ps', '-a', '-q', '--no-trunc', '--filter', 'name=quick', '--format', '{{.Names}} {{.Status}}']).stdout, '');
  // Without a terminal on our side, -t still gives the container one, and its log keeps the output.
  const n = tsbox(['run', '-t', '--name', 'tlog', 'busybox', 'sh', '-c', 'tty; exit 3']);
  t.is(n.code, 3, n.stderr);
  t.regex(n.stdout, /^\/dev\/pts\/\d+\r\n$/);
  t.regex(tsbox(['logs', 'tlog']).stdout, /^\/dev\/pts\/\d+\r\n$/);
  tsbox(['rm', 'tlog']);
});
