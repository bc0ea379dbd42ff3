/* The clone of tsbox-init (spawn_core.h), for the addon and the tsbox-runtime client alike.
 *
 * Everything the child needs is prepared before clone(): the config blob in a sealed memfd, the go and
 * report pipes, the fifo fd, argv/envp. Node is multi-threaded and the child is a copy of one thread
 * (another may have held the malloc lock), so between clone and execveat the child makes only
 * async-signal-safe system calls.
 *
 * The clone is a vfork (CLONE_VM|CLONE_VFORK, as posix_spawn does): copying Node's page tables and
 * tearing them down again at exec cost more than everything else in a container start. The child
 * therefore only moves fds and execs; tsbox-init itself waits for "go" (TSBOX_FD_GO) before it does
 * anything, while the parent writes the id maps and places it in its cgroups.
 *
 * cgroup v1: the parent opens each hierarchy's "tasks" file and the child hands them to tsbox-init as
 * the fds from TSBOX_FD_FIRST_FREE up; tsbox-init writes "0" to each, entering its cgroups itself (see
 * config.h). Not here before exec: until then the child shares Node's memory, and an OOM kill in the
 * container's memory cgroup would take every process sharing it. */
#define _GNU_SOURCE
#include "spawn_core.h"
#include "exec_prep.h"
#include "config.h"
#include "../init/errname.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <stdio.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define STACK_SIZE (256 * 1024)
#define NFDS TSBOX_FD_FIRST_FREE /* 0,1,2 stdio, then the fixed fds of config.h */
#define MAX_TASKS TSBOX_MAX_TASKS /* cgroup v1 hierarchies */
#define MAX_EXTRA TSBOX_MAX_EXTRA
#define HIGH_FD (TSBOX_FD_EXTRA + MAX_EXTRA) /* sources are moved above every target first */
_Static_assert(TSBOX_FD_FIRST_FREE == TSBOX_FD_GO + 1, "addon_spawn must place every fixed fd of config.h");

struct child_args {
  int src[NFDS]; /* what becomes fd i in the child; -1: fd i ends up closed */
  int init_fd;
  int new_userns;
  int n_tasks;
  const int *tasks_fds; /* cgroup v1 "tasks" files: fds TSBOX_FD_FIRST_FREE.. in tsbox-init */
  int n_extra;
  const int *extra_fds; /* passed through: fds TSBOX_FD_EXTRA.. in tsbox-init */
  char *const *argv;
  int netns_fd; /* a network namespace made ahead (spawn_take_netns) to join instead of a new one; -1: none */
};

int (*spawn_take_netns)(void);

static char *const child_argv[] = {"tsbox-init", NULL};
static char *const child_argv_userns[] = {"tsbox-init", TSBOX_ARG_NEW_USERNS, NULL};
static char *const child_envp[] = {NULL};

static void put_str(char **p, char *end, const char *s) {
  while (*s && *p < end) *(*p)++ = *s++;
}

/* A number formatter of our own: snprintf is not async-signal-safe. */
static void put_uint(char **p, char *end, unsigned v) {
  char tmp[12];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) > 0);
  while (n > 0 && *p < end) *(*p)++ = tmp[--n];
}

/* "E <errno> <what>: <ENAME>\n" on the report pipe (protocol in config.h), then exit 127. */
static __attribute__((noreturn)) void child_fail(int fd, int err, const char *what) {
  char buf[256], *p = buf, *end = buf + sizeof buf - 1;
  const char *name = errname(err); /* a table lookup: no locks, no allocation */
  put_str(&p, end, "E ");
  put_uint(&p, end, (unsigned)err);
  put_str(&p, end, " ");
  put_str(&p, end, what);
  put_str(&p, end, ": ");
  put_str(&p, end, name ? name : "EUNKNOWN");
  *p++ = '\n';
  ssize_t ignored = write(fd, buf, (size_t)(p - buf));
  (void)ignored;
  _exit(127);
}



