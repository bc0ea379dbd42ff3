// The functions a template can call: Go's text/template builtins and docker's additions (json, split,
// join, title, lower, upper, pad, truncate), with Go's argument counts and errors.
import { fmtValue, goType, isStruct, sprint, sprintf, sprintln } from './gofmt.js';

export type TemplateFunc = ((...args: any[]) => unknown) & { arity: [number, number] };

function fn(arity: [number, number], f: (...args: any[]) => unknown): TemplateFunc {
  return Object.assign(f, { arity });
}

const str = (name: string, v: unknown): string => {
  if (typeof v !== 'string') throw new Error(`wrong type for value; expected string; got ${goType(v)}`);
  return v;
};

function basicKind(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string' || typeof v === 'boolean') return typeof v;
  return 'complex';
}

function eq(a: unknown, ...bs: unknown[]): boolean {
  if (!bs.length) throw new Error('missing argument for comparison');
  for (const b of bs) {
    const ka = basicKind(a);
    const kb = basicKind(b);
    if (ka === 'complex' || kb === 'complex') {
      if (a === b) return true;
      throw new Error('non-comparable type');
    }
    if (ka === 'nil' || kb === 'nil') {
      if (ka === kb) return true;
      continue;
    }
    const num = (k: string) => k === 'int' || k === 'float';
    if (ka !== kb && !(num(ka) && num(kb))) throw new Error('incompatible types for comparison');
    if (a === b) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === 'bool' || ka === 'complex' || ka === 'nil' || ka === 'boolean') throw new Error('invalid type for comparison');
  const num = (k: string) => k === 'int' || k === 'float';
  if (ka !== kb && !(num(ka) && num(kb))) throw new Error('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

function len(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v !== null && typeof v === 'object' && !isStruct(v)) return Object.keys(v).length;
  throw new Error(`len of ${v === null || v === undefined ? 'nil pointer' : `type ${goType(v)}`}`);
}

function index(v: unknown, ...keys: unknown[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (cur === null || cur === undefined) throw new Error('index of untyped nil');
    if (Array.isArray(cur) || typeof cur === 'string') {
      if (typeof k !== 'number' || !Number.isInteger(k)) throw new Error(`cannot index slice/array with type ${goType(k)}`);
      if (k < 0 || k >= cur.length) throw new Error(`index out of range: ${k}`);
      cur = typeof cur === 'string' ? Buffer.from(cur)[k] : cur[k];
    } else if (typeof cur === 'object' && !isStruct(cur)) {
      if (typeof k !== 'string') throw new Error(`value has type ${goType(k)}; should be string`);
      // A missing key gives the map's zero value: docker's maps are mostly map[string]string.
      cur = Object.prototype.hasOwnProperty.call(cur, k) ? (cur as Record<string, unknown>)[k] : '';
    } else throw new Error(`can't index item of type ${goType(cur)}`);
  }
  return cur;
}

function slice(v: unknown, ...idx: unknown[]): unknown {
  if (typeof v !== 'string' && !Array.isArray(v)) throw new Error(`can't slice item of type ${goType(v)}`);
  const n = typeof v === 'string' ? Buffer.byteLength(v) : v.length;
  const [i = 0, j = n] = idx as number[];
  if (idx.some((x) => typeof x !== 'number' || !Number.isInteger(x))) throw new Error('cannot index slice/array with nil');
  if (i < 0 || j < i || j > n) throw new Error(`index out of range: ${j > n ? j : i}`);
  return typeof v === 'string' ? Buffer.from(v).subarray(i, j).toString() : v.slice(i, j);
}

const HTML: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' };

/** strings.Title: the first letter of each word upper-cased. */
function title(s: string): string {
  return s.replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_, pre: string, c: string) => pre + c.toUpperCase());
}

/** docker's json: encoding/json without HTML escaping, objects' own MarshalJSON (toJSON) honoured. */
export function toJson(v: unknown): string {
  if (v === undefined) return 'null';
  return JSON.stringify(v, (_k, x: unknown) => (x === undefined ? null : isMap(x) ? sortedKeys(x as Record<string, unknown>) : x)) ?? 'null';
}

