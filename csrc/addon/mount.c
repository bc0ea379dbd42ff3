/* mount(2) and umount2(2), for the runtime's own mounts on the host (rootfs, state dirs, tests). */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif

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

/* openTree(path, recursive): open_tree(OPEN_TREE_CLONE), a detached copy of the mount at path. What a
 * container in a user namespace binds: a path it could not search itself, and a mount of another mount
 * namespace, which mount(MS_BIND) refuses there, while move_mount attaches a detached tree anywhere. */
napi_value addon_open_tree(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path;
  bool recursive = false;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  napi_get_value_bool(env, argv[1], &recursive);
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, flags);
  napi_value r = fd < 0 ? throw_errno(env, errno, "open_tree %s", path) : make_int(env, fd);
  free(path);
  return r;
}
