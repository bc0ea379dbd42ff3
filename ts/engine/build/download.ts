// ADD of a URL: the file downloaded (only when the build has a network), mode 0600 as docker gives it;
// its content goes into the step's cache key.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Store } from '../../images/store.js';
import { certificateFailure } from '../../images/trust.js';
import { request, type HttpResponse } from '../../images/http.js';

export async function download(store: Store, url: string, what: string): Promise<{ dir: string; file: string; name: string; sha: string }> {
  let res: HttpResponse;
  try {
    res = await request(url);
  } catch (e) {
    const cert = certificateFailure(e, url);
    if (cert) throw new Error(`${what}: ${cert}`);
    throw new Error(`${what}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${res.statusText}`);
  const data = await res.buffer();
  const dir = store.tempPath('add');
  mkdirSync(dir, { mode: 0o700 });
  const name = posix.basename(new URL(url).pathname) || 'index.html';
  const file = join(dir, name);
  writeFileSync(file, data);
  chmodSync(file, 0o600);
  return { dir, file, name, sha: createHash('sha256').update(data).digest('hex') };
}
