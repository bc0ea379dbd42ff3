// docker's list filters (ps, images, network ls, volume ls): each key's values are alternatives (but every
// label value must hold, as docker's MatchKVList has it), different keys must all match; an unknown key or a bad value is the daemon's "invalid filter" error. The CLI only
// splits key=value; the same functions serve the library and an HTTP API.
import { EngineError } from './containers.js';
import { globMatch } from './path-match.js';
import { goFilterMatch } from './go-regexp.js';

/** Filters as docker's API takes them: key -> value or values. */
export type Filters = Record<string, string | string[] | boolean | undefined>;

export const CONTAINER_FILTERS = ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'network', 'volume', 'before', 'since'] as const;
export const IMAGE_FILTERS = ['reference', 'dangling', 'label', 'before', 'since'] as const;
export const NETWORK_FILTERS = ['name', 'id', 'label', 'driver', 'type', 'scope', 'dangling'] as const;
export const VOLUME_FILTERS = ['name', 'label', 'driver', 'dangling'] as const;

const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

/** The filters as key -> values, checked against the keys a list knows (docker's errors otherwise). */
export function normalizeFilters(f: Filters | undefined, known: readonly string[]): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const [k, v] of Object.entries(f ?? {})) {
    if (v === undefined) continue;
    if (!known.includes(k)) throw new EngineError(`Invalid filter '${k}'`, 'ERR_INVALID_FILTER');
    const vs = (Array.isArray(v) ? v : [v]).map(String);
    if (k === 'status') for (const s of vs) if (!STATUSES.has(s)) throw new EngineError(`Invalid filter 'status=${s}'`, 'ERR_INVALID_FILTER');
    if (k === 'dangling') for (const s of vs) if (!/^(true|false|1|0)$/i.test(s)) throw new EngineError(`Invalid filter 'dangling=[${s}]'`, 'ERR_INVALID_FILTER');
    if (k === 'exited') for (const s of vs) if (!/^-?\d+$/.test(s)) throw new EngineError(`Invalid filter 'exited=${s}'`, 'ERR_INVALID_FILTER');
    // network ls's type: docker's own words for it (daemon/network/filter.go).
    if (k === 'type') for (const s of vs) if (s !== 'builtin' && s !== 'custom') throw new EngineError(`Invalid filter: 'type'='${s}'`, 'ERR_INVALID_FILTER');
    out.push([k, vs]);
  }
  return out;
}

/** One key's values against an item: any of them, but all of label's. */
function matchKey(k: string, vs: string[], one: (v: string) => boolean): boolean {
  return k === 'label' ? vs.every(one) : vs.some(one);
}

/** label=key or label=key=value against a labels map. */
export function labelMatches(labels: Record<string, string> | null | undefined, want: string): boolean {
  const i = want.indexOf('=');
  const k = i < 0 ? want : want.slice(0, i);
  if (!labels || !Object.prototype.hasOwnProperty.call(labels, k)) return false;
  return i < 0 || labels[k] === want.slice(i + 1);
}

export const truthy = (v: string) => /^(true|1)$/i.test(v);

/** What one container offers the ps filters. */
export interface ContainerFacts {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: string;
  exitCode: number;
  image: string;
  imageId: string;
  networks: string[];
  mounts: { Name?: string; Source: string; Destination: string }[];
  created: number;
}

/**
 * docker ps --filter: facts of each container in, the matching ones out (their order kept).
 * imageIdOf resolves an ancestor filter's image reference to an image id (undefined: no such image).
 */
