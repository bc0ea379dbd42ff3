// import('tsbox') loads one ES module file (dist/index.mjs, bundled from dist/index.js): the same exports,
// and nothing of the CLI in it (the layers import downward only, as engine-library.test.ts checks for the tree).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './helpers/bins.js';

const exportsOf = (spec: string) => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(spec)}); console.log(JSON.stringify(Object.keys(m).sort()))`], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as string[];
};

test("import('tsbox') gives the bundle, with the exports of dist/index.js", (t) => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('tsbox'))"], { cwd: REPO, encoding: 'utf8' });
  t.is(r.stdout.trim(), pathToFileURL(join(REPO, 'dist', 'index.mjs')).href, r.stderr);
  const bundled = exportsOf('tsbox');
  t.true(bundled.includes('Engine') && bundled.includes('runContainer'));
  t.deepEqual(bundled, exportsOf(pathToFileURL(join(REPO, 'dist', 'index.js')).href));
});

test('the bundle holds no module of the CLI', (t) => {
  const inputs = JSON.parse(readFileSync(join(REPO, 'dist', 'index.inputs.json'), 'utf8')) as string[];
  t.true(inputs.some((f) => f.startsWith('dist/engine/')));
  t.deepEqual(inputs.filter((f) => f.startsWith('dist/cli/')), []);
});
