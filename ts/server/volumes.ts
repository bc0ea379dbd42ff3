// /volumes/...: create, list, inspect, remove, prune, over engine.volumes.
import { badRequest, conflict, notFound, statusOf } from './errors.js';
import { checkFields, jsonBody, qBool, qFilters, sendEmpty, sendJson, type Ctx, type Router } from './router.js';

function strMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw badRequest(`${what}: want an object of strings`);
  return v as Record<string, string>;
}

async function create(c: Ctx): Promise<void> {
  const b = await jsonBody(c);
  checkFields('volume create', b, ['Name', 'Driver', 'DriverOpts', 'Labels', 'ClusterVolumeSpec']);
  if (b.ClusterVolumeSpec) throw badRequest('volume create: cluster volumes are not supported by tsbox');
  if (b.Name !== undefined && typeof b.Name !== 'string') throw badRequest('volume create: Name: want a string');
  const name = (b.Name as string | undefined) || undefined;
  // docker answers an existing volume's create with the volume (compose relies on it), if the driver agrees.
  if (name) {
    let have;
    try {
      have = c.engine.volumes.inspect(name);
    } catch {
      // a new one
    }
    if (have) {
      if (b.Driver && b.Driver !== have.Driver) throw conflict(`create ${name}: a volume with the name ${name} already exists with the ${have.Driver} driver`);
      return sendJson(c, 201, have);
    }
  }
  const v = c.engine.volumes.create({ name, driver: (b.Driver as string) || undefined, driverOpts: strMap(b.DriverOpts, 'DriverOpts'), labels: strMap(b.Labels, 'Labels'), anonymous: false });
  sendJson(c, 201, v);
}

function list(c: Ctx): void {
  const f = qFilters(c.query, ['name', 'label', 'driver', 'dangling']);
  sendJson(c, 200, { Volumes: c.engine.volumes.list({ filters: f }), Warnings: [] });
}

function prune(c: Ctx): void {
  const f = qFilters(c.query, ['label', 'all']);
  // API 1.42+: only anonymous volumes unless all=true (a filter, as docker takes it).
  const all = (f.all ?? []).some((v) => ['1', 'true', 'True'].includes(v)) || (c.version < '1.42' && !f.all);
  sendJson(c, 200, c.engine.volumes.prune({ all, filters: f.label ? { label: f.label } : undefined }));
}

const wrap = (h: (c: Ctx) => Promise<void> | void) => async (c: Ctx) => {
  try {
    await h(c);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const { message } = statusOf(e);
    if (code === 'ERR_NO_SUCH_VOLUME') throw notFound(message);
    if (code === 'ERR_CONFLICT') throw conflict(message);
    if (code === 'ERR_USAGE') throw badRequest(message);
    throw e;
  }
};

export function volumeRoutes(r: Router): void {
  r.on('GET', '/volumes', wrap(list))
    .on('POST', '/volumes/create', wrap(create))
    .on('POST', '/volumes/prune', wrap(prune))
    .on('GET', '/volumes/{}', wrap((c) => sendJson(c, 200, c.engine.volumes.inspect(c.params[0]))))
    .on('DELETE', '/volumes/{}', wrap((c) => {
      const force = qBool(c.query, 'force');
      // dockerd's words for a missing one, as the docker CLI prints them
      if (!force) c.engine.volumes.inspect(c.params[0]);
      c.engine.volumes.remove(c.params[0], { force });
      sendEmpty(c, 204);
    }));
}
