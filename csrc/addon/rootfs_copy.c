/* Copies into and out of a container's filesystem that nothing in the container can redirect
 * (CVE-2018-15664): paths in the container are opened with openat2 RESOLVE_IN_ROOT (its symlinks
 * resolve inside its root, never on the host), every entry of a tree is opened with O_NOFOLLOW relative
 * to its parent's fd, and every change is made through an fd or relative to one, never through a path
 * looked up again. A container swapping a directory for a symlink between two steps can make a copy
 * fail, not land outside. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* openat2 RESOLVE_IN_ROOT answers EAGAIN when a rename raced the lookup: worth a few retries. */
static int openat2_retry(int dirfd, const char *path, struct open_how *how) {
  long fd;
  int tries = 0;
  do fd = syscall(SYS_openat2, dirfd, path, how, sizeof *how);
  while (fd < 0 && (errno == EINTR || (errno == EAGAIN && ++tries < 100)));
  return (int)fd;
}

napi_value addon_openat2(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int32_t dirfd;
  uint32_t flags, resolve, mode = 0;
  char *path;
  if (!arg_int(env, argv[0], "dirfd", &dirfd) || !arg_str(env, argv[1], "path", false, &path)) return NULL;
  napi_value r = NULL;
  if (arg_uint(env, argv[2], "flags", &flags) && arg_uint(env, argv[3], "resolve", &resolve) &&
      (is_nullish(env, argv[4]) || arg_uint(env, argv[4], "mode", &mode))) {
    struct open_how how = {.flags = flags | O_CLOEXEC, .mode = (flags & O_CREAT) ? mode : 0, .resolve = resolve};
    int fd = openat2_retry(dirfd, path, &how);
    r = fd < 0 ? throw_errno(env, errno, "openat2 %s", path) : make_int(env, fd);
  }
  free(path);
  return r;
}

#define COPY_OWNER 1   /* chown to the source's uid/gid (cp -a) */
#define COPY_NO_SUID 2 /* drop setuid/setgid of files (a container's file landing on the host) */
#define MAX_DEPTH 512  /* each level holds two fds */
#define MAX_REPLACE 4  /* an entry in the way is removed and the create retried this often */

struct copy {
  unsigned flags, skipped;
  int err;
  char what[32];
  char path[PATH_MAX]; /* the entry being copied, relative to the destination */
  char buf[1 << 16];
};

static int fail(struct copy *c, const char *what) {
  if (!c->err) {
    c->err = errno ? errno : EIO;
    snprintf(c->what, sizeof c->what, "%s", what);
  }
  return -1;
}

/* What a destination entry is, not following it. */
static int dst_type(int dir, const char *name, mode_t *type) {
  struct stat st;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return -1;
  *type = st.st_mode & S_IFMT;
  return 0;
}

/* Clears the way for a non-directory: a file, link or fifo there goes (as tar does), a directory stays
 * and fails the copy. */
static int make_room(struct copy *c, int dir, const char *name) {
  mode_t t;
  if (dst_type(dir, name, &t) < 0) return errno == ENOENT ? 0 : fail(c, "fstatat");
  if (t == S_IFDIR) {
    errno = EISDIR;
    return fail(c, "replace directory");
  }
  if (unlinkat(dir, name, 0) < 0 && errno != ENOENT) return fail(c, "unlinkat");
  return 0;
}

/* chmod/chown of an entry held by an O_PATH fd: through its /proc/self/fd link, which names that
 * inode and nothing else (never the path, which the container may have swapped). */
