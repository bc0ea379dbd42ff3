/* tsbox-init enters its cgroups itself: "0" written to a v1 "tasks" file moves only the writing thread,
 * which the kernel does without the global write lock a move by pid needs (config.h). */
#define _GNU_SOURCE
#include "placement.h"
#include "report.h"
#include "../common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

void placement_enter(void) {
  int fd = TSBOX_FD_FIRST_FREE;
  for (; fd < TSBOX_FD_EXTRA && fcntl(fd, F_GETFD) >= 0; fd++) {
    if (write(fd, "0", 1) != 1) {
      int e = errno;
      char link[32], path[256];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(link, path, sizeof path - 1);
      path[n > 0 ? n : 0] = 0;
      die(e, "write %s", n > 0 ? path : "cgroup tasks file");
    }
    close(fd);
  }
  if (fd > TSBOX_FD_FIRST_FREE) report_line("P");
}
