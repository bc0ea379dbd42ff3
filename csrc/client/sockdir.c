/* The socket directory is trusted only when it is the caller's own: every step is opened with
 * O_NOFOLLOW relative to the step before and checked with fstat, and the socket is reached through
 * /proc/self/fd/<dirfd>, so a directory swapped after the check is never used. */
#define _GNU_SOURCE
#include "sockdir.h"
#include "fail.h"
#include "wire.h"
#include "../common/scm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Opens name in dirfd as a directory, never through a symlink, creating it (mode) when missing. */
static int open_step(int dirfd, const char *name, const char *path, mode_t mode) {
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST) return cold_why(errno, "mkdir %s", path), -1;
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) cold_why(errno, "open %s", path);
  return fd;
}

/* A directory on the way to ours: owned by us or root, and writable by no one else (who could rename
 * what we look up in it). */
static bool ours_or_roots(int fd, const char *path) {
  struct stat st;
  if (fstat(fd, &st) < 0) return cold_why(errno, "fstat %s", path);
  if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022))
    return cold_why(0, "%s: owner %u mode %03o (want ours or root's, not group/other writable)", path, (unsigned)st.st_uid, st.st_mode & 0777);
  return true;
}

int sockdir_open(char *path, size_t size) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  const char *base = xdg && xdg[0] == '/' ? xdg : "/run";
  if ((size_t)snprintf(path, size, "%s/tsbox", base) >= size) return cold_why(ENAMETOOLONG, "%s/tsbox", base), -1;
  int b = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (b < 0) return cold_why(errno, "open %s", base), -1;
  uid_t me = geteuid();
  struct stat st;
  /* The base too: the server's socket path goes through it by name, so no one else may rename in it
   * (root with another user's XDG_RUNTIME_DIR, as sudo may leave it, goes cold). */
  if (!ours_or_roots(b, base)) return close(b), -1;
  /* 0711: the state root's own mode (ts/runtime/state.ts), for when this call makes it first. */
  int t = open_step(b, "tsbox", path, 0711);
  close(b);
  if (t < 0) return -1;
  /* The state root (often 0755): it must be ours or root's, and writable by no one else, so that no
   * one else can put another .runtime in its place. */
  if (!ours_or_roots(t, path)) return close(t), -1;
  strncat(path, "/.runtime", size - strlen(path) - 1);
  int d = open_step(t, ".runtime", path, 0700);
  close(t);
  if (d < 0) return -1;
  if (fstat(d, &st) < 0) return cold_why(errno, "fstat %s", path), close(d), -1;
  if (st.st_uid != me || (st.st_mode & 077)) {
    cold_why(0, "%s: owner %u mode %03o (want %u, 0700)", path, (unsigned)st.st_uid, st.st_mode & 0777, (unsigned)me);
    return close(d), -1;
  }
  return d;
}

int sockdir_connect(int dirfd, const char *name) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dirfd, name);
  /* Nonblocking for connect: a server that stopped accepting (full backlog) means cold, not a hang. */
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  scm_bufsize(fd, 2 * WIRE_MAX);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != geteuid()) {
    if (len == sizeof cr) cold_why(0, "the server on %s runs as uid %u, not %u", name, (unsigned)cr.uid, (unsigned)geteuid());
    close(fd);
    errno = EPERM;
    return -1;
  }
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}
