// The image config as the Dockerfile's metadata instructions change it (ENV, LABEL, CMD, HEALTHCHECK...),
// and the history entries docker writes.
import { UsageError } from '../../errors.js';
import { flag, type Instruction } from './instruction.js';
import { execForm, pairs, split } from './words.js';

export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  OnBuild?: string[] | null;
  Shell?: string[];
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  ArgsEscaped?: boolean;
}

export interface History {
  created: string;
  created_by: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageDoc {
  architecture: string;
  os: string;
  variant?: string;
  created: string;
  author?: string;
  config: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: History[];
}

export function getEnv(c: ContainerConfig, name: string): string | undefined {
  const e = (c.Env ?? []).find((x) => x.startsWith(`${name}=`));
  return e?.slice(name.length + 1);
}

export function setEnv(c: ContainerConfig, name: string, value: string): void {
  const env = (c.Env ?? []).filter((x) => !x.startsWith(`${name}=`));
  const i = (c.Env ?? []).findIndex((x) => x.startsWith(`${name}=`));
  const kv = `${name}=${value}`;
  if (i >= 0) {
    c.Env = [...(c.Env ?? [])];
    c.Env[i] = kv;
  } else c.Env = [...env, kv];
}

/** 30s, 1m30s, 500ms → nanoseconds (Go's time.ParseDuration, the units a Dockerfile uses). */
export function duration(s: string, what: string): number {
  const unit: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * unit[m[2]];
    at = re.lastIndex;
  }
  if (!s || at !== s.length) throw new UsageError(`${what}: invalid duration ${JSON.stringify(s)}`);
  return Math.round(total);
}

/** The command of CMD/ENTRYPOINT/RUN: exec form as is, shell form through the stage's SHELL. */
export function command(args: string, c: ContainerConfig): string[] {
  return execForm(args) ?? [...(c.Shell ?? ['/bin/sh', '-c']), args];
}

/**
 * Applies a metadata instruction to the config. vars: what ${VAR} expands to here. cmdFromBase: CMD
 * was inherited (an ENTRYPOINT then clears it, as docker does).
 */
export function applyMeta(c: ContainerConfig, ins: Instruction, vars: Record<string, string | undefined>, state: { cmdFromBase: boolean }): void {
  const a = ins.args.trim();
  switch (ins.keyword) {
    case 'ENV':
      for (const [k, v] of pairs(a, vars, true)) {
        setEnv(c, k, v);
        vars[k] = v;
      }
      return;
    case 'LABEL':
      c.Labels = { ...(c.Labels ?? {}) };
      for (const [k, v] of pairs(a, vars, false)) c.Labels[k] = v;
      return;
    case 'CMD':
      c.Cmd = command(a, c);
      state.cmdFromBase = false;
      return;
    case 'ENTRYPOINT':
      c.Entrypoint = command(a, c);
      if (state.cmdFromBase) c.Cmd = null;
      return;
    case 'EXPOSE':
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of split(a)) c.ExposedPorts[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
      return;
    case 'VOLUME': {
      c.Volumes = { ...(c.Volumes ?? {}) };
      const list = execForm(a) ?? split(a);
      for (const v of list) c.Volumes[v] = {};
      return;
    }
    case 'USER':
      c.User = split(a)[0];
      return;
    case 'STOPSIGNAL':
      c.StopSignal = split(a)[0];
      return;
    case 'SHELL': {
      const s = execForm(a);
      if (!s) throw new UsageError(`line ${ins.line}: SHELL requires the arguments to be in JSON form`);
      c.Shell = s;
      return;
    }
    case 'ONBUILD': {
      const inner = a.split(/\s+/)[0]?.toUpperCase();
      if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(inner)) throw new UsageError(`line ${ins.line}: ${inner} isn't allowed as an ONBUILD trigger`);
      c.OnBuild = [...(c.OnBuild ?? []), a];
      return;
    }
    case 'HEALTHCHECK': {
      const words = a.split(/\s+/);
      if (words[0]?.toUpperCase() === 'NONE') {
        c.Healthcheck = { Test: ['NONE'] };
        return;
      }
      const m = /^\s*CMD\s+([\s\S]*)$/i.exec(a);
      if (!m) throw new UsageError(`line ${ins.line}: HEALTHCHECK wants NONE or [OPTIONS] CMD command`);
      const exec = execForm(m[1]);
      const h: NonNullable<ContainerConfig['Healthcheck']> = { Test: exec ? ['CMD', ...exec] : ['CMD-SHELL', m[1]] };
      const d = (n: string) => flag(ins, n);
      if (d('interval')) h.Interval = duration(d('interval')!, 'HEALTHCHECK --interval');
      if (d('timeout')) h.Timeout = duration(d('timeout')!, 'HEALTHCHECK --timeout');
      if (d('start-period')) h.StartPeriod = duration(d('start-period')!, 'HEALTHCHECK --start-period');
      if (d('retries')) h.Retries = Number(d('retries'));
      c.Healthcheck = h;
      return;
    }
    default:
      throw new Error(`${ins.keyword} is not a metadata instruction`);
  }
}
