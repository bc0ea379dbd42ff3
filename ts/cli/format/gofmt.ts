// Go's fmt as templates see it: how a value prints (%v), Sprintf's verbs, strconv.Quote.

/** A value that stands for a Go struct: printed as {f1 f2}, its missing fields are errors, not "<no value>". */
export function isStruct(v: unknown): v is object {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto !== Object.prototype && proto !== null;
}

/** The Go type name docker's errors would show for a value. */
export function goType(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'function') return 'func';
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') && v.length ? '[]string' : '[]interface {}';
  if (isStruct(v)) return (v as { goType?: string }).goType ?? 'struct';
  return 'map[string]interface {}';
}

function fmtNumber(n: number): string {
  if (Number.isInteger(n) || !Number.isFinite(n)) return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
  // Go's %v of a float64: shortest representation, exponent from 1e21 (as JavaScript's, with two exponent digits).
  return String(n).replace(/e([+-])(\d)$/, 'e$10$2');
}

/** %v: what {{.X}} prints. */
export function fmtValue(v: unknown, top = true): string {
  if (v === undefined) return top ? '<no value>' : '<nil>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return fmtNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return '<func>';
  if (Array.isArray(v)) return `[${v.map((x) => fmtValue(x, false)).join(' ')}]`;
  if (isStruct(v)) {
    const s = v as { toString?: () => string };
    if (Object.prototype.hasOwnProperty.call(Object.getPrototypeOf(v), 'toString')) return s.toString!();
    return `{${Object.values(v).map((x) => fmtValue(x, false)).join(' ')}}`;
  }
  const o = v as Record<string, unknown>;
  return `map[${Object.keys(o).sort().map((k) => `${k}:${fmtValue(o[k], false)}`).join(' ')}]`;
}

/** strconv.Quote: Go's escapes, printable runes kept. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0xfffd && ch !== '\ufffd') out += '\\ufffd';
    else if (/[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}\p{Cn}]/u.test(ch) || (c >= 0x80 && c < 0xa0)) {
      out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** Go's %g with a precision: shortest of %e and %f, trailing zeros dropped, two-digit exponents. */
export function goG(x: number, prec: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return fmtNumber(x);
  const p = prec === 0 ? 1 : prec;
  const exp = Number(x.toExponential(p - 1).split('e')[1]);
  if (exp < -4 || exp >= p) {
    const [m, e] = x.toExponential(p - 1).split('e');
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const f = x.toFixed(Math.max(0, p - 1 - exp));
  return f.includes('.') ? f.replace(/0+$/, '').replace(/\.$/, '') : f;
}

function bad(verb: string, v: unknown): string {
  return `%!${verb}(${goType(v)}=${fmtValue(v, false)})`;
}

function pad(s: string, width: number | undefined, flags: string, numeric: boolean): string {
  if (width === undefined || [...s].length >= width) return s;
  const n = width - [...s].length;
  if (flags.includes('-')) return s + ' '.repeat(n);
  if (flags.includes('0') && numeric) {
    const sign = /^[+-]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(n) + s.slice(sign.length);
  }
  return ' '.repeat(n) + s;
}

function withSign(s: string, n: number, flags: string): string {
  if (n >= 0 && flags.includes('+')) return `+${s}`;
  if (n >= 0 && flags.includes(' ')) return ` ${s}`;
  return s;
}

function one(verb: string, v: unknown, flags: string, prec: number | undefined): [string, boolean] {
  switch (verb) {
    case 'v':
      if (flags.includes('#') && typeof v === 'string') return [goQuote(v), false];
      return [fmtValue(v, false), typeof v === 'number'];
    case 's': {
      if (typeof v === 'string' || Array.isArray(v) || (typeof v === 'object' && v !== null)) {
        const s = fmtValue(v, false);
        return [prec !== undefined ? [...s].slice(0, prec).join('') : s, false];
      }
      return [bad('s', v), false];
    }
    case 'q':
      if (typeof v === 'string') return [goQuote(v), false];
      if (typeof v === 'number' && Number.isInteger(v)) return [`'${String.fromCodePoint(v)}'`, false];
      return [bad('q', v), false];
    case 'd':
      if (typeof v === 'number' && Number.isInteger(v)) return [withSign(String(v), v, flags), true];
      return [bad('d', v), false];
    case 'b':
    case 'o':
    case 'x':
    case 'X': {
      const radix = verb === 'b' ? 2 : verb === 'o' ? 8 : 16;
      let s: string;
      if (typeof v === 'number' && Number.isInteger(v)) s = withSign(v.toString(radix), v, flags);
      else if (typeof v === 'string' && radix === 16) s = Buffer.from(v).toString('hex');
      else return [bad(verb, v), false];
      if (flags.includes('#') && radix === 16) s = `0x${s}`;
      return [verb === 'X' ? s.toUpperCase() : s, true];
    }
    case 'c':
      if (typeof v === 'number' && Number.isInteger(v)) return [String.fromCodePoint(v), false];
      return [bad('c', v), false];
    case 't':
      if (typeof v === 'boolean') return [String(v), false];
      return [bad('t', v), false];
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      if (typeof v !== 'number') return [bad(verb, v), false];
      let s: string;
      if (verb === 'f' || verb === 'F') s = v.toFixed(prec ?? 6);
      else if (verb === 'e' || verb === 'E') {
        const [m, e] = v.toExponential(prec ?? 6).split('e');
        s = `${m}e${e[0]}${e.slice(1).padStart(2, '0')}`;
      } else s = prec === undefined ? fmtNumber(v) : goG(v, prec);
      s = withSign(s, v, flags);
      return [verb === 'E' || verb === 'G' ? s.toUpperCase() : s, true];
    }
    default:
      return [`%!${verb}(${goType(v)}=${fmtValue(v, false)})`, false];
  }
}

/** fmt.Sprintf with Go's verbs, flags, width and precision, and its %!verb(MISSING) / %!(EXTRA ...) marks. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  const re = /%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?(.)?/gsy;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    re.lastIndex = pct;
    const m = re.exec(format)!;
    i = re.lastIndex;
    const [, flags, w, p, verb] = m;
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    if (verb === '%') {
      out += '%';
      continue;
    }
    const star = (x: string | undefined): number | undefined => {
      if (x === undefined || x === '') return x === '' ? 0 : undefined;
      if (x !== '*') return Number(x);
      const a = args[argi++];
      return typeof a === 'number' ? a : undefined;
    };
    const width = star(w);
    const prec = star(p);
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const [s, numeric] = one(verb, args[argi++], flags, prec);
    out += pad(s, width, flags, numeric);
  }
  if (argi < args.length) out += `%!(EXTRA ${args.slice(argi).map((a) => `${goType(a)}=${fmtValue(a, false)}`).join(', ')})`;
  return out;
}

/** fmt.Sprint: a space between operands when neither is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += fmtValue(a, false);
  });
  return out;
}

export function sprintln(args: unknown[]): string {
  return `${args.map((a) => fmtValue(a, false)).join(' ')}\n`;
}
