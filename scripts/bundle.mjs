// Bundles each executable into one CommonJS file: Node then reads and compiles one file instead of
// resolving some sixty ES modules, which halves the start of every CLI call (docs/performance.md).
// The library's CommonJS build (package.json "exports", require) is bundled the same way.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(import.meta.dirname, '..');
// The entries' "#!/usr/bin/env node" line stays first. The sources read import.meta (native.ts finds the
// package root from it, self.ts the running bin); a CommonJS file has none, so each use is replaced by
// its CommonJS equivalent.
const importMeta = {
  'import.meta.url': '__tsbox_url',
  'import.meta.dirname': '__dirname',
  'import.meta.filename': '__filename',
};
// re2js (Go's regexp for filters) stays in node_modules, loaded on first use (ts/engine/go-regexp.ts,
// through require, which the bundler leaves alone): bundled in, it would slow every command's start.
const external = [];
// One CommonJS file for Node 20, with import.meta's uses replaced.
const cjs = {
  external,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: importMeta,
  banner: { js: "const __tsbox_url = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
};

for (const [entry, out] of [['dist/cli/bin.js', 'dist/tsbox.cjs'], ['dist/runtime/cli/bin.js', 'dist/tsbox-runtime.cjs']]) {
  const r = await build({
    entryPoints: [join(root, entry)],
    outfile: join(root, out),
    ...cjs,
    // bin/cached.cjs runs these from V8's code cache, where Node 20 has no loader for an import(): a
    // require in its place (builtins only: everything else is in the bundle).
    supported: { 'dynamic-import': false },
    metafile: true,
  });
  // The inputs, for the test that keeps the runtime's bundle free of engine code.
  writeFileSync(join(root, out.replace(/\.cjs$/, '.inputs.json')), JSON.stringify(Object.keys(r.metafile.inputs), null, 1) + '\n');
  chmodSync(join(root, out), 0o755);
}
// Code caches of the bundles' commands (bin/cached.cjs) from before: V8 would reject them, a run would
// write new ones; gone now so that a rebuilt dist/ holds none.
for (const f of readdirSync(join(root, 'dist'))) if (f.endsWith('.cache')) rmSync(join(root, 'dist', f), { force: true });

// The library for import: one ES module file too (package.json "exports"), which Node loads in about half
// the time of dist/index.js's tree of some ninety modules (docs/performance.md). A bundled dependency
// written as CommonJS asks for `require`: one made for this file (or, where an application bundles this
// file into a CommonJS one, which has no import.meta.url, for that file).
const esm = await build({
  entryPoints: [join(root, 'dist/index.js')],
  outfile: join(root, 'dist/index.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  banner: { js: "import { createRequire as __tsbox_createRequire } from 'node:module'; const require = __tsbox_createRequire(import.meta.url || __filename);" },
  logLevel: 'warning',
  metafile: true,
});
writeFileSync(join(root, 'dist/index.inputs.json'), JSON.stringify(Object.keys(esm.metafile.inputs), null, 1) + '\n');

// The library for require(): one file, and its declarations as CommonJS ones (dist/cjs/, whose
// package.json says so), which TypeScript wants for a CommonJS consumer under nodenext.
await build({
  entryPoints: [join(root, 'dist/index.js')],
  outfile: join(root, 'dist/index.cjs'),
  ...cjs,
});
const cjsTypes = join(root, 'dist/cjs');
rmSync(cjsTypes, { recursive: true, force: true });
for (const f of readdirSync(join(root, 'dist'), { recursive: true })) {
  if (!f.endsWith('.d.ts')) continue;
  mkdirSync(dirname(join(cjsTypes, f)), { recursive: true });
  copyFileSync(join(root, 'dist', f), join(cjsTypes, f));
}
writeFileSync(join(cjsTypes, 'package.json'), '{ "type": "commonjs" }\n');
