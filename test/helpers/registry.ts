// A real registry (Debian's docker-registry) on 127.0.0.1 for the tests, optionally behind basic auth,
// and OCI layouts built from busybox-static that skopeo pushes into it.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tarHeader } from '../../ts/images/tar-header.js';
import { busyboxRootfs } from './bundle.js';
import { tmpdir } from 'node:os';

export interface Registry {
  addr: string;
  storage: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * A token server as the registry's `auth: token` expects: JWTs signed RS256 with a key whose self-signed
 * certificate travels in the x5c header and is the registry's rootcertbundle. With user set, only that
 * user (basic auth on the token request) gets a token; without, anyone does.
 */
async function startTokenServer(dir: string, opts: { user?: string; password?: string }): Promise<{ realm: string; server: Server }> {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=tsbox-test-token'], { stdio: 'ignore' });
  const key = createPrivateKey(readFileSync(join(dir, 'key.pem')));
  const der = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).raw.toString('base64');
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (opts.user) {
      const auth = req.headers.authorization ?? '';
      if (auth !== `Basic ${Buffer.from(`${opts.user}:${opts.password}`).toString('base64')}`) {
        res.writeHead(401).end();
        return;
      }
    }
    const access = url.searchParams.getAll('scope').flatMap((sc) => {
      const [type, name, actions] = sc.split(':');
      return type && name ? [{ type, name, actions: (actions ?? '').split(',').filter(Boolean) }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const head = b64({ typ: 'JWT', alg: 'RS256', x5c: [der] });
    const body = b64({ iss: 'tsbox-test-issuer', sub: opts.user ?? 'anonymous', aud: url.searchParams.get('service'), exp: now + 600, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access });
    const sig = sign('RSA-SHA256', Buffer.from(`${head}.${body}`), key).toString('base64url');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${head}.${body}.${sig}` }));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { realm: `http://127.0.0.1:${port}/token`, server };
}

export async function startRegistry(opts: { user?: string; password?: string; token?: boolean } = {}): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-registry-'));
  const port = await freePort();
  const token = opts.token ? await startTokenServer(dir, opts) : undefined;
  const lines = ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${dir}/data`, '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`];
  if (token) {
    lines.push('auth:', '  token:', `    realm: ${token.realm}`, '    service: tsbox-test', '    issuer: tsbox-test-issuer', `    rootcertbundle: ${dir}/cert.pem`);
  } else if (opts.user) {
    const htpasswd = execFileSync('htpasswd', ['-Bbn', opts.user, opts.password ?? ''], { encoding: 'utf8' });
    writeFileSync(join(dir, 'htpasswd'), htpasswd);
    lines.push('auth:', '  htpasswd:', '    realm: tsbox-test', `    path: ${dir}/htpasswd`);
  }
  writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');
  const proc: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const addr = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://${addr}/v2/`);
      if (r.status === 200 || r.status === 401) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    addr,
    storage: join(dir, 'data'),
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.on('exit', r)));
      await new Promise((r) => (token ? token.server.close(r) : r(null)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** An OCI image layout under dir, built from layer directories (bottom first). */
export class Layout {
  readonly blobs: string;
  private manifests: { digest: string; size: number; platform?: { os: string; architecture: string }; mediaType: string; tag?: string }[] = [];

  constructor(readonly dir: string) {
    this.blobs = join(dir, 'blobs', 'sha256');
    mkdirSync(this.blobs, { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  blob(data: Buffer): { digest: string; size: number } {
    const h = sha(data);
    writeFileSync(join(this.blobs, h), data);
    return { digest: `sha256:${h}`, size: data.length };
  }

  /** gzip-compressed layer of a directory, or of a ready tar file. */
  layer(src: string, compression: 'gzip' | 'zstd' = 'gzip'): { compressed: { digest: string; size: number }; diffId: string; mediaType: string } {
    const tar = src.endsWith('.tar') ? readFileSync(src) : execFileSync('tar', ['--numeric-owner', '-C', src, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
    const packed = execFileSync(compression, compression === 'gzip' ? ['-n', '-c'] : ['-q', '-c'], { input: tar, maxBuffer: 1 << 30 });
    return { compressed: this.blob(packed), diffId: `sha256:${sha(tar)}`, mediaType: `application/vnd.oci.image.layer.v1.tar+${compression}` };
  }

  image(layers: string[], opts: { arch?: string; tag?: string; register?: boolean; compression?: 'gzip' | 'zstd' } = {}): { digest: string; size: number } {
    const ls = layers.map((l) => this.layer(l, opts.compression));
    const arch = opts.arch ?? 'amd64';
    const config = this.blob(
      Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Env: ['PATH=/bin'], Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: ls.map((l) => l.diffId) } })),
    );
    const manifest = this.blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: ls.map((l) => ({ mediaType: l.mediaType, ...l.compressed })),
        }),
      ),
    );
    if (opts.register !== false) this.manifests.push({ ...manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', tag: opts.tag ?? 'latest' });
    return manifest;
  }

  index(entries: { m: { digest: string; size: number }; arch: string }[], tag: string): void {
    const idx = this.blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: entries.map((e) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...e.m, platform: { os: 'linux', architecture: e.arch } })),
        }),
      ),
    );
    this.manifests.push({ ...idx, mediaType: 'application/vnd.oci.image.index.v1+json', tag });
  }

  write(): void {
    writeFileSync(
      join(this.dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: this.manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, annotations: { 'org.opencontainers.image.ref.name': m.tag } })),
      }),
    );
  }
}

/**
 * skopeo copy oci:LAYOUT:tag → docker://addr/repo:tag (plain http, optional creds, format, all platforms).
 * Asynchronous: a token server in this very process must keep answering while skopeo runs.
 */
export async function push(layout: string, tag: string, dest: string, opts: { creds?: string; format?: 'oci' | 'v2s2'; all?: boolean } = {}): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false'];
  if (opts.creds) args.push('--dest-creds', opts.creds);
  if (opts.format) args.push('--format', opts.format);
  if (opts.all) args.push('--all');
  await new Promise<void>((resolve, reject) =>
    execFile('skopeo', [...args, `oci:${layout}:${tag}`, `docker://${dest}`], (err, _out, stderr) => (err ? reject(new Error(`skopeo copy to ${dest}: ${stderr.trim() || err.message}`)) : resolve())),
  );
}

/** The busybox rootfs as one image pushed to dest (addr/repo:tag), through an OCI layout made in dir. */
export async function pushBusybox(dir: string, dest: string, opts: { creds?: string } = {}): Promise<void> {
  const l = new Layout(dir);
  l.image([busyboxRootfs()], { tag: 'latest' });
  l.write();
  await push(dir, 'latest', dest, opts);
}

/** A tar with exactly the given entries (for hostile layers GNU tar would refuse to write). */
export function rawTar(entries: { name: string; type?: '0' | '1' | '2' | '5'; linkname?: string; data?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const h = tarHeader(e.name, data.length, 0, e.type ?? '0', e.linkname);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
