// tsbox run: image (pulled when missing) → snapshot → spec → the runtime; foreground or detached.
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, mkdirSync, constants as fsc } from 'node:fs';
import { spawn } from 'node:child_process';
import { native } from '../native.js';
import { join } from 'node:path';
import { Store } from '../images/store.js';
import { findImage } from '../images/manage.js';
import { prepareSnapshot, snapshotDir } from '../images/snapshot.js';
import { runContainer, type Container, type StdioOption } from '../runtime/api.js';
import * as ops from '../runtime/operations.js';
import { stateDir } from '../runtime/state.js';
import { containerDir, findContainer, liveState, loadRecord, newId, newName, releaseName, reserveName, saveRecord, stateRoot, statusFile, type ContainerRecord } from './containers.js';
import { hostsFile, mayHaveNetwork, netOf, networkMode, plugBridge, publish, refreshPeers, requestedPorts, resolvConf, unplugAll } from './network.js';
import type { RunOptions } from './options.js';
import { buildSpec, type ImageConfig } from './spec.js';
import { containerImage } from './container-image.js';
import { nameAnonymousVolumes, removeAnonymousVolumes } from './volumes.js';
import { UsageError } from '../errors.js';
import { ImageNotFoundError, RegistryError } from '../errors.js';
import { formatReference, parseReference } from '../images/reference.js';
import { selfArgv } from '../self.js';
import { SLIRP_DNS, SLIRP_GUEST_IP, slirpForward, startSlirp, stopSlirp } from '../net/slirp.js';
import { containerEvent, recordExitOf } from './container-events.js';
import { logConfig } from './logging.js';
import { attachSocket } from './containers.js';
import { recordEvent } from './events.js';
import { platformMismatch } from './platform.js';
import { removeTree } from '../images/tree.js';

/** /etc/hosts, /etc/hostname and /etc/resolv.conf for the container. */
function writeEtc(dir: string, hostname: string, o: RunOptions): void {
  writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
  writeFileSync(join(dir, 'hosts'), hostsFile(hostname, undefined, o.addHost));
  let host = '';
  try {
    host = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // no resolver configured on the host
  }
  writeFileSync(join(dir, 'resolv.conf'), resolvConf(host, o.dns, o.dnsSearch));
}

/** When run pulls its image: docker run's --pull. */
export type PullPolicy = 'missing' | 'always' | 'never';

/** A step of the pull run makes: status 'missing' first (the image is not in the store), then docker pull's per layer (id set). */
export interface PullProgress {
  image: string;
  /** The layer (12 hex digits) the status is about; absent for the image as a whole. */
  id?: string;
  status: string;
  /** Bytes so far of a layer being downloaded. */
  progressDetail?: { current: number; total?: number };
}

/** What the engine tells its caller instead of writing to stdout/stderr (the CLI writes it there). */
export interface EngineHooks {
  /** What could not be done as asked (rootless limits without a cgroup, ...). Default: ignored. */
  onWarning?: (message: string) => void;
  /** Pull progress. Default: ignored. */
  onProgress?: (p: PullProgress) => void;
  /** When to pull the image (default 'missing'). */
  pull?: PullPolicy;
  /**
   * The container is this process's (the library's run()): own is told its id before anything of it
   * exists, and it dies with this process. Without: it outlives us (the CLI, detached containers).
   */
  own?: (id: string) => void;
}

export interface Started {
  record: ContainerRecord;
  container: Container;
}

function imageConfig(store: Store, configDigest: string): ImageConfig {
  return (JSON.parse(store.readBlob(configDigest).toString()) as { config?: ImageConfig }).config ?? {};
}

/**
 * (Re)starts the container a record describes: the runtime's old state goes, the snapshot stays (its
 * upper layer is the container's filesystem), a fresh spec is built from the options.
 * stdio: for the process (foreground, API), or undefined for the log file (detached).
 */
