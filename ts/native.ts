// Loads the native addon (where from: locate.ts). The addon embeds tsbox-init (a static binary).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { addonCandidates, explicitAddon, libc, setExplicitAddon } from './locate.js';

export interface SpawnOptions {
  /** The config blob (csrc/common/config.h), built by ts/runtime/blob.ts. */
  config: Buffer;
  /** CLONE_NEW* flags for clone(2) (never CLONE_NEWCGROUP: tsbox-init unshares it later). */
  cloneFlags: number;
  /** fds to become 0, 1 and 2 in the container. */
  stdio: [number, number, number];
  /** Host path of <state>/exec.fifo: opened O_PATH and passed as TSBOX_FD_FIFO. */
  fifoPath?: string;
  /** A connected unix socket fd: passed as TSBOX_FD_CONSOLE (the pty master is sent there). */
  consoleFd?: number;
  /** A file: passed as TSBOX_FD_STATUS; tsbox-init (init mode) writes the process's wait status there. */
  statusFd?: number;
  /** cgroup v1 "tasks" files (at most 32): tsbox-init enters each before go ("P" on the report pipe). */
  cgroupTasks?: string[];
  /** fds passed through as TSBOX_FD_EXTRA.. (config.h): preserved fds first, then bind mount sources. */
  extraFds?: number[];
  /**
   * Clone tsbox-init as the monitor (config.h TSBOX_ARG_MONITOR): it stays in our namespaces and
   * cgroups and clones the container with cloneFlags itself; pid and pidfd are then the container's.
   */
  monitor?: boolean;
  /** A pid namespace (its /proc path) to clone into: entered by the cloning thread around the clone. */
  pidNamespace?: string;
}

export interface Spawned {
  /** Host pid of tsbox-init. */
  pid: number;
  /** pidfd of that process (O_CLOEXEC); owned by the caller. */
  pidfd: number;
  /** Write end of the go pipe: the child waits for one byte (or EOF) before it execs tsbox-init. */
  goFd: number;
  /** Read end of the report pipe (protocol in config.h). */
  reportFd: number;
  /** With `monitor`: the monitor, our child, which is the one to wait for (pid/pidfd are the container's). */
  monitorPid?: number;
  monitorPidfd?: number;
}

export interface ExitStatus {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** Signal number, or null. */
  signal: number | null;
}

/** What watch() reports of an exit. */
export interface WatchedExit extends ExitStatus {
  /** errno of the wait when the child could not be reaped (code and signal are null then). */
  errno?: number;
  /** The raw wait status tsbox-init reported ("X") for its process. */
  report?: number;
}

export interface SeccompRule {
  names: string[];
  /** SCMP_ACT_* value as libseccomp defines it (ERRNO/TRACE take the errno in `errno`). */
  action: number;
  errno?: number;
  args?: { index: number; value: bigint; valueTwo: bigint; op: number }[];
}

export interface SeccompFilter {
  defaultAction: number;
  defaultErrno?: number;
  /** libseccomp arch names: "x86_64", "x86", "x32", "aarch64", ... (native is always added). */
  architectures: string[];
  rules: SeccompRule[];
  /** SECCOMP_FILTER_FLAG_* to pass along (not applied by the compiler). */
  flags?: number;
}

