// Images made through the API: POST /build (a tar context in the body, docker's JSON stream),
// POST /commit and POST /images/{name}/push (docker's JSON progress), over the engine's builder,
// commit and push.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { mustFind } from '../engine/containers.js';
import { BuildError } from '../engine/build/errors.js';
import { familiarName, parseReference } from '../engine/images.js';
import { badRequest, notImplemented, statusOf } from './errors.js';
import { registryAuth } from './images.js';
import { jsonBody, qBool, sendJson, type Ctx, type Router } from './router.js';
import { hostTool } from '../host-tools.js';

/** A JSON object from the query ({"K":"V"}), as docker sends buildargs and labels. */
function qJson(c: Ctx, k: string): Record<string, string> {
  const v = c.query.get(k);
  if (!v) return {};
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch {
    throw badRequest(`invalid ${k}: not JSON`);
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw badRequest(`invalid ${k}: want a JSON object`);
  const out: Record<string, string> = {};
  // buildargs: a null value means "from the client's environment", which the client already resolved.
  for (const [key, val] of Object.entries(o)) if (val !== null) out[key] = String(val);
  return out;
}

/** docker's JSON lines: headers once, then one object per line; an error after the start is an object too. */
function jsonStream(c: Ctx) {
  let started = false;
  return {
    send(o: object) {
      if (!started) {
        started = true;
        c.res!.writeHead(200, { 'Content-Type': 'application/json' });
      }
      if (!c.res!.writableEnded && !c.res!.destroyed) c.res!.write(JSON.stringify(o) + '\n');
    },
    get started() {
      return started;
    },
  };
}

const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

async function build(c: Ctx): Promise<void> {
  const q = c.query;
  if (q.get('remote')) throw badRequest('build: a remote context (remote=) is not supported: send the context as a tar');
  const tags = q.getAll('t');
  for (const t of tags) {
    try {
      parseReference(t);
    } catch {
      throw badRequest(`invalid reference format: ${t}`);
    }
  }
  const network = q.get('networkmode') || 'none';
  if (!['none', 'host', 'default', 'bridge'].includes(network)) throw badRequest(`build: networkmode ${network}: want none, host or default`);
  const quiet = qBool(q, 'q');
  const buildArgs = qJson(c, 'buildargs');
  const labels = qJson(c, 'labels');
  const tmp = mkdtempSync(join(tmpdir(), 'tsbox-api-build-'));
  try {
    // The body: the context as a tar (docker's clients send it plain or gzipped; tar reads both).
    const tar = join(tmp, 'context.tar');
    await pipeline(c.req, createWriteStream(tar, { mode: 0o600 }));
    const ctx = join(tmp, 'ctx');
    mkdirSync(ctx, { mode: 0o700 });
    if (statSync(tar).size > 0) {
      // GNU tar keeps members inside ctx: no absolute names, no "..", and links that point out are placeholders until the end.
      const x = spawnSync(hostTool('tar'), ['-x', '--no-same-owner', '--no-same-permissions', '-C', ctx, '-f', tar], { encoding: 'utf8' });
      if (x.status !== 0) throw badRequest(`build: the context is not a readable tar: ${x.stderr.trim()}`);
    }
    const name = q.get('dockerfile') || 'Dockerfile';
    const dfPath = resolve(ctx, name);
    if (dfPath !== ctx && !dfPath.startsWith(ctx + sep)) throw badRequest(`build: the Dockerfile ${name} is outside the context`);
    if (!existsSync(dfPath) || !statSync(dfPath).isFile()) throw badRequest(`Cannot locate specified Dockerfile: ${name}`);
    const dockerfile = readFileSync(dfPath, 'utf8');
    const out = jsonStream(c);
    const say = (s: string) => {
      if (!quiet) out.send({ stream: s });
    };
    let step = 0;
    try {
      const r = await c.engine.images.build({
        context: ctx,
        dockerfile,
        dockerfileName: name,
        tags,
        buildArgs,
        target: q.get('target') || undefined,
        noCache: qBool(q, 'nocache'),
        pull: qBool(q, 'pull'),
        labels,
        network: network === 'bridge' ? 'default' : (network as 'none' | 'host' | 'default'),
        platform: q.get('platform') || undefined,
        onStep: (e) => {
          step++;
          say(`Step ${step}/${step > e.steps ? step : e.steps} : ${e.text}\n`);
          if (e.cached) say(' ---> Using cache\n');
        },
        onOutput: (b) => say(b.toString('utf8')),
      });
      out.send({ aux: { ID: r.id } });
      // -q: docker's CLI prints what the stream says, which is then the id alone.
      if (quiet) out.send({ stream: `${r.id}\n` });
      say(`Successfully built ${shortId(r.id)}\n`);
      for (const t of r.names) {
        const n = parseReference(t);
        say(`Successfully tagged ${familiarName(n)}:${n.tag ?? 'latest'}\n`);
      }
    } catch (e) {
      const { message } = statusOf(e);
      // A RUN that failed: docker's daemon sends its exit code, which its CLI exits with.
      const code = e instanceof BuildError ? Number(/exit code: (\d+)$/.exec(message)?.[1] ?? 0) : 0;
      out.send({ errorDetail: { ...(code ? { code } : {}), message }, error: message });
    }
    c.res!.end();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=: 201 {"Id"}. The body (a container config) is not applied. */
async function commit(c: Ctx): Promise<void> {
  const q = c.query;
  // docker 20.10's commit sends its config as null.
  await jsonBody(c, { orNull: true });
  const container = q.get('container');
  if (!container) throw badRequest('commit: want ?container=');
  const r = mustFind(c.engine.root, container);
  const repo = q.get('repo') || '';
  const tag = q.get('tag') || '';
  if (tag && !repo) throw badRequest('commit: a tag needs a repo');
  const name = repo ? `${repo}:${tag || 'latest'}` : undefined;
  if (name) {
    try {
      parseReference(name);
    } catch {
      throw badRequest(`invalid reference format: ${name}`);
    }
  }
  // The CLI sends each --change as its own changes= (an instruction may hold newlines of a heredoc: split, as docker does).
  const changes = q.getAll('changes').flatMap((s) => s.split('\n')).filter((s) => s.trim());
  const pause = q.get('pause') === null ? true : qBool(q, 'pause');
  const res = await c.engine.containers.commit(r.Id, { name, changes, message: q.get('comment') || undefined, author: q.get('author') || undefined, pause });
  sendJson(c, 201, { Id: res.id });
}

/** POST /images/{name}/push?tag=: docker's progress lines, then the digest and its aux. */
async function push(c: Ctx): Promise<void> {
  const base = c.params[0];
  const tag = c.query.get('tag');
  const name = tag ? `${base}:${tag}` : base;
  let ref;
  try {
    ref = parseReference(name);
  } catch {
    throw badRequest(`invalid reference format: ${name}`);
  }
  // Fails here, before any progress, with its own status: an unknown image is a 404.
  c.engine.images.inspect(name);
  const credentials = registryAuth(c);
  const out = jsonStream(c);
  out.send({ status: `The push refers to repository [${familiarName(ref)}]` });
  try {
    const r = await c.engine.images.push(name, { credentials, onProgress: (id, status) => out.send({ status, progressDetail: {}, id }) });
    out.send({ status: `${r.tag}: digest: ${r.digest} size: ${r.size}` });
    out.send({ progressDetail: {}, aux: { Tag: r.tag, Digest: r.digest, Size: r.size } });
  } catch (e) {
    const { message } = statusOf(e);
    out.send({ errorDetail: { message }, error: message });
  }
  c.res!.end();
}

export function buildRoutes(r: Router): void {
  r.on('POST', '/build', build)
    .on('POST', '/build/prune', () => {
      throw notImplemented('the build cache (/build/prune) is not supported by tsbox yet');
    })
    .on('POST', '/commit', commit)
    .on('POST', '/images/{*}/push', push);
}
