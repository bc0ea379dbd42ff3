// Go's regexp (RE2 syntax, linear time, no backreferences or lookaround) for the patterns that clients
// send: docker's name filters are Go regexps, and a JavaScript RegExp built from one such as `(a+)+$`
// backtracks for hours against a long name, stalling the one thread that answers every client.
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

// Loaded on the first pattern: RE2's tables are 6-8 ms of module start that most commands never use. From
// node_modules (a dependency), where the bundles leave it.
let re2: typeof RE2JS | undefined;
const engine = () => (re2 ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS);

const cache = new Map<string, RE2JS | null>();

/** The pattern compiled with RE2's syntax; null where Go's regexp.Compile would fail. */
export function goRegexp(pattern: string): RE2JS | null {
  let re = cache.get(pattern);
  if (re === undefined) {
    try {
      re = engine().compile(pattern);
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
