// Bridge networking: a web server in a container reached through a published port on 127.0.0.1,
// containers reaching each other, distinct addresses, and nothing left on the host afterwards.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { DEFAULT_NET, overlaps, readLeases, vethName } from '../ts/net/bridge.js';
import { outputOf } from './helpers/cli.js';
import { CLI } from './helpers/bins.js';

const root = mkdtempSync(join(tmpdir(), 'tsbox-net-'));

function tsbox(argv: string[]) {
  return outputOf(process.execPath, [CLI, '--root', root, ...argv], { tmp: root });
}

const tsbLinks = () => readdirSync('/sys/class/net').filter((n) => n.startsWith('tsb'));
/** A network's subnet, as network inspect gives it. */
const subnetOf = (net: string): string => JSON.parse(tsbox(['network', 'inspect', net]).stdout)[0].IPAM.Config[0].Subnet;
const bridgeOf = (net: string): string => JSON.parse(tsbox(['network', 'inspect', net]).stdout)[0].Options['com.docker.network.bridge.name'];
const inNet = (subnet: string, ip: string) => overlaps(subnet, `${ip.split('/')[0]}/30`);

test.before(() => {
  const tarball = join(root, 'busybox.tar.gz');
  execFileSync('tar', ['-C', busyboxRootfs(), '-czf', tarball, '.']);
  tsbox(['import', tarball, 'busybox']);
});

test.after.always((t) => {
  const ids = readdirSync(join(root, 'containers'));
  for (const id of ids) tsbox(['rm', '-f', id]);
  rmSync(root, { recursive: true, force: true });
  // Other test files run containers on the bridge at the same time: only our own veths are checked.
  t.deepEqual(tsbLinks().filter((l) => ids.map(vethName).includes(l)), [], 'no veth of ours left');
});

