// docker's stream framing: without a TTY, stdout and stderr share one stream, each chunk behind an
// 8-byte header (stream type, 3 zero bytes, big-endian length); with a TTY, the raw bytes. And the
// hijack: an attach or exec start that asked for an upgrade gets 101 and the raw socket both ways.
import type { Duplex, Writable } from 'node:stream';
import type { Ctx } from './router.js';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;

export function frame(stream: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}

export interface Hijacked {
  /** Where output goes (the socket, or the response body). */
  out: Writable;
  /** The client's input (stdin), when it upgraded the connection. */
  input?: Duplex;
  /** Writes one chunk of a stream, framed unless tty. False once the client is gone. */
  write(stream: number, data: Buffer): boolean;
  end(): void;
  /** Resolves when the client goes away (closed its side or the connection). */
  gone: Promise<void>;
}

/** Takes over the connection for a stream of output (and input when upgraded). */
export function hijack(c: Ctx, tty: boolean): Hijacked {
  const type = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  let out: Writable;
  let input: Duplex | undefined;
  if (c.socket) {
    c.socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    if (c.head?.length) c.socket.unshift(c.head);
    out = c.socket;
    input = c.socket;
  } else {
    c.res!.writeHead(200, { 'Content-Type': type });
    c.res!.flushHeaders();
    out = c.res!;
  }
  const conn = c.socket ?? c.req.socket;
  const gone = new Promise<void>((resolve) => {
    conn.once('close', () => resolve());
    conn.once('error', () => resolve());
  });
  return {
    out,
    input,
    write(stream, data) {
      if (out.destroyed || out.writableEnded) return false;
      out.write(tty ? data : frame(stream, data));
      return true;
    },
    end() {
      if (!out.destroyed && !out.writableEnded) out.end();
    },
    gone,
  };
}
