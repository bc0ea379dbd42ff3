// What every tsbox CLI command shares: the error type for bad usage, global options, the store root.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

import { UsageError } from '../errors.js';
export { UsageError };

export interface GlobalOptions {
  /** The tsbox root: images, containers, networks. */
  root: string;
  debug: boolean;
}

/** A CLI command: gets its own argv (after the command name), returns the exit code. */
export type Command = (argv: string[], g: GlobalOptions) => Promise<number>;

// The engine owns the default root; re-exported for modules that still import it from here.
export { defaultRoot } from '../engine/root.js';

/** parseArgs (strict, positionals allowed), with bad flags reported as UsageError. */
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export function args<const T extends Options>(argv: string[], options: T): Parsed<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
