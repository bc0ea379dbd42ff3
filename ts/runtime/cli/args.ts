// Flag parsing shaped like runc's (urfave/cli): global flags before the command, "--flag value" or
// "--flag=value", short aliases, repeatable flags, and "--" ending the flags.
export interface FlagSpec {
  [name: string]: { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
}

export type Parsed = { flags: Record<string, string | boolean | string[] | undefined>; rest: string[] };

export class FlagError extends Error {}

/**
 * Parses flags until the first non-flag argument when stopAtPositional is set (runc global flags,
 * and exec's command which may carry its own flags), else anywhere.
 */
export function parseFlags(argv: string[], spec: FlagSpec, stopAtPositional = false): Parsed {
  const flags: Parsed['flags'] = {};
  const rest: string[] = [];
  const byShort = new Map<string, string>();
  for (const [k, v] of Object.entries(spec)) if (v.short) byShort.set(v.short, k);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (stopAtPositional) {
        rest.push(...argv.slice(i));
        break;
      }
      rest.push(a);
      continue;
    }
    const long = a.startsWith('--');
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    let name = eq >= 0 ? body.slice(0, eq) : body;
    if (!long && name.length === 1) name = byShort.get(name) ?? name;
    const def = spec[name];
    if (!def) throw new FlagError(`flag provided but not defined: -${long ? '-' : ''}${body.split('=')[0]}`);
    let value: string | boolean;
    if (def.type === 'boolean') {
      value = eq >= 0 ? body.slice(eq + 1) !== 'false' : true;
    } else if (eq >= 0) {
      value = body.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: ${a}`);
      value = argv[++i];
    }
    if (def.multiple) ((flags[name] as string[] | undefined) ?? (flags[name] = [] as string[]) as string[]).push(String(value));
    else flags[name] = value;
  }
  return { flags, rest };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean {
  return p.flags[name] === true;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.flags[name];
  return Array.isArray(v) ? v : [];
}
