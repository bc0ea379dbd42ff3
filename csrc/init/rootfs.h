/* The container's root filesystem: everything from mount propagation to pivot_root, then the final touches. */
#ifndef TSBOX_INIT_ROOTFS_H
#define TSBOX_INIT_ROOTFS_H

#include "blob.h"

/* Propagation of /, the rootfs bind, TSBOX_T_MOUNT / DEVICE / MKDIR / SYMLINK records in blob order,
 * then pivot_root (or chroot with TSBOX_T_NO_PIVOT). Afterwards cwd is the new / and the host is gone.
 * Dies (report.h) on any failure. Only called when the blob has TSBOX_T_ROOTFS. */
void rootfs_setup(const struct blob *b);

/* TSBOX_T_CHROOT: chroot into root.path, for a spec with no mount namespace of its own. */
void rootfs_chroot(const struct blob *b);

/* After hostname/sysctl/console: TSBOX_T_MASKED_PATH, TSBOX_T_READONLY_PATH, TSBOX_T_ROOT_READONLY. */
void rootfs_finalize(const struct blob *b);

#endif
