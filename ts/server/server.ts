// The Docker Engine API over a unix socket, a thin layer over the Engine: docker's clients (the docker
// CLI, dockerode, testcontainers) drive tsbox's containers with it. Containers stay daemonless: they
// outlive the server, and the CLI sees what the server made (the same root).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { Engine } from '../engine/engine.js';
import { Router, sendError, splitVersion, unknownEndpoint, type Ctx } from './router.js';
import { systemRoutes } from './system.js';
import { containerRoutes } from './containers.js';
import { archiveRoutes } from './archive.js';
import { execRoutes } from './exec.js';
import { imageRoutes } from './images.js';
import { networkRoutes } from './networks.js';
import { volumeRoutes } from './volumes.js';
import { eventRoutes } from './events.js';
import { buildRoutes } from './build.js';
import { authRoutes } from './auth.js';

export interface ServeOptions {
  /** The unix socket to listen on (made 0660; an existing socket file there is replaced). */
  socket: string;
  /** The engine's root (default: the CLI's). */
  root?: string;
  /** Exit after this many seconds with no request in flight and none coming (0: never). */
  timeout?: number;
  /** The group that may use the socket (a gid), besides root. */
  gid?: number;
  /** Called once the server stopped after being idle. */
  onIdle?: () => void;
}

export interface ApiServer {
  server: Server;
  engine: Engine;
  close(): Promise<void>;
}

function router(): Router {
  const r = new Router();
  systemRoutes(r);
  containerRoutes(r);
  archiveRoutes(r);
  execRoutes(r);
  imageRoutes(r);
  networkRoutes(r);
  volumeRoutes(r);
  eventRoutes(r);
  buildRoutes(r);
  authRoutes(r);
  return r;
}

/** Starts the API server; resolves once it listens. */
export async function serve(o: ServeOptions): Promise<ApiServer> {
  const engine = new Engine({ root: o.root });
  const routes = router();
  let inFlight = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (!o.timeout || inFlight > 0) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      void api.close().then(() => o.onIdle?.());
    }, o.timeout * 1000);
  };
  const busy = (conn: { once(ev: 'close', f: () => void): unknown }) => {
    inFlight++;
    clearTimeout(idleTimer);
    conn.once('close', () => {
      inFlight--;
      armIdle();
    });
  };

  async function dispatch(req: IncomingMessage, res: ServerResponse | undefined, socket?: Duplex, head?: Buffer): Promise<void> {
    const c: Ctx = { req, res, socket, head, params: [], query: new URLSearchParams(), version: '', engine, path: req.url ?? '/' };
    try {
      const { version, path, query } = splitVersion(req.url ?? '/');
      Object.assign(c, { version, path, query });
      const m = routes.match(req.method ?? 'GET', path);
      if (!m) throw unknownEndpoint(req.method ?? 'GET', path);
      c.params = m.params;
      // Only attach and exec start take over the connection.
      if (socket && !/\/(attach|start)$/.test(path)) throw unknownEndpoint(`${req.method} (upgrade)`, path);
      await m.handler(c);
    } catch (e) {
      sendError(c, e);
    }
  }

  const server = createServer((req, res) => {
    busy(res);
    void dispatch(req, res);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    busy(socket);
    socket.on('error', () => undefined);
    void dispatch(req, undefined, socket, head);
  });
  server.on('clientError', (_e, socket) => {
    if (!socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"message":"malformed HTTP request"}');
  });
  // Streams (logs -f, attach, wait) may be quiet for long: no request timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  // Long: a client reusing a kept-alive connection just as the server closes it gets ECONNRESET.
  server.keepAliveTimeout = 60_000;

  mkdirSync(dirname(o.socket), { recursive: true, mode: 0o755 });
  if (existsSync(o.socket) && lstatSync(o.socket).isSocket()) unlinkSync(o.socket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socket, () => resolve());
  });
  // Root-equivalent, as docker's socket: root and one group only.
  chmodSync(o.socket, 0o660);
  if (o.gid !== undefined) chownSync(o.socket, process.getuid?.() ?? 0, o.gid);
  armIdle();

  let closing: Promise<void> | undefined;
  const api: ApiServer = {
    server,
    engine,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearTimeout(idleTimer);
        server.close(() => resolve());
        server.closeAllConnections();
        try {
          unlinkSync(o.socket);
        } catch {
          // gone already
        }
      });
      return closing;
    },
  };
  return api;
}
