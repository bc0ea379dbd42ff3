// User-defined networks (tsbox network create/ls/rm/inspect): one bridge each; containers on one reach
// each other by name (and alias) through the /etc/hosts entries tsbox keeps for them.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_NET, hostSubnets, overlaps, parseSubnet, pickSubnet, type Net } from './bridge.js';
import { TsboxError } from '../errors.js';

export interface NetworkConfig extends Net {
  created: string;
  /** docker's network id (64 hex); networks made before ids existed get one derived from their name. */
  id?: string;
  labels?: Record<string, string>;
}

/** A subnet that overlaps what the host or another network uses (docker's words). */
export class PoolOverlapError extends TsboxError {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message, 'ERR_POOL_OVERLAP');
  }
}

function dir(root: string): string {
  return join(root, 'networks');
}

export function networkId(n: Net & { id?: string }): string {
  return n.id ?? createHash('sha256').update(`tsbox-network\0${n.bridge}`).digest('hex');
}

export function listNetworks(root: string): NetworkConfig[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir(root)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  } catch {
    // none yet
  }
  return names.map((n) => JSON.parse(readFileSync(join(dir(root), n), 'utf8')) as NetworkConfig);
}

/** "bridge" is the default network; anything else must have been created. By name, id or unique id prefix. */
export function findNetwork(root: string, name: string): (Net & Partial<NetworkConfig>) | undefined {
  if (name === 'bridge' || (name.length >= 3 && networkId(DEFAULT_NET).startsWith(name) && !listNetworks(root).some((n) => n.name === name))) return DEFAULT_NET;
  const all = listNetworks(root);
  const byName = all.find((n) => n.name === name);
  if (byName) return byName;
  const byId = all.filter((n) => networkId(n).startsWith(name));
  return byId.length === 1 && name.length >= 3 ? byId[0] : undefined;
}

export interface CreateNetworkOptions {
  subnet?: string;
  labels?: Record<string, string>;
}

export function createNetwork(root: string, name: string, o: CreateNetworkOptions | string = {}): NetworkConfig {
  const opts: CreateNetworkOptions = typeof o === 'string' ? { subnet: o } : o;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || ['bridge', 'host', 'none', 'default'].includes(name)) {
    throw new Error(`network create: invalid or reserved name ${JSON.stringify(name)}`);
  }
  if (listNetworks(root).some((n) => n.name === name)) throw new PoolOverlapError(`network with name ${name} already exists`);
  const nets = [DEFAULT_NET, ...listNetworks(root)];
  const host = hostSubnets(nets.map((n) => n.bridge));
  const taken = [...nets.map((n) => n.subnet), ...host];
  let subnet = opts.subnet;
  if (subnet) {
    const { base, bits } = parseSubnet(subnet);
    if (`${subnet}` !== `${[24, 16, 8, 0].map((s) => (base >>> s) & 255).join('.')}/${bits}`) throw new Error(`invalid subnet ${subnet}: the address has host bits set (want ${[24, 16, 8, 0].map((s) => (base >>> s) & 255).join('.')}/${bits})`);
    const clash = taken.find((t) => overlaps(t, subnet!));
    if (clash) throw new PoolOverlapError(`Pool overlaps with other one on this address space (${subnet} overlaps ${clash})`);
  } else {
    subnet = pickSubnet(taken);
    if (!subnet) throw new Error('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
  }
  const bridge = `tsbn${createHash('sha256').update(`${root}\0${name}`).digest('hex').slice(0, 8)}`;
  const cfg: NetworkConfig = { name, bridge, subnet, created: new Date().toISOString(), id: randomBytes(32).toString('hex'), labels: opts.labels ?? {} };
  mkdirSync(dir(root), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir(root), `.${name}.tmp`), JSON.stringify(cfg));
  renameSync(join(dir(root), `.${name}.tmp`), join(dir(root), `${name}.json`));
  return cfg;
}

export function removeNetworkConfig(root: string, name: string): void {
  rmSync(join(dir(root), `${name}.json`), { force: true });
}
