// Runs a parsed Go template on a value, as text/template does: fields of structs (class instances: a
// missing one is an error) and maps (plain objects: a missing key prints "<no value>", or is an error with
// missingkey=error), method calls with arguments, pipelines, variables, if/with/range/else, break/continue,
// define/template. Output and recursion are bounded, so a hostile template fails with an error, never a crash.
import { parseTemplate, TemplateError, type Arg, type Cmd, type ControlNode, type Node, type Parsed, type Pipe } from './parse.js';
import { fmtValue, goType, isStruct } from './gofmt.js';
import { BUILTINS, type TemplateFunc } from './funcs.js';

export { TemplateError };

/** What one template may write (docker has no limit; a runaway {{range}} must not exhaust memory). */
export const MAX_OUTPUT = 64 << 20;
const MAX_DEPTH = 1000;

class Break {}
class Continue {}

export interface TemplateOptions {
  /** missingkey=error: a key missing from a map is an error (docker inspect's raw fallback). */
  missingKeyError?: boolean | ((map: object) => boolean);
  /** Extra functions, or replacements (docker's header functions). */
  funcs?: Record<string, TemplateFunc>;
}

export class Template {
  private readonly parsed: Parsed;
  private readonly funcs: Record<string, TemplateFunc>;

  constructor(src: string, o: TemplateOptions = {}) {
    this.funcs = { ...BUILTINS, ...o.funcs };
    this.parsed = parseTemplate(src, new Set(Object.keys(this.funcs)));
    this.missingKeyError = o.missingKeyError ?? false;
  }

  missingKeyError: boolean | ((map: object) => boolean);

  /** The same template with other functions of the same names (names must already exist: parsing is not redone). */
  withFuncs(funcs: Record<string, TemplateFunc>): Template {
    const t = Object.create(Template.prototype) as Template;
    Object.assign(t, this, { funcs: { ...this.funcs, ...funcs } });
    return t;
  }

  execute(data: unknown): string {
    return new Exec(this.parsed, this.funcs, this.missingKeyError).run(data);
  }
}

class Exec {
  private out: string[] = [];
  private size = 0;
  private vars: { name: string; value: unknown }[] = [];
  private depth = 0;
  private node: { pos: number; text: string } = { pos: 0, text: '' };

  constructor(
    private readonly p: Parsed,
    private readonly funcs: Record<string, TemplateFunc>,
    private readonly missingKeyError: boolean | ((map: object) => boolean),
  ) {}

  run(data: unknown): string {
    this.vars = [{ name: '$', value: data }];
    this.walkList(this.p.root, data);
    return this.out.join('');
  }

  fail(msg: string): never {
    const { pos, text } = this.node;
    const before = this.p.src.slice(0, pos);
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const nl = before.lastIndexOf('\n');
    const col = nl < 0 ? pos : pos - nl - 1;
    // Go shows at most 20 bytes of the node.
    const context = text.length > 20 ? `${text.slice(0, 20)}...` : text;
    throw new TemplateError(`template: :${line}:${col}: executing "" at <${context}>: ${msg}`);
  }

  private at(pos: number, text: string) {
    this.node = { pos, text };
  }

  private write(s: string) {
    this.size += s.length;
    if (this.size > MAX_OUTPUT) this.fail(`output exceeds ${MAX_OUTPUT >> 20} MiB`);
    this.out.push(s);
  }

  private walkList(nodes: Node[], dot: unknown) {
    for (const n of nodes) this.walk(n, dot);
  }

