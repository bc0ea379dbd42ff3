// Images as docker's API shows them: list (one entry per image id, with all its tags), inspect, history,
// pull, tag and remove, over the image store. What the CLI and the library share.
import { lstatSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { filterImages, IMAGE_FILTERS, normalizeFilters, type Filters, type ImageFacts } from './filters.js';
import type { PullEvents } from '../images/pull.js';
import type { BuildOptions, BuildResult } from './build/builder.js';
import type { PushResult } from '../images/push.js';
import { Store, type ImageRecord } from '../images/store.js';
import { findImage, removeImage, tagImage } from '../images/manage.js';
import { familiarName, isInsecure, parseReference, registryHost, type Reference } from '../images/reference.js';
import type { Credentials } from '../images/registry.js';
import { saveCredentials } from '../images/auth.js';
import { snapshotKind } from '../images/snapshot.js';
import { EngineError, listRecords, liveState } from './containers.js';
import { globMatch } from './path-match.js';
import { recordEvent } from './events.js';
import { importImage, loadImages, pruneImages, saveImages, type Loaded, type ArchiveSource, type ArchiveTarget, type ImagePruneOptions, type ImagePruneResult } from './image-archive.js';

interface ConfigBlob {
  created?: string;
  author?: string;
  comment?: string;
  docker_version?: string;
  architecture?: string;
  variant?: string;
  os?: string;
  config?: ImageConfigFields;
  container?: string;
  container_config?: Record<string, unknown>;
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean; author?: string }[];
}

/** docker's container config with nothing set, as its image inspect shows it for an image no classic build made. */
const EMPTY_CONTAINER_CONFIG = Object.freeze({
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false,
  Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
});

/** The image's run configuration, as docker stores it (only the fields are typed; the values pass through). */
export interface ImageConfigFields {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  StopSignal?: string;
  [k: string]: unknown;
}

/** One row of docker's image list (GET /images/json). */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** Unix seconds, from the image config. */
  Created: number;
  Size: number;
  SharedSize: number;
  Labels: Record<string, string>;
  Containers: number;
}

export interface HistoryEntry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** docker image inspect's object. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: ImageConfigFields | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  /** The same as Size (docker's API kept it until 1.44). */
  VirtualSize: number;
  /** docker's legacy build fields: the container a classic build step ran in, and its config. */
  Container: string;
  /** Never null: docker's is a struct (compose 1.x reads its Volumes when it recreates a container). */
  ContainerConfig: Record<string, unknown>;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  /** The config's build history (docker shows it with `docker history`). */
  History: NonNullable<ConfigBlob['history']>;
}

/**
 * Bytes of the regular files of the image's unpacked layers, each file once: hard links (within a layer,
 * or layers sharing inodes) are counted once, as the kernel stores them once.
 */
export function imageDiskSize(store: Store, rec: ImageRecord): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = lstatSync(p, { bigint: true });
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        total += Number(st.size);
      }
    }
  };
  for (const d of rec.diffIds) if (existsSync(store.layerPath(d))) walk(store.layerPath(d));
  return total;
}

const unixSeconds = (iso: string | undefined) => (iso && !Number.isNaN(Date.parse(iso)) ? Math.floor(Date.parse(iso) / 1000) : 0);

/** Its tags; none for a dangling image (its one record is nameless) nor for a name by digest. */
const repoTags = (recs: ImageRecord[]) => recs.filter((r) => r.name !== '' && !r.name.includes('@')).map((r) => r.name);

/** Its names by digest: those it was pulled by, and each tag's repository at its manifest. */
function repoDigests(recs: ImageRecord[]): string[] {
  const out = new Set<string>();
  for (const r of recs) {
    if (r.name.includes('@')) out.add(r.name);
    else if (r.manifest && r.name !== '') out.add(`${r.name.replace(/:[^:/]+$/, '')}@${r.manifest}`);
  }
  return [...out];
}

