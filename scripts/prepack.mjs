// npm pack / npm publish: refuse to make a package that cannot load (no build, no prebuild for the
// platform most users have).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const needed = [
  ['dist/index.js', 'npm run compile'],
  ['dist/index.cjs', 'npm run compile'],
  ['dist/cjs/index.d.ts', 'npm run compile'],
  ['dist/tsbox.cjs', 'npm run compile'],
  ['dist/tsbox-runtime.cjs', 'npm run compile'],
  ['prebuilds/linux-x64/node.napi.glibc.node', 'npm run prebuild'],
];
const missing = needed.filter(([f]) => !existsSync(join(root, f)));
if (missing.length) {
  const run = [...new Set(missing.map(([, how]) => how))].join('" and "');
  console.error(`tsbox prepack: missing ${missing.map(([f]) => f).join(', ')}: run "${run}" first (a package without them cannot load)`);
  process.exit(1);
}
