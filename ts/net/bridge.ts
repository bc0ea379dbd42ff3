// Bridge networks: a Linux bridge per network (tsbox0 for the default one), one veth pair per container,
// addresses from a small IPAM; the host's rules for each network in firewall.ts.
// Bridges, subnets and nft rules belong to the host, not to one tsbox root: so do their lock and leases.
import { missingTool } from '../errors.js';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { native } from '../native.js';
import { hostTool } from '../host-tools.js';
import { addNetworkRules, removeNetworkRules } from './firewall.js';

export interface Net {
  /** The name users give (--network NAME); "bridge" for the default network. */
  name: string;
  /** Linux bridge device (at most 15 characters). */
  bridge: string;
  /** IPv4 CIDR. */
  subnet: string;
}

export interface Owner {
  root: string;
  id: string;
}

const NET_DIR = process.env.TSBOX_NET_DIR ?? '/run/tsbox/networks';
const DEFAULT_BRIDGE = process.env.TSBOX_BRIDGE_NAME ?? 'tsbox0';

/**
 * The default network. Its subnet is chosen at first use (defaultSubnet): what the address pools (docker's by default) offer that
 * nothing on the host routes yet, then kept; TSBOX_BRIDGE_SUBNET fixes it.
 */
export const DEFAULT_NET: Net = {
  name: 'bridge',
  bridge: DEFAULT_BRIDGE,
  get subnet() {
    return defaultSubnet();
  },
};

function run(cmd: string, args: string[], input?: string): string {
  const bin = hostTool(cmd);
  try {
    return execFileSync(bin, args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const missing = missingTool(bin, e);
    if (missing) throw missing;
    const err = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
    throw new Error(`${cmd} ${args.join(' ')}${input ? ` (${input.trim().split('\n').join('; ')})` : ''}: ${err}`);
  }
}

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

export function parseSubnet(cidr: string): { base: number; bits: number; gateway: string } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  if (!m || Number(m[2]) < 8 || Number(m[2]) > 30) throw new Error(`invalid subnet ${JSON.stringify(cidr)}: want an IPv4 CIDR from /8 to /30`);
  const bits = Number(m[2]);
  const base = (ipToInt(m[1]) & (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0)) >>> 0;
  return { base, bits, gateway: intToIp(base + 1) };
}

let lockDepth = 0;

/** Runs fn under the host's network lock: bridges, leases and rules change one at a time. Reentrant. */
export function withNetworkLock<T>(fn: () => T): T {
  if (lockDepth) return fn();
  mkdirSync(NET_DIR, { recursive: true, mode: 0o700 });
  const fd = openSync(join(NET_DIR, 'lock'), 'a+', 0o600);
  try {
    native().flock(fd, 2);
    lockDepth++;
    try {
      return fn();
    } finally {
      lockDepth--;
    }
  } finally {
    closeSync(fd);
  }
}

// docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
const DOCKER_POOLS = 'base=172.17.0.0/16,size=16 base=172.18.0.0/15,size=16 base=172.20.0.0/14,size=16 base=172.24.0.0/13,size=16 base=192.168.0.0/16,size=20';

interface Pool {
  base: number;
  bits: number;
  size: number;
}

/**
 * The pools subnets are picked from: TSBOX_DEFAULT_ADDRESS_POOLS, as dockerd's --default-address-pool
 * (`base=CIDR,size=N`, space-separated, in order), else docker's defaults.
 */
export function addressPools(): Pool[] {
  const env = process.env.TSBOX_DEFAULT_ADDRESS_POOLS?.trim();
  return (env || DOCKER_POOLS).split(/\s+/).map((p) => {
    const m = /^base=([^,]+),size=(\d+)$/.exec(p);
    const base = m ? parseSubnet(m[1]) : undefined;
    const size = Number(m?.[2]);
    if (!base || size < base.bits || size > 30) {
      throw new Error(`TSBOX_DEFAULT_ADDRESS_POOLS: ${JSON.stringify(p)} is not base=CIDR,size=N with N from the base's prefix length to 30`);
    }
    return { base: base.base, bits: base.bits, size };
  });
}

