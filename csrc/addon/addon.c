/* The tsbox Node-API module: registers the functions typed in ts/native.ts. */
#include "fdutil.h"
#include "seccomp_compile.h"
#include "spawn.h"
#include "waiter.h"

static napi_value init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {
      {"spawn", addon_spawn},
      {"watch", addon_watch},
      {"pidfdOpen", addon_pidfd_open},
      {"pidfdSignal", addon_pidfd_signal},
      {"mount", addon_mount},
      {"umount", addon_umount},
      {"flock", addon_flock},
      {"seccompCompile", addon_seccomp_compile},
      {"unixConnect", addon_unix_connect},
      {"socketpair", addon_socketpair},
      {"pipe", addon_pipe},
      {"recvFd", addon_recv_fd},
      {"sendFd", addon_send_fd},
      {"setWinsize", addon_set_winsize},
      {"mkfifo", addon_mkfifo},
      {"mknod", addon_mknod},
      {"lsetxattr", addon_setxattr},
      {"initFd", addon_init_fd},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
