/*
 * The container config blob: what the TypeScript runtime hands to tsbox-init.
 *
 * ts/runtime/blob.ts turns an OCI config.json into this blob; tsbox-init reads it
 * from TSBOX_FD_CONFIG (a sealed memfd). The blob is flat so that the C side needs
 * no JSON parser and no allocation-heavy code.
 *
 * Layout (all integers little-endian, no padding):
 *   header: u32 magic (TSBOX_CONFIG_MAGIC), u32 version (TSBOX_CONFIG_VERSION)
 *   then records until the end of the blob:
 *     u32 tag, u32 len, u8 payload[len]
 *   Strings inside payloads are NUL-terminated; a payload holding several strings
 *   has them back to back ("a\0b\0"). Repeated tags form lists, in order.
 */
#ifndef TSBOX_CONFIG_H
#define TSBOX_CONFIG_H

#include <stdint.h>

#define TSBOX_CONFIG_MAGIC 0x58425354u /* "TSBX" */
#define TSBOX_CONFIG_VERSION 1u

/* File descriptors tsbox-init finds already open when it starts. */
#define TSBOX_FD_CONFIG 3  /* the blob (memfd), read from offset 0 */
#define TSBOX_FD_REPORT 4  /* pipe to the parent: see the report protocol below */
#define TSBOX_FD_FIFO 5    /* optional: O_PATH fd of <state>/exec.fifo (create/start split) */
#define TSBOX_FD_CONSOLE 6 /* optional: connected unix socket; the pty master goes there */
#define TSBOX_FD_STATUS 7  /* optional: a file; init mode writes "<wstatus>\n" there when the process ends,
                              so the status survives a parent that is gone (detached containers) */
#define TSBOX_FD_GO 8      /* pipe from the parent: one byte once it has written the id maps and placed us in
                              our cgroups (EOF: it gave up, exit). Nothing is set up before it. With
                              TSBOX_T_HOOK_SYNC a second byte once the parent's hooks ran ("H" below). */
#define TSBOX_FD_FIRST_FREE 9
/* From TSBOX_FD_FIRST_FREE up to the first closed fd: optional cgroup v1 "tasks" files, opened by the
 * parent (the kernel checks the opener's credentials). Before go, tsbox-init writes "0" to each, closes
 * it and reports "P": a thread that moves itself takes no write lock on the kernel's global
 * cgroup_threadgroup_rwsem, which moving a process by pid does (an RCU grace period, 5-17 ms). */
#define TSBOX_MAX_TASKS 32
/* From here on: fds the parent passes through (TSBOX_T_PRESERVE_FDS first, then bind mount sources the
 * parent opened O_PATH, which the blob names as /proc/self/fd/N). */
#define TSBOX_FD_EXTRA (TSBOX_FD_FIRST_FREE + TSBOX_MAX_TASKS)
#define TSBOX_MAX_EXTRA 64

/* argv[1] of tsbox-init as the monitor of a detached container (argv[2]: the clone flags, decimal). It
 * stays in the caller's namespaces and cgroups, clones the container's first process into new ones, and
 * reports "C <pid>" first; it keeps the exit status, the json-file log and exits with the process. */
#define TSBOX_ARG_MONITOR "monitor"

/* argv[1] of tsbox-init when it was cloned into a new user namespace: after "go" it becomes that
 * namespace's root (or, with 0 unmapped, keeps the capabilities it was given as ambient ones). */
#define TSBOX_ARG_NEW_USERNS "userns"

/*
 * Report protocol on TSBOX_FD_REPORT, one line per message:
 *   "P\n"                 placed: in the cgroups of the "tasks" fds (sent only when there were any).
 *   "E <errno> <text>\n"  fatal: setup or exec failed; text names the syscall and path,
 *                         e.g. "mount proc on /x/rootfs/proc: EPERM". init then exits
 *                         126 (not executable), 127 (not found) or 1 (setup).
 *   "R\n"                 created: setup done, waiting on the exec fifo for start.
 *   "S\n"                 the user process has been exec'd (init mode only; in exec mode
 *                         the parent sees EOF instead, the fd being O_CLOEXEC by then).
 *   "X <wstatus>\n"       init mode: the user process ended with this raw wait status.
 *   "C <pid>\n"           monitor: the container's first process (its host pid); sent before anything else.
 *   "H\n"                 with TSBOX_T_HOOK_SYNC: the container's mounts are made (pivot_root not yet); the
 *                         parent runs the createRuntime and prestart hooks, then sends the second go byte.
 * Writes ignore EPIPE: the parent (a CLI that exited after create) may be gone.
 */

