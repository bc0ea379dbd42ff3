// Writing a new user namespace's uid_map and gid_map from the parent. Root writes them directly; an
// ordinary user may write only its own id (gid_map after "deny" in setgroups), and anything more goes
// through the setuid helpers newuidmap/newgidmap, which check /etc/subuid and /etc/subgid.
import { childProcess } from './lazy.js';
import { writeFileSync } from 'node:fs';
import { MissingToolError } from '../errors.js';
import { idmapTool } from './rootless.js';
import type { OciIdMapping } from './spec.js';

function procWrite(pid: number, file: string, text: string): void {
  try {
    writeFileSync(`/proc/${pid}/${file}`, text);
  } catch (e) {
    throw new Error(`write /proc/${pid}/${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** Only the caller's own id, which the kernel lets an unprivileged parent write. */
function ownIdOnly(maps: OciIdMapping[], own: number): boolean {
  return maps.length === 1 && maps[0].hostID === own && maps[0].size === 1;
}

/** True when gid_map will be written without privilege: setgroups must be denied first (and stays so). */
export function setgroupsDenied(gidMaps: OciIdMapping[] | undefined): boolean {
  return (process.geteuid?.() ?? 0) !== 0 && ownIdOnly(gidMaps ?? [], process.getegid?.() ?? 0);
}

function helper(tool: 'newuidmap' | 'newgidmap', pid: number, maps: OciIdMapping[]): void {
  const bin = idmapTool(tool);
  if (!bin) throw new MissingToolError(tool); // an unprivileged user can map only its own id without it
  const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  const r = childProcess().spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop()}`);
}

export function writeIdMaps(pid: number, uidMaps: OciIdMapping[] | undefined, gidMaps: OciIdMapping[] | undefined): void {
  const text = (maps: OciIdMapping[]) => maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
  const uids = uidMaps ?? [];
  const gids = gidMaps ?? [];
  if ((process.geteuid?.() ?? 0) === 0) {
    procWrite(pid, 'uid_map', text(uids));
    procWrite(pid, 'gid_map', text(gids));
    return;
  }
  if (ownIdOnly(uids, process.geteuid?.() ?? 0)) procWrite(pid, 'uid_map', text(uids));
  else helper('newuidmap', pid, uids);
  if (setgroupsDenied(gids)) {
    procWrite(pid, 'setgroups', 'deny');
    procWrite(pid, 'gid_map', text(gids));
  } else helper('newgidmap', pid, gids);
}
