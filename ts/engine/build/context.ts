// The build context: a directory filtered by .dockerignore (docker's semantics, @balena/dockerignore),
// and the sources a COPY/ADD names in it (paths or globs), with a content hash for the cache.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import * as ignoreModule from '@balena/dockerignore';
import type { Ignore } from '@balena/dockerignore';
import { globMatch } from '../path-match.js';

// The package is CommonJS (module.exports = factory) typed as an ES default export.
const ignore = ((ignoreModule as unknown as { default?: unknown }).default ?? ignoreModule) as () => Ignore;

export interface BuildContext {
  dir: string;
  /** Relative paths of everything .dockerignore lets through (directories included). */
  files: Set<string>;
}

export function loadContext(dir: string): BuildContext {
  const ig = ignore();
  const dockerignore = join(dir, '.dockerignore');
  if (existsSync(dockerignore)) ig.add(readFileSync(dockerignore, 'utf8').split('\n'));
  const files = new Set<string>();
  const walk = (rel: string) => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(dir, r));
      const ignored = ig.ignores(r);
      // An ignored directory may still hold a re-included path (!dir/keep): walk it, keep what survives.
      if (!ignored) files.add(r);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return { dir, files };
}

/** One thing to copy: its host path and the name it gets under the destination. */
export interface Source {
  host: string;
  /** Path relative to the source root (context or stage root). */
  rel: string;
  isDir: boolean;
}

const GLOB = /[*?[]/;

/**
 * Resolves COPY sources in the context. A missing or excluded path is docker's error; a directory
 * source stands for its contents.
 */
export function contextSources(ctx: BuildContext, patterns: string[], what: string): Source[] {
  const out: Source[] = [];
  for (const raw of patterns) {
    const p = posix.normalize('/' + raw).slice(1).replace(/\/+$/, '');
    if (p === '' || p === '.') {
      out.push({ host: ctx.dir, rel: '', isDir: true });
      continue;
    }
    const matches = GLOB.test(p) ? [...ctx.files].filter((f) => globMatch(p, f)) : ctx.files.has(p) ? [p] : [];
    if (!matches.length) throw new Error(`${what} failed: file not found in build context or excluded by .dockerignore: stat ${raw}: file does not exist`);
    for (const m of matches) out.push({ host: join(ctx.dir, m), rel: m, isDir: lstatSync(join(ctx.dir, m)).isDirectory() });
  }
  return out;
}

/** Relative paths below a directory source that the context includes (all of them for a stage root). */
export function filesBelow(ctx: BuildContext | undefined, src: Source, rootDir: string): string[] {
  if (ctx) return [...ctx.files].filter((f) => src.rel === '' || f.startsWith(`${src.rel}/`)).sort();
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(rootDir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      if (lstatSync(join(rootDir, r)).isDirectory()) walk(r);
    }
  };
  walk(src.rel);
  return out;
}

/** A hash of what the sources hold (names, modes, contents, link targets): COPY's cache input. */
export function hashSources(ctx: BuildContext | undefined, rootDir: string, sources: Source[]): string {
  const h = createHash('sha256');
  const add = (rel: string) => {
    const p = join(rootDir, rel);
    const st = lstatSync(p);
    h.update(`${rel}\0${st.mode}\0${st.uid}:${st.gid}\0`);
    if (st.isFile()) h.update(readFileSync(p));
    else if (st.isSymbolicLink()) h.update(readlinkSync(p));
    h.update('\0');
  };
  for (const s of sources) {
    add(s.rel);
    if (s.isDir) for (const f of filesBelow(ctx, s, rootDir)) add(f);
  }
  return h.digest('hex');
}
