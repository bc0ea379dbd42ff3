// A host tool a feature needs, missing: a clear error naming the tool, the feature and the package, from
// the packed tarball in a child process whose PATH lacks it. `ip` for bridge networking: nothing is made
// before its first use, so the run fails cleanly (no container, no veth).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { installedEngine, type InstalledEngine } from './helpers/installed-engine.js';
import { installedPackage } from './helpers/package.js';
import { leftovers } from './helpers/bundle.js';

let engine: InstalledEngine;
const dir = mkdtempSync(join(tmpdir(), 'tsbox-tools-'));

test.before(async () => {
  engine = await installedEngine('tsbox-tools-root-');
});

test.after.always(() => {
  engine?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** A PATH of links to every program of `path` except those named. */
function pathWithout(path: string, ...names: string[]): string {
  const bin = join(dir, `bin-without-${names.join('-')}`);
  mkdirSync(bin);
  for (const d of path.split(delimiter)) {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of entries) if (!names.includes(n) && !existsSync(join(bin, n))) symlinkSync(join(d, n), join(bin, n));
  }
  return bin;
}

test('bridge networking without `ip` where host programs are looked for: MissingToolError naming ip and iproute2; nothing left', (t) => {
  const p = installedPackage();
  const PATH = pathWithout(p.env.PATH!, 'ip');
  t.not(spawnSync('sh', ['-c', 'command -v ip'], { env: { PATH } }).status, 0, 'ip is gone from PATH');
  // Host programs are looked for in TSBOX_HELPER_PATH (the system's directories by default), not PATH.
  const r = spawnSync(p.bin, ['--root', engine.root, 'run', '--rm', '--network', 'bridge', 'busybox', 'true'], { encoding: 'utf8', env: { ...p.env, TSBOX_HELPER_PATH: PATH } });
  t.is(r.status, 125, r.stderr);
  t.regex(r.stderr, /ip: not found in \/.*; bridge networking .* needs it \(apt-get install iproute2\)/);
  const ps = spawnSync(p.bin, ['--root', engine.root, 'ps', '-a', '-q'], { encoding: 'utf8', env: p.env });
  t.is(ps.stdout, '', 'no container left');
  // The library gives the same error as a class with its code, to a child Node process.
  const lib = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      // dist/index.js, the unbundled module graph that dist/errors.js belongs to ('tsbox' itself is one bundle).
      `import { runtime, MissingToolError } from ${JSON.stringify(join(p.dir, 'dist', 'index.js'))};
       const { missingTool } = await import(${JSON.stringify(join(p.dir, 'dist', 'errors.js'))});
       import { execFileSync } from 'node:child_process';
       let e; try { execFileSync('ip', ['link']); } catch (x) { e = missingTool('ip', x); }
       console.log(JSON.stringify({ name: e?.name, code: e?.code, tool: e?.tool, isClass: e instanceof MissingToolError }));`,
    ],
    { encoding: 'utf8', env: { ...p.env, PATH } },
  );
  t.deepEqual(JSON.parse(lib.stdout || '{}'), { name: 'MissingToolError', code: 'ERR_MISSING_TOOL', tool: 'ip', isClass: true }, lib.stderr);
});

test.after.always('nothing left behind', (t) => {
  t.deepEqual(leftovers(), { cgroups: [], states: [] });
});
