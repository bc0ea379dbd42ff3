// Bridge networks: a Linux bridge per network (tsbox0 for the default one), one veth pair per container,
// addresses from a small IPAM, masquerade for outbound traffic in an nftables table of tsbox's own.
// Bridges, subnets and nft rules belong to the host, not to one tsbox root: so do their lock and leases.
import { MissingToolError, missingTool } from '../errors.js';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { native } from '../native.js';

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

export const DEFAULT_NET: Net = { name: 'bridge', bridge: 'tsbox0', subnet: process.env.TSBOX_BRIDGE_SUBNET ?? '10.88.0.0/16' };
const NFT_TABLE = 'tsbox';
const NET_DIR = process.env.TSBOX_NET_DIR ?? '/run/tsbox/networks';

function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const missing = missingTool(cmd, e) ?? (cmd === 'nsenter' && /failed to execute/.test(String((e as { stderr?: string }).stderr)) ? new MissingToolError(args.find((a) => !a.startsWith('-'))!) : undefined);
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

/** Runs fn under the host's network lock: bridges, leases and rules change one at a time. */
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

/**
 * Bridge, address, forwarding and the network's masquerade rule: idempotent. An existing bridge already
 * has its rule (both are made and removed together, under the network lock): nothing to run then.
 */
export function ensureBridge(net: Net): void {
  const { bits, gateway } = parseSubnet(net.subnet);
  if (linkExists(net.bridge)) return;
  run('ip', ['-batch', '-'], `link add ${net.bridge} type bridge\naddr add ${gateway}/${bits} dev ${net.bridge}\nlink set ${net.bridge} up\n`);
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  if (firewall() === 'nft') {
    // Our own table only: never touch other tables' rules.
    run('nft', [`add table ip ${NFT_TABLE}`]);
    run('nft', [`add chain ip ${NFT_TABLE} postrouting { type nat hook postrouting priority srcnat ; }`]);
    if (!run('nft', ['list', 'chain', 'ip', NFT_TABLE, 'postrouting']).includes(`"${net.bridge}"`)) {
      run('nft', [`add rule ip ${NFT_TABLE} postrouting ip saddr ${net.subnet} oifname != "${net.bridge}" masquerade comment "${net.bridge}"`]);
    }
  } else {
    const rule = iptablesRule(net);
    try {
      run('iptables', ['-t', 'nat', '-C', ...rule]);
    } catch {
      run('iptables', ['-t', 'nat', '-A', ...rule]);
    }
  }
}

/** nftables where the host has nft, iptables otherwise (TSBOX_FIREWALL=iptables|nft to choose). */
export function firewall(): 'nft' | 'iptables' {
  const want = process.env.TSBOX_FIREWALL;
  if (want === 'nft' || want === 'iptables') return want;
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return 'nft';
  } catch {
    return 'iptables';
  }
}

function iptablesRule(net: Net): string[] {
  return ['POSTROUTING', '-s', net.subnet, '!', '-o', net.bridge, '-j', 'MASQUERADE', '-m', 'comment', '--comment', `tsbox ${net.bridge}`];
}

function removeMasquerade(net: Net): void {
  // Both kinds: a host may have switched since the rule was made.
  try {
    run('iptables', ['-t', 'nat', '-D', ...iptablesRule(net)]);
  } catch {
    // no such rule, or no iptables
  }
  let chain = '';
  try {
    chain = run('nft', ['-a', 'list', 'chain', 'ip', NFT_TABLE, 'postrouting']);
  } catch {
    return; // no table
  }
  const handle = new RegExp(`comment "${net.bridge}" # handle (\\d+)`).exec(chain)?.[1];
  if (handle) run('nft', [`delete rule ip ${NFT_TABLE} postrouting handle ${handle}`]);
  if (!/masquerade/.test(run('nft', ['list', 'chain', 'ip', NFT_TABLE, 'postrouting']))) run('nft', [`delete table ip ${NFT_TABLE}`]);
}

/** Removes the bridge and its rule when no container uses it any more (no lease, no port on it). */
export function removeBridgeIfUnused(net: Net): void {
  if (Object.keys(readLeases(net)).length) return;
  try {
    if (readdirSync(`/sys/class/net/${net.bridge}/brif`).length) return;
  } catch {
    // no bridge
  }
  if (linkExists(net.bridge)) run('ip', ['link', 'del', net.bridge]);
  removeMasquerade(net);
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

/** The next free address; a live one is never handed out twice, whichever tsbox root owns it. */
export function allocate(net: Net, owner: Owner, live: (o: Owner) => boolean): string {
  const leases = readLeases(net);
  // Leases of containers that are gone are reclaimed.
  for (const [ip, o] of Object.entries(leases)) if (!same(o, owner) && !live(o)) delete leases[ip];
  const { base, bits } = parseSubnet(net.subnet);
  const size = 2 ** (32 - bits);
  let ip: string | undefined;
  for (let i = 2; i < size - 1; i++) {
    const cand = intToIp(base + i);
    if (!leases[cand]) {
      ip = cand;
      break;
    }
  }
  if (!ip) throw new Error(`network ${net.name}: no free address left in ${net.subnet}`);
  leases[ip] = owner;
  saveLeases(net, leases);
  return ip;
}

export function release(net: Net, owner: Owner): void {
  const leases = readLeases(net);
  for (const [ip, o] of Object.entries(leases)) if (same(o, owner)) delete leases[ip];
  saveLeases(net, leases);
}

export function vethName(id: string): string {
  return `tsb${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/**
 * A veth pair: host end on the bridge, the other end eth0 in the container's namespace, with its address
 * and route. Two batches of ip commands (one outside, one inside): each process start costs more than
 * the commands. Needs no lock: the caller's lease keeps the bridge from going away meanwhile.
 */
export function plug(net: Net, pid: number, id: string, ip: string): void {
  const { bits, gateway } = parseSubnet(net.subnet);
  const host = vethName(id);
  const peer = `${host}p`;
  run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  try {
    run('ip', ['-batch', '-'], `link set ${host} master ${net.bridge} up\nlink set ${peer} netns ${pid}\n`);
    run('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-batch', '-'], `link set ${peer} name eth0\naddr add ${ip}/${bits} dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via ${gateway}\n`);
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
