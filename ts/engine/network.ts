// The engine's side of networking: which network a container gets, plugging it into its bridge before it
// runs, name resolution between containers of one network, published ports, and undoing all of it.
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { allocate, DEFAULT_NET, ensureBridge, freeIfname, leaseOf, macOf, parseSubnet, plug, readLeases, release, removeBridgeIfUnused, unplug, withNetworkLock, type Net } from '../net/bridge.js';
import { findNetwork, listNetworks, networkId } from '../net/networks.js';
import { parsePublish, startProxies, stopProxies, type PortMapping } from '../net/ports.js';
import { UsageError } from '../errors.js';
import { isRootless } from '../runtime/rootless.js';
import { containerDir, EngineError, liveState, loadRecord, mustFind, type ContainerRecord } from './containers.js';
import type { RunOptions } from './options.js';
import { recordEvent } from './events.js';

/** docker's network connect/disconnect events: when a container's endpoint is made or goes (start, stop, connect, disconnect). */
function netEvent(root: string, action: 'connect' | 'disconnect', net: Net, id: string): void {
  recordEvent(root, 'network', action, networkId(net), { container: id, name: net.name, type: 'bridge' });
}

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
  const user = n === 'bridge' && o.network !== 'default' && o.network !== 'bridge';
  for (const a of o.networkAlias ?? []) checkAlias(a);
  if (o.networkAlias?.length && !user) throw new UsageError('network-scoped aliases are only supported for user-defined networks');
  if (o.ip !== undefined && !user) throw new UsageError('user specified IP address is supported on user defined networks only');
  return n as NetworkMode;
}

/** A name in /etc/hosts: nothing that could end the line or add another entry. */
export function checkAlias(a: string): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(a) || a.length > 253) throw new UsageError(`invalid network alias ${JSON.stringify(a)}: want a host name`);
  return a;
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

/** What a container asked for on the networks it was connected to after it was made (network connect). */
export interface Connection {
  aliases: string[];
  ip?: string;
}

function connectionsFile(root: string, id: string): string {
  return join(containerDir(root, id), 'networks.json');
}

export function connections(root: string, id: string): Record<string, Connection> {
  try {
    return JSON.parse(readFileSync(connectionsFile(root, id), 'utf8')) as Record<string, Connection>;
  } catch {
    return {};
  }
}

function saveConnections(root: string, id: string, c: Record<string, Connection>): void {
  const f = connectionsFile(root, id);
  writeFileSync(`${f}.tmp`, JSON.stringify(c));
  renameSync(`${f}.tmp`, f);
}

/** The container's names on a network: its name, short id and aliases there (--network-alias, connect --alias). */
function namesOn(root: string, r: ContainerRecord, netName: string): string[] {
  const aliases = netName === r.Options.network ? r.Options.networkAlias ?? [] : connections(root, r.Id)[netName]?.aliases ?? [];
  return [r.Name, r.Id.slice(0, 12), ...aliases];
}

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
    for (const n of namesOn(root, r, net.name)) peers.push([n, ip]);
  }
  return { members, peers };
}

/** The user networks (of this root) a container holds an address on. */
function netsWith(root: string, id: string): Net[] {
  return listNetworks(root).filter((n) => leaseOf(n, { root, id }));
}

/** Its /etc/hosts: its own address (eth0's), and the names of its peers on every user network it is on. */
function hostsOf(root: string, r: ContainerRecord, ownIp: string | undefined): string {
  const own = new Set([ownIp, ...netsWith(root, r.Id).map((n) => leaseOf(n, { root, id: r.Id }))]);
  const peers = netsWith(root, r.Id).flatMap((n) => peersOf(root, n.name).peers.filter(([, ip]) => !own.has(ip)));
  return hostsFile(r.Options.hostname ?? r.Id.slice(0, 12), ownIp, r.Options.addHost, peers);
}

/**
 * Rewrites the hosts file of every running container on a user network (and of `also`, which just left
 * one) so that each finds the others by name, short id and alias. The files are bind-mounted: rewritten
 * in place, seen at once.
 */
