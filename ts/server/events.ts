// /events (the engine's event record, streamed as docker's JSON objects) and /system/df.
import { treeSize } from '../engine/inspect.js';
import { checkEventFilters } from '../engine/events.js';
import { badRequest } from './errors.js';
import { qFilters, sendJson, type Ctx, type Router } from './router.js';

/** docker's since/until: Unix seconds with an optional fraction ("1700000000.123456789"), or an RFC 3339 time. */
function timeParam(c: Ctx, k: string): Date | undefined {
  const v = c.query.get(k);
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return new Date(Number(v) * 1000);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw badRequest(`invalid ${k} ${JSON.stringify(v)}: want Unix seconds or an RFC 3339 time`);
  return d;
}

/** Streams until `until` (if given) or until the client goes away; the reader stops on abort, leaving no fd. */
async function events(c: Ctx): Promise<void> {
  let filters;
  try {
    filters = checkEventFilters(qFilters(c.query));
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const since = timeParam(c, 'since');
  const until = timeParam(c, 'until');
  const ac = new AbortController();
  const res = c.res!;
  const stop = () => ac.abort();
  res.on('close', stop);
  c.req.on('close', stop);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  // Headers go out at once: a client waits for them before it runs what it watches.
  res.flushHeaders();
  try {
    for await (const e of c.engine.events({ since, until, filters, signal: ac.signal })) {
      if (ac.signal.aborted || res.destroyed) break;
      res.write(JSON.stringify(e) + '\n');
    }
  } finally {
    res.off('close', stop);
    if (!res.writableEnded) res.end();
  }
}

function df(c: Ctx): void {
  const images = c.engine.images.list();
  const containers = c.engine.containers.list({ all: true, size: true });
  const volumes = c.engine.volumes.list().map((v) => {
    const users = containers.filter((s) => s.Mounts?.some((m) => m.Name === v.Name)).length;
    return { ...v, UsageData: { Size: treeSize(v.Mountpoint), RefCount: users } };
  });
  sendJson(c, 200, {
    LayersSize: images.reduce((n, i) => n + i.Size, 0),
    Images: images.map((i) => ({ ...i, Containers: containers.filter((s) => s.ImageID === i.Id).length })),
    Containers: containers,
    Volumes: volumes,
    BuildCache: [],
  });
}

export function eventRoutes(r: Router): void {
  r.on('GET', '/events', events).on('GET', '/system/df', df);
}
