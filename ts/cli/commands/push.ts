// push and history: an image to its registry, and the steps that made it, as docker prints them.
import { Engine } from '../../engine/engine.js';
import { EngineError } from '../../engine/containers.js';
import { familiarName, parseReference, PushImageNotFoundError, type HistoryEntry } from '../../engine/images.js';
import { args, UsageError, type Command } from '../common.js';
import { progress } from '../progress.js';
import { humanDuration, humanSizeWithPrecision } from '../../engine/units.js';

export const pushCommand: Command = async (argv, g) => {
  const a = args(argv, { quiet: { type: 'boolean', short: 'q' }, 'all-tags': { type: 'boolean', short: 'a' }, 'insecure-registry': { type: 'string', multiple: true } });
  if (a.positionals.length !== 1) throw new UsageError('push: want exactly one image name (tsbox push [-a] NAME[:TAG])');
  const name = a.positionals[0];
  const quiet = a.values.quiet ?? false;
  let ref;
  try {
    ref = parseReference(name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const engine = new Engine({ root: g.root });
  let names = [name];
  if (a.values['all-tags']) {
    if (/:[^/]+$/.test(name)) throw new UsageError('push: tag can\'t be used with --all-tags/-a');
    const repo = `${ref.registry}/${ref.repository}:`;
    names = engine.images.list().flatMap((i) => i.RepoTags.filter((t) => t.startsWith(repo))).sort();
    if (!names.length) {
      process.stderr.write(`Error response from daemon: An image does not exist locally with the tag: ${name}\n`);
      return 1;
    }
  }
  if (!quiet) process.stdout.write(`The push refers to repository [${ref.registry === 'docker.io' ? `docker.io/${ref.repository}` : familiarName(ref)}]\n`);
  for (const n of names) {
    try {
      const r = await engine.images.push(n, { insecureRegistries: a.values['insecure-registry'], onProgress: quiet ? undefined : progress().status });
      process.stdout.write(quiet ? `${n}\n` : `${r.tag}: digest: ${r.digest} size: ${r.size}\n`);
    } catch (e) {
      // docker's daemon-side failures: "Error ...", exit 1.
      if (e instanceof PushImageNotFoundError) process.stderr.write(`Error response from daemon: ${e.message}\n`);
      else process.stderr.write(`Error: ${(e as Error).message.split('\n')[0]}\n`);
      return 1;
    }
  }
  return 0;
};

// history's CREATED and SIZE: go-units' HumanDuration and HumanSizeWithPrecision(n, 3), as docker's.
export { humanDuration } from '../../engine/units.js';
export const humanSize = (n: number): string => humanSizeWithPrecision(n, 3);

/** docker's Ellipsis: at most max characters, the last one an ellipsis when cut. */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

interface Row {
  ID: string;
  CreatedSince: string;
  CreatedAt: string;
  CreatedBy: string;
  Size: string;
  Comment: string;
}

function rowOf(h: HistoryEntry, o: { trunc: boolean; human: boolean }): Row {
  const id = h.Id === '<missing>' ? h.Id : o.trunc ? h.Id.replace(/^sha256:/, '').slice(0, 12) : h.Id;
  const createdAt = h.Created ? new Date(h.Created * 1000).toISOString().replace(/\.000Z$/, 'Z') : '';
  const createdBy = h.CreatedBy.replaceAll('\t', ' ');
  return {
    ID: id,
    CreatedSince: h.Created ? `${humanDuration(Date.now() - h.Created * 1000)} ago` : 'N/A',
    CreatedAt: createdAt,
    CreatedBy: o.trunc ? ellipsis(createdBy, 45) : createdBy,
    Size: o.human ? humanSize(h.Size) : String(h.Size),
    Comment: h.Comment,
  };
}

/** A Go template reduced to {{.Field}} substitutions (and \t), enough for history's fields. */
function template(fmt: string, r: Row): string {
  return fmt.replaceAll('\\t', '\t').replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, k: string) => {
    if (!(k in r)) throw new UsageError(`history: template: can't evaluate field ${k} in type history`);
    return r[k as keyof Row];
  });
}

/** Go's tabwriter with docker's settings: columns at least 10 wide, 3 spaces of padding; the last column unpadded. */
function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...r[i]].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(Math.max(w[i] + 3, 10) - [...c].length))).join('') + '\n';
  return line(header) + rows.map(line).join('');
}

export const historyCommand: Command = async (argv, g) => {
  const a = args(argv, { 'no-trunc': { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, format: { type: 'string' }, human: { type: 'string', short: 'H' } });
  if (a.positionals.length !== 1) throw new UsageError('history: want exactly one image (tsbox history [--no-trunc] [-q] [--format FORMAT] IMAGE)');
  const human = a.values.human === undefined || !/^(false|0)$/.test(a.values.human);
  let entries: HistoryEntry[];
  try {
    entries = new Engine({ root: g.root }).images.history(a.positionals[0]);
  } catch (e) {
    if (e instanceof EngineError) {
      process.stderr.write(`Error response from daemon: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const rows = entries.map((h) => rowOf(h, { trunc: !a.values['no-trunc'], human }));
  const fmt = a.values.format;
  if (a.values.quiet) process.stdout.write(rows.map((r) => `${r.ID}\n`).join(''));
  else if (fmt === 'json') process.stdout.write(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  else if (fmt && !fmt.startsWith('table')) process.stdout.write(rows.map((r) => `${template(fmt, r)}\n`).join(''));
  else if (fmt) {
    // "table {{.ID}}\t{{.Size}}": the header names the fields, the cells line up.
    const cols = fmt.slice(5).trim().split(/\\t|\t/).filter(Boolean);
    const heads: Record<string, string> = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };
    const header = cols.map((c) => template(c.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_m, k: string) => heads[k] ?? k.toUpperCase()), rows[0] ?? ({} as Row)));
    process.stdout.write(table(header, rows.map((r) => cols.map((c) => template(c, r)))));
  } else {
    const created = human ? (r: Row) => r.CreatedSince : (r: Row) => r.CreatedAt;
    process.stdout.write(table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows.map((r) => [r.ID, created(r), r.CreatedBy, r.Size, r.Comment])));
  }
  return 0;
};
