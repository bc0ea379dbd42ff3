// The package as users get it (the packed tarball installed with no compiler on PATH): what it ships, and
// that it loads from CommonJS and ESM, from esbuild bundles of an app (tsbox external or bundled in),
// from Electron's asar layout, from TSBOX_ADDON or setAddonPath(); that TypeScript consumers compile
// under nodenext and bundler; that install builds from source only when no prebuild fits; and that
// prepack refuses a checkout that was not built.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import webpack from 'webpack';
import { installedPackage, installInto, linkedProject, packTarball, repackWithout } from './helpers/package.js';
import { makeBundle, removeBundle } from './helpers/bundle.js';

const repo = join(import.meta.dirname, '..');

function tmp(t: { teardown(fn: () => void): void }, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `tsbox-pkg-${prefix}-`));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** node file, from cwd, with the installed package's compiler-free environment. */
function node(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, args, { cwd, env: { ...installedPackage().env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The app: a sandboxed `echo hi` through the library, its output relayed, its exit code kept.
const APP = `import { spawn } from 'tsbox';
async function main() {
  const c = await spawn('sh', ['-c', 'echo hi']);
  c.stdout.pipe(process.stdout);
  c.stderr.pipe(process.stderr);
  const st = await c.closed;
  process.exitCode = st.code ?? 1;
}
main().catch((e) => {
  console.error(e.message);
  process.exitCode = 1;
});
`;

/** esbuild of the app at src into out, tsbox bundled in or left to node_modules. */
async function bundle(src: string, out: string, format: 'cjs' | 'esm', external: boolean): Promise<string[]> {
  const opts: BuildOptions = { entryPoints: [src], outfile: out, bundle: true, platform: 'node', format, target: 'node20', external: external ? ['tsbox'] : [], logLevel: 'silent' };
  const r = await build(opts);
  return r.warnings.map((w) => w.text);
}

test('the tarball ships what a source build needs, a LICENSE, no source maps, no tests or build dirs', (t) => {
  const out = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { files: { path: string }[] }[];
  const files = out[0].files.map((f) => f.path);
  for (const f of ['LICENSE', 'README.md', 'binding.gyp', 'CMakeLists.txt', 'scripts/build-init.sh', 'scripts/build-client.sh', 'scripts/install.mjs', 'csrc/init/main.c', 'dist/index.js', 'dist/index.d.ts', 'dist/index.cjs', 'dist/cjs/index.d.ts', 'dist/cjs/package.json', 'dist/tsbox.cjs', 'prebuilds/linux-x64/node.napi.glibc.node', 'prebuilds/linux-x64/tsbox-runtime', 'docs/electron.md']) {
    t.true(files.includes(f), `${f} is shipped`);
  }
  const unwanted = files.filter((f) => /\.map$|\.inputs\.json$|^(test|bench|build|ts|node_modules)\//.test(f) || f === 'scripts/setup.sh' || f === 'scripts/prepack.mjs');
  t.deepEqual(unwanted, []);
  t.regex(readFileSync(join(repo, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
  // No shipped file points at a map that is not there.
  const p = installedPackage();
  const dangling = readdirSync(join(p.dir, 'dist'), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(c?js|d\.ts)$/.test(f))
    .filter((f) => {
      const m = /sourceMappingURL=(\S+)/.exec(readFileSync(join(p.dir, 'dist', f), 'utf8'));
      return m && !m[1].startsWith('data:') && !existsSync(join(p.dir, 'dist', dirname(f), m[1]));
    });
  t.deepEqual(dangling, []);
});

test('require() and import() of the installed package both load it and run a sandboxed command', (t) => {
  const p = installedPackage();
  const cjs = node(['-e', "require('tsbox').spawn('sh', ['-c', 'echo hi']).then(async (c) => { c.stdout.pipe(process.stdout); process.exitCode = (await c.closed).code })"], p.project);
  t.is(cjs.stderr, '');
  t.is(cjs.stdout, 'hi\n');
  t.is(cjs.status, 0);
  const esm = node(['--input-type=module', '-e', "const { spawn } = await import('tsbox'); const c = await spawn('sh', ['-c', 'echo hi']); c.stdout.pipe(process.stdout); process.exitCode = (await c.closed).code"], p.project);
  t.is(esm.stderr, '');
  t.is(esm.stdout, 'hi\n');
  t.is(esm.status, 0);
  // The two entries are the two builds (exports map), not one of them twice.
  const which = node(['-e', "console.log(require.resolve('tsbox'))"], p.project);
  t.regex(which.stdout, /dist\/index\.cjs\n$/);
  // No compiler was needed: nothing was built at install.
  t.false(existsSync(join(p.dir, 'build')));
});

for (const format of ['cjs', 'esm'] as const) {
  for (const external of [false, true]) {
    test(`esbuild ${format} bundle of an app, tsbox ${external ? 'external' : 'bundled in'}: runs`, async (t) => {
      const dir = linkedProject(tmp(t, `esbuild-${format}`));
      writeFileSync(join(dir, 'app.mjs'), APP);
      const out = join(dir, 'out', format === 'cjs' ? 'app.cjs' : 'app.mjs');
      await bundle(join(dir, 'app.mjs'), out, format, external);
      if (!external) t.notRegex(readFileSync(out, 'utf8'), /require\(["']tsbox["']\)|from ["']tsbox["']/, 'tsbox is in the bundle');
      // Run from elsewhere: the working directory must not be what finds the package.
      const r = node([out], tmpdir());
      t.is(r.stderr, '');
      t.is(r.stdout, 'hi\n');
      t.is(r.status, 0);
    });
  }
}

test('webpack bundle of an app with tsbox in it, run after the tree it was built from is gone', async (t) => {
  const p = installedPackage();
  const root = tmp(t, 'webpack');
  // Built against a copy of the package that is removed afterwards: webpack writes the build-time
  // location of each module into import.meta.url, which then points nowhere.
  const buildDir = join(root, 'build');
  mkdirSync(join(buildDir, 'node_modules'), { recursive: true });
  writeFileSync(join(buildDir, 'package.json'), '{ "type": "module" }\n');
  // The package with its dependencies, as npm installed them next to it (webpack resolves them all).
  cpSync(join(p.project, 'node_modules'), join(buildDir, 'node_modules'), { recursive: true });
  writeFileSync(join(buildDir, 'app.mjs'), APP);
  const run = linkedProject(join(root, 'run'), 'commonjs');
  const stats = await new Promise<webpack.Stats>((resolve, reject) =>
    webpack(
      {
        mode: 'production',
        optimization: { minimize: false },
        target: 'node20',
        context: buildDir,
        entry: './app.mjs',
        output: { path: join(run, 'out'), filename: 'main.js', library: { type: 'commonjs2' } },
      },
      (err, s) => (err || !s ? reject(err ?? new Error('webpack: no stats')) : resolve(s)),
    ),
  );
  t.false(stats.hasErrors(), stats.toString('errors-only'));
  rmSync(buildDir, { recursive: true });
  t.notRegex(readFileSync(join(run, 'out', 'main.js'), 'utf8'), /require\(["']tsbox["']\)/, 'tsbox is in the bundle');
  const r = node([join(run, 'out', 'main.js')], tmpdir());
  t.is(r.stderr, '');
  t.is(r.stdout, 'hi\n');
  t.is(r.status, 0);
});

test('the bundled app starts tsbox\'s own CLI for its helpers, never the app\'s bundle', async (t) => {
  const dir = linkedProject(tmp(t, 'self'));
  // selfArgv is internal: the app reaches it through the bundle of the package's own module.
  writeFileSync(
    join(dir, 'app.mjs'),
    "import { selfArgv } from './node_modules/tsbox/dist/self.js';\n" +
      "if (process.env.AS_ELECTRON) Object.defineProperty(process.versions, 'electron', { value: '30.0.0' });\n" +
      "console.log(JSON.stringify(selfArgv('version')));\n",
  );
  const cli = join(installedPackage().dir, 'dist', 'tsbox.cjs');
  const addon = join(installedPackage().dir, 'prebuilds', 'linux-x64', 'node.napi.glibc.node');
  for (const format of ['cjs', 'esm'] as const) {
    const out = join(dir, 'out', `app.${format === 'cjs' ? 'cjs' : 'mjs'}`);
    await bundle(join(dir, 'app.mjs'), out, format, false);
    for (const [env, want] of [
      [{}, [process.execPath, [cli, 'version']]],
      // Electron's binary runs the CLI as Node; an explicit addon goes along even where a caller gives
      // the helper a fixed environment.
      [{ AS_ELECTRON: '1' }, ['/usr/bin/env', ['ELECTRON_RUN_AS_NODE=1', process.execPath, cli, 'version']]],
      [{ TSBOX_ADDON: addon }, ['/usr/bin/env', [`TSBOX_ADDON=${addon}`, process.execPath, cli, 'version']]],
      // The helpers make no TLS connection: they start without Node's parse of the CA bundle.
      [{ NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' }, ['/usr/bin/env', ['-u', 'NODE_EXTRA_CA_CERTS', process.execPath, cli, 'version']]],
    ] as const) {
      const r = node([out], tmpdir(), { NODE_EXTRA_CA_CERTS: '', ...env });
      t.is(r.stderr, '');
      const [exe, args] = JSON.parse(r.stdout) as [string, string[]];
      t.deepEqual([exe, args], want);
      const v = spawnSync(exe, args, { encoding: 'utf8' });
      t.regex(v.stdout, /^tsbox version /);
    }
  }
});

test('Electron\'s layout: the app bundled in resources/app.asar, the addon only in app.asar.unpacked', async (t) => {
  const p = installedPackage();
  const root = tmp(t, 'asar');
  const src = linkedProject(join(root, 'src'));
  writeFileSync(join(src, 'app.mjs'), APP);
  const asar = join(root, 'resources', 'app.asar');
  // Plain Node reads app.asar as a directory: the archive's files, the package without its addon...
  await bundle(join(src, 'app.mjs'), join(asar, 'main.cjs'), 'cjs', false);
  cpSync(p.dir, join(asar, 'node_modules', 'tsbox'), { recursive: true, filter: (s) => !s.startsWith(join(p.dir, 'prebuilds')) });
  // ...and asarUnpack's copy of node_modules/tsbox beside it, with the addon.
  cpSync(p.dir, join(root, 'resources', 'app.asar.unpacked', 'node_modules', 'tsbox'), { recursive: true });
  // Not bundled too: node_modules/tsbox inside the archive loads the addon from the unpacked copy.
  await bundle(join(src, 'app.mjs'), join(asar, 'plain.cjs'), 'cjs', true);
  for (const main of ['main.cjs', 'plain.cjs']) {
    const r = node([join(asar, main)], root);
    t.is(r.stderr, '', main);
    t.is(r.stdout, 'hi\n', main);
    t.is(r.status, 0, main);
  }
  // Without the unpacked copy, the error names the places looked at.
  rmSync(join(root, 'resources', 'app.asar.unpacked'), { recursive: true });
  const bad = node([join(asar, 'main.cjs')], root);
  t.is(bad.status, 1);
  t.regex(bad.stderr, /^tsbox: no native addon for linux-x64 \(glibc\): tried .*app\.asar\.unpacked\/node_modules\/tsbox\/prebuilds\/linux-x64\/node\.napi\.glibc\.node.*TSBOX_ADDON.*\n$/);
  t.is(bad.stderr.split('\n').length, 2, 'one line');
});

test('TSBOX_ADDON and setAddonPath() load an addon kept elsewhere; a bad path is one clear line', (t) => {
  const p = installedPackage();
  const root = tmp(t, 'explicit');
  const dir = join(root, 'app');
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  cpSync(p.dir, join(dir, 'node_modules', 'tsbox'), { recursive: true, filter: (s) => !s.startsWith(join(p.dir, 'prebuilds')) });
  const addon = join(root, 'elsewhere', 'tsbox.node');
  mkdirSync(dirname(addon));
  cpSync(join(p.dir, 'prebuilds', 'linux-x64', 'node.napi.glibc.node'), addon);
  writeFileSync(join(dir, 'app.mjs'), APP);
  writeFileSync(join(dir, 'app-set.mjs'), `import { setAddonPath } from 'tsbox';\nsetAddonPath(process.argv[2]);\n${APP}`);

  const none = node(['app.mjs'], dir);
  t.is(none.status, 1);
  t.regex(none.stderr, /^tsbox: no native addon for linux-x64 \(glibc\): tried \S+\/node_modules\/tsbox\/build\/Release\/tsbox\.node, .*; set TSBOX_ADDON to a tsbox\.node, or build one with "npm rebuild tsbox" \(needs a C compiler\)\n$/);

  // A package's own code never takes the addon of a tsbox in the working directory (someone else's).
  const hostile = linkedProject(join(root, 'hostile'));
  const elsewhere = node([join(dir, 'app.mjs')], hostile);
  t.is(elsewhere.status, 1);
  t.regex(elsewhere.stderr, /^tsbox: no native addon/);
  t.notRegex(elsewhere.stderr, /hostile/);

  const env = node(['app.mjs'], dir, { TSBOX_ADDON: addon });
  t.is(env.stderr, '');
  t.is(env.stdout, 'hi\n');
  t.is(env.status, 0);

  const api = node(['app-set.mjs', addon], dir);
  t.is(api.stderr, '');
  t.is(api.stdout, 'hi\n');

  for (const [args, extra, from] of [
    [['app.mjs'], { TSBOX_ADDON: join(root, 'missing.node') }, 'TSBOX_ADDON'],
    [['app-set.mjs', join(root, 'missing.node')], {}, 'setAddonPath\\(\\)'],
  ] as const) {
    const bad = node([...args], dir, extra);
    t.is(bad.status, 1);
    t.regex(bad.stderr, new RegExp(`^tsbox: cannot load the native addon ${from}=${root}/missing\\.node: not found; set TSBOX_ADDON .*\\n$`));
  }
  // A file that is no addon: dlopen's own reason, still one line.
  writeFileSync(join(root, 'junk.node'), 'not an ELF file\n'.repeat(256));
  const junk = node(['app.mjs'], dir, { TSBOX_ADDON: join(root, 'junk.node') });
  t.regex(junk.stderr, /^tsbox: cannot load the native addon TSBOX_ADDON=\S+junk\.node: .*invalid ELF header.*\n$/);
});

test('a TypeScript consumer compiles with strict under nodenext (ESM and CommonJS) and under bundler', (t) => {
  const dir = linkedProject(tmp(t, 'tsc'));
  mkdirSync(join(dir, 'node_modules', '@types'));
  symlinkSync(join(repo, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
  const body = `
async function main(): Promise<void> {
  const c = await spawn('sh', ['-c', 'echo hi'], { timeout: 1000 });
  // Typed listeners: these parameter types hold whether 'exit' is typed or not (never narrower).
  c.on('exit', (code: number | null, signal: NodeJS.Signals | number | null) => console.log(code, signal));
  c.on('exit', (code) => {
    const n: number | null = code;
    void n;
  });
  c.stdout?.pipe(process.stdout);
  const st = await c.closed;
  const code: number | null = st.code;
  // @ts-expect-error a code is never a string
  const wrong: string = st.code;
  void code;
  void wrong;
  if (process.env.TSBOX_ADDON) setAddonPath(process.env.TSBOX_ADDON);
}
void main;
`;
  writeFileSync(join(dir, 'esm.mts'), `import { spawn, setAddonPath } from 'tsbox';\n${body}`);
  writeFileSync(join(dir, 'cjs.cts'), `import { spawn, setAddonPath } from 'tsbox';\n${body}`);
  writeFileSync(join(dir, 'app.ts'), `import { spawn, setAddonPath } from 'tsbox';\n${body}`);
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const common = ['--noEmit', '--strict', '--skipLibCheck', 'false', '--types', 'node', '--target', 'es2022'];
  for (const [name, args] of [
    ['nodenext', ['--module', 'nodenext', '--moduleResolution', 'nodenext', 'esm.mts', 'cjs.cts']],
    ['bundler', ['--module', 'esnext', '--moduleResolution', 'bundler', 'app.ts']],
  ] as const) {
    const r = spawnSync(process.execPath, [tsc, ...common, ...args], { cwd: dir, encoding: 'utf8' });
    t.is(r.stdout + r.stderr, '', name);
    t.is(r.status, 0, name);
  }
  // And it fails when it should: a consumer with a type error is reported.
  writeFileSync(join(dir, 'bad.mts'), "import { spawn } from 'tsbox';\nconst x: string = spawn;\nvoid x;\n");
  const bad = spawnSync(process.execPath, [tsc, ...common, '--module', 'nodenext', '--moduleResolution', 'nodenext', 'bad.mts'], { cwd: dir, encoding: 'utf8' });
  t.not(bad.status, 0);
  t.regex(bad.stdout, /bad\.mts.*TS2322/);
});

test('prepack refuses a checkout without dist/ or the linux-x64 glibc prebuild', (t) => {
  const root = tmp(t, 'prepack');
  const copy = join(root, 'tsbox');
  mkdirSync(copy);
  // The checkout's files as git knows them (no dist/, no prebuilds: both are ignored).
  for (const f of execFileSync('git', ['ls-files'], { cwd: repo, encoding: 'utf8' }).split('\n').filter(Boolean)) {
    if (!existsSync(join(repo, f))) continue;
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    cpSync(join(repo, f), join(copy, f));
  }
  const pack = () => spawnSync('npm', ['pack', '--pack-destination', root], { cwd: copy, encoding: 'utf8' });
  const r = pack();
  t.not(r.status, 0);
  t.regex(r.stderr, /tsbox prepack: missing dist\/index\.js, .*prebuilds\/linux-x64\/node\.napi\.glibc\.node: run "npm run compile" and "npm run prebuild" first/);
  t.deepEqual(readdirSync(root).filter((f) => f.endsWith('.tgz')), []);
  // Built, but still no prebuild: refused too.
  cpSync(join(repo, 'dist'), join(copy, 'dist'), { recursive: true });
  const r2 = pack();
  t.not(r2.status, 0);
  t.regex(r2.stderr, /tsbox prepack: missing prebuilds\/linux-x64\/node\.napi\.glibc\.node: run "npm run prebuild" first/);
  // With it, the pack goes through.
  cpSync(join(repo, 'prebuilds'), join(copy, 'prebuilds'), { recursive: true });
  const r3 = pack();
  t.is(r3.status, 0, r3.stderr);
});

test('install builds from source only when no prebuild fits, and says what it needs when it cannot', (t) => {
  const root = tmp(t, 'install');
  const tgz = repackWithout(packTarball(root), root, 'prebuilds');
  const p = installedPackage();
  // No compiler on PATH: the install fails, and says why and what else to do.
  const bare = installInto(join(root, 'bare'), tgz, p.env);
  t.not(bare.status, 0);
  t.regex(bare.output, /tsbox: the source build for linux-x64 \(glibc\) failed .*set TSBOX_ADDON/);
  // Unless TSBOX_ADDON says where the addon is.
  const told = installInto(join(root, 'told'), tgz, { ...p.env, TSBOX_ADDON: join(p.dir, 'prebuilds', 'linux-x64', 'node.napi.glibc.node') });
  t.is(told.status, 0, told.output);
  t.false(existsSync(join(root, 'told', 'node_modules', 'tsbox', 'build')));
  // With a compiler (and Node's headers from this machine, not the internet): node-gyp builds it.
  const built = installInto(join(root, 'built'), tgz, { ...process.env, npm_config_nodedir: '/usr', npm_config_update_notifier: 'false' });
  t.is(built.status, 0, built.output);
  t.regex(built.output, /no prebuilt addon for linux-x64 \(glibc\): building it from source with node-gyp/);
  t.true(existsSync(join(root, 'built', 'node_modules', 'tsbox', 'build', 'Release', 'tsbox.node')));
  writeFileSync(join(root, 'built', 'app.mjs'), APP);
  const r = node(['app.mjs'], join(root, 'built'));
  t.is(r.stderr, '');
  t.is(r.stdout, 'hi\n');
  t.is(r.status, 0);
});

test("the installed tsbox bin runs as npm links it (node_modules/.bin, npx), with NODE_EXTRA_CA_CERTS left to the registry client", (t) => {
  const p = installedPackage();
  const dir = tmp(t, 'bin');
  // A file Node refuses: Node itself would warn about it at start.
  const bad = join(dir, 'bad.pem');
  writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const env = { ...p.env, NODE_EXTRA_CA_CERTS: bad };
  const linked = spawnSync(p.bin, ['version'], { cwd: p.project, env, encoding: 'utf8', timeout: 60_000 });
  t.is(linked.status, 0, linked.stderr);
  t.regex(linked.stdout, /^tsbox version /);
  t.is(linked.stderr, '');
  const npx = spawnSync('npx', ['--no', '--', 'tsbox', 'version'], { cwd: p.project, env, encoding: 'utf8', timeout: 60_000 });
  t.is(npx.status, 0, npx.stderr);
  t.regex(npx.stdout, /^tsbox version /);
  // npx is Node too and warns for itself, once; tsbox under it does not.
  t.is(npx.stderr.match(/Ignoring extra certs/g)?.length ?? 0, 1, npx.stderr);
});

test('the installed tsbox-runtime bin runs the prebuilt client: the second call of a caller is served by the runtime server', async (t) => {
  const p = installedPackage();
  const bin = join(p.project, 'node_modules', '.bin', 'tsbox-runtime');
  const xdg = tmp(t, 'xdg');
  const root = tmp(t, 'root');
  const b = makeBundle(['sh', '-c', 'echo hi']);
  t.teardown(() => removeBundle(b));
  // A private socket directory and a short idle time: the servers of this test are its own.
  const env = { ...p.env, XDG_RUNTIME_DIR: xdg, TSBOX_RUNTIME_DEBUG: '1', TSBOX_RUNTIME_IDLE_MS: '500' };
  const call = (id: string) => spawnSync(bin, ['--root', root, 'run', '--bundle', b.dir, id], { env, encoding: 'utf8', timeout: 60_000 });
  const first = call('p1');
  t.is(first.status, 0, first.stderr);
  t.is(first.stdout, 'hi\n');
  t.regex(first.stderr, /tsbox-runtime: cold: /, 'the first call has no server yet');
  let second = call('p2');
  for (let i = 0; i < 50 && /cold: /.test(second.stderr); i++) {
    await new Promise((r) => setTimeout(r, 100));
    second = call(`p2-${i}`);
  }
  t.is(second.status, 0, second.stderr);
  t.is(second.stdout, 'hi\n');
  t.is(second.stderr, '', 'served, not cold');
  // The server is the installed package's, and it goes once idle.
  const servers = () => spawnSync('pgrep', ['-f', `${p.dir}/dist/tsbox-runtime.cjs --serve`], { encoding: 'utf8' }).stdout.trim();
  t.not(servers(), '');
  for (let i = 0; i < 50 && servers(); i++) await new Promise((r) => setTimeout(r, 100));
  t.is(servers(), '');
});
