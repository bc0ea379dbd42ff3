// tsbox volume create / ls / inspect / rm / prune, as docker's.
import { humanSize } from '../../engine/units.js';
import { Volumes, type VolumeFilters } from '../../engine/volumes.js';
import { args, confirm, filterFlags, keyValueFlags, UsageError, type Command, type GlobalOptions } from '../common.js';
import { volumeFormat } from '../format/contexts.js';
import { formatFailure, formatList, parseFilters, writeInspect } from '../format/index.js';

const volumes = (g: GlobalOptions) => new Volumes(g.root);

export const volumeCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'create': {
      const a = args(rest, { driver: { type: 'string', short: 'd' }, opt: { type: 'string', short: 'o', multiple: true }, label: { type: 'string', multiple: true }, name: { type: 'string' } });
      if (a.positionals.length > 1) throw new UsageError('"volume create" requires at most 1 argument.\nUsage:  tsbox volume create [OPTIONS] [VOLUME]');
      const name = a.positionals[0] ?? a.values.name;
      const v = volumes(g).create({ name, driver: a.values.driver, driverOpts: keyValueFlags(a.values.opt, 'opt'), labels: keyValueFlags(a.values.label, 'label') });
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
      return writeInspect(out, a.values.format, code);
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
      const filters = filterFlags(a.values.filter) as VolumeFilters;
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