  private walk(n: Node, dot: unknown): void {
    switch (n.t) {
      case 'text':
        this.write(n.text);
        return;
      case 'action': {
        const v = this.pipe(n.pipe, dot);
        if (!n.pipe.decl.length) this.write(printable(v, this));
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.pipe(n.pipe, dot);
        if (truth(v)) this.walkList(n.list, n.t === 'with' ? v : dot);
        else if (n.else) this.walkList(n.else, dot);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.range(n, dot);
        return;
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
      case 'template': {
        const body = this.p.defines.get(n.name);
        this.at(n.pos, `{{template "${n.name}"}}`);
        if (!body) this.fail(`no such template "${n.name}"`);
        if (++this.depth > MAX_DEPTH) this.fail(`exceeded maximum template depth (${MAX_DEPTH})`);
        const v = n.pipe ? this.pipe(n.pipe, dot) : undefined;
        const saved = this.vars;
        this.vars = [{ name: '$', value: v }];
        this.walkList(body, v);
        this.vars = saved;
        this.depth--;
      }
    }
  }

  private range(n: ControlNode, dot: unknown) {
    const mark = this.vars.length;
    const v = this.pipe(n.pipe, dot, true);
    const items: [unknown, unknown][] = [];
    if (Array.isArray(v)) v.forEach((x, i) => items.push([i, x]));
    else if (typeof v === 'number' && Number.isInteger(v)) {
      // Go 1.22's range over an int, in steps so a huge count runs into the output limit, not memory.
      for (let i = 0; i < v; i++) this.iteration(n, i, i, mark);
      this.vars.length = mark;
      if (v <= 0 && n.else) this.walkList(n.else, dot);
      return;
    } else if (v !== null && v !== undefined && typeof v === 'object' && !isStruct(v)) {
      for (const k of Object.keys(v).sort()) items.push([k, (v as Record<string, unknown>)[k]]);
    } else if (v !== null && v !== undefined) {
      this.at(n.pipe.pos, `{{range ${fmtPipe(n.pipe)}}}${n.list.length ? '...' : ''}${n.else ? '{{else}}...' : ''}{{end}}`);
      this.fail(`range can't iterate over ${fmtValue(v)}`);
    }
    for (const [k, x] of items) {
      if (this.iteration(n, k, x, mark)) break;
    }
    this.vars.length = mark;
    if (!items.length && n.else) this.walkList(n.else, dot);
  }

  /** One pass of a range body; true on {{break}}. */
  private iteration(n: ControlNode, k: unknown, x: unknown, mark: number): boolean {
    this.vars.length = mark;
    const d = n.pipe.decl;
    if (d.length === 1) this.setVar(d[0], x, n.pipe.assign);
    if (d.length === 2) {
      this.setVar(d[0], k, n.pipe.assign);
      this.setVar(d[1], x, n.pipe.assign);
    }
    try {
      this.walkList(n.list, x);
    } catch (e) {
      if (e instanceof Break) return true;
      if (!(e instanceof Continue)) throw e;
    }
    return false;
  }

  private setVar(name: string, value: unknown, assign: boolean) {
    if (assign) {
      for (let i = this.vars.length - 1; i >= 0; i--) {
        if (this.vars[i].name === name) {
          this.vars[i].value = value;
          return;
        }
      }
    }
    this.vars.push({ name, value });
  }

  private pipe(p: Pipe, dot: unknown, isRange = false): unknown {
    let v: unknown = NONE;
    for (const c of p.cmds) v = this.command(c, dot, v);
    if (!isRange || p.decl.length === 0) for (const d of p.decl) this.setVar(d, v, p.assign);
    return v;
  }

  private command(c: Cmd, dot: unknown, final: unknown): unknown {
    const [first, ...rest] = c.args;
    switch (first.t) {
      case 'field':
        return this.fieldChain(dot, dot, first.fields, first.pos, `.${first.fields.join('.')}`, rest, final);
      case 'var': {
        const v = this.variable(first.name, first.pos);
        if (!first.fields.length) {
          this.noArgs(first.pos, first.name, rest, final);
          return v;
        }
        return this.fieldChain(dot, v, first.fields, first.pos, `${first.name}.${first.fields.join('.')}`, rest, final);
      }
      case 'chain': {
        const v = this.arg(dot, first.node);
        return this.fieldChain(dot, v, first.fields, first.pos, `.${first.fields.join('.')}`, rest, final);
      }
      case 'ident':
        return this.call(dot, first.name, first.pos, rest, final);
      default: {
        this.noArgs(first.pos, argText(first), rest, final);
        return this.arg(dot, first);
      }
    }
  }

  private noArgs(pos: number, text: string, rest: Arg[], final: unknown) {
    if (rest.length || final !== NONE) {
      this.at(pos, text);
      this.fail(`can't give argument to non-function ${text}`);
    }
  }

  private variable(name: string, pos: number): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    this.at(pos, name);
    return this.fail(`undefined variable: ${name}`);
  }

  private fieldChain(dot: unknown, receiver: unknown, fields: string[], pos: number, text: string, args: Arg[], final: unknown): unknown {
    let v = receiver;
    this.at(pos, text);
    for (let i = 0; i < fields.length; i++) {
      const last = i === fields.length - 1;
      v = this.field(dot, v, fields[i], last ? args : [], last ? final : NONE);
    }
    return v;
  }

