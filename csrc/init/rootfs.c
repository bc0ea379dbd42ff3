/* The container's root filesystem: propagation, the rootfs bind, the mount/device/link records, pivot_root,
 * then masked and read-only paths. Modelled on runc's rootfs_linux.go. */
#define _GNU_SOURCE
#include "rootfs.h"
#include "hooks.h"
#include "cgroupfs.h"
#include "devices.h"
#include "mountutil.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Makes the mount holding the rootfs private, walking up until a mount point (mount says EINVAL
 * below one). A shared parent would make the bind below propagate to the host, and pivot_root refuse. */
static void parent_mount_private(const char *rootfs) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s", rootfs);
  for (;;) {
    if (mount(NULL, p, NULL, MS_PRIVATE, NULL) == 0) return;
    if (errno != EINVAL || strcmp(p, "/") == 0) die(errno, "mount private %s", p);
    char *slash = strrchr(p, '/');
    if (!slash) die(EINVAL, "mount private: rootfs %s is not absolute", rootfs);
    if (slash == p) slash[1] = 0;
    else *slash = 0;
  }
}

/* A bind of the host's own instance where the kernel refuses a fresh filesystem of this type. */
static void bind_fallback(const char *hostsrc, const char *fdp, const char *where, unsigned long bindflags) {
  if (mount(hostsrc, fdp, NULL, MS_BIND | bindflags, NULL) < 0) die(errno, "mount bind %s on %s", hostsrc, where);
}

/* A detached tree the parent cloned (open_tree), named "/proc/self/fd/N": attached onto the resolved
 * destination. mount(MS_BIND) would refuse a mount of the parent's namespace here. -1 with errno when
 * the kernel refuses (ENOENT: its source directory was removed since). */
