/* Copies the embedded tsbox-init into a sealed memfd once per process. Executing it from there means
 * /proc/self/exe in a container points at an unwritable memfd, never at a host binary. */
#define _GNU_SOURCE
#include "init_memfd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

extern const char tsbox_init_start[];
extern const char tsbox_init_end[];

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int fd = -1;
static int err;

static void create(void) {
  int m = memfd_create("tsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  /* Kernels before 6.3 do not know MFD_EXEC (and make memfds executable anyway). */
  if (m < 0 && errno == EINVAL) m = memfd_create("tsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (m < 0) {
    err = errno;
    return;
  }
  const char *p = tsbox_init_start;
  size_t left = (size_t)(tsbox_init_end - tsbox_init_start);
  while (left > 0) {
    ssize_t w = write(m, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      close(m);
      return;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fcntl(m, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    err = errno;
    close(m);
    return;
  }
  fd = m;
}

int init_memfd(void) {
  pthread_once(&once, create);
  return fd >= 0 ? fd : -err;
}
