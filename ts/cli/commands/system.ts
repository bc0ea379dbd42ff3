// system df / system prune: what tsbox keeps on disk, and clearing what nothing uses.
import { join } from 'node:path';
import { Store } from '../../images/store.js';
import { dirSize, imageSize } from '../../images/manage.js';
import { prune } from '../../images/archive.js';
import { listRecords, liveState, containerDir } from '../../engine/containers.js';
import { containerPruneCommand } from './containers.js';
import { confirm } from './volume.js';
import { args, UsageError, type Command } from '../common.js';
import { humanSize } from '../../engine/units.js';
import { listVolumes, mountpoint, volumesOf } from '../../engine/volumes.js';
import { formatFailure, formatInspect } from '../format/index.js';

export const systemCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  if (sub === 'df') {
    args(rest, {});
    const store = new Store(g.root);
    const images = store.images();
    const containers = listRecords(g.root);
    const used = new Set(containers.map((r) => r.ImageId));
    const sizes = images.map((i) => [imageSize(store, i), used.has(i.config)] as const);
    const running = containers.map((r) => liveState(g.root, r).Running);
    // A container's own size is its snapshot's upper layer.
    const cSizes = containers.map((r) => dirSize(join(containerDir(g.root, r.Id), 'snapshot', 'upper')));
    const inUse = new Set(containers.flatMap(volumesOf));
    const vols = listVolumes(g.root).map((v) => [dirSize(mountpoint(g.root, v.Name)), inUse.has(v.Name)] as const);
    const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
    // docker's RECLAIMABLE: what nothing uses, with its share of the total when there is one.
    const reclaim = (r: number, total: number) => (total > 0 ? `${humanSize(r)} (${Math.floor((r * 100) / total)}%)` : humanSize(r));
    const iTotal = sum(sizes.map(([n]) => n));
    const cTotal = sum(cSizes);
    const vTotal = sum(vols.map(([n]) => n));
    const rows = [
      ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
      ['Images', images.length, sizes.filter(([, u]) => u).length, humanSize(iTotal), reclaim(iTotal - sum(sizes.filter(([, u]) => u).map(([n]) => n)), iTotal)],
      ['Containers', containers.length, running.filter(Boolean).length, humanSize(cTotal), reclaim(sum(cSizes.filter((_, k) => !running[k])), cTotal)],
      ['Local Volumes', vols.length, vols.filter(([, u]) => u).length, humanSize(vTotal), reclaim(sum(vols.filter(([, u]) => !u).map(([n]) => n)), vTotal)],
    ].map((r) => r.map(String));
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
    await containerPruneCommand([], g);
    await (await import('./network.js')).networkCommand(['prune', '--force'], g);
    const removed = prune(g.root);
    process.stdout.write(`Deleted image objects: ${removed.length}\n`);
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
  const { hostInfo } = await import('../../engine/info.js');
  const info = hostInfo(g.root);
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
  for (const [k, v] of Object.entries(info)) process.stdout.write(`${k}: ${v}\n`);
  return 0;
};

/** tsbox version [--format]: docker's shape (Client, Server), the engine in this process as the server. */
export const versionCommand = (version: string): Command => async (argv) => {
  const a = args(argv, { format: { type: 'string', short: 'f' } });
  const { arch, platform } = process;
  const goArch = arch === 'x64' ? 'amd64' : arch;
  const side = { Platform: { Name: 'tsbox' }, Version: version, ApiVersion: '1.41', NodeVersion: process.versions.node, Os: platform, Arch: goArch, BuildTime: '', GitCommit: '' };
  const v = { Client: side, Server: { ...side, Components: [{ Name: 'Engine', Version: version, Details: { ApiVersion: '1.41', Os: platform, Arch: goArch } }] } };
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