enum tsbox_tag {
  /* --- root filesystem (all paths are host paths before pivot, container paths after) --- */
  TSBOX_T_ROOTFS = 1,          /* str: absolute host path of the rootfs */
  TSBOX_T_ROOT_READONLY = 2,   /* empty: remount / read-only at the end */
  TSBOX_T_NO_PIVOT = 3,        /* empty: chroot instead of pivot_root (runc --no-pivot) */
  TSBOX_T_ROOT_PROPAGATION = 4,/* u32: MS_* propagation flags for / (default MS_REC|MS_SLAVE) */
  TSBOX_T_MOUNT = 5,           /* u32 flags (MS_*), u32 propagation (MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE [|MS_REC]),
                                  u32 tsbox_mount_flags, then str source, str destination (container path),
                                  str fstype, str data [, u32 attr_set, u32 attr_clr with TSBOX_MNT_RATTR] */
  TSBOX_T_DEVICE = 6,          /* u32 type ('c','b','p'), u32 major, u32 minor, u32 mode (permission bits),
                                  u32 uid, u32 gid, str path (container path, e.g. /dev/null) */
  TSBOX_T_SYMLINK = 7,         /* str target, str linkpath (container path), e.g. "/proc/self/fd" "/dev/fd" */
  TSBOX_T_MASKED_PATH = 8,     /* str container path: /dev/null over files, empty ro tmpfs over dirs */
  TSBOX_T_READONLY_PATH = 9,   /* str container path: bind onto itself, remount read-only */
  TSBOX_T_MKDIR = 10,
  TSBOX_T_CHROOT = 11,         /* str host path: no mount namespace of its own, so chroot there instead (runc) */          /* u32 mode, str container path: created if missing (e.g. /dev/pts) */

  /* --- namespaces (clone flags are given to the addon; these are the extras) --- */
  TSBOX_T_SETNS = 20,          /* u32 CLONE_NEW* type, str host path: joined first, in blob order */
  TSBOX_T_UNSHARE_CGROUP = 21, /* empty: unshare(CLONE_NEWCGROUP) once the parent has placed us in the cgroups */
  TSBOX_T_UNSHARE = 22,        /* u32 CLONE_NEW* flags: unshared right after the joins, so that a user namespace joined by path owns them */

  /* --- system --- */
  TSBOX_T_HOSTNAME = 30,       /* str */
  TSBOX_T_DOMAINNAME = 31,     /* str */
  TSBOX_T_SYSCTL = 32,         /* str key (dotted, e.g. net.ipv4.ip_forward), str value */
  TSBOX_T_OOM_SCORE_ADJ = 33,  /* i32 */

