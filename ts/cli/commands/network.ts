// tsbox network create / ls / inspect / rm / prune / connect / disconnect, as docker's.
import { Networks, type NetworkFilters } from '../../engine/networks.js';
import { args, confirm, filterFlags, keyValueFlags, UsageError, type Command, type GlobalOptions } from '../common.js';
import { networkFormat } from '../format/contexts.js';
import { formatFailure, formatList, parseFilters, writeInspect } from '../format/index.js';

const networks = (g: GlobalOptions) => new Networks(g.root);

/** docker's error line for a network command: its client words a missing network itself. */
const networkError = (name: string, e: unknown): string =>
  (e as { code?: string }).code === 'ERR_NO_SUCH_NETWORK' ? `Error: No such network: ${name}\n` : `Error response from daemon: ${(e as Error).message}\n`;

export const networkCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'create': {
      const a = args(rest, { subnet: { type: 'string' }, driver: { type: 'string', short: 'd' }, label: { type: 'string', multiple: true } });
      if (a.positionals.length !== 1) throw new UsageError('"network create" requires exactly 1 argument.\nUsage:  tsbox network create [OPTIONS] NETWORK');
      if (a.values.driver && a.values.driver !== 'bridge') throw new UsageError(`network create: driver ${a.values.driver} is not supported (bridge)`);
      const n = networks(g).create({ name: a.positionals[0], subnet: a.values.subnet, labels: keyValueFlags(a.values.label, 'label') });
      process.stdout.write(`${n.Id}\n`);
      return 0;
    }
    case 'ls':
    case 'list': {
      const a = args(rest, { quiet: { type: 'boolean', short: 'q' }, filter: { type: 'string', short: 'f', multiple: true }, 'no-trunc': { type: 'boolean' }, format: { type: 'string' } });
      try {
        const list = networks(g).list({ filters: parseFilters(a.values.filter) as NetworkFilters });
        // As docker: -q is the ids alone unless a template of one's own is given.
        const format = a.values.quiet && (!a.values.format || a.values.format === 'table') ? '{{.ID}}' : a.values.format;
        process.stdout.write(formatList(format, list, networkFormat({ trunc: !a.values['no-trunc'] })));
        return 0;
      } catch (e) {
        return formatFailure(e);
      }
    }
    case 'rm':
    case 'remove': {
      const a = args(rest, { force: { type: 'boolean', short: 'f' } });
      if (!a.positionals.length) throw new UsageError('"network rm" requires at least 1 argument.\nUsage:  tsbox network rm NETWORK [NETWORK...]');
      let code = 0;
      for (const name of a.positionals) {
        try {
          networks(g).remove(name);
          process.stdout.write(`${name}\n`);
        } catch (e) {
          if (a.values.force && (e as { code?: string }).code === 'ERR_NO_SUCH_NETWORK') continue;
          process.stderr.write(networkError(name, e));
          code = 1;
        }
      }
      return code;
    }
    case 'inspect': {
      // -v adds only swarm services in docker: a local network's inspect is the same with it.
      const a = args(rest, { format: { type: 'string', short: 'f' }, verbose: { type: 'boolean', short: 'v' } });
      if (!a.positionals.length) throw new UsageError('"network inspect" requires at least 1 argument.\nUsage:  tsbox network inspect [OPTIONS] NETWORK [NETWORK...]');
      const out = [];
      let code = 0;
      for (const name of a.positionals) {
        try {
          out.push(networks(g).inspect(name));
        } catch (e) {
          process.stderr.write(networkError(name, e));
          code = 1;
        }
      }
      return writeInspect(out, a.values.format, code);
    }
    case 'prune': {
      const a = args(rest, { force: { type: 'boolean', short: 'f' }, filter: { type: 'string', multiple: true } });
      const filters = filterFlags(a.values.filter) as NetworkFilters;
      for (const k of Object.keys(filters)) if (k !== 'label') throw new UsageError(`invalid filter '${k}' for network prune (label)`);
      if (!a.values.force && !(await confirm('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return 0;
      const r = networks(g).prune({ filters: filters as Pick<NetworkFilters, 'label'> });
      if (r.NetworksDeleted.length) process.stdout.write(`Deleted Networks:\n${r.NetworksDeleted.map((n) => `${n}\n`).join('')}`);
      return 0;
    }
    case 'connect': {
      const a = args(rest, { alias: { type: 'string', multiple: true }, ip: { type: 'string' } });
      if (a.positionals.length !== 2) throw new UsageError('"network connect" requires exactly 2 arguments.\nUsage:  tsbox network connect [OPTIONS] NETWORK CONTAINER');
      networks(g).connect(a.positionals[0], a.positionals[1], { aliases: a.values.alias, ip: a.values.ip });
      return 0;
    }
    case 'disconnect': {
      const a = args(rest, { force: { type: 'boolean', short: 'f' } });
      if (a.positionals.length !== 2) throw new UsageError('"network disconnect" requires exactly 2 arguments.\nUsage:  tsbox network disconnect [OPTIONS] NETWORK CONTAINER');
      networks(g).disconnect(a.positionals[0], a.positionals[1], { force: a.values.force });
      return 0;
    }
    default:
      throw new UsageError(`network: unknown subcommand ${JSON.stringify(sub ?? '')} (create, ls, inspect, rm, prune, connect, disconnect)`);
  }
};
