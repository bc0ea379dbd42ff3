#!/usr/bin/env node
// The tsbox-runtime executable (and, with --serve SOCK, the runtime server the client starts).
import { runtimeMain } from './main.js';
import { serve } from './server.js';

if (process.argv[2] === '--serve' && process.argv[3]) {
  serve(process.argv[3]).then(() => process.exit(0));
} else {
  // process.exit: stdout is synchronous on Linux, and a finished command must not wait on stray handles.
  runtimeMain(process.argv.slice(2)).then((code) => process.exit(code));
}