export function overlaps(a: string, b: string): boolean {
  const x = parseSubnet(a);
  const y = parseSubnet(b);
  const bits = Math.min(x.bits, y.bits);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((x.base & mask) >>> 0) === ((y.base & mask) >>> 0);
}

/** A CIDR from an address and prefix length, the host bits cleared (0.0.0.0/0 is the default route: skipped). */
function cidr(ip: number, bits: number): string | undefined {
  if (bits === 0) return undefined;
  const mask = (~0 << (32 - bits)) >>> 0;
  return `${intToIp((ip & mask) >>> 0)}/${bits}`;
}

/**
 * What the host already uses, as CIDRs: the destinations of its routes (/proc/net/route) and its
 * interfaces' addresses (ip -j addr), except those on the devices in `except` (our own bridges).
 */
export function hostSubnets(except: string[] = []): string[] {
  const out = new Set<string>();
  try {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || except.includes(f[0])) continue;
      // Little-endian hex, as the kernel prints them.
      const le = (h: string) => Buffer.from(h, 'hex').readUInt32LE(0);
      const mask = le(f[7]);
      const bits = mask.toString(2).replace(/0/g, '').length;
      const c = cidr(le(f[1]), bits > 30 ? 30 : bits);
      if (c) out.add(c);
    }
  } catch {
    // no procfs route table
  }
  try {
    const links = JSON.parse(execFileSync(hostTool('ip'), ['-j', '-4', 'addr', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { ifname: string; addr_info?: { family: string; local: string; prefixlen: number }[] }[];
    for (const l of links) {
      if (except.includes(l.ifname)) continue;
      for (const a of l.addr_info ?? []) {
        if (a.family !== 'inet' || a.local.startsWith('127.')) continue;
        const c = cidr(ipToInt(a.local), Math.min(a.prefixlen, 30));
        if (c) out.add(c);
      }
    }
  } catch {
    // no ip: routes only
  }
  return [...out];
}

/** The first subnet of the pools (in their order) that no taken CIDR overlaps. */
export function pickSubnet(taken: string[], pools: Pool[] = addressPools()): string | undefined {
  for (const p of pools) {
    const step = 2 ** (32 - p.size);
    for (let n = 0; n < 2 ** (p.size - p.bits); n++) {
      const c = `${intToIp(p.base + n * step)}/${p.size}`;
      if (!taken.some((t) => overlaps(t, c))) return c;
    }
  }
  return undefined;
}

let chosenDefault: string | undefined;

/** The subnet a live bridge device has (its first IPv4 address), or undefined. */
function bridgeSubnet(dev: string): string | undefined {
  try {
    const [l] = JSON.parse(execFileSync(hostTool('ip'), ['-j', '-4', 'addr', 'show', 'dev', dev], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { addr_info?: { local: string; prefixlen: number }[] }[];
    const a = l?.addr_info?.[0];
    return a ? cidr(ipToInt(a.local), a.prefixlen) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The default network's subnet: a bridge already up keeps its own (10.88.0.0/16 from earlier versions
 * included) unless the host routes it elsewhere too and no container is on it; else the choice made
 * before (NET_DIR/<bridge>/subnet) while nothing on the host took it meanwhile; else the first of
 * the address pools (addressPools) that no host route, host address or other tsbox network uses. Chosen under the lock.
 */
export function defaultSubnet(): string {
  if (process.env.TSBOX_BRIDGE_SUBNET) return process.env.TSBOX_BRIDGE_SUBNET;
  if (chosenDefault) return chosenDefault;
  const net: Net = { name: 'bridge', bridge: DEFAULT_BRIDGE, subnet: '' };
  const file = join(NET_DIR, DEFAULT_BRIDGE, 'subnet');
  const choose = (rw: boolean): string => {
    const host = hostSubnets([DEFAULT_BRIDGE]);
    const clear = (c: string) => !host.some((h) => overlaps(h, c));
    const live = bridgeSubnet(DEFAULT_BRIDGE);
    if (live) {
      if (!rw || clear(live) || Object.keys(readLeases({ ...net, subnet: live })).length) return live;
      // A conflicting bridge nobody uses: made again on a free subnet.
      removeBridgeIfUnused({ ...net, subnet: live });
    }
    let stored: string | undefined;
    try {
      stored = readFileSync(file, 'utf8').trim();
      parseSubnet(stored);
    } catch {
      stored = undefined;
    }
    if (stored && (clear(stored) || !rw)) return stored;
    const pick = pickSubnet(host);
    if (!pick) throw new Error(`no free subnet for the default bridge ${DEFAULT_BRIDGE}: every subnet of the address pools overlaps a host route or address; set TSBOX_BRIDGE_SUBNET or TSBOX_DEFAULT_ADDRESS_POOLS`);
    return pick;
  };
  // Without root there is no bridge to make: what it would get is only reported, nothing kept.
  if (process.getuid?.() !== 0) return choose(false);
  chosenDefault = withNetworkLock(() => {
    const pick = choose(true);
    // Kept: the bridge goes with its last container and comes back on the same subnet.
    mkdirSync(join(NET_DIR, DEFAULT_BRIDGE), { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, `${pick}\n`);
    renameSync(`${file}.tmp`, file);
    return pick;
  });
  return chosenDefault;
}

/**
 * Bridge, address, forwarding and the network's rules: idempotent. An existing bridge already has its
 * rules (both are made and removed together, under the network lock): nothing to run then.
 */
export function ensureBridge(net: Net): void {
  const { bits, gateway } = parseSubnet(net.subnet);
  if (linkExists(net.bridge)) return;
  run('ip', ['-batch', '-'], `link add ${net.bridge} type bridge\naddr add ${gateway}/${bits} dev ${net.bridge}\nlink set ${net.bridge} up\n`);
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  addNetworkRules(net);
}

/** Removes the bridge and its rule when no container uses it any more (no lease, no port on it). */
export function removeBridgeIfUnused(net: Net): void {
  if (Object.keys(readLeases(net)).length) return;
  // The default bridge's subnet is decided (and kept) before the bridge that may carry it goes.
  void net.subnet;
  try {
    if (readdirSync(`/sys/class/net/${net.bridge}/brif`).length) return;
  } catch {
    // no bridge
  }
  if (linkExists(net.bridge)) run('ip', ['link', 'del', net.bridge]);
  removeNetworkRules(net);
}

function leasesFile(net: Net): string {
  return join(NET_DIR, net.bridge, 'leases.json');
}

export function readLeases(net: Net): Record<string, Owner> {
  try {
    return JSON.parse(readFileSync(leasesFile(net), 'utf8')) as Record<string, Owner>;
  } catch {
    return {};
  }
}

function saveLeases(net: Net, leases: Record<string, Owner>): void {
  const f = leasesFile(net);
  mkdirSync(join(NET_DIR, net.bridge), { recursive: true, mode: 0o700 });
  writeFileSync(`${f}.tmp`, JSON.stringify(leases));
  renameSync(`${f}.tmp`, f);
}

const same = (a: Owner, b: Owner) => a.root === b.root && a.id === b.id;

/**
 * The next free address (or the one asked for, when free and in the subnet); a live one is never handed
 * out twice, whichever tsbox root owns it. An owner holds at most one address per network.
 */
export function allocate(net: Net, owner: Owner, live: (o: Owner) => boolean, want?: string): string {
  const leases = readLeases(net);
  // Leases of containers that are gone are reclaimed, and the owner's own earlier one.
  for (const [ip, o] of Object.entries(leases)) if (same(o, owner) || !live(o)) delete leases[ip];
  const { base, bits } = parseSubnet(net.subnet);
  const size = 2 ** (32 - bits);
  let ip: string | undefined;
  if (want) {
    const n = /^\d{1,3}(\.\d{1,3}){3}$/.test(want) ? ipToInt(want) : NaN;
    if (!(n > base + 1 && n < base + size - 1)) throw new Error(`invalid address ${want}: not a usable address of ${net.name} (${net.subnet})`);
    if (leases[want]) throw new Error(`Address already in use: ${want} on network ${net.name}`);
    ip = want;
  }
  for (let i = 2; i < size - 1 && !ip; i++) {
    const cand = intToIp(base + i);
    if (!leases[cand]) ip = cand;
  }
  if (!ip) throw new Error(`network ${net.name}: no free address left in ${net.subnet}`);
  leases[ip] = owner;
  saveLeases(net, leases);
  return ip;
}

/** The address an owner holds on a network. */
export function leaseOf(net: Net, owner: Owner): string | undefined {
  return Object.entries(readLeases(net)).find(([, o]) => same(o, owner))?.[0];
}

export function release(net: Net, owner: Owner): void {
  const leases = readLeases(net);
  const held = Object.entries(leases).filter(([, o]) => same(o, owner));
  // Nothing written for an owner that holds none: a start that failed before its lease leaves no file.
  if (!held.length) return;
  for (const [ip] of held) delete leases[ip];
  saveLeases(net, leases);
}

/** The host end of a container's veth: eth0's from its id alone (as before), one for another network from both. */
export function vethName(id: string, net?: Net): string {
  return `tsb${createHash('sha256').update(net ? `${id}\0${net.bridge}` : id).digest('hex').slice(0, 8)}`;
}

/** docker's MAC for an address: 02:42 and the four octets. */
export function macOf(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

/**
 * A veth pair: host end on the bridge, the other end ifname (eth0 unless given) in the container's
 * namespace, with its address and docker's MAC; eth0 also gets the default route. Two batches of ip
 * commands (one outside, one inside): each process start costs more than the commands. Needs no lock:
 * the caller's lease keeps the bridge from going away meanwhile.
 */
export function plug(net: Net, pid: number, id: string, ip: string, ifname = 'eth0'): void {
  const { bits, gateway } = parseSubnet(net.subnet);
  const host = ifname === 'eth0' ? vethName(id) : vethName(id, net);
  const peer = `${host}p`;
  run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  try {
    run('ip', ['-batch', '-'], `link set ${host} master ${net.bridge} up\nlink set ${peer} netns ${pid}\n`);
    const route = ifname === 'eth0' ? `route add default via ${gateway}\n` : '';
    run('nsenter', [`--net=/proc/${pid}/ns/net`, hostTool('ip'), '-batch', '-'], `link set ${peer} name ${ifname}\nlink set ${ifname} address ${macOf(ip)}\naddr add ${ip}/${bits} dev ${ifname}\nlink set ${ifname} up\nlink set lo up\n${route}`);
  } catch (e) {
    unplugLink(host);
    throw e;
  }
}

/** The next free ethN in a container's network namespace. */
export function freeIfname(pid: number): string {
  const names = run('nsenter', [`--net=/proc/${pid}/ns/net`, hostTool('ip'), '-o', 'link', 'show']).split('\n').map((l) => /^\d+:\s*([^:@]+)/.exec(l)?.[1]);
  for (let i = 0; ; i++) if (!names.includes(`eth${i}`)) return `eth${i}`;
}

/** Deletes a host end (the pair goes with it); nothing to do once the namespace is gone. */
export function unplugLink(host: string): void {
  if (linkExists(host)) {
    try {
      run('ip', ['link', 'del', host]);
    } catch {
      // went away with the namespace meanwhile
    }
  }
}

/** Deletes a container's veth on net (its eth0's without net). */
export function unplug(id: string, net?: Net): void {
  unplugLink(vethName(id, net));
}
