/* The go pipe: one byte from the parent once it has done its part (id maps, cgroups; then its hooks). */
#include "go.h"
#include "../common/config.h"

#include <errno.h>
#include <unistd.h>

void go_wait(void) {
  char c;
  ssize_t n;
  do n = read(TSBOX_FD_GO, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(1);
}