static int attach_tree(const char *src, int dst) {
  const char *prefix = "/proc/self/fd/";
  if (strncmp(src, prefix, strlen(prefix)) != 0) die(EINVAL, "config blob: tree source %s is no fd", src);
  int tree = atoi(src + strlen(prefix));
  int r = syscall(SYS_move_mount, tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
  int e = errno;
  close(tree);
  errno = e;
  return r < 0 ? -1 : 0;
}

/* The TSBOX_T_MOUNT record: mounted on the destination resolved inside the root, never through a link
 * that leads out of it. */
static void mount_record(int rootfd, const char *rootfs, const struct blob_rec *r) {
  struct blob_cur c = blob_cur(r);
  unsigned long flags = cur_u32(&c), prop = cur_u32(&c);
  uint32_t mf = cur_u32(&c);
  const char *src = cur_str(&c), *dst = cur_str(&c), *fstype = cur_str(&c), *data = cur_str(&c);
  uint32_t rset = 0, rclr = 0, rattr = (mf & TSBOX_MNT_RATTR) != 0;
  if (rattr) {
    rset = cur_u32(&c);
    rclr = cur_u32(&c);
  }
  if (c.err) die(EINVAL, "config blob: truncated mount record");
  char where[2 * PATH_MAX], fdp[32];
  snprintf(where, sizeof where, "%s%s", rootfs, dst);
  unsigned long mnt_flags = flags & MU_MNT_FLAGS;
  int remount = 0, ro_tree = 0, fd;

  if (mf & TSBOX_MNT_CGROUP) {
    cgroupfs_mount(rootfd, rootfs, dst, flags);
  } else {
    int file = (mf & TSBOX_MNT_FILE) != 0;
    /* nofail: a source gone since the spec was made is left out before its destination is made (under a
     * read-only bind of the host that destination went with it, and making it would fail with EROFS). */
    if ((mf & TSBOX_MNT_NOFAIL) && !(mf & TSBOX_MNT_TREE_FD) && access(src, F_OK) < 0 && errno == ENOENT) return;
    fd = mu_resolve(rootfd, dst, file ? MU_FILE : MU_DIR, file ? 0644 : 0755);
    if (fd < 0) die(errno, "openat2 %s in %s", dst, rootfs);
    mu_fdpath(fd, fdp);
    if ((mf & TSBOX_MNT_BIND) || (flags & MS_BIND)) {
      unsigned long rec = (mf & TSBOX_MNT_RECURSIVE) || (flags & MS_REC) ? MS_REC : 0;
      int tree = (mf & TSBOX_MNT_TREE_FD) != 0;
      if (tree ? attach_tree(src, fd) < 0 : mount(src, fdp, NULL, MS_BIND | rec, NULL) < 0) {
        /* nofail: the source went away since the spec was made (a host mount the sandbox mirrors). */
        if (errno == ENOENT && (mf & TSBOX_MNT_NOFAIL)) {
          close(fd);
          return;
        }
        die(errno, tree ? "move_mount %s on %s" : "mount bind %s on %s", src, where);
      }
      /* A bind takes the source's flags; ro, nosuid... need a remount of the new mount. */
      remount = mnt_flags != 0;
    } else if (mount(src, fdp, fstype, flags & ~(MU_PROPAGATION | MS_BIND | MS_REC), data[0] ? data : NULL) < 0) {
      int err = errno;
      /* In a user namespace sysfs needs a network namespace of its own, mqueue an IPC one. */
      if (err == EPERM && strcmp(fstype, "sysfs") == 0) {
        bind_fallback("/sys", fdp, where, MS_REC);
        mnt_flags |= MS_RDONLY;
        remount = ro_tree = 1;
      } else if (err == EPERM && strcmp(fstype, "mqueue") == 0) {
        bind_fallback("/dev/mqueue", fdp, where, 0);
        remount = mnt_flags != 0;
      } else {
        die(err, "mount %s on %s", fstype, where);
      }
    }
    close(fd);
  }
  if (!remount && !prop && !rattr) return;
  /* The fd above names the directory under the new mount; a fresh lookup reaches the mount itself. */
  if ((fd = mu_resolve(rootfd, dst, MU_NONE, 0)) < 0) die(errno, "openat2 %s in %s", dst, rootfs);
  mu_fdpath(fd, fdp);
  if (remount && mu_remount_bind(fdp, mnt_flags) < 0) die(errno, "remount %s", where);
  /* The host's /sys brings its submounts (cgroups, debugfs...): none of them may stay writable. */
  if (ro_tree && mu_readonly_tree(fdp) < 0) die(errno, "mount_setattr read-only %s", where);
  /* rro and the like: a bind remount reaches only the top mount, the submounts an rbind brought keep theirs. */
  if (rattr && mu_setattr_tree(fdp, rset, rclr) < 0) die(errno, "mount_setattr recursive %#x/%#x on %s", rset, rclr, where);
  if (mu_propagate(fdp, prop) < 0) die(errno, "mount propagation %#lx on %s", prop, where);
  close(fd);
}

static void mkdir_record(int rootfd, const char *rootfs, const struct blob_rec *r) {
  struct blob_cur c = blob_cur(r);
  uint32_t mode = cur_u32(&c);
  const char *path = cur_str(&c);
  if (c.err) die(EINVAL, "config blob: truncated mkdir record");
  int fd = mu_resolve(rootfd, path, MU_DIR, mode & 07777);
  if (fd < 0) die(errno, "mkdir %s in %s", path, rootfs);
  close(fd);
}

static int mount_targets_root(const struct blob_rec *r) {
  struct blob_cur c = blob_cur(r);
  cur_u32(&c);
  cur_u32(&c);
  cur_u32(&c);
  cur_str(&c);
  const char *dst = cur_str(&c);
  return !c.err && strspn(dst, "/") == strlen(dst);
}

/* runc's pivot_root(".", "."): the old root ends up stacked on the new one and is lazily detached,
 * with no put_old directory needed in the image. */
static void pivot(int rootfd, const char *rootfs) {
  if (fchdir(rootfd) < 0) die(errno, "fchdir %s", rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die(errno, "pivot_root %s", rootfs);
  /* Slave first, so that detaching the old root's mounts does not unmount them on the host. */
  if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) die(errno, "mount rslave old root on %s", rootfs);
  if (umount2(".", MNT_DETACH) < 0) die(errno, "umount2 old root on %s", rootfs);
}

/* runc --no-pivot: for roots that cannot pivot (initramfs); the host mounts stay reachable below. */
static void move_root(int rootfd, const char *rootfs) {
  if (fchdir(rootfd) < 0) die(errno, "fchdir %s", rootfs);
  if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0) die(errno, "mount move %s on /", rootfs);
  if (chroot(".") < 0) die(errno, "chroot %s", rootfs);
}

