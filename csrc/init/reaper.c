/* tini's job: as pid 1 (or as the shim of an exec'd process) run the process as a child, pass signals
 * on, and reap whatever gets reparented to us, so no zombie outlives its parent. */
#define _GNU_SOURCE
#include "reaper.h"
#include "report.h"
#include "logger.h"
#include "attach.h"
#include "../common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static _Noreturn void child(const struct proc *p, int errpipe) {
  /* Own process group, in the terminal's foreground when there is one: ^C reaches it once, from the tty.
   * Only our own controlling terminal (the container's pty): a terminal we were merely handed is not ours
   * to take over. Signals are still blocked here, so tcsetpgrp from the background raises no SIGTTOU. */
  setpgid(0, 0);
  if (tcgetsid(STDIN_FILENO) == getsid(0)) tcsetpgrp(STDIN_FILENO, getpgrp());
  process_exec(p);
  int e = errno;
  ssize_t ignored = write(errpipe, &e, sizeof e);
  (void)ignored;
  _exit(exec_exit_code(e));
}

struct child_args {
  const struct proc *p;
  struct logger *log;
  int errpipe;
};

static int child_main(void *arg) {
  struct child_args *a = arg;
  if (a->log->active) logger_child(a->log);
  child(a->p, a->errpipe);
}

/* The status file outlives every process that could have waited for us. */
static void record_status(int st) {
  if (fcntl(TSBOX_FD_STATUS, F_GETFD) < 0) return;
  char buf[16];
  int n = snprintf(buf, sizeof buf, "%d\n", st);
  /* A restarted container reuses the file: no digits of an older, longer status may remain. */
  if (ftruncate(TSBOX_FD_STATUS, 0) == 0 && pwrite(TSBOX_FD_STATUS, buf, (size_t)n, 0) == n) fsync(TSBOX_FD_STATUS);
}

_Noreturn void reaper_run(const struct proc *p, int log_json) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  struct logger log = {0};
  if (log_json) logger_open(&log);
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) die(errno, "pipe2");
  /* A vfork on a stack of its own, as posix_spawn does: we wait until it has exec'd anyway, and a fork
   * would copy our page tables only for the exec to drop them (and make every page we write meanwhile
   * a copy). The child runs in our memory, so it makes only async-signal-safe calls and writes nothing
   * of ours; its fd table is its own. */
  static char stack[64 * 1024] __attribute__((aligned(16)));
  struct child_args args = {p, &log, ep[1]};
  pid_t pid = clone(child_main, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
  if (pid < 0) die(errno, "clone %s", p->path);
  close(ep[1]);
  int e = 0;
  ssize_t n;
  do n = read(ep[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  close(ep[0]);
  if (n == (ssize_t)sizeof e) {
    waitpid(pid, NULL, 0);
    die_code(exec_exit_code(e), e, "exec %s", p->path);
  }
  report_line("S");
  if (log.active) logger_parent(&log);
  supervise(pid, &log, 1);
}

_Noreturn void supervise(pid_t pid, struct logger *log, int forward) {
  sigset_t all;
  sigfillset(&all);
  /* Signals arrive on a signalfd so that one poll() serves them and the log pipes alike. */
  int sfd = signalfd(-1, &all, SFD_CLOEXEC);
  if (sfd < 0) die(errno, "signalfd");
  for (;;) {
    struct pollfd pf[3 + 3 + ATTACH_MAX_CLIENTS] = {{.fd = sfd, .events = POLLIN}, {.fd = log->active ? log->rd[0] : -1, .events = POLLIN}, {.fd = log->active ? log->rd[1] : -1, .events = POLLIN}};
    int n = 3;
    if (log->att && log->att->active) n = attach_poll(log->att, pf, n);
    if (poll(pf, (nfds_t)n, -1) < 0) continue;
    if (n > 3) attach_events(log->att, log, pf, 3, n);
    for (int s = 0; s < 2; s++) {
      if (pf[s + 1].revents && !logger_read(log, s)) {
        close(log->rd[s]);
        log->rd[s] = -1;
      }
    }
    if (!(pf[0].revents & POLLIN)) continue;
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si) continue;
    int sig = (int)si.ssi_signo;
    if (sig != SIGCHLD) {
      /* Our own report writes raise SIGPIPE once the parent is gone: that one is ours, not the process's.
       * SIGKILL and SIGSTOP never get here; everything else goes on to the process (a monitor keeps
       * them: it is nobody's to signal). */
      if (!forward || (si.ssi_code == SI_USER && (pid_t)si.ssi_pid == getpid())) continue;
      kill(pid, sig);
      continue;
    }
    for (;;) {
      int st;
      pid_t w = waitpid(-1, &st, WNOHANG);
      if (w <= 0) break;
      if (w == pid) {
        char line[32];
        attach_drain(log->att, log);
        logger_flush(log);
        snprintf(line, sizeof line, "X %d", st);
        report_line(line);
        record_status(st);
        attach_close(log->att);
        /* As pid 1, exiting takes every other process of the namespace down with us. */
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
      }
    }
  }
}
