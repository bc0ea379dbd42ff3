// A registry over TLS with a private CA, pulled from by the CLI as an installed bin runs (npm's .bin link:
// the launcher, bin/tsbox.cjs, executed). The launcher keeps Node from parsing NODE_EXTRA_CA_CERTS at start;
// the registry client must still trust that bundle, and docker's certs.d/<host:port>/ca.crt, when it
// connects.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CLI } from './helpers/bins.js';
import { Layout, push, rawTar } from './helpers/registry.js';
import { busyboxRootfs } from './helpers/bundle.js';
import { startApiServer } from './helpers/api-server.js';
import { outputOfAsync } from './helpers/cli.js';
import { DOCKER } from './helpers/dockerd.js';

const work = mkdtempSync(join(tmpdir(), 'tsbox-tls-'));
// The bin as npm installs it: a link in a bin directory, executed (its "#!" line), node found on PATH.
const binDir = join(work, 'bin');
mkdirSync(binDir);
symlinkSync(CLI, join(binDir, 'tsbox'));
const TSBOX = join(binDir, 'tsbox');
const PATH = `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`;
// docker's per-registry directories, private to this test (never the host's /etc/docker/certs.d).
const certsD = join(work, 'certs.d');
const noCertsD = join(work, 'no-certs.d');
mkdirSync(certsD);
mkdirSync(noCertsD);

let ref = '';
let host = '';
let registry: ReturnType<typeof spawn> | undefined;

/**
 * A name for the registry that is not loopback to tsbox (loopback registries are plain http): this host's
 * name where it resolves to 127.x, else an address of one of its interfaces.
 */
async function registryName(): Promise<{ name: string; listen: string; san: string }> {
  const h = hostname();
  try {
    const a = await lookup(h, { family: 4 });
    if (h !== 'localhost' && a.address.startsWith('127.')) return { name: h, listen: a.address, san: `DNS:${h}` };
  } catch {
    // not resolvable
  }
  const ip = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  if (!ip) throw new Error('no name or address for a non-loopback registry');
  return { name: ip, listen: ip, san: `IP:${ip}` };
}

const freePort = (addr: string) =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.listen(0, addr, () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });

const listening = (addr: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, addr, () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });

test.before(async () => {
  const { name, listen, san } = await registryName();
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'ignore' });
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=tsbox-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', `/CN=${name}`]);
  writeFileSync(join(work, 'ext.cnf'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  ssl(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '2', '-extfile', 'ext.cnf']);
  const port = await freePort(listen);
  host = `${name}:${port}`;
  writeFileSync(
    join(work, 'config.yml'),
    ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${work}/data`, 'http:', `  addr: ${listen}:${port}`, '  tls:', `    certificate: ${work}/srv.crt`, `    key: ${work}/srv.key`].join('\n') + '\n',
  );
  registry = spawn('docker-registry', ['serve', join(work, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !(await listening(listen, port)); i++) await new Promise((r) => setTimeout(r, 50));
  // One small image: a layer of one file.
  const layout = join(work, 'layout');
  const l = new Layout(layout);
  const tar = join(work, 'layer.tar');
  writeFileSync(tar, rawTar([{ name: 'hello', data: 'over tls\n' }]));
  l.image([tar], { tag: 'latest' });
  l.write();
  ref = `${host}/tls/hello:latest`;
  await push(layout, 'latest', ref);
  mkdirSync(join(certsD, host));
  copyFileSync(join(work, 'ca.crt'), join(certsD, host, 'ca.crt'));
});

test.after.always(async () => {
  if (registry && registry.exitCode === null) {
    registry.kill('SIGTERM');
    await new Promise((r) => registry!.on('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
});

/** The installed bin, with NODE_EXTRA_CA_CERTS as given (unset for undefined) and docker's directories at dirs. */
function tsbox(args: string[], o: { ca?: string; dirs: string; viaNode?: boolean }) {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH, TSBOX_CERTS_DIRS: o.dirs };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.TSBOX_EXTRA_CA_CERTS;
  if (o.ca !== undefined) env.NODE_EXTRA_CA_CERTS = o.ca;
  const [cmd, argv] = o.viaNode ? [process.execPath, [CLI, ...args]] : [TSBOX, args];
  return spawnSync(cmd, argv, { env, encoding: 'utf8', timeout: 120000 });
}

const freshRoot = () => mkdtempSync(join(work, 'root-'));

test('without its CA, a pull fails at once with one line that says the certificate is not trusted', (t) => {
  // The machine's bundle, if it has one, is trusted as before: it just does not hold this CA.
  const systemBundle = process.env.NODE_EXTRA_CA_CERTS;
  const started = Date.now();
  const r = tsbox(['--root', freshRoot(), 'pull', ref], { ca: systemBundle, dirs: noCertsD });
  t.not(r.status, 0, r.stdout);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0], /tls: .*certificate.*\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\); add the registry's CA to NODE_EXTRA_CA_CERTS or /, r.stderr);
  t.true(lines[0].includes(`${noCertsD}/${host}/ca.crt`), r.stderr);
  // Not retried: a certificate does not become trusted by waiting (retries would take seconds).
  t.true(Date.now() - started < 20000);
});

test('NODE_EXTRA_CA_CERTS naming the CA: the pull succeeds, through the launcher and through node alike', (t) => {
  const ca = join(work, 'ca.crt');
  const r = tsbox(['--root', freshRoot(), 'pull', ref], { ca, dirs: noCertsD });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /Status: Downloaded newer image/);
  // A bundle of several certificates, as distributions ship: the CA among others.
  const bundle = join(work, 'bundle.crt');
  const system = spawnSync('sh', ['-c', `cat ${process.env.NODE_EXTRA_CA_CERTS ?? '/dev/null'} ${ca}`], { encoding: 'latin1' }).stdout;
  writeFileSync(bundle, system);
  const b = tsbox(['--root', freshRoot(), 'pull', ref], { ca: bundle, dirs: noCertsD });
  t.is(b.status, 0, b.stderr);
  // `node bin/tsbox.cjs`: Node itself loads the variable, as before.
  const n = tsbox(['--root', freshRoot(), 'pull', ref], { ca, dirs: noCertsD, viaNode: true });
  t.is(n.status, 0, n.stderr);
});

test("docker's certs.d/<host:port>/ca.crt: the pull succeeds without NODE_EXTRA_CA_CERTS, and only for that host", (t) => {
  const r = tsbox(['--root', freshRoot(), 'pull', ref], { dirs: `${noCertsD}:${certsD}` });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /Status: Downloaded newer image/);
  // The CA of one registry is no authority for another name of it.
  const other = join(work, 'other.d');
  mkdirSync(join(other, `wrong-${host}`), { recursive: true });
  copyFileSync(join(work, 'ca.crt'), join(other, `wrong-${host}`, 'ca.crt'));
  const w = tsbox(['--root', freshRoot(), 'pull', ref], { dirs: other });
  t.not(w.status, 0);
  t.regex(w.stderr, /tls: /);
});

test("docker login through the API server trusts the same authorities as pull: certs.d's CA logs in, without it one line that says the certificate is not trusted", async (t) => {
  const login = async (dirs: string) => {
    const root = freshRoot();
    const server = await startApiServer(root, { TSBOX_CERTS_DIRS: dirs });
    try {
      // The docker CLI asks the engine (POST /auth), which checks the credentials against the registry.
      return await outputOfAsync('env', [`DOCKER_HOST=unix://${server.sock}`, `DOCKER_CONFIG=${mkdtempSync(join(work, 'docker-config-'))}`, DOCKER, 'login', '-u', 'anyone', '--password-stdin', host], { tmp: work, input: 'anything' });
    } finally {
      await server.stop();
    }
  };
  const ok = await login(`${noCertsD}:${certsD}`);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /Login Succeeded/);
  const untrusted = await login(noCertsD);
  t.is(untrusted.code, 1, untrusted.stdout);
  t.regex(untrusted.stderr, /^Error response from daemon: .*tls: .*certificate.*add the registry's CA to NODE_EXTRA_CA_CERTS or /m);
});

