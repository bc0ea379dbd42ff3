#ifndef TSBOX_ADDON_FDUTIL_H
#define TSBOX_ADDON_FDUTIL_H
#include "napi_util.h"
napi_value addon_flock(napi_env env, napi_callback_info info);
napi_value addon_unix_connect(napi_env env, napi_callback_info info);
napi_value addon_socketpair(napi_env env, napi_callback_info info);
napi_value addon_pipe(napi_env env, napi_callback_info info);
napi_value addon_recv_fd(napi_env env, napi_callback_info info);
napi_value addon_send_fd(napi_env env, napi_callback_info info);
napi_value addon_set_winsize(napi_env env, napi_callback_info info);
napi_value addon_pidfd_open(napi_env env, napi_callback_info info);
napi_value addon_pidfd_signal(napi_env env, napi_callback_info info);
napi_value addon_mount(napi_env env, napi_callback_info info);
napi_value addon_umount(napi_env env, napi_callback_info info);
napi_value addon_mkfifo(napi_env env, napi_callback_info info);
napi_value addon_mknod(napi_env env, napi_callback_info info);
napi_value addon_setxattr(napi_env env, napi_callback_info info);
napi_value addon_init_fd(napi_env env, napi_callback_info info);
#endif