/* In a new user namespace we have every capability until exec, which would drop them for our
 * (not yet mapped) uid: carry them across as ambient ones. tsbox-init then becomes the namespace's
 * root once the maps are written, or keeps them as they are when 0 is not mapped. */
static int keep_caps_ambient(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  d[0].inheritable = d[0].permitted;
  d[1].inheritable = d[1].permitted;
  if (syscall(SYS_capset, &h, d) < 0) return -1;
  for (unsigned c = 0; c < 64; c++) {
    if (!(d[c / 32].permitted & (1u << (c % 32)))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) return -1;
  }
  return 0;
}

/* Runs on its own stack in the parent's memory (CLONE_VM) while the parent waits (CLONE_VFORK): it may
 * write only its stack, and must exec or _exit. */
static int child_main(void *arg) {
  struct child_args *a = arg;
  /* Node's handlers mean nothing here, and SIG_IGN (Node ignores SIGPIPE) would survive exec. */
  reset_signals();
  int report = a->src[TSBOX_FD_REPORT];
  /* First: the fd moves below may take its number. */
  if (a->netns_fd >= 0 && setns(a->netns_fd, CLONE_NEWNET) < 0) child_fail(report, errno, "setns network namespace made ahead");
  if (a->new_userns && keep_caps_ambient() < 0) child_fail(report, errno, "prctl PR_CAP_AMBIENT_RAISE");
  /* Move every source above the targets first, so that no dup2 below clobbers a source still needed
   * (stdio may well be 3 or 4 in the parent). */
  /* Targets: 0..NFDS-1, the tasks files from NFDS, the extra fds from TSBOX_FD_EXTRA. */
  int tmp[NFDS + MAX_TASKS + MAX_EXTRA], target[NFDS + MAX_TASKS + MAX_EXTRA];
  int n = NFDS + a->n_tasks + a->n_extra;
  for (int i = 0; i < n; i++) {
    int src;
    if (i < NFDS) src = a->src[i], target[i] = i;
    else if (i < NFDS + a->n_tasks) src = a->tasks_fds[i - NFDS], target[i] = i;
    else src = a->extra_fds[i - NFDS - a->n_tasks], target[i] = TSBOX_FD_EXTRA + (i - NFDS - a->n_tasks);
    tmp[i] = -1;
    if (src >= 0 && (tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, HIGH_FD)) < 0) child_fail(report, errno, "fcntl F_DUPFD_CLOEXEC");
  }
  int init_fd = fcntl(a->init_fd, F_DUPFD_CLOEXEC, HIGH_FD);
  if (init_fd < 0) child_fail(report, errno, "fcntl F_DUPFD_CLOEXEC memfd:tsbox-init");
  report = tmp[TSBOX_FD_REPORT];
  /* dup2 leaves the targets without O_CLOEXEC: exactly these survive the exec. */
  for (int i = 0; i < n; i++) {
    if (tmp[i] < 0) close(target[i]);
    else if (dup2(tmp[i], target[i]) < 0) child_fail(report, errno, "dup2");
  }
  report = TSBOX_FD_REPORT;
  /* Node's own fds (epoll, sockets, files) must not leak into the container: everything from the first
   * fd that is not a target up, except the extra fds. */
  int first_free = TSBOX_FD_FIRST_FREE + a->n_tasks;
  if (a->n_extra) {
    syscall(SYS_close_range, first_free, TSBOX_FD_EXTRA - 1, CLOSE_RANGE_CLOEXEC);
    first_free = TSBOX_FD_EXTRA + a->n_extra;
  }
  cloexec_from(first_free);
  syscall(SYS_execveat, init_fd, "", a->argv ? a->argv : a->new_userns ? child_argv_userns : child_argv, child_envp, AT_EMPTY_PATH);
  child_fail(report, errno, "execveat tsbox-init");
}

