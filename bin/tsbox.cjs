#!/bin/sh
':' //; if [ -n "${NODE_EXTRA_CA_CERTS-}" ]; then TSBOX_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; else unset TSBOX_EXTRA_CA_CERTS; fi
':' //; case " $* " in *" serve "* | *" service "*) unset TSBOX_EXTRA_CA_CERTS ;; *) [ -z "${TSBOX_EXTRA_CA_CERTS-}" ] || { export TSBOX_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; } ;; esac
':' //; exec node "$0" "$@"
'use strict';
// tsbox: the engine's one-file bundle (dist/tsbox.cjs) with V8's code cache of each command (cached.cjs).
// This file is a shell script and JavaScript at once. Executed (npm's .bin link, npx, PATH), the shell runs
// the lines above and starts Node on this same file without NODE_EXTRA_CA_CERTS: Node 20 parses that
// bundle before any JavaScript runs (30-40 ms for a distribution's full set), and most commands make no TLS
// connection. The path goes along as TSBOX_EXTRA_CA_CERTS, which the registry client reads on its first
// TLS connection (ts/images/trust.ts). The API server (system service, serve) is long-lived: it pays
// Node's loading once and keeps it. As JavaScript (`node bin/tsbox.cjs`), each
// line above is a string and a comment.
// Child processes (hooks, helpers, `run -e NODE_EXTRA_CA_CERTS`) get the variable back as it was.
if (process.env.TSBOX_EXTRA_CA_CERTS && process.env.NODE_EXTRA_CA_CERTS === undefined) process.env.NODE_EXTRA_CA_CERTS = process.env.TSBOX_EXTRA_CA_CERTS;
require('./cached.cjs').run(require('node:path').join(__dirname, '..', 'dist', 'tsbox.cjs'));
