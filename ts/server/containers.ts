// /containers/...: the engine's containers as docker's daemon answers for them.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { containerDir, liveState, mustFind, loadRecord, statusFile } from '../engine/containers.js';
import type { WaitCondition } from '../engine/lifecycle.js';
import { CommandNotFoundError, NotExecutableError } from '../errors.js';
import { ImageNotFoundError } from '../errors.js';
import { badRequest, notFound, notImplemented, notModified } from './errors.js';
import { createOptions } from './create.js';
import { attach, attachments, markStdinOnce, resize } from './attach.js';
import { STDERR, STDOUT } from './stdcopy.js';
import { checkFields, jsonBody, qBool, qFilters, qInt, sendEmpty, sendJson, type Ctx, type Router } from './router.js';

const AUTO_REMOVE = 'auto-remove';
/** Exit codes of auto-removed containers, for a wait with condition=removed that asks after the removal. */
const removedCodes = new Map<string, number>();

/** AutoRemove: the container goes once it stops, while this server runs (a marker keeps the wish). */
function watchAutoRemove(c: Ctx, id: string): void {
  const root = c.engine.root;
  if (!existsSync(join(containerDir(root, id), AUTO_REMOVE))) return;
  void c.engine.containers
    .wait(id, { condition: 'not-running' })
    .then(async (w) => {
      removedCodes.set(id, await settledCode(root, id, w.StatusCode));
      for (let i = 0; i < 500 && (attachments.get(id)?.size ?? 0) > 0; i++) await sleep(20);
      setTimeout(() => removedCodes.delete(id), 60_000).unref();
      if (loadRecord(root, id)) c.engine.containers.remove(id, { force: true });
    })
    .catch(() => undefined);
}

/**
 * The exit code once the monitor has written it: between the process's end and that write, the engine
 * reads a container as exited without a status (137). Waits a moment for the status before answering.
 */
async function settledCode(root: string, id: string, code: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    let size = 0;
    try {
      size = statSync(statusFile(root, id)).size;
    } catch {
      return code; // removed: what we have is all there is
    }
    if (size > 0) {
      const r = loadRecord(root, id);
      return r ? liveState(root, r).ExitCode : code;
    }
    await sleep(20);
  }
  return code;
}

function ref(c: Ctx): string {
  return c.params[0];
}