/* The blob in a sealed memfd: tsbox-init reads it after we return, and nothing may change it meanwhile. */
static int seal_config(const void *data, size_t len, const char **what) {
  *what = "memfd_create tsbox-config";
  int fd = memfd_create("tsbox-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  const char *p = data;
  *what = "write memfd:tsbox-config";
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      return -e;
    }
    p += w;
    len -= (size_t)w;
  }
  *what = "fcntl F_ADD_SEALS memfd:tsbox-config";
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

struct spawn_job {
  struct spawn_opts o;
  struct child_args a; /* its src[] and extra fds belong to the job until spawn_job_free */
  int extra_fds[MAX_EXTRA];
  char flags_arg[16];
  char *monitor_argv[4];
  pid_t monitor_pid; /* with o.monitor: the clone (the monitor); pid/pidfd are then the container's */
  int monitor_pidfd;
  int go[2], rep[2];   /* go[1] and rep[0] go to the caller */
  int tasks_fds[MAX_TASKS];
  uint32_t n_open;
  void *stack;
  pid_t pid;
  int pidfd, clone_err;
  int place_err;     /* tsbox-init could not enter its cgroups: its "E" report, or EOF (ESRCH) */
  char place_msg[512];
  int open_err;      /* opening what the child needs failed: errno, and the call with its path */
  char open_what[PATH_MAX + 64];
};

