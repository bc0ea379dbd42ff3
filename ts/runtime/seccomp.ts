// OCI linux.seccomp → libseccomp numbers for the addon's compiler, and the blob payload.
import { native, type SeccompFilter, type SeccompRule } from '../native.js';
import { cachedProgram } from './seccomp-cache.js';

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface OciSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  syscalls?: OciSyscall[];
}

const ACTIONS: Record<string, number> = {
  SCMP_ACT_KILL: 0x00000000,
  SCMP_ACT_KILL_THREAD: 0x00000000,
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_LOG: 0x7ffc0000,
  SCMP_ACT_ALLOW: 0x7fff0000,
};

const OPS: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

const ARCHES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_RISCV64: 'riscv64',
};

const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

const EPERM = 1;

function action(name: string): number {
  if (name === 'SCMP_ACT_NOTIFY') throw new Error('seccomp: SCMP_ACT_NOTIFY is not supported (no listener)');
  const a = ACTIONS[name];
  if (a === undefined) throw new Error(`seccomp: unknown action ${JSON.stringify(name)}`);
  return a;
}

export function seccompFilterFromSpec(s: OciSeccomp): SeccompFilter & { flags: number } {
  const defaultAction = action(s.defaultAction);
  let flags = 0;
  for (const f of s.flags ?? []) {
    if (FLAGS[f] === undefined) throw new Error(`seccomp: unknown flag ${JSON.stringify(f)}`);
    flags |= FLAGS[f];
  }
  const architectures = (s.architectures ?? []).map((a) => {
    const n = ARCHES[a];
    if (!n) throw new Error(`seccomp: unknown architecture ${JSON.stringify(a)}`);
    return n;
  });
  const rules: SeccompRule[] = (s.syscalls ?? []).map((sc) => ({
    names: sc.names,
    action: action(sc.action),
    errno: sc.errnoRet ?? (sc.action === 'SCMP_ACT_ERRNO' ? EPERM : undefined),
    args: (sc.args ?? []).map((a) => {
      const op = OPS[a.op];
      if (op === undefined) throw new Error(`seccomp: unknown operator ${JSON.stringify(a.op)}`);
      return { index: a.index, value: BigInt(a.value), valueTwo: BigInt(a.valueTwo ?? 0), op };
    }),
  }));
  return {
    defaultAction,
    defaultErrno: s.defaultErrnoRet ?? (s.defaultAction === 'SCMP_ACT_ERRNO' ? EPERM : undefined),
    architectures,
    rules,
    flags,
  };
}

/** The BPF program of s, compiled by libseccomp once per distinct filter (seccomp-cache.ts). */
let version: string | undefined | null = null;

export function compileSeccomp(s: OciSeccomp): Buffer {
  const n = native();
  if (version === null) version = n.seccompVersion?.();
  return cachedProgram(s, version, () => n.seccompCompile(seccompFilterFromSpec(s)));
}

/** TSBOX_T_SECCOMP payload: u32 flags, then the BPF program. */
export function seccompPayload(flags: number, bpf: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(flags >>> 0);
  return Buffer.concat([h, bpf]);
}
