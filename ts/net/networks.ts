// User-defined networks (tsbox network create/ls/rm/inspect): one bridge each; containers on one reach
// each other by name through the /etc/hosts entries tsbox keeps for them.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_NET, intToIp, ipToInt, parseSubnet, type Net } from './bridge.js';

export interface NetworkConfig extends Net {
  created: string;
}

function dir(root: string): string {
  return join(root, 'networks');
}

export function listNetworks(root: string): NetworkConfig[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir(root)).filter((n) => n.endsWith('.json'));
  } catch {
    // none yet
  }
  return names.map((n) => JSON.parse(readFileSync(join(dir(root), n), 'utf8')) as NetworkConfig);
}

/** "bridge" is the default network; anything else must have been created. */
export function findNetwork(root: string, name: string): Net | undefined {
  if (name === 'bridge') return DEFAULT_NET;
  return listNetworks(root).find((n) => n.name === name);
}

function overlaps(a: string, b: string): boolean {
  const x = parseSubnet(a);
  const y = parseSubnet(b);
  const bits = Math.min(x.bits, y.bits);
  const mask = (~0 << (32 - bits)) >>> 0;
  return ((x.base & mask) >>> 0) === ((y.base & mask) >>> 0);
}

function hostSubnets(): string[] {
  try {
    return execFileSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => / inet (\S+)/.exec(l)?.[1])
      .filter((s): s is string => !!s && !s.startsWith('127.'));
  } catch {
    return [];
  }
}

export function createNetwork(root: string, name: string, subnet?: string): NetworkConfig {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || ['bridge', 'host', 'none', 'default'].includes(name)) {
    throw new Error(`network create: invalid or reserved name ${JSON.stringify(name)}`);
  }
  if (findNetwork(root, name)) throw new Error(`network with name ${name} already exists`);
  const taken = [DEFAULT_NET.subnet, ...listNetworks(root).map((n) => n.subnet), ...hostSubnets()];
  if (subnet) {
    const wanted = subnet;
    parseSubnet(wanted);
    const clash = taken.find((t) => overlaps(t, wanted));
    if (clash) throw new Error(`network create: subnet ${subnet} overlaps ${clash}`);
  } else {
    for (let i = 0; i < 256 && !subnet; i++) {
      const cand = `${intToIp(ipToInt('10.89.0.0') + i * 256)}/24`;
      if (!taken.some((t) => overlaps(t, cand))) subnet = cand;
    }
    if (!subnet) throw new Error('network create: no free subnet left in 10.89.0.0/16; give one with --subnet');
  }
  const bridge = `tsbn${createHash('sha256').update(`${root}\0${name}`).digest('hex').slice(0, 8)}`;
  const cfg: NetworkConfig = { name, bridge, subnet, created: new Date().toISOString() };
  mkdirSync(dir(root), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir(root), `.${name}.tmp`), JSON.stringify(cfg));
  renameSync(join(dir(root), `.${name}.tmp`), join(dir(root), `${name}.json`));
  return cfg;
}

export function removeNetworkConfig(root: string, name: string): void {
  rmSync(join(dir(root), `${name}.json`), { force: true });
}
