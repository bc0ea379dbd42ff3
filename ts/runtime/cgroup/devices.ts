// Device cgroup rules: the spec's own, then the devices every container may use (as runc appends them),
// then the spec's linux.devices. Without these a spec that denies everything could not open /dev/null.
import type { LinuxResources } from './types.js';

type DeviceRule = NonNullable<LinuxResources['devices']>[number];

const DEFAULT_ALLOWED: DeviceRule[] = [
  { allow: true, type: 'c', access: 'm' }, // mknod of any char device (its use is still checked)
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // pts/*
];

export function deviceRules(specRules: DeviceRule[] | undefined, specDevices: { type: string; major?: number; minor?: number }[] | undefined): DeviceRule[] | undefined {
  if (!specRules?.length) return specRules;
  // The device cgroup knows char and block devices only: fifos need no rule.
  const own = (specDevices ?? [])
    .filter((d) => d.type !== 'p')
    .map((d) => ({ allow: true, type: d.type === 'u' ? 'c' : d.type, major: d.major, minor: d.minor, access: 'rwm' }));
  return [...specRules, ...DEFAULT_ALLOWED, ...own];
}
