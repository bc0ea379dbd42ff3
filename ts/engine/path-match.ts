// Go's path.Match, as docker uses it: image reference filters and COPY sources (* and ? never cross a
// "/", [...] classes, backslash escapes). A malformed pattern matches nothing. The pattern comes from a
// client: it is matched as a Go regexp (linear time), never a backtracking RegExp (`*a*a*a*a*a*b`).
import { goRegexp } from './go-regexp.js';

export function globMatch(pattern: string, name: string): boolean {
  const lit = (ch: string) => ch.replace(/[.+?*^${}()|[\]\\/]/g, '\\$&');
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) return false;
      re += `[${pattern.slice(i + 1, end).replace(/^\^/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) re += lit(pattern[++i]);
    else re += lit(c);
  }
  return goRegexp(`^(?:${re})$`)?.test(name) ?? false;
}