export interface ImageFilters {
  /** docker's reference filter: a name pattern with * wildcards ("busy*", "localhost/app:1*"). */
  reference?: string | string[];
  /** true: untagged images only (docker's <none>: one whose names moved on to another or were removed while a container ran it). */
  dangling?: boolean | string | string[];
  /** "key" or "key=value" of the image config's Labels. */
  label?: string | string[];
  /** Images created before / after the one named (ts/engine/filters.ts). */
  before?: string | string[];
  since?: string | string[];
}

const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function referenceMatches(pattern: string, rec: ImageRecord): boolean {
  if (rec.name === '') return false;
  const r = parseReference(rec.name);
  const familiar = familiarName(r);
  const candidates = [rec.name, familiar, `${familiar}:${r.tag ?? ''}`];
  return candidates.some((c) => globMatch(pattern, c));
}

// What the engine's clients (the CLI, the API server) name images and registries with.
export { familiarName, parseReference, type Reference } from '../images/reference.js';
export type { Credentials } from '../images/registry.js';
export { PushImageNotFoundError } from '../images/push.js';

/** A reference's manifest URL, as docker's daemon names it in a registry's refusal. */
export function manifestUrl(ref: Reference): string {
  return `${isInsecure(ref.registry) ? 'http' : 'https'}://${registryHost(ref.registry)}/v2/${ref.repository}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`;
}

/** docker load's lines for each image loaded: its familiar name (and the image it took it from), or its id when it has none. */
export function loadedLine(r: Loaded): string {
  if (!r.name) return `Loaded image ID: ${r.id}`;
  const moved = r.replaced ? `The image ${normalizedName(r.name)} already exists, renaming the old one with ID ${r.replaced} to empty string\n` : '';
  return `${moved}Loaded image: ${normalizedName(r.name)}`;
}

/** An image reference as docker's daemon prints it: familiar name and tag (latest when none); ids as given. */
export function normalizedName(ref: string): string {
  if (/^(sha256:)?[0-9a-f]{12,64}$/.test(ref)) return ref;
  try {
    const r = parseReference(ref);
    return r.digest ? `${familiarName(r)}@${r.digest}` : `${familiarName(r)}:${r.tag ?? 'latest'}`;
  } catch {
    return ref;
  }
}

export class Images {
  constructor(readonly root: string) {}

  private store(): Store {
    return new Store(this.root);
  }

  /** `named`: docker's daemon names a missing image by its normalized reference there (tag, history: "alpine:latest"). */
  private find(store: Store, nameOrId: string, named = false): ImageRecord {
    const rec = findImage(store, nameOrId);
    if (!rec) throw new EngineError(`No such image: ${named ? normalizedName(nameOrId) : nameOrId}`, 'ERR_NO_SUCH_IMAGE');
    return rec;
  }

  /** docker images: one entry per image id, newest first. */
  list(o: { filters?: ImageFilters } = {}): ImageSummary[] {
    const store = this.store();
    const refs = list(o.filters?.reference);
    const labels = list(o.filters?.label);
    normalizeFilters(o.filters as Filters, IMAGE_FILTERS);
    const byId = new Map<string, ImageRecord[]>();
    for (const i of store.images()) {
      if (refs.length && !refs.some((p) => referenceMatches(p, i))) continue;
      byId.set(i.config, [...(byId.get(i.config) ?? []), i]);
    }
    const out: ImageSummary[] = [];
    for (const [id, recs] of byId) {
      let config: ConfigBlob = {};
      try {
        config = store.readJson<ConfigBlob>(id, 'config');
      } catch {
        // A corrupt config still lists (inspect and run name the blob; image verify finds it).
      }
      const l = config.config?.Labels ?? {};
      if (!labels.every((x) => {
        const [k, v] = x.split(/=(.*)/s);
        return k in l && (v === undefined || l[k] === v);
      })) continue;
      out.push({ Id: id, ParentId: '', RepoTags: repoTags(recs), RepoDigests: repoDigests(recs), Created: unixSeconds(config.created), Size: imageDiskSize(store, recs[0]), SharedSize: -1, Labels: l, Containers: -1 });
    }
    out.sort((a, b) => b.Created - a.Created);
    const { before, since, dangling } = o.filters ?? {};
    if (!before && !since && dangling === undefined) return out;
    const facts = (i: ImageSummary): ImageFacts => ({ references: i.RepoTags, tagged: i.RepoTags.length > 0, labels: i.Labels, created: i.Created, id: i.Id });
    const resolve = (ref: string) => {
      const rec = findImage(store, ref);
      const hit = rec && this.list().find((i) => i.Id === rec.config);
      return hit ? facts(hit) : undefined;
    };
    return filterImages(out.map((i) => [i, facts(i)] as [ImageSummary, ImageFacts]), { before, since, dangling }, resolve);
  }

