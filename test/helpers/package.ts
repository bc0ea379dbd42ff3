// The package as users get it: `npm pack` of this checkout, installed into a fresh project whose PATH has
// no compiler. Packed and installed once per content (the tarball is deterministic: npm fixes mtimes),
// shared by every test file and by parallel ava workers (the install is renamed into place when done).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

const repo = join(import.meta.dirname, '..', '..');
const cache = join(repo, 'test', 'fixtures', 'cache', 'package');

export interface InstalledPackage {
  /** The fresh project: package.json ("type": "module") and node_modules/tsbox. */
  project: string;
  /** node_modules/tsbox. */
  dir: string;
  /** The installed tsbox CLI (node_modules/.bin/tsbox). */
  bin: string;
  /** Environment for commands in the project: PATH without any compiler. */
  env: NodeJS.ProcessEnv;
}

// What a machine without build tools lacks: a source build must not be what makes a test pass.
const compilers = /^(cc|c\+\+|gcc|g\+\+|cpp|clang|clang\+\+|make|gmake|cmake|ld|ld\.\w+|as|musl-gcc|node-gyp|.*-linux-gnu-(gcc|g\+\+|cc|ld)(-\d+)?|(gcc|g\+\+|cpp|cc)-\d+|x86_64-linux-musl-gcc)$/;

/**
 * A directory of links to every program on PATH except compilers, linkers and make. It lives in /var/tmp,
 * not beside the checkout: a sandbox gets a fresh /tmp (and /run), and a checkout under /tmp would leave
 * a sandboxed command with a PATH it cannot see.
 */
function compilerFreeBin(): string {
  const dirs = [dirname(process.execPath), ...(process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)];
  const bin = join('/var/tmp', `tsbox-test-bin-nocc-${createHash('sha256').update(dirs.join('\0')).digest('hex').slice(0, 12)}`);
  if (existsSync(bin)) return bin;
  const tmp = `${bin}.${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  for (const d of dirs) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (compilers.test(n) || existsSync(join(tmp, n))) continue;
      symlinkSync(join(d, n), join(tmp, n));
    }
  }
  try {
    renameSync(tmp, bin);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another worker made it first
  }
  return bin;
}

export function packageEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: compilerFreeBin(), npm_config_update_notifier: 'false', ...extra };
}

let installed: InstalledPackage | undefined;

/** Packs the checkout (which `npm test` has compiled) and installs the tarball into a fresh project. */
export function installedPackage(): InstalledPackage {
  if (installed) return installed;
  mkdirSync(cache, { recursive: true });
  const packDir = mkdtempSync(join(cache, 'pack.'));
  let tgz: string;
  try {
    const out = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string }[];
    tgz = join(packDir, out[0].filename);
    const hash = createHash('sha256').update(readFileSync(tgz)).digest('hex').slice(0, 16);
    const project = join(cache, hash);
    if (!existsSync(join(project, 'node_modules', 'tsbox', 'package.json'))) {
      const tmp = mkdtempSync(join(cache, 'install.'));
      writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'tsbox-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2) + '\n');
      const env = packageEnv();
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tgz], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        renameSync(tmp, project);
      } catch {
        rmSync(tmp, { recursive: true, force: true }); // another worker installed the same tarball
      }
    }
    const dir = join(project, 'node_modules', 'tsbox');
    installed = { project, dir, bin: join(project, 'node_modules', '.bin', 'tsbox'), env: packageEnv() };
    return installed;
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}

/** Imports the installed package's ESM entry (what `import 'tsbox'` gives the fresh project). */
export async function importInstalled<T = typeof import('../../ts/index.js')>(): Promise<T> {
  const p = installedPackage();
  // The "import" condition of the exports map, as Node resolves `import 'tsbox'` in the project.
  type Target = string | { types?: string; default?: string };
  const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as { main?: string; exports?: Record<string, string | { import?: Target; default?: Target }> };
  const dot = pkg.exports?.['.'];
  const target: Target | undefined = typeof dot === 'string' ? dot : (dot?.import ?? dot?.default);
  const rel = (typeof target === 'string' ? target : target?.default) ?? pkg.main ?? 'index.js';
  return (await import(join(p.dir, rel))) as T;
}

/** `npm pack` of the checkout into dir (prepack runs: the checkout must be built); the tarball's path. */
export function packTarball(dir: string): string {
  const out = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { filename: string }[];
  return join(dir, out[0].filename);
}

/** The tarball repacked without some of its paths (package/prebuilds, say): a package no prebuild fits. */
export function repackWithout(tgz: string, dir: string, ...paths: string[]): string {
  const work = mkdtempSync(join(dir, 'repack.'));
  execFileSync('tar', ['-xzf', tgz, '-C', work]);
  for (const p of paths) rmSync(join(work, 'package', p), { recursive: true, force: true });
  const out = join(dir, `without-${paths.join('-').replace(/\W+/g, '_')}.tgz`);
  execFileSync('tar', ['-czf', out, '-C', work, 'package']);
  rmSync(work, { recursive: true, force: true });
  return out;
}

/** A fresh project in dir (package.json "type": "module") with tgz installed under env; npm's output. */
export function installInto(dir: string, tgz: string, env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tsbox-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2) + '\n');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', '--loglevel=error', tgz], { cwd: dir, env, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A project in dir whose node_modules/tsbox is the installed package (a link: nothing is copied). */
export function linkedProject(dir: string, type: 'module' | 'commonjs' = 'module'): string {
  const p = installedPackage();
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tsbox-app', version: '1.0.0', private: true, type }, null, 2) + '\n');
  symlinkSync(p.dir, join(dir, 'node_modules', 'tsbox'));
  return dir;
}
