// Running without root: whether we are, our subordinate id ranges (/etc/subuid, /etc/subgid), and the
// id mappings a container gets from them. The same mapping is used for unpacking images, so that the
// owners recorded in a layer and the owners a container sees agree.
import { accessSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { OciIdMapping } from './spec.js';
import { findHostTool } from '../host-tools.js';

/** Not root in the host's user namespace: no cgroups, no mounts on the host, no bridge. */
export function isRootless(): boolean {
  return (process.geteuid?.() ?? 0) !== 0;
}

/** This process lives in a user namespace other than the host's (its uid_map is not the identity). */
export function inUserNamespace(): boolean {
  try {
    const first = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return !(first[0] === '0' && first[1] === '0' && first[2] === '4294967295');
  } catch {
    return false;
  }
}

export interface IdRange {
  start: number;
  count: number;
}

/** The ranges of /etc/subuid or /etc/subgid that belong to the user (by name or by id). */
export function subordinateRanges(file: string, name: string, id: number): IdRange[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who !== name && who !== String(id)) continue;
    const r = { start: Number(start), count: Number(count) };
    if (Number.isInteger(r.start) && Number.isInteger(r.count) && r.count > 0) out.push(r);
  }
  return out;
}

/** access(2): whether this process may use path so (constants.X_OK, W_OK, ...). */
export function accessible(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** newuidmap/newgidmap (Debian's uidmap package), which may write ranges a user owns in /etc/sub[ug]id. */
export function idmapTool(name: 'newuidmap' | 'newgidmap'): string | undefined {
  return findHostTool(name);
}

export interface RootlessMappings {
  uidMappings: OciIdMapping[];
  gidMappings: OciIdMapping[];
  /** Subordinate ranges mapped (through newuidmap/newgidmap): images owned by many uids work. */
  full: boolean;
  /** Why the mapping is only the caller's own ids, when it is. */
  limitation?: string;
}

function mapping(own: number, ranges: IdRange[]): OciIdMapping[] {
  const out: OciIdMapping[] = [{ containerID: 0, hostID: own, size: 1 }];
  let next = 1;
  for (const r of ranges) {
    out.push({ containerID: next, hostID: r.start, size: r.count });
    next += r.count;
  }
  return out;
}

let cached: RootlessMappings | undefined;

/**
 * The caller becomes root in the container; ids 1.. map onto its subordinate ranges (as podman does).
 * Without ranges or without newuidmap, only the caller's own ids exist inside: files of other owners in
 * an image then belong to the caller, and switching to another user in the container fails.
 */
export function rootlessMappings(): RootlessMappings {
  if (cached) return cached;
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;
  let name = '';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry: ranges can still be listed by uid
  }
  const subuid = subordinateRanges(process.env.TSBOX_SUBUID_FILE ?? '/etc/subuid', name, uid);
  const subgid = subordinateRanges(process.env.TSBOX_SUBGID_FILE ?? '/etc/subgid', name, gid);
  let limitation: string | undefined;
  if (!subuid.length || !subgid.length) limitation = `no subordinate ids for ${name || uid} in /etc/subuid and /etc/subgid`;
  else if (!idmapTool('newuidmap') || !idmapTool('newgidmap')) limitation = 'newuidmap/newgidmap not installed (apt-get install uidmap)';
  cached = limitation
    ? { uidMappings: mapping(uid, []), gidMappings: mapping(gid, []), full: false, limitation }
    : { uidMappings: mapping(uid, subuid), gidMappings: mapping(gid, subgid), full: true };
  return cached;
}
