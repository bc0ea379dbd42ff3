// A RUN step: the engine's own container over the stage's mounted filesystem (mount.ts), with the
// stage's env, workdir and user, BuildKit's --mount=type=cache|bind|secret, and the build's network.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join, posix } from 'node:path';
import { runContainer } from '../../runtime/api.js';
import { defaultSpec } from '../../runtime/default-spec.js';
import { DEFAULT_CAPS } from '../../runtime/caps.js';
import { defaultSeccompProfile } from '../../runtime/seccomp-default.js';
import type { OciMount } from '../../runtime/spec.js';
import { resolveUser } from '../spec.js';
import { inRootReader, resolveInRoot } from './inroot.js';

export type BuildNetwork = 'none' | 'host' | 'default';

export interface RunStep {
  args: string[];
  env: string[];
  workdir: string;
  user?: string;
  /** --mount flags' values. */
  mounts: string[];
  network: BuildNetwork;
  /** Host paths: the engine root (state, cache mounts), the context, secrets by id. */
  root: string;
  contextDir?: string;
  stageRoots: (name: string) => string | undefined;
  secrets: Record<string, string>;
  onOutput?: (chunk: Buffer) => void;
}

function parseMount(v: string): Record<string, string> {
  const o: Record<string, string> = {};
  for (const part of v.split(',')) {
    const i = part.indexOf('=');
    o[i < 0 ? part : part.slice(0, i)] = i < 0 ? 'true' : part.slice(i + 1);
  }
  return o;
}

function buildMount(root: string, v: string, s: RunStep): OciMount {
  const m = parseMount(v);
  const type = m.type ?? 'bind';
  const target = m.target ?? m.dst ?? m.destination;
  if (type === 'secret') {
    const id = m.id ?? posix.basename(target ?? '');
    const src = s.secrets[id];
    if (!src) {
      if (m.required === 'true') throw new Error(`--mount=type=secret: secret ${id} was not given (--secret id=${id},src=FILE)`);
      return { destination: '/dev/null', type: 'none', source: '/dev/null', options: ['bind', 'ro'] };
    }
    return { destination: target ?? `/run/secrets/${id}`, type: 'none', source: src, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] };
  }
  if (!target) throw new Error(`--mount=${v}: target is required`);
  if (type === 'cache') {
    const id = m.id ?? target;
    const dir = join(root, 'build-cache', createHash('sha256').update(id).digest('hex').slice(0, 32));
    if (!existsSync(dir)) {
      // uid, gid and mode (BuildKit's options) apply when the cache is made.
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chownSync(dir, Number(m.uid ?? 0), Number(m.gid ?? 0));
      chmodSync(dir, m.mode ? parseInt(m.mode, 8) : 0o755);
    }
    return { destination: target, type: 'none', source: dir, options: ['rbind', 'rw'] };
  }
  if (type === 'bind') {
    const from = m.from ? s.stageRoots(m.from) : s.contextDir;
    if (!from) throw new Error(`--mount=${v}: ${m.from ? `no stage or image ${m.from}` : 'no build context'}`);
    const src = resolveInRoot(from, m.source ?? '/');
    return { destination: target, type: 'none', source: src, options: ['rbind', m.rw === 'true' || m.readwrite === 'true' ? 'rw' : 'ro'] };
  }
  if (type === 'tmpfs') return { destination: target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] };
  throw new Error(`--mount=${v}: type ${type} is not supported (cache, bind, secret, tmpfs)`);
}

/** Runs the step in merged (a mounted rootfs); resolves with the exit code, rejects when it cannot start. */
export async function runStep(merged: string, s: RunStep): Promise<number> {
  const spec = defaultSpec({ args: s.args, rootfs: merged });
  spec.root = { path: merged, readonly: false };
  const p = spec.process!;
  p.terminal = false;
  p.env = s.env;
  p.cwd = s.workdir || '/';
  const u = resolveUser(inRootReader(merged), s.user);
  p.user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
  // A step may install setuid programs and use them (sudo in a RUN): privileges as docker's build has.
  p.noNewPrivileges = false;
  // docker's default set for root, as `tsbox run` gives it (no ambient capabilities).
  p.capabilities = { bounding: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS], inheritable: [], ambient: [] };
  // The same syscall filter as a container of `tsbox run`: a RUN step is as untrusted as the image.
  spec.linux!.seccomp = defaultSeccompProfile(DEFAULT_CAPS);
  if (s.network !== 'none') spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'network');
  if (s.network !== 'none') spec.mounts!.push({ destination: '/etc/resolv.conf', type: 'none', source: '/etc/resolv.conf', options: ['bind', 'ro'] });
  for (const m of s.mounts) spec.mounts!.push(buildMount(s.root, m, s));
  spec.hostname = 'buildkitsandbox';
  const id = `tsbox-build-${randomBytes(6).toString('hex')}`;
  spec.linux!.cgroupsPath = `/tsbox/${id}`;
  mkdirSync(join(s.root, 'state'), { recursive: true, mode: 0o700 });
  // Mount points the runtime has to make for this step's mounts are no part of the image (a secret's
  // stub, a cache dir): what did not exist before is removed from the upper dir again, if still empty.
  const stubs = spec.mounts!.filter((m) => !DEFAULT_TARGETS.has(m.destination)).flatMap((m) => {
    const top = firstMissing(merged, m.destination);
    return top ? [{ dest: m.destination, top }] : [];
  });
  const c = await runContainer({ id, spec, bundle: merged, root: join(s.root, 'state'), stdio: ['ignore', 'pipe', 'pipe'] });
  c.stdout?.on('data', (b: Buffer) => s.onOutput?.(b));
  c.stderr?.on('data', (b: Buffer) => s.onOutput?.(b));
  const r = await c.closed;
  for (const { dest, top } of stubs) removeStub(merged, dest, top);
  return r.code ?? 128 + 9;
}

const DEFAULT_TARGETS = new Set(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);

/** The topmost path of dest that does not exist yet (what the runtime will create), if any. */
function firstMissing(merged: string, dest: string): string | undefined {
  let cur = '/';
  for (const part of posix.normalize(dest).split('/').filter(Boolean)) {
    cur = posix.join(cur, part);
    if (!lstatSync(resolveInRoot(merged, cur), { throwIfNoEntry: false })) return cur;
  }
  return undefined;
}

/** Removes an empty mount stub and the empty parents made for it, up to top (the first that was missing). */
function removeStub(merged: string, dest: string, top: string): void {
  let d = posix.normalize(dest);
  while (d.length >= top.length && d !== '/') {
    const p = resolveInRoot(merged, d, false);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) break;
    try {
      if (st.isDirectory()) rmdirSync(p);
      else if (st.isFile() && st.size === 0) rmSync(p);
      else break;
    } catch {
      break; // not empty: the step put something there, it stays
    }
    d = posix.dirname(d);
  }
}
