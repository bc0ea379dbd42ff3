// Signal names and numbers (Linux), as `kill` accepts them: "KILL", "SIGKILL", "9", "SIGRTMIN+3".
import { constants } from 'node:os';

const SIGNALS = constants.signals as Record<string, number>;

export function signalNumber(sig: string | number): number {
  if (typeof sig === 'number') {
    if (!Number.isInteger(sig) || sig < 0 || sig > 64) throw new Error(`invalid signal ${sig}`);
    return sig;
  }
  const s = sig.trim().toUpperCase();
  if (/^\d+$/.test(s)) return signalNumber(Number(s));
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const n = name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
    if (n < 34 || n > 64) throw new Error(`invalid signal ${JSON.stringify(sig)}`);
    return n;
  }
  const n = SIGNALS[name];
  if (n === undefined) throw new Error(`invalid signal ${JSON.stringify(sig)}`);
  return n;
}

export function signalName(n: number): string {
  for (const [k, v] of Object.entries(SIGNALS)) if (v === n) return k;
  return n >= 34 && n <= 64 ? `SIGRTMIN+${n - 34}` : String(n);
}
