// tsbox network create / ls / rm / inspect.
import { DEFAULT_NET, readLeases, removeBridgeIfUnused, withNetworkLock } from '../../net/bridge.js';
import { createNetwork, findNetwork, listNetworks, removeNetworkConfig } from '../../net/networks.js';
import { listRecords } from '../../engine/containers.js';
import { args, UsageError, type Command } from '../common.js';

export const networkCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'create': {
      const a = args(rest, { subnet: { type: 'string' }, driver: { type: 'string', short: 'd' } });
      if (a.positionals.length !== 1) throw new UsageError('network create: want [--subnet CIDR] NAME');
      if (a.values.driver && a.values.driver !== 'bridge') throw new UsageError(`network create: driver ${a.values.driver} is not supported (bridge)`);
      const n = createNetwork(g.root, a.positionals[0], a.values.subnet);
      process.stdout.write(`${n.bridge}\n`);
      return 0;
    }
    case 'ls':
    case 'list': {
      args(rest, {});
      process.stdout.write('NAME                 DRIVER    SUBNET\n');
      for (const n of [DEFAULT_NET, ...listNetworks(g.root)]) process.stdout.write(`${n.name.padEnd(21)}bridge    ${n.subnet}\n`);
      process.stdout.write(`${'host'.padEnd(21)}host\n${'none'.padEnd(21)}null\n`);
      return 0;
    }
    case 'rm':
    case 'remove': {
      const a = args(rest, {});
      if (!a.positionals.length) throw new UsageError('network rm: want NAME...');
      for (const name of a.positionals) {
        const n = findNetwork(g.root, name);
        if (!n || name === 'bridge') throw new Error(`network ${name} not found${name === 'bridge' ? ' (the default network cannot be removed)' : ''}`);
        const users = listRecords(g.root).filter((r) => r.Options.network === name);
        if (users.length) throw new Error(`error while removing network: network ${name} has active endpoints (${users.map((u) => u.Name).join(', ')})`);
        withNetworkLock(() => removeBridgeIfUnused(n));
        removeNetworkConfig(g.root, name);
        process.stdout.write(`${name}\n`);
      }
      return 0;
    }
    case 'inspect': {
      const a = args(rest, {});
      const out = a.positionals.map((name) => {
        const n = findNetwork(g.root, name);
        if (!n) throw new Error(`network ${name} not found`);
        const containers = Object.fromEntries(
          Object.entries(readLeases(n))
            .filter(([, o]) => o.root === g.root)
            .map(([ip, o]) => [o.id, { Name: listRecords(g.root).find((r) => r.Id === o.id)?.Name ?? '', IPv4Address: ip }]),
        );
        return { Name: n.name, Driver: 'bridge', IPAM: { Config: [{ Subnet: n.subnet }] }, Options: { 'com.docker.network.bridge.name': n.bridge }, Containers: containers };
      });
      process.stdout.write(JSON.stringify(out, null, 4) + '\n');
      return 0;
    }
    default:
      throw new UsageError(`network: unknown subcommand ${JSON.stringify(sub ?? '')} (create, ls, rm, inspect)`);
  }
};
