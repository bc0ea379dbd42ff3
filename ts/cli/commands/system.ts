// system df / system prune: what tsbox keeps on disk, and clearing what nothing uses.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../images/store.js';
import { dirSize, imageSize } from '../../images/manage.js';
import { prune } from '../../images/archive.js';
import { listRecords, liveState, containerDir } from '../../engine/containers.js';
import { containerPruneCommand } from './containers.js';
import { args, UsageError, type Command } from '../common.js';
import { formatFailure, formatInspect } from '../format/index.js';

export const systemCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  if (sub === 'df') {
    const store = new Store(g.root);
    const images = store.images();
    const used = new Set(listRecords(g.root).map((r) => r.ImageId));
    const imgSize = images.reduce((n, i) => n + imageSize(store, i), 0);
    const containers = listRecords(g.root);
    const running = containers.filter((r) => liveState(g.root, r).Running).length;
    // A container's own size is its snapshot's upper layer.
    const cSize = containers.reduce((n, r) => n + dirSize(join(containerDir(g.root, r.Id), 'snapshot', 'upper')), 0);
    const vSize = dirSize(join(g.root, 'volumes'));
    const volumes = existsSync(join(g.root, 'volumes')) ? readdirSync(join(g.root, 'volumes')).length : 0;
    process.stdout.write('TYPE            TOTAL     ACTIVE    SIZE\n');
    process.stdout.write(`Images          ${String(images.length).padEnd(10)}${String(images.filter((i) => used.has(i.config)).length).padEnd(10)}${imgSize}B\n`);
    process.stdout.write(`Containers      ${String(containers.length).padEnd(10)}${String(running).padEnd(10)}${cSize}B\n`);
    process.stdout.write(`Local Volumes   ${String(volumes).padEnd(10)}${'0'.padEnd(10)}${vSize}B\n`);
    return 0;
  }
  if (sub === 'prune') {
    args(rest, { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' } });
    await containerPruneCommand([], g);
    const removed = prune(g.root);
    process.stdout.write(`Deleted image objects: ${removed.length}\n`);
    return 0;
  }
  if (sub === 'info') return infoCommand(rest, g);
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
