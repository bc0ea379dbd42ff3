/* Creating special files Node cannot: fifos, device nodes, and extended attributes that must not
 * follow a symlink (image layers may hold hostile links); and chattr's +T on a directory. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

napi_value addon_mkfifo(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path;
  uint32_t mode;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  napi_value r = NULL;
  if (arg_uint(env, argv[1], "mode", &mode) && mkfifo(path, mode) < 0) r = throw_errno(env, errno, "mkfifo %s", path);
  free(path);
  return r;
}

napi_value addon_mknod(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char *path;
  uint32_t mode, major, minor;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  napi_value r = NULL;
  if (arg_uint(env, argv[1], "mode", &mode) && arg_uint(env, argv[2], "major", &major) &&
      arg_uint(env, argv[3], "minor", &minor) && mknod(path, mode, makedev(major, minor)) < 0)
    r = throw_errno(env, errno, "mknod %s", path);
  free(path);
  return r;
}

napi_value addon_lsetxattr(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char *path = NULL, *name = NULL;
  void *val;
  size_t len;
  napi_value r = NULL;
  if (arg_str(env, argv[0], "path", false, &path) && arg_str(env, argv[1], "name", false, &name) &&
      arg_buffer(env, argv[2], "value", &val, &len) && lsetxattr(path, name, val, len, 0) < 0)
    r = throw_errno(env, errno, "lsetxattr %s %s", name, path);
  free(path);
  free(name);
  return r;
}

/* chattr +T: ext2/3/4 place each directory made below this one as they place those made in the
 * filesystem's root, in a block group with room to spare (ts/images/store.ts says why that matters).
 * In the addon rather than by running chattr: a fork of Node and an exec for one ioctl. */
napi_value addon_mark_top_dir(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  napi_value r = NULL;
  int flags = 0;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) r = throw_errno(env, errno, "open %s", path);
  else if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) r = throw_errno(env, errno, "ioctl FS_IOC_GETFLAGS %s", path);
  else if (!(flags & FS_TOPDIR_FL)) {
    flags |= FS_TOPDIR_FL;
    if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) r = throw_errno(env, errno, "ioctl FS_IOC_SETFLAGS %s", path);
  }
  if (fd >= 0) close(fd);
  free(path);
  return r;
}
