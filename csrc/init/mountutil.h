/* Paths inside the container root, resolved so that no symlink can lead out of it, and mount flag helpers. */
#ifndef TSBOX_INIT_MOUNTUTIL_H
#define TSBOX_INIT_MOUNTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/types.h>

enum mu_create {
  MU_NONE = 0, /* resolve only */
  MU_DIR = 1,  /* create missing components as directories */
  MU_FILE = 2, /* same, but the last component becomes an empty regular file */
};

/* Per-mount flags a bind remount can change (everything else in a MS_* word is an operation or propagation). */
#define MU_MNT_FLAGS                                                                                    \
  (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME |           \
   MS_STRICTATIME | MS_NOSYMFOLLOW)
#define MU_PROPAGATION (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)

/* An O_PATH fd of path (a container path) under the directory rootfd, as if rootfd were "/":
 * symlinks and ".." are resolved inside it (openat2 RESOLVE_IN_ROOT). With MU_DIR / MU_FILE, missing
 * components are created one by one relative to their already resolved parent, following dangling
 * symlinks inside the root; the last one gets mode (intermediate directories 0755).
 * Returns -1 with errno set on failure. */
int mu_resolve(int rootfd, const char *path, enum mu_create create, mode_t mode);

/* The parent directory of path, created as needed, as an O_PATH fd; the last component goes to base.
 * Fails with EINVAL when path has no last component that could be created ("/", "..", "a/."). */
int mu_resolve_parent(int rootfd, const char *path, char *base, size_t basesz);

/* "/proc/self/fd/<fd>": a mount target naming exactly what fd refers to. */
const char *mu_fdpath(int fd, char buf[32]);

/* MS_RDONLY/NOSUID/NODEV/NOEXEC currently set on the mount at path (statvfs). In a user namespace
 * a bind remount must keep those the mount was created with, or the kernel answers EPERM. */
int mu_mount_flags(const char *path, unsigned long *flags);

/* mount(NULL, target, NULL, MS_BIND|MS_REMOUNT|flags|<current flags>): new per-mount flags on a bind. */
int mu_remount_bind(const char *target, unsigned long flags);

/* Makes the mount at target and every mount below it read-only (mount_setattr AT_RECURSIVE); a bind
 * remount only reaches the top one. Kernels without mount_setattr keep only the top one read-only. */
int mu_readonly_tree(const char *target);

/* mount_setattr(AT_RECURSIVE) with MOUNT_ATTR_* to set and to clear: the mount at target and every mount
 * below it (OCI rro, rnosuid...). Unlike mu_readonly_tree, a kernel without it is an error (ENOSYS). */
int mu_setattr_tree(const char *target, uint32_t set, uint32_t clr);

/* Applies each propagation type set in prop (with MS_REC if set) to the mount at target. */
int mu_propagate(const char *target, unsigned long prop);

#endif
