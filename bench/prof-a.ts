// One start+teardown after another through the API, median and min (a profiling aid next to prof-b.ts;
// npm run bench is the benchmark). N=runs, V=1 prints start and exit times of each.
// State on a tmpfs, as bench/run.ts keeps it (on ext4 the state files cost as much as the cgroups).
import { runContainer } from '../dist/runtime/api.js';
import { benchSpec, rootfs } from './fixtures.js';
import { performance } from 'node:perf_hooks';
const spec = benchSpec();
const N = Number(process.env.N ?? 50);
let seq = 0;
const times: number[] = [];
for (let i = 0; i < N; i++) {
  const t0 = performance.now();
  const c = await runContainer({ id: `p${process.pid}-${++seq}`, spec: { ...spec, linux: { ...spec.linux, cgroupsPath: undefined } }, root: '/dev/shm/tsbox-prof-a', stdio: ['ignore', 'ignore', 'ignore'] });
  const t1 = performance.now();
  await c.exited;
  const t2 = performance.now();
  times.push(t2 - t0);
  if (process.env.V) console.log((t1 - t0).toFixed(2), (t2 - t1).toFixed(2));
}
times.sort((a, b) => a - b);
console.log('median', times[N >> 1].toFixed(2), 'min', times[0].toFixed(2));
