// RLIMIT_* names (OCI process.rlimits, docker --ulimit) → Linux resource numbers.
export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export const RLIM_INFINITY = (1n << 64n) - 1n;

export function rlimitNumber(type: string): number {
  const n = RLIMITS[type.toUpperCase()];
  if (n === undefined) throw new Error(`unknown rlimit ${JSON.stringify(type)}`);
  return n;
}

function limitValue(s: string, spec: string): bigint {
  if (s === 'unlimited' || s === '-1') return RLIM_INFINITY;
  if (!/^\d+$/.test(s)) throw new Error(`invalid ulimit ${JSON.stringify(spec)}: ${JSON.stringify(s)} is not a number`);
  return BigInt(s);
}

/** docker's --ulimit syntax: "nofile=1024:2048", "nproc=512" (hard = soft). */
export function parseUlimit(spec: string): { type: string; soft: bigint; hard: bigint } {
  const m = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(spec.trim());
  if (!m) throw new Error(`invalid ulimit ${JSON.stringify(spec)}: want NAME=SOFT[:HARD]`);
  const type = `RLIMIT_${m[1].toUpperCase()}`;
  rlimitNumber(type);
  const soft = limitValue(m[2], spec);
  const hard = m[3] !== undefined ? limitValue(m[3], spec) : soft;
  if (soft > hard) throw new Error(`invalid ulimit ${JSON.stringify(spec)}: soft limit above the hard limit`);
  return { type, soft, hard };
}
