// How to start this same tsbox CLI again as a child (helpers that outlive a command: proxies, monitors,
// and the rootless storage helper): the TypeScript sources under tsx, else the package's one-file CLI
// (dist/tsbox.cjs), also when tsbox is bundled into an application (never the application's own file).
import { basename, dirname, join } from 'node:path';
import { explicitAddon, ownFiles, packageRoots } from './locate.js';

export function selfArgv(...args: string[]): [string, string[]] {
  const me = ownFiles()[0] ?? '';
  let bin: string;
  if (me.endsWith('.ts')) bin = join(dirname(me), 'cli', 'bin.ts');
  else if (basename(me) === 'tsbox.cjs') bin = me;
  else {
    const root = packageRoots().next().value;
    if (!root) throw new Error('tsbox: cannot find the tsbox package (its dist/tsbox.cjs starts tsbox\'s helper processes): keep node_modules/tsbox beside a bundled application');
    bin = join(root, 'dist', 'tsbox.cjs');
  }
  const argv = [...(bin.endsWith('.ts') ? ['--import=tsx'] : []), bin, ...args];
  // Some callers give the helper a fixed environment: what it needs from ours goes on its command line.
  // Electron's binary is Node only with ELECTRON_RUN_AS_NODE.
  // None of these helpers makes a TLS connection, and Node 20 parses NODE_EXTRA_CA_CERTS's bundle before
  // any JavaScript (30-40 ms, which `run -p` waits for in each port proxy): they go without it.
  const unset = process.env.NODE_EXTRA_CA_CERTS ? ['-u', 'NODE_EXTRA_CA_CERTS'] : [];
  const env = [...unset, ...(process.versions.electron ? ['ELECTRON_RUN_AS_NODE=1'] : []), ...(explicitAddon() ? [`TSBOX_ADDON=${explicitAddon()!.path}`] : [])];
  return env.length ? ['/usr/bin/env', [...env, process.execPath, ...argv]] : [process.execPath, argv];
}
