#!/usr/bin/env node
// prebuildify has no cmake-js backend: it runs `<this> rebuild ...` as if it were node-gyp.
// We build with cmake-js (Node-API, no header download) and leave build/Release/tsbox.node where
// prebuildify looks for it; it then copies it to prebuilds/<platform>-<arch>/node.napi.node.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const args = process.argv.slice(2);
if (args[0] !== 'rebuild') {
  process.stderr.write(`prebuildify-cmake: unsupported command ${JSON.stringify(args[0])} (only "rebuild")\n`);
  process.exit(1);
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'rebuild', '--release'], { stdio: 'inherit', cwd: path.join(__dirname, '..') });
process.exit(r.status ?? 1);