export interface Native {
  /** Clones tsbox-init; with cgroupTasks, returns once it is in those cgroups (or throws its report). */
  spawn(opts: SpawnOptions): Spawned;
  /** spawn() with the clone on the addon's spawner thread; opts are read (and fds duplicated) at once. */
  spawnAsync(opts: SpawnOptions, cb: (err: Error | null, spawned?: Spawned) => void): void;
  /**
   * Calls cb once the child behind pidfd exits (waitid P_PIDFD on the waiter thread). The child is reaped.
   * With reportFd (then the addon's to read and close) the same thread reads tsbox-init's reports:
   * onReport gets each line but "X", then null at EOF, all before cb, whose status then carries the
   * "X" wait status as `report` when init sent one. killAtTeardown: SIGKILL the child should this JS
   * environment end while it runs (a worker thread terminated, which runs no 'exit' listener).
   */
  watch(pidfd: number, cb: (status: WatchedExit) => void, reportFd?: number, onReport?: (line: string | null) => void, killAtTeardown?: boolean): void;
  /** pidfd_open(2); -1 with errno text thrown as Error when the process is gone. */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(2). Throws on error (ESRCH when gone). */
  pidfdSignal(pidfd: number, signal: number): void;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags: number): void;
  /** open_tree(OPEN_TREE_CLONE [| AT_RECURSIVE]): a detached copy of the mount at path, as an fd (O_CLOEXEC). */
  openTree(path: string, recursive: boolean): number;
  /** flock(2), blocking unless LOCK_NB is in op; returns false when LOCK_NB and busy. */
  flock(fd: number, op: number): boolean;
  /** Compile a seccomp filter to BPF (struct sock_filter[]) with libseccomp. */
  seccompCompile(filter: SeccompFilter): Buffer;
  /** What seccompCompile's output depends on besides the filter: libseccomp's version, the addon's revision of it, the kernel's API level. Absent from an older addon. */
  seccompVersion?(): string;
  /** Connect a SOCK_STREAM unix socket to path; returns the fd (O_CLOEXEC). */
  unixConnect(path: string): number;
  /** socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC). */
  socketpair(): [number, number];
  /** Receive one fd sent by SCM_RIGHTS (blocking). */
  recvFd(sock: number): number;
  /** Send fd over sock with SCM_RIGHTS, with a one-byte payload. */
  sendFd(sock: number, fd: number): void;
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /** close(2), for fds the addon made (fs.closeSync on those warns in a worker thread). */
  close(fd: number): void;
  /** mkfifo(3). */
  mkfifo(path: string, mode: number): void;
  /** mknod(2): mode carries the file type (S_IFCHR...) and permissions. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** lsetxattr(2) (does not follow a final symlink). */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** chattr +T on a directory (ext2/3/4): directories made in it are spread as the root's are. */
  markTopDir(path: string): void;
  /** TIOCSWINSZ on a pty fd. */
  setWinsize(fd: number, rows: number, cols: number): void;
  /** The sealed memfd holding tsbox-init, for diagnostics (its /proc path). */
  initFd(): number;
  /**
   * cgroup v2 device rules: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) that allows everything but the
   * rules (defaultAllow) or nothing but them, attached to the cgroup directory (BPF_F_ALLOW_MULTI) in
   * place of the programs attached there before. major/minor -1: any; access: letters of "rwm".
   */
  deviceFilter(cgroupDir: string, defaultAllow: boolean, rules: { type: 'c' | 'b'; major: number; minor: number; access: string }[]): void;
  /** openat2(2) (O_CLOEXEC added; retried on the EAGAIN a racing rename gives RESOLVE_IN_ROOT); dirfd -100 is AT_FDCWD. */
  openat2(dirfd: number, path: string, flags: number, resolve: number, mode?: number): number;
  /**
   * Copies the entry srcFd holds (an O_PATH fd; a symlink itself when opened O_NOFOLLOW) to dstName in
   * dstDirFd ("." merges a directory into dstDirFd itself): trees recursively, every entry opened
   * O_NOFOLLOW relative to its parent's fd, symlinks copied as symlinks, modes and times kept.
   * flags: 1 keep owners (cp -a), 2 drop setuid/setgid of files. Returns how many device nodes and
   * sockets were left out (never opened, never recreated).
   */
  copyAt(srcFd: number, dstDirFd: number, dstName: string, flags: number): number;
  /**
   * Binds and listens a SOCK_SEQPACKET unix socket at path (mode 0600); returns the listening fd. A thread
   * of the addon accepts and reads every connection: onMessage gets each message with the fds it carried
   * (O_CLOEXEC), in order; data null: that connection closed (the addon closes conn after the call).
   * Keeps the event loop alive until msgClose and the last accepted connection's end. Connections stay the
   * addon's: send on them, never close them (the peer closes).
   */
  msgListen(path: string, onMessage: (conn: number, data: Buffer | null, fds: number[]) => void): number;
  /** One sendmsg(MSG_NOSIGNAL) of data with fds (SCM_RIGHTS) on a connection; throws with errno. */
  msgSend(conn: number, data: Buffer, fds: number[]): void;
  /** Stops accepting on a msgListen socket (the addon closes it); accepted connections are still served. */
  msgClose(listenFd: number): void;
  /** SO_PEERCRED of a connected unix socket. */
  peerCred(conn: number): { pid: number; uid: number; gid: number };
  /** A SOCK_SEQPACKET connection to path (O_CLOEXEC): for tests that play a client. */
  msgConnect(path: string): number;
  /** One blocking recvmsg on a msgConnect fd; data null when the peer closed: for tests. */
  msgRecv(conn: number): { data: Buffer | null; fds: number[] };
}

