// Cases (a) and (d) of bench/run.ts alone, with their references, for work on the in-process path
// (the whole bench takes minutes). Prints the tables; writes nothing.
// Usage: node --import=tsx bench/inproc.ts [--rounds N] [--only a,d] [--init] [--base DIR] [--floor]
// --base: also the tsbox built in DIR (another checkout, say main's), in the same alternation.
// --floor: (d) also runs unshare + pivot_root (the kernel's floor of (a)) as many at once.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { runContainer } from '../dist/runtime/api.js';
import { alternate, table, type Case, type Summary } from './stats.js';
import { benchSpec, bundle, rootfs, WORK } from './fixtures.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, only: { type: 'string' }, init: { type: 'boolean' }, base: { type: 'string' }, floor: { type: 'boolean' } } });
const ROUNDS = Number(values.rounds ?? 30);
const ONLY = new Set((values.only ?? 'a,d').split(','));
// State on a tmpfs for every runtime, as bench/run.ts has it.
const RUN = mkdtempSync('/dev/shm/tsbox-bench-inproc-');
let seq = 0;
const id = (p: string) => `${p}-${process.pid}-${++seq}`;

const exitOf = (cmd: string, args: string[]) =>
  new Promise<void>((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd}: exit ${code}`))));
  });

type Run = typeof runContainer;
const base: Run | undefined = values.base ? ((await import(join(values.base, 'dist/runtime/api.js'))) as { runContainer: Run }).runContainer : undefined;

const tsboxApi = (init = false, run: Run = runContainer) => async () => {
  const spec = benchSpec();
  const c = await run({ id: id('tb'), init, spec: { ...spec, linux: { ...spec.linux, cgroupsPath: undefined } }, root: join(RUN, 'tsbox'), stdio: ['ignore', 'ignore', 'ignore'] });
  const st = await c.exited;
  if (st.code !== 0) throw new Error(`tsbox: exit ${st.code} signal ${st.signal}`);
};
const crun = (b: string) => () => exitOf('crun', ['--root', join(RUN, 'crun'), 'run', '--bundle', b, id('crun')]);
const root = rootfs();
const unshareFloor = () =>
  exitOf('unshare', ['--fork', '--pid', '--mount', '--uts', '--ipc', '--net', '--propagation', 'private', join(root, 'bin/busybox'), 'sh', '-c', `mount --bind ${root} ${root} && cd ${root} && mkdir -p .old && pivot_root . .old && umount -l /.old && exec /bin/true`]);

const out: string[] = [`load ${loadavg()[0].toFixed(2)}`];
try {
  if (ONLY.has('a')) {
    const b = bundle('inproc-a');
    const cases: Case[] = [{ name: 'tsbox API (in-process)', run: tsboxApi() }];
    if (base) cases.push({ name: 'tsbox API, base', run: tsboxApi(false, base) });
    if (values.init) cases.push({ name: 'tsbox API, --init', run: tsboxApi(true) });
    cases.push({ name: 'node spawning crun run', run: crun(b) }, { name: 'unshare + pivot_root', run: unshareFloor });
    out.push(table('(a) start+teardown of /bin/true', await alternate(cases, ROUNDS)));
  }
  if (ONLY.has('d')) {
    const rows: Summary[] = [];
    for (const n of [20, 100]) {
      const bundles = Array.from({ length: n }, (_, i) => bundle(`inproc-d${i}`));
      const cases: Case[] = [{ name: `tsbox API ×${n}`, run: () => Promise.all(bundles.map(() => tsboxApi()())).then(() => undefined) }];
      if (base) cases.push({ name: `tsbox API, base ×${n}`, run: () => Promise.all(bundles.map(() => tsboxApi(false, base)())).then(() => undefined) });
      if (values.init) cases.push({ name: `tsbox API, --init ×${n}`, run: () => Promise.all(bundles.map(() => tsboxApi(true)())).then(() => undefined) });
      cases.push({ name: `crun ×${n}`, run: () => Promise.all(bundles.map((b) => crun(b)())).then(() => undefined) });
      // The kernel's floor at this concurrency: the same namespaces and pivot_root, no cgroup, no setup.
      if (values.floor) cases.push({ name: `unshare + pivot_root ×${n}`, run: () => Promise.all(bundles.map(() => unshareFloor())).then(() => undefined) });
      for (const s of await alternate(cases, Math.max(5, ROUNDS >> 2), 1)) rows.push({ ...s, median: (n * 1000) / s.median, min: (n * 1000) / s.max, max: (n * 1000) / s.min });
    }
    out.push(table('(d) concurrent start+teardown (containers/s)', rows, 'containers/s'));
  }
} finally {
  // Only what this script made: bench/run.ts may be running beside it (its bundles and cgroups are
  // named a, d0..d99 under the same parent).
  rmSync(RUN, { recursive: true, force: true });
  spawnSync('sh', ['-c', `rm -rf ${WORK}/bundles/inproc-*; for d in /sys/fs/cgroup/*/tsbox-bench/inproc-*; do [ -d "$d" ] && rmdir "$d"; done; for d in /sys/fs/cgroup/*/tsbox-bench; do rmdir "$d" 2>/dev/null; done; true`]);
}
out.push(`load ${loadavg()[0].toFixed(2)}`);
process.stdout.write(out.join('\n') + '\n');
process.exit(0);
