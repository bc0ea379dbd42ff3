/* The embedded tsbox-init (csrc/addon/init_blob.S), copied once per process into a sealed memfd.
 * Containers exec it from there, so /proc/self/exe inside a container is an unwritable memfd, never a host binary it could overwrite
 * (CVE-2019-5736). */
#define _GNU_SOURCE
#include "spawn_core.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* Set by init_blob.S. */
extern const char tsbox_init_start[];
extern const char tsbox_init_end[];

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int memfd = -1;
static int fail_errno;
static const char *fail_what = "memfd_create tsbox-init";

static int fail(int m, int err, const char *what) {
  if (m >= 0) close(m);
  fail_errno = err;
  fail_what = what;
  return -1;
}

static int create(void) {
  /* MFD_EXEC: kernels with vm.memfd_noexec refuse to exec memfds created without it. */
  int m = memfd_create("tsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  /* Before 6.3 MFD_EXEC is unknown (EINVAL), and memfds are executable anyway. */
  if (m < 0 && errno == EINVAL) m = memfd_create("tsbox-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (m < 0) return fail(m, errno, "memfd_create tsbox-init");
  const char *p = tsbox_init_start;
  size_t left = (size_t)(tsbox_init_end - tsbox_init_start);
  while (left > 0) {
    ssize_t w = write(m, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return fail(m, w < 0 ? errno : EIO, "write memfd:tsbox-init");
    p += w;
    left -= (size_t)w;
  }
  if (fcntl(m, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return fail(m, errno, "fcntl F_ADD_SEALS memfd:tsbox-init");
  /* execve refuses a file that is open for writing anywhere (ETXTBSY), and memfd_create only gives
   * read-write fds: keep a read-only reopen instead. */
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", m);
  int ro = open(path, O_RDONLY | O_CLOEXEC);
  if (ro < 0) return fail(m, errno, "open /proc/self/fd of memfd:tsbox-init");
  close(m);
  return ro;
}

static void create_once(void) { memfd = create(); }

int init_memfd(void) {
  pthread_once(&once, create_once);
  return memfd >= 0 ? memfd : -fail_errno;
}

const char *init_memfd_failure(void) { return fail_what; }