export async function launchRecord(root: string, record: ContainerRecord, stdio?: [StdioOption, StdioOption, StdioOption], hooks: EngineHooks = {}): Promise<Container> {
  const o = record.Options;
  const image = containerImage(root, record);
  if (!image) throw new Error(`container ${record.Name}: its image ${record.Image} is gone`);
  const id = record.Id;
  const dir = containerDir(root, id);
  // The runtime's state of an earlier run, if any (a first start has none: the runtime's not-found error,
  // built and thrown, is a millisecond).
  if (existsSync(stateDir(stateRoot(root), id))) {
    try {
      ops.remove(stateRoot(root), id, true);
    } catch (e) {
      if (!(e as Error).message.includes('does not exist')) throw e;
    }
  }
  const snap = prepareSnapshot(root, image.rec, id);
  const mode = networkMode(o, root);
  const hostname = o.hostname ?? id.slice(0, 12);
  // slirp4netns answers DNS at 10.0.2.3; the host's own resolvers may be loopback ones, out of reach.
  if (mode !== 'host') writeEtc(dir, hostname, mode === 'slirp4netns' && !o.dns.length ? { ...o, dns: [SLIRP_DNS] } : o);
  const config = image.doc.config ?? {};
  const spec = buildSpec({ id, snapshot: snap, image: config, opts: { ...o, network: mode }, etcDir: mode === 'host' ? undefined : dir, volumesDir: join(root, 'volumes') });
  if (mode === 'container') {
    // Join the other container's network namespace, as docker's --network container:NAME.
    const other = findContainer(root, o.network.slice('container:'.length));
    const pid = other ? liveState(root, other).Pid : 0;
    if (!other || !pid) throw new UsageError(`--network ${o.network}: no running container by that name`);
    spec.linux!.namespaces!.push({ type: 'network', path: `/proc/${pid}/ns/net` });
  }
  spec.linux!.cgroupsPath = `/tsbox/${id}`;
  record.Args = spec.process!.args;
  const detached = !stdio;
  // docker's semantics: the command is pid 1 unless --init asks for the reaper. A detached container's
  // exit status and log are kept by its monitor, outside the container.
  const logs = logConfig(o);
  const logging = detached && logs.driver === 'json-file';
  spec.annotations = {
    ...spec.annotations,
    'run.tsbox.init': String(o.init),
    ...(logging ? { 'run.tsbox.log': 'json-file' } : {}),
    ...(logging && logs.maxSize ? { 'run.tsbox.log-rotate': `${logs.maxSize}:${logs.maxFile}` } : {}),
    ...(logging ? attachAnnotations(root, id, o.interactive) : {}),
  };
  // A detached container's terminal is held by its monitor (attach.c), which logs its output and serves it
  // to attach clients; without a log (--log-driver none) nobody holds it: no terminal then.
  const ttyHeld = detached && logging && o.tty && !!spec.annotations['run.tsbox.attach'];
  if (detached && !ttyHeld) spec.process!.terminal = false;
  if (ttyHeld) spec.annotations['run.tsbox.tty'] = 'monitor';
  // Not truncated: until this run ends (the monitor overwrites it then), the last run's exit code stays,
  // as docker shows a restarting container's.
  const statusFd = detached ? openSync(statusFile(root, id), fsc.O_WRONLY | fsc.O_CREAT, 0o600) : undefined;
  const logFd = logging ? openSync(join(dir, 'container.log'), 'a', 0o600) : undefined;
  try {
    let ip: string | undefined;
    const ownUserns = spec.linux!.namespaces!.some((n) => n.type === 'user' && !n.path);
    const beforeStart =
      mode === 'bridge' ? (pid: number) => (ip = plugBridge(root, id, pid, hostname, netOf(root, o))) : mode === 'slirp4netns' ? (pid: number) => startSlirp(dir, pid, ownUserns) : undefined;
    // An earlier run's address and proxies go first (restart, start after stop).
    if (mode === 'bridge') unplugAll(root, id);
    const container = await runContainer({ id, spec, bundle: dir, root: stateRoot(root), stdio: stdio ?? (logFd !== undefined ? ['ignore', logFd, logFd] : ['ignore', 'ignore', 'ignore']), init: o.init, monitor: detached, remove: false, detached: !hooks.own, statusFd, beforeStart, onWarning: hooks.onWarning ?? (() => undefined) });
    const exposed = (config as { ExposedPorts?: Record<string, unknown> }).ExposedPorts;
    if (ip) {
      record.IPAddress = ip;
      record.Ports = await publish(root, id, ip, requestedPorts(o, exposed));
    } else if (mode === 'slirp4netns') {
      record.IPAddress = SLIRP_GUEST_IP;
      record.Ports = await slirpForward(dir, requestedPorts(o, exposed));
    }
    record.StartedAt = new Date().toISOString();
    delete record.ExitCode;
    delete record.FinishedAt;
    delete record.StoppedByUser;
    saveRecord(root, record);
    containerEvent(root, record, 'start');
    if (ip) refreshPeers(root, o.network);
    if (detached && (o.restart !== 'no' || o.rm)) startMonitor(root, id);
    return container;
  } finally {
    if (statusFd !== undefined) closeSync(statusFd);
    if (logFd !== undefined) closeSync(logFd);
  }
}