  /** docker image inspect. */
  inspect(nameOrId: string): ImageInspect {
    const store = this.store();
    const rec = this.find(store, nameOrId);
    const config = store.readJson<ConfigBlob>(rec.config, 'config');
    const recs = store.images().filter((i) => i.config === rec.config);
    const size = imageDiskSize(store, rec);
    return {
      Id: rec.config,
      RepoTags: repoTags(recs),
      RepoDigests: repoDigests(recs),
      Parent: '',
      Comment: config.comment ?? '',
      Created: config.created ?? '',
      DockerVersion: config.docker_version ?? '',
      Author: config.author ?? '',
      Config: config.config ?? null,
      Architecture: config.architecture ?? '',
      ...(config.variant ? { Variant: config.variant } : {}),
      Os: config.os ?? '',
      Size: size,
      VirtualSize: size,
      Container: config.container ?? '',
      ContainerConfig: { ...EMPTY_CONTAINER_CONFIG, ...config.container_config },
      GraphDriver: { Name: snapshotKind(), Data: null },
      RootFS: { Type: config.rootfs?.type ?? 'layers', Layers: config.rootfs?.diff_ids ?? rec.diffIds },
      Metadata: { LastTagTime: recs.map((r) => r.created).sort().at(-1) ?? '' },
      History: config.history ?? [],
    };
  }

  /** docker history: newest step first; the layers' sizes are their unpacked bytes. */
  history(nameOrId: string): HistoryEntry[] {
    const store = this.store();
    const rec = this.find(store, nameOrId, true);
    const config = store.readJson<ConfigBlob>(rec.config, 'config');
    const layers = [...rec.diffIds];
    // docker's: null when the image has no name (as for the steps below it).
    const tags = repoTags(store.images().filter((x) => x.config === rec.config));
    const steps = (config.history?.length ? config.history : rec.diffIds.map(() => ({}) as NonNullable<ConfigBlob['history']>[number])).map((h, i, all) => {
      const diff = h.empty_layer ? undefined : layers.shift();
      return {
        Id: i === all.length - 1 ? rec.config : '<missing>',
        Created: unixSeconds(h.created),
        CreatedBy: h.created_by ?? '',
        Tags: i === all.length - 1 && tags.length ? tags : null,
        Size: diff ? imageDiskSize(store, { ...rec, diffIds: [diff] }) : 0,
        Comment: h.comment ?? '',
      };
    });
    return steps.reverse();
  }

  /** docker pull: the image named (a tag or a digest) from its registry into the store. */
  async pull(name: string, o: { platform?: string; insecureRegistries?: string[]; credentials?: Credentials; onProgress?: PullEvents['status'] } = {}): Promise<{ name: string; id: string; digest: string }> {
    // The registry client (and tar, zlib, TLS): loaded by the methods that use it, not by every command.
    const { pull: pullImage } = await import('../images/pull.js');
    const rec = await pullImage(name, { root: this.root, platform: o.platform, insecureRegistries: o.insecureRegistries, credentials: o.credentials, events: o.onProgress ? { status: o.onProgress } : undefined });
    recordEvent(this.root, 'image', 'pull', rec.name, { name: rec.name });
    return { name: rec.name, id: rec.config, digest: rec.manifest };
  }

  /**
   * docker push: the image's stored blobs and manifest (or index) to its registry, so that the pushed digest
   * is the local one. onProgress gets docker's per-layer lines (Pushing, Pushed, Layer already exists, Mounted from REPO).
   */
  async push(name: string, o: { insecureRegistries?: string[]; credentials?: Credentials; onProgress?: PullEvents['status']; chunkSize?: number } = {}): Promise<PushResult> {
    const { push: pushImage } = await import('../images/push.js');
    return pushImage(name, { root: this.root, insecureRegistries: o.insecureRegistries, credentials: o.credentials, chunkSize: o.chunkSize, events: o.onProgress ? { status: o.onProgress } : undefined });
  }

