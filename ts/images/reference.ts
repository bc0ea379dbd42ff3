// Image references with Docker Hub's rules: "alpine" is docker.io/library/alpine:latest.
export interface Reference {
  /** Registry host[:port] as written ("docker.io" for Docker Hub). */
  registry: string;
  /** Repository path, e.g. "library/alpine". */
  repository: string;
  tag?: string;
  digest?: string;
}

const DOMAIN = /^(?:localhost|[\w-]+(?:\.[\w-]+)+|[\w-]+:\d+|\[[0-9a-fA-F:]+\](?::\d+)?)(?::\d+)?$/;
const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseReference(input: string): Reference {
  let rest = input.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new Error(`invalid reference ${JSON.stringify(input)}: bad digest ${JSON.stringify(digest)}`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new Error(`invalid reference ${JSON.stringify(input)}: bad tag ${JSON.stringify(tag)}`);
  }
  let registry = 'docker.io';
  const slash = rest.indexOf('/');
  if (slash > 0 && DOMAIN.test(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  if (!REPO.test(rest)) throw new Error(`invalid reference ${JSON.stringify(input)}: bad repository name ${JSON.stringify(rest)}`);
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: rest, tag, digest };
}

/** The full name: docker.io/library/alpine:latest (with @digest when pinned). */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The name docker shows: "alpine:latest" for Docker Hub's library images, full names otherwise. */
export function familiarName(r: Reference): string {
  const repo = r.registry === 'docker.io' ? r.repository.replace(/^library\//, '') : `${r.registry}/${r.repository}`;
  return repo;
}

/** The host to talk to (Docker Hub's API lives elsewhere than its name). */
export function registryHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/** Plain http for loopback registries (and those the user marks insecure), https otherwise. */
export function isInsecure(registry: string, insecure: string[] = []): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || insecure.includes(registry);
}