async function create(c: Ctx): Promise<void> {
  const body = await jsonBody(c);
  const name = c.query.get('name') || undefined;
  if (name !== undefined && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const req = createOptions(body, name);
  if (c.query.get('platform')) req.options.platform = c.query.get('platform')!;
  req.options.rm = req.autoRemove;
  const warnings = [...req.warnings];
  let id: string;
  try {
    // Never pulled here: docker's clients pull when create answers 404, with their own progress and auth.
    id = await c.engine.containers.create({ ...req.options, pull: 'never' });
  } catch (e) {
    if (e instanceof ImageNotFoundError) throw notFound(`No such image: ${req.options.image}`);
    throw e;
  }
  if (req.autoRemove) writeFileSync(join(containerDir(c.engine.root, id), AUTO_REMOVE), '');
  if (body.StdinOnce === true) markStdinOnce(c.engine.root, id);
  sendJson(c, 201, { Id: id, Warnings: warnings });
}

async function start(c: Ctx): Promise<void> {
  const r = mustFind(c.engine.root, ref(c));
  if (liveState(c.engine.root, r).Running) throw notModified();
  try {
    await c.engine.containers.start(r.Id);
  } catch (e) {
    // An auto-remove container that cannot start goes at once, as docker's daemon removes it.
    if (existsSync(join(containerDir(c.engine.root, r.Id), AUTO_REMOVE))) {
      try {
        c.engine.containers.remove(r.Id, { force: true });
      } catch {
        // removed meanwhile
      }
    }
    // docker's wording, which its CLI turns into exit codes 127 and 126.
    if (e instanceof CommandNotFoundError) throw badRequest(`failed to create task: OCI runtime create failed: exec: ${e.message}: executable file not found in $PATH: unknown`);
    if (e instanceof NotExecutableError) throw badRequest(`failed to create task: OCI runtime create failed: exec: ${e.message}: permission denied: unknown`);
    throw e;
  }
  watchAutoRemove(c, r.Id);
  sendEmpty(c, 204);
}

async function stop(c: Ctx): Promise<void> {
  const r = mustFind(c.engine.root, ref(c));
  if (!liveState(c.engine.root, r).Running) throw notModified();
  await c.engine.containers.stop(r.Id, { timeout: qInt(c.query, 't') ?? qInt(c.query, 'timeout'), signal: c.query.get('signal') || undefined });
  sendEmpty(c, 204);
}

function kill(c: Ctx): void {
  // The engine takes names (KILL, SIGKILL) and numbers ("9") alike.
  c.engine.containers.kill(ref(c), c.query.get('signal') || 'SIGKILL');
  sendEmpty(c, 204);
}

async function restart(c: Ctx): Promise<void> {
  const r = mustFind(c.engine.root, ref(c));
  await c.engine.containers.restart(r.Id, { timeout: qInt(c.query, 't') });
  sendEmpty(c, 204);
}

async function wait(c: Ctx): Promise<void> {
  const condition = (c.query.get('condition') || 'not-running') as WaitCondition;
  if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw badRequest(`invalid condition: "${condition}"`);
  const r = mustFind(c.engine.root, ref(c));
  // The headers go at once (docker's clients wait for them before starting the container); the body when it stops.
  c.res!.writeHead(200, { 'Content-Type': 'application/json' });
  c.res!.flushHeaders();
  const ac = new AbortController();
  c.res!.on('close', () => ac.abort());
  try {
    const w = await c.engine.containers.wait(r.Id, { condition, signal: ac.signal });
    if (condition === 'removed' && removedCodes.has(r.Id)) w.StatusCode = removedCodes.get(r.Id)!;
    else if (condition !== 'removed') w.StatusCode = await settledCode(c.engine.root, r.Id, w.StatusCode);
    c.res!.end(JSON.stringify({ StatusCode: w.StatusCode, Error: w.Error ?? null }) + '\n');
  } catch (e) {
    if (!ac.signal.aborted) c.res!.end(JSON.stringify({ StatusCode: -1, Error: { Message: (e as Error).message } }) + '\n');
  }
}

function remove(c: Ctx): void {
  if (qBool(c.query, 'link')) throw notImplemented('removing links is not supported (tsbox has no legacy links)');
  c.engine.containers.remove(ref(c), { force: qBool(c.query, 'force'), volumes: qBool(c.query, 'v') });
  sendEmpty(c, 204);
}

function list(c: Ctx): void {
  const limit = qInt(c.query, 'limit');
  const out = c.engine.containers.list({ all: qBool(c.query, 'all'), filters: qFilters(c.query), limit });
  sendJson(c, 200, out);
}

async function logs(c: Ctx): Promise<void> {
  const q = c.query;
  const stdout = qBool(q, 'stdout');
  const stderr = qBool(q, 'stderr');
  if (!stdout && !stderr) throw badRequest('you must choose at least one stream');
  const r = mustFind(c.engine.root, ref(c));
  const tailQ = q.get('tail');
  // docker reads a negative tail (testcontainers sends -1) as all.
  const tail = !tailQ || tailQ === 'all' || /^-\d+$/.test(tailQ) ? 'all' : Number(tailQ);
  if (tail !== 'all' && (!Number.isInteger(tail) || tail < 0)) throw badRequest(`invalid tail ${JSON.stringify(tailQ)}`);
  const num = (k: string) => {
    const v = q.get(k);
    return v && v !== '0' ? Number(v) : undefined;
  };
  const ac = new AbortController();
  c.res!.on('close', () => ac.abort());
  const it = c.engine.containers.logs(r.Id, { follow: qBool(q, 'follow'), since: num('since'), until: num('until'), tail, timestamps: qBool(q, 'timestamps'), stdout, stderr, signal: ac.signal });
  // Errors before the first line (no log, a bad time) are still a status of their own.
  const first = await it.next();
  const tty = r.Options.tty;
  c.res!.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
  c.res!.flushHeaders();
  const put = (e: { stream: string; text: string }) => {
    const b = Buffer.from(e.text);
    c.res!.write(tty ? b : frameOf(e.stream === 'stderr' ? STDERR : STDOUT, b));
  };
  if (!first.done) put(first.value);
  try {
    for await (const e of it) {
      if (ac.signal.aborted) break;
      put(e);
    }
  } catch {
    // The container was removed while followed: its log ends there.
  }
  c.res!.end();
}

function frameOf(stream: number, b: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(b.length, 4);
  return Buffer.concat([h, b]);
}

function top(c: Ctx): void {
  const ps = c.query.get('ps_args');
  sendJson(c, 200, c.engine.containers.top(ref(c), ps ? ps.split(/\s+/).filter(Boolean) : undefined));
}

async function stats(c: Ctx): Promise<void> {
  const r = mustFind(c.engine.root, ref(c));
  const streamQ = c.query.get('stream');
  const stream = streamQ === null ? true : qBool(c.query, 'stream');
  const oneShot = qBool(c.query, 'one-shot');
  const running = () => liveState(c.engine.root, r).Running;
  const snap = async (interval: number) => {
    if (!running()) return zeroStats(r.Id, r.Name);
    try {
      return { ...(await c.engine.containers.stats(r.Id, { interval })), networks: {}, blkio_stats: {}, num_procs: 0, storage_stats: {} };
    } catch {
      return zeroStats(r.Id, r.Name);
    }
  };
  if (!stream) return sendJson(c, 200, await snap(oneShot ? 0 : 200));
  c.res!.writeHead(200, { 'Content-Type': 'application/json' });
  let closed = false;
  c.res!.on('close', () => (closed = true));
  while (!closed) {
    c.res!.write(JSON.stringify(await snap(1000)) + '\n');
    if (!running()) break;
  }
  c.res!.end();
}

function zeroStats(id: string, name: string) {
  const cpu = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 0, online_cpus: 0 };
  const now = new Date().toISOString();
  return { id, name: `/${name}`, read: now, preread: '0001-01-01T00:00:00Z', cpu_stats: cpu, precpu_stats: cpu, memory_stats: {}, pids_stats: {}, networks: {}, blkio_stats: {}, num_procs: 0, storage_stats: {} };
}

