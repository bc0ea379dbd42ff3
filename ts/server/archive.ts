// /containers/{id}/archive: a path of the container's filesystem as a tar (GET), its stat (HEAD, and
// the X-Docker-Container-Path-Stat header), and a tar unpacked into a directory of it (PUT): the engine's
// stat, copyOut and copyIn (docker cp's), which resolve every container path inside its root, so a
// container's symlinks never lead a copy onto the host, and extract no devices.
import { posix } from 'node:path';
import { EngineError } from '../engine/containers.js';
import { badRequest } from './errors.js';
import { sendEmpty, type Ctx, type Router } from './router.js';

// Go's os.FileMode bits, which docker's stat header carries.
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;

/** docker's stat of a container path: name, size, Go's mode bits, mtime. */
function statOf(c: Ctx): { name: string; size: number; mode: number; mtime: string; linkTarget: string } {
  const { name, stats: st } = c.engine.containers.statPath(c.params[0], pathOf(c));
  const type = st.isDirectory() ? GO_DIR : st.isSymbolicLink() ? GO_SYMLINK : 0;
  return { name, size: st.size, mode: (st.mode & 0o7777) + type, mtime: st.mtime.toISOString(), linkTarget: '' };
}

function statHeader(s: object): string {
  return Buffer.from(JSON.stringify(s)).toString('base64');
}

function pathOf(c: Ctx): string {
  const p = c.query.get('path');
  if (!p) throw badRequest('archive: want ?path=');
  return p;
}

function head(c: Ctx): void {
  c.res!.setHeader('X-Docker-Container-Path-Stat', statHeader(statOf(c)));
  sendEmpty(c, 200);
}

async function get(c: Ctx): Promise<void> {
  const s = statOf(c);
  c.res!.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': statHeader(s) });
  await c.engine.containers.copyOut(c.params[0], pathOf(c), c.res!);
}

async function put(c: Ctx): Promise<void> {
  const path = pathOf(c);
  if (!(statOf(c).mode & GO_DIR)) throw badRequest(`extraction point is not a directory: ${path}`);
  try {
    await c.engine.containers.copyIn(c.params[0], `${posix.normalize(`/${path}`).replace(/\/+$/, '')}/`, c.req);
  } catch (e) {
    // The archive's own faults (entries leaving the directory, a broken tar) are the client's.
    if (e instanceof EngineError && e.code !== 'ERR_ENGINE') throw e;
    throw badRequest(`archive: ${(e as Error).message}`);
  }
  sendEmpty(c, 200);
}

export function archiveRoutes(r: Router): void {
  r.on('HEAD', '/containers/{}/archive', head).on('GET', '/containers/{}/archive', get).on('PUT', '/containers/{}/archive', put);
}
