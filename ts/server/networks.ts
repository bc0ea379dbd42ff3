// /networks/...: create, list, inspect, remove, prune, connect, disconnect, over engine.networks.
import { findContainer } from '../engine/containers.js';
import { badRequest, conflict, notFound, statusOf } from './errors.js';
import { checkFields, jsonBody, qFilters, sendEmpty, sendJson, type Ctx, type Router } from './router.js';

type Net = ReturnType<Ctx['engine']['networks']['inspect']>;

/**
 * docker's shape: a user network's Options are those it was created with (none here); the bridge's name
 * is docker's own for the default one only. compose recreates a network whose Options differ from its file.
 */
function shown(n: Net): Net {
  if (n.Name === 'bridge') return n;
  const { 'com.docker.network.bridge.name': _, ...Options } = n.Options;
  return { ...n, Options };
}

const CREATE_FIELDS = ['Name', 'CheckDuplicate', 'Driver', 'Scope', 'Internal', 'Attachable', 'Ingress', 'ConfigOnly', 'ConfigFrom', 'IPAM', 'EnableIPv6', 'Options', 'Labels'];
const LIST_FILTERS = ['name', 'id', 'label', 'driver', 'type', 'scope', 'dangling'];

function strMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw badRequest(`${what}: want an object of strings`);
  return v as Record<string, string>;
}

/** The engine's messages for a name already taken or a clashing pool are docker's 409s. */
function createError(e: unknown): unknown {
  const m = e instanceof Error ? e.message : String(e);
  if (/already exists|overlaps/.test(m)) return conflict(m);
  if (/invalid|reserved|host bits|plugin/.test(m)) return badRequest(m);
  return e;
}

