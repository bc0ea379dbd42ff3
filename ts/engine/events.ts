// The engine's own record of what happened (docker events): one JSON object a line in <root>/events.log,
// appended by the engine functions that do the thing, read back with --since/--until/--filter and followed
// as it grows. Bounded: past MAX_BYTES the file becomes events.log.1 (one older file kept).
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../native.js';
import { parseSince } from './logs.js';

export type EventType = 'container' | 'image' | 'network' | 'volume';

/** docker's event object (the API's /events message). */
export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** The legacy fields docker still sends for containers and images. */
  status?: string;
  id?: string;
  from?: string;
}

const MAX_BYTES = 1 << 20;

export function eventsFile(root: string): string {
  return join(root, 'events.log');
}

/** Appends one event; a failure to record never fails the operation that happened. */
export function recordEvent(root: string, type: EventType, action: string, id: string, attributes: Record<string, string> = {}, when = Date.now()): void {
  const ms = Math.round(when);
  const e: EngineEvent = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local', time: Math.floor(ms / 1000), timeNano: ms * 1e6 };
  if (type === 'container' || type === 'image') Object.assign(e, { status: action, id, ...(attributes.image ? { from: attributes.image } : {}) });
  const file = eventsFile(root);
  try {
    mkdirSync(root, { recursive: true });
    // One writer at a time rotates; appends under the lock stay whole lines (O_APPEND, one write).
    const lock = openSync(join(root, 'events.lock'), 'a', 0o600);
    try {
      native().flock(lock, 2 /* LOCK_EX */);
      if ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) > MAX_BYTES) renameSync(file, `${file}.1`);
      appendFileSync(file, JSON.stringify(e) + '\n', { mode: 0o600 });
    } finally {
      closeSync(lock);
    }
  } catch {
    // a full or read-only root loses the event, never the operation
  }
}

/** docker's event filters: type, event (action), container (id or name), image, label (key or key=value). */
export type EventFilters = Partial<Record<'type' | 'event' | 'container' | 'image' | 'label' | 'network' | 'volume', string[]>>;

const FILTER_KEYS = new Set(['type', 'event', 'container', 'image', 'label', 'network', 'volume']);

export function checkEventFilters(f: Record<string, string[]>): EventFilters {
  for (const k of Object.keys(f)) if (!FILTER_KEYS.has(k)) throw new RangeError(`Invalid filter '${k}'`);
  return f as EventFilters;
}

function matches(e: EngineEvent, f: EventFilters): boolean {
  const any = (vals: string[] | undefined, ok: (v: string) => boolean) => !vals?.length || vals.some(ok);
  const a = e.Actor.Attributes;
  const idOrName = (v: string) => e.Actor.ID.startsWith(v) || a.name === v;
  return (
    any(f.type, (v) => e.Type === v) &&
    // "health_status: healthy" style actions match their first word, as docker's.
    any(f.event, (v) => e.Action === v || e.Action.split(':')[0] === v) &&
    any(f.container, (v) => e.Type === 'container' && idOrName(v)) &&
    any(f.network, (v) => e.Type === 'network' && idOrName(v)) &&
    any(f.volume, (v) => e.Type === 'volume' && idOrName(v)) &&
    any(f.image, (v) => (e.Type === 'image' ? idOrName(v) || a.name === v : a.image === v || a.image?.split(':')[0] === v)) &&
    any(f.label, (v) => {
      const i = v.indexOf('=');
      return i < 0 ? v in a : a[v.slice(0, i)] === v.slice(i + 1);
    })
  );
}

export interface EventsOptions {
  /** Events at or after this time (Date, Unix seconds, or docker's strings); without it, only new ones. */
  since?: Date | number | string;
  /** Stop at this time; without it (and with follow), never. */
  until?: Date | number | string;
  filters?: EventFilters;
  /** Keep reading new events (default: true, as docker events). */
  follow?: boolean;
  signal?: AbortSignal;
  /** Called before each poll for new events (the engine records exits it has not seen yet). */
  poll?: () => void;
}

function timeOf(t: Date | number | string, what: string, now: number): number {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'number') return t * 1000;
  try {
    return parseSince(t, now);
  } catch {
    throw new RangeError(`events: invalid ${what} ${JSON.stringify(t)}: want a time, a timestamp or a duration like 10m`);
  }
}

function parse(text: string): EngineEvent[] {
  const out: EngineEvent[] = [];
  for (const l of text.split('\n')) {
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as EngineEvent);
    } catch {
      // a line cut by a crash mid-write
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** docker events as an async iterator: the recorded ones since `since` (in time order), then new ones until `until`. */
export async function* readEvents(root: string, o: EventsOptions = {}): AsyncGenerator<EngineEvent> {
  const now = Date.now();
  const since = o.since !== undefined ? timeOf(o.since, 'since', now) : undefined;
  const until = o.until !== undefined ? timeOf(o.until, 'until', now) : undefined;
  const f = o.filters ?? {};
  const file = eventsFile(root);
  if (!existsSync(file)) writeFileSync(file, '', { flag: 'a', mode: 0o600 });
  o.poll?.();
  const inRange = (e: EngineEvent) => {
    const ms = e.timeNano / 1e6;
    return (since === undefined || ms >= since) && (until === undefined || ms <= until) && matches(e, f);
  };
  let pos = statSync(file).size;
  let ino = statSync(file).ino;
  if (since !== undefined) {
    const old = existsSync(`${file}.1`) ? readFileSync(`${file}.1`, 'utf8') : '';
    const cur = readFileSync(file, 'utf8').slice(0, undefined);
    pos = Buffer.byteLength(cur);
    // Exits are recorded when seen, with the time they happened: order by time, as docker streams them.
    const past = parse(old + cur).filter(inRange).sort((a, b) => a.timeNano - b.timeNano);
    for (const e of past) yield e;
  }
  if (o.follow === false || (until !== undefined && until <= Date.now())) return;
  let rest = '';
  for (;;) {
    if (o.signal?.aborted) return;
    if (until !== undefined && Date.now() > until) return;
    o.poll?.();
    const st = statSync(file, { throwIfNoEntry: false });
    if (st && st.ino !== ino) {
      // rotated: what was left of the old file is in .1, the rest starts at 0
      ino = st.ino;
      pos = 0;
      rest = '';
    }
    if (st && st.size > pos) {
      const fd = openSync(file, 'r');
      try {
        const buf = Buffer.alloc(st.size - pos);
        const n = readSync(fd, buf, 0, buf.length, pos);
        pos += n;
        const text = rest + buf.toString('utf8', 0, n);
        const cut = text.lastIndexOf('\n') + 1;
        rest = text.slice(cut);
        for (const e of parse(text.slice(0, cut))) if (inRange(e) && (since === undefined || e.timeNano / 1e6 >= since)) yield e;
      } finally {
        closeSync(fd);
      }
    }
    await sleep(100);
  }
}

/** docker events' default line: "TIME TYPE ACTION ID (attr=value, ...)". */
export function formatEvent(e: EngineEvent): string {
  const t = new Date(Math.round(e.timeNano / 1e6)).toISOString().replace(/Z$/, '000000Z');
  const attrs = Object.keys(e.Actor.Attributes)
    .sort()
    .map((k) => `${k}=${e.Actor.Attributes[k]}`)
    .join(', ');
  return `${t} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}`;
}
