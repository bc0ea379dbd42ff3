// The certificate authorities a registry connection trusts beyond Node's own roots, read on the first TLS
// connection that needs them:
// - TSBOX_EXTRA_CA_CERTS: where the engine's launcher (bin/tsbox.cjs) moves NODE_EXTRA_CA_CERTS, so that
//   Node does not parse that bundle at the start of every command (30-40 ms for a distribution's bundle),
//   most of which make no TLS connection;
// - docker's and podman's per-registry directories, certs.d/<host[:port]>/*.crt.
// Where neither applies, connections get Node's default trust (ts/images/http.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

/** docker's and podman's directories of per-registry certificates; TSBOX_CERTS_DIRS (colon-separated) replaces them. */
export function certsDirs(): string[] {
  const e = process.env.TSBOX_CERTS_DIRS;
  return e !== undefined ? e.split(':').filter(Boolean) : ['/etc/docker/certs.d', '/etc/containers/certs.d'];
}

const dirsOfHost = new Map<string, string[]>();

/** The certs.d/<host> directories that exist for host (URL.host: "name" on 443, "name:port" otherwise). */
function hostDirs(host: string): string[] {
  let dirs = dirsOfHost.get(host);
  if (dirs) return dirs;
  dirs = [];
  // A host is never a path: no "..", no separators.
  if (host && !host.startsWith('.') && !host.includes('/')) {
    for (const d of certsDirs()) {
      try {
        if (statSync(join(d, host)).isDirectory()) dirs.push(join(d, host));
      } catch {
        // none for this host
      }
    }
  }
  dirsOfHost.set(host, dirs);
  return dirs;
}

/** Files of extra authorities for every host: the launcher's TSBOX_EXTRA_CA_CERTS, and NODE_EXTRA_CA_CERTS where our own context replaces Node's default (which has it). */
function extraFiles(): string[] {
  const files = [process.env.TSBOX_EXTRA_CA_CERTS, process.env.NODE_EXTRA_CA_CERTS].filter((f): f is string => !!f);
  return [...new Set(files)];
}

function needsOwnTrust(host: string): boolean {
  return !!process.env.TSBOX_EXTRA_CA_CERTS || hostDirs(host).length > 0;
}

function readPem(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    // As Node does with an unreadable NODE_EXTRA_CA_CERTS: left out (a failed verification names the files).
    return undefined;
  }
}

const body = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
let roots: Set<string> | undefined;

/** pem without the certificates Node's roots hold already: a distribution's bundle is mostly those (122 of 144 here), and each costs its parse. */
function beyondRoots(pem: string): string {
  roots ??= new Set(rootCertificates.map(body));
  return pem.replace(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g, (c) => (roots!.has(body(c)) ? '' : c));
}

const contexts = new Map<string, SecureContext>();

/** Node's bundled roots plus the extra files and host's certs.d authorities: parsed once per set, on first use. */
function contextFor(host: string): SecureContext {
  const dirs = hostDirs(host);
  const key = dirs.join('\0');
  let ctx = contexts.get(key);
  if (ctx) return ctx;
  const ca: string[] = [...rootCertificates];
  for (const f of extraFiles()) {
    const pem = readPem(f);
    if (pem) ca.push(beyondRoots(pem));
  }
  for (const d of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      // gone since
    }
    for (const n of names.filter((x) => x.endsWith('.crt')).sort()) {
      const pem = readPem(join(d, n));
      if (pem) ca.push(pem);
    }
  }
  ctx = createSecureContext({ ca });
  contexts.set(key, ctx);
  return ctx;
}

/**
 * The TLS context for a connection to host: Node's roots plus the extra authorities where any apply to
 * it, or undefined for Node's default context.
 */
export function secureContextFor(host: string): SecureContext | undefined {
  return needsOwnTrust(host) ? contextFor(host) : undefined;
}

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY)|INVALID_CA|ALTNAME|HOSTNAME_MISMATCH/;

/**
 * A one-line account of a failed certificate verification in a request's error (undefined for any other
 * failure): what was wrong, and where the registry's authority can be added.
 */
export function certificateFailure(e: unknown, url: string): string | undefined {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : '';
  if (!CERT_CODES.test(code)) return undefined;
  const host = new URL(url).host;
  const where = [...extraFiles(), ...hostDirs(host)];
  const trusted = where.length ? `; trusted besides Node's roots: ${where.join(', ')}` : '';
  return `tls: ${String(cause?.message ?? code)} (${code}); add the registry's CA to NODE_EXTRA_CA_CERTS or ${join(certsDirs()[0] ?? '/etc/docker/certs.d', host, 'ca.crt')}${trusted}`;
}
