// What every tsbox CLI command shares: the error type for bad usage, global options, the store root.
import { homedir } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
import { join } from 'node:path';

import { UsageError } from '../errors.js';
export { UsageError };

export interface GlobalOptions {
  /** The tsbox root: images, containers, networks. */
  root: string;
  debug: boolean;
}

/** A CLI command: gets its own argv (after the command name), returns the exit code. */
export type Command = (argv: string[], g: GlobalOptions) => Promise<number>;

/** /var/lib/tsbox as root; $XDG_DATA_HOME/tsbox (or ~/.local/share/tsbox) otherwise. */
export function defaultRoot(): string {
  if (process.env.TSBOX_ROOT) return process.env.TSBOX_ROOT;
  if (process.getuid?.() === 0) return '/var/lib/tsbox';
  const data = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'tsbox');
}

/** parseArgs (strict, positionals allowed), with bad flags reported as UsageError. */
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export function args<const T extends Options>(argv: string[], options: T): Parsed<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
