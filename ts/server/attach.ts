// POST /containers/{id}/attach (hijacked) and /resize: the container's output from its monitor's attach
// socket (the engine's attach), the client's input to its stdin or terminal, docker's detach keys. A
// created container is waited for: docker's clients attach before they start it (run -it, dockerode).
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerDir, liveState, loadRecord, mustFind } from '../engine/containers.js';
import type { Attachment } from '../engine/attach.js';
import { DEFAULT_DETACH_KEYS, DetachMatcher, parseDetachKeys } from '../engine/detach-keys.js';
import { badRequest, conflict } from './errors.js';
import { hijack, STDERR, STDOUT } from './stdcopy.js';
import { jsonBody, qBool, qInt, sendEmpty, type Ctx } from './router.js';

/** A marker in the container's directory: its stdin closes when the first attached client's input ends. */
export const STDIN_ONCE = 'stdin-once';

/** Attach streams open per container: an auto-remove waits for them to drain first; resize reaches the terminal through one. */
export const attachments = new Map<string, Set<Attachment | null>>();

export function markStdinOnce(root: string, id: string): void {
  writeFileSync(join(containerDir(root, id), STDIN_ONCE), '');
}

/** Waits until the container runs (true), or ran and stopped meanwhile, or went, or the client went (false). */
async function started(root: string, id: string, gone: () => boolean): Promise<boolean> {
  const first = loadRecord(root, id);
  if (!first) return false;
  const before = first.StartedAt;
  for (;;) {
    if (gone()) return false;
    const r = loadRecord(root, id);
    if (!r) return false;
    const s = liveState(root, r);
    if (s.Running) return true;
    if (s.StartedAt !== before) return false;
    await sleep(20);
  }
}

export async function attach(c: Ctx): Promise<void> {
  const root = c.engine.root;
  const r = mustFind(root, c.params[0]);
  const q = c.query;
  let keys: Buffer;
  try {
    keys = parseDetachKeys(q.get('detachKeys') ?? DEFAULT_DETACH_KEYS);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const want = { stdout: qBool(q, 'stdout'), stderr: qBool(q, 'stderr'), stdin: qBool(q, 'stdin') };
  const stream = q.get('stream') === null ? true : qBool(q, 'stream');
  const logs = qBool(q, 'logs');
  const tty = r.Options.tty;
  // A body (dockerode sends its options as one) is not the container's input: read and dropped.
  await jsonBody(c).catch(() => undefined);
  const set = attachments.get(r.Id) ?? new Set();
  attachments.set(r.Id, set);
  set.add(null);
  let att: Attachment | null = null;
  const h = hijack(c, tty);
  let gone = false;
  const ac = new AbortController();
  void h.gone.then(() => {
    gone = true;
    ac.abort();
    att?.close();
  });
  const put = (s: string, data: Buffer) => {
    if ((s === 'stderr' ? want.stderr : want.stdout) && data.length) h.write(tty ? STDOUT : s === 'stderr' ? STDERR : STDOUT, data);
  };
  // From the container's log (through rotations): its replay (logs=1), and what it wrote since this attach
  // began where the monitor's socket is out of reach. A container without a log has nothing to give.
  const since = new Date();
  const fromLog = async (o: { since?: Date; follow?: boolean }) => {
    try {
      for await (const e of c.engine.containers.logs(r.Id, { ...o, signal: ac.signal })) put(e.stream, Buffer.from(e.text));
    } catch {
      // --log-driver none, never started, or removed meanwhile
    }
  };
  try {
    if (logs) await fromLog({});
    if (!stream) return;
    const wasRunning = liveState(root, r).Running;
    if (!wasRunning && !(await started(root, r.Id, () => gone))) {
      // It ran and stopped before we saw it running: its output is in the log, read once to its end.
      if (!gone) await fromLog({ since });
      return;
    }
    try {
      // A container we waited to start: what it wrote since, kept by its monitor.
      att = await c.engine.containers.attach(r.Id, { replay: !wasRunning });
    } catch {
      if (!gone) await fromLog({ since, follow: true });
      return;
    }
    set.add(att);
    if (gone) att.close();
    const a = att;
    if (want.stdin && h.input) pumpInput(root, r.Id, h.input, a, keys, () => h.end());
    else h.input?.on('data', () => undefined).on('error', () => undefined);
    for await (const chunk of a.output) put(chunk.stream, chunk.data);
  } finally {
    att?.close();
    set.delete(att);
    set.delete(null);
    if (!set.size) attachments.delete(r.Id);
    h.end();
  }
}

/** The client's input to the container until its detach keys; its end closes a StdinOnce container's stdin. */
function pumpInput(root: string, id: string, input: NonNullable<ReturnType<typeof hijack>['input']>, a: Attachment, keys: Buffer, detach: () => void): void {
  const m = new DetachMatcher(keys);
  let done = false;
  input.on('error', () => undefined);
  input.on('data', (d: Buffer) => {
    if (done) return;
    const { pass, detach: out } = m.feed(d);
    if (pass.length) a.write(pass);
    if (out) {
      done = true;
      a.close();
      detach();
    }
  });
  input.on('end', () => {
    if (done) return;
    done = true;
    if (existsSync(join(containerDir(root, id), STDIN_ONCE))) a.closeStdin();
  });
  input.resume();
}

/** POST /containers/{id}/resize?h=&w=: the terminal the monitor holds. */
export async function resize(c: Ctx): Promise<void> {
  const r = mustFind(c.engine.root, c.params[0]);
  const rows = qInt(c.query, 'h') ?? 0;
  const cols = qInt(c.query, 'w') ?? 0;
  if (rows < 0 || cols < 0 || rows > 0xffff || cols > 0xffff) throw badRequest(`invalid size ${rows}x${cols}`);
  if (!liveState(c.engine.root, r).Running) throw conflict(`Container ${r.Id} is not running`);
  if (r.Options.tty) {
    const open = [...(attachments.get(r.Id) ?? [])].find((a): a is Attachment => a !== null);
    if (open) open.resize(rows, cols);
    else {
      const a = await c.engine.containers.attach(r.Id, { stdout: false, stderr: false });
      a.resize(rows, cols);
      // The size frame goes before the socket closes.
      await sleep(20);
      a.close();
    }
  }
  sendEmpty(c, 200);
}
