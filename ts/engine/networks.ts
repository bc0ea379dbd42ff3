// The Engine's networks: docker's network API (create, list, inspect, remove, prune, connect,
// disconnect) with docker's object shapes, over the bridges of ts/net.
import { DEFAULT_NET, macOf, parseSubnet, readLeases, removeBridgeIfUnused, withNetworkLock, type Net } from '../net/bridge.js';
import { createNetwork, findNetwork, listNetworks, networkId, removeNetworkConfig, type NetworkConfig } from '../net/networks.js';
import { EngineError, listRecords } from './containers.js';
import { filterObjects, type ObjectFacts } from './filters.js';
import { connections, connectNetwork, disconnectNetwork } from './network.js';
import { recordEvent } from './events.js';

export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge' | 'host' | 'null';
  EnableIPv6: boolean;
  IPAM: { Driver: 'default'; Options: Record<string, string>; Config: { Subnet: string; Gateway: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export type NetworkFilters = Partial<Record<'name' | 'id' | 'label' | 'driver' | 'type' | 'scope' | 'dangling', string | string[]>>;

export interface NetworkCreateOptions {
  name: string;
  /** Only bridge. */
  driver?: string;
  /** IPv4 CIDR; default: the first of docker's pools nothing on the host uses. */
  subnet?: string;
  labels?: Record<string, string>;
}

const EPOCH = '1970-01-01T00:00:00Z';
const BUILTIN = ['bridge', 'host', 'none'];

function fixed(name: 'host' | 'none'): NetworkInspect {
  return {
    Name: name, Id: networkId({ name, bridge: name, subnet: '' }), Created: EPOCH, Scope: 'local', Driver: name === 'host' ? 'host' : 'null', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [] }, Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {},
  };
}

function inspectNet(root: string, n: Net & Partial<NetworkConfig>): NetworkInspect {
  const { gateway } = parseSubnet(n.subnet);
  const bits = parseSubnet(n.subnet).bits;
  const records = listRecords(root);
  const containers: NetworkInspect['Containers'] = {};
  for (const [ip, o] of Object.entries(readLeases(n))) {
    if (o.root !== root) continue;
    containers[o.id] = { Name: records.find((r) => r.Id === o.id)?.Name ?? '', EndpointID: networkId({ ...n, id: undefined, bridge: `${n.bridge}\0${o.id}` }), MacAddress: macOf(ip), IPv4Address: `${ip}/${bits}`, IPv6Address: '' };
  }
  const isDefault = n.name === 'bridge';
  return {
    Name: n.name, Id: networkId(n), Created: n.created ?? EPOCH, Scope: 'local', Driver: 'bridge', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: n.subnet, Gateway: gateway }] },
    Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: containers,
    Options: { 'com.docker.network.bridge.name': n.bridge, ...(isDefault ? { 'com.docker.network.bridge.default_bridge': 'true' } : {}) },
    Labels: n.labels ?? {},
  };
}

/** The containers that name a network (by --network or network connect), running or not. */
function users(root: string, name: string) {
  return listRecords(root).filter((r) => r.Options.network === name || name in connections(root, r.Id));
}

export class Networks {
  constructor(readonly root: string) {}

  create(o: NetworkCreateOptions): NetworkInspect {
    if (o.driver && o.driver !== 'bridge') throw new EngineError(`plugin "${o.driver}" not found (only the bridge driver is supported)`, 'ERR_INVALID');
    const n = inspectNet(this.root, createNetwork(this.root, o.name, { subnet: o.subnet, labels: o.labels }));
    recordEvent(this.root, 'network', 'create', n.Id, { name: n.Name, type: n.Driver });
    return n;
  }

  list(o: { filters?: NetworkFilters } = {}): NetworkInspect[] {
    const all = [inspectNet(this.root, DEFAULT_NET), fixed('host'), fixed('none'), ...listNetworks(this.root).map((n) => inspectNet(this.root, n))];
    return filterObjects(
      'network',
      all.map((n): [NetworkInspect, ObjectFacts] => {
        const builtin = BUILTIN.includes(n.Name);
        const root = this.root;
        // Who uses it is read only when a dangling filter asks.
        return [n, { name: n.Name, id: n.Id, driver: n.Driver, labels: n.Labels, scope: n.Scope, type: builtin ? 'builtin' : 'custom', get inUse() { return builtin || users(root, n.Name).length > 0; } }];
      }),
      o.filters,
    );
  }

  inspect(ref: string): NetworkInspect {
    if (ref === 'host' || ref === 'none') return fixed(ref);
    const n = findNetwork(this.root, ref);
    if (!n) throw new EngineError(`network ${ref} not found`, 'ERR_NO_SUCH_NETWORK');
    return inspectNet(this.root, n);
  }

  /** docker network rm: refused while a container is on it (running or not), and for the predefined ones. */
  remove(ref: string): void {
    if (BUILTIN.includes(ref)) throw new EngineError(`${ref} is a pre-defined network and cannot be removed`, 'ERR_FORBIDDEN');
    const n = findNetwork(this.root, ref);
    if (!n || n.name === 'bridge') throw new EngineError(`network ${ref} not found`, 'ERR_NO_SUCH_NETWORK');
    const using = users(this.root, n.name);
    if (using.length) throw new EngineError(`error while removing network: network ${n.name} id ${networkId(n)} has active endpoints (${using.map((u) => u.Name).join(', ')})`, 'ERR_CONFLICT');
    withNetworkLock(() => removeBridgeIfUnused(n));
    removeNetworkConfig(this.root, n.name);
    recordEvent(this.root, 'network', 'destroy', networkId(n), { name: n.name, type: 'bridge' });
  }

  /** docker network prune: every user network no container uses. */
  prune(o: { filters?: Pick<NetworkFilters, 'label'> } = {}): { NetworksDeleted: string[] } {
    const out: string[] = [];
    for (const n of this.list({ filters: { ...o.filters, type: 'custom', dangling: 'true' } })) {
      try {
        this.remove(n.Name);
        out.push(n.Name);
      } catch {
        // taken meanwhile
      }
    }
    return { NetworksDeleted: out };
  }

  connect(network: string, container: string, o: { aliases?: string[]; ip?: string } = {}): void {
    connectNetwork(this.root, network, container, o);
  }

  disconnect(network: string, container: string, o: { force?: boolean } = {}): void {
    disconnectNetwork(this.root, network, container, o);
  }
}