  /**
   * docker login's check: the credentials against the registry's /v2/ (basic, or a bearer token got with
   * them), by the registry client of pull and push, so with the same trust (certs.d, NODE_EXTRA_CA_CERTS)
   * and plain http for the same registries. Nothing is kept here: the caller stores them, or not.
   * Rejects with PullDeniedError when the registry refuses them.
   */
  async login(server: string, credentials: Credentials, o: { insecureRegistries?: string[] } = {}): Promise<void> {
    // docker accepts a URL ("https://host/v1/"): the registry is its host.
    const registry = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (!/^[a-zA-Z0-9.-]+(:\d+)?$/.test(registry)) throw new EngineError(`login: invalid registry ${JSON.stringify(server)}`, 'ERR_USAGE');
    const { RegistryClient } = await import('../images/registry.js');
    await new RegistryClient(registry, { credentials, insecureRegistries: o.insecureRegistries }).login();
  }

  /** What `tsbox login` keeps once login() accepted them: pull and push from this root use them. */
  saveLogin(server: string, credentials: Credentials): void {
    saveCredentials(this.root, server, credentials);
  }

  /** docker logout: the credentials kept for server are forgotten. */
  logout(server: string): void {
    saveCredentials(this.root, server, undefined);
  }

  /** docker build: a Dockerfile into the store (engine/build/); onStep and onOutput report its progress. */
  async build(o: BuildOptions): Promise<BuildResult> {
    const { build } = await import('./build/builder.js');
    return build(this.root, o);
  }

  /** docker tag: target names the same image as source. */
  tag(source: string, target: string): void {
    const store = this.store();
    const image = this.find(store, source, true);
    tagImage(store, source, target);
    recordEvent(this.root, 'image', 'tag', image.config, { name: target });
  }

  /** docker rmi: untags, and deletes the layers no other image uses once no tag is left; refuses as docker does (manage.ts). */
  remove(nameOrId: string, o: { force?: boolean } = {}): ({ Untagged: string } | { Deleted: string })[] {
    const image = this.find(this.store(), nameOrId);
    const usersOf = (config: string) => listRecords(this.root).filter((r) => r.ImageId === config).map((r) => ({ id: r.Id, running: liveState(this.root, r).Running }));
    const out: ({ Untagged: string } | { Deleted: string })[] = removeImage(this.root, nameOrId, o.force ?? false, usersOf).map((line) => (line.startsWith('Untagged: ') ? { Untagged: line.slice(10) } : { Deleted: line.replace(/^Deleted: /, '') }));
    for (const item of out) {
      // docker names the image by its id in these two.
      if ('Untagged' in item) recordEvent(this.root, 'image', 'untag', image.config, { name: image.config });
      else if (item.Deleted === image.config) recordEvent(this.root, 'image', 'delete', image.config, { name: image.config });
    }
    return out;
  }

  /** docker save: one or more images as one docker-archive tar, to a path or a stream. */
  save(names: string | string[], out: ArchiveTarget): Promise<void> {
    return saveImages(this.root, Array.isArray(names) ? names : [names], out);
  }

  /** docker load: a docker-archive or OCI archive (gzip, zstd or plain) from a path or a stream; the names loaded. */
  load(input: ArchiveSource): Promise<Loaded[]> {
    return loadImages(this.root, input);
  }

  /** docker import: a rootfs tarball as a one-layer image (dangling without a name), with Dockerfile-style changes (ENV, CMD, ...). */
  import(input: ArchiveSource, o: { name?: string; changes?: string[] } = {}): Promise<{ name: string; id: string }> {
    return importImage(this.root, input, o.name ?? '', o.changes ?? []);
  }

  /** docker image prune: dangling images, every unused one with all; then unreferenced blobs. */
  prune(o: ImagePruneOptions = {}): ImagePruneResult {
    return pruneImages(this.root, o, this);
  }
}