static int attrs_by_path_fd(struct copy *c, int pfd, const struct stat *st, mode_t mode) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
  if ((c->flags & COPY_OWNER) && fchownat(pfd, "", st->st_uid, st->st_gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return fail(c, "fchownat");
  if (chmod(proc, mode) < 0) return fail(c, "chmod");
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if (utimensat(AT_FDCWD, proc, ts, 0) < 0) return fail(c, "utimensat");
  return 0;
}

static int finish_fd(struct copy *c, int fd, const struct stat *st, mode_t mode) {
  if ((c->flags & COPY_OWNER) && fchown(fd, st->st_uid, st->st_gid) < 0) return fail(c, "fchown");
  if (fchmod(fd, mode) < 0) return fail(c, "fchmod");
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if (futimens(fd, ts) < 0) return fail(c, "futimens");
  return 0;
}

static int copy_entry(struct copy *c, int src, int dst, const char *name, int depth);

/* A directory in the destination to copy into: made (*made set), or an existing one (not a link to
 * one) reused. */
static int open_dst_dir(struct copy *c, int dst, const char *name, bool *made) {
  for (int i = 0; i < MAX_REPLACE; i++) {
    *made = mkdirat(dst, name, 0700) == 0;
    if (!*made && errno != EEXIST) return fail(c, "mkdirat");
    int fd = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno != ENOTDIR && errno != ELOOP) return fail(c, "openat");
    if (unlinkat(dst, name, 0) < 0 && errno != ENOENT) return fail(c, "unlinkat");
  }
  errno = EBUSY;
  return fail(c, "mkdirat");
}

static int copy_dir(struct copy *c, int src, const struct stat *st, int dst, const char *name, int depth) {
  if (depth > MAX_DEPTH) {
    errno = ELOOP;
    return fail(c, "copy (too deep)");
  }
  int sfd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sfd < 0) return fail(c, "open");
  DIR *d = fdopendir(sfd);
  if (!d) {
    close(sfd);
    return fail(c, "fdopendir");
  }
  bool made = false;
  int dfd = open_dst_dir(c, dst, name, &made);
  int rc = dfd < 0 ? -1 : 0;
  size_t len = strlen(c->path);
  for (struct dirent *e; rc == 0 && (errno = 0, e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (len + strlen(e->d_name) + 2 >= sizeof c->path) {
      errno = ENAMETOOLONG;
      rc = fail(c, "copy");
      break;
    }
    snprintf(c->path + len, sizeof c->path - len, "%s%s", len && c->path[len - 1] != '/' ? "/" : "", e->d_name);
    int child = openat(dirfd(d), e->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      rc = errno == ENOENT ? 0 : fail(c, "openat"); /* gone meanwhile: as if never there */
    } else {
      rc = copy_entry(c, child, dfd, e->d_name, depth + 1);
      close(child);
    }
    c->path[len] = 0;
  }
  if (rc == 0 && errno) rc = fail(c, "readdir");
  /* The mode last: a read-only directory is still filled first. A directory that was there keeps its
   * own owner, mode and times (what is copied into a host directory does not get to change them). */
  if (rc == 0 && made) rc = finish_fd(c, dfd, st, st->st_mode & 07777);
  if (dfd >= 0) close(dfd);
  closedir(d);
  return rc;
}

static int copy_file(struct copy *c, int src, const struct stat *st, int dst, const char *name) {
  /* Reopened through /proc/self/fd: the inode fstat saw, a regular file, never a device swapped in. */
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", src);
  int in = open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC);
  if (in < 0) return fail(c, "open");
  struct stat again;
  if (fstat(in, &again) < 0 || again.st_ino != st->st_ino || again.st_dev != st->st_dev || !S_ISREG(again.st_mode)) {
    close(in);
    errno = EXDEV;
    return fail(c, "reopen");
  }
  int out = -1;
  for (int i = 0; out < 0 && i < MAX_REPLACE; i++) {
    out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0 && (errno != EEXIST || make_room(c, dst, name) < 0)) break;
  }
  if (out < 0) {
    close(in);
    return fail(c, "openat");
  }
  int rc = 0;
  for (;;) {
    ssize_t n = read(in, c->buf, sizeof c->buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = fail(c, "read");
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, c->buf + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        rc = fail(c, "write");
        break;
      }
      off += w;
    }
    if (rc) break;
  }
  mode_t mode = st->st_mode & 07777;
  if (c->flags & COPY_NO_SUID) mode &= ~(mode_t)(S_ISUID | S_ISGID);
  if (rc == 0) rc = finish_fd(c, out, st, mode);
  close(out);
  close(in);
  return rc;
}

