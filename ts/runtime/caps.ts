// Capability names ↔ bit numbers, and the OCI capabilities object → the masks tsbox-init applies.
import { readFileSync } from 'node:fs';

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  permitted?: string[];
  inheritable?: string[];
  ambient?: string[];
}

export const CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** What docker grants by default. */
export const DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** The host kernel's last capability (newer names than the kernel knows are dropped from ALL). */
export function lastCap(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  } catch {
    return CAPS.length - 1;
  }
}

/** Every capability this process can still hand out: the kernel's, within our own bounding set. */
export function allCaps(): string[] {
  let bounding = (1n << BigInt(lastCap() + 1)) - 1n;
  try {
    const m = /^CapBnd:\s+([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) bounding &= BigInt(`0x${m[1]}`);
  } catch {
    // no /proc: the kernel's list
  }
  return capNames(bounding);
}

/** "net_admin", "CAP_NET_ADMIN", "Net_Admin" → "CAP_NET_ADMIN"; throws on unknown names. */
export function normalizeCap(name: string): string {
  const n = name.trim().toUpperCase();
  const full = n.startsWith('CAP_') ? n : `CAP_${n}`;
  if (!CAPS.includes(full)) throw new Error(`unknown capability ${JSON.stringify(name)}`);
  return full;
}

export function capMask(names: readonly string[] | undefined): bigint {
  let m = 0n;
  for (const n of names ?? []) m |= 1n << BigInt(CAPS.indexOf(normalizeCap(n)));
  return m;
}

export function capNames(mask: bigint): string[] {
  return CAPS.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

export interface CapMasks {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

export function capsFromSpec(c: OciCapabilities): CapMasks {
  return {
    bounding: capMask(c.bounding),
    effective: capMask(c.effective),
    permitted: capMask(c.permitted),
    inheritable: capMask(c.inheritable),
    ambient: capMask(c.ambient),
  };
}
