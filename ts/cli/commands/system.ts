// system df / system prune: what tsbox keeps on disk, and clearing what nothing uses.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Store } from '../../images/store.js';
import { imageSize } from '../../images/manage.js';
import { prune } from '../../images/archive.js';
import { listRecords, liveState, containerDir } from '../../engine/containers.js';
import { containerPruneCommand } from './containers.js';
import { UsageError, type Command } from '../common.js';

function duSync(p: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile()) total += statSync(f).size;
    }
  };
  if (existsSync(p)) walk(p);
  return total;
}

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
    const cSize = containers.reduce((n, r) => n + duSync(join(containerDir(g.root, r.Id), 'snapshot', 'upper')), 0);
    const vSize = duSync(join(g.root, 'volumes'));
    const volumes = existsSync(join(g.root, 'volumes')) ? readdirSync(join(g.root, 'volumes')).length : 0;
    process.stdout.write('TYPE            TOTAL     ACTIVE    SIZE\n');
    process.stdout.write(`Images          ${String(images.length).padEnd(10)}${String(images.filter((i) => used.has(i.config)).length).padEnd(10)}${imgSize}B\n`);
    process.stdout.write(`Containers      ${String(containers.length).padEnd(10)}${String(running).padEnd(10)}${cSize}B\n`);
    process.stdout.write(`Local Volumes   ${String(volumes).padEnd(10)}${'0'.padEnd(10)}${vSize}B\n`);
    return 0;
  }
  if (sub === 'prune') {
    try {
      parseArgs({ args: rest, options: { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' } }, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    await containerPruneCommand([], g);
    const removed = prune(g.root);
    process.stdout.write(`Deleted image objects: ${removed.length}\n`);
    return 0;
  }
  throw new UsageError(`system: unknown subcommand ${JSON.stringify(sub ?? '')} (df, prune)`);
};
