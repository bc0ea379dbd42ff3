// /containers/{id}/archive: a path of the container's filesystem as a tar (GET), its stat (HEAD, and
// the X-Docker-Container-Path-Stat header), and a tar unpacked into a directory of it (PUT). Both ways
// go through a private directory of ours and ts/engine/copy.ts's copy, which resolves every container
// path inside its root: a container's symlinks never lead a copy onto the host.
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { tmpdir } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { copyPath } from '../engine/copy.js';
import { liveState, mustFind, type ContainerRecord } from '../engine/containers.js';
import { extractLayer } from '../images/extract.js';
import { snapshotDir, snapshotKind } from '../images/snapshot.js';
import { isRootless } from '../runtime/rootless.js';
import { native } from '../native.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { sendEmpty, type Ctx, type Router } from './router.js';
import { hostTool } from '../host-tools.js';

const AT_FDCWD = -100;
const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const RESOLVE_IN_ROOT = 0x10;
const RESOLVE_NO_MAGICLINKS = 0x02;

function rootfsOf(root: string, r: ContainerRecord): string {
  // Rootless, the filesystem is mounted only inside the container: reach it through its first process.
  if (isRootless() && snapshotKind() !== 'copy') {
    const live = liveState(root, r);
    if (!live.Running) throw new ApiError(409, `container ${r.Name} is not running (without root its filesystem is mounted only while it runs)`);
    return `/proc/${live.Pid}/root`;
  }
  return join(snapshotDir(root, r.Id), 'rootfs');
}

// Go's os.FileMode bits, which docker's stat header carries.
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;

/** lstat of a path inside the container's root (resolved inside it). */
function statIn(rootfs: string, path: string, ref: string): { name: string; size: number; mode: number; mtime: string; linkTarget: string } {
  const dir = native().openat2(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY, 0);
  let fd: number;
  try {
    fd = native().openat2(dir, posix.normalize(`/${path}`).replace(/\/+$/, '') || '/', O_PATH | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || /ENOENT/.test((e as Error).message)) throw notFound(`Could not find the file ${path} in container ${ref}`);
    throw e;
  } finally {
    closeSync(dir);
  }
  try {
    const st = fstatSync(fd);
    const type = st.isDirectory() ? GO_DIR : st.isSymbolicLink() ? GO_SYMLINK : 0;
    return { name: posix.basename(posix.normalize(`/${path}`)) || '/', size: st.size, mode: (st.mode & 0o7777) + type, mtime: st.mtime.toISOString(), linkTarget: '' };
  } finally {
    closeSync(fd);
  }
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
  const r = mustFind(c.engine.root, c.params[0]);
  const s = statIn(rootfsOf(c.engine.root, r), pathOf(c), c.params[0]);
  c.res!.setHeader('X-Docker-Container-Path-Stat', statHeader(s));
  sendEmpty(c, 200);
}

async function get(c: Ctx): Promise<void> {
  const r = mustFind(c.engine.root, c.params[0]);
  const rootfs = rootfsOf(c.engine.root, r);
  const path = pathOf(c);
  const s = statIn(rootfs, path, c.params[0]);
  const tmp = mkdtempSync(join(tmpdir(), 'tsbox-archive-'));
  try {
    copyPath({ root: rootfs, path, label: `${r.Name}:${path}` }, { path: `${tmp}/` }, { archive: true });
    const names = readdirSync(tmp);
    c.res!.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': statHeader(s) });
    const tar = spawn(hostTool('tar'), ['-C', tmp, '--numeric-owner', '-cf', '-', '--', ...names], { stdio: ['ignore', 'pipe', 'ignore'] });
    await pipeline(tar.stdout, c.res!);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function put(c: Ctx): Promise<void> {
  const r = mustFind(c.engine.root, c.params[0]);
  const rootfs = rootfsOf(c.engine.root, r);
  const path = pathOf(c);
  const s = statIn(rootfs, path, c.params[0]);
  if (!(s.mode & GO_DIR)) throw badRequest(`extraction point is not a directory: ${path}`);
  const tmp = mkdtempSync(join(tmpdir(), 'tsbox-archive-'));
  try {
    try {
      await extractLayer(c.req, tmp);
    } catch (e) {
      throw badRequest(`archive: ${(e as Error).message}`);
    }
    const dest = `${posix.normalize(`/${path}`).replace(/\/+$/, '')}/`;
    for (const n of readdirSync(tmp)) copyPath({ path: join(tmp, n) }, { root: rootfs, path: dest, label: `${r.Name}:${dest}` }, { archive: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  sendEmpty(c, 200);
}

export function archiveRoutes(r: Router): void {
  r.on('HEAD', '/containers/{}/archive', head).on('GET', '/containers/{}/archive', get).on('PUT', '/containers/{}/archive', put);
}