/** A plain object not shaped as a Go struct (some key not an exported Go name, or none): a map, whose JSON keys Go sorts. */
function isMap(x: unknown): boolean {
  if (x === null || typeof x !== 'object' || Array.isArray(x) || isStruct(x)) return false;
  const keys = Object.keys(x);
  return keys.length === 0 || !keys.every((k) => /^[A-Z][A-Za-z0-9]*$/.test(k));
}

function sortedKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

export const BUILTINS: Record<string, TemplateFunc> = {
  and: fn([1, Infinity], () => undefined), // evaluated lazily by the executor
  or: fn([1, Infinity], () => undefined),
  not: fn([1, 1], (v: unknown) => !truthOf(v)),
  len: fn([1, 1], len),
  index: fn([1, Infinity], index),
  slice: fn([1, 4], slice),
  print: fn([0, Infinity], (...a: unknown[]) => sprint(a)),
  println: fn([0, Infinity], (...a: unknown[]) => sprintln(a)),
  printf: fn([1, Infinity], (f: unknown, ...a: unknown[]) => sprintf(str('printf', f), a)),
  html: fn([0, Infinity], (...a: unknown[]) => sprint(a).replace(/[<>&'"\0]/g, (c) => HTML[c])),
  js: fn([0, Infinity], (...a: unknown[]) =>
    sprint(a).replace(/[\\'"<>&=\n\r\t\u0000-\u001f]/g, (c) => ({ '\\': '\\\\', "'": "\\'", '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`),
  ),
  urlquery: fn([0, Infinity], (...a: unknown[]) => encodeURIComponent(sprint(a)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)),
  eq: fn([1, Infinity], eq),
  ne: fn([2, 2], (a: unknown, b: unknown) => !eq(a, b)),
  lt: fn([2, 2], lt),
  le: fn([2, 2], (a: unknown, b: unknown) => lt(a, b) || eq(a, b)),
  gt: fn([2, 2], (a: unknown, b: unknown) => !lt(a, b) && !eq(a, b)),
  ge: fn([2, 2], (a: unknown, b: unknown) => !lt(a, b)),
  call: fn([1, Infinity], (f: unknown, ...a: unknown[]) => {
    if (typeof f !== 'function') throw new Error(`non-function of type ${goType(f)}`);
    return f(...a);
  }),
  // docker's (github.com/docker/cli/templates).
  json: fn([1, 1], toJson),
  split: fn([2, 2], (s: unknown, sep: unknown) => {
    const v = str('split', s);
    const p = str('split', sep);
    return p === '' ? [...v] : v.split(p);
  }),
  join: fn([2, 2], (a: unknown, sep: unknown) => {
    if (!Array.isArray(a) || a.some((x) => typeof x !== 'string')) throw new Error(`wrong type for value; expected []string; got ${goType(a)}`);
    return a.join(str('join', sep));
  }),
  title: fn([1, 1], (s: unknown) => title(str('title', s))),
  lower: fn([1, 1], (s: unknown) => str('lower', s).toLowerCase()),
  upper: fn([1, 1], (s: unknown) => str('upper', s).toUpperCase()),
  pad: fn([3, 3], (s: unknown, pre: unknown, post: unknown) => ' '.repeat(Math.max(0, Number(pre))) + str('pad', s) + ' '.repeat(Math.max(0, Number(post)))),
  truncate: fn([2, 2], (s: unknown, n: unknown) => {
    const v = str('truncate', s);
    return Buffer.byteLength(v) < Number(n) ? v : Buffer.from(v).subarray(0, Number(n)).toString();
  }),
};

function truthOf(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !isStruct(v)) return Object.keys(v).length > 0;
  return true;
}

/** docker's header functions: in a table's header row every docker function returns its first argument. */
export const HEADER_FUNCS: Record<string, TemplateFunc> = Object.fromEntries(
  ['json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate'].map((n) => [n, fn(BUILTINS[n].arity, (v: unknown) => (typeof v === 'string' ? v : fmtValue(v)))]),
);
