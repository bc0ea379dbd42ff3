// Registry credentials: tsbox's own login file (<root>/auth.json) first, then ~/.docker/config.json.
// Both use docker's format: {"auths": {"<registry>": {"auth": base64("user:password")}}}.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Credentials } from './registry.js';

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
}

// Docker Hub's credentials are stored under its old v1 URL.
const HUB_KEYS = ['docker.io', 'index.docker.io', 'https://index.docker.io/v1/', 'registry-1.docker.io'];

function keysFor(registry: string): string[] {
  return registry === 'docker.io' ? HUB_KEYS : [registry, `https://${registry}`, `http://${registry}`];
}

function read(file: string): AuthFile {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as AuthFile;
  } catch {
    return {};
  }
}

export function authFile(root: string): string {
  return join(root, 'auth.json');
}

export function lookupCredentials(root: string, registry: string): Credentials | undefined {
  const docker = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  for (const file of [authFile(root), docker]) {
    const auths = read(file).auths ?? {};
    for (const k of keysFor(registry)) {
      const a = auths[k];
      if (!a) continue;
      if (a.username && a.password) return { username: a.username, password: a.password };
      if (a.auth) {
        const s = Buffer.from(a.auth, 'base64').toString();
        const i = s.indexOf(':');
        if (i > 0) return { username: s.slice(0, i), password: s.slice(i + 1) };
      }
    }
  }
  return undefined;
}

export function saveCredentials(root: string, registry: string, c: Credentials | undefined): void {
  const file = authFile(root);
  const data = read(file);
  data.auths ??= {};
  for (const k of keysFor(registry)) delete data.auths[k];
  if (c) data.auths[registry] = { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