/** Where the monitor serves attach clients; -i keeps the container's stdin open behind it. */
function attachAnnotations(root: string, id: string, stdin: boolean): Record<string, string> {
  const sock = attachSocket(root, id);
  // A unix socket's path has 107 bytes at most: a root that deep gets no attach socket.
  if (Buffer.byteLength(sock) > 107) return {};
  mkdirSync(join(root, 'attach'), { recursive: true, mode: 0o700 });
  return { 'run.tsbox.attach': sock, ...(stdin ? { 'run.tsbox.stdin': 'open' } : {}) };
}

/** A detached supervisor (tsbox _monitor ID) that applies the restart policy; only for containers that have one. */
export function startMonitor(root: string, id: string): void {
  const [node, args] = selfArgv('--root', root, '_monitor', id);
  spawn(node, args, { detached: true, stdio: 'ignore' }).unref();
}

/** Creates and starts a container. */
export async function startContainer(root: string, o: RunOptions, stdio?: [StdioOption, StdioOption, StdioOption], hooks: EngineHooks = {}): Promise<Started> {
  const record = await createContainer(root, o, hooks);
  try {
    return { record, container: await launchRecord(root, record, stdio, hooks) };
  } catch (e) {
    removeContainerFiles(root, record.Id);
    throw e;
  }
}

/** docker create: the record, name and snapshot of a container that has not run yet ("created"). */
export async function createContainer(root: string, o: RunOptions, hooks: EngineHooks = {}): Promise<ContainerRecord> {
  networkMode(o, root);
  logConfig(o);
  const id = newId();
  hooks.own?.(id);
  // The name first, before any pull or snapshot: two runs asking for one name cannot both get it.
  let name: string;
  if (o.name) name = reserveName(root, o.name, id);
  else {
    for (;;) {
      try {
        name = reserveName(root, newName(root), id);
        break;
      } catch (e) {
        if (!/^Conflict\./.test((e as Error).message)) throw e;
      }
    }
  }
  let made = false;
  try {
    const image = await imageFor(root, o, hooks);
    const mismatch = platformMismatch(new Store(root), image.config, o.platform);
    if (mismatch) hooks.onWarning?.(mismatch);
    made = true;
    o = nameAnonymousVolumes(root, o, (imageConfig(new Store(root), image.config) as { Volumes?: Record<string, unknown> | null }).Volumes);
    mkdirSync(containerDir(root, id), { recursive: true, mode: 0o711 });
    // Its command as the spec will have it, for ps and inspect before it first runs (docker's Path/Args).
    const config = imageConfig(new Store(root), image.config);
    const entrypoint = o.entrypoint !== undefined ? (o.entrypoint ? [o.entrypoint] : []) : config.Entrypoint ?? [];
    const args = [...entrypoint, ...(o.cmd.length ? o.cmd : o.entrypoint !== undefined ? [] : config.Cmd ?? [])];
    if (!args.length) throw new UsageError('no command specified: the image has no Entrypoint or Cmd');
    const record: ContainerRecord = { Id: id, Name: name, Image: o.image, ImageId: image.config, Created: new Date().toISOString(), Args: args, Options: o, RestartCount: 0 };
    saveRecord(root, record);
    prepareSnapshot(root, image, id);
    containerEvent(root, record, 'create');
    return record;
  } catch (e) {
    if (made) {
      removeContainerFiles(root, id);
      removeAnonymousVolumes(root, { Id: id, Options: o });
    }
    releaseName(root, name, id);
    throw e;
  }
}

