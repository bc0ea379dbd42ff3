// docker commit: a container's writable layer (its overlay upper dir) as a new layer over its image,
// with -c changes (Dockerfile instructions) and -m's comment in the history.
import { existsSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import * as ops from '../runtime/operations.js';
import { upperToTar } from '../images/layer-tar.js';
import { imageLayers, saveImage, storeLayer } from '../images/built.js';
import { containerImage } from './container-image.js';
import { snapshotDir } from '../images/snapshot.js';
import { Store } from '../images/store.js';
import { UsageError } from '../errors.js';
import { EngineError, liveState, mustFind, stateRoot } from './containers.js';
import { applyMeta, type ImageDoc } from './build/config.js';

export interface CommitOptions {
  /** Dockerfile instructions applied to the config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, ...). */
  changes?: string[];
  message?: string;
  author?: string;
  /** Freeze the container while its layer is read (docker's default). */
  pause?: boolean;
  /** REPO[:TAG] (none: an untagged image, by id). */
  name?: string;
}

const ALLOWED = new Set(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

/** Empty files and dirs the runtime made as mount points: not the container's changes. */
function mountPoint(rel: string, st: Stats): boolean {
  if (['etc/hosts', 'etc/hostname', 'etc/resolv.conf'].includes(rel)) return st.isFile() && st.size === 0;
  return false;
}

export async function commitContainer(root: string, ref: string, o: CommitOptions = {}): Promise<{ id: string; digest: string }> {
  const r = mustFind(root, ref);
  const store = new Store(root);
  const found = containerImage(root, r);
  const image = found?.stored ? found.rec : undefined;
  if (!image) throw new EngineError(`container ${r.Name}: its image ${r.Image} is gone`, 'ERR_NO_SUCH_IMAGE');
  const upper = join(snapshotDir(root, r.Id), 'upper');
  if (!existsSync(upper)) throw new UsageError(`commit ${ref}: the container has no writable layer (${upper}); the copy snapshotter cannot commit`);
  const doc = structuredClone(store.readJson<ImageDoc>(image.config, 'config'));
  doc.history ??= [];
  // The Dockerfile parser loads on use: a library import of tsbox does not pull it in.
  const { parseDockerfile } = await import('./build/parse.js');
  const instrs = parseDockerfile(`FROM scratch\n${(o.changes ?? []).join('\n')}\n`, 'commit --change').stages[0].steps;
  const vars: Record<string, string | undefined> = {};
  for (const e of doc.config.Env ?? []) vars[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
  for (const i of instrs) {
    if (!ALLOWED.has(i.keyword)) throw new UsageError(`commit --change ${JSON.stringify(i.text)}: ${i.keyword} is not supported`);
    if (i.keyword === 'WORKDIR') doc.config.WorkingDir = i.args.trim();
    else applyMeta(doc.config, i, vars, { cmdFromBase: false });
  }
  const running = liveState(root, r).Running;
  const pause = running && o.pause !== false && !liveState(root, r).Paused;
  if (pause) ops.pause(stateRoot(root), r.Id);
  try {
    const tmp = store.tempPath('layer.tar');
    const lt = await upperToTar(upper, tmp, { skip: mountPoint });
    const layers = imageLayers(store, image);
    const created = new Date().toISOString();
    const desc = await storeLayer(store, tmp, lt);
    layers.push(desc);
    doc.rootfs.diff_ids = [...doc.rootfs.diff_ids, lt.digest];
    doc.created = created;
    if (o.author) doc.author = o.author;
    doc.history.push({ created, created_by: r.Args.join(' '), ...(o.message ? { comment: o.message } : {}), ...(o.author ? { author: o.author } : {}) } as ImageDoc['history'][number]);
    const rec = saveImage(store, doc, layers, o.name ? [o.name] : []);
    return { id: rec.config, digest: rec.manifest };
  } finally {
    if (pause) ops.resume(stateRoot(root), r.Id);
  }
}
