// Go's regexp (RE2 syntax, linear time, no backreferences or lookaround) for the patterns that clients
// send: docker's name filters are Go regexps, and a JavaScript RegExp built from one such as `(a+)+$`
// backtracks for hours against a long name, stalling the one thread that answers every client.
import { RE2JS } from 're2js';

const cache = new Map<string, RE2JS | null>();

/** The pattern compiled with RE2's syntax; null where Go's regexp.Compile would fail. */
export function goRegexp(pattern: string): RE2JS | null {
  let re = cache.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch {
      re = null;
    }
    // Patterns come from clients: keep the memo small.
    if (cache.size >= 256) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

/** docker's filters.Args.Match: the value itself, or a Go regexp found anywhere in it; a bad one matches nothing else. */
export function goFilterMatch(source: string, pattern: string): boolean {
  return source === pattern || (goRegexp(pattern)?.test(source) ?? false);
}
