// What a COPY or ADD reads: a heredoc (COPY <<EOF /path), another stage's or image's files (--from),
// or the context's (paths, globs) and, for ADD, downloads; with the hash of their content for the cache.
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';
import type { Store } from '../../images/store.js';
import { contextSources, hashSources, type BuildContext, type Source } from './context.js';
import { download } from './download.js';
import { resolveInRoot } from './inroot.js';
import { flag, type Instruction } from './instruction.js';
import type { BuildNetwork } from './run-step.js';
import { split } from './words.js';

export interface Sources {
  list: Source[];
  srcRoot: string;
  ctx?: BuildContext;
}

export interface SourceEnv {
  /** "Dockerfile:LINE" for errors. */
  where: string;
  exp: (s: string) => string;
  store: Store;
  ctx?: BuildContext;
  network: BuildNetwork;
  /** Temp dirs made here (downloads, heredocs): the builder removes them at the end. */
  temps: string[];
  /** The mounted root of a stage (name or index) or image. */
  stageRoot: (ref: string) => Promise<string>;
}

const HEREDOC = /^<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2\s+(\S+)[^\S\n]*\n([\s\S]*?)\n?\3\s*$/;
const URL_RE = /^https?:\/\//;

class SourceError extends Error {
  readonly exitCode = 1;
}

/** The sources, the cache input, and the instruction with only its destination left for a heredoc. */
export async function resolveSources(ins: Instruction, env: SourceEnv): Promise<{ sources: Sources; inputs: string; ins: Instruction }> {
  const kw = ins.keyword;
  const { where, exp, store, ctx } = env;
  const inline = HEREDOC.exec(ins.args.trim());
  if (inline) {
    // The heredoc is the file (variables expanded unless the delimiter is quoted).
    const [, strip, quoted, , destWord, raw] = inline;
    let body = quoted ? raw : exp(raw);
    if (strip) body = body.replace(/^\t+/gm, '');
    const dir = store.tempPath('heredoc');
    mkdirSync(dir, { mode: 0o700 });
    env.temps.push(dir);
    const name = posix.basename(exp(destWord)) || 'file';
    writeFileSync(join(dir, name), body ? `${body}\n` : '', { mode: 0o644 });
    return { sources: { list: [{ host: join(dir, name), rel: name, isDir: false }], srcRoot: dir }, inputs: createHash('sha256').update(body).digest('hex'), ins: { ...ins, args: destWord } };
  }
  const list = ins.args.trim().startsWith('[') ? (JSON.parse(ins.args) as string[]).map(exp) : split(exp(ins.args));
  if (list.length < 2) throw new SourceError(`${where}: ${kw} requires at least two arguments, but only one was provided`);
  const srcs = list.slice(0, -1);
  const from = flag(ins, 'from');
  if (from) {
    const r = await env.stageRoot(from);
    const found: Source[] = srcs.map((s) => {
      // Resolved inside that root: a symlink there cannot point the copy at the host's files.
      const host = resolveInRoot(r, s);
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (!st) throw new SourceError(`${where}: ${kw} --from=${from} failed: ${s}: no such file or directory`);
      return { host, rel: posix.relative('/', host.slice(r.length) || '/'), isDir: st.isDirectory() };
    });
    return { sources: { list: found, srcRoot: r }, inputs: hashSources(undefined, r, found), ins };
  }
  const urls = kw === 'ADD' ? srcs.filter((s) => URL_RE.test(s)) : [];
  if (urls.length && env.network === 'none') throw new SourceError(`${where}: ADD ${urls[0]}: downloading needs the network, and this build's is none (--network host)`);
  const local = srcs.filter((s) => !urls.includes(s));
  if (local.length && !ctx) throw new SourceError(`${where}: ${kw} needs a build context (none was given)`);
  const found = local.length ? contextSources(ctx!, local, kw) : [];
  let inputs = local.length ? hashSources(ctx, ctx!.dir, found) : '';
  for (const u of urls) {
    const got = await download(store, u, `${where}: ADD ${u}`);
    env.temps.push(got.dir);
    found.push({ host: got.file, rel: got.name, isDir: false });
    inputs += `\0${u}\0${got.sha}`;
  }
  return { sources: { list: found, srcRoot: ctx?.dir ?? '/', ctx }, inputs, ins };
}
