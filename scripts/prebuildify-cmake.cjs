#!/usr/bin/env node
// prebuildify has no cmake-js backend: it runs `<this> rebuild --target=... --devdir=... --arch=...
// --release` as if this were node-gyp. The addon is Node-API only, so --target and --devdir (which
// header set to download) do not matter: cmake-js compiles against node-api-headers, offline, and
// leaves build/Release/tsbox.node, where prebuildify looks; it then copies (and strips) it to
// prebuilds/<platform>-<arch>/node.napi.node.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const [command, ...rest] = process.argv.slice(2);
if (command !== 'rebuild') {
  process.stderr.write(`prebuildify-cmake: unsupported command ${JSON.stringify(command)} (only "rebuild")\n`);
  process.exit(1);
}
const args = [require.resolve('cmake-js/bin/cmake-js'), 'compile'];
args.push(rest.includes('--debug') ? '--debug' : '--release');
const arch = rest.find((a) => a.startsWith('--arch='));
if (arch) args.push('--arch', arch.slice('--arch='.length));

const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: path.join(__dirname, '..') });
if (r.error) {
  process.stderr.write(`prebuildify-cmake: spawn ${process.execPath}: ${r.error.code || r.error.message}\n`);
  process.exit(1);
}
process.exit(r.status ?? 1);
