// A private dockerd (Debian's docker.io 20.10) as the reference for docker CLI behaviour: its own data
// root, exec root, socket and cgroup parent, no bridge, no iptables; stop() leaves nothing behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { unmountBelow } from './leftovers.js';
import type { CliResult } from './cli.js';

export const DOCKER = '/usr/bin/docker';
export const haveDockerd = () => existsSync('/usr/sbin/dockerd') && existsSync(DOCKER);

export interface Dockerd {
  sock: string;
  docker(args: string[], input?: string): CliResult;
  /** Stops the daemon and removes everything of it; resolves with what could not be removed. */
  stop(): Promise<string[]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cgroupRoots = () => (existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c)));

/** docker's veth pairs left with both ends on the host (their network's bridge gone): `vethX@vethY`. */
function strandedVeths(): string[] {
  const r = spawnSync('ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' });
  return [...(r.stdout ?? '').matchAll(/^\d+: (veth[0-9a-f]{7})@(veth[0-9a-f]{7}):/gm)].map((m) => m[1]);
}

/** args: more of dockerd's flags (`--add-runtime`, `--userns-remap`). */
export async function startDockerd(o: { args?: string[] } = {}): Promise<Dockerd> {
  const vethsBefore = new Set(strandedVeths());
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-dockerd-'));
  // With --userns-remap the containers' root (a subordinate id) must reach the data root: mkdtemp's 0700 would stop it.
  if (o.args?.some((a) => a.startsWith('--userns-remap'))) chmodSync(dir, 0o755);
  const sock = join(dir, 'docker.sock');
  const cgroup = `tsbox-test-dockerd-${process.pid}`;
  // dockerd 20.10 writes its trust key to /etc/docker/key.json whatever its data root.
  const keyExisted = existsSync('/etc/docker/key.json');
  const etcExisted = existsSync('/etc/docker');
  mkdirSync(join(dir, 'client'));
  writeFileSync(join(dir, 'daemon.json'), '{}');
  const log = openSync(join(dir, 'dockerd.log'), 'w');
  const daemon: ChildProcess = spawn(
    'dockerd',
    ['--config-file', join(dir, 'daemon.json'), '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'), '-H', `unix://${sock}`,
      '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--exec-opt', 'native.cgroupdriver=cgroupfs', '--cgroup-parent', `/${cgroup}`, ...(o.args ?? [])],
    { stdio: ['ignore', 'ignore', log] },
  );
  closeSync(log);
  const docker = (args: string[], input?: string) => {
    const r = spawnSync(DOCKER, args, { encoding: 'utf8', input: input ?? '', timeout: 60_000, env: { ...process.env, DOCKER_CONFIG: join(dir, 'client'), DOCKER_HOST: `unix://${sock}` } });
    return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  for (const end = Date.now() + 30_000; docker(['version']).code !== 0; await sleep(200)) {
    if (Date.now() > end) throw new Error(`dockerd did not answer:\n${readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
  }
  return {
    sock,
    docker,
    async stop() {
      const ids = docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
      if (ids.length) docker(['rm', '-f', ...ids]);
      if (daemon.exitCode === null) {
        const gone = new Promise((r) => daemon.on('exit', r));
        daemon.kill('SIGTERM');
        await Promise.race([gone, sleep(20_000)]);
        if (daemon.exitCode === null) daemon.kill('SIGKILL');
      }
      // containerd and shims it started name our directory.
      for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) spawnSync('kill', ['-KILL', p]);
        } catch {
          // gone
        }
      }
      await sleep(300);
      unmountBelow(dir);
      rmSync(dir, { recursive: true, force: true });
      const left: string[] = [];
      const rm = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name));
        try {
          rmdirSync(d);
        } catch {
          left.push(d);
        }
      };
      for (const r of cgroupRoots()) if (existsSync(join(r, cgroup))) rm(join(r, cgroup));
      // dockerd leaves the veths of a user network whose bridge went first, both ends on the host.
      for (const v of strandedVeths()) if (!vethsBefore.has(v)) spawnSync('ip', ['link', 'del', v]);
      if (!keyExisted) rmSync('/etc/docker/key.json', { force: true });
      if (!etcExisted) rmSync('/etc/docker', { recursive: true, force: true });
      return left;
    },
  };
}
