// Network namespaces made ahead (csrc/addon/netns_pool.c): after a container exits, the next one's is
// made before it is asked for. Each container must still get one of its own, fresh, never the host's,
// with lo as its only interface, and one owned by its user namespace when it has one.
import test from 'ava';
import { readlinkSync } from 'node:fs';
import { sh, start } from './helpers/run.js';
import type { OciSpec } from '../ts/runtime/spec.js';

const SCRIPT = 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; cat /sys/class/net/lo/flags; sleep 30';

async function running(mutate?: (s: OciSpec) => void) {
  const { c } = await start(SCRIPT, mutate);
  let out = '';
  c.stdout!.setEncoding('utf8');
  c.stdout!.on('data', (d: string) => (out += d));
  for (let i = 0; i < 200 && !/0x\w+\n/.test(out); i++) await new Promise((r) => setTimeout(r, 10));
  return { c, out: () => out, netns: readlinkSync(`/proc/${c.pid}/ns/net`) };
}

test('each container gets a network namespace of its own, made ahead or not: never the host\'s nor another\'s, lo its only interface, up', async (t) => {
  const host = readlinkSync('/proc/self/ns/net');
  // An exit before each start: the next network namespace is made ahead then.
  t.is((await sh('true')).code, 0);
  const a = await running();
  t.teardown(() => a.c.kill('SIGKILL'));
  t.is((await sh('true')).code, 0);
  const b = await running();
  t.teardown(() => b.c.kill('SIGKILL'));
  // No exit since: made by its clone.
  const c = await running();
  t.teardown(() => c.c.kill('SIGKILL'));
  const all = [a, b, c];
  t.is(new Set([host, ...all.map((x) => x.netns)]).size, 4, all.map((x) => x.netns).join(' '));
  for (const x of all) {
    const [dev, flags] = x.out().trim().split('\n');
    t.is(dev, 'lo', x.out());
    t.true((Number(flags) & 1) === 1, `lo flags ${flags}`); // IFF_UP
  }
  for (const x of all) x.c.kill('SIGKILL');
  await Promise.all(all.map((x) => x.c.exited));
});

test('a container with its own user namespace owns its network namespace, also right after an exit', async (t) => {
  t.is((await sh('true')).code, 0);
  const caps = ['CAP_NET_ADMIN', 'CAP_KILL'];
  // lo can be taken down and up again only by a root whose user namespace owns the network namespace.
  const r = await sh('ip link set lo down && ip link set lo up && cat /sys/class/net/lo/flags', (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
  });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^0x\w*9\n$/);
});
