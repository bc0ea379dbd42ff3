// bin/cached.cjs, the loader of both executables: the bundle runs as `node BUNDLE` would, V8's code cache
// of each command is written after a successful run and reused, and a bad or stale cache never breaks a run.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, REPO, RUNTIME } from './helpers/bins.js';

const LOADER = join(REPO, 'bin', 'cached.cjs');

/** A bundle like esbuild's: a "#!" line, CommonJS globals, an asynchronous main, an exit code. */
function bundleIn(dir: string): string {
  const file = join(dir, 'app.cjs');
  writeFileSync(
    file,
    [
      '#!/usr/bin/env node',
      "'use strict';",
      "const { basename } = require('node:path');",
      'async function main(argv) {',
      "  const { platform } = await Promise.resolve().then(() => require('node:os'));",
      "  process.stdout.write(JSON.stringify({ argv, file: basename(__filename), dir: __dirname, argv1: process.argv[1], os: platform(), exportsOk: module.exports === exports }) + '\\n');",
      "  return argv.includes('fail') ? 3 : 0;",
      '}',
      'main(process.argv.slice(2)).then((code) => process.exit(code));',
    ].join('\n'),
  );
  return file;
}

const run = (file: string, args: string[]) => spawnSync(process.execPath, [LOADER, file, ...args], { encoding: 'utf8' });

test('runs the bundle as node would, and caches each command after its first success', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = bundleIn(dir);
  const r = run(file, ['--root', '/x', 'state', 'id1']);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { argv: ['--root', '/x', 'state', 'id1'], file: 'app.cjs', dir, argv1: file, os: 'linux', exportsOk: true });
  // The command after the global flags names the cache; --root's value is not taken for it.
  t.true(existsSync(join(dir, 'app.state.cache')));
  const before = statSync(join(dir, 'app.state.cache')).mtimeMs;
  t.is(run(file, ['state', 'id2']).status, 0);
  t.is(statSync(join(dir, 'app.state.cache')).mtimeMs, before, 'an accepted cache is not rewritten');
  // A failed run (a mistyped command, a failing one) leaves no cache behind.
  t.is(run(file, ['frobnicate', 'fail']).status, 3);
  t.false(existsSync(join(dir, 'app.frobnicate.cache')));
  // Odd words never make odd file names.
  t.is(run(file, ['../../x']).status, 0);
  t.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.cache')).sort(), ['app.other.cache', 'app.state.cache']);
});

test('a corrupt, foreign or stale cache is rejected by V8: the run goes on and writes a fresh one', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = bundleIn(dir);
  const cache = join(dir, 'app.list.cache');
  writeFileSync(cache, Buffer.alloc(4096, 0x5a));
  const r = run(file, ['list']);
  t.is(r.status, 0, r.stderr);
  t.is(JSON.parse(r.stdout).argv[0], 'list');
  t.notDeepEqual(readFileSync(cache), Buffer.alloc(4096, 0x5a));
  // The source changed (a rebuilt bundle): the old cache no longer fits it and is replaced.
  const old = readFileSync(cache);
  writeFileSync(file, readFileSync(file, 'utf8').replace("'use strict';", "'use strict'; const unused = 1;"));
  t.is(run(file, ['list']).status, 0);
  t.notDeepEqual(readFileSync(cache), old);
});

test('both executables run through the loader, also through a symlink and a relative path', (t) => {
  // Node 20 has no loader for an import() in a script made from a cache: the bundles have none.
  // Lines of comments aside (a bundled package's JSDoc says {import('./index.js').T}).
  const code = (b: string) => readFileSync(join(REPO, 'dist', b), 'utf8').split('\n').filter((l) => !/^\s*(\*|\/\*|\/\/)/.test(l)).join('\n');
  for (const b of ['tsbox.cjs', 'tsbox-runtime.cjs']) t.notRegex(code(b), /(?<![.\w$])import\((?![^()]*\)\s*\{)/, b); // not .import( calls nor import(...) { methods
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-cache-bin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.regex(spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' }).stdout, /^tsbox version /);
  symlinkSync(CLI, join(dir, 'tsbox'));
  t.regex(spawnSync(process.execPath, [join(dir, 'tsbox'), '--version'], { encoding: 'utf8' }).stdout, /^tsbox version /);
  symlinkSync(RUNTIME, join(dir, 'tsbox-runtime'));
  t.regex(spawnSync(join(dir, 'tsbox-runtime'), ['--version'], { encoding: 'utf8' }).stdout, /^tsbox-runtime version /);
  const rel = spawnSync('./tsbox-runtime', ['--version'], { cwd: join(REPO, 'bin'), encoding: 'utf8' });
  t.regex(rel.stdout, /^tsbox-runtime version /, rel.stderr);
  t.true(existsSync(join(REPO, 'dist', 'tsbox-runtime.none.cache')));
});

test('a bundle that is not ASCII is read as UTF-8 (ASCII ones are read as latin1, the same text faster)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-cache-utf8-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.cjs');
  writeFileSync(file, "'use strict';\nprocess.stdout.write(JSON.stringify(['é → ✓ 𝄞', 'é → ✓ 𝄞'.length]));\n");
  for (let i = 0; i < 2; i++) {
    // The second run comes from the cache the first wrote.
    const r = run(file, ['show']);
    t.is(r.status, 0, r.stderr);
    t.deepEqual(JSON.parse(r.stdout), ['é → ✓ 𝄞', 8]);
  }
  t.true(existsSync(join(dir, 'app.show.cache')));
});
