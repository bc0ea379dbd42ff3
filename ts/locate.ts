// Where tsbox's own package is, and where its native addon may be, wherever the code runs: the ESM build
// (dist/*.js), the CommonJS builds (dist/index.cjs, dist/tsbox.cjs), the TypeScript sources under tsx,
// or bundled by esbuild or webpack into an application's own file (then this module's location is the
// application's, and the package is found by resolving tsbox/package.json), also inside Electron's asar.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import * as moduleNs from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * This module's file: import.meta.url in ESM (webpack writes in the build-time location, which may be
 * gone at run time), __filename in CommonJS (esbuild leaves import.meta empty there; webpack's bundle).
 */
export function ownFiles(): string[] {
  const out: string[] = [];
  const url = import.meta.url as string | undefined;
  if (url?.startsWith('file:')) out.push(fileURLToPath(url));
  if (typeof __filename === 'string' && !out.includes(__filename)) out.push(__filename);
  return out;
}

// node:module as Node has it: webpack rewrites the createRequire() calls it sees into its own module ids.
const nodeModule: { createRequire: typeof moduleNs.createRequire } = process.getBuiltinModule?.('node:module') ?? moduleNs;

const isTsbox = (root: string): boolean => {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string }).name === 'tsbox';
  } catch {
    return false;
  }
};

function resolveFrom(from: string): string | undefined {
  try {
    return dirname(nodeModule.createRequire(from).resolve('tsbox/package.json'));
  } catch {
    return undefined;
  }
}

const found: string[] = [];
let searched = false;

/**
 * tsbox's package roots: the one this module sits in (dist/ or ts/ is one level down); bundled into an
 * application's file, the tsbox that this file, the main script or the working directory resolves to
 * (looked up only then: a resolve costs about a millisecond).
 */
export function* packageRoots(): Generator<string> {
  const add = (r: string | undefined) => {
    if (r && !found.includes(r) && isTsbox(r)) found.push(r);
  };
  const mine = ownFiles();
  if (!found.length && !searched) for (const f of mine) add(join(dirname(f), '..'));
  yield* found;
  // This code is a package's own: its addon is that package's or none. Never one that the working
  // directory offers (a root CLI run in someone else's checkout would load and run their addon).
  if (searched || found.length) return;
  searched = true;
  // Bundled: the application's files (this bundle, the main script), then the working directory.
  for (const f of [...mine, ...(process.argv[1] ? [resolve(process.argv[1])] : [])]) add(resolveFrom(f));
  add(resolveFrom(join(process.cwd(), 'noop.js')));
  yield* found;
}

/**
 * The C library the running Node links, read from its ELF interpreter (ld-musl-*.so.1 on Alpine):
 * the addon must match the process that loads it, whatever else the machine has installed (a glibc
 * system with musl-tools has /lib/ld-musl-*.so.1 too). A static Node falls back to node-gyp-build's test.
 */
export function libc(): 'glibc' | 'musl' {
  const head = Buffer.alloc(4096);
  try {
    const fd = openSync(process.execPath, 'r');
    try {
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    // unreadable: decide below
  }
  if (head.includes('ld-musl-')) return 'musl';
  if (head.includes('ld-linux')) return 'glibc';
  return existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
}

let explicit: string | undefined;

/**
 * The addon's path as the application gives it (an Electron app's unpacked resources, a copy elsewhere),
 * also put in TSBOX_ADDON for tsbox's own helper processes.
 */
export function setExplicitAddon(path: string): void {
  explicit = path;
  process.env.TSBOX_ADDON = path;
}

/** An explicit addon: setAddonPath()'s, else the TSBOX_ADDON environment variable's. */
export function explicitAddon(): { path: string; from: string } | undefined {
  if (explicit) return { path: explicit, from: 'setAddonPath()' };
  const env = process.env.TSBOX_ADDON;
  return env ? { path: resolve(env), from: 'TSBOX_ADDON' } : undefined;
}

/** A path inside an asar archive as Electron unpacks it (asarUnpack): the addon cannot load from the archive. */
export const unpacked = (p: string): string => p.replace(/\.asar(?=\/)/g, '.asar.unpacked');

/**
 * Where the addon may be, in node-gyp-build's order for each package root: a checkout's or a source
 * build's build/Release, then the prebuild for this platform, architecture and C library, then the
 * untagged prebuild. Inside an asar, the unpacked copy first.
 */
export function* addonCandidates(): Generator<string> {
  const seen = new Set<string>();
  const dir = `${process.platform}-${process.arch}`;
  let lib: string | undefined;
  for (const root of packageRoots()) {
    const build = join(root, 'build', 'Release', 'tsbox.node');
    for (const p of [unpacked(build), build]) if (!seen.has(p) && seen.add(p)) yield p;
    lib ??= libc(); // reads the Node binary: only once a prebuild is what is looked for
    for (const name of [`node.napi.${lib}.node`, 'node.napi.node']) {
      const p = join(root, 'prebuilds', dir, name);
      for (const c of [unpacked(p), p]) if (!seen.has(c) && seen.add(c)) yield c;
    }
  }
}
