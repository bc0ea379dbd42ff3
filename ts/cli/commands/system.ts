// system df / system prune: what tsbox keeps on disk, and clearing what nothing uses.
import { Engine } from '../../engine/engine.js';
import { args, confirm, UsageError, type Command } from '../common.js';
import { humanSize } from '../../engine/units.js';
import { formatFailure, formatInspect } from '../format/index.js';

export const systemCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  if (sub === 'df') {
    args(rest, {});
    const du = new Engine({ root: g.root }).system.df();
    // docker's RECLAIMABLE: what nothing uses, with its share of the total when there is one.
    const reclaim = (r: number, total: number) => (total > 0 ? `${humanSize(r)} (${Math.floor((r * 100) / total)}%)` : humanSize(r));
    const row = (name: string, x: typeof du.Images) => [name, x.Total, x.Active, humanSize(x.Size), reclaim(x.Reclaimable, x.Size)];
    const rows = [['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], row('Images', du.Images), row('Containers', du.Containers), row('Local Volumes', du.Volumes)].map((r) => r.map(String));
    // docker's tabwriter: columns at least 10 wide, 3 spaces of padding.
    const widths = rows[0].map((_, c) => Math.max(10, ...rows.map((r) => r[c].length + 3)));
    process.stdout.write(rows.map((r) => r.map((x, c) => (c < r.length - 1 ? x.padEnd(widths[c]) : x)).join('')).map((l) => `${l}\n`).join(''));
    return 0;
  }
  if (sub === 'prune') {
    const a = args(rest, { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' } });
    // docker's warning, naming what this prune removes; no answer (no stdin, its end) is no.
    const what = ['all stopped containers', 'all networks not used by at least one container', a.values.all ? 'all images without at least one container associated to them' : 'all dangling images'];
    if (!a.values.force && !(await confirm(`WARNING! This will remove:\n${what.map((w) => `  - ${w}\n`).join('')}\nAre you sure you want to continue?`))) return 0;
    const r = new Engine({ root: g.root }).system.prune({ all: a.values.all });
    // As the three prunes print their parts.
    process.stdout.write(r.ContainersDeleted.map((id) => `${id}\n`).join('') + `Deleted Containers: ${r.ContainersDeleted.length}\n`);
    if (r.NetworksDeleted.length) process.stdout.write(`Deleted Networks:\n${r.NetworksDeleted.map((n) => `${n}\n`).join('')}`);
    process.stdout.write(`Deleted image objects: ${r.Images.ImagesDeleted.length + r.Images.BlobsDeleted.length}\n`);
    return 0;
  }
  if (sub === 'info') return infoCommand(rest, g);
  if (sub === 'service') return (await import('./serve.js')).serveCommand(rest, g);
  if (sub === 'check') return (await import('./images.js')).verifyCommand(rest, g);
  throw new UsageError(`system: unknown subcommand ${JSON.stringify(sub ?? '')} (df, prune, info, check)`);
};

/** tsbox info: which mode tsbox runs in here and what it can use (docker info's useful part). */
export const infoCommand: Command = async (argv, g) => {
  const a = args(argv, { format: { type: 'string', short: 'f' } });
  const info = new Engine({ root: g.root }).system.info();
  if (a.values.format === 'json') {
    process.stdout.write(`${JSON.stringify(info)}\n`);
    return 0;
  }
  if (a.values.format) {
    try {
      process.stdout.write(formatInspect(a.values.format, [info]));
      return 0;
    } catch (e) {
      return formatFailure(e);
    }
  }
  // The text is tsbox's own report (docker's counts and keys are for --format).
  const { hostInfo } = await import('../../engine/info.js');
  for (const k of Object.keys(hostInfo(g.root)) as (keyof typeof info)[]) process.stdout.write(`${k}: ${info[k]}\n`);
  return 0;
};

/** tsbox version [--format]: docker's shape (Client, Server), the engine in this process as the server. */
export const versionCommand = (version: string): Command => async (argv, g) => {
  const a = args(argv, { format: { type: 'string', short: 'f' } });
  const v = new Engine({ root: g.root }).system.version(version);
  if (a.values.format === undefined) {
    process.stdout.write(`tsbox version ${version}\n`);
    return 0;
  }
  try {
    process.stdout.write(formatInspect(a.values.format, [v]));
    return 0;
  } catch (e) {
    return formatFailure(e);
  }
};
