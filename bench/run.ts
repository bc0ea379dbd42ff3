// npm run bench: tsbox next to crun, runc and bwrap on the same rootfs; writes bench/RESULTS.md.
// Usage: node --import=tsx bench/run.ts [--rounds N] [--only a,b,d,e,g]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runContainer } from '../ts/runtime/api.js';
import { sandboxSpec } from '../ts/engine/sandbox.js';
import { alternate, table, type Case, type Summary } from './stats.js';
import { benchSpec, bundle, cleanWork, have, WORK } from './fixtures.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, only: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 30);
const ONLY = new Set((values.only ?? 'a,b,d,e,g').split(','));
const STATE = mkdtempSync(join(tmpdir(), 'tsbox-bench-state-'));
const BIN = join(import.meta.dirname, '..', 'dist', 'runtime', 'cli', 'bin.js');
const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'bin.js');
let seq = 0;
const id = (p: string) => `${p}-${process.pid}-${++seq}`;

function exitOf(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => resolve(code ?? -1));
  });
}

async function must(p: Promise<number>, what: string): Promise<void> {
  const code = await p;
  if (code !== 0) throw new Error(`${what}: exit ${code}`);
}

const tsboxApi = (spec = benchSpec()) => async () => {
  const c = await runContainer({ id: id('tb'), spec: { ...spec, linux: { ...spec.linux, cgroupsPath: undefined } }, root: STATE, stdio: ['ignore', 'ignore', 'ignore'] });
  const st = await c.exited;
  if (st.code !== 0) throw new Error(`tsbox: exit ${st.code} signal ${st.signal}`);
};

const ociCli = (bin: string, b: string, runtimeRoot: string) => () => must(exitOf(bin, ['--root', runtimeRoot, 'run', '--bundle', b, id(bin.split('/').pop()!)]), bin);

const sections: string[] = [];
const notes: string[] = [];

/** Runtimes that can run the bench container on this host (a trial run each; failures are noted). */
function usableRuntimes(): string[] {
  const b = bundle('probe');
  return ['crun', 'runc'].filter((r) => {
    if (!have(r)) {
      notes.push(`${r}: not installed`);
      return false;
    }
    const p = spawnSync(r, ['--root', join(WORK, `${r}-state`), 'run', '--bundle', b, id(`${r}-probe`)], { encoding: 'utf8' });
    if (p.status !== 0) notes.push(`${r}: cannot run the bench container on this host: ${(p.stderr || p.stdout).trim().split('\n').pop()}`);
    return p.status === 0;
  });
}
const runtimes = usableRuntimes();

async function caseA(): Promise<void> {
  const b = bundle('a');
  const cases: Case[] = [{ name: 'tsbox API (in-process)', run: tsboxApi() }];
  for (const r of runtimes) cases.push({ name: `node spawning ${r} run`, run: ociCli(r, b, join(WORK, `${r}-state`)) });
  sections.push(table('(a) start+teardown of /bin/true from a running Node process', await alternate(cases, ROUNDS)));
}

async function caseB(): Promise<void> {
  const b = bundle('b');
  const cases: Case[] = [{ name: 'tsbox-runtime run', run: () => must(exitOf(process.execPath, [BIN, '--root', STATE, 'run', '--bundle', b, id('tbcli')]), 'tsbox-runtime') }];
  for (const r of runtimes) cases.push({ name: `${r} run`, run: ociCli(r, b, join(WORK, `${r}-state`)) });
  sections.push(table('(b) runtime CLI: run --bundle of /bin/true', await alternate(cases, Math.max(5, ROUNDS >> 1))));
}

async function caseD(): Promise<void> {
  const rows: Summary[] = [];
  for (const n of [20, 100]) {
    const bundles = Array.from({ length: n }, (_, i) => bundle(`d${i}`));
    const cases: Case[] = [{ name: `tsbox API ×${n}`, run: () => Promise.all(bundles.map(() => tsboxApi()())).then(() => undefined) }];
    if (runtimes.includes('crun')) cases.push({ name: `crun ×${n}`, run: () => Promise.all(bundles.map((b) => ociCli('crun', b, join(WORK, 'crun-state'))())).then(() => undefined) });
    for (const s of await alternate(cases, Math.max(3, ROUNDS >> 3), 1)) {
      // Containers per second from the median batch time.
      rows.push({ ...s, median: (n * 1000) / s.median, min: (n * 1000) / s.max, max: (n * 1000) / s.min });
    }
  }
  sections.push(table('(d) concurrent start+teardown (containers per second, higher is better)', rows, 'containers/s'));
}

async function caseE(): Promise<void> {
  const layer = mkdtempSync('/dev/shm/tsbox-bench-sandbox-');
  const cases: Case[] = [
    {
      name: 'tsbox sandbox (API)',
      run: async () => {
        for (const d of ['upper', 'work', 'root']) mkdirSync(join(layer, d), { recursive: true });
        await tsboxApi(sandboxSpec({ args: ['/bin/true'], layerDir: layer, cwd: '/' }))();
        rmSync(join(layer, 'upper'), { recursive: true, force: true });
        rmSync(join(layer, 'work'), { recursive: true, force: true });
      },
    },
  ];
  if (have('bwrap')) {
    cases.push({
      name: 'bwrap (spawned from node)',
      run: () => must(exitOf('bwrap', ['--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '/bin/true']), 'bwrap'),
    });
  }
  try {
    sections.push(table('(e) sandbox of /bin/true over the host filesystem', await alternate(cases, ROUNDS)));
  } finally {
    rmSync(layer, { recursive: true, force: true });
  }
}

async function caseG(): Promise<void> {
  const c = await runContainer({ id: id('mem'), spec: benchSpec(['sleep', '30']), root: STATE, stdio: ['ignore', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 200));
  const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const initRss = rss(c.pid);
  c.kill('SIGKILL');
  await c.exited;
  // Smallest memory limit that still runs /bin/true, by bisection over MiB.
  let lo = 0;
  let hi = 64;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const ok = await tsboxApi(benchSpec(['/bin/true'], (s) => (s.linux!.resources = { memory: { limit: mid * 1024 * 1024 } })))().then(() => true, () => false);
    if (ok) hi = mid;
    else lo = mid;
  }
  sections.push(`### (g) memory\n\n| what | value |\n|---|---:|\n| RSS of tsbox-init (pid 1) while the container sleeps | ${initRss} KiB |\n| smallest memory limit that runs /bin/true | ${hi} MiB |\n`);
}

async function main(): Promise<void> {
  const started = new Date();
  try {
    if (ONLY.has('a')) await caseA();
    if (ONLY.has('b')) await caseB();
    if (ONLY.has('d')) await caseD();
    if (ONLY.has('e')) await caseE();
    if (ONLY.has('g')) await caseG();
  } finally {
    cleanWork();
    rmSync(STATE, { recursive: true, force: true });
    spawnSync('sh', ['-c', 'for d in /sys/fs/cgroup/*/tsbox-bench /sys/fs/cgroup/tsbox-bench; do [ -d "$d" ] && rmdir "$d"/* "$d" 2>/dev/null; done; true']);
  }
  const head = `# tsbox benchmarks\n\n${started.toISOString()} on ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}; ${ROUNDS} rounds, medians with min/max, cases run in alternation.\n\n`;
  const md = head + sections.join('\n') + (notes.length ? `\n### Notes\n\n${notes.map((n) => `- ${n}`).join('\n')}\n` : '');
  writeFileSync(join(import.meta.dirname, 'RESULTS.md'), md);
  process.stdout.write(md);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack}\n`);
  process.exit(1);
});
