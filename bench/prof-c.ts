// Phases of case (c), `tsbox run --rm --network none IMAGE true`, in ms since the process started (a
// profiling aid next to prof-b.ts; npm run bench is the benchmark). It runs a copy of dist/tsbox.cjs with
// marks put in at the phases' boundaries, through bin/cached.cjs as the bin runs it, on a private root
// holding the bench image; medians of N runs (default 15), each mark with the time since the one before.
// Usage: node --import=tsx bench/prof-c.ts [N] [DIST]   (DIST: another build's dist/, to compare with)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchImage } from './fixtures.js';

const N = Number(process.argv[2] ?? 15);
const REPO = join(import.meta.dirname, '..');
const DIST = process.argv[3] ?? join(REPO, 'dist');
const COPY = join(DIST, 'tsbox-phases.cjs');

/** The bundle with a mark before (or after) the first match of each pattern; a pattern that no longer matches is an error. */
function instrument(): void {
  let src = readFileSync(join(DIST, 'tsbox.cjs'), 'utf8').replace(/^#!.*\n/, '');
  const at = (re: RegExp, label: string, after = false) => {
    const m = re.exec(src);
    if (!m) throw new Error(`prof-c: ${re} is not in ${DIST}/tsbox.cjs`);
    const mark = `globalThis.__mark(${JSON.stringify(label)});`;
    const i = after ? m.index + m[0].length : m.index;
    src = src.slice(0, i) + mark + src.slice(i);
  };
  at(/async function main\(argv\) \{/, 'main', true);
  at(/return await \(await load\d*\(\)\)\(/, 'the seccomp cache\'s module (node:crypto)');
  // After the command's module is loaded, before it runs.
  src = src.replace(/return await \(await (load\d*)\(\)\)\(/, "return await ((c) => (globalThis.__mark('command loaded (its modules initialised)'), c))(await $1())(");
  at(/const image = await imageFor\(root, o, hooks\d*\);/, 'create: id and name reserved');
  at(/const image = await imageFor\(root, o, hooks\d*\);/, 'create: image found', true);
  at(/ {4}prepareSnapshot\(root, image, id\);\n/, 'create: record saved');
  at(/containerEvent\(root, record\d*, "create"\);/, 'create: snapshot mounted');
  at(/const record\d* = await createContainer\(root, o, hooks\d*\);/, 'created (its create event)', true);
  at(/const container = await runContainer\(\{ id, spec/, 'engine prepared the launch (/etc files, spec)');
  at(/record\d*\.StartedAt = /, 'runtime started it (cgroup, blob, clone, init ready)');
  at(/engineOf\d*\(g\d*\)\.containers\.exited\(/, 'its exit seen');
  at(/containerEvent\(root, before, "destroy"\);\n {2}\}/, 'rm: exit and destroy events', true);
  at(/stopSlirp\(containerDir\(root, id\)\);/, 'rm: runtime state and cgroups gone');
  at(/const name = (?:before\?|loadRecord\(root, id\)\?)\.Name;/, 'rm: snapshot unmounted');
  at(/remove(?:Tree|Dir)\(containerDir\(root, id\)\);/, 'rm: container files gone', true);
  at(/engineOf\d*\(g\d*\)\.containers\.exited\(record\d*\.Id, code\);/, 'removed (name released)', true);
  const head =
    "globalThis.__marks = [['bundle top', performance.now()]]; globalThis.__mark = (k) => globalThis.__marks.push([k, performance.now()]);\n" +
    "process.on('exit', () => process.stderr.write(JSON.stringify([...globalThis.__marks, ['exit', performance.now()]]) + '\\n'));\n";
  writeFileSync(COPY, head + src);
}

const dir = mkdtempSync(join(tmpdir(), 'tsbox-prof-c-'));
const image = 'localhost/tsbox-bench:latest';
try {
  instrument();
  const { tar } = benchImage(join(dir, 'image'), image);
  const root = join(dir, 'troot');
  // As the bin runs the bundle (its code cache per command), Node started without the CA bundle.
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const tsbox = (...args: string[]) => spawnSync(process.execPath, ['-e', `process.argv.splice(1, 0, 'tsbox'); require(${JSON.stringify(join(REPO, 'bin', 'cached.cjs'))}).run(${JSON.stringify(COPY)})`, '--', '--root', root, ...args], { env, encoding: 'utf8' });
  if (tsbox('load', '-i', tar).status !== 0) throw new Error('prof-c: tsbox load failed');
  const runs: [string, number][][] = [];
  for (let i = 0; i < N + 2; i++) {
    const r = tsbox('run', '--rm', '--network', 'none', image, 'true');
    if (r.status !== 0) throw new Error(`prof-c: tsbox run: exit ${r.status}: ${r.stderr}`);
    // The first two write and warm the code cache.
    if (i >= 2) runs.push(JSON.parse(r.stderr.trim().split('\n').pop()!) as [string, number][]);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  let prev = 0;
  for (const [k, label] of runs[0].entries()) {
    const ms = median(runs.map((r) => r[k][1]));
    process.stdout.write(`${ms.toFixed(1).padStart(6)} ms  +${(ms - prev).toFixed(1).padStart(5)}  ${label[0]}\n`);
    prev = ms;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  for (const f of readdirSync(DIST)) if (f.startsWith('tsbox-phases.')) rmSync(join(DIST, f), { force: true });
}
