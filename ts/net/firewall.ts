// The host firewall rules of a bridge network, made and removed with its bridge under the network lock:
// masquerade for its outbound traffic, and docker's isolation between networks (a container reaches
// containers of another network only through a container on both, never through the host's forwarding).
// nftables in a table of tsbox's own, or iptables chains named TSBOX-*, never other rules.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { native } from '../native.js';
import { missingTool } from '../errors.js';
import { findHostTool, hostTool } from '../host-tools.js';

export interface NetRules {
  /** Linux bridge device. */
  bridge: string;
  /** IPv4 CIDR. */
  subnet: string;
}

const NFT_TABLE = 'tsbox';
const ISOLATION_1 = 'TSBOX-ISOLATION-STAGE-1';
const ISOLATION_2 = 'TSBOX-ISOLATION-STAGE-2';
// The rules are the host's, whatever network directory (TSBOX_NET_DIR) holds the leases: their own lock,
// so that the last network's removal never deletes the table under another's rules being added.
const LOCK_DIR = '/run/tsbox';

function withFirewallLock<T>(fn: () => T): T {
  mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const fd = openSync(`${LOCK_DIR}/firewall.lock`, 'a+', 0o600);
  try {
    native().flock(fd, 2);
    return fn();
  } finally {
    closeSync(fd);
  }
}

function run(cmd: string, args: string[]): string {
  const bin = hostTool(cmd);
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const missing = missingTool(bin, e);
    if (missing) throw missing;
    throw new Error(`${cmd} ${args.join(' ')}: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
  }
}

/** A command's output, or undefined when it failed (a chain or rule that is not there). */
function outputOf(cmd: string, args: string[]): string | undefined {
  try {
    return run(cmd, args);
  } catch {
    return undefined;
  }
}

/** Runs a command whose failure means "already so" (a rule that exists, one that is gone). */
function tryRun(cmd: string, args: string[]): boolean {
  return outputOf(cmd, args) !== undefined;
}

/** nftables where the host has nft, iptables otherwise (TSBOX_FIREWALL=iptables|nft to choose). */
export function firewall(): 'nft' | 'iptables' {
  const want = process.env.TSBOX_FIREWALL;
  if (want === 'nft' || want === 'iptables') return want;
  return findHostTool('nft') && tryRun('nft', ['--version']) ? 'nft' : 'iptables';
}

function masqueradeRule(net: NetRules): string[] {
  return ['POSTROUTING', '-s', net.subnet, '!', '-o', net.bridge, '-j', 'MASQUERADE', '-m', 'comment', '--comment', `tsbox ${net.bridge}`];
}

// docker's two stages: leaving this bridge for another interface goes to stage 2, where arriving at
// any network's bridge is dropped.
function isolationRules(net: NetRules): [string, string[]][] {
  const comment = ['-m', 'comment', '--comment', `tsbox ${net.bridge}`];
  return [
    [ISOLATION_1, ['-i', net.bridge, '!', '-o', net.bridge, '-j', ISOLATION_2, ...comment]],
    [ISOLATION_2, ['-o', net.bridge, '-j', 'DROP', ...comment]],
  ];
}

export function addNetworkRules(net: NetRules): void {
  withFirewallLock(() => addRules(net));
}

export function removeNetworkRules(net: NetRules): void {
  withFirewallLock(() => removeRules(net));
}

function addRules(net: NetRules): void {
  if (firewall() === 'nft') {
    run('nft', [`add table ip ${NFT_TABLE}`]);
    run('nft', [`add chain ip ${NFT_TABLE} postrouting { type nat hook postrouting priority srcnat ; }`]);
    run('nft', [`add chain ip ${NFT_TABLE} forward { type filter hook forward priority filter ; }`]);
    run('nft', [`add set ip ${NFT_TABLE} bridges { type ifname ; }`]);
    run('nft', [`add element ip ${NFT_TABLE} bridges { "${net.bridge}" }`]);
    if (!run('nft', ['list', 'chain', 'ip', NFT_TABLE, 'postrouting']).includes(`"${net.bridge}"`)) {
      run('nft', [`add rule ip ${NFT_TABLE} postrouting ip saddr ${net.subnet} oifname != "${net.bridge}" masquerade comment "${net.bridge}"`]);
    }
    if (!run('nft', ['list', 'chain', 'ip', NFT_TABLE, 'forward']).includes(`"${net.bridge}"`)) {
      run('nft', [`add rule ip ${NFT_TABLE} forward iifname "${net.bridge}" oifname != "${net.bridge}" oifname @bridges drop comment "${net.bridge}"`]);
    }
    return;
  }
  if (!tryRun('iptables', ['-t', 'nat', '-C', ...masqueradeRule(net)])) run('iptables', ['-t', 'nat', '-A', ...masqueradeRule(net)]);
  for (const chain of [ISOLATION_1, ISOLATION_2]) tryRun('iptables', ['-N', chain]);
  if (!tryRun('iptables', ['-C', 'FORWARD', '-j', ISOLATION_1])) run('iptables', ['-I', 'FORWARD', '-j', ISOLATION_1]);
  for (const [chain, rule] of isolationRules(net)) if (!tryRun('iptables', ['-C', chain, ...rule])) run('iptables', ['-A', chain, ...rule]);
}

function removeRules(net: NetRules): void {
  // Both kinds: a host may have switched since the rules were made.
  tryRun('iptables', ['-t', 'nat', '-D', ...masqueradeRule(net)]);
  for (const [chain, rule] of isolationRules(net)) tryRun('iptables', ['-D', chain, ...rule]);
  const stage1 = outputOf('iptables', ['-S', ISOLATION_1]);
  if (stage1 !== undefined && !stage1.includes(' -j ')) {
    tryRun('iptables', ['-D', 'FORWARD', '-j', ISOLATION_1]);
    for (const chain of [ISOLATION_1, ISOLATION_2]) {
      tryRun('iptables', ['-F', chain]);
      tryRun('iptables', ['-X', chain]);
    }
  }
  const table = outputOf('nft', ['-a', 'list', 'table', 'ip', NFT_TABLE]);
  if (table === undefined) return; // no table
  for (const chain of ['postrouting', 'forward']) {
    const handle = new RegExp(`chain ${chain} \\{[^}]*?comment "${net.bridge}" # handle (\\d+)`).exec(table)?.[1];
    if (handle) run('nft', [`delete rule ip ${NFT_TABLE} ${chain} handle ${handle}`]);
  }
  tryRun('nft', [`delete element ip ${NFT_TABLE} bridges { "${net.bridge}" }`]);
  if (!/masquerade/.test(run('nft', ['list', 'table', 'ip', NFT_TABLE]))) run('nft', [`delete table ip ${NFT_TABLE}`]);
}
