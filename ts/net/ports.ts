// Published ports (-p): a userland TCP proxy per mapping, as docker-proxy does, listening on the host
// and forwarding to the container's address. Each proxy is a small detached process recorded with the
// container, so it outlives the CLI and goes away with the container.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { UsageError } from '../errors.js';
import { selfArgv } from '../self.js';

export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  pid?: number;
}

/** docker's -p: [ip:][hostPort:]containerPort[/tcp|udp]; hostPort 0 or absent picks a free port. */
export function parsePublish(spec: string): PortMapping {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(?:(\d*):)?(\d+)(?:\/(tcp|udp))?$/.exec(spec);
  if (!m) throw new UsageError(`invalid -p ${JSON.stringify(spec)}: want [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]`);
  const protocol = (m[4] ?? 'tcp') as 'tcp' | 'udp';
  const containerPort = Number(m[3]);
  const hostPort = m[2] ? Number(m[2]) : 0;
  if (containerPort < 1 || containerPort > 65535 || hostPort > 65535) throw new UsageError(`invalid -p ${JSON.stringify(spec)}: port out of range`);
  return { hostIp: m[1] ?? '0.0.0.0', hostPort, containerPort, protocol };
}

function portsFile(containerDir: string): string {
  return join(containerDir, 'ports.json');
}

export function readPorts(containerDir: string): PortMapping[] {
  try {
    return JSON.parse(readFileSync(portsFile(containerDir), 'utf8')) as PortMapping[];
  } catch {
    return [];
  }
}

/** Starts one proxy process per mapping; resolves once each listens (with its real port). */
export async function startProxies(containerDir: string, targetIp: string, maps: PortMapping[]): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  for (const m of maps) {
    const [node, args] = selfArgv('_proxy', m.hostIp, String(m.hostPort), targetIp, String(m.containerPort), m.protocol);
    const child = spawn(node, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      child.stdout!.on('data', (d) => {
        text += d;
        const p = /^listening (\d+)$/m.exec(text);
        if (p) resolve(Number(p[1]));
      });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      child.on('exit', (code) => reject(new Error(`port ${m.hostIp}:${m.hostPort}: ${err.trim() || `proxy exited ${code}`}`)));
    });
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
    out.push({ ...m, hostPort: port, pid: child.pid });
    writeFileSync(portsFile(containerDir), JSON.stringify(out));
  }
  return out;
}

export function stopProxies(containerDir: string): void {
  for (const m of readPorts(containerDir)) {
    if (!m.pid) continue;
    try {
      // Only our own proxy: its command line names the mapping.
      const cmd = readFileSync(`/proc/${m.pid}/cmdline`, 'utf8');
      if (cmd.includes('_proxy') && cmd.includes(String(m.containerPort))) process.kill(m.pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  if (existsSync(portsFile(containerDir))) writeFileSync(portsFile(containerDir), '[]');
}

/** The proxy process itself (tsbox _proxy HOSTIP HOSTPORT TARGETIP TARGETPORT [tcp|udp]). */
export function runProxy(hostIp: string, hostPort: number, targetIp: string, targetPort: number, protocol = 'tcp'): void {
  process.on('SIGTERM', () => process.exit(0));
  if (protocol === 'udp') return runUdpProxy(hostIp, hostPort, targetIp, targetPort);
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetIp);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  server.on('error', (e) => {
    process.stderr.write(`listen ${hostIp}:${hostPort}: ${(e as NodeJS.ErrnoException).code ?? e.message}\n`);
    process.exit(1);
  });
  server.listen(hostPort, hostIp, () => {
    process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
  });
}

/** UDP has no connections: one upstream socket per client address, dropped after a minute of silence. */
function runUdpProxy(hostIp: string, hostPort: number, targetIp: string, targetPort: number): void {
  const front = createSocket('udp4');
  const flows = new Map<string, { sock: Socket; timer: NodeJS.Timeout }>();
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let f = flows.get(key);
    if (!f) {
      const sock = createSocket('udp4');
      sock.on('message', (reply) => front.send(reply, from.port, from.address));
      sock.on('error', () => sock.close());
      f = { sock, timer: setTimeout(() => undefined, 0) };
      flows.set(key, f);
    }
    clearTimeout(f.timer);
    const flow = f;
    flow.timer = setTimeout(() => {
      flow.sock.close();
      flows.delete(key);
    }, 60000);
    flow.sock.send(msg, targetPort, targetIp);
  });
  front.on('error', (e) => {
    process.stderr.write(`listen udp ${hostIp}:${hostPort}: ${(e as NodeJS.ErrnoException).code ?? e.message}\n`);
    process.exit(1);
  });
  front.bind(hostPort, hostIp, () => process.stdout.write(`listening ${front.address().port}\n`));
}
