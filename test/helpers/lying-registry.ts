// A registry (enough of the v2 API for a pull) whose one layer is declared as small and served as huge:
// the first bytes are the declared content, then junk until the client hangs up. It counts what it sent.
// The tag "length" serves the same blob with a Content-Length that admits the lie; the tag "huge" is a
// manifest without end. The tag "mismatch" names a layer by a digest its bytes do not have: a valid gzip
// tar all the same, with the size the manifest declares and the diff id the config gives. The tag "broken"
// is a layer of the right digest that is no gzip past its header; "plain" is the mismatch image's tar,
// uncompressed and named by its own digest: an honest image.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { rawTar } from './registry.js';

export interface LyingRegistry {
  addr: string;
  declared: number;
  /** Bytes of the lying blob the server handed to the kernel, per request, in order. */
  sent: number[];
  stop(): Promise<void>;
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An OCI manifest of one layer (gzip unless said), the layer's digest given: a lie where the test wants one. */
function manifestOf(config: Buffer, layer: { digest: string; size: number; mediaType?: string }): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: layer.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
    }),
  );
}

export async function startLyingRegistry(total = 256 << 20): Promise<LyingRegistry> {
  const tar = rawTar([{ name: 'hello', data: 'world' }]);
  const layer = gzipSync(tar);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [digestOf(tar)] } }));
  const manifest = manifestOf(config, { digest: digestOf(layer), size: layer.length });
  // The "mismatch" image: its layer is served under a digest of other bytes.
  const mTar = rawTar([{ name: 'etc/', type: '5' }, { name: 'etc/motd', data: 'unverified' }, { name: 'bin/', type: '5' }, { name: 'bin/sh', data: '#!/bin/false\n' }]);
  const mLayer = gzipSync(mTar);
  const mDigest = digestOf(Buffer.from('not the layer'));
  const mConfig = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [digestOf(mTar)] } }));
  const mManifest = manifestOf(mConfig, { digest: mDigest, size: mLayer.length });
  const bLayer = Buffer.concat([gzipSync(mTar).subarray(0, 10), Buffer.alloc(4096, 0xff)]);
  const bConfig = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(mTar)] } }));
  const bManifest = manifestOf(bConfig, { digest: digestOf(bLayer), size: bLayer.length });
  const pManifest = manifestOf(mConfig, { digest: digestOf(mTar), size: mTar.length, mediaType: 'application/vnd.oci.image.layer.v1.tar' });
  const sent: number[] = [];
  let lengthNext = false;
  /** first, then junk until `total` bytes or until the client hangs up. */
  const stream = (res: import('node:http').ServerResponse, first: Buffer, junk: Buffer) => {
    const i = sent.push(0) - 1;
    let closed = false;
    res.on('close', () => (closed = true));
    const pump = () => {
      while (!closed && sent[i] < total) {
        const chunk = sent[i] === 0 ? first : junk;
        sent[i] += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!closed) res.end();
    };
    pump();
  };
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    const head = req.method === 'HEAD';
    const answer = (type: string, body: Buffer) => {
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'docker-content-digest': digestOf(body) });
      res.end(head ? undefined : body);
    };
    if (url === '/v2/' || url === '/v2') return answer('application/json', Buffer.from('{}'));
    if (url === '/v2/lying/manifests/huge') {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      return stream(res, Buffer.concat([Buffer.from('{"schemaVersion":2,"x":"'), Buffer.alloc((64 << 10) - 24, 0x61)]), Buffer.alloc(64 << 10, 0x61));
    }
    if (url === '/v2/lying/manifests/mismatch') return answer('application/vnd.oci.image.manifest.v1+json', mManifest);
    if (url === `/v2/lying/blobs/${digestOf(mConfig)}`) return answer('application/octet-stream', mConfig);
    if (url === `/v2/lying/blobs/${mDigest}`) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': mLayer.length, 'docker-content-digest': mDigest });
      return res.end(head ? undefined : mLayer);
    }
    if (url === '/v2/lying/manifests/plain') return answer('application/vnd.oci.image.manifest.v1+json', pManifest);
    if (url === `/v2/lying/blobs/${digestOf(mTar)}`) return answer('application/octet-stream', mTar);
    if (url === '/v2/lying/manifests/broken') return answer('application/vnd.oci.image.manifest.v1+json', bManifest);
    if (url === `/v2/lying/blobs/${digestOf(bConfig)}`) return answer('application/octet-stream', bConfig);
    if (url === `/v2/lying/blobs/${digestOf(bLayer)}`) return answer('application/octet-stream', bLayer);
    if (url === '/v2/lying/manifests/length') lengthNext = true;
    if (/^\/v2\/lying\/manifests\//.test(url)) return answer('application/vnd.oci.image.manifest.v1+json', manifest);
    if (url === `/v2/lying/blobs/${digestOf(config)}`) return answer('application/octet-stream', config);
    if (url === `/v2/lying/blobs/${digestOf(layer)}`) {
      // Without content-length the client learns the size only by reading.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'docker-content-digest': digestOf(layer), ...(lengthNext ? { 'content-length': total } : {}) });
      lengthNext = false;
      if (head) return res.end();
      const junk = Buffer.alloc(64 << 10, 0x5a);
      return stream(res, Buffer.concat([layer, junk.subarray(layer.length)]), junk);
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    declared: layer.length,
    sent,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
