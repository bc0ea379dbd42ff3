// N start+teardowns one after another through the API, after a warm-up one and a line "MARK" on stdout:
// a profiling aid for counting system calls per container, e.g.
//   strace -ff -ttt -o /tmp/s/t node --import=tsx bench/prof-seq.ts   (then the calls after MARK's time, / N)
import { runContainer } from '../dist/runtime/api.js';
import { benchSpec } from './fixtures.js';

const spec = benchSpec();
const N = Number(process.env.N ?? 20);
const one = (i: number) =>
  runContainer({ id: `ps-${process.pid}-${i}`, spec: { ...spec, linux: { ...spec.linux, cgroupsPath: undefined } }, root: '/dev/shm/tsbox-prof-seq', stdio: ['ignore', 'ignore', 'ignore'] }).then((c) => c.exited);
await one(0);
process.stdout.write('MARK\n');
for (let i = 1; i <= N; i++) await one(i);