test.serial('a published port reaches a web server in the container from 127.0.0.1; rm leaves no veth, bridge or rule', async (t) => {
  const www = mkdtempSync(join(root, 'www-'));
  chmodSync(www, 0o755);
  writeFileSync(join(www, 'index.html'), 'hello from the container\n', { mode: 0o644 });
  const id = tsbox(['run', '-d', '-p', '127.0.0.1:0:80', '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']).stdout.trim();
  const port = /-> 127\.0\.0\.1:(\d+)/.exec(tsbox(['port', id]).stdout)?.[1];
  t.truthy(port, 'port reported');
  const info = JSON.parse(tsbox(['inspect', id]).stdout)[0];
  const subnet = subnetOf('bridge');
  t.true(inNet(subnet, info.NetworkSettings.IPAddress), `${info.NetworkSettings.IPAddress} in ${subnet}`);
  t.is(info.NetworkSettings.Ports['80/tcp'][0].HostPort, port);
  let body = '';
  for (let i = 0; i < 50 && !body; i++) {
    try {
      body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  t.is(body, 'hello from the container\n');
  // From a second container on the bridge, by address; and its own address differs.
  const r = tsbox(['run', '--rm', 'busybox', 'sh', '-c', `wget -qO- http://${info.NetworkSettings.IPAddress}/; ip -o -4 addr show eth0 | awk '{print $4}'; ip route | grep -c default`]);
  const [page, addr, routes] = r.stdout.trim().split('\n');
  t.is(page, 'hello from the container', r.stderr);
  t.true(inNet(subnet, addr) && addr.endsWith(`/${subnet.split('/')[1]}`), addr);
  t.not(addr.split('/')[0], info.NetworkSettings.IPAddress);
  t.is(routes, '1');
  t.is(tsbox(['rm', '-f', id]).code, 0);
  t.false(tsbLinks().includes(vethName(id)));
  // Its lease is gone. (The bridge and the nft table go with the host's last bridged container; other
  // test files may still be running theirs.)
  t.false(Object.values(readLeases(DEFAULT_NET)).some((o) => o.root === root));
});

test.serial('-p needs the bridge; bad -p is a usage error', (t) => {
  let r = tsbox(['run', '--rm', '--network', 'none', '-p', '80', 'busybox', 'true']);
  t.is(r.code, 125);
  t.regex(r.stderr, /-p needs a bridge or slirp4netns network/);
  r = tsbox(['run', '--rm', '-p', 'x:y', 'busybox', 'true']);
  t.is(r.code, 125);
  t.regex(r.stderr, /invalid -p "x:y"/);
});

test.serial('--network container:NAME shares its namespace; --dns, --dns-search and --add-host shape resolv.conf and hosts', async (t) => {
  const www = mkdtempSync(join(root, 'www-'));
  chmodSync(www, 0o755);
  writeFileSync(join(www, 'index.html'), 'shared\n', { mode: 0o644 });
  const id = tsbox(['run', '-d', '--name', 'netowner', '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']).stdout.trim();
  t.teardown(() => tsbox(['rm', '-f', id]));
  const ip = JSON.parse(tsbox(['inspect', id]).stdout)[0].NetworkSettings.IPAddress;
  await new Promise((r) => setTimeout(r, 200));
  let r = tsbox(['run', '--rm', '--network', 'container:netowner', 'busybox', 'sh', '-c', "ip -o -4 addr show eth0 | awk '{print $4}'; wget -qO- http://127.0.0.1/"]);
  t.is(r.stdout, `${ip}/16\nshared\n`, r.stderr);
  t.is(tsbox(['run', '--rm', '--network', 'container:nope', 'busybox', 'true']).code, 125);
  // Documentation addresses: only written into files, never contacted.
  r = tsbox(['run', '--rm', '--network', 'none', '--dns', '192.0.2.53', '--dns-search', 'example.test', '--add-host', 'db:192.0.2.10', 'busybox', 'sh', '-c', 'cat /etc/resolv.conf; awk \'$2 == "db"\' /etc/hosts']);
  t.is(r.stdout, 'search example.test\nnameserver 192.0.2.53\n192.0.2.10\tdb\n', r.stderr);
  t.is(tsbox(['run', '--rm', '--add-host', 'bad', 'busybox', 'true']).code, 125);
});

test.serial('user networks: containers reach each other by name; ls, inspect, rm refuses a network in use', async (t) => {
  let r = tsbox(['network', 'create', 'appnet']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^[0-9a-f]{64}\n$/);
  const bridge = bridgeOf('appnet');
  t.regex(tsbox(['network', 'ls']).stdout, new RegExp(`\n${r.stdout.slice(0, 12)} +appnet +bridge +local\n`));
  const www = mkdtempSync(join(root, 'www-'));
  chmodSync(www, 0o755);
  writeFileSync(join(www, 'index.html'), 'by name\n', { mode: 0o644 });
  const web = tsbox(['run', '-d', '--name', 'web', '--network', 'appnet', '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']).stdout.trim();
  await new Promise((res) => setTimeout(res, 200));
  // busybox-static has no NSS to read /etc/hosts for wget, so the name is looked up there by hand:
  // what the test checks is the entry tsbox writes, and that it leads to the server.
  r = tsbox(['run', '--rm', '--name', 'client', '--network', 'appnet', 'busybox', 'sh', '-c', 'ip=$(awk \'$2 == "web" {print $1}\' /etc/hosts); wget -qO- http://$ip/']);
  t.is(r.stdout, 'by name\n', r.stderr);
  const webIp = JSON.parse(tsbox(['inspect', web]).stdout)[0].NetworkSettings.IPAddress;
  t.true(inNet(subnetOf('appnet'), webIp), webIp);
  const info = JSON.parse(tsbox(['network', 'inspect', 'appnet']).stdout)[0];
  t.is(Object.values(info.Containers as Record<string, { Name: string }>)[0].Name, 'web');
  r = tsbox(['network', 'rm', 'appnet']);
  t.is(r.code, 1);
  t.regex(r.stderr, /has active endpoints \(web\)/);
  t.is(tsbox(['rm', '-f', web]).code, 0);
  t.false(readdirSync('/sys/class/net').includes(bridge), 'the bridge goes with its last container');
  t.is(tsbox(['network', 'rm', 'appnet']).code, 0);
  t.is(tsbox(['run', '--rm', '--network', 'appnet', 'busybox', 'true']).code, 125);
});

test.serial('-p …/udp through the proxy, -P publishes what the image exposes, the iptables backend', async (t) => {
  // A static UDP echo server, built for the test and mounted into the container.
  const bin = mkdtempSync(join(root, 'bin-'));
  chmodSync(bin, 0o755);
  execFileSync('gcc', ['-static', '-O2', '-o', join(bin, 'udp-echo'), join(import.meta.dirname, 'fixtures', 'udp-echo.c')]);
  const ur = tsbox(['run', '-d', '-p', '127.0.0.1:0:9000/udp', '-v', `${bin}:/t:ro`, 'busybox', '/t/udp-echo', '9000']);
  t.is(ur.code, 0, ur.stderr);
  const id = ur.stdout.trim();
  t.teardown(() => tsbox(['rm', '-f', id]));
  const ports = tsbox(['port', id]);
  const port = Number(/9000\/udp -> 127\.0\.0\.1:(\d+)/.exec(ports.stdout)?.[1]);
  t.true(port > 0, `${ports.stdout} ${ports.stderr}`);
  const { createSocket } = await import('node:dgram');
  const sock = createSocket('udp4');
  const reply = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => sock.send('ping over udp', port, '127.0.0.1'), 100);
    sock.on('message', (m) => {
      clearInterval(timer);
      resolve(m.toString());
    });
    setTimeout(() => {
      clearInterval(timer);
      reject(new Error('no udp reply'));
    }, 5000);
  }).finally(() => sock.close());
  t.is(reply, 'ping over udp');
  tsbox(['rm', '-f', id]);

  // -P: the image says EXPOSE 80; a free host port is picked.
  const tarball = join(root, 'exposed.tar.gz');
  execFileSync('tar', ['-C', busyboxRootfs(), '-czf', tarball, '.']);
  t.is(tsbox(['import', '--change', 'EXPOSE 80', tarball, 'exposed']).code, 0);
  const pr = tsbox(['run', '-d', '-P', 'exposed', 'httpd', '-f', '-p', '80']);
  t.is(pr.code, 0, pr.stderr);
  const p = pr.stdout.trim();
  t.regex(tsbox(['port', p]).stdout, /^80\/tcp -> 0\.0\.0\.0:\d+\n$/);
  tsbox(['rm', '-f', p]);

  // The iptables backend, for hosts without nft: the rule exists while the network's bridge does, then
  // goes. A network of its own, so that other tests' containers do not keep the bridge alive.
  t.is(tsbox(['network', 'create', 'iptnet']).code, 0);
  const bridge = bridgeOf('iptnet');
  const env = { ...process.env, TSBOX_FIREWALL: 'iptables' };
  const run = spawnSync(process.execPath, [CLI, '--root', root, 'run', '-d', '--network', 'iptnet', 'busybox', 'sleep', '30'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ipt = run.stdout.trim();
  const rules = () => spawnSync('iptables', ['-t', 'nat', '-S', 'POSTROUTING'], { encoding: 'utf8' }).stdout;
  const filter = () => spawnSync('iptables', ['-S'], { encoding: 'utf8' }).stdout;
  t.true(rules().includes(`tsbox ${bridge}`), rules());
  // docker's two isolation stages, jumped to from FORWARD.
  t.true(filter().includes(`-A TSBOX-ISOLATION-STAGE-1 -i ${bridge} ! -o ${bridge} -m comment --comment "tsbox ${bridge}" -j TSBOX-ISOLATION-STAGE-2`), filter());
  t.true(filter().includes(`-A TSBOX-ISOLATION-STAGE-2 -o ${bridge} -m comment --comment "tsbox ${bridge}" -j DROP`), filter());
  t.true(filter().includes('-A FORWARD -j TSBOX-ISOLATION-STAGE-1'), filter());
  spawnSync(process.execPath, [CLI, '--root', root, 'rm', '-f', ipt], { env });
  t.false(rules().includes(`tsbox ${bridge}`));
  t.false(filter().includes(bridge), filter());
  t.is(tsbox(['network', 'rm', 'iptnet']).code, 0);
});

test.serial("two networks are isolated as docker's: no traffic between them through the host, a container on both reaches each; the rules go with the bridges", async (t) => {
  for (const n of ['isoa', 'isob']) t.is(tsbox(['network', 'create', n]).code, 0);
  const [bra, brb] = [bridgeOf('isoa'), bridgeOf('isob')];
  const www = mkdtempSync(join(root, 'www-'));
  chmodSync(www, 0o755);
  writeFileSync(join(www, 'index.html'), 'on b\n', { mode: 0o644 });
  const web = tsbox(['run', '-d', '--network', 'isob', '-v', `${www}:/www:ro`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']).stdout.trim();
  const other = tsbox(['run', '-d', '--network', 'isoa', 'busybox', 'sleep', '60']).stdout.trim();
  t.teardown(() => {
    tsbox(['rm', '-f', web, other]);
    tsbox(['network', 'rm', 'isoa', 'isob']);
  });
  const webIp = JSON.parse(tsbox(['inspect', web]).stdout)[0].NetworkSettings.Networks.isob.IPAddress;
  await new Promise((res) => setTimeout(res, 200));
  // From network A: the server on B is out of reach (docker: DOCKER-ISOLATION drops it). --init: busybox's
  // timeout signals its parent, which as pid 1 would ignore SIGTERM.
  let r = tsbox(['run', '--rm', '--init', '--network', 'isoa', 'busybox', 'timeout', '3', 'wget', '-qO-', `http://${webIp}/`]);
  t.not(r.code, 0, r.stdout);
  t.is(r.stdout, '');
  // From network B itself, and from a container on both: reached.
  r = tsbox(['run', '--rm', '--init', '--network', 'isob', 'busybox', 'timeout', '3', 'wget', '-qO-', `http://${webIp}/`]);
  t.is(r.stdout, 'on b\n', r.stderr);
  t.is(tsbox(['network', 'connect', 'isob', other]).code, 0);
  r = tsbox(['exec', other, 'timeout', '3', 'wget', '-qO-', `http://${webIp}/`]);
  t.is(r.stdout, 'on b\n', r.stderr);
  // /usr/sbin/nft: under npm, PATH starts with node_modules/.bin, whose `nft` is @vercel/nft's.
  const table = () => spawnSync('/usr/sbin/nft', ['list', 'table', 'ip', 'tsbox'], { encoding: 'utf8' }).stdout;
  t.regex(table(), new RegExp(`iifname "${bra}" oifname != "${bra}" oifname @bridges drop`));
  t.regex(table(), new RegExp(`iifname "${brb}" oifname != "${brb}" oifname @bridges drop`));
  tsbox(['rm', '-f', web, other]);
  t.false(table().includes(`"${bra}"`), table());
  t.false(table().includes(`"${brb}"`), table());
});

test.serial("host programs come from the system's directories, never from the caller's PATH (npx puts node_modules/.bin first)", (t) => {
  // Programs named as those tsbox runs as root for a network, first on PATH: none of them may run.
  const bin = mkdtempSync(join(root, 'fake-bin-'));
  const marker = join(root, 'fake-ran');
  for (const n of ['ip', 'nft', 'iptables', 'nsenter']) writeFileSync(join(bin, n), `#!/bin/sh\necho ${n} >> ${marker}\nexit 0\n`, { mode: 0o755 });
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  const r = spawnSync(process.execPath, [CLI, '--root', root, 'run', '--rm', '--network', 'bridge', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0 | wc -l'], { env, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, '1\n', 'the container got its address from the real ip');
  t.throws(() => readFileSync(marker, 'utf8'), { code: 'ENOENT' }, 'no program from PATH ran');
  // TSBOX_HELPER_PATH is where they are looked for instead; without ip there: docker's exit code and one line.
  const r2 = spawnSync(process.execPath, [CLI, '--root', root, 'run', '--rm', '--network', 'bridge', 'busybox', 'true'], { env: { ...process.env, TSBOX_HELPER_PATH: '/nonexistent' }, encoding: 'utf8' });
  t.is(r2.status, 125, r2.stderr);
  t.regex(r2.stderr, /ip: not found in \/nonexistent; bridge networking .* needs it \(apt-get install iproute2\)\n$/);
});
