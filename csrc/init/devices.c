/* Device nodes and symlinks inside the container root, always relative to a resolved parent directory fd. */
#define _GNU_SOURCE
#include "devices.h"
#include "mountutil.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The parent directory of the last node or link made, kept for the next one in the same directory (all
 * the default ones are in /dev/): one openat2 for eleven records instead of one each. Only for a parent
 * path without "." components, and forgotten at any other record (a mount could cover the directory);
 * the fd was resolved inside the root, so whatever is made through it stays there. */
static struct {
  char path[PATH_MAX];
  int fd;
} parent = {"", -1};

void devices_forget_parent(void) {
  if (parent.fd >= 0) close(parent.fd);
  parent.fd = -1;
  parent.path[0] = 0;
}

/* mu_resolve_parent, through the kept directory when path's parent is the same. The caller closes the fd
 * only when *own is set (a parent not kept). */
static int parent_of(int rootfd, const char *path, char *base, size_t basesz, int *own) {
  size_t n = strlen(path);
  while (n > 0 && path[n - 1] == '/') n--;
  size_t b = n;
  while (b > 0 && path[b - 1] != '/') b--;
  size_t blen = n - b;
  int plain = b > 0 && path[0] == '/' && b < sizeof parent.path && blen > 0 && blen < basesz && path[b] != '.' && !memmem(path, b, "/.", 2);
  *own = 0;
  if (plain && parent.fd >= 0 && strlen(parent.path) == b && memcmp(parent.path, path, b) == 0) {
    memcpy(base, path + b, blen);
    base[blen] = 0;
    return parent.fd;
  }
  devices_forget_parent();
  int fd = mu_resolve_parent(rootfd, path, base, basesz);
  if (fd >= 0 && plain) {
    memcpy(parent.path, path, b);
    parent.path[b] = 0;
    parent.fd = fd;
  } else {
    *own = fd >= 0;
  }
  return fd;
}

/* The host's own node, bind-mounted onto an empty file: what a user namespace allows instead of mknod. */
static void bind_host_node(int dir, const char *base, const char *rootfs, const char *path) {
  int fd = openat(dir, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd < 0) die(errno, "open %s%s", rootfs, path);
  char fdp[32];
  /* The container path is also where the host keeps the device (/dev/null, /dev/tty...). */
  if (mount(path, mu_fdpath(fd, fdp), NULL, MS_BIND, NULL) < 0) die(errno, "mount bind %s on %s%s", path, rootfs, path);
  close(fd);
}

void device_create(int rootfd, const char *rootfs, const struct blob_rec *r) {
  struct blob_cur c = blob_cur(r);
  uint32_t type = cur_u32(&c), major = cur_u32(&c), minor = cur_u32(&c);
  uint32_t mode = cur_u32(&c), uid = cur_u32(&c), gid = cur_u32(&c);
  const char *path = cur_str(&c);
  if (c.err) die(EINVAL, "config blob: truncated device record");
  mode_t fmt;
  switch (type) {
    case 'c': case 'u': fmt = S_IFCHR; break;
    case 'b': fmt = S_IFBLK; break;
    case 'p': fmt = S_IFIFO; break;
    default: die(EINVAL, "device %s: type %u", path, type);
  }
  char base[NAME_MAX + 1];
  int own;
  int dir = parent_of(rootfd, path, base, sizeof base, &own);
  if (dir < 0) die(errno, "openat2 parent of %s in %s", path, rootfs);
  mode &= 07777;
  if (mknodat(dir, base, fmt | mode, makedev(major, minor)) == 0) {
    /* The umask applies to mknod; the spec's mode does not want it. */
    if (fchmodat(dir, base, mode, 0) < 0) die(errno, "fchmodat %s%s", rootfs, path);
    if (fchownat(dir, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) die(errno, "fchownat %s%s", rootfs, path);
  } else if (errno == EPERM && fmt != S_IFIFO) {
    bind_host_node(dir, base, rootfs, path);
  } else if (errno != EEXIST) {
    die(errno, "mknod %s%s", rootfs, path);
  }
  if (own) close(dir);
}

void symlink_create(int rootfd, const char *rootfs, const struct blob_rec *r) {
  struct blob_cur c = blob_cur(r);
  const char *target = cur_str(&c), *linkpath = cur_str(&c);
  if (c.err) die(EINVAL, "config blob: truncated symlink record");
  char base[NAME_MAX + 1];
  int own;
  int dir = parent_of(rootfd, linkpath, base, sizeof base, &own);
  if (dir < 0) die(errno, "openat2 parent of %s in %s", linkpath, rootfs);
  if (symlinkat(target, dir, base) < 0) {
    if (errno != EEXIST) die(errno, "symlink %s on %s%s", target, rootfs, linkpath);
    struct stat st;
    if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0) die(errno, "stat %s%s", rootfs, linkpath);
    char cur[PATH_MAX];
    ssize_t n = S_ISLNK(st.st_mode) ? readlinkat(dir, base, cur, sizeof cur - 1) : -1;
    if (n >= 0) cur[n] = 0;
    /* A directory stays (the image put one there on purpose); the same link needs nothing. */
    if (!S_ISDIR(st.st_mode) && !(n >= 0 && strcmp(cur, target) == 0)) {
      if (unlinkat(dir, base, 0) < 0) die(errno, "unlink %s%s", rootfs, linkpath);
      if (symlinkat(target, dir, base) < 0) die(errno, "symlink %s on %s%s", target, rootfs, linkpath);
    }
  }
  if (own) close(dir);
}
