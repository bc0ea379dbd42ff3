// Dockerfile word handling: $VAR / ${VAR} / ${VAR:-x} / ${VAR:+x} substitution and quote-aware splitting,
// as the Dockerfile frontend does it for ENV, ARG, LABEL, COPY, WORKDIR, USER, FROM and friends.

/** Substitutes variables; quotes are kept (split() removes them). Single-quoted text is not expanded. */
export function expand(s: string, vars: Record<string, string | undefined>): string {
  let out = '';
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      // An escaped $ stays literal; other escapes are left for split().
      out += s[i + 1] === '$' ? '\\$' : c + s[i + 1];
      i++;
      continue;
    }
    if (quote !== '"' && c === "'") quote = quote ? '' : "'";
    else if (quote !== "'" && c === '"') quote = quote ? '' : '"';
    if (c !== '$' || quote === "'") {
      out += c;
      continue;
    }
    const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}/.exec(s.slice(i));
    if (braced) {
      const [all, name, op, word] = braced;
      const v = vars[name];
      if (op === ':-') out += v ? v : expand(word, vars);
      else if (op === '-') out += v !== undefined ? v : expand(word, vars);
      else if (op === ':+') out += v ? expand(word, vars) : '';
      else if (op === '+') out += v !== undefined ? expand(word, vars) : '';
      else out += v ?? '';
      i += all.length - 1;
      continue;
    }
    const plain = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(s.slice(i));
    if (plain) {
      out += vars[plain[1]] ?? '';
      i += plain[0].length - 1;
      continue;
    }
    out += c;
  }
  return out;
}

/** Splits on unquoted whitespace, removing quotes and backslash escapes. */
export function split(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote === "'") {
      if (c === "'") quote = '';
      else cur += c;
      continue;
    }
    if (c === '\\' && i + 1 < s.length && (quote !== '"' || '"\\$'.includes(s[i + 1]))) {
      cur += s[++i];
      has = true;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = '';
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (quote) throw new Error(`unmatched ${quote} in ${JSON.stringify(s)}`);
  if (has || cur) out.push(cur);
  return out;
}

/** KEY=VALUE pairs (ENV, LABEL, ARG), or the legacy "KEY VALUE" form when allowed. */
export function pairs(s: string, vars: Record<string, string | undefined>, legacy: boolean): [string, string][] {
  const words = split(expand(s, vars));
  if (words.length && !words[0].includes('=')) {
    if (!legacy) throw new Error(`want KEY=VALUE, got ${JSON.stringify(words[0])}`);
    const m = /^\s*(\S+)\s+([\s\S]*)$/.exec(s);
    if (!m) throw new Error(`${JSON.stringify(s)} must have two arguments`);
    return [[m[1], split(expand(m[2], vars)).join(' ')]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw new Error(`want KEY=VALUE, got ${JSON.stringify(w)}`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

/** The JSON (exec) form of RUN, CMD, ENTRYPOINT, SHELL, or undefined for the shell form. */
export function execForm(s: string): string[] | undefined {
  if (!s.trimStart().startsWith('[')) return undefined;
  try {
    const v = JSON.parse(s);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // not JSON: the shell form, as docker reads it
  }
  return undefined;
}
