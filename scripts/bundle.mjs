// Bundles each executable into one CommonJS file: Node then reads and compiles one file instead of
// resolving some sixty ES modules, which halves the start of every CLI call (docs/performance.md).
import { build } from 'esbuild';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
// The entries' "#!/usr/bin/env node" line stays first. The sources read import.meta (native.ts finds the
// package root from it, self.ts the running bin); a CommonJS file has none, so each use is replaced by
// its CommonJS equivalent.
const importMeta = {
  'import.meta.url': '__tsbox_url',
  'import.meta.dirname': '__dirname',
  'import.meta.filename': '__filename',
};

for (const [entry, out] of [['dist/cli/bin.js', 'dist/tsbox.cjs'], ['dist/runtime/cli/bin.js', 'dist/tsbox-runtime.cjs']]) {
  const r = await build({
    entryPoints: [join(root, entry)],
    outfile: join(root, out),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: importMeta,
    banner: { js: "const __tsbox_url = require('node:url').pathToFileURL(__filename).href;" },
    metafile: true,
    logLevel: 'warning',
  });
  // The inputs, for the test that keeps the runtime's bundle free of engine code.
  writeFileSync(join(root, out.replace(/\.cjs$/, '.inputs.json')), JSON.stringify(Object.keys(r.metafile.inputs), null, 1) + '\n');
  chmodSync(join(root, out), 0o755);
}
