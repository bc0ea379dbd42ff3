'use strict';
// Runs a one-file CommonJS bundle as `node BUNDLE.cjs ARGS...` would, with V8's code cache: compiling
// the bundle and, lazily, each function a command calls is a fifth of a short command's time. The cache
// holds the compiled code of an earlier successful run of the same command (BUNDLE.COMMAND.cache beside
// the bundle: commands call different functions). V8 rejects a cache made from another source or by
// another V8, and the run then writes a fresh one. Where the bundle's directory is not writable, runs go
// without. `node bin/cached.cjs BUNDLE.cjs ARGS...` (the runtime's launcher), or run(file) from a bin.
const { isAscii } = require('node:buffer');
const { readFileSync, renameSync, unlinkSync, writeFileSync } = require('node:fs');
const { dirname, resolve } = require('node:path');
const { Script } = require('node:vm');
const { wrap } = require('node:module');

// Global flags of either CLI that take a value: the command is the first word after the flags.
const VALUED = new Set(['--root', '--log', '--log-format', '--rootless', '--criu', '-H', '--host', '--config']);

function commandOf(argv) {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-')) return /^[a-z][a-z-]{0,19}$/.test(a) ? a : 'other';
    if (VALUED.has(a)) i++;
  }
  return 'none';
}

/** Runs file (a CommonJS bundle) as the main module, process.argv[2...] its arguments. */
function run(file) {
  process.argv[1] = file;
  const cacheFile = `${file.replace(/\.cjs$/, '')}.${commandOf(process.argv)}.cache`;
  // esbuild writes the bundles in ASCII (it escapes the rest): read as latin1, that is a copy, where
  // decoding a megabyte of UTF-8 is about a millisecond of every start. Anything else, as UTF-8.
  const bytes = readFileSync(file);
  let source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  // The bundle's "#!" line, kept a line so that stack traces' line numbers hold.
  if (source.startsWith('#!')) source = '//' + source.slice(2);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // none yet
  }
  // No importModuleDynamically: Node 20 drops it from a script made from a cache, so the bundles have no
  // import() (scripts/bundle.mjs turns each into a require).
  const script = new Script(wrap(source), { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    // Only after a success: a mistyped command makes no file.
    process.on('exit', (code) => {
      if (code !== 0) return;
      const tmp = `${cacheFile}.${process.pid}`;
      try {
        writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
        renameSync(tmp, cacheFile);
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          // never written
        }
      }
    });
  }
  const mod = { exports: {}, filename: file, id: '.', loaded: false, children: [], paths: [] };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, file, dirname(file));
}

module.exports = { run };

if (require.main === module) {
  process.argv.splice(1, 1);
  run(resolve(process.argv[1]));
}
