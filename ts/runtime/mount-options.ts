// OCI mount options → mount(2) flags, propagation flags and the leftover data string (as runc parses them).
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** MOUNT_ATTR_* of mount_setattr(2), for the recursive options. */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  ATIME_MASK: 0x70,
  RELATIME: 0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  bind: boolean;
  recursive: boolean;
  data: string;
  /** OCI 1.1 recursive options (rro, rnosuid...): MOUNT_ATTR_* set and cleared on the mount and all below it. */
  rattr?: { set: number; clr: number };
  /**
   * "nofail" (mount(8)'s word; bwrap's --bind-try): a bind whose source does not exist, or is gone by the
   * time it is mounted, is left out instead of failing the container. tsbox's own: runc would pass it on as data.
   */
  nofail?: boolean;
}

// [set, clear]: "rw" clears RDONLY, "suid" clears NOSUID, and so on.
const FLAG_OPTIONS: Record<string, [number, number]> = {
  ro: [MS.RDONLY, 0],
  rw: [0, MS.RDONLY],
  nosuid: [MS.NOSUID, 0],
  suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0],
  dev: [0, MS.NODEV],
  noexec: [MS.NOEXEC, 0],
  exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0],
  async: [0, MS.SYNCHRONOUS],
  dirsync: [MS.DIRSYNC, 0],
  remount: [MS.REMOUNT, 0],
  mand: [MS.MANDLOCK, 0],
  nomand: [0, MS.MANDLOCK],
  noatime: [MS.NOATIME, 0],
  atime: [0, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0],
  diratime: [0, MS.NODIRATIME],
  relatime: [MS.RELATIME, 0],
  norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0],
  nostrictatime: [0, MS.STRICTATIME],
  lazytime: [MS.LAZYTIME, 0],
  nolazytime: [0, MS.LAZYTIME],
  nosymfollow: [MS.NOSYMFOLLOW, 0],
  symfollow: [0, MS.NOSYMFOLLOW],
};

// The OCI 1.1 recursive options, as runc reads them: [set, attribute] (false: clear it).
const RECURSIVE_OPTIONS: Record<string, [boolean, number]> = {
  rro: [true, MOUNT_ATTR.RDONLY],
  rrw: [false, MOUNT_ATTR.RDONLY],
  rnosuid: [true, MOUNT_ATTR.NOSUID],
  rsuid: [false, MOUNT_ATTR.NOSUID],
  rnodev: [true, MOUNT_ATTR.NODEV],
  rdev: [false, MOUNT_ATTR.NODEV],
  rnoexec: [true, MOUNT_ATTR.NOEXEC],
  rexec: [false, MOUNT_ATTR.NOEXEC],
  rnodiratime: [true, MOUNT_ATTR.NODIRATIME],
  rdiratime: [false, MOUNT_ATTR.NODIRATIME],
  rrelatime: [true, MOUNT_ATTR.RELATIME],
  rnorelatime: [false, MOUNT_ATTR.RELATIME],
  rnoatime: [true, MOUNT_ATTR.NOATIME],
  ratime: [false, MOUNT_ATTR.NOATIME],
  rstrictatime: [true, MOUNT_ATTR.STRICTATIME],
  rnostrictatime: [false, MOUNT_ATTR.STRICTATIME],
  rnosymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW],
  rsymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW],
};

export const RECURSIVE_MOUNT_OPTIONS = Object.keys(RECURSIVE_OPTIONS);

const ATIME_OPTIONS = new Set(['rrelatime', 'rnorelatime', 'rnoatime', 'ratime', 'rstrictatime', 'rnostrictatime']);

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

// Options the kernel would reject as data but that mean nothing for tsbox.
const IGNORED = new Set(['defaults', 'tmpcopyup', 'idmap', 'ridmap', 'copy-symlink']);

export function parseMountOptions(options: string[] = [], type?: string): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  let bind = type === 'bind' || type === 'rbind';
  let recursive = type === 'rbind';
  const data: string[] = [];
  let rattr: { set: number; clr: number } | undefined;
  let nofail = false;
  for (const opt of options) {
    const f = FLAG_OPTIONS[opt];
    const r = RECURSIVE_OPTIONS[opt];
    if (r) {
      rattr ??= { set: 0, clr: 0 };
      const [set, attr] = r;
      if (ATIME_OPTIONS.has(opt)) {
        // The access-time mode is one field: it is replaced as a whole (clearing one mode leaves relatime).
        rattr.clr |= MOUNT_ATTR.ATIME_MASK;
        rattr.set = (rattr.set & ~MOUNT_ATTR.ATIME_MASK) | (set ? attr : MOUNT_ATTR.RELATIME);
      } else if (set) {
        rattr.set |= attr;
        rattr.clr &= ~attr;
      } else {
        rattr.clr |= attr;
        rattr.set &= ~attr;
      }
    } else if (f) {
      flags = (flags | f[0]) & ~f[1];
    } else if (opt in PROPAGATION) {
      propagation = PROPAGATION[opt];
    } else if (opt === 'bind') {
      bind = true;
    } else if (opt === 'rbind') {
      bind = true;
      recursive = true;
    } else if (opt === 'nofail') {
      nofail = true;
    } else if (!IGNORED.has(opt)) {
      data.push(opt);
    }
  }
  return { flags, propagation, bind, recursive, data: data.join(','), ...(rattr ? { rattr } : {}), ...(nofail ? { nofail } : {}) };
}

/** rootfsPropagation value → flags for "/" (default rslave, as runc). */
export function rootPropagation(value: string | undefined): number {
  if (!value) return MS.SLAVE | MS.REC;
  const p = PROPAGATION[value];
  if (p === undefined) throw new Error(`config.json: unknown linux.rootfsPropagation ${JSON.stringify(value)}`);
  return p;
}
