// CPU per container with many starts at once (case (d)'s cost on a saturated machine; a profiling aid).
// Whole-machine CPU from /proc/stat over B batches of C concurrent start+teardowns through the API.
// C=20 B=10 INIT=0 (process as pid 1) CMD="crun" (time crun CLI processes instead, as bench (d) spawns them).
import { readFileSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runContainer } from '../dist/runtime/api.js';
import { benchSpec, WORK } from './fixtures.js';

const C = Number(process.env.C ?? 20);
const B = Number(process.env.B ?? 10);
const init = process.env.INIT !== '0';
const cmd = process.env.CMD;
const spec = benchSpec();
const state = '/dev/shm/tsbox-prof-d';
let seq = 0;

/** busy and total jiffies of all CPUs; time stolen by the hypervisor counts as neither */
function cpu(): [number, number] {
  const [user, nice, system, idle, iowait, irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq;
  return [busy, busy + idle + iowait];
}

/** CPU seconds of this process (all threads) and of its reaped children (tsbox-init, the process) */
const selfAndChildren = (): [number, number] => {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return [(Number(f[11]) + Number(f[12])) / 100, (Number(f[13]) + Number(f[14])) / 100];
};
/** CPU seconds of this process's main thread (utime + stime) */
const mainThread = () => {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const stolen = () => Number(readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/)[8]);
const steal = (a: number, b: number) => `${(b - a) / 100} s`;

const bundle = join(WORK, 'bundles', 'prof-d');
if (cmd) {
  mkdirSync(bundle, { recursive: true });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ...spec, linux: { ...spec.linux, cgroupsPath: undefined } }));
}

const one = (): Promise<void> => {
  const id = `pd-${process.pid}-${++seq}`;
  if (cmd) {
    return new Promise((res, rej) => spawn(cmd, ['--root', state, 'run', '--bundle', bundle, id], { stdio: 'ignore' }).on('exit', (c) => (c === 0 ? res() : rej(new Error(`${cmd}: ${c}`)))));
  }
  return runContainer({ id, init, spec: { ...spec, linux: { ...spec.linux, cgroupsPath: undefined } }, root: state, stdio: ['ignore', 'ignore', 'ignore'] }).then((c) => c.exited.then(() => undefined));
};

await Promise.all(Array.from({ length: C }, one)); // warm-up
const [b0, t0] = cpu();
const s0 = stolen();
const m0 = mainThread();
const p0 = selfAndChildren();
const w0 = performance.now();
for (let b = 0; b < B; b++) await Promise.all(Array.from({ length: C }, one));
const wall = performance.now() - w0;
const [b1, t1] = cpu();
const s1 = stolen();
const m1 = mainThread();
const p1 = selfAndChildren();
const hz = 100;
const n = B * C;
console.log(`${cmd ?? `tsbox API${init ? '' : ' --no-init'}`} ×${C}: ${((n * 1000) / wall).toFixed(1)} containers/s, ${(((b1 - b0) * 1000) / hz / n).toFixed(2)} ms CPU each, busy ${((100 * (b1 - b0)) / (t1 - t0)).toFixed(0)}%, steal ${steal(s0, s1)}${cmd ? '' : `, main thread ${((100 * (m1 - m0) * 1000) / wall).toFixed(0)}% busy, ms each: Node ${(((p1[0] - p0[0]) * 1000) / n).toFixed(2)}, its children ${(((p1[1] - p0[1]) * 1000) / n).toFixed(2)}`}`);
rmSync(state, { recursive: true, force: true });
