#!/usr/bin/env node
// The tsbox executable.
import { main } from './main.js';

main(process.argv.slice(2)).then((code) => process.exit(code));
