// Routes: method + path pattern → handler, for version-prefixed (/v1.41/...) and bare paths alike.
// A request is answered once: as JSON, as a stream, or (upgraded) on the raw socket it came on.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.js';
import { badRequest, notFound, statusOf } from './errors.js';

export const MIN_VERSION = '1.41';
export const MAX_VERSION = '1.44';

export interface Ctx {
  req: IncomingMessage;
  /** The response; for an upgraded (hijacked) request, undefined and socket is set instead. */
  res?: ServerResponse;
  socket?: Duplex;
  head?: Buffer;
  params: string[];
  query: URLSearchParams;
  version: string;
  engine: Engine;
  path: string;
}

export type Handler = (c: Ctx) => Promise<void> | void;

interface Route {
  method: string;
  re: RegExp;
  handler: Handler;
}

const NAME = '([^/]+)';

export class Router {
  private routes: Route[] = [];

  /** pattern: "/containers/{}/start"; each {} matches one path segment (an image name may hold slashes: {*}). */
  on(method: string, pattern: string, handler: Handler): this {
    const re = new RegExp(`^${pattern.replace(/\{\*\}/g, '(.+)').replace(/\{\}/g, NAME)}$`);
    this.routes.push({ method, re, handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler; params: string[] } | undefined {
    for (const r of this.routes) {
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET' && !this.routes.some((x) => x.method === 'HEAD' && x.re.test(path)))) continue;
      const m = r.re.exec(path);
      if (m) return { handler: r.handler, params: m.slice(1).map((p) => decodeURIComponent(p)) };
    }
    return undefined;
  }
}

function cmpVersion(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number);
  const [b1, b2] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

/** The API version a path asks for (or the newest for a bare path), and the path without its prefix. */
export function splitVersion(url: string): { version: string; path: string; query: URLSearchParams } {
  const u = new URL(url, 'http://docker');
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(u.pathname);
  const version = m ? m[1] : MAX_VERSION;
  if (m && cmpVersion(version, MAX_VERSION) > 0) throw badRequest(`client version ${version} is too new. Maximum supported API version is ${MAX_VERSION}`);
  if (m && cmpVersion(version, MIN_VERSION) < 0) throw badRequest(`client version ${version} is too old. Minimum supported API version is ${MIN_VERSION}, please upgrade your client to a newer version`);
  return { version, path: m ? m[2] : u.pathname, query: u.searchParams };
}

export function sendJson(c: Ctx, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  if (c.res) {
    if (c.res.headersSent) return void c.res.end();
    c.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
    c.res.end(c.req.method === 'HEAD' ? undefined : data);
  } else if (c.socket && !c.socket.destroyed) {
    c.socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(data)}\r\nConnection: close\r\n\r\n${data}`);
  }
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 409: 'Conflict', 500: 'Internal Server Error', 501: 'Not Implemented' };

export function sendEmpty(c: Ctx, status: number): void {
  if (c.res && !c.res.headersSent) c.res.writeHead(status).end();
  else c.res?.end();
}

export function sendError(c: Ctx, e: unknown): void {
  const { status, message } = statusOf(e);
  if (status === 304) return sendEmpty(c, 304);
  // A stream already under way cannot change its status: docker's streams end with an error object.
  if (c.res?.headersSent) {
    if (!c.res.writableEnded) c.res.end(JSON.stringify({ errorDetail: { message }, error: message }) + '\n');
    return;
  }
  sendJson(c, status, { message });
}

export function unknownEndpoint(method: string, path: string): Error {
  return notFound(`page not found: ${method} ${path} is not an endpoint of the Docker Engine API ${MIN_VERSION}-${MAX_VERSION} that tsbox serves`);
}

const MAX_BODY = 16 << 20;

/** The request body as JSON ({} when empty); a malformed one is a 400. */
export async function jsonBody<T = Record<string, unknown>>(c: Ctx, o: { orNull?: boolean } = {}): Promise<T> {
  const chunks: Buffer[] = [];
  let n = 0;
  if (c.socket) {
    // An upgraded request's body came with the head (and maybe after it on the socket): take exactly
    // Content-Length bytes; what follows is the client's stdin.
    const len = Number(c.req.headers['content-length'] ?? 0);
    if (len > MAX_BODY) throw badRequest(`request body over ${MAX_BODY} bytes`);
    let buf = c.head ?? Buffer.alloc(0);
    while (buf.length < len) {
      const more = await new Promise<Buffer | null>((resolve) => {
        c.socket!.once('data', (d: Buffer) => resolve(d));
        c.socket!.once('end', () => resolve(null));
      });
      if (!more) break;
      c.socket.pause();
      buf = Buffer.concat([buf, more]);
    }
    c.head = buf.subarray(len);
    chunks.push(buf.subarray(0, len));
  } else for await (const b of c.req) {
    n += (b as Buffer).length;
    if (n > MAX_BODY) throw badRequest(`request body over ${MAX_BODY} bytes`);
    chunks.push(b as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  // A Go client encodes a nil pointer as null: where docker's daemon takes none, so does this.
  if (!text || (o.orNull && text === 'null')) return {} as T;
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('want a JSON object');
    return v as T;
  } catch (e) {
    throw badRequest(`malformed request body: ${(e as Error).message}`);
  }
}

/** Fields a body may have: any other is a 400 naming it (docker's daemon would silently drop it). */
export function checkFields(where: string, o: Record<string, unknown> | null | undefined, known: readonly string[]): void {
  if (!o) return;
  if (typeof o !== 'object' || Array.isArray(o)) throw badRequest(`${where}: want a JSON object`);
  for (const k of Object.keys(o)) if (!known.includes(k)) throw badRequest(`${where}: unknown field ${JSON.stringify(k)}`);
}

export const qBool = (q: URLSearchParams, k: string): boolean => ['1', 'true', 'True'].includes(q.get(k) ?? '');

export function qInt(q: URLSearchParams, k: string): number | undefined {
  const v = q.get(k);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid ${k} ${JSON.stringify(v)}: not an integer`);
  return Number(v);
}

/** docker's filters query: {"key": ["v", ...]} or the older {"key": {"v": true}}; a key not in `known` is docker's 400. */
export function qFilters(q: URLSearchParams, known?: readonly string[]): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid filters ${JSON.stringify(raw)}: not JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('invalid filters: want a JSON object');
  const out: Record<string, string[]> = {};
  for (const [k, x] of Object.entries(v)) {
    if (known && !known.includes(k)) throw badRequest(`Invalid filter '${k}'`);
    out[k] = Array.isArray(x) ? x.map(String) : x && typeof x === 'object' ? Object.keys(x) : [String(x)];
  }
  return out;
}
