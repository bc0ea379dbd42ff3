// Phases of one start: where the milliseconds go (a profiling aid, not part of npm run bench).
import { performance } from 'node:perf_hooks';
import { benchSpec } from './fixtures.js';
import { openCgroup, detectCgroupVersion } from '../ts/runtime/cgroup/index.js';
import { containerBlob, cloneFlagsFor } from '../ts/runtime/container-blob.js';
import { native } from '../ts/native.js';
import { watchLaunched } from '../ts/runtime/report.js';
import { letGo, placeSpawned } from '../ts/runtime/launch.js';
import { writeState, reserveId, removeStateDir } from '../ts/runtime/state.js';
const spec = benchSpec();
const acc: Record<string, number[]> = {};
const mark = (k: string, t0: number) => { (acc[k] ??= []).push(performance.now() - t0); if (process.env.V) { const h = process.hrtime(); console.error(`N ${h[0]}.${String(Math.floor(h[1] / 1000)).padStart(6, '0')} after ${k}`); } };
for (let i = 0; i < Number(process.env.N ?? 40); i++) {
  let t = performance.now();
  const id = `pb-${process.pid}-${i}`;
  reserveId('/tmp/prof/state2', id);
  mark('reserve', t); t = performance.now();
  const cg = openCgroup(`/tsbox/${id}`, { version: detectCgroupVersion() });
  cg.create();
  cg.apply(undefined);
  mark('cgroup create', t); t = performance.now();
  const config = containerBlob(spec, { initMode: 'init' });
  mark('blob', t); t = performance.now();
  const s = native().spawn({ config, cloneFlags: cloneFlagsFor(spec), stdio: [0, 1, 2], cgroupTasks: cg.tasksFiles() });
  mark('spawn', t); t = performance.now();
  writeState('/tmp/prof/state2', { id, pid: s.pid } as never);
  mark('writeState', t); t = performance.now();
  placeSpawned(cg, s);
  mark('cgroup placement', t); t = performance.now();
  const rep = watchLaunched(s.pidfd, s.reportFd);
  letGo(s);
  const r = await rep.setup;
  mark('go → setup report', t); t = performance.now();
  await rep.exit;
  mark('setup → exit', t); t = performance.now();
  cg.destroy();
  mark('cgroup destroy', t); t = performance.now();
  removeStateDir('/tmp/prof/state2', id);
  mark('state remove', t);
  if (r.kind === 'error') throw new Error(r.message);
}
for (const [k, v] of Object.entries(acc)) {
  v.sort((a, b) => a - b);
  console.log(k.padEnd(20), v[v.length >> 1].toFixed(2));
}
