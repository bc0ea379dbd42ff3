// The engine's side of networking: which network a container gets, plugging it into its bridge before it
// runs, name resolution between containers of one network, published ports, and undoing all of it.
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { allocate, DEFAULT_NET, ensureBridge, plug, readLeases, release, removeBridgeIfUnused, unplug, withNetworkLock, type Net } from '../net/bridge.js';
import { findNetwork, listNetworks } from '../net/networks.js';
import { parsePublish, startProxies, stopProxies, type PortMapping } from '../net/ports.js';
import { UsageError } from '../errors.js';
import { isRootless } from '../runtime/rootless.js';
import { containerDir, loadRecord, type ContainerRecord } from './containers.js';
import type { RunOptions } from './options.js';

export type NetworkMode = 'none' | 'host' | 'bridge' | 'container' | 'slirp4netns';

/** docker's default is the bridge; without root there is no bridge to make, so none. A user network is a bridge. */
export function networkMode(o: RunOptions, root?: string): NetworkMode {
  let n: string = o.network === 'default' ? (process.getuid?.() === 0 ? 'bridge' : 'none') : o.network.startsWith('container:') ? 'container' : o.network;
  if (n === 'slirp') n = 'slirp4netns';
  if (!['none', 'host', 'bridge', 'container', 'slirp4netns'].includes(n)) {
    if (!root || !findNetwork(root, n)) throw new UsageError(`--network ${o.network}: no such network (want none, host, bridge, slirp4netns, container:NAME or a network made with tsbox network create)`);
    n = 'bridge';
  }
  if (n === 'bridge' && isRootless()) throw new UsageError(`--network ${o.network}: bridge networks need root; without root use --network slirp4netns (with -p) or none`);
  if (n !== 'bridge' && n !== 'slirp4netns' && (o.publish.length || o.publishAll)) throw new UsageError(`-p needs a bridge or slirp4netns network (not --network ${o.network})`);
  o.publish.forEach(parsePublish); // bad -p is a usage error before anything is created
  return n as NetworkMode;
}

export function netOf(root: string, o: RunOptions): Net {
  return o.network === 'default' || o.network === 'bridge' ? DEFAULT_NET : findNetwork(root, o.network)!;
}

/** The mappings -p and -P ask for (-P: every port the image exposes, on a free host port). */
export function requestedPorts(o: RunOptions, exposed: Record<string, unknown> | undefined): PortMapping[] {
  const maps = o.publish.map(parsePublish);
  if (o.publishAll) {
    for (const k of Object.keys(exposed ?? {})) {
      const [port, proto = 'tcp'] = k.split('/');
      if (proto === 'tcp' && !maps.some((m) => m.containerPort === Number(port))) maps.push({ hostIp: '0.0.0.0', hostPort: 0, containerPort: Number(port), protocol: 'tcp' });
    }
  }
  return maps;
}

/** /etc/hosts: localhost, the container itself, --add-host entries, and (user networks) its running peers. */
export function hostsFile(hostname: string, ip: string | undefined, addHost: string[], peers: [string, string][] = []): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `${ip ?? '127.0.1.1'}\t${hostname}`];
  for (const h of addHost) {
    const i = h.indexOf(':');
    lines.push(`${h.slice(i + 1)}\t${h.slice(0, i)}`);
  }
  for (const [name, pip] of peers) lines.push(`${pip}\t${name}`);
  return lines.join('\n') + '\n';
}

/** /etc/resolv.conf: --dns/--dns-search, or the host's resolvers minus loopback ones (meaningless in another namespace). */
export function resolvConf(hostResolv: string, dns: string[], search: string[]): string {
  const out: string[] = [];
  if (search.length) out.push(`search ${search.join(' ')}`);
  if (dns.length) out.push(...dns.map((d) => `nameserver ${d}`));
  else out.push(...hostResolv.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l) && !(search.length && /^\s*search\b/.test(l))));
  const text = out.filter((l) => l.trim()).join('\n');
  return text ? text + '\n' : '# no usable nameserver on the host\n';
}

