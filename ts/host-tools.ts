// Where tsbox finds the host programs it runs (ip, nft, iptables, nsenter, zstd, tar, ...): the system's
// directories, never the caller's PATH. They change the host as root on a container's behalf, and the
// PATH of `npx` or of an npm script starts with node_modules/.bin, where any dependency may put a
// program of the same name (@vercel/nft's `nft` is one: it exits 0 and changes nothing, so bridge
// networks were left without their rules). TSBOX_HELPER_PATH, a PATH-like list, replaces the
// directories on a host that keeps these programs elsewhere.
import { accessSync, constants } from 'node:fs';
import { MissingToolError } from './errors.js';

export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function helperPath(): string {
  return process.env.TSBOX_HELPER_PATH || SYSTEM_PATH;
}

/** The absolute path of a host program, or undefined when none of the directories has it. */
export function findHostTool(name: string): string | undefined {
  for (const dir of helperPath().split(':')) {
    // Absolute directories only: a relative one would depend on the caller's working directory.
    if (!dir.startsWith('/')) continue;
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The absolute path of a host program; MissingToolError (naming the feature and the package) without it. */
export function hostTool(name: string): string {
  const found = findHostTool(name);
  if (!found) throw new MissingToolError(name, helperPath());
  return found;
}
