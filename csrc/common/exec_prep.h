/* What every exec in tsbox does first, in the addon's cloned child and in tsbox-init alike: default
 * signal dispositions and an empty mask (both survive execve), and close-on-exec for every fd from
 * `first` up. Header-only, async-signal-safe, so each binary keeps building from its own directory. */
#ifndef TSBOX_COMMON_EXEC_PREP_H
#define TSBOX_COMMON_EXEC_PREP_H

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void reset_signals(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < _NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL); /* EINVAL for libc's reserved ones: fine */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static inline void cloexec_from(int first) {
  if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  /* Kernels before 5.11: one fcntl per possible fd. */
  struct rlimit rl;
  int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20 ? (int)rl.rlim_cur : 1 << 20;
  for (int fd = first; fd < max; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

#endif
