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
  SETNS: 20,
  UNSHARE_CGROUP: 21,
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
} as const;

export const MountFlag = { BIND: 1, RECURSIVE: 2, FILE: 4, CGROUP: 8 } as const;
export const InitMode = { EXEC: 0, INIT: 1 } as const;

type Field = { u16: number } | { u32: number } | { i32: number } | { u64: bigint } | { str: string } | { bytes: Buffer };

function encode(f: Field): Buffer {
  if ('str' in f) {
    if (f.str.includes('\0')) throw new Error(`config: string contains a NUL byte: ${JSON.stringify(f.str)}`);
    return Buffer.from(f.str + '\0', 'utf8');
  }
  if ('bytes' in f) return f.bytes;
  const b = Buffer.alloc('u16' in f ? 2 : 'u64' in f ? 8 : 4);
  if ('u16' in f) b.writeUInt16LE(f.u16);
  else if ('u32' in f) b.writeUInt32LE(f.u32 >>> 0);
  else if ('i32' in f) b.writeInt32LE(f.i32);
  else b.writeBigUInt64LE(BigInt.asUintN(64, f.u64));
  return b;
}

export class BlobWriter {
  private parts: Buffer[] = [];

  constructor() {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(CONFIG_MAGIC, 0);
    h.writeUInt32LE(CONFIG_VERSION, 4);
    this.parts.push(h);
  }

  add(tag: number, ...fields: Field[]): this {
    const payload = Buffer.concat(fields.map(encode));
    const h = Buffer.alloc(8);
    h.writeUInt32LE(tag, 0);
    h.writeUInt32LE(payload.length, 4);
    this.parts.push(h, payload);
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
    return Buffer.concat(this.parts);
  }
}
