// Where an engine keeps its images, containers and networks when the caller names no root.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** $TSBOX_ROOT; /var/lib/tsbox as root; $XDG_DATA_HOME/tsbox (or ~/.local/share/tsbox) otherwise. */
export function defaultRoot(): string {
  if (process.env.TSBOX_ROOT) return process.env.TSBOX_ROOT;
  if (process.getuid?.() === 0) return '/var/lib/tsbox';
  const data = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'tsbox');
}
