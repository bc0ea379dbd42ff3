import { runContainer } from '../dist/runtime/api.js';
import { benchSpec, bundle } from '../bench/fixtures.js';
const spec = benchSpec();
if (process.argv[2] === 'bundle') { console.log(bundle('perfcpu-one')); process.exit(0); }
for (let i = 0; i < 3; i++) {
  const c = await runContainer({ id: `pc1-${process.pid}-${i}`, spec: { ...spec, linux: { ...spec.linux, cgroupsPath: undefined } }, root: '/dev/shm/tsbox-pc1', stdio: ['ignore', 'ignore', 'ignore'] });
  await c.exited;
}
