// /images/...: pull (docker's JSON progress stream), list, inspect, history, tag, remove, save, load, prune.
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { familiarName, loadedLine, manifestUrl, normalizedName, parseReference, type Credentials, type Reference } from '../engine/images.js';
import { ApiError, badRequest, notImplemented, statusOf } from './errors.js';
import { qBool, qFilters, sendJson, type Ctx, type Router } from './router.js';

/** docker's API names Docker Hub images the short way: busybox:latest, not docker.io/library/busybox:latest. */
const familiarUntag = (x: { Untagged: string } | { Deleted: string }) => ('Untagged' in x ? { Untagged: normalizedName(x.Untagged) } : x);
const familiarTags = <T extends { RepoTags: string[]; RepoDigests: string[] }>(i: T): T => ({ ...i, RepoTags: i.RepoTags.map(normalizedName), RepoDigests: i.RepoDigests.map(normalizedName) });

/** X-Registry-Auth: base64url of {"username","password","serveraddress"} (or an identitytoken). */
export function registryAuth(c: Ctx): Credentials | undefined {
  const h = c.req.headers['x-registry-auth'];
  if (!h || Array.isArray(h)) return undefined;
  let o: { username?: string; password?: string; identitytoken?: string };
  try {
    o = JSON.parse(Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as typeof o;
  } catch {
    throw badRequest('X-Registry-Auth: not base64 JSON');
  }
  if (!o || typeof o !== 'object') return undefined;
  if (o.identitytoken) throw notImplemented('X-Registry-Auth: identity tokens are not supported; send a username and password');
  return o.username ? { username: o.username, password: o.password ?? '' } : undefined;
}

/** docker pull: a progress stream of JSON objects; an error before any progress is a status of its own. */
async function create(c: Ctx): Promise<void> {
  const q = c.query;
  if (q.get('fromSrc')) throw notImplemented('importing an image through the API (fromSrc) is not supported: use tsbox import');
  const from = q.get('fromImage');
  if (!from) throw badRequest('image create: want fromImage');
  const tag = q.get('tag');
  const name = tag ? (tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`) : /:[^/]+$|@/.test(from) ? from : `${from}:latest`;
  const credentials = registryAuth(c);
  let started = false;
  const send = (o: object) => {
    if (!started) {
      started = true;
      c.res!.writeHead(200, { 'Content-Type': 'application/json' });
    }
    if (!c.res!.writableEnded && !c.res!.destroyed) c.res!.write(JSON.stringify(o) + '\n');
  };
  let repo: string;
  let ref: Reference;
  try {
    ref = parseReference(name);
    repo = familiarName(ref);
  } catch {
    throw badRequest(`invalid reference format: ${name}`);
  }
  // A client that goes away does not stop the pull: the store gets the whole image or none of it.
  try {
    const suffix = /[:@][^/:@]+$/.exec(name)?.[0] ?? ':latest';
    // Nothing is sent before the registry answered: an early error (no such image, denied) keeps its status.
    const r = await c.engine.images.pull(name, {
      platform: q.get('platform') || undefined,
      credentials,
      onProgress: (id, status) => {
        // docker names the repository by its path on the registry (tok/busybox, library/busybox).
        if (!started) send({ status: `Pulling from ${ref.repository}`, id: suffix.slice(1) });
        send({ status, progressDetail: {}, id });
      },
    });
    if (!started) send({ status: `Pulling from ${ref.repository}`, id: suffix.slice(1) });
    send({ status: `Digest: ${r.digest}` });
    send({ status: `Status: Downloaded newer image for ${repo}${suffix}` });
    c.res!.end();
  } catch (e) {
    if (!started && !credentials && (e as { code?: string }).code === 'ERR_PULL_DENIED') {
      // An anonymous pull the registry (or its token server) refuses: docker's daemon words it as the
      // registry's answer to the manifest request, with a 500 (dockerd 20.10's status for it).
      throw new ApiError(500, `Head "${manifestUrl(ref)}": unauthorized: authentication required`);
    }
    if (!started) throw e;
    const { message } = statusOf(e);
    send({ errorDetail: { message }, error: message });
    c.res!.end();
  }
}

function list(c: Ctx): void {
  const f = qFilters(c.query, ['reference', 'label', 'dangling', 'before', 'since']);
  const filters = { reference: f.reference, label: f.label, dangling: f.dangling, before: f.before, since: f.since };
  // docker's daemon lists an image with no name at all as <none>:<none> (inspect says []).
  const none = <T extends { RepoTags: string[]; RepoDigests: string[] }>(i: T): T => (i.RepoTags.length || i.RepoDigests.length ? i : { ...i, RepoTags: ['<none>:<none>'], RepoDigests: ['<none>@<none>'] });
  sendJson(c, 200, c.engine.images.list({ filters }).map(familiarTags).map(none));
}

function remove(c: Ctx): void {
  sendJson(c, 200, c.engine.images.remove(c.params[0], { force: qBool(c.query, 'force') }).map(familiarUntag));
}

function tag(c: Ctx): void {
  const repo = c.query.get('repo');
  if (!repo) throw badRequest('tag: want ?repo=');
  const t = c.query.get('tag');
  c.engine.images.tag(c.params[0], t ? `${repo}:${t}` : repo);
  c.res!.writeHead(201).end();
}

/** docker save: one image (GET /images/NAME/get) or many (GET /images/get?names=...). */
async function get(c: Ctx, names: string[]): Promise<void> {
  if (!names.length) throw badRequest('save: want at least one image');
  for (const n of names) c.engine.images.inspect(n); // 404 before the stream starts
  const tmp = mkdtempSync(join(tmpdir(), 'tsbox-save-'));
  try {
    const file = join(tmp, 'images.tar');
    await c.engine.images.save(names, file);
    c.res!.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(createReadStream(file), c.res!);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function loadImages(c: Ctx): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'tsbox-load-'));
  try {
    const file = join(tmp, 'images.tar');
    await pipeline(c.req, createWriteStream(file));
    let recs;
    try {
      recs = await c.engine.images.load(file);
    } catch (e) {
      throw badRequest((e as Error).message.replace(file, 'the archive'));
    }
    c.res!.writeHead(200, { 'Content-Type': 'application/json' });
    for (const r of recs) c.res!.write(JSON.stringify({ stream: `${loadedLine(r)}\n` }) + '\n');
    c.res!.end();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function prune(c: Ctx): void {
  const f = qFilters(c.query, ['dangling', 'until', 'label', 'label!']);
  // dangling=false is `docker image prune -a`: every image no container uses.
  const all = (f.dangling ?? []).some((v) => /^(false|0)$/i.test(v));
  const r = c.engine.images.prune({ all, filters: { label: f.label, 'label!': f['label!'] } });
  // docker's: the images and their layers; the store's blobs are what the space counts.
  sendJson(c, 200, { ImagesDeleted: r.ImagesDeleted.map(familiarUntag), SpaceReclaimed: r.SpaceReclaimed });
}

export function imageRoutes(r: Router): void {
  r.on('POST', '/images/create', create)
    .on('GET', '/images/json', list)
    .on('GET', '/images/search', () => {
      throw notImplemented('image search is not supported by tsbox');
    })
    .on('POST', '/images/load', loadImages)
    .on('POST', '/images/prune', prune)
    .on('GET', '/images/get', (c) => get(c, c.query.getAll('names')))
    .on('GET', '/images/{*}/json', (c) => sendJson(c, 200, familiarTags(c.engine.images.inspect(c.params[0]))))
    .on('GET', '/images/{*}/history', (c) => sendJson(c, 200, c.engine.images.history(c.params[0])))
    .on('GET', '/images/{*}/get', (c) => get(c, [c.params[0]]))
    .on('POST', '/images/{*}/tag', tag)
    .on('DELETE', '/images/{*}', remove);
}
