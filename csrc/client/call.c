/* The client's side of a warm call. The server runs the runtime CLI's TypeScript; the client does what
 * must happen in the caller's own process: the clone of tsbox-init (so that the container is the
 * caller's descendant, as with runc, for containerd's shim and podman's conmon, which are subreapers),
 * waiting for its children, and forwarding the signals it gets. One poll loop over the socket, the
 * signalfd and the pidfds of the watched children; no threads. */
#define _GNU_SOURCE
#include "call.h"
#include "fail.h"
#include "wire.h"
#include "../common/spawn_core.h"
#include "../init/errname.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define MAX_CHILDREN 64

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

/* Children the client cloned: each one's pid as the server knows it ('P': the monitor's when there is
 * one), and the pidfd of our own child to wait on. */
struct child {
  pid_t pid;
  int pidfd;
  bool watched;
};

struct call {
  int sock, sigfd;
  bool spawned;     /* a clone happened: the server's end is no longer a reason to go cold */
  bool sent_more;   /* anything after 'R' */
  int nchildren;
  struct child children[MAX_CHILDREN];
  char *buf;
};

static void close_all(const int *fds, int n) {
  for (int i = 0; i < n; i++) close(fds[i]);
}

static __attribute__((noreturn)) void lost(void) {
  say(0, "the runtime server ended during the call");
  exit(1);
}

static void send_or_die(struct call *c, struct wmsg *m, const int *fds, int nfds) {
  int r = wmsg_send(c->sock, m, fds, nfds);
  c->sent_more = true;
  if (r == -EPIPE || r == -ECONNRESET) lost();
  if (r < 0) {
    say(-r, "sendmsg to the runtime server");
    exit(1);
  }
}

static void reply_failed(struct call *c, int err, const char *msg) {
  struct wmsg m;
  const char *name = errname(err);
  wmsg_start(&m, 'F');
  wmsg_num(&m, err);
  wmsg_str(&m, name ? name : "EUNKNOWN");
  wmsg_str(&m, msg);
  send_or_die(c, &m, NULL, 0);
}

/* 'S': fields cloneFlags, monitor, fifoPath, pidNamespace, hasConsole, hasStatus, nExtra, nTasks,
 * tasks..., config; fds stdio0-2, [console], [status], extra... */
static void on_spawn(struct call *c, const struct rmsg *in) {
  struct spawn_opts o;
  memset(&o, 0, sizeof o);
  o.console_fd = o.status_fd = -1;
  long long flags, monitor, has_console, has_status, n_extra, n_tasks;
  char path[4096];
  bool ok = rmsg_num(in, 0, &flags) && rmsg_num(in, 1, &monitor) && rmsg_num(in, 4, &has_console) &&
            rmsg_num(in, 5, &has_status) && rmsg_num(in, 6, &n_extra) && rmsg_num(in, 7, &n_tasks) &&
            n_extra >= 0 && n_extra <= TSBOX_MAX_EXTRA && n_tasks >= 0 && n_tasks <= TSBOX_MAX_TASKS &&
            in->nfields == 9 + n_tasks && in->nfds == 3 + (has_console == 1) + (has_status == 1) + n_extra;
  if (ok) {
    o.flags = (int32_t)flags;
    o.monitor = monitor == 1;
    ok = rmsg_str(in, 2, path, sizeof path) && (!path[0] || (o.fifo_path = strdup(path))) &&
         rmsg_str(in, 3, path, sizeof path) && (!path[0] || (o.pidns = strdup(path)));
  }
  if (ok && n_tasks && !(o.tasks = calloc((size_t)n_tasks + 1, sizeof *o.tasks))) ok = false;
  for (int i = 0; ok && i < n_tasks; i++, o.n_tasks++)
    ok = rmsg_str(in, 8 + i, path, sizeof path) && (o.tasks[i] = strdup(path));
  const int cfg = 8 + (int)n_tasks;
  if (ok) {
    o.config_len = in->flen[cfg];
    ok = (o.config = malloc(o.config_len ? o.config_len : 1)) != NULL;
    if (ok) memcpy(o.config, in->field[cfg], o.config_len);
  }
  if (!ok) {
    spawn_opts_free(&o);
    close_all(in->fds, in->nfds);
    return reply_failed(c, EPROTO, "a malformed spawn request from the runtime server: EPROTO");
  }
  int k = 0;
  for (int i = 0; i < 3; i++) o.stdio[i] = in->fds[k++];
  if (has_console == 1) o.console_fd = in->fds[k++];
  if (has_status == 1) o.status_fd = in->fds[k++];
  o.n_extra = (uint32_t)n_extra;
  for (uint32_t i = 0; i < o.n_extra; i++) o.extra[i] = in->fds[k++];

  struct spawn_error e;
  struct spawn_result r;
  struct spawn_job *j = spawn_job_new(&o, &e);
  /* The job has its own copies (and the child gets its own): the server's fds go now. */
  close_all(in->fds, in->nfds);
  if (!j) return reply_failed(c, e.err, e.msg);
  spawn_job_clone(j);
  c->spawned = true;
  bool took = spawn_job_take(j, &r, &e);
  spawn_job_free(j);
  if (!took) return reply_failed(c, e.err, e.msg);

  struct wmsg m;
  wmsg_start(&m, 'P');
  wmsg_num(&m, r.pid);
  wmsg_num(&m, r.monitor_pid);
  int fds[4] = {r.pidfd, r.go_fd, r.report_fd, r.monitor_pidfd};
  send_or_die(c, &m, fds, r.monitor_pid ? 4 : 3);
  close(r.go_fd);
  close(r.report_fd);
  /* Ours to wait on: the monitor when there is one (the container's process is its child). */
  struct child ch = {r.monitor_pid ? r.monitor_pid : r.pid, r.monitor_pid ? r.monitor_pidfd : r.pidfd, false};
  if (r.monitor_pid) close(r.pidfd);
  if (c->nchildren < MAX_CHILDREN) c->children[c->nchildren++] = ch;
  else close(ch.pidfd); /* never watched: left to the subreaper */
}