async function create(c: Ctx): Promise<void> {
  const b = await jsonBody(c);
  checkFields('network create', b, CREATE_FIELDS);
  if (typeof b.Name !== 'string' || !b.Name) throw badRequest('network create: Name is required');
  if (b.EnableIPv6 === true) throw badRequest('network create: IPv6 networks are not supported by tsbox');
  if (b.Internal === true) throw badRequest('network create: internal networks are not supported by tsbox');
  const opts = strMap(b.Options, 'Options');
  if (opts && Object.keys(opts).length) throw badRequest(`network create: driver options are not supported by tsbox (${Object.keys(opts).join(', ')})`);
  const ipam = (b.IPAM ?? {}) as { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null };
  if (ipam.Driver && ipam.Driver !== 'default') throw badRequest(`IPAM driver ${JSON.stringify(ipam.Driver)} is not supported (default)`);
  const cfg = ipam.Config ?? [];
  if (cfg.length > 1) throw badRequest('network create: one IPAM config (one IPv4 subnet) at most');
  if (cfg[0]?.IPRange || cfg[0]?.Gateway) throw badRequest('network create: IPAM Gateway and IPRange are not supported (the gateway is the first address of the subnet)');
  // A bridge on these would take the host's loopback, link-local or multicast routes from it.
  const first = Number(/^(\d+)\./.exec(cfg[0]?.Subnet ?? '')?.[1]);
  const second = Number(/^\d+\.(\d+)\./.exec(cfg[0]?.Subnet ?? '')?.[1]);
  if (first === 0 || first === 127 || first >= 224 || (first === 169 && second === 254)) throw badRequest(`invalid subnet ${JSON.stringify(cfg[0]!.Subnet)}: a loopback, link-local, multicast or reserved range`);
  const driver = typeof b.Driver === 'string' && b.Driver ? b.Driver : 'bridge';
  if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found (only the bridge driver is supported)`);
  let n;
  try {
    n = c.engine.networks.create({ name: b.Name, driver, subnet: cfg[0]?.Subnet || undefined, labels: strMap(b.Labels, 'Labels') });
  } catch (e) {
    throw createError(e);
  }
  sendJson(c, 201, { Id: n.Id, Warning: '' });
}

function list(c: Ctx): void {
  const f = qFilters(c.query, LIST_FILTERS);
  sendJson(c, 200, c.engine.networks.list({ filters: f }).map(shown));
}

function inspect(c: Ctx): void {
  try {
    sendJson(c, 200, shown(c.engine.networks.inspect(c.params[0])));
  } catch (e) {
    // docker finds a network by id prefix too.
    const ref = c.params[0];
    const byId = c.engine.networks.list().filter((n) => n.Id.startsWith(ref));
    if (byId.length === 1) return sendJson(c, 200, shown(byId[0]));
    throw e;
  }
}

/** The network's name, for an id, an id prefix or a name (the engine's calls take names). */
function nameOf(c: Ctx, ref: string, missing = `network ${ref} not found`): string {
  const all = c.engine.networks.list();
  const n = all.find((x) => x.Name === ref) ?? all.find((x) => x.Id === ref) ?? (all.filter((x) => x.Id.startsWith(ref)).length === 1 ? all.find((x) => x.Id.startsWith(ref)) : undefined);
  if (!n) throw notFound(missing);
  return n.Name;
}

function remove(c: Ctx): void {
  const ref = c.params[0];
  if (['bridge', 'host', 'none'].includes(ref)) throw new ForbiddenError(`${ref} is a pre-defined network and cannot be removed`);
  // dockerd's words for DELETE, which the docker CLI prints as they are
  c.engine.networks.remove(nameOf(c, ref, `No such network: ${ref}`));
  sendEmpty(c, 204);
}

class ForbiddenError extends Error {}

function prune(c: Ctx): void {
  const f = qFilters(c.query, ['label', 'until']);
  if (f.until) throw badRequest("network prune: the 'until' filter is not supported by tsbox");
  sendJson(c, 200, c.engine.networks.prune({ filters: f.label ? { label: f.label } : undefined }));
}

async function connect(c: Ctx): Promise<void> {
  const b = await jsonBody(c);
  checkFields('network connect', b, ['Container', 'EndpointConfig']);
  if (typeof b.Container !== 'string' || !b.Container) throw badRequest('network connect: Container is required');
  const ep = (b.EndpointConfig ?? {}) as { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null; Links?: string[] | null };
  if (ep.IPAMConfig?.IPv6Address) throw badRequest('network connect: IPv6 addresses are not supported by tsbox');
  if (ep.Links?.length) throw badRequest('network connect: links are not supported by tsbox');
  const net = nameOf(c, c.params[0]);
  const aliases = ep.Aliases ?? [];
  // compose connects a created container to the network it was created on, with the aliases it gave in
  // NetworkingConfig: that is already so (docker would have replaced the endpoint), not a conflict.
  const r = findContainer(c.engine.root, b.Container);
  if (r && r.Options.network === net && !ep.IPAMConfig?.IPv4Address && !c.engine.containers.inspect(r.Id).State.Running) {
    const known = new Set([r.Name, r.Id.slice(0, 12), ...(r.Options.networkAlias ?? [])]);
    if (aliases.every((a) => known.has(a))) return sendEmpty(c, 200);
  }
  c.engine.networks.connect(net, b.Container, { aliases: aliases.length ? aliases : undefined, ip: ep.IPAMConfig?.IPv4Address || undefined });
  sendEmpty(c, 200);
}

async function disconnect(c: Ctx): Promise<void> {
  const b = await jsonBody(c);
  checkFields('network disconnect', b, ['Container', 'Force']);
  if (typeof b.Container !== 'string' || !b.Container) throw badRequest('network disconnect: Container is required');
  c.engine.networks.disconnect(nameOf(c, c.params[0]), b.Container, { force: b.Force === true });
  sendEmpty(c, 200);
}

/** docker's status for the engine's network errors: a predefined network is a 403, a bad alias a 400. */
const wrap = (h: (c: Ctx) => Promise<void> | void) => async (c: Ctx) => {
  try {
    await h(c);
  } catch (e) {
    if (e instanceof ForbiddenError) throw Object.assign(badRequest(e.message), { status: 403 });
    const code = (e as { code?: string }).code;
    const { message } = statusOf(e);
    if (code === 'ERR_NO_SUCH_NETWORK') throw notFound(message);
    if (code === 'ERR_FORBIDDEN') throw Object.assign(badRequest(message), { status: 403 });
    if (code === 'ERR_INVALID' || code === 'ERR_USAGE') throw badRequest(message);
    if (code === 'ERR_CONFLICT') throw conflict(message);
    throw e;
  }
};

export function networkRoutes(r: Router): void {
  r.on('GET', '/networks', wrap(list))
    .on('POST', '/networks/create', wrap(create))
    .on('POST', '/networks/prune', wrap(prune))
    .on('GET', '/networks/{}', wrap(inspect))
    .on('DELETE', '/networks/{}', wrap(remove))
    .on('POST', '/networks/{}/connect', wrap(connect))
    .on('POST', '/networks/{}/disconnect', wrap(disconnect));
}
