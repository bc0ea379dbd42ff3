// The registry HTTP API v2 client: manifests and blobs, with bearer-token and basic auth, retries, and
// plain http only for loopback or registries the user calls insecure.
import { createHash } from 'node:crypto';
import { createWriteStream, openSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isInsecure, registryHost } from './reference.js';
import { certificateFailure } from './trust.js';
import { request, type HttpResponse } from './http.js';
import { ImageNotFoundError, PullDeniedError, RegistryError } from '../errors.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** What a manifest or index may weigh (containerd and containers/image allow 4 MiB too). */
export const MAX_MANIFEST = 4 << 20;

const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  credentials?: Credentials;
  insecureRegistries?: string[];
  retries?: number;
  /** Scopes asked for with every token besides the challenge's (a push mounting from another repository needs pull there). */
  scopes?: string[];
}

export { RegistryError };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseChallenge(h: string): { scheme: string; params: Record<string, string> } {
  const sp = h.indexOf(' ');
  const scheme = (sp < 0 ? h : h.slice(0, sp)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of h.slice(sp + 1).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
  return { scheme, params };
}

/**
 * A token server's reason for a 401, as docker's registry client reads it: {"details": ...} (Docker Hub's
 * "incorrect username or password"), else the first of {"errors": [...]}, else "authentication required".
 */
function refusalDetail(body: string): string {
  try {
    const j = JSON.parse(body) as { details?: unknown; errors?: { message?: unknown }[] };
    if (typeof j.details === 'string' && j.details) return j.details;
    const m = j.errors?.[0]?.message;
    if (typeof m === 'string' && m) return m;
  } catch {
    // not JSON
  }
  return 'authentication required';
}

export class RegistryClient {
  private readonly base: string;
  private token?: string;
  private basic?: string;
  /** How the token server refused the credentials, in dockerd's words (login). */
  private tokenRefusal?: string;

  constructor(
    readonly registry: string,
    private readonly opts: RegistryOptions = {},
  ) {
    const scheme = isInsecure(registry, opts.insecureRegistries) ? 'http' : 'https';
    this.base = `${scheme}://${registryHost(registry)}`;
  }

  private authHeader(): Record<string, string> {
    if (this.token) return { authorization: `Bearer ${this.token}` };
    if (this.basic) return { authorization: `Basic ${this.basic}` };
    return {};
  }

  /** Answers a 401: basic credentials, or a bearer token from the realm the registry names. */
  private async authenticate(challenge: string | null, url: string): Promise<void> {
    const creds = this.opts.credentials;
    const c = parseChallenge(challenge ?? '');
    if (c.scheme === 'basic') {
      if (!creds) throw new PullDeniedError(`${url}: authentication required (use tsbox login ${this.registry})`, 401);
      this.basic = Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
      return;
    }
    if (c.scheme !== 'bearer' || !c.params.realm) throw new PullDeniedError(`${url}: unauthorized, and no usable WWW-Authenticate challenge`, 401);
    const q = new URL(c.params.realm);
    if (c.params.service) q.searchParams.set('service', c.params.service);
    if (c.params.scope) q.searchParams.set('scope', c.params.scope);
    for (const sc of this.opts.scopes ?? []) if (!q.searchParams.getAll('scope').includes(sc)) q.searchParams.append('scope', sc);
    const headers: Record<string, string> = {};
    if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    let res: HttpResponse;
    try {
      res = await request(q, { headers });
    } catch (e) {
      const cert = certificateFailure(e, q.href);
      if (cert) throw new RegistryError(`token ${q.origin}${q.pathname}: ${cert}`, undefined, 'ERR_REGISTRY_CERTIFICATE');
      throw e;
    }
    if (!res.ok) {
      const denied = res.status === 401 || res.status === 403;
      if (denied) this.tokenRefusal = `Get "${q.href}": unauthorized: ${refusalDetail((await readAtMost(res, 64 << 10, 'error').catch(() => Buffer.alloc(0))).toString())}`;
      else res.discard();
      throw new (denied ? PullDeniedError : RegistryError)(`token ${q.origin}${q.pathname}: ${res.status} ${res.statusText}`, res.status);
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    this.token = body.token ?? body.access_token;
    if (!this.token) throw new RegistryError(`token ${q.origin}${q.pathname}: no token in the answer`);
  }

  /**
   * docker login's check: GET /v2/ with the credentials, through a token got with them where the registry
   * asks for one. A refusal rejects with PullDeniedError in dockerd's words: a token server's as Go's
   * client reports it, the registry's own as "login attempt to ... failed with status".
   */
  async login(): Promise<void> {
    this.tokenRefusal = undefined;
    try {
      (await this.get('')).discard();
    } catch (e) {
      if (!(e instanceof PullDeniedError)) throw e;
      throw new PullDeniedError(this.tokenRefusal ?? `login attempt to ${this.base}/v2/ failed with status: ${e.status} ${STATUS_CODES[e.status ?? 401]}`, e.status);
    }
  }

  /** GET with auth and retries (network errors and 5xx); 4xx other than 401 are final. */
  async get(path: string, accept?: string): Promise<HttpResponse> {
    const url = `${this.base}/v2/${path}`;
    const tries = this.opts.retries ?? 4;
    let authed = false;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await request(url, { headers: { ...this.authHeader(), ...(accept ? { accept } : {}) } });
      } catch (e) {
        // An untrusted certificate stays untrusted: no retries.
        const cert = certificateFailure(e, url);
        if (cert) throw new RegistryError(`GET ${url}: ${cert}`, undefined, 'ERR_REGISTRY_CERTIFICATE');
        const cause = (e as Error & { cause?: { code?: string } }).cause?.code;
        // A name that does not resolve (ENOTFOUND, not EAI_AGAIN) is not transient: no retries to wait through.
        if (attempt >= tries || cause === 'ENOTFOUND') throw new RegistryError(`GET ${url}: ${cause ?? (e as Error).message}`, undefined, 'ERR_REGISTRY_UNREACHABLE');
        await sleep(200 * 2 ** attempt);
        continue;
      }
      if (res.status === 401 && !authed) {
        res.discard();
        authed = true;
        await this.authenticate(res.headers.get('www-authenticate'), url);
        continue;
      }
      if (res.status >= 500 && attempt < tries) {
        res.discard();
        await sleep(200 * 2 ** attempt);
        continue;
      }
      if (!res.ok) {
        const text = (await readAtMost(res, 64 << 10, 'error').catch(() => Buffer.alloc(0))).toString();
        const code = /"code":"(\w+)"/.exec(text)?.[1];
        const msg = `GET ${url}: ${res.status} ${res.statusText}${code ? ` (${code})` : ''}`;
        if (res.status === 401 || res.status === 403) throw new PullDeniedError(msg, res.status);
        // No such repository or tag (a blob the manifest names but the registry lacks stays a registry error).
        if (res.status === 404 && /\/manifests\//.test(path)) throw new ImageNotFoundError(msg, path.replace(/\/manifests\//, ':'));
        throw new RegistryError(msg, res.status);
      }
      return res;
    }
  }

  /** The origin (scheme://host:port) every request with credentials goes to. */
  get origin(): string {
    return this.base;
  }

  /**
   * Any request of the upload API (HEAD, POST, PATCH, PUT) with auth and retries of network errors and 5xx.
   * Credentials go only to the registry's own origin: a URL or redirect elsewhere is refused, except a
   * GET or HEAD redirect, followed without them. Non-2xx answers other than 401 are returned to the caller.
   */
  async send(method: string, pathOrUrl: string, init: { headers?: Record<string, string>; body?: () => Buffer | Readable } = {}): Promise<HttpResponse> {
    let url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.base}/v2/${pathOrUrl.replace(/^\/v2\//, '')}`;
    if (pathOrUrl.startsWith('/') && !pathOrUrl.startsWith('/v2/')) url = `${this.base}${pathOrUrl}`;
    if (new URL(url).origin !== this.base) throw new RegistryError(`${method} ${url}: not on the registry ${this.base}, refused`, undefined, 'ERR_REGISTRY_ELSEWHERE');
    const tries = this.opts.retries ?? 4;
    let authed = false;
    let redirects = 0;
    let withAuth = true;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await request(url, { method, headers: { ...(withAuth ? this.authHeader() : {}), ...init.headers }, body: init.body?.(), redirect: 'manual' });
      } catch (e) {
        const cert = certificateFailure(e, url);
        if (cert) throw new RegistryError(`${method} ${url}: ${cert}`, undefined, 'ERR_REGISTRY_CERTIFICATE');
        const cause = (e as Error & { cause?: { code?: string } }).cause?.code;
        if (attempt >= tries || cause === 'ENOTFOUND') throw new RegistryError(`${method} ${url}: ${cause ?? (e as Error).message}`, undefined, 'ERR_REGISTRY_UNREACHABLE');
        await sleep(200 * 2 ** attempt);
        continue;
      }
      if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
        await discard(res);
        const next = new URL(res.headers.get('location')!, url);
        if (++redirects > 5) throw new RegistryError(`${method} ${url}: too many redirects`);
        if (next.origin !== this.base) {
          if (method !== 'GET' && method !== 'HEAD') throw new RegistryError(`${method} ${url}: the registry redirects to another host (${next.origin}), refused`, res.status, 'ERR_REGISTRY_ELSEWHERE');
          withAuth = false;
        }
        url = next.href;
        attempt--;
        continue;
      }
      if (res.status === 401 && !authed && withAuth) {
        await discard(res);
        authed = true;
        await this.authenticate(res.headers.get('www-authenticate'), url);
        attempt--;
        continue;
      }
      // A request with a body may have been half taken: the caller starts over with a new upload.
      if (res.status >= 500 && attempt < tries && init.body === undefined) {
        await discard(res);
        await sleep(200 * 2 ** attempt);
        continue;
      }
      return res;
    }
  }

  async manifest(repository: string, reference: string): Promise<{ mediaType: string; body: Buffer; digest: string }> {
    const res = await this.get(`${repository}/manifests/${reference}`, ACCEPT);
    const body = await readAtMost(res, MAX_MANIFEST, `manifest ${repository}:${reference}`);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError(`manifest ${repository}@${reference}: content has digest ${digest}`);
    }
    const mediaType = (JSON.parse(body.toString()) as { mediaType?: string }).mediaType ?? res.headers.get('content-type') ?? '';
    return { mediaType, body, digest };
  }

  /**
   * Streams a blob into file and checks its digest; the caller renames the file into place. Reading stops
   * as soon as more bytes arrive than the descriptor's size (or `limit`, where no size was declared).
   */
  async blobToFile(repository: string, digest: string, file: string, size: { declared?: number; limit: number }, onBytes?: (n: number) => void): Promise<void> {
    const res = await this.get(`${repository}/blobs/${digest}`);
    const max = size.declared ?? size.limit;
    const tooMuch = () =>
      new RegistryError(size.declared !== undefined ? `blob ${digest}: the registry sent more than the ${size.declared} bytes the manifest declares` : `blob ${digest}: the registry sent more than the ${size.limit} bytes the store has room for`);
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (length > max) {
      res.discard();
      throw tooMuch();
    }
    const hash = createHash('sha256');
    let n = 0;
    const count = new Transform({
      transform(b: Buffer, _enc, cb) {
        n += b.length;
        if (n > max) return cb(tooMuch());
        hash.update(b);
        onBytes?.(b.length);
        cb(null, b);
      },
    });
    await pipeline(res.body, count, createWriteStream('', { fd: openSync(file, 'wx', 0o600) }));
    if (size.declared !== undefined && n !== size.declared) throw new RegistryError(`blob ${digest}: the registry sent ${n} bytes, the manifest declares ${size.declared}`);
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== digest) throw new RegistryError(`blob ${digest}: downloaded content has digest ${got}`);
  }
}

/** Drops a response's body unread (a hostile registry's answer may never end). */
export async function discard(res: HttpResponse): Promise<void> {
  res.discard();
}

/** A response body, refused as soon as it passes max bytes. */
export async function readAtMost(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  if (Number(res.headers.get('content-length') ?? NaN) > max) {
    res.discard();
    throw new RegistryError(`${what}: more than ${max} bytes`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    // Leaving the loop destroys the body, and with it a connection that would go on sending.
    if (n > max) throw new RegistryError(`${what}: more than ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
