/* The functions exported to JS (typed in ts/native.ts), grouped by the file that implements them. */
#ifndef TSBOX_ADDON_H
#define TSBOX_ADDON_H

#include "napi.h"

#define TSBOX_FN(name) napi_value name(napi_env env, napi_callback_info info)

/* spawn.c */
TSBOX_FN(addon_spawn);
/* spawner.c */
TSBOX_FN(addon_spawn_async);
/* waiter.c */
TSBOX_FN(addon_watch);
/* pidfd.c */
TSBOX_FN(addon_pidfd_open);
TSBOX_FN(addon_pidfd_signal);
/* mount.c */
TSBOX_FN(addon_mount);
TSBOX_FN(addon_umount);
TSBOX_FN(addon_open_tree);
/* fsnode.c */
TSBOX_FN(addon_mkfifo);
TSBOX_FN(addon_mknod);
TSBOX_FN(addon_lsetxattr);
TSBOX_FN(addon_mark_top_dir);
/* fdutil.c */
TSBOX_FN(addon_flock);
TSBOX_FN(addon_unix_connect);
TSBOX_FN(addon_socketpair);
TSBOX_FN(addon_pipe);
TSBOX_FN(addon_close);
TSBOX_FN(addon_recv_fd);
TSBOX_FN(addon_send_fd);
TSBOX_FN(addon_set_winsize);
/* seccomp.c */
TSBOX_FN(addon_seccomp_compile);
TSBOX_FN(addon_seccomp_version);
/* bpf_devices.c */
TSBOX_FN(addon_device_filter);
/* rootfs_copy.c */
TSBOX_FN(addon_openat2);
TSBOX_FN(addon_copy_at);
/* spawn.c */
TSBOX_FN(addon_init_fd);
/* msg.c */
TSBOX_FN(addon_msg_listen);
TSBOX_FN(addon_msg_send);
TSBOX_FN(addon_msg_close);
TSBOX_FN(addon_peer_cred);
TSBOX_FN(addon_msg_connect);
TSBOX_FN(addon_msg_recv);

#endif
