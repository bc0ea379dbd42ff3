// How to start this same tsbox CLI again as a child (helpers that outlive a command: proxies, monitors,
// and the rootless storage helper), from the bundle, the built JavaScript or the TypeScript sources under tsx.
import { join } from 'node:path';

export function selfArgv(...args: string[]): [string, string[]] {
  const me = import.meta.filename;
  // In the one-file bundle (dist/tsbox.cjs) this module is the bin itself.
  const bin = me.endsWith('.cjs') ? me : join(import.meta.dirname, 'cli', me.endsWith('.ts') ? 'bin.ts' : 'bin.js');
  return [process.execPath, [...(bin.endsWith('.ts') ? ['--import=tsx'] : []), bin, ...args]];
}
