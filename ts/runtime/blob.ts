// Writes the config blob that tsbox-init reads (layout and tags: csrc/common/config.h).
export const CONFIG_MAGIC = 0x58425354;
export const CONFIG_VERSION = 1;

export const Tag = {
  ROOTFS: 1,
  ROOT_READONLY: 2,
  NO_PIVOT: 3,
  ROOT_PROPAGATION: 4,
  MOUNT: 5,
  DEVICE: 6,
  SYMLINK: 7,
  MASKED_PATH: 8,
  READONLY_PATH: 9,
  MKDIR: 10,
  CHROOT: 11,
  SETNS: 20,
  UNSHARE_CGROUP: 21,
  UNSHARE: 22,
  HOSTNAME: 30,
  DOMAINNAME: 31,
  SYSCTL: 32,
  OOM_SCORE_ADJ: 33,
  ARG: 40,
  ENV: 41,
  CWD: 42,
  UID: 43,
  GID: 44,
  ADDITIONAL_GID: 45,
  UMASK: 46,
  RLIMIT: 47,
  CAPS: 48,
  NO_NEW_PRIVS: 49,
  SECCOMP: 50,
  INIT_MODE: 51,
  CONSOLE_SIZE: 52,
  SETGROUPS_DENY: 53,
  LOG_JSON: 54,
  LO_UP: 55,
  PRESERVE_FDS: 56,
  OWNER: 57,
  ATTACH: 58,
  HOOK: 59,
  HOOK_STATE: 60,
  HOOK_SYNC: 61,
  PERSONALITY: 62,
  APPARMOR: 63,
  SELINUX_LABEL: 64,
} as const;

/** config.h enum tsbox_hook_stage: the hooks tsbox-init runs in the container. */
export const HookStage = { createContainer: 1, startContainer: 2 } as const;

/** config.h TSBOX_FD_EXTRA (TSBOX_FD_FIRST_FREE + TSBOX_MAX_TASKS): where passed-through fds start in tsbox-init. */
export const FD_EXTRA = 9 + 32;

export const MountFlag = { BIND: 1, RECURSIVE: 2, FILE: 4, CGROUP: 8, RATTR: 16, NOFAIL: 32, TREE_FD: 128 } as const;
export const InitMode = { EXEC: 0, INIT: 1 } as const;

type Field = { u16: number } | { u32: number } | { i32: number } | { u64: bigint } | { str: string } | { bytes: Buffer };

function checkStr(s: string): void {
  if (s.includes('\0')) throw new Error(`config: string contains a NUL byte: ${JSON.stringify(s)}`);
}

/** One buffer grown in place: a container's blob is built at every start, on Node's main thread. */
export class BlobWriter {
  private buf = Buffer.allocUnsafe(4096);
  private len = 0;

  constructor() {
    this.room(8);
    this.buf.writeUInt32LE(CONFIG_MAGIC, 0);
    this.buf.writeUInt32LE(CONFIG_VERSION, 4);
    this.len = 8;
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }

  add(tag: number, ...fields: Field[]): this {
    const head = this.len;
    this.room(8);
    this.len += 8;
    for (const f of fields) {
      if ('str' in f) {
        checkStr(f.str);
        const n = Buffer.byteLength(f.str, 'utf8');
        this.room(n + 1);
        this.len += this.buf.write(f.str, this.len, 'utf8');
        this.buf[this.len++] = 0;
      } else if ('bytes' in f) {
        this.room(f.bytes.length);
        this.len += f.bytes.copy(this.buf, this.len);
      } else {
        this.room(8);
        if ('u16' in f) this.len = this.buf.writeUInt16LE(f.u16, this.len);
        else if ('u32' in f) this.len = this.buf.writeUInt32LE(f.u32 >>> 0, this.len);
        else if ('i32' in f) this.len = this.buf.writeInt32LE(f.i32, this.len);
        else this.len = this.buf.writeBigUInt64LE(BigInt.asUintN(64, f.u64), this.len);
      }
    }
    this.buf.writeUInt32LE(tag, head);
    this.buf.writeUInt32LE(this.len - head - 8, head + 4);
    return this;
  }

  str(tag: number, ...values: string[]): this {
    return this.add(tag, ...values.map((s) => ({ str: s })));
  }

  u32(tag: number, value: number): this {
    return this.add(tag, { u32: value });
  }

  flag(tag: number): this {
    return this.add(tag);
  }

  toBuffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
