/* The parent-death signal of an owned container's first process. The kernel delivers it when the
 * thread that cloned us exits (the addon's spawner thread, which lives as long as the owner process),
 * also on SIGKILL or a crash, where no JavaScript runs. It is cleared by any change of uid, gid, fsuid
 * or fsgid and by the exec of a set-id or file-capability binary (without no_new_privs): so it is set
 * again after the credential changes, right before the exec. An owner that died before it was set sent
 * nothing: its pipe tells (all write ends close before the kernel reparents us). */
#define _GNU_SOURCE
#include "owner.h"
#include "report.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

void owner_bind(const struct blob *b, int last) {
  struct blob_rec r;
  if (!blob_find(b, TSBOX_T_OWNER, &r)) return;
  struct blob_cur c = blob_cur(&r);
  int fd = (int)cur_u32(&c);
  if (c.err || fd < TSBOX_FD_EXTRA || fd >= TSBOX_FD_EXTRA + TSBOX_MAX_EXTRA) die(EINVAL, "config blob: bad owner record");
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die(errno, "prctl PR_SET_PDEATHSIG");
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n;
  do n = poll(&p, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) die(errno, "poll owner pipe fd %d", fd);
  /* Nobody writes to it: anything but silence is the hang-up of its last write end. As pid 1 of a pid
   * namespace we cannot signal ourselves: exit as a SIGKILL would have ended us. */
  if (n > 0) _exit(128 + SIGKILL);
  if (last) close(fd);
}
