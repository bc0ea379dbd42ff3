// tsbox volume create / ls / inspect / rm / prune, as docker's.
import { createInterface } from 'node:readline';
import { Volumes, type VolumeFilters } from '../../engine/volumes.js';
import { args, UsageError, type Command, type GlobalOptions } from '../common.js';
import { volumeFormat } from '../format/contexts.js';
import { formatFailure, formatInspect, formatList, parseFilters } from '../format/index.js';

/** KEY=VALUE flags (--label, --opt, --filter) into a record; a bare KEY has the value "". */
function keyValues(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const [k, v] = kv.split(/=(.*)/s);
    if (!k) throw new UsageError(`invalid argument "${kv}" for "--${flag}" flag: want KEY=VALUE`);
    out[k] = v ?? '';
  }
  return out;
}

function filtersOf(list: string[] | undefined): VolumeFilters {
  const out: Record<string, string[]> = {};
  for (const f of list ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value)`);
    (out[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
  }
  return out as VolumeFilters;
}

/** docker's units.HumanSize: decimal units, four significant digits. */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

/** docker's prompt: yes only for y or yes; no terminal or end of input means no. */
export async function confirm(question: string): Promise<boolean> {
  process.stdout.write(`${question} [y/N] `);
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

const volumes = (g: GlobalOptions) => new Volumes(g.root);

export const volumeCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'create': {
      const a = args(rest, { driver: { type: 'string', short: 'd' }, opt: { type: 'string', short: 'o', multiple: true }, label: { type: 'string', multiple: true }, name: { type: 'string' } });
      if (a.positionals.length > 1) throw new UsageError('"volume create" requires at most 1 argument.\nUsage:  tsbox volume create [OPTIONS] [VOLUME]');
      const name = a.positionals[0] ?? a.values.name;
      const v = volumes(g).create({ name, driver: a.values.driver, driverOpts: keyValues(a.values.opt, 'opt'), labels: keyValues(a.values.label, 'label') });
      process.stdout.write(`${v.Name}\n`);
      return 0;
    }
    case 'ls':
    case 'list': {
      const a = args(rest, { quiet: { type: 'boolean', short: 'q' }, filter: { type: 'string', short: 'f', multiple: true }, format: { type: 'string' } });
      try {
        const list = volumes(g).list({ filters: parseFilters(a.values.filter) as VolumeFilters });
        // As docker: -q is the names alone unless a template of one's own is given.
        const format = a.values.quiet && (!a.values.format || a.values.format === 'table') ? '{{.Name}}' : a.values.format;
        process.stdout.write(formatList(format, list, volumeFormat()));
        return 0;
      } catch (e) {
        return formatFailure(e);
      }
    }
    case 'inspect': {
      const a = args(rest, { format: { type: 'string', short: 'f' } });
      if (!a.positionals.length) throw new UsageError('"volume inspect" requires at least 1 argument.\nUsage:  tsbox volume inspect [OPTIONS] VOLUME [VOLUME...]');
      const out = [];
      let code = 0;
      for (const n of a.positionals) {
        try {
          out.push(volumes(g).inspect(n));
        } catch (e) {
          process.stderr.write(`Error: No such volume: ${n}\n`);
          code = 1;
          void e;
        }
      }
      if (a.values.format === undefined) {
        process.stdout.write(JSON.stringify(out, null, 4) + '\n');
        return code;
      }
      try {
        process.stdout.write(formatInspect(a.values.format, out));
      } catch (e) {
        return formatFailure(e);
      }
      return code;
    }
    case 'rm':
    case 'remove': {
      const a = args(rest, { force: { type: 'boolean', short: 'f' } });
      if (!a.positionals.length) throw new UsageError('"volume rm" requires at least 1 argument.\nUsage:  tsbox volume rm [OPTIONS] VOLUME [VOLUME...]');
      let code = 0;
      for (const n of a.positionals) {
        try {
          volumes(g).remove(n, { force: a.values.force });
          process.stdout.write(`${n}\n`);
        } catch (e) {
          const code_ = (e as { code?: string }).code;
          process.stderr.write(`${code_ === 'ERR_NO_SUCH_VOLUME' ? 'Error' : 'Error response from daemon'}: ${(e as Error).message}\n`);
          code = 1;
        }
      }
      return code;
    }
    case 'prune': {
      const a = args(rest, { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' }, filter: { type: 'string', multiple: true } });
      const filters = filtersOf(a.values.filter);
      for (const k of Object.keys(filters)) if (k !== 'label') throw new UsageError(`invalid filter '${k}' for volume prune (label)`);
      if (!a.values.force) {
        const what = a.values.all ? 'all local volumes' : 'anonymous local volumes';
        if (!(await confirm(`WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue?`))) return 0;
      }
      const r = volumes(g).prune({ all: a.values.all, filters: filters as Pick<VolumeFilters, 'label'> });
      if (r.VolumesDeleted.length) process.stdout.write(`Deleted Volumes:\n${r.VolumesDeleted.map((n) => `${n}\n`).join('')}\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
      return 0;
    }
    default:
      throw new UsageError(`volume: unknown subcommand ${JSON.stringify(sub ?? '')} (create, ls, inspect, rm, prune)`);
  }
};
