// podman with private storage (vfs: no mounts) as the reference for image checks. Asynchronous: a
// registry served from the test's own process must keep answering while podman talks to it.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unmountBelow } from './leftovers.js';

export const havePodman = spawnSync('sh', ['-c', 'command -v podman']).status === 0;

export interface Podman {
  dir: string;
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Whether any file podman stored contains this text. */
  stored(text: string): boolean;
  remove(): void;
}

export function podman(parent: string): Podman {
  const dir = mkdtempSync(join(parent, 'podman-'));
  for (const d of ['root', 'runroot', 'tmp']) mkdirSync(join(dir, d));
  const base = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--storage-driver', 'vfs', '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  return {
    dir,
    run: (args) =>
      new Promise((resolve) =>
        // TMPDIR: where podman stages blobs it copies (else /var/tmp).
        execFile('podman', [...base, ...args], { env: { ...process.env, TMPDIR: join(dir, 'tmp') }, maxBuffer: 16 << 20, timeout: 120000 }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      ),
    stored(text) {
      const walk = (d: string): boolean => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          const p = join(d, e.name);
          if (e.isDirectory() && walk(p)) return true;
          if (e.isFile() && statSync(p).size < 64 << 20 && readFileSync(p).includes(text)) return true;
        }
        return false;
      };
      return walk(join(dir, 'root'));
    },
    remove() {
      unmountBelow(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
