/* Device nodes and the symlinks around them (/dev/ptmx, /dev/fd), created inside the container root. */
#ifndef TSBOX_INIT_DEVICES_H
#define TSBOX_INIT_DEVICES_H

#include "blob.h"

/* TSBOX_T_DEVICE: mknod under rootfd (an O_PATH fd of the rootfs, host path rootfs for messages).
 * Where mknod is refused (user namespace), the host node of the same path is bind-mounted instead.
 * An existing node is left alone. Dies on failure. */
void device_create(int rootfd, const char *rootfs, const struct blob_rec *r);

/* TSBOX_T_SYMLINK: creates the link, replacing an existing non-directory (e.g. a /dev/ptmx node). */
void symlink_create(int rootfd, const char *rootfs, const struct blob_rec *r);

/* Both keep the parent directory of what they made for the next record in the same one: to be called
 * after any other record (a mount may cover that directory) and when done. */
void devices_forget_parent(void);

#endif
