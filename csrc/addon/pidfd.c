/* pidfdOpen/pidfdSignal: signals that cannot hit a recycled pid. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

napi_value addon_pidfd_open(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t pid;
  if (!arg_int(env, argv[0], "pid", &pid)) return NULL;
  /* The kernel makes pidfds O_CLOEXEC. */
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return throw_errno(env, errno, "pidfd_open pid %d", pid);
  return make_int(env, fd);
}

napi_value addon_pidfd_signal(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t fd, sig;
  if (!arg_int(env, argv[0], "pidfd", &fd) || !arg_int(env, argv[1], "signal", &sig)) return NULL;
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) return throw_errno(env, errno, "pidfd_send_signal fd %d signal %d", fd, sig);
  return NULL;
}
