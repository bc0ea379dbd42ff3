// `tsbox-runtime --serve SOCK`: the runtime server. The `tsbox-runtime` executable (csrc/client/) starts it
// (holding its lock on fd 3) and forwards each call to it, so that a call does not pay Node's start-up;
// the server runs the same runtimeMain for each call with the caller's context, and the caller's client
// does the clones (remote-native.ts). It stays up for TSBOX_RUNTIME_IDLE_MS (3000) after the last call.
import { chmodSync, closeSync, constants as fsc, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { native, setNativeOverride, type Native } from '../../native.js';
import { decode, encode, ProtocolError, RemoteCall } from '../remote-native.js';
import { closeQuietly } from '../report.js';
import { useNonBlockingLocks } from '../state.js';
import { servedContext, writeAll, type CallContext } from './context.js';
import { runtimeMain } from './main.js';

// The client runs node without NODE_EXTRA_CA_CERTS (as bin/tsbox-runtime does); PWD is the shell's (bin/tsbox-runtime
// is a sh script, which exports it) and the call's cwd comes in the request: none of them tells callers apart.
const IGNORED_ENV = new Set(['NODE_EXTRA_CA_CERTS', 'PWD', 'OLDPWD']);

function envList(env: Iterable<string>): string[] {
  return [...env].filter((e) => !IGNORED_ENV.has(e.slice(0, e.indexOf('=') >>> 0))).sort();
}

const NS = (() => {
  try {
    return readdirSync('/proc/self/ns').sort();
  } catch {
    return [];
  }
})();

function namespaces(pid: number | 'self'): string[] {
  return NS.map((n) => readlinkSync(`/proc/${pid}/ns/${n}`));
}

// What a call inherits from its caller beyond uid, environment and namespaces, as the client's key holds
// it: credentials, capabilities, no_new_privs, seccomp, umask, cgroups, limits and the LSM label. A root
// caller with fewer capabilities (or under a seccomp filter) that reaches our socket must not borrow ours.
const STATUS_KEYS = /^(Umask|Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):/;

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function identity(pid: number | 'self'): string[] {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').filter((l) => STATUS_KEYS.test(l));
  return [...status, readFileSync(`/proc/${pid}/cgroup`, 'utf8'), readFileSync(`/proc/${pid}/limits`, 'utf8'), readOr(`/proc/${pid}/attr/current`)];
}

/** A line on a caller's stderr, as a cold call would print it; a caller gone takes it with it. */
function tell(fd: number, message: string): void {
  try {
    writeAll(fd, `tsbox-runtime: ${message}\n`);
  } catch {
    // nowhere to say it
  }
}

interface Session {
  call?: RemoteCall;
  /** The caller's stdin, stdout and stderr: ours to close when the call has ended. */
  stdio: number[];
  running: boolean;
  closed: boolean;
}

interface Request {
  cwd: string;
  argv: string[];
  env: string[];
}

function parseRequest(fields: Buffer[]): Request {
  const s = fields.map((f) => f.toString());
  if (s[0] !== '1') throw new ProtocolError(`protocol version ${JSON.stringify(s[0])}, want 1`);
  const cwd = s[1] ?? '';
  const argc = Number(s[2]);
  if (!Number.isInteger(argc) || argc < 0 || 3 + argc >= s.length) throw new ProtocolError('bad argc');
  const argv = s.slice(3, 3 + argc);
  const envc = Number(s[3 + argc]);
  if (!Number.isInteger(envc) || envc < 0 || 4 + argc + envc !== s.length) throw new ProtocolError('bad envc');
  if (!cwd.startsWith('/')) throw new ProtocolError('cwd is not absolute');
  return { cwd, argv, env: s.slice(4 + argc) };
}

const lockPath = (sock: string) => sock.replace(/\.sock$/, '.lock');

/**
 * flock(LOCK_EX|LOCK_NB) of the lock file open on fd, true only while path still names that file: a server
 * ending removes its lock file while it holds it, and a lock on that unlinked file is nobody's.
 */
function lockCurrent(fd: number, path: string): boolean {
  if (!native().flock(fd, 2 /* LOCK_EX */ | 4 /* LOCK_NB */)) return false;
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/**
 * Takes the server's lock (<key>.lock beside the socket) on a descriptor of its own, closed on exec: the
 * client hands it over on fd 3, which every hook and `ps` this process runs would inherit (and hold after
 * us). The lock is free only for the instant between the two; false: another server has it now.
 */
function takeLock(sock: string): boolean {
  const path = lockPath(sock);
  const fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT, 0o600);
  try {
    if (fstatSync(3).ino === fstatSync(fd).ino && fstatSync(3).dev === fstatSync(fd).dev) closeSync(3);
  } catch {
    // no fd 3: started by hand
  }
  return lockCurrent(fd, path);
}

/** Serves calls on sock until idle (or SIGTERM); resolves when it has stopped accepting and every call has ended. */
export function serve(sock: string): Promise<void> {
  if (!takeLock(sock)) return Promise.resolve();
  const idleMs = Number(process.env.TSBOX_RUNTIME_IDLE_MS ?? 3000);
  const ourEnv = envList(Object.entries(process.env).map(([k, v]) => `${k}=${v}`));
  const ourNs = namespaces('self');
  const ourIdentity = identity('self');
  const euid = process.geteuid?.() ?? 0;
  const addon = native();
  // The server's own cwd pins nothing (a caller's directory may be unmounted): calls use their own.
  process.chdir('/');
  useNonBlockingLocks(true);
  setNativeOverride(() => servedContext()?.spawner as Native | undefined);

  const sessions = new Map<number, Session>();
  let stopping = false;
  let idle: NodeJS.Timeout | undefined;
  let listenFd = -1;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));

  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (idle) clearTimeout(idle);
    // Unlinked first: a client from now on finds no socket and runs its call itself.
    try {
      unlinkSync(sock);
    } catch {
      // gone already
    }
    if (listenFd >= 0) addon.msgClose(listenFd);
    maybeDone();
  };
  const noCallRuns = () => [...sessions.values()].every((s) => !s.running);
  const maybeDone = () => {
    if (!stopping || !noCallRuns()) return;
    // Removed while still held, so that a directory does not keep a lock file for every environment ever
    // served: a client that opened this one before and locks it after us sees it unlinked and starts none.
    try {
      unlinkSync(lockPath(sock));
    } catch {
      // gone already
    }
    done();
  };
  const armIdle = () => {
    if (idle) clearTimeout(idle);
    if (!stopping && noCallRuns()) idle = setTimeout(stop, idleMs);
  };

  const send = (conn: number, s: Session, data: Buffer, fds: number[]) => {
    // The addon closes a connection once it reported its end: its number may be another's by then.
    if (s.closed) throw Object.assign(new Error('send: the caller ended during the call'), { code: 'EPIPE' });
    addon.msgSend(conn, data, fds);
  };
  const dropFds = (fds: number[]) => fds.forEach(closeQuietly);

  /** Why this caller is not one this server may serve (said on the server's stderr), or undefined. */
  const refusal = (conn: number, r: Request): string | undefined => {
    try {
      const peer = addon.peerCred(conn);
      if (peer.uid !== euid || peer.pid <= 0) return `peer uid ${peer.uid} pid ${peer.pid}`;
      const env = envList(r.env);
      const diff = env.filter((e) => !ourEnv.includes(e)).concat(ourEnv.filter((e) => !env.includes(e)));
      if (env.length !== ourEnv.length || diff.length) return `environment differs in ${diff.map((e) => e.slice(0, e.indexOf('='))).join(', ')}`;
      // Pinned while we read its /proc files: a pid freed and reused meanwhile would be another's.
      const pidfd = addon.pidfdOpen(peer.pid);
      try {
        const no = refuseIdentity(peer.pid);
        addon.pidfdSignal(pidfd, 0);
        return no;
      } finally {
        closeQuietly(pidfd);
      }
    } catch (e) {
      return (e as Error).message;
    }
  };
  const refuseIdentity = (pid: number): string | undefined => {
    const ns = namespaces(pid);
    const other = NS.filter((_, i) => ns[i] !== ourNs[i]);
    if (other.length) return `namespaces differ: ${other.join(', ')}`;
    const id = identity(pid);
    const differs = id.map((l, i) => (l === ourIdentity[i] ? '' : l.split(/[:\n]/)[0] || 'LSM label')).filter(Boolean);
    return differs.length ? `the caller's ${differs.join(', ')} differ from the server's` : undefined;
  };

  const start = (conn: number, s: Session, r: Request) => {
    s.running = true;
    if (idle) clearTimeout(idle);
    const call = (s.call = new RemoteCall(addon, (d, f) => send(conn, s, d, f), dropFds));
    const [stdin, stdout, stderr] = s.stdio;
    const context: CallContext = { cwd: r.cwd, stdin, stdout, stderr, signals: call.signals, spawner: call.native };
    runtimeMain(r.argv, context)
      .catch((e) => {
        tell(stderr, (e as Error).message);
        return 1;
      })
      .then((code) => {
        try {
          if (!s.closed) addon.msgSend(conn, encode('Z', [String(code)]), []);
        } catch {
          // the client is gone
        }
        dropFds(s.stdio);
        s.stdio = [];
        s.running = false;
        if (s.closed) sessions.delete(conn);
        armIdle();
        maybeDone();
      });
  };

  const onMessage = (conn: number, data: Buffer | null, fds: number[]) => {
    let s = sessions.get(conn);
    if (data === null) {
      if (!s) return;
      s.closed = true;
      s.call?.onClose();
      if (!s.running) {
        dropFds(s.stdio);
        sessions.delete(conn);
      }
      maybeDone();
      return;
    }
    try {
      const m = decode(data);
      if (!s) {
        s = { stdio: [], running: false, closed: false };
        sessions.set(conn, s);
        if (m.type !== 'R' || fds.length !== 3) throw new ProtocolError(`first message ${JSON.stringify(m.type)} with ${fds.length} fds, want R with 3`);
        s.stdio = fds;
        fds = [];
        const r = parseRequest(m.fields);
        const no = refusal(conn, r);
        if (no !== undefined) {
          process.stderr.write(`tsbox-runtime: runtime server: not serving this caller: ${no}\n`);
          dropFds(s.stdio);
          s.stdio = [];
          addon.msgSend(conn, encode('N', []), []);
          return;
        }
        start(conn, s, r);
        return;
      }
      if (!s.call) throw new ProtocolError(`message ${JSON.stringify(m.type)} after the call was refused`);
      s.call.onMessage(m, fds);
    } catch (e) {
      dropFds(fds);
      if (s && !s.call && !s.closed) {
        // A request not understood: its client runs the call itself.
        try {
          addon.msgSend(conn, encode('N', []), []);
        } catch {
          // gone
        }
      }
      // A client that does not follow the protocol: told on its stderr when it got that far, never fatal here.
      if (s?.stdio[2] !== undefined) tell(s.stdio[2], `runtime server: ${(e as Error).message}`);
    }
  };

  // An error escaping a call (an async callback of the runtime code) ends that call's output, not the server.
  process.on('uncaughtException', (e) => {
    const c = servedContext();
    if (c) tell(c.stderr, e.message);
  });
  process.on('SIGTERM', stop);

  try {
    unlinkSync(sock);
  } catch {
    // no stale socket
  }
  listenFd = addon.msgListen(sock, onMessage);
  chmodSync(sock, 0o600);
  sweepStale(sock);
  armIdle();
  return finished;
}

/**
 * Removes what servers killed with -9 (a cgroup killed under them) left beside ours: a lock file nobody
 * holds, and its socket, which nothing listens on any more. Taken as an ending server removes its own:
 * under the lock, and only while the name is still that file.
 */
function sweepStale(sock: string): void {
  const dir = dirname(sock);
  const ours = basename(lockPath(sock));
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.lock') && n !== ours);
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    let fd: number;
    try {
      fd = openSync(path, fsc.O_RDWR | fsc.O_NOFOLLOW);
    } catch {
      continue;
    }
    try {
      if (!lockCurrent(fd, path)) continue;
      for (const f of [path.replace(/\.lock$/, '.sock'), path]) {
        try {
          unlinkSync(f);
        } catch {
          // no socket: the server died before it listened
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}
