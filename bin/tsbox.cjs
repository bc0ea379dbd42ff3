#!/usr/bin/env node
'use strict';
// tsbox: the engine's one-file bundle (dist/tsbox.cjs) with V8's code cache of each command (cached.cjs).
require('./cached.cjs').run(require('node:path').join(__dirname, '..', 'dist', 'tsbox.cjs'));