export function refreshPeers(root: string, netName: string, also: string[] = []): void {
  const { members } = peersOf(root, netName);
  const rs = [...members, ...also.map((id) => loadRecord(root, id)).filter((r): r is ContainerRecord => !!r && !members.some((m) => m.Id === r.Id))];
  for (const r of rs) {
    const hosts = join(containerDir(root, r.Id), 'hosts');
    if (!existsSync(hosts)) continue;
    const primary = r.Options.network === 'default' || r.Options.network === 'bridge' ? DEFAULT_NET : findNetwork(root, r.Options.network);
    rewriteInPlace(hosts, hostsOf(root, r, primary ? leaseOf(primary, { root, id: r.Id }) : undefined));
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
 * Before the container runs: an address (the one --ip asks for, if any), a veth into its namespace, its
 * name in its /etc/hosts; then the networks it was connected to later (network connect), as eth1....
 * Only the bridge and the lease need the host-wide lock; the veth is the container's own and is made after.
 */
export function plugBridge(root: string, id: string, pid: number, hostname: string, net: Net): string {
  const o = loadRecord(root, id)?.Options;
  const ip = withNetworkLock(() => {
    ensureBridge(net);
    const addr = allocate(net, { root, id }, (x) => loadRecord(x.root, x.id) !== undefined, o?.ip);
    // The peers already running are in the file before the process starts; they learn of us right after.
    writeFileSync(join(containerDir(root, id), 'hosts'), hostsFile(hostname, addr, o?.addHost ?? [], o ? peersOf(root, o.network).peers.filter(([, p]) => p !== addr) : []));
    return addr;
  });
  try {
    plug(net, pid, id, ip);
    netEvent(root, 'connect', net, id);
    for (const [name, c] of Object.entries(connections(root, id))) {
      const other = findNetwork(root, name);
      if (other && other.name !== net.name) {
        plugOther(root, id, pid, other, c);
        // Names on a network connected before the start: the peers there and this one learn of each other.
        refreshPeers(root, other.name);
      }
    }
  } catch (e) {
    unplugAll(root, id);
    throw e;
  }
  return ip;
}

/** One more network in a running container's namespace: the next ethN, without a default route. */
function plugOther(root: string, id: string, pid: number, net: Net, c: Connection): string {
  const ip = withNetworkLock(() => {
    ensureBridge(net);
    return allocate(net, { root, id }, (x) => loadRecord(x.root, x.id) !== undefined, c.ip);
  });
  try {
    plug(net, pid, id, ip, freeIfname(pid));
    netEvent(root, 'connect', net, id);
  } catch (e) {
    withNetworkLock(() => {
      release(net, { root, id });
      removeBridgeIfUnused(net);
    });
    throw e;
  }
  return ip;
}

function primaryName(r: ContainerRecord): string {
  return r.Options.network === 'default' ? 'bridge' : r.Options.network;
}

/** docker network connect: kept in the container's config; plugged at once when it runs. */
export function connectNetwork(root: string, netRef: string, ref: string, o: { aliases?: string[]; ip?: string } = {}): void {
  const net = findNetwork(root, netRef);
  if (!net) throw new EngineError(`network ${netRef} not found`, 'ERR_NO_SUCH_NETWORK');
  const r = mustFind(root, ref);
  const mode = networkMode(r.Options, root);
  if (mode !== 'bridge') throw new EngineError(`container ${r.Name} cannot be connected to another network: its network mode is ${primaryName(r)}`, 'ERR_CONFLICT');
  const cs = connections(root, r.Id);
  if (primaryName(r) === net.name || net.name in cs) throw new EngineError(`endpoint with name ${r.Name} already exists in network ${net.name}`, 'ERR_CONFLICT');
  for (const a of o.aliases ?? []) checkAlias(a);
  if (net.name === 'bridge' && o.aliases?.length) throw new EngineError('network-scoped aliases are only supported for user-defined networks', 'ERR_INVALID');
  const c: Connection = { aliases: o.aliases ?? [], ...(o.ip ? { ip: o.ip } : {}) };
  const pid = liveState(root, r).Pid;
  if (pid) {
    try {
      plugOther(root, r.Id, pid, net, c);
    } catch (e) {
      throw new EngineError((e as Error).message, /already in use/.test((e as Error).message) ? 'ERR_CONFLICT' : 'ERR_ENGINE');
    }
  }
  saveConnections(root, r.Id, { ...cs, [net.name]: c });
  if (pid) refreshPeers(root, net.name, [r.Id]);
}

/**
 * docker network disconnect: its veth and address on that network go at once when it runs. The network
 * it was made with (--network) comes back when it starts again: it stays in its options.
 */
export function disconnectNetwork(root: string, netRef: string, ref: string, o: { force?: boolean } = {}): void {
  const net = findNetwork(root, netRef);
  if (!net) throw new EngineError(`network ${netRef} not found`, 'ERR_NO_SUCH_NETWORK');
  const r = mustFind(root, ref);
  const cs = connections(root, r.Id);
  const primary = primaryName(r) === net.name;
  const holds = leaseOf(net, { root, id: r.Id }) !== undefined;
  if (!primary && !(net.name in cs)) {
    if (o.force) return;
    throw new EngineError(`container ${r.Id} is not connected to network ${net.name}`, 'ERR_CONFLICT');
  }
  if (!primary) {
    delete cs[net.name];
    saveConnections(root, r.Id, cs);
  }
  if (holds) {
    unplug(r.Id, primary ? undefined : net);
    netEvent(root, 'disconnect', net, r.Id);
    withNetworkLock(() => {
      release(net, { root, id: r.Id });
      removeBridgeIfUnused(net);
    });
    refreshPeers(root, net.name, [r.Id]);
  }
}

/** Where a container is on each bridge network it holds an address on now: for inspect. */
export function endpointsOf(root: string, r: ContainerRecord): Record<string, { IPAddress: string; IPPrefixLen: number; Gateway: string; MacAddress: string; Aliases: string[]; NetworkID: string }> {
  const out: ReturnType<typeof endpointsOf> = {};
  for (const net of netsOfRoot(root)) {
    const ip = leaseOf(net, { root, id: r.Id });
    if (!ip) continue;
    const { bits, gateway } = parseSubnet(net.subnet);
    const aliases = net.name === 'bridge' ? [] : namesOn(root, r, net.name).slice(1);
    out[net.name] = { IPAddress: ip, IPPrefixLen: bits, Gateway: gateway, MacAddress: macOf(ip), Aliases: aliases, NetworkID: networkId(net) };
  }
  return out;
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

/** Everything a container had on the network: proxies, veths, addresses, and bridges it was the last on. */
export function unplugAll(root: string, id: string): void {
  stopProxies(containerDir(root, id));
  unplug(id);
  for (const net of listNetworks(root)) if (leaseOf(net, { root, id })) unplug(id, net);
  withNetworkLock(() => {
    for (const net of netsOfRoot(root)) {
      if (leaseOf(net, { root, id })) netEvent(root, 'disconnect', net, id);
      release(net, { root, id });
      removeBridgeIfUnused(net);
    }
  });
}