static int copy_symlink(struct copy *c, int src, const struct stat *st, int dst, const char *name) {
  char target[PATH_MAX];
  ssize_t n = readlinkat(src, "", target, sizeof target - 1);
  if (n < 0) return fail(c, "readlinkat");
  target[n] = 0;
  int rc = -1;
  for (int i = 0; rc < 0 && i < MAX_REPLACE; i++) {
    rc = symlinkat(target, dst, name);
    if (rc < 0 && (errno != EEXIST || make_room(c, dst, name) < 0)) break;
  }
  if (rc < 0) return fail(c, "symlinkat");
  if ((c->flags & COPY_OWNER) && fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) return fail(c, "fchownat");
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if (utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0) return fail(c, "utimensat");
  return 0;
}

static int copy_fifo(struct copy *c, const struct stat *st, int dst, const char *name) {
  int rc = -1;
  for (int i = 0; rc < 0 && i < MAX_REPLACE; i++) {
    rc = mknodat(dst, name, S_IFIFO | 0600, 0);
    if (rc < 0 && (errno != EEXIST || make_room(c, dst, name) < 0)) break;
  }
  if (rc < 0) return fail(c, "mknodat");
  int pfd = openat(dst, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (pfd < 0) return fail(c, "openat");
  struct stat now;
  if (fstat(pfd, &now) < 0 || !S_ISFIFO(now.st_mode)) {
    close(pfd);
    errno = EXDEV;
    return fail(c, "mknodat (replaced meanwhile)");
  }
  rc = attrs_by_path_fd(c, pfd, st, st->st_mode & 0777);
  close(pfd);
  return rc;
}

/* src: an O_PATH fd of the entry (a link itself when it is one); dst/name: where it goes. */
static int copy_entry(struct copy *c, int src, int dst, const char *name, int depth) {
  struct stat st;
  if (fstat(src, &st) < 0) return fail(c, "fstat");
  switch (st.st_mode & S_IFMT) {
  case S_IFDIR: return copy_dir(c, src, &st, dst, name, depth);
  case S_IFREG: return copy_file(c, src, &st, dst, name);
  case S_IFLNK: return copy_symlink(c, src, &st, dst, name);
  case S_IFIFO: return copy_fifo(c, &st, dst, name);
  default: /* device nodes and sockets: never opened, never recreated */ c->skipped++; return 0;
  }
}

/* copyAt(srcFd, dstDirFd, dstName, flags): srcFd an O_PATH fd (of a link itself with O_NOFOLLOW),
 * copied to dstName in dstDirFd ("." merges a directory into dstDirFd itself). Returns the number of
 * device nodes and sockets left out. */
napi_value addon_copy_at(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int32_t src, dst;
  uint32_t flags;
  char *name;
  if (!arg_int(env, argv[0], "srcFd", &src) || !arg_int(env, argv[1], "dstDirFd", &dst)) return NULL;
  if (!arg_str(env, argv[2], "dstName", false, &name)) return NULL;
  if (!arg_uint(env, argv[3], "flags", &flags)) {
    free(name);
    return NULL;
  }
  struct copy *c = calloc(1, sizeof *c);
  if (!c) {
    free(name);
    return throw_errno(env, ENOMEM, "copy");
  }
  c->flags = flags;
  snprintf(c->path, sizeof c->path, "%s", name);
  napi_value r;
  if (strchr(name, '/') || !*name) {
    errno = EINVAL;
    fail(c, "copy");
  } else {
    copy_entry(c, src, dst, name, 0);
  }
  r = c->err ? throw_errno(env, c->err, "%s %s", c->what, c->path) : make_int(env, c->skipped);
  free(c);
  free(name);
  return r;
}