let cached: Native | undefined;
let loadedFrom: string | undefined;
let override: (() => Native | undefined) | undefined;

/**
 * The runtime server's hook (ts/runtime/cli/server.ts): while a served call runs, native() is the addon
 * with that call's clones going to its client (ts/runtime/remote-native.ts). Unset everywhere else.
 */
export function setNativeOverride(fn: (() => Native | undefined) | undefined): void {
  override = fn;
}

/** dlopen through process.dlopen, which bundlers leave alone (a require() of a .node they rewrite or trip on). */
function load(path: string): Native {
  const m = { exports: {} as Native };
  process.dlopen(m, path);
  return m.exports;
}

const why = (e: unknown): string => ((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : String((e as Error).message ?? e).split('\n')[0]);
const fix = 'set TSBOX_ADDON to a tsbox.node, or build one with "npm rebuild tsbox" (needs a C compiler)';

/**
 * The native addon, loaded at first use: an explicit path (setAddonPath(), TSBOX_ADDON) alone when given,
 * else the first of locate.ts's candidates that loads. Looked up here rather than through node-gyp-build,
 * which costs every CLI start ~4 ms more.
 */
export function native(): Native {
  if (override) {
    const n = override();
    if (n) return n;
  }
  if (cached) return cached;
  const explicit = explicitAddon();
  if (explicit) {
    const path = resolve(explicit.path);
    try {
      if (!existsSync(path)) throw Object.assign(new Error(path), { code: 'ENOENT' });
      cached = load(path);
    } catch (e) {
      throw new Error(`tsbox: cannot load the native addon ${explicit.from}=${path}: ${why(e)}; ${fix}`);
    }
    loadedFrom = path;
    return cached;
  }
  const tried: string[] = [];
  for (const path of addonCandidates()) {
    if (!existsSync(path)) {
      tried.push(path);
      continue;
    }
    try {
      cached = load(path);
      loadedFrom = path;
      return cached;
    } catch (e) {
      tried.push(`${path} (${why(e)})`);
    }
  }
  const where = tried.length ? `tried ${tried.join(', ')}` : 'no tsbox package found beside this code or the working directory';
  throw new Error(`tsbox: no native addon for ${process.platform}-${process.arch} (${libc()}): ${where}; ${fix}`);
}

/**
 * Loads the addon from path at first use instead of searching for it (an Electron app's
 * resources/app.asar.unpacked/..., a copy shipped elsewhere). Call before anything else of tsbox.
 */
export function setAddonPath(path: string): void {
  const abs = resolve(path);
  if (loadedFrom !== undefined && loadedFrom !== abs) throw new Error(`tsbox: setAddonPath(${abs}) after the addon was loaded from ${loadedFrom}; call it before first use`);
  setExplicitAddon(abs);
}
