// The library never writes to the host's stdout or stderr: a child Node process uses the packed tarball
// through paths that used to print (a missing image and its pull, a failing poststop hook) and ordinary
// runs, and its captured stdout and stderr hold only what the script printed itself. What used to be
// printed reaches the callbacks instead (onProgress, onWarning); the CLI still prints it.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { BUSYBOX, leftovers, makeBundle, removeBundle, STATE_ROOT } from './helpers/bundle.js';
import { installedEngine, type InstalledEngine } from './helpers/installed-engine.js';
import { installedPackage } from './helpers/package.js';

let engine: InstalledEngine;
const dir = mkdtempSync(join(tmpdir(), 'tsbox-quiet-'));

test.before(async () => {
  engine = await installedEngine('tsbox-quiet-root-');
});

test.after.always(() => {
  engine?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('a library call writes nothing to the process\'s stdout or stderr; callbacks get what the CLI prints', (t) => {
  const hooked = makeBundle(['true'], (s) => {
    s.hooks = { poststop: [{ path: '/bin/false' }] };
  });
  const hooked2 = makeBundle(['true'], (s) => {
    s.hooks = { poststop: [{ path: '/bin/false' }] };
  });
  t.teardown(() => [hooked, hooked2].forEach(removeBundle));
  const script = join(dir, 'quiet.mjs');
  writeFileSync(
    script,
    `import * as tsbox from ${JSON.stringify(engine.entry)};
import { readFileSync, writeFileSync } from 'node:fs';
const [root, state, busybox, b1, id1, b2, id2, out] = process.argv.slice(2);
const spec = (b) => JSON.parse(readFileSync(b + '/config.json', 'utf8'));
const seen = { errors: [], progress: [], warnings: [], codes: [] };
const fail = (e) => seen.errors.push(e.code);
const drain = async (p) => { p.stdout?.resume(); p.stderr?.resume(); seen.codes.push((await p.closed).code); };
// A missing image: not pulled, then pulled from an unreachable docker.io (as "tsbox run" would print).
await tsbox.run({ root, image: 'absent-image', pull: 'never' }).catch(fail);
await tsbox.run({ root, image: 'absent-image' }).catch(fail);
await tsbox.run({ root, image: 'absent-image', onProgress: (p) => seen.progress.push(p) }).catch(fail);
// A failing poststop hook: logged, not fatal (and printed by tsbox-runtime).
await drain(await tsbox.runContainer({ id: id1, spec: spec(b1), bundle: b1, root: state }));
await drain(await tsbox.runContainer({ id: id2, spec: spec(b2), bundle: b2, root: state, onWarning: (m) => seen.warnings.push(m) }));
// Ordinary runs, and setup failures.
await drain(await tsbox.run({ root, image: 'busybox', cmd: ['sh', '-c', 'echo to-the-stream; exit 3'] }));
await drain(await tsbox.spawn(busybox, ['sh', '-c', 'echo to-the-stream >&2']));
await tsbox.spawn('/no/such/command').catch(fail);
await tsbox.run({ root, image: 'busybox', cmd: ['/etc/passwd'] }).catch(fail);
writeFileSync(out, JSON.stringify(seen));
`,
  );
  const out = join(dir, 'seen.json');
  const r = spawnSync(process.execPath, [script, engine.root, STATE_ROOT, BUSYBOX, hooked.dir, hooked.id, hooked2.dir, hooked2.id, out], { encoding: 'utf8', env: installedPackage().env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, '');
  t.is(r.stderr, '');
  const seen = JSON.parse(spawnSync('cat', [out], { encoding: 'utf8' }).stdout) as { errors: string[]; progress: { image: string; status: string }[]; warnings: string[]; codes: number[] };
  t.deepEqual(seen.errors, ['ERR_IMAGE_NOT_FOUND', 'ERR_REGISTRY_UNREACHABLE', 'ERR_REGISTRY_UNREACHABLE', 'ERR_COMMAND_NOT_FOUND', 'ERR_NOT_EXECUTABLE']);
  t.deepEqual(seen.progress, [{ image: 'absent-image', status: 'missing' }]);
  t.is(seen.warnings.length, 1);
  t.regex(seen.warnings[0], /^poststop hook \/bin\/false: /);
  t.deepEqual(seen.codes, [0, 0, 3, 0]);
});

test('the CLI still prints "Unable to find image"', (t) => {
  const p = installedPackage();
  const r = spawnSync(p.bin, ['--root', engine.root, 'run', '--rm', 'absent-image'], { encoding: 'utf8', env: p.env });
  t.is(r.status, 125);
  t.regex(r.stderr, /^Unable to find image 'absent-image' locally\n/);
});

test.after.always('nothing left behind', (t) => {
  t.deepEqual(leftovers(), { cgroups: [], states: [] });
});
