// The packed tarball's API with what its run() needs: a private engine root holding the busybox image,
// imported by the installed CLI from the test rootfs (no registry).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './bundle.js';
import { importInstalled, installedPackage } from './package.js';

export type Tsbox = typeof import('../../ts/index.js');

export interface InstalledEngine {
  tsbox: Tsbox;
  /** The engine root, with the image "busybox". */
  root: string;
  /** Absolute path of the installed package's ESM entry, for child Node processes to import. */
  entry: string;
  /** rm -f of what is left in the root, then the root. */
  remove(): void;
}

export function installedEntry(): string {
  const p = installedPackage();
  const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as { main?: string; exports?: Record<string, unknown> | string };
  const dot = typeof pkg.exports === 'string' ? pkg.exports : (pkg.exports?.['.'] as Record<string, unknown> | string | undefined);
  const pick = (v: unknown): string | undefined => (typeof v === 'string' ? v : v && typeof v === 'object' ? pick((v as Record<string, unknown>).import ?? (v as Record<string, unknown>).default) : undefined);
  return join(p.dir, pick(dot) ?? pkg.main ?? 'index.js');
}

export async function installedEngine(prefix: string): Promise<InstalledEngine> {
  const tsbox = await importInstalled<Tsbox>();
  const p = installedPackage();
  const root = mkdtempSync(join(tmpdir(), prefix));
  const tarball = join(root, 'busybox.tar.gz');
  execFileSync('tar', ['-C', busyboxRootfs(), '-czf', tarball, '.']);
  execFileSync(p.bin, ['--root', root, 'import', tarball, 'busybox'], { env: p.env, stdio: ['ignore', 'pipe', 'pipe'] });
  rmSync(tarball);
  return {
    tsbox,
    root,
    entry: installedEntry(),
    remove() {
      const dir = join(root, 'containers');
      for (const id of existsSync(dir) ? readdirSync(dir) : []) execFileSync(p.bin, ['--root', root, 'rm', '-f', id], { env: p.env, stdio: 'ignore' });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