static void on_watch(struct call *c, const struct rmsg *in) {
  long long pid;
  close_all(in->fds, in->nfds);
  if (!rmsg_num(in, 0, &pid)) return;
  for (int i = 0; i < c->nchildren; i++)
    if (c->children[i].pid == pid) c->children[i].watched = true;
}

/* A watched child's pidfd is readable: reap it and send 'E' pid, code, signal, raw status. */
static void reap(struct call *c, int i) {
  struct child ch = c->children[i];
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  do r = waitid(P_PIDFD, (id_t)ch.pidfd, &si, WEXITED);
  while (r < 0 && errno == EINTR);
  close(ch.pidfd);
  c->children[i] = c->children[--c->nchildren];
  if (r < 0) {
    say(errno, "waitid pidfd of pid %d", (int)ch.pid);
    exit(1);
  }
  struct wmsg m;
  wmsg_start(&m, 'E');
  wmsg_num(&m, ch.pid);
  int status;
  if (si.si_code == CLD_EXITED) {
    wmsg_num(&m, si.si_status);
    wmsg_str(&m, "");
    status = (si.si_status & 0xff) << 8;
  } else {
    wmsg_str(&m, "");
    wmsg_num(&m, si.si_status);
    status = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
  }
  wmsg_num(&m, status);
  send_or_die(c, &m, NULL, 0);
}

static void forward_signals(struct call *c) {
  struct signalfd_siginfo si;
  while (read(c->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
    struct wmsg m;
    wmsg_start(&m, 'K');
    wmsg_num(&m, si.ssi_signo);
    send_or_die(c, &m, NULL, 0);
  }
}

static bool send_request(struct call *c, int argc, char **argv, char **envp) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) {
    /* A removed cwd: the cold path says what Node says about it. */
    return cold_why(errno, "getcwd");
  }
  int fds[3], opened[3] = {-1, -1, -1};
  for (int i = 0; i < 3; i++) {
    fds[i] = i;
    /* A closed stdio fd travels as /dev/null: a message cannot carry a hole. */
    if (fcntl(i, F_GETFD) < 0 && (fds[i] = opened[i] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
      close_all(opened, i);
      return cold_why(errno, "open /dev/null");
    }
  }
  struct wmsg m;
  wmsg_start(&m, 'R');
  wmsg_str(&m, "1");
  wmsg_str(&m, cwd);
  wmsg_num(&m, argc - 1);
  for (int i = 1; i < argc; i++) wmsg_str(&m, argv[i]);
  int envc = 0;
  for (char **e = envp; *e; e++) envc++;
  wmsg_num(&m, envc);
  for (char **e = envp; *e; e++) wmsg_str(&m, *e);
  int r = wmsg_send(c->sock, &m, fds, 3);
  for (int i = 0; i < 3; i++)
    if (opened[i] >= 0) close(opened[i]);
  return r == 0 || cold_why(-r, "sendmsg request");
}

void call_warm(int sock, int argc, char **argv, char **envp) {
  static struct call c;
  c.sock = sock;
  if (!send_request(&c, argc, argv, envp)) return;
  if (!(c.buf = malloc(WIRE_MAX))) {
    cold_why(ENOMEM, "malloc");
    return;
  }
  /* From here the call is the server's: signals meant for it go there. */
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(&set, forwarded[i]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  c.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (c.sigfd < 0) {
    say(errno, "signalfd");
    exit(1);
  }
  struct pollfd pfd[2 + MAX_CHILDREN];
  int idx[2 + MAX_CHILDREN];
  for (;;) {
    int n = 0;
    pfd[n++] = (struct pollfd){.fd = c.sock, .events = POLLIN};
    pfd[n++] = (struct pollfd){.fd = c.sigfd, .events = POLLIN};
    for (int i = 0; i < c.nchildren; i++)
      if (c.children[i].watched) idx[n] = i, pfd[n++] = (struct pollfd){.fd = c.children[i].pidfd, .events = POLLIN};
    if (poll(pfd, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      say(errno, "poll");
      exit(1);
    }
    if (pfd[1].revents) forward_signals(&c);
    /* Exits before messages: the highest index first, as reap() moves the last child into its slot. */
    for (int k = n - 1; k >= 2; k--)
      if (pfd[k].revents) reap(&c, idx[k]);
    if (!pfd[0].revents) continue;
    struct rmsg in;
    int r = wire_recv(c.sock, c.buf, &in);
    if (r == 0 || r == -ECONNRESET) {
      if (c.spawned || c.sent_more) lost();
      break;
    }
    if (r < 0) {
      say(-r, "recvmsg from the runtime server");
      exit(1);
    }
    switch (in.type) {
    case 'S': on_spawn(&c, &in); break;
    case 'W': on_watch(&c, &in); break;
    case 'Z': {
      long long code = 1;
      rmsg_num(&in, 0, &code);
      exit((int)code);
    }
    case 'N':
      close_all(in.fds, in.nfds);
      if (c.spawned || c.sent_more) lost();
      goto cold;
    default: close_all(in.fds, in.nfds); break;
    }
  }
cold:
  cold_why(0, "the runtime server declined the call");
  /* Back to the caller's signal state for the cold path. */
  close(c.sigfd);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  free(c.buf);
}
