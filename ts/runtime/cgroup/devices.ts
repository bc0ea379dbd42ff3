// Device cgroup rules: the spec's own, then the devices every container may use (as runc appends them),
// then the spec's linux.devices; read from a deny-all start (runc's allow-list default), as the kernel's
// v1 devices controller reads them. The v1 driver writes the result, the v2 driver compiles it into an
// eBPF device filter: both enforce the same thing.
import type { LinuxResources } from './types.js';

export type DeviceRule = NonNullable<LinuxResources['devices']>[number];

/** One exception to the default: type "c" or "b", -1 for a wildcard major or minor, access in "rwm". */
export interface DeviceException {
  type: 'c' | 'b';
  major: number;
  minor: number;
  access: string;
}

/** The effective policy: everything allowed but the exceptions (defaultAllow) or the reverse. */
export interface DeviceFilter {
  defaultAllow: boolean;
  rules: DeviceException[];
}

/**
 * docker's own rules (moby oci/defaults.go): deny all, then null, zero, urandom, random, tty, console,
 * and fuse (10:229) denied again; runc then appends its defaults (RUNC_ALLOWED below).
 */
export const DOCKER_DEVICE_RULES: DeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

/** --privileged: every device (docker's single allow-all rule). */
export const PRIVILEGED_DEVICE_RULES: DeviceRule[] = [{ allow: true, access: 'rwm' }];

// runc's AllowedDevices (libcontainer/specconv), appended to every spec's rules: nodes may be made but not
// opened, then the standard nodes, the ptys and tun/tap.
const RUNC_ALLOWED: readonly DeviceRule[] = Object.freeze([
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // pts/*
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // net/tun
].map((r) => Object.freeze(r)));

/**
 * Every rule the cgroup gets, in order: the spec's, then runc's defaults. A node in linux.devices gets no
 * rule of its own, as under runc: what it may be opened for is what the spec's rules say (docker's
 * `--device /dev/sda:/dev/sda:r` is an "r" rule; an "rwm" for the node would let it be written).
 */
export function deviceRules(specRules: DeviceRule[] | undefined): DeviceRule[] {
  // A spec that adds none (most): the same frozen list every time, compiled once (compileDeviceRules).
  if (!specRules?.length) return RUNC_ALLOWED as DeviceRule[];
  return [...specRules, ...RUNC_ALLOWED];
}

let runcAllowed: DeviceFilter | undefined;

const ACCESS = 'rwm';

/**
 * The rules applied in order from deny-all, with the v1 controller's meaning: a type "a" rule starts over
 * (allow-all or deny-all, no exceptions); any other rule adds its access to the exception for its node when
 * it goes against the default, and takes it away from that same node's exception when it goes with it.
 */
export function compileDeviceRules(rules: DeviceRule[]): DeviceFilter {
  if (rules === RUNC_ALLOWED) return (runcAllowed ??= Object.freeze(compile(rules)));
  return compile(rules);
}

function compile(rules: readonly DeviceRule[]): DeviceFilter {
  let defaultAllow = false;
  let exceptions = new Map<string, DeviceException>();
  for (const r of rules) {
    const type = r.type ?? 'a';
    if (!['a', 'b', 'c'].includes(type)) throw new Error(`device cgroup rule: type ${JSON.stringify(r.type)} is not a, b or c`);
    const access = r.access ?? ACCESS;
    if (!/^[rwm]*$/.test(access)) throw new Error(`device cgroup rule: access ${JSON.stringify(r.access)} is not made of r, w and m`);
    for (const n of [r.major, r.minor]) {
      if (n !== undefined && n !== null && n !== -1 && !(Number.isInteger(n) && n >= 0 && n < 2 ** 32)) throw new Error(`device cgroup rule: bad number ${n}`);
    }
    if (type === 'a') {
      defaultAllow = r.allow;
      exceptions = new Map();
      continue;
    }
    const e: DeviceException = { type: type as 'c' | 'b', major: r.major ?? -1, minor: r.minor ?? -1, access: '' };
    const key = `${e.type} ${e.major}:${e.minor}`;
    const cur = exceptions.get(key)?.access ?? '';
    const next = r.allow !== defaultAllow ? [...ACCESS].filter((c) => cur.includes(c) || access.includes(c)).join('') : [...cur].filter((c) => !access.includes(c)).join('');
    if (next) exceptions.set(key, { ...e, access: next });
    else exceptions.delete(key);
  }
  return { defaultAllow, rules: Object.freeze([...exceptions.values()]) as DeviceException[] };
}

/** "c 1:3 rwm", as devices.allow and devices.deny take them. */
export function v1Rule(e: DeviceException): string {
  const n = (x: number) => (x < 0 ? '*' : String(x));
  return `${e.type} ${n(e.major)}:${n(e.minor)} ${e.access}`;
}
