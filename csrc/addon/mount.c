/* mount(2) and umount2(2), for the runtime's own mounts on the host (rootfs, state dirs, tests). */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mount.h>

napi_value addon_mount(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  char *src = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  uint32_t flags;
  napi_value r = NULL;
  if (arg_str(env, argv[0], "source", true, &src) && arg_str(env, argv[1], "target", false, &target) &&
      arg_str(env, argv[2], "fstype", true, &fstype) && arg_uint(env, argv[3], "flags", &flags) &&
      arg_str(env, argv[4], "data", true, &data)) {
    if (mount(src, target, fstype, flags, data) < 0)
      r = throw_errno(env, errno, "mount %s on %s", src ? src : (fstype ? fstype : "none"), target);
  }
  free(src);
  free(target);
  free(fstype);
  free(data);
  return r;
}

napi_value addon_umount(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *target;
  int32_t flags;
  if (!arg_str(env, argv[0], "target", false, &target)) return NULL;
  napi_value r = NULL;
  if (arg_int(env, argv[1], "flags", &flags) && umount2(target, flags) < 0) r = throw_errno(env, errno, "umount2 %s", target);
  free(target);
  return r;
}