/**
 * Rewrites the hosts file of every running container on a user network so that each finds the others by
 * name (and by container id prefix). The files are bind-mounted: rewritten in place, seen at once.
 */
/** The containers holding an address on a user network (from its leases, written before they start). */
function peersOf(root: string, netName: string): { members: ContainerRecord[]; peers: [string, string][] } {
  if (netName === 'bridge' || netName === 'default') return { members: [], peers: [] }; // as docker: names resolve on user networks only
  const net = findNetwork(root, netName);
  if (!net) return { members: [], peers: [] };
  const members: ContainerRecord[] = [];
  const peers: [string, string][] = [];
  for (const [ip, o] of Object.entries(readLeases(net))) {
    const r = o.root === root ? loadRecord(root, o.id) : undefined;
    if (!r) continue;
    members.push({ ...r, IPAddress: ip });
    peers.push([r.Name, ip], [r.Id.slice(0, 12), ip]);
  }
  return { members, peers };
}

export function refreshPeers(root: string, netName: string): void {
  const { members, peers } = peersOf(root, netName);
  for (const r of members) {
    const hosts = join(containerDir(root, r.Id), 'hosts');
    if (!existsSync(hosts)) continue;
    rewriteInPlace(hosts, hostsFile(r.Options.hostname ?? r.Id.slice(0, 12), r.IPAddress, r.Options.addHost, peers.filter(([, ip]) => ip !== r.IPAddress)));
  }
}

/**
 * The file is bind-mounted into a running container: it must keep its inode (no rename), and a reader
 * there must never see it empty. Unchanged files are left alone; otherwise the new content is written
 * over the old (the lines only grow or shrink at the end) and the rest cut off.
 */
function rewriteInPlace(file: string, text: string): void {
  if (readFileSync(file, 'utf8') === text) return;
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.from(text);
    writeSync(fd, b, 0, b.length, 0);
    ftruncateSync(fd, b.length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Before the container runs: an address, a veth into its namespace, its name in its /etc/hosts. Only the
 * bridge and the lease need the host-wide lock; the veth is the container's own and is made after it.
 */
export function plugBridge(root: string, id: string, pid: number, hostname: string, net: Net): string {
  const ip = withNetworkLock(() => {
    ensureBridge(net);
    const addr = allocate(net, { root, id }, (o) => loadRecord(o.root, o.id) !== undefined);
    // The peers already running are in the file before the process starts; they learn of us right after.
    const o = loadRecord(root, id)?.Options;
    writeFileSync(join(containerDir(root, id), 'hosts'), hostsFile(hostname, addr, o?.addHost ?? [], o ? peersOf(root, o.network).peers.filter(([, p]) => p !== addr) : []));
    return addr;
  });
  try {
    plug(net, pid, id, ip);
  } catch (e) {
    withNetworkLock(() => {
      release(net, { root, id });
      removeBridgeIfUnused(net);
    });
    throw e;
  }
  return ip;
}

export async function publish(root: string, id: string, ip: string, maps: PortMapping[]): Promise<PortMapping[]> {
  return maps.length ? startProxies(containerDir(root, id), ip, maps) : [];
}

function netsOfRoot(root: string): Net[] {
  return [DEFAULT_NET, ...listNetworks(root)];
}

/** Whether a container may hold network resources (an address lease, proxies): cheap to ask. */
export function mayHaveNetwork(root: string, id: string): boolean {
  return existsSync(join(containerDir(root, id), 'ports.json')) || netsOfRoot(root).some((n) => Object.values(readLeases(n)).some((o) => o.root === root && o.id === id));
}

/** Everything a container had on the network: proxies, veth, address, and its bridge when it was the last. */
export function unplugAll(root: string, id: string): void {
  stopProxies(containerDir(root, id));
  unplug(id);
  withNetworkLock(() => {
    for (const net of netsOfRoot(root)) {
      release(net, { root, id });
      removeBridgeIfUnused(net);
    }
  });
}
