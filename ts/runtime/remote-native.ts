// The clones of a call served by the runtime server happen in its client (the `tsbox-runtime` executable,
// csrc/client/), so that the container is the caller's descendant exactly as with runc: containerd's shim
// and podman's conmon are subreapers that wait for it. Here: the addon's spawnAsync and watch for such a
// call, as messages on the client's connection (wire format and messages: notes in docs, "S" -> "P"/"F",
// "W" -> "E"). The library and the cold CLI never come here.
import { EventEmitter } from 'node:events';
import type { Native, SpawnOptions, Spawned, WatchedExit } from '../native.js';
import { signalName } from './signals.js';

/** One message: a type byte, then fields, each a u32 little-endian length and its bytes. */
export function encode(type: string, fields: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(type, 'latin1')];
  for (const f of fields) {
    const b = typeof f === 'string' ? Buffer.from(f) : f;
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

export interface Message {
  type: string;
  fields: Buffer[];
}

export class ProtocolError extends Error {}

export function decode(data: Buffer): Message {
  if (data.length < 1) throw new ProtocolError('empty message');
  const fields: Buffer[] = [];
  let at = 1;
  while (at < data.length) {
    if (at + 4 > data.length) throw new ProtocolError('truncated field length');
    const n = data.readUInt32LE(at);
    at += 4;
    if (at + n > data.length) throw new ProtocolError('truncated field');
    fields.push(data.subarray(at, at + n));
    at += n;
  }
  return { type: String.fromCharCode(data[0]), fields };
}

function int(b: Buffer | undefined, what: string): number {
  const s = b?.toString() ?? '';
  if (!/^-?\d+$/.test(s)) throw new ProtocolError(`${what}: not a number: ${JSON.stringify(s.slice(0, 20))}`);
  return Number(s);
}

const ECONNRESET = 104;

/**
 * The client side of one served call: spawnAsync and watch go to it, everything else is the addon's.
 * `native` is what native() gives while the call runs; `signals` emits the caller's signals ("K") by name.
 */
export class RemoteCall {
  readonly native: Native;
  readonly signals = new EventEmitter();
  private spawns: ((err: Error | null, spawned?: Spawned) => void)[] = [];
  /** pidfds of this call's children ("P") and their pids, which "W" names. */
  private pids = new Map<number, number>();
  private watches = new Map<number, ((st: WatchedExit) => void)[]>();
  private closed = false;

  constructor(
    addon: Native,
    private send: (data: Buffer, fds: number[]) => void,
    /** fds that arrived with a message and are not kept (closed by the owner of the connection). */
    private drop: (fds: number[]) => void,
  ) {
    const self = this;
    this.native = Object.assign(Object.create(addon) as Native, {
      spawn(): Spawned {
        throw new Error('spawn: a served call clones through its client (spawnAsync)');
      },
      spawnAsync(opts: SpawnOptions, cb: (err: Error | null, spawned?: Spawned) => void): void {
        self.spawnAsync(opts, cb);
      },
      watch(pidfd: number, cb: (st: WatchedExit) => void, reportFd?: number): void {
        self.watch(pidfd, cb, reportFd);
      },
    });
  }

  private spawnAsync(o: SpawnOptions, cb: (err: Error | null, spawned?: Spawned) => void): void {
    if (this.closed) {
      queueMicrotask(() => cb(new Error('spawn: the caller ended during the call')));
      return;
    }
    const tasks = o.cgroupTasks ?? [];
    const extra = o.extraFds ?? [];
    const fields = [
      String(o.cloneFlags),
      o.monitor ? '1' : '0',
      o.fifoPath ?? '',
      o.pidNamespace ?? '',
      o.consoleFd !== undefined ? '1' : '0',
      o.statusFd !== undefined ? '1' : '0',
      String(extra.length),
      String(tasks.length),
      ...tasks,
      o.config,
    ];
    const fds = [...o.stdio, ...(o.consoleFd !== undefined ? [o.consoleFd] : []), ...(o.statusFd !== undefined ? [o.statusFd] : []), ...extra];
    // Sent at once: the kernel holds its own references, so the caller may close its fds on return (as with the addon).
    this.send(encode('S', fields), fds);
    this.spawns.push(cb);
  }

  private watch(pidfd: number, cb: (st: WatchedExit) => void, reportFd?: number): void {
    if (reportFd !== undefined) throw new Error('watch: reports of a served call are read by the call itself');
    const pid = this.pids.get(pidfd);
    if (pid === undefined) throw new Error(`watch: pidfd ${pidfd} is not a child of this call's client`);
    if (this.closed) {
      queueMicrotask(() => cb({ code: null, signal: null, errno: ECONNRESET }));
      return;
    }
    const list = this.watches.get(pid);
    if (list) {
      list.push(cb);
      return;
    }
    this.watches.set(pid, [cb]);
    this.send(encode('W', [String(pid)]), []);
  }

  /** A message of the client after its request: "P", "F", "E" or "K". Throws ProtocolError on anything else. */
  onMessage(m: Message, fds: number[]): void {
    switch (m.type) {
      case 'P': {
        const cb = this.spawns.shift();
        const pid = int(m.fields[0], 'P pid');
        const monitorPid = int(m.fields[1], 'P monitorPid');
        if (!cb || fds.length !== (monitorPid ? 4 : 3)) {
          this.drop(fds);
          throw new ProtocolError(cb ? `P: ${fds.length} fds` : 'P without S');
        }
        const spawned: Spawned = { pid, pidfd: fds[0], goFd: fds[1], reportFd: fds[2] };
        this.pids.set(fds[0], pid);
        if (monitorPid) {
          spawned.monitorPid = monitorPid;
          spawned.monitorPidfd = fds[3];
          this.pids.set(fds[3], monitorPid);
        }
        cb(null, spawned);
        return;
      }
      case 'F': {
        this.drop(fds);
        const cb = this.spawns.shift();
        if (!cb) throw new ProtocolError('F without S');
        // The addon's own Error shape (csrc/addon/errors.c): message, code, errno.
        const e = Object.assign(new Error(m.fields[2]?.toString() ?? 'spawn failed'), { code: m.fields[1]?.toString() || 'EUNKNOWN', errno: int(m.fields[0], 'F errno') });
        cb(e);
        return;
      }
      case 'E': {
        this.drop(fds);
        const pid = int(m.fields[0], 'E pid');
        const code = m.fields[1]?.toString() ?? '';
        const signal = m.fields[2]?.toString() ?? '';
        const cbs = this.watches.get(pid);
        if (!cbs) throw new ProtocolError(`E for pid ${pid}, which is not watched`);
        this.watches.delete(pid);
        for (const [fd, p] of this.pids) if (p === pid) this.pids.delete(fd);
        const st: WatchedExit = { code: code === '' ? null : Number(code), signal: signal === '' ? null : Number(signal) };
        for (const cb of cbs) cb(st);
        return;
      }
      case 'K': {
        this.drop(fds);
        const n = int(m.fields[0], 'K signal');
        this.signals.emit(signalName(n));
        return;
      }
      default:
        this.drop(fds);
        throw new ProtocolError(`unexpected message ${JSON.stringify(m.type)}`);
    }
  }

  /** The connection ended: what waits on the client learns it (the call then cleans up as after an exit). */
  onClose(): void {
    this.closed = true;
    for (const cb of this.spawns.splice(0)) cb(new Error('spawn: the caller ended during the call'));
    const watches = [...this.watches.values()];
    this.watches.clear();
    for (const cbs of watches) for (const cb of cbs) cb({ code: null, signal: null, errno: ECONNRESET });
  }
}