function rename(c: Ctx): void {
  const name = c.query.get('name');
  if (!name) throw badRequest('rename: want ?name=NEW');
  c.engine.containers.rename(ref(c), name.replace(/^\//, ''));
  sendEmpty(c, 204);
}

function pause(c: Ctx): void {
  c.engine.containers.pause(ref(c));
  sendEmpty(c, 204);
}

function unpause(c: Ctx): void {
  c.engine.containers.unpause(ref(c));
  sendEmpty(c, 204);
}

function prune(c: Ctx): void {
  const f = qFilters(c.query, ['until', 'label']);
  const until = f.until?.[0];
  const before = until ? (/^\d+$/.test(until) ? Number(until) * 1000 : Date.parse(until)) : Infinity;
  const deleted: string[] = [];
  for (const s of c.engine.containers.list({ all: true })) {
    if (s.State === 'running' || s.State === 'paused' || s.Created * 1000 >= before) continue;
    if (f.label && !f.label.every((l) => labelMatches(s.Labels ?? {}, l))) continue;
    try {
      c.engine.containers.remove(s.Id);
      deleted.push(s.Id);
    } catch {
      // started or removed meanwhile
    }
  }
  sendJson(c, 200, { ContainersDeleted: deleted, SpaceReclaimed: 0 });
}

function labelMatches(labels: Record<string, string>, want: string): boolean {
  const neg = want.includes('!=');
  const [k, v] = want.split(neg ? /!=(.*)/s : /=(.*)/s);
  const has = k in labels && (v === undefined || labels[k] === v);
  return neg ? !has : has;
}

const UPDATE_APPLIED = ['Memory', 'MemorySwap', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'CpusetCpus', 'PidsLimit', 'RestartPolicy'];
// The rest of docker's Resources: the docker CLI sends every field, zero when not asked for; a value set is warned about.
const UPDATE_IGNORED = ['MemoryReservation', 'KernelMemory', 'KernelMemoryTCP', 'BlkioWeight', 'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps',
  'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetMems', 'Devices', 'DeviceCgroupRules', 'DeviceRequests',
  'MemorySwappiness', 'OomKillDisable', 'Ulimits', 'CgroupParent', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth'];
const UPDATE_FIELDS = [...UPDATE_APPLIED, ...UPDATE_IGNORED];

/** POST /containers/{id}/update: resources and the restart policy (docker's zero values mean unchanged). */
async function update(c: Ctx): Promise<void> {
  const b = await jsonBody(c);
  checkFields('update', b, UPDATE_FIELDS);
  const n = (k: string): number | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`${k}: want a number`);
    return v === 0 ? undefined : v;
  };
  const warnings: string[] = [];
  for (const k of UPDATE_IGNORED) {
    const v = b[k];
    // MemorySwappiness -1 is docker's "unset"; false is OomKillDisable's.
    if (v !== undefined && v !== null && v !== 0 && v !== '' && v !== false && !(k === 'MemorySwappiness' && v === -1) && !(Array.isArray(v) && !v.length)) {
      warnings.push(`${k} is not supported by tsbox and was ignored`);
    }
  }
  const rp = b.RestartPolicy as { Name?: string; MaximumRetryCount?: number } | undefined;
  let restart: string | undefined;
  if (rp?.Name) restart = rp.Name === 'on-failure' && rp.MaximumRetryCount ? `on-failure:${rp.MaximumRetryCount}` : rp.Name;
  const nano = n('NanoCpus');
  const cpuset = b.CpusetCpus;
  if (cpuset !== undefined && cpuset !== null && typeof cpuset !== 'string') throw badRequest('CpusetCpus: want a string');
  c.engine.containers.update(ref(c), {
    memory: n('Memory'), memorySwap: n('MemorySwap'), cpus: nano ? nano / 1e9 : undefined, cpuShares: n('CpuShares'), cpuQuota: n('CpuQuota'), cpuPeriod: n('CpuPeriod'),
    cpusetCpus: (cpuset as string | undefined) || undefined, pidsLimit: n('PidsLimit'), restart,
  });
  sendJson(c, 200, { Warnings: warnings });
}

/** GET /containers/{id}/changes: docker's Kind 0 modified, 1 added, 2 deleted. */
function changes(c: Ctx): void {
  sendJson(c, 200, c.engine.containers.changes(ref(c)));
}

/** GET /containers/{id}/export: its filesystem as a tar. */
async function exportTar(c: Ctx): Promise<void> {
  const r = mustFind(c.engine.root, ref(c));
  c.res!.writeHead(200, { 'Content-Type': 'application/x-tar' });
  try {
    await c.engine.containers.export(r.Id, c.res!);
  } finally {
    // A failure half-way can only cut the tar short: the client sees a truncated archive.
    if (!c.res!.writableEnded) c.res!.end();
  }
}

const later = (what: string) => () => {
  throw notImplemented(`${what} is not implemented by tsbox's engine yet`);
};

export function containerRoutes(r: Router): void {
  r.on('GET', '/containers/json', list)
    .on('POST', '/containers/create', create)
    .on('POST', '/containers/prune', prune)
    .on('GET', '/containers/{}/json', (c) => sendJson(c, 200, c.engine.containers.inspect(ref(c))))
    .on('POST', '/containers/{}/start', start)
    .on('POST', '/containers/{}/stop', stop)
    .on('POST', '/containers/{}/kill', kill)
    .on('POST', '/containers/{}/restart', restart)
    .on('POST', '/containers/{}/pause', pause)
    .on('POST', '/containers/{}/unpause', unpause)
    .on('POST', '/containers/{}/wait', wait)
    .on('DELETE', '/containers/{}', remove)
    .on('GET', '/containers/{}/logs', logs)
    .on('POST', '/containers/{}/attach', attach)
    .on('POST', '/containers/{}/resize', resize)
    .on('GET', '/containers/{}/top', top)
    .on('GET', '/containers/{}/stats', stats)
    .on('POST', '/containers/{}/rename', rename)
    .on('POST', '/containers/{}/update', update)
    .on('GET', '/containers/{}/changes', changes)
    .on('GET', '/containers/{}/export', exportTar)
    .on('GET', '/containers/{}/attach/ws', later('attach over a websocket'));
}
