// `npm install tsbox`: nothing to do when an addon for this machine is there (a prebuild, an earlier source
// build, or TSBOX_ADDON); else one is built from source with node-gyp (binding.gyp), node-gyp-build's
// install step. A script of its own rather than node-gyp-build so that install and load agree on what
// fits (dist/locate.js: the same names, the C library of the running Node), and with no dependency.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
// A checkout (npm install of its dependencies): `npm run compile` builds the addon.
if (existsSync(join(root, 'ts'))) process.exit(0);

const { addonCandidates, explicitAddon, libc } = await import('../dist/locate.js');
if (explicitAddon() || [...addonCandidates()].some((p) => existsSync(p))) process.exit(0);

const target = `${process.platform}-${process.arch} (${libc()})`;
console.error(`tsbox: no prebuilt addon for ${target}: building it from source with node-gyp`);
// npm names its own node-gyp in npm_config_node_gyp for install scripts; else one on PATH.
const gyp = process.env.npm_config_node_gyp;
try {
  if (gyp) execFileSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit' });
  else execFileSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit' });
} catch (e) {
  console.error(
    `tsbox: the source build for ${target} failed (${e.message.split('\n')[0]}): it needs node-gyp, python3, make, a C compiler, ` +
      'static libseccomp (libseccomp-dev) and musl-gcc (musl-tools) or a static C library; or set TSBOX_ADDON to a tsbox.node built elsewhere',
  );
  process.exit(1);
}
