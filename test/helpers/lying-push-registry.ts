// An in-memory registry (enough of the v2 upload API for a push) behind basic auth, whose lies are chosen
// per test: a wrong digest in its answers, 5xx in the middle of an upload, redirects and upload locations
// that point to another host. The other host is a catcher that records every request it gets, with headers.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Lie =
  | 'none'
  /** The blob PUT answers 201 with another digest. */
  | 'blob-digest'
  /** The manifest PUT answers 201 with another digest. */
  | 'manifest-digest'
  /** Every PATCH answers 500. */
  | 'patch-500'
  /** The first PATCH answers 500, later ones work. */
  | 'patch-500-once'
  /** POST of an upload redirects (307) to the catcher. */
  | 'redirect-post'
  /** The upload location is on the catcher. */
  | 'location-elsewhere'
  /** HEAD of a blob redirects to the catcher. */
  | 'redirect-head'
  /** POST of an upload answers 400 with a body that never ends. */
  | 'endless-error';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface LyingPushRegistry {
  addr: string;
  user: string;
  password: string;
  lie: Lie;
  /** Requests the registry got. */
  seen: Seen[];
  /** Requests the other host got. */
  caught: Seen[];
  blobs: Map<string, Buffer>;
  manifests: Map<string, { type: string; body: Buffer }>;
  stop(): Promise<void>;
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const ZERO = `sha256:${'0'.repeat(64)}`;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startLyingPushRegistry(): Promise<LyingPushRegistry> {
  const caught: Seen[] = [];
  const catcher = createServer((req, res) => {
    caught.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => res.writeHead(404).end());
  });
  const catcherAddr = await listen(catcher);
  const uploads = new Map<string, Buffer[]>();
  let onceFired = false;
  let nextId = 0;
  const reg: LyingPushRegistry = {
    addr: '',
    user: 'mallory',
    password: 'hunter2-secret',
    lie: 'none',
    seen: [],
    caught,
    blobs: new Map(),
    manifests: new Map(),
    stop: async () => {
      for (const s of [server, catcher]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? '';
      const url = new URL(req.url ?? '/', `http://${reg.addr}`);
      reg.seen.push({ method, url: req.url ?? '', headers: req.headers });
      if (reg.lie !== 'patch-500-once') onceFired = false;
      if (req.headers.authorization !== `Basic ${Buffer.from(`${reg.user}:${reg.password}`).toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="lying"' }).end();
        return;
      }
      const send = (status: number, headers: Record<string, string> = {}, data?: Buffer) => res.writeHead(status, { 'content-length': String(data?.length ?? 0), ...headers }).end(data);
      if (url.pathname === '/v2/') return send(200, {}, Buffer.from('{}'));
      let m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
      if (m && method === 'HEAD') {
        if (reg.lie === 'redirect-head') return send(307, { location: `http://${catcherAddr}/stolen${url.pathname}` });
        const b = reg.blobs.get(m[2]);
        return b ? send(200, { 'docker-content-digest': m[2] }) : send(404);
      }
      m = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(url.pathname);
      if (m && method === 'POST') {
        if (reg.lie === 'endless-error') {
          res.writeHead(400, { 'content-type': 'application/json' });
          let closed = false;
          res.on('close', () => (closed = true));
          const junk = Buffer.alloc(64 << 10, 0x61);
          const pump = () => {
            while (!closed) if (!res.write(junk)) return void res.once('drain', pump);
          };
          res.write('{"errors":[{"code":"DENIED","message":"');
          return pump();
        }
        if (reg.lie === 'redirect-post') return send(307, { location: `http://${catcherAddr}/v2/${m[1]}/blobs/uploads/` });
        const id = String(nextId++);
        uploads.set(id, []);
        const loc = reg.lie === 'location-elsewhere' ? `http://${catcherAddr}/v2/${m[1]}/blobs/uploads/${id}` : `/v2/${m[1]}/blobs/uploads/${id}`;
        return send(202, { location: loc, 'docker-upload-uuid': id, range: '0-0' });
      }
      m = /^\/v2\/(.+)\/blobs\/uploads\/(\d+)$/.exec(url.pathname);
      if (m && (method === 'PATCH' || method === 'PUT')) {
        const parts = uploads.get(m[2]);
        if (!parts) return send(404);
        if (method === 'PATCH') {
          const once = reg.lie === 'patch-500-once' && !onceFired;
          if (once) onceFired = true;
          if (reg.lie === 'patch-500' || once) return send(500, {}, Buffer.from('{"errors":[{"code":"UNKNOWN"}]}'));
          const have = parts.reduce((n, p) => n + p.length, 0);
          const range = /^(\d+)-(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
          if (!range || Number(range[1]) !== have || Number(range[2]) !== have + body.length - 1) return send(416);
          parts.push(body);
          return send(202, { location: `/v2/${m[1]}/blobs/uploads/${m[2]}`, range: `0-${have + body.length - 1}` });
        }
        parts.push(body);
        const data = Buffer.concat(parts);
        const want = url.searchParams.get('digest') ?? '';
        if (digestOf(data) !== want) return send(400, {}, Buffer.from('{"errors":[{"code":"DIGEST_INVALID"}]}'));
        uploads.delete(m[2]);
        reg.blobs.set(want, data);
        return send(201, { location: `/v2/${m[1]}/blobs/${want}`, 'docker-content-digest': reg.lie === 'blob-digest' ? ZERO : want });
      }
      m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      if (m && method === 'PUT') {
        const d = digestOf(body);
        reg.manifests.set(`${m[1]}:${m[2]}`, { type: String(req.headers['content-type']), body });
        return send(201, { location: `/v2/${m[1]}/manifests/${d}`, 'docker-content-digest': reg.lie === 'manifest-digest' ? ZERO : d });
      }
      send(404, { 'content-type': 'application/json' }, Buffer.from('{"errors":[{"code":"NAME_UNKNOWN"}]}'));
    });
  });
  reg.addr = await listen(server);
  return reg;
}