void spawn_opts_free(struct spawn_opts *o) {
  free(o->config);
  free(o->fifo_path);
  free(o->pidns);
  for (uint32_t i = 0; o->tasks && i < o->n_tasks; i++) free(o->tasks[i]);
  free(o->tasks);
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* One clone stack kept per cloning thread for its next clone: the child of a vfork is done with it when
 * clone returns, and a fresh mapping per container cost an mmap, its first page faults and a munmap
 * (a TLB shootdown on every CPU running one of Node's threads). */
static __thread void *spare_stack;

/* What only the child needed: once it has exec'd (or exited) its fds are its own copies and its
 * stack is free again. Done on the cloning thread, off Node's main thread. */
static void release_child_side(struct spawn_job *j) {
  if (j->stack != MAP_FAILED && j->stack) {
    if (!spare_stack) spare_stack = j->stack;
    else munmap(j->stack, STACK_SIZE);
  }
  j->stack = MAP_FAILED;
  for (int i = 0; i < NFDS; i++) close_fd(&j->a.src[i]);
  for (int i = 0; i < j->a.n_extra; i++) close_fd(&j->extra_fds[i]);
  j->a.n_extra = 0;
  for (uint32_t i = 0; i < j->n_open; i++) close(j->tasks_fds[i]);
  j->n_open = 0;
}

static void kill_reap(int pidfd) {
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
  siginfo_t si;
  while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR) {}
}

void spawn_job_free(struct spawn_job *j) {
  if (!j) return;
  if (j->monitor_pidfd >= 0) {
    /* Never handed over: the container's process dies first (it is not ours to reap), then the monitor. */
    if (j->pidfd >= 0) {
      syscall(SYS_pidfd_send_signal, j->pidfd, SIGKILL, NULL, 0);
      close(j->pidfd);
      j->pidfd = -1;
    }
    kill_reap(j->monitor_pidfd);
    close(j->monitor_pidfd);
  }
  if (j->pidfd >= 0) {
    /* Never handed over (placement failed): tsbox-init is dying or waits for go; reap it here. */
    syscall(SYS_pidfd_send_signal, j->pidfd, SIGKILL, NULL, 0);
    siginfo_t si;
    while (waitid(P_PIDFD, (id_t)j->pidfd, &si, WEXITED) < 0 && errno == EINTR) {}
    close(j->pidfd);
  }
  release_child_side(j);
  close_fd(&j->go[1]);
  close_fd(&j->rep[0]);
  spawn_opts_free(&j->o);
  free(j);
}

/* errno and "<what>: ENAME", as the addon's errors.c words them. */
static void set_error(struct spawn_error *e, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(struct spawn_error *e, int err, const char *fmt, ...) {
  char what[sizeof e->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *name = errname(err);
  e->err = err;
  snprintf(e->msg, sizeof e->msg, "%.*s: %s", (int)(sizeof e->msg - 32), what, name ? name : "EUNKNOWN");
}

/* The caller's fd, duplicated: an asynchronous spawn must not depend on fds the caller may close. */
static bool dup_src(struct spawn_job *j, int slot, int fd, const char *name, struct spawn_error *e) {
  if (fd < 0) return true;
  if ((j->a.src[slot] = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) return true;
  set_error(e, errno, "fcntl F_DUPFD_CLOEXEC %s fd %d", name, fd);
  return false;
}

struct spawn_job *spawn_job_new(struct spawn_opts *o, struct spawn_error *e) {
  struct spawn_job *j = calloc(1, sizeof *j);
  if (!j) {
    spawn_opts_free(o);
    set_error(e, ENOMEM, "calloc spawn job");
    return NULL;
  }
  j->stack = MAP_FAILED;
  j->pidfd = j->monitor_pidfd = -1;
  j->go[0] = j->go[1] = j->rep[0] = j->rep[1] = -1;
  for (int i = 0; i < NFDS; i++) j->a.src[i] = -1;
  j->o = *o;
  for (uint32_t i = 0; i < j->o.n_extra; i++) {
    if ((j->extra_fds[i] = fcntl(j->o.extra[i], F_DUPFD_CLOEXEC, 0)) < 0) {
      set_error(e, errno, "fcntl F_DUPFD_CLOEXEC extraFds[%u] fd %d", i, j->o.extra[i]);
      goto fail;
    }
    j->a.n_extra = (int)i + 1;
  }
  static const char *const stdio_names[] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; i++)
    if (!dup_src(j, i, j->o.stdio[i], stdio_names[i], e)) goto fail;
  if (!dup_src(j, TSBOX_FD_CONSOLE, j->o.console_fd, "consoleFd", e) || !dup_src(j, TSBOX_FD_STATUS, j->o.status_fd, "statusFd", e)) goto fail;
  return j;
fail:
  spawn_job_free(j);
  return NULL;
}

static bool open_failed(struct spawn_job *j, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool open_failed(struct spawn_job *j, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->open_what, sizeof j->open_what, fmt, ap);
  va_end(ap);
  j->open_err = err;
  return false;
}

/* Everything else the child needs: the config memfd, pipes, fifo, cgroup "tasks" files, stack. On the
 * cloning thread (the spawner's, for spawnAsync): ten cgroup files opened cost more than the clone's
 * own preparation on Node's main thread. A failure is reported by spawn_job_result. */
static bool open_child_side(struct spawn_job *j) {
  const char *what;
  int init_fd = init_memfd();
  if (init_fd < 0) return open_failed(j, -init_fd, "%s", init_memfd_failure());
  int cfg = seal_config(j->o.config, j->o.config_len, &what);
  if (cfg < 0) return open_failed(j, -cfg, "%s", what);
  j->a.src[TSBOX_FD_CONFIG] = cfg;
  if (pipe2(j->go, O_CLOEXEC) < 0 || pipe2(j->rep, O_CLOEXEC) < 0) return open_failed(j, errno, "pipe2");
  j->a.src[TSBOX_FD_GO] = j->go[0];
  j->a.src[TSBOX_FD_REPORT] = j->rep[1];
  j->go[0] = j->rep[1] = -1; /* now in src[] */
  if (j->o.fifo_path && (j->a.src[TSBOX_FD_FIFO] = open(j->o.fifo_path, O_PATH | O_CLOEXEC)) < 0) return open_failed(j, errno, "open %s", j->o.fifo_path);
  while (j->n_open < j->o.n_tasks) {
    const char *path = j->o.tasks[j->n_open];
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return open_failed(j, errno, "open %s", path);
    j->tasks_fds[j->n_open++] = fd;
    /* Any other file would take the "0" silently and leave the container unplaced. */
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0 || fs.f_type != CGROUP_SUPER_MAGIC) return open_failed(j, EINVAL, "fstatfs %s: not on a cgroup v1 filesystem", path);
  }
  if (spare_stack) {
    j->stack = spare_stack;
    spare_stack = NULL;
  } else {
    j->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (j->stack == MAP_FAILED) return open_failed(j, errno, "mmap clone stack");
  }
  j->a.init_fd = init_fd;
  j->a.new_userns = !j->o.monitor && (j->o.flags & CLONE_NEWUSER) != 0;
  j->a.n_tasks = (int)j->n_open;
  j->a.tasks_fds = j->tasks_fds;
  j->a.extra_fds = j->extra_fds;
  if (j->o.monitor) {
    snprintf(j->flags_arg, sizeof j->flags_arg, "%u", (unsigned)j->o.flags);
    j->monitor_argv[0] = "tsbox-init";
    j->monitor_argv[1] = TSBOX_ARG_MONITOR;
    j->monitor_argv[2] = j->flags_arg;
    j->monitor_argv[3] = NULL;
    j->a.argv = j->monitor_argv;
  }
  return true;
}

/* One report line, read byte by byte so that nothing after it is taken from the caller's reader.
 * Returns false at EOF. */
static bool read_line(int fd, char *line, size_t size) {
  size_t n = 0;
  for (;;) {
    char c;
    ssize_t r = read(fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    if (c == '\n') break;
    if (n < size - 1) line[n++] = c;
  }
  line[n] = 0;
  return true;
}

/* An "E <errno> <text>" line (config.h) as the job's failure; anything else is a protocol error. */
static void take_failure(struct spawn_job *j, const char *line, const char *due) {
  int e = 0, off = 0;
  if (sscanf(line, "E %d %n", &e, &off) == 1 && off > 0) {
    j->place_err = e > 0 ? e : EIO;
    snprintf(j->place_msg, sizeof j->place_msg, "%s", line + off);
  } else {
    j->place_err = EPROTO;
    snprintf(j->place_msg, sizeof j->place_msg, "tsbox-init reported \"%s\" where %s was due", line, due);
  }
}

/* The monitor's first report: "C <pid>" of the container's process, which gets a pidfd of its own. */
static void wait_container(struct spawn_job *j) {
  char line[400];
  if (!read_line(j->rep[0], line, sizeof line)) {
    j->place_err = ESRCH;
    snprintf(j->place_msg, sizeof j->place_msg, "the tsbox-init monitor exited before it cloned the container");
    return;
  }
  int pid = 0;
  if (sscanf(line, "C %d", &pid) != 1 || pid <= 0) return take_failure(j, line, "\"C <pid>\"");
  j->monitor_pid = j->pid;
  j->monitor_pidfd = j->pidfd;
  j->pid = pid;
  /* Not our child: pidfd_open is race-free here only because the monitor reaps it, and it waits. */
  if ((j->pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
    j->place_err = errno;
    snprintf(j->place_msg, sizeof j->place_msg, "pidfd_open %d", pid);
  }
}

/* tsbox-init's first report when it was given "tasks" fds: "P", or the "E" line of its failure. */
static void wait_placed(struct spawn_job *j) {
  char line[400];
  if (!read_line(j->rep[0], line, sizeof line)) {
    j->place_err = ESRCH;
    snprintf(j->place_msg, sizeof j->place_msg, "tsbox-init exited before it entered its cgroups");
    return;
  }
  if (strcmp(line, "P") == 0) return;
  take_failure(j, line, "\"P\" (placed)");
}

/* The clone, with all signals blocked across it: no Node handler may run in the child before it resets them. */
static void clone_child(struct spawn_job *j, int flags) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  j->pidfd = -1;
  /* CLONE_PIDFD: the kernel stores the pidfd in the parent_tid slot. */
  j->pid = clone(child_main, (char *)j->stack + STACK_SIZE, flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &j->a, &j->pidfd);
  j->clone_err = j->pid < 0 ? errno : 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

struct pidns_clone {
  struct spawn_job *j;
  int flags, target, err;
};

/* Root of a user namespace that does not own this process's pid namespace (rootless podman runs its
 * runtime so) may enter a container's but never come back: a thread of its own enters, clones and
 * ends, and the setns ends with it. */
static void *clone_in_pidns(void *arg) {
  struct pidns_clone *c = arg;
  if (setns(c->target, CLONE_NEWPID) < 0) c->err = errno;
  else clone_child(c->j, c->flags);
  return NULL;
}

/* The clone in the pid namespace at j->o.pidns: setns(CLONE_NEWPID) changes where a thread's children
 * go, so the clone lands there from its first instruction and the pid it gets is the one clients see.
 * This thread goes there and back when it may come back (setns to its own, checked first), a thread of
 * its own otherwise. 0, or the errno of the setns. */
static int clone_in(struct spawn_job *j, int flags) {
  struct pidns_clone c = {.j = j, .flags = flags, .target = open(j->o.pidns, O_RDONLY | O_CLOEXEC)};
  if (c.target < 0) return errno;
  int back = open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (back >= 0 && setns(back, CLONE_NEWPID) == 0) {
    if (setns(c.target, CLONE_NEWPID) < 0) c.err = errno;
    else clone_child(j, flags);
    /* Failing after the check above, this thread would clone every later container into the wrong
     * namespace: nothing else is safe. */
    if (setns(back, CLONE_NEWPID) < 0) abort();
  } else {
    pthread_t t;
    int e = pthread_create(&t, NULL, clone_in_pidns, &c);
    if (e) c.err = e;
    else pthread_join(t, NULL);
  }
  if (back >= 0) close(back);
  close(c.target);
  return c.err;
}

void spawn_job_clone(struct spawn_job *j) {
  if (!open_child_side(j)) {
    release_child_side(j);
    return;
  }
  /* The monitor stays in our namespaces: it clones the container with the flags itself. */
  int flags = j->o.monitor ? 0 : j->o.flags;
  /* A new network namespace made ahead (the addon's netns_pool.c), where the clone would make it with our credentials. */
  j->a.netns_fd = spawn_take_netns && (flags & (CLONE_NEWNET | CLONE_NEWUSER)) == CLONE_NEWNET ? spawn_take_netns() : -1;
  if (j->a.netns_fd >= 0) flags &= ~CLONE_NEWNET;
  int e = 0;
  if (j->o.pidns) e = clone_in(j, flags);
  else clone_child(j, flags);
  /* The child has joined it (or failed and said so), and nobody else ever will. */
  if (j->a.netns_fd >= 0) close(j->a.netns_fd);
  j->a.netns_fd = -1;
  if (e) {
    open_failed(j, e, "setns %s", j->o.pidns);
    release_child_side(j);
    return;
  }
  bool placing = j->n_open > 0;
  release_child_side(j);
  if (j->pid > 0 && j->o.monitor) wait_container(j);
  if (j->pid > 0 && placing && !j->place_err) wait_placed(j);
}

bool spawn_job_take(struct spawn_job *j, struct spawn_result *r, struct spawn_error *e) {
  if (j->open_err) return set_error(e, j->open_err, "%s", j->open_what), false;
  if (j->pid <= 0) return set_error(e, j->clone_err, "clone flags %#x", (unsigned)j->o.flags), false;
  if (j->place_err) {
    e->err = j->place_err;
    snprintf(e->msg, sizeof e->msg, "%s", j->place_msg);
    return false;
  }
  r->pid = j->pid;
  r->pidfd = j->pidfd;
  r->monitor_pid = j->monitor_pidfd >= 0 ? j->monitor_pid : 0;
  r->monitor_pidfd = j->monitor_pidfd;
  r->go_fd = j->go[1];
  r->report_fd = j->rep[0];
  j->go[1] = j->rep[0] = j->pidfd = j->monitor_pidfd = -1; /* now the caller's */
  return true;
}