/** The image to run, pulled as the policy says; a pull that cannot find it fails with ImageNotFoundError. */
async function imageFor(root: string, o: RunOptions, hooks: EngineHooks) {
  const policy = hooks.pull ?? 'missing';
  if (!['missing', 'always', 'never'].includes(policy)) throw new UsageError(`invalid pull policy ${JSON.stringify(policy)}: want missing, always or never`);
  const found = policy === 'always' ? undefined : findImage(new Store(root), o.image);
  if (found) return found;
  if (policy === 'never') throw new ImageNotFoundError(`image ${JSON.stringify(o.image)} is not in the store (${root}) and pulling is off`, o.image);
  if (policy === 'missing') hooks.onProgress?.({ image: o.image, status: 'missing' });
  const progress = hooks.onProgress;
  // Loaded when an image is missing: the registry client (TLS, zlib, tar) is most of a run's code.
  const { pull } = await import('../images/pull.js');
  try {
    const rec = await pull(o.image, { root, platform: o.platform, events: progress && { status: (id, status, progressDetail) => progress({ image: o.image, id, status, ...(progressDetail ? { progressDetail } : {}) }) } });
    recordEvent(root, 'image', 'pull', rec.name, { name: rec.name });
    return rec;
  } catch (e) {
    if (e instanceof ImageNotFoundError) throw new ImageNotFoundError(e.message, o.image, { cause: e });
    if (e instanceof RegistryError && e.code === 'ERR_REGISTRY_UNREACHABLE') {
      const where = /^[^/]+/.exec(formatReferenceSafe(o.image))?.[0] ?? 'its registry';
      throw new RegistryError(`pull ${o.image}: ${where} cannot be reached (${e.message}); the image is not in the store: pull it from a reachable registry, or load it`, undefined, e.code);
    }
    throw e;
  }
}

function formatReferenceSafe(image: string): string {
  try {
    return formatReference(parseReference(image));
  } catch {
    return image;
  }
}

/** Everything of a container on the host: runtime state and cgroup, network, snapshot mount, record. */
export function removeContainerFiles(root: string, id: string): void {
  const before = loadRecord(root, id);
  if (before) {
    // Stopped by the user before it is killed: its restart policy's supervisor (monitor.ts) would
    // otherwise start it again while its files go (docker's "removal in progress").
    if (!before.StoppedByUser) saveRecord(root, { ...before, StoppedByUser: true });
    // Its exit first, if nobody recorded it yet: die comes before destroy (its own: the others' wait for
    // the next engine call that lists them, not for this removal to read every record).
    recordExitOf(root, before);
    containerEvent(root, before, 'destroy');
  }
  try {
    ops.remove(stateRoot(root), id, true);
  } catch (e) {
    if (!(e as Error).message.includes('does not exist')) throw e;
  }
  stopSlirp(containerDir(root, id));
  // Also when the record never got its address (a failure between plugging and saving).
  const network = before?.Options.network;
  if (mayHaveNetwork(root, id)) unplugAll(root, id);
  try {
    native().umount(join(snapshotDir(root, id), 'rootfs'), 2 /* MNT_DETACH */);
  } catch {
    // not mounted
  }
  const name = before?.Name;
  // A monitor killed before it could remove its socket leaves it.
  rmSync(attachSocket(root, id), { force: true });
  removeTree(containerDir(root, id));
  if (name) releaseName(root, name, id);
  if (network) refreshPeers(root, network);
}
