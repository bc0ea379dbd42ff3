// docker attach to a detached container: the monitor's attach socket gives its output from now on
// (docker's multiplexed frames) and takes input for its stdin (open when it was started with -i). A
// container whose monitor serves no socket (a root too deep for a socket's path) is followed through its
// json-file log instead, output only.
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { containerLogs, logFile } from './lifecycle.js';
import { attachSocket, EngineError, liveState, mustFind } from './containers.js';
import { containerEvent } from './container-events.js';

export interface AttachChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface Attachment {
  /** The container's output from the moment of attaching; ends when it exits or close() is called. */
  output: AsyncGenerator<AttachChunk>;
  /** Input for the container's stdin or terminal (nothing happens when it has neither, or without a socket). */
  write(data: Buffer): void;
  /** The terminal's size (when it has one held by its monitor). */
  resize(rows: number, columns: number): void;
  /** Whether input reaches the container (a socket, and the container started with -i). */
  readonly stdin: boolean;
  /** Whether it has a terminal (-t): the output is the terminal's, the input goes to it. */
  readonly tty: boolean;
  /** Ends the container's stdin (it reads EOF): docker's StdinOnce, once the client's input ended. */
  closeStdin(): void;
  /** Detaches: the container goes on. */
  close(): void;
}

export interface AttachOptions {
  stdout?: boolean;
  stderr?: boolean;
  /** Also the output from before attaching that its monitor still keeps (the last 32 KiB): for a client that starts the container and attaches right after, as run -t. */
  replay?: boolean;
}

/** Splits docker's multiplexed stream (8-byte header: stream, 0, 0, 0, big-endian length) into chunks. */
async function* frames(sock: Socket, o: AttachOptions): AsyncGenerator<AttachChunk> {
  let buf: Buffer = Buffer.alloc(0);
  const chunks = async function* () {
    try {
      for await (const d of sock) yield d as Buffer;
    } catch {
      // destroyed by close(), or the monitor went: the stream ends either way
    }
  };
  for await (const d of chunks()) {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 8) {
      const n = buf.readUInt32BE(4);
      if (buf.length < 8 + n) break;
      const stream = buf[0] === 2 ? 'stderr' : 'stdout';
      const data = buf.subarray(8, 8 + n);
      buf = buf.subarray(8 + n);
      if ((stream === 'stdout' && o.stdout === false) || (stream === 'stderr' && o.stderr === false)) continue;
      yield { stream, data };
    }
  }
}

export async function attachContainer(root: string, ref: string, o: AttachOptions = {}): Promise<Attachment> {
  const r = mustFind(root, ref);
  if (!liveState(root, r).Running) throw new EngineError('You cannot attach to a stopped container, start it first', 'ERR_NOT_RUNNING');
  logFile(root, ref); // a container without a log (--log-driver none) has nothing to attach to
  const path = attachSocket(root, r.Id);
  let detached = false;
  const detach = () => {
    if (detached) return;
    detached = true;
    containerEvent(root, r, 'detach');
  };
  if (existsSync(path)) {
    const sock = connect(path);
    await new Promise<void>((resolve, reject) =>
      sock.once('connect', resolve).once('error', (e: NodeJS.ErrnoException) =>
        // The monitor removes its socket as the container ends: gone between the check and the connect.
        reject(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' ? new EngineError('You cannot attach to a stopped container, start it first', 'ERR_NOT_RUNNING') : new EngineError(`attach: connect ${path}: ${e.message}`, 'ERR_ENGINE')),
      ),
    );
    sock.on('error', () => undefined);
    containerEvent(root, r, 'attach');
    // Our frames have docker's header too: type 0 input, type 1 a terminal size.
    const send = (type: number, payload: Buffer) => {
      const h = Buffer.alloc(8);
      h[0] = type;
      h.writeUInt32BE(payload.length, 4);
      sock.write(Buffer.concat([h, payload]));
    };
    // From when: the output the monitor kept, or from now on (it sends none before either).
    send(o.replay ? 2 : 3, Buffer.alloc(0));
    return {
      output: frames(sock, o),
      stdin: r.Options.interactive,
      tty: r.Options.tty,
      write: (d) => {
        for (let i = 0; i < d.length; i += 4096) send(0, d.subarray(i, i + 4096));
      },
      resize: (rows, columns) => {
        const p = Buffer.alloc(4);
        p.writeUInt16BE(rows, 0);
        p.writeUInt16BE(columns, 2);
        send(1, p);
      },
      closeStdin: () => send(4, Buffer.alloc(0)),
      close: () => {
        detach();
        sock.destroy();
      },
    };
  }
  const ac = new AbortController();
  containerEvent(root, r, 'attach');
  async function* fromLog(): AsyncGenerator<AttachChunk> {
    for await (const e of containerLogs(root, ref, { follow: true, tail: 0, signal: ac.signal, stdout: o.stdout, stderr: o.stderr })) yield { stream: e.stream, data: Buffer.from(e.text) };
  }
  return {
    output: fromLog(),
    stdin: false,
    tty: false,
    write: () => undefined,
    resize: () => undefined,
    closeStdin: () => undefined,
    close: () => {
      detach();
      ac.abort();
    },
  };
}
