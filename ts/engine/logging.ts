// docker's --log-driver and --log-opt for the json-file log the monitor writes: which driver, and when
// the file rotates (max-size, max-file). Checked at create, applied at every start.
import { UsageError } from '../errors.js';
import { parseBytes, type RunOptions } from './options.js';

export interface LogConfig {
  driver: 'json-file' | 'none';
  /** Bytes; 0: no limit. */
  maxSize: number;
  maxFile: number;
}

export function logConfig(o: Pick<RunOptions, 'logDriver' | 'logOpts'>): LogConfig {
  const driver = o.logDriver ?? 'json-file';
  if (driver !== 'json-file' && driver !== 'none') throw new UsageError(`failed to create task for container: logging driver "${driver}" is not supported (json-file, none)`);
  const c: LogConfig = { driver, maxSize: 0, maxFile: 1 };
  for (const opt of o.logOpts ?? []) {
    const i = opt.indexOf('=');
    const [k, v] = i > 0 ? [opt.slice(0, i), opt.slice(i + 1)] : [opt, ''];
    if (driver === 'none') throw new UsageError(`unknown log opt '${k}' for none log driver`);
    if (k === 'max-size') {
      if (v !== '-1') c.maxSize = parseBytes(v, '--log-opt max-size');
    } else if (k === 'max-file') {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`invalid value for max-file: ${v}: want a positive integer`);
      c.maxFile = Number(v);
    } else throw new UsageError(`unknown log opt '${k}' for json-file log driver`);
  }
  if (c.maxFile > 1 && !c.maxSize) throw new UsageError('max-file cannot be set without max-size');
  return c;
}