export function filterContainers<T>(items: [T, ContainerFacts][], filters: Filters | undefined, imageIdOf: (ref: string) => string | undefined): T[] {
  const f = normalizeFilters(filters, CONTAINER_FILTERS);
  // before/since name containers: the ones created before/after them.
  const bound = (k: string) => {
    const vs = f.find(([key]) => key === k)?.[1];
    if (!vs) return undefined;
    return vs.map((ref) => {
      const c = items.find(([, x]) => x.id === ref || x.name === ref || x.id.startsWith(ref));
      if (!c) throw new EngineError(`No such container: ${ref}`, 'ERR_NO_SUCH_CONTAINER');
      return c[1];
    });
  };
  const before = bound('before');
  const since = bound('since');
  const ancestors = new Map<string, string | undefined>();
  const ancestor = (ref: string) => {
    if (!ancestors.has(ref)) ancestors.set(ref, imageIdOf(ref));
    return ancestors.get(ref);
  };
  const one = (c: ContainerFacts, k: string, v: string): boolean => {
    switch (k) {
      case 'id':
        return c.id.startsWith(v);
      case 'name':
        // docker matches "/name" (the ^/name$ idiom), podman "name" (^name$): either form.
        return goFilterMatch(`/${c.name}`, v) || goFilterMatch(c.name, v);
      case 'label':
        return labelMatches(c.labels, v);
      case 'status':
        return c.state === v;
      case 'exited':
        return c.state === 'exited' && c.exitCode === Number(v);
      case 'ancestor': {
        if (c.image === v || c.image === `${v}:latest` || c.imageId === v) return true;
        const short = v.replace(/^sha256:/, '');
        if (/^[0-9a-f]{4,64}$/.test(short) && c.imageId.replace(/^sha256:/, '').startsWith(short)) return true;
        return ancestor(v) === c.imageId;
      }
      case 'network':
        return c.networks.includes(v);
      case 'volume':
        return c.mounts.some((m) => m.Name === v || m.Destination === v || m.Source === v);
      case 'before':
        return before!.every((b) => c.created < b.created);
      case 'since':
        return since!.every((b) => c.created > b.created);
      default:
        return false;
    }
  };
  return items.filter(([, c]) => f.every(([k, vs]) => (k === 'before' || k === 'since' ? one(c, k, '') : matchKey(k, vs, (v) => one(c, k, v))))).map(([t]) => t);
}

/** What one image offers the images filters. */
export interface ImageFacts {
  /** Its names ("busybox:latest", "127.0.0.1:5000/app:1"), in full and familiar forms. */
  references: string[];
  tagged: boolean;
  labels: Record<string, string>;
  created: number;
  id: string;
}

/** docker images --filter; resolve finds the image a before/since names. */
export function filterImages<T>(items: [T, ImageFacts][], filters: Filters | undefined, resolve: (ref: string) => ImageFacts | undefined): T[] {
  const f = normalizeFilters(filters, IMAGE_FILTERS);
  const bounds = (k: string) =>
    (f.find(([key]) => key === k)?.[1] ?? []).map((ref) => {
      const i = resolve(ref);
      if (!i) throw new EngineError(`No such image: ${ref}`, 'ERR_NO_SUCH_IMAGE');
      return i;
    });
  const before = bounds('before');
  const since = bounds('since');
  const one = (i: ImageFacts, k: string, v: string): boolean => {
    switch (k) {
      case 'reference':
        return i.references.some((r) => globMatch(v, r));
      case 'dangling':
        return truthy(v) ? !i.tagged : i.tagged;
      case 'label':
        return labelMatches(i.labels, v);
      default:
        return true;
    }
  };
  return items
    .filter(([, i]) => f.every(([k, vs]) => k === 'before' || k === 'since' || matchKey(k, vs, (v) => one(i, k, v))))
    .filter(([, i]) => before.every((b) => i.created < b.created) && since.every((b) => i.created > b.created))
    .map(([t]) => t);
}

/** What one network or volume offers its list's filters. */
export interface ObjectFacts {
  name: string;
  id?: string;
  driver: string;
  labels: Record<string, string>;
  /** For dangling: no container uses it. */
  inUse?: boolean;
  /** Networks: 'builtin' or 'custom'. */
  type?: 'builtin' | 'custom';
  scope?: string;
}

/**
 * network ls / volume ls --filter. name is docker's filters.Match: the value itself or a regular expression
 * anywhere in the name (so a plain value matches as a substring); id a prefix; dangling is !inUse (a list
 * marks a builtin network as in use: docker never calls bridge, host or none dangling).
 */
export function filterObjects<T>(kind: 'network' | 'volume', items: [T, ObjectFacts][], filters: Filters | undefined): T[] {
  const f = normalizeFilters(filters, kind === 'network' ? NETWORK_FILTERS : VOLUME_FILTERS);
  const one = (o: ObjectFacts, k: string, v: string): boolean => {
    switch (k) {
      case 'name':
        return goFilterMatch(o.name, v);
      case 'id':
        return (o.id ?? o.name).startsWith(v);
      case 'label':
        return labelMatches(o.labels, v);
      case 'driver':
        return o.driver === v;
      case 'type':
        return o.type === v;
      case 'scope':
        return (o.scope ?? 'local') === v;
      case 'dangling':
        return truthy(v) ? !o.inUse : !!o.inUse;
      default:
        return false;
    }
  };
  return items.filter(([, o]) => f.every(([k, vs]) => matchKey(k, vs, (v) => one(o, k, v)))).map(([t]) => t);
}
