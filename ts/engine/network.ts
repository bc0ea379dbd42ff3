// The engine's side of networking: which mode a container gets, plugging it into the bridge before it
// runs, publishing its ports, and undoing all of it on removal.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allocate, ensureBridge, plug, readLeases, release, removeBridgeIfUnused, unplug, withNetworkLock } from '../net/bridge.js';
import { parsePublish, startProxies, stopProxies, type PortMapping } from '../net/ports.js';
import { UsageError } from '../cli/common.js';
import { containerDir, loadRecord } from './containers.js';
import type { RunOptions } from './options.js';

export type NetworkMode = 'none' | 'host' | 'bridge';

/** docker's default is the bridge; without root there is no bridge to make, so none. */
export function networkMode(o: RunOptions): NetworkMode {
  const n = o.network === 'default' ? (process.getuid?.() === 0 ? 'bridge' : 'none') : o.network;
  if (n !== 'none' && n !== 'host' && n !== 'bridge') throw new UsageError(`--network ${o.network}: want none, host or bridge`);
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
    writeFileSync(join(containerDir(root, id), 'hosts'), `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip}\t${hostname}\n`);
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
