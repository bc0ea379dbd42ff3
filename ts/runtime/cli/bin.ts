#!/usr/bin/env node
// The tsbox-runtime executable.
import { runtimeMain } from './main.js';

// process.exit: stdout is synchronous on Linux, and a finished command must not wait on stray handles.
runtimeMain(process.argv.slice(2)).then((code) => process.exit(code));
