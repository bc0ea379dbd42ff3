/* spawn(): clone a child into new namespaces and exec tsbox-init in it.
 *
 * Everything the child needs is prepared before clone(): the config blob in a sealed memfd, the go and
 * report pipes, the fifo fd, argv/envp. Between clone and execveat the child only makes
 * async-signal-safe system calls: Node is multi-threaded and the child is a copy of one thread. */
#define _GNU_SOURCE
#include "spawn.h"
#include "init_memfd.h"
#include "napi_util.h"
#include "../common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/close_range.h>

#define STACK_SIZE (256 * 1024)
#define NFDS 7 /* 0,1,2 stdio, then TSBOX_FD_CONFIG .. TSBOX_FD_CONSOLE */

struct child_args {
  int src[NFDS]; /* what becomes fd i in the child; -1: fd i is closed */
  int init_fd;
  int go_r;
  int new_userns;
  char *const *argv;
  char *const *envp;
};

static void put_str(char **p, const char *s) {
  while (*s) *(*p)++ = *s++;
}

static void put_uint(char **p, unsigned v) {
  char tmp[12];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) > 0);
  while (n > 0) *(*p)++ = tmp[--n];
}

/* "E <errno> <what>: <ENAME>\n" on the report pipe, built without stdio (not async-signal-safe). */
static void child_fail(int fd, int err, const char *what) {
  char buf[256], *p = buf;
  const char *name = strerrorname_np(err);
  put_str(&p, "E ");
  put_uint(&p, (unsigned)err);
  put_str(&p, " ");
  put_str(&p, what);
  put_str(&p, ": ");
  put_str(&p, name ? name : "EUNKNOWN");
  put_str(&p, "\n");
  ssize_t ignored = write(fd, buf, (size_t)(p - buf));
  (void)ignored;
  _exit(127);
}

