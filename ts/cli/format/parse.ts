// Go's text/template syntax, lexed and parsed into a tree (ts/cli/format/exec.ts runs it). Errors are Go's
// own words ("template: :1: function "x" not defined"), which docker prints after its own prefix.

export class TemplateError extends Error {}

export type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pos: number; pipe: Pipe }
  | ControlNode
  | { t: 'break' | 'continue'; pos: number }
  | { t: 'template'; pos: number; name: string; pipe: Pipe | null };

export interface ControlNode {
  t: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: Node[];
  else: Node[] | null;
}

export interface Pipe {
  pos: number;
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
}

export interface Cmd {
  pos: number;
  args: Arg[];
}

export type Arg =
  | { t: 'field'; pos: number; fields: string[] }
  | { t: 'var'; pos: number; name: string; fields: string[] }
  | { t: 'dot'; pos: number }
  | { t: 'ident'; pos: number; name: string }
  | { t: 'string'; pos: number; value: string; src: string }
  | { t: 'number'; pos: number; value: number; src: string }
  | { t: 'bool'; pos: number; value: boolean }
  | { t: 'nil'; pos: number }
  | { t: 'pipe'; pos: number; pipe: Pipe }
  | { t: 'chain'; pos: number; node: Arg; fields: string[] };

type Tok = { k: string; v: string; pos: number };

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'nil', 'true', 'false']);

/** The template's pieces: text, and actions as token lists (trim markers applied, comments dropped). */
function lex(src: string, fail: (pos: number, msg: string) => never): ({ text: string; pos: number } | { toks: Tok[]; pos: number })[] {
  const out: ({ text: string; pos: number } | { toks: Tok[]; pos: number })[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    let open = src.indexOf('{{', i);
    if (open < 0) open = src.length;
    let text = src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    const trimLeft = src.startsWith('{{- ', open) || src.startsWith('{{-\t', open) || src.startsWith('{{-\n', open) || src.startsWith('{{-\r', open);
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
    if (text) out.push({ text, pos: i });
    if (open >= src.length) break;
    let j = open + 2 + (trimLeft ? 2 : 0);
    const actionPos = open;
    // A comment: {{/* ... */}}, with optional trim markers.
    if (src.startsWith('/*', j)) {
      const end = src.indexOf('*/', j + 2);
      if (end < 0) fail(j, 'unclosed comment');
      let k = end + 2;
      if (src.startsWith(' -}}', k)) {
        trimNext = true;
        k += 4;
      } else if (src.startsWith('}}', k)) k += 2;
      else fail(k, 'comment ends before closing delimiter');
      i = k;
      continue;
    }
    const toks: Tok[] = [];
    let parenDepth = 0;
    for (;;) {
      if (j >= src.length) fail(actionPos, 'unclosed action');
      const c = src[j];
      if ((c === ' ' || c === '\t' || c === '\r' || c === '\n') && src.startsWith('-}}', j + 1)) {
        trimNext = true;
        j += 4;
        break;
      }
      if (src.startsWith('}}', j)) {
        j += 2;
        break;
      }
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        const s = j;
        while (j < src.length && /[ \t\r\n]/.test(src[j])) j++;
        toks.push({ k: 'space', v: src.slice(s, j), pos: s });
        continue;
      }
      const s = j;
      if (c === '|' || c === ',') {
        toks.push({ k: c, v: c, pos: j++ });
      } else if (c === '(') {
        parenDepth++;
        toks.push({ k: '(', v: c, pos: j++ });
      } else if (c === ')') {
        if (--parenDepth < 0) fail(j, `unexpected right paren U+0029 ')'`);
        toks.push({ k: ')', v: c, pos: j++ });
      } else if (c === ':' && src[j + 1] === '=') {
        toks.push({ k: ':=', v: ':=', pos: j });
        j += 2;
      } else if (c === '=') {
        toks.push({ k: '=', v: '=', pos: j++ });
      } else if (c === '"') {
        j++;
        while (j < src.length && src[j] !== '"') {
          if (src[j] === '\\') j++;
          if (src[j] === '\n' || j >= src.length) fail(s, 'unterminated quoted string');
          j++;
        }
        if (j >= src.length) fail(s, 'unterminated quoted string');
        j++;
        toks.push({ k: 'string', v: src.slice(s, j), pos: s });
      } else if (c === '`') {
        const e = src.indexOf('`', j + 1);
        if (e < 0) fail(s, 'unterminated raw quoted string');
        j = e + 1;
        toks.push({ k: 'rawstring', v: src.slice(s, j), pos: s });
      } else if (c === "'") {
        j++;
        while (j < src.length && src[j] !== "'") {
          if (src[j] === '\\') j++;
          j++;
        }
        if (j >= src.length) fail(s, 'unterminated character constant');
        j++;
        toks.push({ k: 'char', v: src.slice(s, j), pos: s });
      } else if (c === '$') {
        j++;
        while (j < src.length && /[\p{L}\p{N}_]/u.test(src[j])) j++;
        toks.push({ k: 'var', v: src.slice(s, j), pos: s });
      } else if (c === '.') {
        if (/[0-9]/.test(src[j + 1] ?? '')) {
          j = number(src, j);
          toks.push({ k: 'number', v: src.slice(s, j), pos: s });
        } else {
          j++;
          while (j < src.length && /[\p{L}\p{N}_]/u.test(src[j])) j++;
          toks.push({ k: j - s === 1 ? 'dot' : 'field', v: src.slice(s, j), pos: s });
        }
      } else if (/[0-9+-]/.test(c)) {
        j = number(src, j);
        if (j === s) fail(s, `bad character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} '${c}'`);
        toks.push({ k: 'number', v: src.slice(s, j), pos: s });
      } else if (/[\p{L}_]/u.test(c)) {
        while (j < src.length && /[\p{L}\p{N}_]/u.test(src[j])) j++;
        const w = src.slice(s, j);
        toks.push({ k: KEYWORDS.has(w) ? w : 'ident', v: w, pos: s });
      } else {
        const cp = src.codePointAt(j)!;
        fail(j, `bad character U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(cp)}'`);
      }
    }
    if (parenDepth > 0) fail(actionPos, 'unclosed left paren');
    out.push({ toks, pos: actionPos });
    i = j;
  }
  return out;
}

