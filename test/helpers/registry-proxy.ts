// An HTTP proxy in front of a test registry that refuses or holds what passes through it, so that a
// client's retry, or its state in the middle of a blob, is certain and not a matter of timing.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RegistryProxy {
  addr: string;
  /** Resolves once a held body has stopped half way (opts.hold). */
  held: Promise<void>;
  /** Lets held bodies go on; later ones pass whole. */
  release(): void;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** Answer this request with a 503 instead of passing it on. */
  refuse?: (url: string) => boolean;
  /** Send the first half of this response's body, then nothing until release(). */
  hold?: (url: string) => boolean;
}

export async function startRegistryProxy(upstream: string, opts: ProxyOptions = {}): Promise<RegistryProxy> {
  const [host, port] = upstream.split(':');
  let holding = true;
  const waiting: (() => void)[] = [];
  let signalHeld!: () => void;
  const held = new Promise<void>((r) => (signalHeld = r));
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (opts.refuse?.(url)) {
      res.writeHead(503).end();
      return;
    }
    const up = request({ host, port: Number(port), path: url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      const half = opts.hold?.(url) ? Number(r.headers['content-length'] ?? 0) / 2 : Infinity;
      let sent = 0;
      r.on('data', (chunk: Buffer) => {
        if (holding && sent + chunk.length > half) {
          // Up to the half, then stop reading upstream until released.
          const cut = Math.max(0, Math.floor(half - sent));
          res.write(chunk.subarray(0, cut));
          sent += cut;
          r.pause();
          waiting.push(() => {
            res.write(chunk.subarray(cut));
            r.resume();
          });
          signalHeld();
          return;
        }
        sent += chunk.length;
        if (!res.write(chunk)) {
          r.pause();
          res.once('drain', () => r.resume());
        }
      });
      r.on('end', () => res.end());
      res.on('close', () => r.destroy());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    release() {
      holding = false;
      for (const go of waiting.splice(0)) go();
    },
    stop() {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
