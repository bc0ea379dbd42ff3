// The engine's side of networking: which mode a container gets, plugging it into the bridge before it
// runs, publishing its ports, and undoing all of it on removal.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allocate, ensureBridge, plug, readLeases, release, removeBridgeIfUnused, unplug, withNetworkLock } from '../net/bridge.js';
import { parsePublish, startProxies, stopProxies, type PortMapping } from '../net/ports.js';
import { UsageError } from '../cli/common.js';
import { containerDir, loadRecord } from './containers.js';
import type { RunOptions } from './options.js';

export type NetworkMode = 'none' | 'host' | 'bridge' | 'container';

/** docker's default is the bridge; without root there is no bridge to make, so none. */
export function networkMode(o: RunOptions): NetworkMode {
  const n = o.network === 'default' ? (process.getuid?.() === 0 ? 'bridge' : 'none') : o.network.startsWith('container:') ? 'container' : o.network;
  if (n !== 'none' && n !== 'host' && n !== 'bridge' && n !== 'container') throw new UsageError(`--network ${o.network}: want none, host, bridge or container:NAME`);
  if (n !== 'bridge' && (o.publish.length || o.publishAll)) throw new UsageError(`-p needs the bridge network (not --network ${n})`);
  o.publish.forEach(parsePublish); // bad -p is a usage error before anything is created
  return n;
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

/** Before the container runs: an address, a veth into its namespace, its name in its /etc/hosts. */
export function plugBridge(root: string, id: string, pid: number, hostname: string): string {
  return withNetworkLock(() => {
    ensureBridge();
    const ip = allocate({ root, id }, (o) => loadRecord(o.root, o.id) !== undefined);
    try {
      plug(pid, id, ip);
    } catch (e) {
      release({ root, id });
      throw e;
    }
    writeFileSync(join(containerDir(root, id), 'hosts'), hostsFile(hostname, ip, loadRecord(root, id)?.Options.addHost ?? []));
    return ip;
  });
}

export async function publish(root: string, id: string, ip: string, maps: PortMapping[]): Promise<PortMapping[]> {
  return maps.length ? startProxies(containerDir(root, id), ip, maps) : [];
}

/** Whether a container may hold network resources (an address lease, proxies): cheap to ask. */
export function mayHaveNetwork(root: string, id: string): boolean {
  return existsSync(join(containerDir(root, id), 'ports.json')) || Object.values(readLeases()).some((o) => o.root === root && o.id === id);
}

/** Everything a container had on the network: proxies, veth, address, and the bridge when it was the last. */
export function unplugAll(root: string, id: string): void {
  stopProxies(containerDir(root, id));
  withNetworkLock(() => {
    unplug(id);
    release({ root, id });
    removeBridgeIfUnused();
  });
}

/** /etc/hosts and /etc/resolv.conf contents: the container's own name, --add-host, --dns/--dns-search or the host's resolvers (minus loopback ones, which mean nothing in another namespace). */
export function hostsFile(hostname: string, ip: string | undefined, addHost: string[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `${ip ?? '127.0.1.1'}\t${hostname}`];
  for (const h of addHost) {
    const i = h.indexOf(':');
    lines.push(`${h.slice(i + 1)}\t${h.slice(0, i)}`);
  }
  return lines.join('\n') + '\n';
}

export function resolvConf(hostResolv: string, dns: string[], search: string[]): string {
  const out: string[] = [];
  if (search.length) out.push(`search ${search.join(' ')}`);
  if (dns.length) out.push(...dns.map((d) => `nameserver ${d}`));
  else out.push(...hostResolv.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l) && !(search.length && /^\s*search\b/.test(l))));
  const text = out.filter((l) => l.trim()).join('\n');
  return text ? text + '\n' : '# no usable nameserver on the host\n';
}
