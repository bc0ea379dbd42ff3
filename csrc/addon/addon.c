/* Module registration: the functions typed in ts/native.ts. */
#include "addon.h"
#include "netns_pool.h"
#include "../common/spawn_core.h"

#include <stddef.h>

static const struct {
  const char *name;
  napi_callback cb;
} functions[] = {
    {"spawn", addon_spawn},
    {"spawnAsync", addon_spawn_async},
    {"watch", addon_watch},
    {"pidfdOpen", addon_pidfd_open},
    {"pidfdSignal", addon_pidfd_signal},
    {"mount", addon_mount},
    {"umount", addon_umount},
    {"openTree", addon_open_tree},
    {"flock", addon_flock},
    {"seccompCompile", addon_seccomp_compile},
    {"seccompVersion", addon_seccomp_version},
    {"unixConnect", addon_unix_connect},
    {"socketpair", addon_socketpair},
    {"recvFd", addon_recv_fd},
    {"sendFd", addon_send_fd},
    {"pipe", addon_pipe},
    {"close", addon_close},
    {"mkfifo", addon_mkfifo},
    {"mknod", addon_mknod},
    {"lsetxattr", addon_lsetxattr},
    {"markTopDir", addon_mark_top_dir},
    {"setWinsize", addon_set_winsize},
    {"initFd", addon_init_fd},
    {"deviceFilter", addon_device_filter},
    {"openat2", addon_openat2},
    {"copyAt", addon_copy_at},
    {"msgListen", addon_msg_listen},
    {"msgSend", addon_msg_send},
    {"msgClose", addon_msg_close},
    {"peerCred", addon_peer_cred},
    {"msgConnect", addon_msg_connect},
    {"msgRecv", addon_msg_recv},
};

/* NAPI_MODULE_INIT makes the module context-aware: it may load in worker threads too. All process-wide
 * state (the init memfd, the waiter and spawner threads) is created once and shared. */
NAPI_MODULE_INIT() {
  /* The addon makes network namespaces ahead on its spawner thread (netns_pool.c); the client does not. */
  spawn_take_netns = netns_pool_take;
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value f;
    if (napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].cb, NULL, &f) != napi_ok ||
        napi_set_named_property(env, exports, functions[i].name, f) != napi_ok)
      return NULL;
  }
  return exports;
}