test('the launcher keeps Node from parsing NODE_EXTRA_CA_CERTS at start; child processes still get it', (t) => {
  // A file Node refuses: `node -e 0` warns about it before any JavaScript runs.
  const bad = join(work, 'bad.pem');
  writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const node = spawnSync(process.execPath, ['-e', '0'], { env: { ...process.env, NODE_EXTRA_CA_CERTS: bad }, encoding: 'utf8' });
  t.regex(node.stderr, /Ignoring extra certs from/);
  const v = tsbox(['version'], { ca: bad, dirs: noCertsD });
  t.is(v.status, 0, v.stderr);
  t.regex(v.stdout, /tsbox version|Version/);
  t.is(v.stderr, '');
  // The API server is long-lived: Node loads the file there, once.
  const service = tsbox(['system', 'service', '--help'], { ca: bad, dirs: noCertsD });
  t.is(service.status, 0, service.stderr);
  t.regex(service.stderr, /Ignoring extra certs from/);
  // What the engine starts sees the variable as it was (here a process in a sandbox, which takes the CLI's environment).
  const s = tsbox(['sandbox', '--', 'sh', '-c', 'echo "extra=$NODE_EXTRA_CA_CERTS"'], { ca: bad, dirs: noCertsD });
  t.is(s.status, 0, s.stderr);
  t.regex(s.stdout, new RegExp(`^extra=${bad}$`, 'm'));
  // Without the variable, no stale copy of it survives in the launcher's.
  const env = spawnSync(TSBOX, ['sandbox', '--', 'sh', '-c', 'echo "extra=${NODE_EXTRA_CA_CERTS-unset} moved=${TSBOX_EXTRA_CA_CERTS-unset}"'], {
    env: { ...process.env, PATH, NODE_EXTRA_CA_CERTS: '', TSBOX_EXTRA_CA_CERTS: '/stale' },
    encoding: 'utf8',
  });
  t.is(env.status, 0, env.stderr);
  t.regex(env.stdout, /moved=unset/);
});

test("a build's ADD of an https URL trusts the same authorities", (t) => {
  const root = freshRoot();
  const tarball = join(work, 'busybox.tar.gz');
  execFileSync('tar', ['-C', busyboxRootfs(), '-czf', tarball, '.']);
  t.is(tsbox(['--root', root, 'import', tarball, 'busybox'], { dirs: noCertsD }).status, 0);
  const ctx = mkdtempSync(join(work, 'ctx-'));
  // The registry's /v2/ answers {} to anyone: a file to download.
  writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nADD https://${host}/v2/ /dl/\n`);
  const build = (ca?: string) => tsbox(['--root', root, 'build', '--network', 'host', '-t', 'tls-add:1', ctx], { ca, dirs: noCertsD });
  const untrusted = build(process.env.NODE_EXTRA_CA_CERTS);
  t.not(untrusted.status, 0);
  t.regex(untrusted.stderr, new RegExp(`ADD https://${host}/v2/: tls: .*certificate`));
  const trusted = build(join(work, 'ca.crt'));
  t.is(trusted.status, 0, trusted.stderr);
  const r = tsbox(['--root', root, 'run', '--rm', '--network', 'none', 'tls-add:1', 'cat', '/dl/v2'], { dirs: noCertsD });
  t.is(r.stdout.trim(), '{}', r.stderr);
});