  private field(dot: unknown, receiver: unknown, name: string, args: Arg[], final: unknown): unknown {
    const hasArgs = args.length > 0 || final !== NONE;
    if (receiver === undefined || receiver === null) {
      if (this.missingKeyError === true) this.fail(`nil data; no entry for key "${name}"`);
      return undefined;
    }
    if (isStruct(receiver)) {
      // Only exported (capitalised) names, as Go: never the object's own internals or its prototype's.
      if (/^\p{Lu}/u.test(name) && name in receiver && !(name in Object.prototype)) {
        const m = (receiver as Record<string, unknown>)[name];
        if (typeof m === 'function') {
          const argv = args.map((a) => this.arg(dot, a));
          if (final !== NONE) argv.push(final);
          if (argv.length !== m.length) this.fail(`wrong number of args for ${name}: want ${m.length} got ${argv.length}`);
          return this.invoke(() => m.apply(receiver, argv));
        }
        if (hasArgs) this.fail(`${name} has arguments but cannot be invoked as function`);
        return m;
      }
      return this.fail(`can't evaluate field ${name} in type ${goType(receiver)}`);
    }
    if (typeof receiver === 'object' && !Array.isArray(receiver)) {
      if (hasArgs) this.fail(`${name} is not a method but has arguments`);
      const o = receiver as Record<string, unknown>;
      if (Object.prototype.hasOwnProperty.call(o, name)) return o[name];
      const strict = typeof this.missingKeyError === 'function' ? this.missingKeyError(o) : this.missingKeyError;
      if (strict) this.fail(`map has no entry for key "${name}"`);
      return undefined;
    }
    return this.fail(`can't evaluate field ${name} in type ${goType(receiver)}`);
  }

  private invoke(f: () => unknown): unknown {
    try {
      return f();
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      return this.fail(`error calling: ${(e as Error).message}`);
    }
  }

  private call(dot: unknown, name: string, pos: number, args: Arg[], final: unknown): unknown {
    const f = this.funcs[name];
    // and/or evaluate their arguments only as far as needed (Go 1.18).
    if (name === 'and' || name === 'or') {
      const n = args.length + (final !== NONE ? 1 : 0);
      this.at(pos, name);
      if (n < 1) this.fail(`wrong number of args for ${name}: want at least 1 got 0`);
      let v: unknown;
      for (let i = 0; i < n; i++) {
        v = i < args.length ? this.arg(dot, args[i]) : final;
        if (name === 'and' ? !truth(v) : truth(v)) return v;
      }
      return v;
    }
    const argv = args.map((a) => this.arg(dot, a));
    if (final !== NONE) argv.push(final);
    this.at(pos, name);
    const [min, max] = f.arity;
    if (argv.length < min || argv.length > max) {
      this.fail(`wrong number of args for ${name}: want ${min === max ? min : max === Infinity ? `at least ${min}` : `${min}-${max}`} got ${argv.length}`);
    }
    try {
      return f(...argv);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      return this.fail(`error calling ${name}: ${(e as Error).message}`);
    }
  }

  private arg(dot: unknown, a: Arg): unknown {
    switch (a.t) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'string':
      case 'number':
      case 'bool':
        return a.value;
      case 'field':
        return this.fieldChain(dot, dot, a.fields, a.pos, `.${a.fields.join('.')}`, [], NONE);
      case 'var': {
        const v = this.variable(a.name, a.pos);
        return a.fields.length ? this.fieldChain(dot, v, a.fields, a.pos, `${a.name}.${a.fields.join('.')}`, [], NONE) : v;
      }
      case 'ident':
        return this.call(dot, a.name, a.pos, [], NONE);
      case 'pipe': {
        const mark = this.vars.length;
        const v = this.pipe(a.pipe, dot);
        this.vars.length = mark;
        return v;
      }
      case 'chain':
        return this.fieldChain(dot, this.arg(dot, a.node), a.fields, a.pos, `.${a.fields.join('.')}`, [], NONE);
    }
  }
}

/** No value passed down the pipeline yet. */
const NONE = Symbol('none');

/** Go's truth: false, 0, "", nil and empty collections are false; structs are true. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !isStruct(v)) return Object.keys(v).length > 0;
  return true;
}

function printable(v: unknown, e: { fail(msg: string): never }): string {
  if (typeof v === 'function') return e.fail("can't print function");
  return fmtValue(v);
}

function argText(a: Arg): string {
  switch (a.t) {
    case 'string':
    case 'number':
      return a.src;
    case 'bool':
      return String(a.value);
    case 'nil':
      return 'nil';
    case 'dot':
      return '.';
    default:
      return '';
  }
}

function fmtPipe(p: Pipe): string {
  return p.cmds.map((c) => c.args.map((a) => (a.t === 'field' ? `.${a.fields.join('.')}` : a.t === 'ident' ? a.name : argText(a))).join(' ')).join(' | ');
}
