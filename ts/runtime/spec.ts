// The OCI runtime spec (config.json): the one contract between the engine and the runtime.
// Types cover what tsbox reads; loadSpec validates what would otherwise fail deep inside a container.
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { LinuxResources } from './cgroup/index.js';
import type { OciCapabilities } from './caps.js';
import type { OciSeccomp } from './seccomp.js';

export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: OciUser;
  args: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface OciHooks {
  prestart?: OciHook[];
  createRuntime?: OciHook[];
  createContainer?: OciHook[];
  startContainer?: OciHook[];
  poststart?: OciHook[];
  poststop?: OciHook[];
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface OciNamespace {
  type: NamespaceType;
  path?: string;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciDevice {
  type: string;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciLinux {
  namespaces?: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  devices?: OciDevice[];
  cgroupsPath?: string;
  resources?: LinuxResources;
  rootfsPropagation?: string;
  seccomp?: OciSeccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: { domain: string; flags?: string[] };
}

export interface OciSpec {
  ociVersion: string;
  process?: OciProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: OciMount[];
  hooks?: OciHooks;
  annotations?: Record<string, string>;
  linux?: OciLinux;
}

export const OCI_VERSION = '1.1.0';

const NAMESPACES: readonly NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

import { SpecError } from '../errors.js';
export { SpecError };

/** Reads <bundle>/config.json and checks it; the rootfs path comes back absolute. */
export function loadSpec(bundle: string): OciSpec {
  const file = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SpecError(`open ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let spec: OciSpec;
  try {
    spec = JSON.parse(text) as OciSpec;
  } catch (e) {
    throw new SpecError(`parse ${file}: ${(e as Error).message}`);
  }
  validateSpec(spec, bundle);
  return spec;
}

/** Checks what the runtime depends on; makes root.path absolute (relative to the bundle). */
export function validateSpec(spec: OciSpec, bundle: string): void {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new SpecError('config.json: not a JSON object');
  if (typeof spec.ociVersion !== 'string') throw new SpecError('config.json: ociVersion missing');
  if (!spec.root || typeof spec.root.path !== 'string' || spec.root.path === '') throw new SpecError('config.json: root.path missing');
  const rootfs = isAbsolute(spec.root.path) ? spec.root.path : resolve(bundle, spec.root.path);
  let st;
  try {
    st = statSync(rootfs);
  } catch (e) {
    throw new SpecError(`rootfs ${rootfs}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!st.isDirectory()) throw new SpecError(`rootfs ${rootfs}: ENOTDIR`);
  spec.root.path = rootfs;
  const p = spec.process;
  if (p) {
    if (!Array.isArray(p.args) || p.args.length === 0 || p.args.some((a) => typeof a !== 'string')) {
      throw new SpecError('config.json: process.args must be a non-empty array of strings');
    }
    if (typeof p.cwd !== 'string' || !p.cwd.startsWith('/')) throw new SpecError('config.json: process.cwd must be an absolute path');
    if (!p.user || !Number.isInteger(p.user.uid) || !Number.isInteger(p.user.gid)) {
      throw new SpecError('config.json: process.user.uid and gid must be integers');
    }
    if (p.env && (!Array.isArray(p.env) || p.env.some((e) => typeof e !== 'string'))) throw new SpecError('config.json: process.env must be strings');
  }
  for (const m of spec.mounts ?? []) {
    if (typeof m.destination !== 'string' || !m.destination.startsWith('/')) {
      throw new SpecError(`config.json: mount destination ${JSON.stringify(m.destination)} must be an absolute path`);
    }
  }
  const seen = new Set<string>();
  for (const ns of spec.linux?.namespaces ?? []) {
    if (!NAMESPACES.includes(ns.type)) throw new SpecError(`config.json: unknown namespace type ${JSON.stringify(ns.type)}`);
    if (seen.has(ns.type)) throw new SpecError(`config.json: namespace ${ns.type} listed twice`);
    seen.add(ns.type);
    if (ns.path !== undefined && (typeof ns.path !== 'string' || !ns.path.startsWith('/'))) {
      throw new SpecError(`config.json: namespace ${ns.type} path must be absolute`);
    }
  }
  if (seen.has('user') && !spec.linux?.namespaces?.find((n) => n.type === 'user')?.path) {
    if (!spec.linux?.uidMappings?.length || !spec.linux?.gidMappings?.length) {
      throw new SpecError('config.json: a new user namespace needs linux.uidMappings and linux.gidMappings');
    }
  }
}

export function hasNamespace(spec: OciSpec, type: NamespaceType): OciNamespace | undefined {
  return spec.linux?.namespaces?.find((n) => n.type === type);
}