function number(src: string, j: number): number {
  const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(src.slice(j));
  return j + (m ? m[0].length : 0);
}

function unquote(t: Tok, fail: (pos: number, msg: string) => never): string {
  if (t.k === 'rawstring') return t.v.slice(1, -1);
  try {
    // Go's escapes are JSON's plus \a \v \' \xHH and octal \NNN.
    const body = t.v.slice(1, -1).replace(/\\(a|v|'|x[0-9a-fA-F]{2}|[0-7]{3}|U[0-9a-fA-F]{8})/g, (_, e: string) => {
      const code = e === 'a' ? 7 : e === 'v' ? 11 : e === "'" ? 39 : e[0] === 'x' ? parseInt(e.slice(1), 16) : e[0] === 'U' ? parseInt(e.slice(1), 16) : parseInt(e, 8);
      return `\\u{${code.toString(16)}}`;
    });
    return JSON.parse(`"${body.replace(/\\u\{([0-9a-f]+)\}/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)).replace(/["\\]/g, '\\$&').replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`) as string;
  } catch {
    return fail(t.pos, `invalid syntax: ${t.v}`);
  }
}

export interface Parsed {
  root: Node[];
  defines: Map<string, Node[]>;
  src: string;
}

/** Parses src as Go's text/template does; funcs: the names a template may call. */
export function parseTemplate(src: string, funcs: Set<string>, name = ''): Parsed {
  const lineOf = (pos: number) => 1 + (src.slice(0, pos).match(/\n/g)?.length ?? 0);
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(`template: ${name}:${lineOf(pos)}: ${msg}`);
  };
  const pieces = lex(src, fail);
  let p = 0;
  const defines = new Map<string, Node[]>();
  // Variables in scope, as Go checks them at parse time.
  const vars: string[] = ['$'];
  let rangeDepth = 0;

  /** Parses a list until {{end}}/{{else}} (returned as the terminator) or EOF (only at top level). */
  function list(top: boolean): { nodes: Node[]; end: 'end' | 'else' | 'eof'; elseToks?: Tok[]; endPos: number } {
    const nodes: Node[] = [];
    while (p < pieces.length) {
      const piece = pieces[p++];
      if ('text' in piece) {
        nodes.push({ t: 'text', text: piece.text });
        continue;
      }
      const toks = piece.toks.filter((t, i) => !(t.k === 'space' && (i === 0 || i === piece.toks.length - 1)));
      const first = toks[0];
      if (!first) fail(piece.pos, 'missing value for command');
      switch (first.k) {
        case 'end':
          if (top) fail(first.pos, 'unexpected {{end}}');
          return { nodes, end: 'end', endPos: first.pos };
        case 'else':
          if (top) fail(first.pos, 'unexpected {{else}}');
          return { nodes, end: 'else', elseToks: toks.slice(1), endPos: first.pos };
        case 'if':
        case 'with':
        case 'range':
          nodes.push(control(first.k, toks.slice(1), first.pos));
          break;
        case 'break':
        case 'continue':
          if (!rangeDepth) fail(first.pos, `{{${first.k}}} outside {{range}}`);
          if (toks.length > 1) fail(first.pos, `unexpected ${describe(toks[1])} in {{${first.k}}}`);
          nodes.push({ t: first.k, pos: first.pos });
          break;
        case 'define': {
          const rest = toks.slice(1).filter((t) => t.k !== 'space');
          if (rest.length !== 1 || (rest[0].k !== 'string' && rest[0].k !== 'rawstring')) fail(first.pos, 'unexpected name in define clause');
          const saved = vars.splice(0);
          vars.push('$');
          const body = list(false);
          vars.splice(0, vars.length, ...saved);
          if (body.end !== 'end') fail(body.endPos, 'unexpected {{else}} in define clause');
          defines.set(unquote(rest[0], fail), body.nodes);
          break;
        }
        case 'template':
        case 'block': {
          const rest = toks.slice(1);
          while (rest[0]?.k === 'space') rest.shift();
          const nameTok = rest.shift();
          if (!nameTok || (nameTok.k !== 'string' && nameTok.k !== 'rawstring')) fail(first.pos, `unexpected ${nameTok ? describe(nameTok) : 'end'} in template clause`);
          if (!nameTok) break;
          const tname = unquote(nameTok, fail);
          const pipeToks = rest.filter((t, i) => !(t.k === 'space' && i === 0));
          const pipe = pipeToks.length ? pipeline(pipeToks, first.pos, 'template') : null;
          if (first.k === 'block') {
            const body = list(false);
            if (body.end !== 'end') fail(body.endPos, 'unexpected {{else}}');
            defines.set(tname, body.nodes);
          }
          nodes.push({ t: 'template', pos: first.pos, name: tname, pipe });
          break;
        }
        default:
          nodes.push({ t: 'action', pos: piece.pos, pipe: pipeline(toks, piece.pos, 'command') });
      }
    }
    if (!top) fail(src.length, 'unexpected EOF');
    return { nodes, end: 'eof', endPos: src.length };
  }

  function control(kind: 'if' | 'with' | 'range', toks: Tok[], pos: number): Node {
    const mark = vars.length;
    const pipe = pipeline(toks.filter((t, i) => !(t.k === 'space' && i === 0)), pos, kind);
    if (kind === 'range') rangeDepth++;
    const body = list(false);
    if (kind === 'range') rangeDepth--;
    let elseList: Node[] | null = null;
    if (body.end === 'else') {
      vars.length = mark;
      // {{else if ...}} / {{else with ...}}: a nested control that consumes the same {{end}}.
      const et = body.elseToks!;
      const head = et.find((x) => x.k !== 'space');
      if (head && (head.k === 'if' || head.k === 'with') && kind !== 'range') {
        const rest = et.slice(et.indexOf(head) + 1);
        elseList = [control(head.k as 'if' | 'with', rest.filter((x, i) => !(x.k === 'space' && i === 0)), head.pos)];
      } else {
        if (head) fail(body.endPos, `unexpected ${describe(head)} in else`);
        const e = list(false);
        if (e.end === 'else') fail(e.endPos, 'expected end; found {{else}}');
        elseList = e.nodes;
      }
    }
    vars.length = mark;
    return { t: kind, pos, pipe, list: body.nodes, else: elseList };
  }

  function pipeline(toks: Tok[], pos: number, context: string): Pipe {
    let k = 0;
    const decl: string[] = [];
    let assign = false;
    // Declarations: $x := or $i, $e := (range) or $x = (assignment).
    const look = toks.filter((t) => t.k !== 'space');
    if (look[0]?.k === 'var') {
      if (look[1]?.k === ':=' || look[1]?.k === '=') {
        decl.push(look[0].v);
        assign = look[1].k === '=';
        k = toks.indexOf(look[1]) + 1;
      } else if (look[1]?.k === ',' && look[2]?.k === 'var' && (look[3]?.k === ':=' || look[3]?.k === '=')) {
        if (context !== 'range') fail(look[1].pos, `too many declarations in ${context}`);
        decl.push(look[0].v, look[2].v);
        assign = look[3].k === '=';
        k = toks.indexOf(look[3]) + 1;
      }
    }
    for (const d of decl) {
      if (assign) {
        if (!vars.includes(d)) fail(pos, `undefined variable "${d}"`);
      }
    }
    const rest = toks.slice(k);
    // Go's pipeline position: its first token's.
    pos = rest.find((t) => t.k !== 'space')?.pos ?? pos;
    const cmds: Cmd[] = [];
    let cur: Tok[] = [];
    const flush = (at: number) => {
      const args = operands(cur, at);
      if (!args.length) fail(at, 'missing command');
      cmds.push({ pos: args[0].pos, args });
      cur = [];
    };
    let depth = 0;
    for (const t of rest) {
      if (t.k === '(') depth++;
      if (t.k === ')') depth--;
      if (t.k === '|' && depth === 0) flush(t.pos);
      else cur.push(t);
    }
    if (cur.some((t) => t.k !== 'space') || cmds.length) flush(pos);
    if (!cmds.length) fail(pos, `missing value for ${context}`);
    for (let i = 1; i < cmds.length; i++) {
      const a = cmds[i].args[0];
      if (a.t !== 'field' && a.t !== 'ident' && a.t !== 'chain' && a.t !== 'var' && a.t !== 'dot' && a.t !== 'pipe') fail(a.pos, `non executable command in pipeline stage ${i + 1}`);
    }
    if (!assign) vars.push(...decl);
    return { pos, decl, assign, cmds };
  }

  /** The operands of one command, space separated; a field chain may follow a ')' or a variable directly. */
  function operands(toks: Tok[], at: number): Arg[] {
    const args: Arg[] = [];
    let i = 0;
    let needSpace = false;
    while (i < toks.length) {
      const t = toks[i];
      if (t.k === 'space') {
        needSpace = false;
        i++;
        continue;
      }
      if (needSpace) fail(t.pos, `unexpected ${describe(t)} in operand`);
      let node: Arg;
      switch (t.k) {
        case 'field': {
          node = { t: 'field', pos: t.pos, fields: [t.v.slice(1)] };
          i++;
          while (toks[i]?.k === 'field') node.fields.push(toks[i++].v.slice(1));
          args.push(node);
          needSpace = true;
          continue;
        }
        case 'var':
          if (!vars.includes(t.v)) fail(t.pos, `undefined variable "${t.v}"`);
          node = { t: 'var', pos: t.pos, name: t.v, fields: [] };
          i++;
          while (toks[i]?.k === 'field') node.fields.push(toks[i++].v.slice(1));
          args.push(node);
          needSpace = true;
          continue;
        case 'dot':
          node = { t: 'dot', pos: t.pos };
          break;
        case 'ident':
          if (!funcs.has(t.v)) fail(t.pos, `function "${t.v}" not defined`);
          node = { t: 'ident', pos: t.pos, name: t.v };
          break;
        case 'string':
        case 'rawstring':
          node = { t: 'string', pos: t.pos, value: unquote(t, fail), src: t.v };
          break;
        case 'char': {
          const s = unquote({ ...t, k: 'string', v: `"${t.v.slice(1, -1).replace(/"/g, '\\"')}"` }, fail);
          node = { t: 'number', pos: t.pos, value: s.codePointAt(0) ?? 0, src: t.v };
          break;
        }
        case 'number': {
          const v = Number(t.v.replace(/_/g, '').replace(/^([+-]?)0[oO]/, '$10o'));
          if (Number.isNaN(v)) fail(t.pos, `illegal number syntax: "${t.v}"`);
          node = { t: 'number', pos: t.pos, value: v, src: t.v };
          break;
        }
        case 'true':
        case 'false':
          node = { t: 'bool', pos: t.pos, value: t.k === 'true' };
          break;
        case 'nil':
          node = { t: 'nil', pos: t.pos };
          break;
        case '(': {
          let depth = 0;
          let j = i;
          for (; j < toks.length; j++) {
            if (toks[j].k === '(') depth++;
            if (toks[j].k === ')' && --depth === 0) break;
          }
          if (j >= toks.length) fail(t.pos, 'unclosed left paren');
          const inner = pipeline(toks.slice(i + 1, j).filter((x, n, a) => !(x.k === 'space' && (n === 0 || n === a.length - 1))), t.pos, 'parenthesized pipeline');
          i = j + 1;
          const fields: string[] = [];
          while (toks[i]?.k === 'field') fields.push(toks[i++].v.slice(1));
          const pnode: Arg = { t: 'pipe', pos: t.pos, pipe: inner };
          args.push(fields.length ? { t: 'chain', pos: t.pos, node: pnode, fields } : pnode);
          needSpace = true;
          continue;
        }
        default:
          return fail(t.pos, `unexpected ${describe(t)} in operand`);
      }
      args.push(node);
      i++;
      needSpace = true;
    }
    if (!args.length && toks.length) fail(at, 'missing value for command');
    return args;
  }

  const root = list(true).nodes;
  return { root, defines, src };
}

function describe(t: Tok): string {
  if (t.k === 'string' || t.k === 'rawstring' || t.k === 'number' || t.k === 'char') return `${t.v}`;
  if (KEYWORDS.has(t.k)) return `<${t.v}>`;
  return `"${t.v}"`;
}
