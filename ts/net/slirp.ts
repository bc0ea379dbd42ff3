// User-mode networking (the rootless choice): slirp4netns gives the container's network namespace a tap
// device NATed through the user's own sockets, and published ports are its host forwards. It lives as
// long as the container: `tail --pid` holds the write end of its exit pipe and lets go when the
// container's first process dies (or when tsbox stops it first).
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { native } from '../native.js';
import { MissingToolError } from '../errors.js';
import { closeQuietly } from '../runtime/report.js';
import type { PortMapping } from './ports.js';
import { accessible } from '../runtime/rootless.js';
import { findHostTool, hostTool } from '../host-tools.js';

/** The address slirp4netns --configure gives the container (10.0.2.0/24: gateway .2, DNS .3). */
export const SLIRP_GUEST_IP = '10.0.2.100';
export const SLIRP_DNS = '10.0.2.3';

export function slirpBinary(): string | undefined {
  return findHostTool('slirp4netns');
}

/** Why user-mode networking cannot work here, or undefined when it can. */
export function slirpUnavailable(): string | undefined {
  if (!slirpBinary()) return 'slirp4netns is not installed';
  if (!accessible('/dev/net/tun', constants.R_OK | constants.W_OK)) return '/dev/net/tun is not read-writable for this user (udev normally makes it 0666)';
  return undefined;
}

interface SlirpRecord {
  pid: number;
  guardPid: number;
  socket: string;
}

const recordFile = (dir: string) => join(dir, 'slirp.json');

/**
 * Before the container runs (its namespaces exist, nothing runs in them yet): slirp4netns joins them,
 * configures tap0 and reports ready. Synchronous: the container must not start without its network.
 */
export function startSlirp(containerDir: string, pid: number, userns: boolean): void {
  const bin = slirpBinary();
  if (!bin) throw new MissingToolError('slirp4netns');
  stopSlirp(containerDir);
  // A unix socket path must fit in 108 bytes, which the container's directory may not: relative to it.
  const socket = join(containerDir, 'slirp.sock');
  rmSync(socket, { force: true });
  const [readyR, readyW] = native().pipe();
  const [exitR, exitW] = native().pipe();
  const log = openSync(join(containerDir, 'slirp.log'), 'w', 0o600);
  let child;
  let guard;
  try {
    const args = ['--configure', '--mtu=65520', '--disable-host-loopback', '--api-socket=slirp.sock', '--ready-fd=3', '--exit-fd=4', ...(userns ? [`--userns-path=/proc/${pid}/ns/user`] : []), String(pid), 'tap0'];
    child = spawn(bin, args, { cwd: containerDir, detached: true, stdio: ['ignore', log, log, readyW, exitR] });
    guard = spawn(hostTool('tail'), [`--pid=${pid}`, '-s', '0.2', '-f', '/dev/null'], { detached: true, stdio: ['ignore', 'ignore', 'ignore', exitW] });
  } finally {
    closeSync(log);
    for (const fd of [readyW, exitR, exitW]) closeQuietly(fd);
  }
  child.unref();
  guard.unref();
  // One byte on the ready pipe once tap0 is up; EOF if slirp4netns died first.
  const b = Buffer.alloc(1);
  let n = 0;
  try {
    n = readSync(readyR, b, 0, 1, null);
  } catch {
    n = 0;
  } finally {
    closeQuietly(readyR);
  }
  const rec: SlirpRecord = { pid: child.pid ?? 0, guardPid: guard.pid ?? 0, socket };
  writeFileSync(recordFile(containerDir), JSON.stringify(rec));
  if (n !== 1) {
    stopSlirp(containerDir);
    const log = readFileSync(join(containerDir, 'slirp.log'), 'utf8').trim().split('\n');
    // Its log mixes a banner and generic "... failed" lines with the one line that says why.
    const why = log.find((l) => l && !/^(\* |sent |received |Starting )|(failed(\(\d+\))?|exiting)$/.test(l));
    throw new Error(`slirp4netns ${pid}: ${why || 'exited before the network was ready'}`);
  }
}

/** One request on the API socket ({"execute": ...}) → its "return" value, or its error as an Error. */
function api(socket: string, req: object): Promise<Record<string, unknown>> {
  // Reached through an fd of its directory: /proc/self/fd/N/slirp.sock is short whatever the path.
  const dirFd = openSync(dirname(socket), 'r');
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const c = connect(`/proc/self/fd/${dirFd}/${basename(socket)}`);
    let text = '';
    c.on('connect', () => c.end(JSON.stringify(req)));
    c.on('data', (d) => (text += d));
    c.on('error', reject);
    c.on('close', () => {
      try {
        const r = JSON.parse(text) as { return?: Record<string, unknown>; error?: { desc?: string } };
        if (r.error) reject(new Error(r.error.desc ?? JSON.stringify(r.error)));
        else resolve(r.return ?? {});
      } catch {
        reject(new Error(`slirp4netns API: unexpected answer ${JSON.stringify(text)}`));
      }
    });
  }).finally(() => closeSync(dirFd));
}

function freePort(ip: string, protocol: 'tcp' | 'udp'): Promise<number> {
  if (protocol === 'udp') return Promise.reject(new Error('-p with a random host port: give the port for udp'));
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, ip, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** -p through slirp4netns: a host forward per mapping (a free port picked for hostPort 0). */
export async function slirpForward(containerDir: string, maps: PortMapping[]): Promise<PortMapping[]> {
  const rec = JSON.parse(readFileSync(recordFile(containerDir), 'utf8')) as SlirpRecord;
  const out: PortMapping[] = [];
  for (const m of maps) {
    const hostPort = m.hostPort || (await freePort(m.hostIp, m.protocol));
    try {
      await api(rec.socket, { execute: 'add_hostfwd', arguments: { proto: m.protocol, host_addr: m.hostIp, host_port: hostPort, guest_addr: SLIRP_GUEST_IP, guest_port: m.containerPort } });
    } catch (e) {
      throw new Error(`port ${m.hostIp}:${hostPort}: ${(e as Error).message}`);
    }
    out.push({ ...m, hostPort });
  }
  return out;
}

/** Stops slirp4netns and its guard (idempotent): on stop, rm, and before a restart plugs a new one. */
export function stopSlirp(containerDir: string): void {
  if (!existsSync(recordFile(containerDir))) return;
  let rec: SlirpRecord | undefined;
  try {
    rec = JSON.parse(readFileSync(recordFile(containerDir), 'utf8')) as SlirpRecord;
  } catch {
    // a torn record: nothing to stop by it
  }
  for (const [pid, name] of [[rec?.pid, 'slirp4netns'], [rec?.guardPid, 'tail']] as const) {
    if (!pid) continue;
    try {
      // Only if the pid is still ours: its command line names the program.
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(name) || readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`/${name}\0`)) process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  rmSync(recordFile(containerDir), { force: true });
  rmSync(join(containerDir, 'slirp.sock'), { force: true });
}
