// `tsbox system service` on a private socket in a test's engine root, and raw HTTP requests to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { CLI } from './bins.js';

export interface ApiServer {
  sock: string;
  proc: ChildProcess;
  /** The number of fds the server holds now. */
  fds(): number;
  raw(method: string, path: string, body?: string | Buffer, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** env: variables the server gets besides this process's. */
export async function startApiServer(root: string, env: NodeJS.ProcessEnv = {}): Promise<ApiServer> {
  const sock = join(root, 'docker.sock');
  const proc = spawn(process.execPath, [CLI, '--root', root, 'system', 'service', '--socket', sock, '--timeout', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(50);
  if (!existsSync(sock)) throw new Error(`system service did not make ${sock}`);
  const raw: ApiServer['raw'] = (method, path, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath: sock, method, path, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    sock,
    proc,
    raw,
    fds: () => readdirSync(`/proc/${proc.pid}/fd`).length,
    async stop() {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
      // A server stuck on its one thread (the regression the filter test is for) does not stay behind.
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await Promise.race([gone, sleep(5000)]);
      }
    },
  };
}

/** A multiplexed (stdcopy) stream's stdout and stderr as they come, through dockerode's demuxStream. */
export function demux(docker: Docker, stream: NodeJS.ReadableStream): { out: string; err: string } {
  const got = { out: '', err: '' };
  docker.modem.demuxStream(stream, new PassThrough().on('data', (d) => (got.out += d)), new PassThrough().on('data', (d) => (got.err += d)));
  return got;
}
