// `docker run --rm --network none IMAGE true` by the docker CLI through three Engine API servers: tsbox's
// socket (tsbox system service), podman's (podman system service, runc, cgroupfs, private storage) and,
// where it starts, dockerd with runc. Rounds alternate between them; medians and ratios go to stdout and
// bench/RESULTS.md (section "(e)").
// Usage: node --import=tsx bench/api.ts [--rounds 15]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchImage } from './fixtures.js';
import { haveDockerd, startDockerd, type Dockerd } from '../test/helpers/dockerd.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const rounds = Number(values.rounds);
const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'bin.js');
const dir = mkdtempSync(join(tmpdir(), 'tsbox-bench-api-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const notes: string[] = [];

function docker(host: string, args: string[]): { code: number | null; ms: number; err: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'client') }, timeout: 60_000 });
  return { code: r.status, ms: Number(process.hrtime.bigint() - t0) / 1e6, err: (r.stderr ?? '').trim() };
}

async function waitSock(p: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(p); i++) await sleep(50);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));

const procs: ChildProcess[] = [];
let dockerd: Dockerd | undefined;
const podmanGlobals = ['--root', join(dir, 'proot'), '--runroot', join(dir, 'prun'), '--tmpdir', join(dir, 'ptmp'), '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--network-config-dir', join(dir, 'pnet')];
try {
  mkdirSync(join(dir, 'client'));
  const { tar } = benchImage(join(dir, 'img'), 'bench');
  const root = join(dir, 'tsbox');
  const loaded = spawnSync(process.execPath, [CLI, '--root', root, 'load', '-i', tar], { encoding: 'utf8' });
  if (loaded.status !== 0) throw new Error('tsbox load of the bench image failed');
  const tsock = join(dir, 'tsbox.sock');
  procs.push(spawn(process.execPath, [CLI, '--root', root, 'system', 'service', '--socket', tsock, '--timeout', '0'], { stdio: 'ignore' }));
  await waitSock(tsock);
  const image = 'localhost/image:bench';
  // The others get the image as docker save writes it, through our own socket.
  const archive = join(dir, 'bench.tar');
  if (docker(`unix://${tsock}`, ['save', '-o', archive, image]).code !== 0) throw new Error(`docker save through tsbox failed: ${docker(`unix://${tsock}`, ['images']).err}`);
  const servers: [string, string][] = [['tsbox (system service)', `unix://${tsock}`]];

  const psock = join(dir, 'podman.sock');
  procs.push(spawn('podman', [...podmanGlobals, 'system', 'service', '--time', '0', `unix://${psock}`], { stdio: 'ignore' }));
  await waitSock(psock);
  await sleep(500);
  if (docker(`unix://${psock}`, ['load', '-i', archive]).code === 0) servers.push(['podman system service (runc)', `unix://${psock}`]);
  else notes.push('podman: its service did not load the image');

  if (haveDockerd()) {
    try {
      dockerd = await startDockerd();
      if (docker(`unix://${dockerd.sock}`, ['load', '-i', archive]).code === 0) servers.push(['dockerd (runc)', `unix://${dockerd.sock}`]);
    } catch (e) {
      notes.push(`dockerd: does not start here (${(e as Error).message.split('\n')[0]})`);
    }
  } else notes.push('dockerd: not installed');

  const args = ['run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', image, 'true'];
  const usable = servers.filter(([name, host]) => {
    const r = docker(host, args);
    if (r.code !== 0) notes.push(`${name}: cannot run the bench container: ${r.err.split('\n').pop()}`);
    return r.code === 0;
  });
  const times = new Map<string, number[]>(usable.map(([n]) => [n, []]));
  const load0 = loadavg()[0];
  for (let i = 0; i < rounds; i++) {
    for (const [name, host] of usable) {
      const r = docker(host, args);
      if (r.code === 0) times.get(name)!.push(r.ms);
    }
  }
  const load1 = loadavg()[0];
  const base = median(times.get(usable[0][0]) ?? [NaN]);
  const busy = Math.max(load0, load1) > 1;
  const lines = [
    '',
    '### (e) Engine API: `docker run --rm --network none IMAGE true` by the docker CLI through each server',
    '',
    `${new Date().toISOString()}, ${cpus().length} CPUs, Node ${process.version}; ${rounds} rounds in alternation; load average ${load0.toFixed(2)} → ${load1.toFixed(2)}${busy ? ' (**measured under load**: other work ran on the machine)' : ''}.`,
    '',
    '| case | median ms | min | max | runs | vs tsbox |',
    '|---|---:|---:|---:|---:|---:|',
    ...usable.map(([n]) => {
      const xs = times.get(n)!;
      return `| ${n} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))} | ${fmt(Math.max(...xs))} | ${xs.length} | ${(median(xs) / base).toFixed(2)}× |`;
    }),
    ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  const results = join(import.meta.dirname, 'RESULTS.md');
  const old = readFileSync(results, 'utf8');
  const start = old.indexOf('\n### (e) Engine API');
  const rest = start < 0 ? '' : old.slice(start + 1).replace(/^[\s\S]*?(?=\n### |$)/, '');
  writeFileSync(results, (start < 0 ? old.trimEnd() + '\n' : old.slice(0, start).trimEnd() + '\n') + lines.join('\n') + rest);
} finally {
  for (const p of procs) p.kill('SIGTERM');
  await sleep(500);
  await dockerd?.stop();
  spawnSync('podman', [...podmanGlobals, 'system', 'reset', '-f'], { stdio: 'ignore' });
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir));
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
  rmSync(dir, { recursive: true, force: true });
}
