// `update`: a LinuxResources change checked, reduced to what to write, and merged into the recorded one.
// As in runc, a zero (or absent) value leaves the current setting as it is.
import { pageSize, type LinuxResources } from './types.js';

type Section = 'memory' | 'cpu' | 'pids' | 'blockIO';

const NUMBERS: Record<Section, string[]> = {
  memory: ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP', 'swappiness'],
  cpu: ['shares', 'quota', 'period', 'realtimeRuntime', 'realtimePeriod', 'idle'],
  pids: ['limit'],
  blockIO: ['weight', 'leafWeight'],
};
const CPU_LIST = /^[0-9,-]*$/;

/** Throws a one-line error on anything that is not a LinuxResources a cgroup file could take. */
export function checkResources(r: unknown): asserts r is LinuxResources {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error('update: resources must be a JSON object');
  const o = r as Record<string, unknown>;
  for (const [section, keys] of Object.entries(NUMBERS)) {
    const v = o[section];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`update: resources.${section} must be an object`);
    for (const k of keys) {
      const n = (v as Record<string, unknown>)[k];
      if (n !== undefined && n !== null && !Number.isSafeInteger(n)) throw new Error(`update: resources.${section}.${k} must be an integer, not ${JSON.stringify(n)}`);
    }
  }
  const cpu = o.cpu as Record<string, unknown> | undefined;
  for (const k of ['cpus', 'mems']) {
    const s = cpu?.[k];
    if (s !== undefined && s !== null && (typeof s !== 'string' || !CPU_LIST.test(s))) throw new Error(`update: resources.cpu.${k} must be a list like "0-2,4", not ${JSON.stringify(s)}`);
  }
  const hp = o.hugepageLimits;
  if (hp !== undefined && hp !== null) {
    if (!Array.isArray(hp)) throw new Error('update: resources.hugepageLimits must be an array');
    for (const h of hp as { pageSize?: unknown; limit?: unknown }[]) {
      if (typeof h?.pageSize !== 'string' || !Number.isSafeInteger(h.limit)) {
        throw new Error(`update: resources.hugepageLimits: bad entry ${JSON.stringify(h)}`);
      }
      pageSize(h.pageSize);
    }
  }
  const u = o.unified;
  if (u !== undefined && u !== null && (typeof u !== 'object' || Array.isArray(u) || Object.values(u).some((x) => typeof x !== 'string'))) {
    throw new Error('update: resources.unified must map file names to strings');
  }
}

const isSet = (v: unknown) => v !== undefined && v !== null && v !== 0 && v !== '';

function setOnly<T extends object>(section: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(section ?? {}).filter(([, v]) => isSet(v))) as Partial<T>;
}

/**
 * What to write for a change: its set values, devices left out (an update never changes device rules,
 * as with runc). A quota or a period given alone is completed from the recorded pair: cgroup v2 writes
 * both in one file.
 */
export function resourcesToApply(current: LinuxResources | undefined, change: LinuxResources): LinuxResources {
  const out: LinuxResources = {};
  const memory = setOnly(change.memory);
  if (Object.keys(memory).length) out.memory = memory;
  const cpu = setOnly(change.cpu);
  if (cpu.quota && !cpu.period && current?.cpu?.period) cpu.period = current.cpu.period;
  if (cpu.period && !cpu.quota && current?.cpu?.quota) cpu.quota = current.cpu.quota;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (isSet(change.pids?.limit)) out.pids = { limit: change.pids!.limit };
  const blockIO = setOnly(change.blockIO);
  if (Object.keys(blockIO).length) out.blockIO = blockIO;
  if (change.hugepageLimits?.length) out.hugepageLimits = change.hugepageLimits;
  if (change.unified && Object.keys(change.unified).length) out.unified = change.unified;
  return out;
}

/** The recorded resources after an update: each value written replaces the recorded one. */
export function mergeResources(current: LinuxResources | undefined, applied: LinuxResources): LinuxResources {
  const out: LinuxResources = { ...current };
  for (const k of ['memory', 'cpu', 'pids', 'blockIO'] as const) {
    if (applied[k]) (out as Record<string, unknown>)[k] = { ...current?.[k], ...applied[k] };
  }
  if (applied.hugepageLimits) {
    const sizes = new Set(applied.hugepageLimits.map((h) => h.pageSize));
    out.hugepageLimits = [...(current?.hugepageLimits ?? []).filter((h) => !sizes.has(h.pageSize)), ...applied.hugepageLimits];
  }
  if (applied.unified) out.unified = { ...current?.unified, ...applied.unified };
  return out;
}
