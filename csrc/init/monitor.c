/* The monitor (monitor.h). It is tsbox-init itself (one small static binary), run in the caller's
 * namespaces: the container's first process is its child, so the process is pid 1 of its own namespace
 * while its exit status and log have a keeper that no one in the container can see or signal. */
#define _GNU_SOURCE
#include "monitor.h"
#include "logger.h"
#include "attach.h"
#include "reaper.h"
#include "system.h"
#include "report.h"
#include "../common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int monitored;

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Closes every fd from 3 up but those in keep: the go pipe, fifo, console, cgroup and passed fds are
 * the container's, and a copy held here would keep them open for the container's whole life. */
static void close_all_but(int *keep, int n) {
  qsort(keep, (size_t)n, sizeof *keep, cmp_int);
  unsigned first = 3;
  for (int i = 0; i < n; i++) {
    if (keep[i] < (int)first) continue;
    if (keep[i] > (int)first) syscall(SYS_close_range, first, (unsigned)keep[i] - 1, 0);
    first = (unsigned)keep[i] + 1;
  }
  syscall(SYS_close_range, first, ~0U, 0);
}

void monitor_start(unsigned long flags, struct blob *b) {
  /* Its own session: no terminal of the caller's, and no signal to the caller's process group. */
  setsid();
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  blob_load(b);
  /* A pid namespace given by path is entered before the clone: setns(CLONE_NEWPID) moves only the
   * children, and the child must be in it from its first instruction (its pid is what clients see). */
  system_join(b, CLONE_NEWPID);
  struct blob_rec r;
  struct logger log = {0};
  static struct attach att;
  if (blob_find(b, TSBOX_T_LOG_JSON, &r)) {
    logger_open(&log);
    logger_limits(&log, r.p, r.len);
    /* The attach socket's clients get what the log pipes bring. */
    attach_open(&att, b);
    if (att.active) log.att = &att;
  }
  /* The child reports on the same pipe ("P" once placed, "E" on failure): it waits until "C" is out, so
   * that the parent reads the container's pid first. Closed in both before any fd number means more. */
  int held[2];
  if (pipe2(held, O_CLOEXEC) < 0) die(errno, "pipe2");
  /* A fork into new namespaces: single-threaded and static, so the child may carry on as tsbox-init. */
  pid_t pid = (pid_t)syscall(SYS_clone, (flags & ~0xffUL) | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) die(errno, "clone flags %#lx", flags);
  if (pid == 0) {
    close(held[1]);
    char c;
    while (read(held[0], &c, 1) < 0 && errno == EINTR) {}
    close(held[0]);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (log.active) logger_child(&log);
    if (att.active) attach_child(&att);
    monitored = 1;
    return;
  }
  char line[32];
  snprintf(line, sizeof line, "C %d", pid);
  report_line(line);
  close(held[0]);
  close(held[1]); /* EOF: the child goes on */
  if (att.active) attach_parent(&att);
  int keep[9], n = 0;
  keep[n++] = report_fd();
  if (fcntl(TSBOX_FD_STATUS, F_GETFD) >= 0) keep[n++] = TSBOX_FD_STATUS;
  if (log.active) {
    keep[n++] = log.rd[0];
    keep[n++] = log.rd[1];
    keep[n++] = log.out;
  }
  if (att.active) n += attach_fds(&att, keep + n);
  close_all_but(keep, n);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    if (!log.active) {
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
    }
    close(null);
  }
  if (log.active) logger_parent(&log);
  supervise(pid, &log, 0);
}