  /* --- process --- */
  TSBOX_T_ARG = 40,            /* str, repeated: argv in order; argv[0] is searched in the container PATH */
  TSBOX_T_ENV = 41,            /* str "K=V", repeated */
  TSBOX_T_CWD = 42,            /* str container path */
  TSBOX_T_UID = 43,            /* u32 */
  TSBOX_T_GID = 44,            /* u32 */
  TSBOX_T_ADDITIONAL_GID = 45, /* u32, repeated */
  TSBOX_T_UMASK = 46,          /* u32 */
  TSBOX_T_RLIMIT = 47,         /* u32 resource (RLIMIT_*), u64 soft, u64 hard */
  TSBOX_T_CAPS = 48,           /* u64 bounding, u64 effective, u64 permitted, u64 inheritable, u64 ambient
                                  (bit N = capability N); absent: capabilities are left alone */
  TSBOX_T_NO_NEW_PRIVS = 49,   /* empty */
  TSBOX_T_SECCOMP = 50,        /* u32 SECCOMP_FILTER_FLAG_*, then struct sock_filter[] (8 bytes each) */
  TSBOX_T_INIT_MODE = 51,      /* u32 enum tsbox_init_mode (default TSBOX_MODE_EXEC) */
  TSBOX_T_CONSOLE_SIZE = 52,   /* u16 rows, u16 cols: with TSBOX_FD_CONSOLE */
  TSBOX_T_SETGROUPS_DENY = 53, /* empty: the parent wrote "deny" to setgroups; skip setgroups() */
  TSBOX_T_LO_UP = 55,          /* empty: bring the loopback interface of the (new) network namespace up */
  TSBOX_T_LOG_JSON = 54,       /* empty, or u64 max size + u32 max files (the monitor rotates); init mode or monitor: the process's stdout/stderr go through init
                                  (the monitor) into its own stdout as docker json-file lines ({"log","stream","time"}) */
  TSBOX_T_PRESERVE_FDS = 56,   /* u32 N: extra fds TSBOX_FD_EXTRA.. become fds 3..3+N-1 of the process (runc --preserve-fds) */
  TSBOX_T_OWNER = 57,          /* u32 fd (one of the extra fds): the read end of a pipe whose write end only the owning
                                  process holds. The container dies with its owner: tsbox-init sets
                                  PR_SET_PDEATHSIG(SIGKILL) and exits if the pipe has hung up already (the owner died
                                  before that); again right before the exec, after every credential change. */
  TSBOX_T_ATTACH = 58,         /* str socket path, u32 flags (1: an open stdin): with TSBOX_T_LOG_JSON, the monitor serves
                                  its output (docker's multiplexed frames) and the stdin on that unix socket */
  TSBOX_T_HOOK = 59,           /* u32 enum tsbox_hook_stage, u32 timeout seconds (0: none), u32 argc, u32 envc, str path,
                                  str args[argc], str env[envc]: an OCI hook tsbox-init runs in the container, in order */
  TSBOX_T_HOOK_STATE = 60,     /* str prefix, str suffix: the hooks' state is prefix "status":"...","pid":N suffix */
  TSBOX_T_HOOK_SYNC = 61,      /* empty: the parent has createRuntime or prestart hooks: "H", then wait for go again */
  TSBOX_T_PERSONALITY = 62,    /* u32 persona for personality(2) (PER_LINUX, PER_LINUX32) */
  TSBOX_T_APPARMOR = 63,       /* str profile: the process execs into it (attr/apparmor/exec); failing that, the start fails */
  TSBOX_T_SELINUX_LABEL = 64,  /* str label: the process execs with it (attr/exec); failing that, the start fails */
};

/* Where tsbox-init runs a TSBOX_T_HOOK (the others run in the parent). */
enum tsbox_hook_stage {
  TSBOX_HOOK_CREATE_CONTAINER = 1, /* after the mounts, before pivot_root; cwd the rootfs (runc's place) */
  TSBOX_HOOK_START_CONTAINER = 2,  /* after start, before seccomp and the exec, with the process's credentials */
};

/* tsbox_mount_flags for TSBOX_T_MOUNT */
enum tsbox_mount_flags {
  TSBOX_MNT_BIND = 1u << 0,    /* bind mount (MS_BIND given), remounted afterwards for ro/nosuid/nodev/noexec */
  TSBOX_MNT_RECURSIVE = 1u << 1, /* rbind */
  TSBOX_MNT_FILE = 1u << 2,    /* the destination is a file (source is not a directory) */
  TSBOX_MNT_CGROUP = 1u << 3,  /* a "cgroup" mount: tsbox-init mounts the container's cgroup view */
  TSBOX_MNT_RATTR = 1u << 4,   /* OCI recursive options (rro, rnosuid...): the record ends with u32 attr_set and
                                  u32 attr_clr (MOUNT_ATTR_*), applied to the mount and every mount below it
                                  with mount_setattr(AT_RECURSIVE) */
  TSBOX_MNT_NOFAIL = 1u << 5,  /* bind ("nofail"): a source gone by now (ENOENT) leaves the mount out */
  TSBOX_MNT_TREE_FD = 1u << 7, /* bind: the source is "/proc/self/fd/N", a detached tree the parent made with
                                  open_tree(OPEN_TREE_CLONE): attached with move_mount (user namespaces) */
};

enum tsbox_init_mode {
  TSBOX_MODE_EXEC = 0,  /* become the user process (no init: it is pid 1) */
  TSBOX_MODE_INIT = 1,  /* fork it, forward signals, reap zombies, report its status, exit with its code */
};

#endif
