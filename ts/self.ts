// How to start this same tsbox CLI again as a child (helpers that outlive a command: proxies, monitors,
// and the rootless storage helper), from the built JavaScript or from the TypeScript sources under tsx.
import { join } from 'node:path';

export function selfArgv(...args: string[]): [string, string[]] {
  const bin = join(import.meta.dirname, 'cli', import.meta.filename.endsWith('.ts') ? 'bin.ts' : 'bin.js');
  return [process.execPath, [...(bin.endsWith('.ts') ? ['--import=tsx'] : []), bin, ...args]];
}
