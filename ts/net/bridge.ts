// The default bridge network: a tsbox0 bridge, one veth pair per container, addresses from a small IPAM,
// masquerade for outbound traffic in an nftables table of tsbox's own. All through iproute2 and nft.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { native } from '../native.js';

export const BRIDGE = 'tsbox0';
export const SUBNET = process.env.TSBOX_BRIDGE_SUBNET ?? '10.88.0.0/16';
const NFT_TABLE = 'tsbox';
// The bridge, its subnet and the nft table belong to the host, not to one tsbox root: so do its lock and leases.
const NET_DIR = process.env.TSBOX_NET_DIR ?? '/run/tsbox/networks/bridge';

export interface Owner {
  root: string;
  id: string;
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
    throw new Error(`${cmd} ${args.join(' ')}: ${err}`);
  }
}

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

export function subnet(): { base: number; bits: number; gateway: string } {
  const [net, bits] = SUBNET.split('/');
  return { base: ipToInt(net), bits: Number(bits), gateway: intToIp(ipToInt(net) + 1) };
}

/** Bridge, address, forwarding and the masquerade rule: idempotent. */
export function ensureBridge(): void {
  const { bits, gateway } = subnet();
  if (!linkExists(BRIDGE)) {
    try {
      run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    } catch (e) {
      if (!linkExists(BRIDGE)) throw e; // a concurrent tsbox made it first
    }
    run('ip', ['addr', 'add', `${gateway}/${bits}`, 'dev', BRIDGE]);
    run('ip', ['link', 'set', BRIDGE, 'up']);
  }
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  // Our own table only: never touch other tables' rules.
  run('nft', [`add table ip ${NFT_TABLE}`]);
  const rules = run('nft', ['list', 'table', 'ip', NFT_TABLE]);
  if (!rules.includes('masquerade')) {
    run('nft', [`add chain ip ${NFT_TABLE} postrouting { type nat hook postrouting priority srcnat ; }`]);
    run('nft', [`add rule ip ${NFT_TABLE} postrouting ip saddr ${SUBNET} oifname != "${BRIDGE}" masquerade`]);
  }
}

/** Removes the bridge and the table when no container uses them any more (no lease, no port on it). */
export function removeBridgeIfUnused(): void {
  if (Object.keys(readLeases()).length) return;
  try {
    if (readdirSync(`/sys/class/net/${BRIDGE}/brif`).length) return;
  } catch {
    // no bridge
  }
  if (linkExists(BRIDGE)) run('ip', ['link', 'del', BRIDGE]);
  try {
    run('nft', [`delete table ip ${NFT_TABLE}`]);
  } catch {
    // not there
  }
}

function leasesFile(): string {
  return join(NET_DIR, 'leases.json');
}

export function readLeases(): Record<string, Owner> {
  try {
    return JSON.parse(readFileSync(leasesFile(), 'utf8')) as Record<string, Owner>;
  } catch {
    return {};
  }
}

/** Runs fn under the host's network lock: address allocation and bridge teardown must not interleave. */
export function withNetworkLock<T>(fn: () => T): T {
  mkdirSync(NET_DIR, { recursive: true, mode: 0o700 });
  const fd = openSync(join(NET_DIR, 'lock'), 'a+', 0o600);
  try {
    native().flock(fd, 2);
    return fn();
  } finally {
    closeSync(fd);
  }
}

const same = (a: Owner, b: Owner) => a.root === b.root && a.id === b.id;

/** The next free address; a live one is never handed out twice, whichever tsbox root owns it. */
export function allocate(owner: Owner, live: (o: Owner) => boolean): string {
  const leases = readLeases();
  // Leases of containers that are gone are reclaimed.
  for (const [ip, o] of Object.entries(leases)) if (!same(o, owner) && !live(o)) delete leases[ip];
  const { base, bits } = subnet();
  const size = 2 ** (32 - bits);
  let ip: string | undefined;
  for (let i = 2; i < size - 1; i++) {
    const cand = intToIp(base + i);
    if (!leases[cand]) {
      ip = cand;
      break;
    }
  }
  if (!ip) throw new Error(`network bridge: no free address left in ${SUBNET}`);
  leases[ip] = owner;
  saveLeases(leases);
  return ip;
}

export function release(owner: Owner): void {
  const leases = readLeases();
  for (const [ip, o] of Object.entries(leases)) if (same(o, owner)) delete leases[ip];
  saveLeases(leases);
}

function saveLeases(leases: Record<string, Owner>): void {
  const f = leasesFile();
  writeFileSync(`${f}.tmp`, JSON.stringify(leases));
  renameSync(`${f}.tmp`, f);
}

export function vethName(id: string): string {
  return `tsb${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/** A veth pair: host end on the bridge, the other end eth0 in the container's namespace, with its address and route. */
export function plug(pid: number, id: string, ip: string): void {
  const { bits, gateway } = subnet();
  const host = vethName(id);
  const peer = `${host}p`;
  run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  try {
    run('ip', ['link', 'set', host, 'master', BRIDGE, 'up']);
    run('ip', ['link', 'set', peer, 'netns', String(pid)]);
    const inNs = (args: string[]) => run('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', ...args]);
    inNs(['link', 'set', peer, 'name', 'eth0']);
    inNs(['addr', 'add', `${ip}/${bits}`, 'dev', 'eth0']);
    inNs(['link', 'set', 'eth0', 'up']);
    inNs(['link', 'set', 'lo', 'up']);
    inNs(['route', 'add', 'default', 'via', gateway]);
  } catch (e) {
    unplug(id);
    throw e;
  }
}

/** Deletes the host end (the pair goes with it); nothing to do once the namespace is gone. */
export function unplug(id: string): void {
  const host = vethName(id);
  if (linkExists(host)) {
    try {
      run('ip', ['link', 'del', host]);
    } catch {
      // went away with the namespace meanwhile
    }
  }
}