void rootfs_setup(const struct blob *b) {
  struct blob_rec r;
  if (!blob_find(b, TSBOX_T_ROOTFS, &r)) die(EINVAL, "config blob: no rootfs record");
  /* Without symlinks, so that it compares with mountinfo and walks up to the right parent mount. */
  static char rootfs[PATH_MAX];
  const char *given = rec_str(&r, "rootfs");
  if (!realpath(given, rootfs)) die(errno, "realpath rootfs %s", given);
  unsigned long prop = MS_REC | MS_SLAVE;
  if (blob_find(b, TSBOX_T_ROOT_PROPAGATION, &r)) {
    struct blob_cur c = blob_cur(&r);
    prop = cur_u32(&c);
    if (c.err) die(EINVAL, "config blob: truncated root propagation record");
  }

  if (mount(NULL, "/", NULL, prop, NULL) < 0) die(errno, "mount propagation %#lx on /", prop);
  parent_mount_private(rootfs);
  if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) die(errno, "mount bind %s on %s", rootfs, rootfs);
  int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) die(errno, "open %s", rootfs);

  size_t off = 0;
  while (blob_next(b, &off, &r)) {
    if (r.tag != TSBOX_T_DEVICE && r.tag != TSBOX_T_SYMLINK) devices_forget_parent();
    switch (r.tag) {
      case TSBOX_T_MOUNT:
        mount_record(rootfd, rootfs, &r);
        /* A mount over the root itself (an overlay on "/") becomes the new top: later records and
         * pivot_root must see it, not the directory it covers. */
        if (mount_targets_root(&r)) {
          close(rootfd);
          if ((rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) die(errno, "open %s", rootfs);
        }
        break;
      case TSBOX_T_DEVICE: device_create(rootfd, rootfs, &r); break;
      case TSBOX_T_MKDIR: mkdir_record(rootfd, rootfs, &r); break;
      case TSBOX_T_SYMLINK: symlink_create(rootfd, rootfs, &r); break;
      default: break;
    }
  }
  devices_forget_parent();

  /* The parent's createRuntime and prestart hooks, then createContainer's: in the container's namespaces,
   * its mounts made, the host's root still there. */
  hooks_sync_parent(b);
  if (chdir(rootfs) < 0) die(errno, "chdir %s", rootfs);
  hooks_run(b, TSBOX_HOOK_CREATE_CONTAINER);

  if (blob_find(b, TSBOX_T_NO_PIVOT, &r)) move_root(rootfd, rootfs);
  else pivot(rootfd, rootfs);
  close(rootfd);
  if (chdir("/") < 0) die(errno, "chdir / in %s", rootfs);
  /* Shared or slave is applied to the new / only now, so that it never reaches the host's mounts;
   * private is already the case (as in runc). */
  if (!(prop & MS_PRIVATE) && mu_propagate("/", prop) < 0) die(errno, "mount propagation %#lx on / in %s", prop, rootfs);
}

/* No mount namespace of its own (runc's chroot case): the process is confined to root.path, and the
 * spec may ask for nothing that would need mounts. */
void rootfs_chroot(const struct blob *b) {
  struct blob_rec r;
  blob_find(b, TSBOX_T_CHROOT, &r);
  const char *root = rec_str(&r, "chroot");
  if (chdir(root) < 0) die(errno, "chdir %s", root);
  if (chroot(".") < 0) die(errno, "chroot %s", root);
  if (chdir("/") < 0) die(errno, "chdir / in %s", root);
}

/* Directories get an empty read-only tmpfs, anything else /dev/null. */
static void mask_path(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) {
    if (errno == ENOENT) return;
    die(errno, "stat masked path %s", path);
  }
  if (S_ISDIR(st.st_mode)) {
    if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0) die(errno, "mount tmpfs on %s", path);
  } else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
    die(errno, "mount bind /dev/null on %s", path);
  }
}

static void readonly_path(const char *path) {
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
    if (errno == ENOENT) return;
    die(errno, "mount bind %s on %s", path, path);
  }
  if (mu_remount_bind(path, MS_RDONLY) < 0) die(errno, "remount read-only %s", path);
}

void rootfs_finalize(const struct blob *b) {
  struct blob_rec r;
  size_t off = 0;
  while (blob_next(b, &off, &r)) {
    if (r.tag == TSBOX_T_MASKED_PATH) mask_path(rec_str(&r, "masked path"));
    else if (r.tag == TSBOX_T_READONLY_PATH) readonly_path(rec_str(&r, "readonly path"));
  }
  if (blob_find(b, TSBOX_T_ROOT_READONLY, &r) && mu_remount_bind("/", MS_RDONLY) < 0)
    die(errno, "remount read-only /");
}
