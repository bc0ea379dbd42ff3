// HTTP/1.1 requests of the registry client and of a build's ADD <url>, on node:http and node:https.
// Not fetch: loading it (Node's undici and web streams) took about 17 ms of every pull, a tenth of a small
// image's whole pull, against 2 ms for node:http; and its bodies are web streams that every layer's
// bytes had to be turned back into Node streams for the decompressor.
// What fetch did for these callers is done here: redirects followed (at most 20, the credentials dropped
// when one leaves the origin, 303 as GET), keep-alive connections, network failures as an Error whose
// `cause` has the system's code, and the authorities of trust.ts for TLS.
import { Agent as HttpAgent, request as plainRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as tlsRequest } from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { secureContextFor } from './trust.js';

export interface HttpInit {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as is; a stream without content-length is sent chunked. */
  body?: Buffer | Readable;
  /** follow (the default): 3xx answers with a location are followed; manual: returned. */
  redirect?: 'follow' | 'manual';
}

/** An answer; its body a Node stream, read once. */
export class HttpResponse {
  constructor(
    /** Where it came from, after redirects. */
    readonly url: string,
    readonly body: IncomingMessage,
  ) {}

  get status(): number {
    return this.body.statusCode ?? 0;
  }

  get statusText(): string {
    return this.body.statusMessage ?? '';
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  readonly headers = {
    get: (name: string): string | null => {
      const v = this.body.headers[name.toLowerCase()];
      return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
    },
  };

  /** The whole body (callers that must bound it use readAtMost). */
  async buffer(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.body) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async text(): Promise<string> {
    return (await this.buffer()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  /**
   * Drops the body unread: a hostile server's answer may never end, so an unfinished one closes its
   * connection; a finished one leaves the connection to the next request.
   */
  discard(): void {
    if (this.body.complete) this.body.resume();
    else this.body.destroy();
  }
}

// Idle connections are kept, and do not keep the process alive (Node's agents unref them).
const plainAgent = new HttpAgent({ keepAlive: true });
const tlsAgent = new HttpsAgent({ keepAlive: true });
// undici's: an answer whose headers or next bytes take longer fails.
const IDLE_MS = 300_000;
const MAX_REDIRECTS = 20;

/** A network or TLS failure, as fetch reports it: the system's error (its code) is the cause. */
function failed(url: URL, e: Error): Error {
  return new Error(`${url.origin}${url.pathname}: ${e.message}`, { cause: e });
}

function once(url: URL, method: string, headers: Record<string, string>, body: Buffer | Readable | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    if (!https && url.protocol !== 'http:') return reject(new Error(`${url.href}: only http and https are supported`));
    // fetch's defaults: some front ends refuse a request that names no agent.
    const h: OutgoingHttpHeaders = { 'user-agent': 'tsbox', accept: '*/*', ...headers };
    if (Buffer.isBuffer(body) && h['content-length'] === undefined) h['content-length'] = String(body.length);
    const options = {
      method,
      headers: h,
      agent: https ? tlsAgent : plainAgent,
      ...(https ? { secureContext: secureContextFor(url.host) } : {}),
    };
    const req = (https ? tlsRequest : plainRequest)(url, options, resolve);
    req.setTimeout(IDLE_MS, () => req.destroy(Object.assign(new Error('no answer within 300 s'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(failed(url, e)));
    if (body === undefined || Buffer.isBuffer(body)) req.end(body);
    // Either side failing ends both: no file left open under a lost connection.
    else pipeline(body, req, () => undefined);
  });
}

/** One request, with fetch's redirect rules. */
export async function request(target: string | URL, init: HttpInit = {}): Promise<HttpResponse> {
  let url = new URL(target);
  let method = (init.method ?? 'GET').toUpperCase();
  let headers = { ...init.headers };
  let body = init.body;
  for (let redirects = 0; ; redirects++) {
    const msg = await once(url, method, headers, body);
    const res = new HttpResponse(url.href, msg);
    const location = res.headers.get('location');
    if (init.redirect === 'manual' || !location || ![301, 302, 303, 307, 308].includes(res.status)) return res;
    res.discard();
    if (redirects >= MAX_REDIRECTS) throw new Error(`${url.href}: more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, url);
    // A body sent as a stream cannot be sent again: as fetch, only 303 (and POST's 301/302) go on as GET.
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      method = method === 'HEAD' ? 'HEAD' : 'GET';
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !/^content-/i.test(k)));
    } else if (body !== undefined && !Buffer.isBuffer(body)) throw new Error(`${url.href}: redirected to ${next.href} after a streamed body was sent`);
    // Credentials stay with the origin they were given for.
    if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization' && k.toLowerCase() !== 'cookie'));
    url = next;
  }
}