static int child_main(void *arg) {
  struct child_args *a = arg;
  /* Node's handlers mean nothing here, and SIG_IGN (Node ignores SIGPIPE) would survive exec. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < _NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  /* One byte means: id maps written, cgroups joined. EOF means the parent gave up: never run unplaced. */
  char c;
  ssize_t n;
  do n = read(a->go_r, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(1);

  int report = a->src[TSBOX_FD_REPORT];
  /* In a new user namespace our host uid is not mapped: become its root (the maps are written now),
   * or exec would drop every capability tsbox-init needs to set the container up. */
  if (a->new_userns) {
    if (setresgid(0, 0, 0) < 0) child_fail(report, errno, "setresgid 0 in the new user namespace");
    if (setresuid(0, 0, 0) < 0) child_fail(report, errno, "setresuid 0 in the new user namespace");
  }
  /* Move every source out of the way first so that no dup2 below clobbers a source still needed. */
  int tmp[NFDS];
  for (int i = 0; i < NFDS; i++) {
    tmp[i] = -1;
    if (a->src[i] >= 0 && (tmp[i] = fcntl(a->src[i], F_DUPFD_CLOEXEC, 64)) < 0) child_fail(report, errno, "fcntl F_DUPFD_CLOEXEC");
  }
  int init_fd = fcntl(a->init_fd, F_DUPFD_CLOEXEC, 64);
  if (init_fd < 0) child_fail(report, errno, "fcntl F_DUPFD_CLOEXEC tsbox-init");
  report = tmp[TSBOX_FD_REPORT];
  for (int i = 0; i < NFDS; i++) {
    if (tmp[i] >= 0) {
      if (dup2(tmp[i], i) < 0) child_fail(report, errno, "dup2");
    } else {
      close(i);
    }
  }
  report = TSBOX_FD_REPORT;
  /* Node's own fds (epoll, sockets, files) must not leak into the container. */
  if (syscall(SYS_close_range, TSBOX_FD_FIRST_FREE, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (int fd = TSBOX_FD_FIRST_FREE; fd < 65536; fd++)
      if (fd != init_fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  syscall(SYS_execveat, init_fd, "", a->argv, a->envp, AT_EMPTY_PATH);
  child_fail(report, errno, "execveat tsbox-init");
  return 127;
}

static int seal_config(const void *data, size_t len) {
  int fd = memfd_create("tsbox-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  const char *p = data;
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
  /* The child maps it: nothing may change it underneath. */
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

static void close_all(int *fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

napi_value addon_spawn(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  napi_value opts = argv[0];
  napi_value v_config = get_prop(env, opts, "config");
  bool is_buf = false;
  if (!v_config || napi_is_buffer(env, v_config, &is_buf) != napi_ok || !is_buf) return throw_type(env, "config must be a Buffer");
  void *cfg;
  size_t cfg_len;
  napi_get_buffer_info(env, v_config, &cfg, &cfg_len);
  int32_t flags;
  napi_value v_flags = get_prop(env, opts, "cloneFlags");
  if (!v_flags || !arg_int(env, v_flags, "cloneFlags", &flags)) return NULL;
  napi_value v_stdio = get_prop(env, opts, "stdio");
  int32_t stdio[3];
  for (uint32_t i = 0; i < 3; i++) {
    napi_value e;
    if (!v_stdio || napi_get_element(env, v_stdio, i, &e) != napi_ok || !arg_int(env, e, "stdio[i]", &stdio[i])) return NULL;
  }
  char *fifo_path = NULL;
  if (!arg_str(env, get_prop(env, opts, "fifoPath"), "fifoPath", true, &fifo_path)) return NULL;
  int32_t console_fd = -1;
  napi_value v_console = get_prop(env, opts, "consoleFd");
  if (v_console && !is_nullish(env, v_console) && !arg_int(env, v_console, "consoleFd", &console_fd)) {
    free(fifo_path);
    return NULL;
  }

  int init_fd = init_memfd();
  if (init_fd < 0) {
    free(fifo_path);
    return throw_errno(env, -init_fd, "memfd_create tsbox-init");
  }
  /* own[]: fds this call opened and closes again: config, go read end, report write end, fifo. */
  int own[4] = {-1, -1, -1, -1};
  int go[2] = {-1, -1}, rep[2] = {-1, -1};
  int cfg_fd = seal_config(cfg, cfg_len);
  if (cfg_fd < 0) {
    free(fifo_path);
    return throw_errno(env, -cfg_fd, "memfd_create tsbox-config");
  }
  own[0] = cfg_fd;
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
    int e = errno;
    close_all(own, 4);
    close_all(go, 2);
    free(fifo_path);
    return throw_errno(env, e, "pipe2");
  }
  own[1] = go[0];
  own[2] = rep[1];
  if (fifo_path) {
    own[3] = open(fifo_path, O_PATH | O_CLOEXEC);
    if (own[3] < 0) {
      int e = errno;
      close_all(own, 4);
      close(go[1]);
      close(rep[0]);
      napi_value r = throw_errno(env, e, "open %s", fifo_path);
      free(fifo_path);
      return r;
    }
  }
  free(fifo_path);

  static char *const child_argv[] = {"tsbox-init", NULL};
  static char *const child_envp[] = {NULL};
  struct child_args a = {
      .src = {stdio[0], stdio[1], stdio[2], cfg_fd, rep[1], own[3], console_fd},
      .init_fd = init_fd,
      .go_r = go[0],
      .new_userns = (flags & CLONE_NEWUSER) != 0,
      .argv = child_argv,
      .envp = child_envp,
  };
  void *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    int e = errno;
    close_all(own, 4);
    close(go[1]);
    close(rep[0]);
    return throw_errno(env, e, "mmap clone stack");
  }
  /* Signals stay blocked across clone so that no Node handler runs in the child before it resets them. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  pid_t pid = clone(child_main, (char *)stack + STACK_SIZE, flags | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
  int clone_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  /* The child has its own copy of the stack (no CLONE_VM). */
  munmap(stack, STACK_SIZE);
  close_all(own, 4);
  if (pid < 0) {
    close(go[1]);
    close(rep[0]);
    return throw_errno(env, clone_err, "clone flags %#x", (unsigned)flags);
  }

  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "pid", make_int(env, pid));
  napi_set_named_property(env, out, "pidfd", make_int(env, pidfd));
  napi_set_named_property(env, out, "goFd", make_int(env, go[1]));
  napi_set_named_property(env, out, "reportFd", make_int(env, rep[0]));
  return out;
}
