/* Safe resolution of container paths under the rootfs, and the flag handling bind remounts need. */
#define _GNU_SOURCE
#include "mountutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Symlinks followed while creating missing components, as the kernel's own limit. */
#define MAX_LINKS 40

static int open_in_root(int rootfd, const char *path) {
  struct open_how how = {
      .flags = O_PATH | O_CLOEXEC,
      /* IN_ROOT also refuses magic links (/proc/self/...), which could point anywhere. */
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  for (int tries = 0;; tries++) {
    long fd = syscall(SYS_openat2, rootfd, *path ? path : "/", &how, sizeof how);
    /* EAGAIN: a rename raced with the lookup; the kernel asks for a retry. */
    if (fd < 0 && errno == EAGAIN && tries < 16) continue;
    return (int)fd;
  }
}

/* Writes a followed dangling symlink back into p: <parent prefix>/<target>/<rest>. */
static int splice_link(char *p, size_t psz, const char *prefix, size_t parentlen, const char *target,
                       const char *rest) {
  char out[PATH_MAX];
  const char *sep = *rest ? "/" : ""; /* no trailing slash: it would demand a directory */
  int n = target[0] == '/' ? snprintf(out, sizeof out, "%s%s%s", target, sep, rest)
                           : snprintf(out, sizeof out, "%.*s/%s%s%s", (int)parentlen, prefix, target, sep, rest);
  if (n < 0 || (size_t)n >= sizeof out || (size_t)n >= psz) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(p, out, (size_t)n + 1);
  return 0;
}

/* Creates the first missing component of p (or rewrites p when that component is a dangling symlink).
 * Returns 0 to have the caller resolve again, -1 on failure. */
static int create_step(int rootfd, char *p, size_t psz, enum mu_create create, mode_t mode, int *links) {
  char prefix[PATH_MAX] = "";
  size_t plen = 0;
  int parent = rootfd;
  const char *s = p;
  int ret = -1;
  for (;;) {
    while (*s == '/') s++;
    if (!*s) {
      /* Every component resolved: a concurrent creation; resolving again will succeed. */
      ret = 0;
      break;
    }
    const char *e = strchrnul(s, '/');
    size_t clen = (size_t)(e - s), parentlen = plen;
    if (clen > NAME_MAX || plen + 1 + clen >= sizeof prefix) {
      errno = ENAMETOOLONG;
      break;
    }
    prefix[plen++] = '/';
    memcpy(prefix + plen, s, clen);
    plen += clen;
    prefix[plen] = 0;
    int fd = open_in_root(rootfd, prefix);
    if (fd >= 0) {
      if (parent != rootfd) close(parent);
      parent = fd;
      s = e;
      continue;
    }
    if (errno != ENOENT) break;

    char name[NAME_MAX + 1];
    memcpy(name, s, clen);
    name[clen] = 0;
    const char *rest = e;
    while (*rest == '/') rest++;
    int last = !*rest;
    mode_t m = last ? mode : 0755;
    int r;
    if (last && create == MU_FILE) {
      r = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, m);
      if (r >= 0) r = close(r);
    } else {
      r = mkdirat(parent, name, m);
    }
    if (r == 0) {
      /* The umask may have taken bits away. */
      ret = fchmodat(parent, name, m, 0);
      break;
    }
    if (errno != EEXIST) break;
    /* It exists yet did not resolve: a dangling symlink. Follow it (inside the root) and create its target. */
    char target[PATH_MAX];
    ssize_t n = readlinkat(parent, name, target, sizeof target - 1);
    if (n < 0) {
      ret = errno == EINVAL ? 0 : -1; /* not a symlink any more: raced, resolve again */
      break;
    }
    target[n] = 0;
    if (++*links > MAX_LINKS) {
      errno = ELOOP;
      break;
    }
    char restcopy[PATH_MAX];
    snprintf(restcopy, sizeof restcopy, "%s", rest);
    ret = splice_link(p, psz, prefix, parentlen, target, restcopy);
    break;
  }
  if (parent != rootfd) {
    int saved = errno;
    close(parent);
    errno = saved;
  }
  return ret;
}

int mu_resolve(int rootfd, const char *path, enum mu_create create, mode_t mode) {
  char p[PATH_MAX];
  if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int links = 0;
  /* Each round creates one component or follows one link, so this bounds any honest path. */
  for (int round = 0; round < PATH_MAX / 2; round++) {
    int fd = open_in_root(rootfd, p);
    if (fd >= 0 || errno != ENOENT || create == MU_NONE) return fd;
    if (create_step(rootfd, p, sizeof p, create, mode, &links) < 0) return -1;
  }
  errno = ELOOP;
  return -1;
}

int mu_resolve_parent(int rootfd, const char *path, char *base, size_t basesz) {
  char dir[PATH_MAX];
  size_t n = strlen(path);
  while (n > 0 && path[n - 1] == '/') n--;
  size_t b = n;
  while (b > 0 && path[b - 1] != '/') b--;
  size_t blen = n - b;
  if (blen == 0 || (blen == 1 && path[b] == '.') || (blen == 2 && path[b] == '.' && path[b + 1] == '.')) {
    errno = EINVAL;
    return -1;
  }
  if (blen >= basesz || b >= sizeof dir) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(base, path + b, blen);
  base[blen] = 0;
  memcpy(dir, path, b);
  dir[b] = 0;
  return mu_resolve(rootfd, dir, MU_DIR, 0755);
}

const char *mu_fdpath(int fd, char buf[32]) {
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

int mu_mount_flags(const char *path, unsigned long *flags) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) return -1;
  static const struct { unsigned long st, ms; } map[] = {
      {ST_RDONLY, MS_RDONLY}, {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC}};
  *flags = 0;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (sv.f_flag & map[i].st) *flags |= map[i].ms;
  return 0;
}

int mu_remount_bind(const char *target, unsigned long flags) {
  unsigned long cur;
  if (mu_mount_flags(target, &cur) < 0) return -1;
  flags = (flags & MU_MNT_FLAGS) | cur;
  if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | flags, NULL) == 0) return 0;
  const unsigned long atime = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
  if (errno != EPERM || !(flags & atime)) return -1;
  /* The atime mode is locked too (user namespace); without atime flags the kernel keeps the current one. */
  return mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | (flags & ~atime), NULL);
}

int mu_propagate(const char *target, unsigned long prop) {
  static const unsigned long types[] = {MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if ((prop & types[i]) && mount(NULL, target, NULL, types[i] | (prop & MS_REC), NULL) < 0) return -1;
  return 0;
}

/* mount_setattr(2) by number, with its struct spelled out: musl has no wrapper, and glibc 2.36's
 * <sys/mount.h> clashes with <linux/mount.h>. */
struct setattr_args {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define ATTR_RDONLY 0x1 /* MOUNT_ATTR_RDONLY */

int mu_setattr_tree(const char *target, uint32_t set, uint32_t clr) {
  struct setattr_args attr = {.attr_set = set, .attr_clr = clr};
  return syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &attr, sizeof attr) == 0 ? 0 : -1;
}

int mu_readonly_tree(const char *target) {
  if (mu_setattr_tree(target, ATTR_RDONLY, 0) == 0) return 0;
  return errno == ENOSYS ? 0 : -1;
}
