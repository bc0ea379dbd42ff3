/* Small system calls Node lacks: flock, unix sockets with SCM_RIGHTS, pty size, pidfds, mount, fifos. */
#define _GNU_SOURCE
#include "fdutil.h"
#include "init_memfd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

napi_value addon_flock(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t fd, op;
  if (!arg_int(env, argv[0], "fd", &fd) || !arg_int(env, argv[1], "op", &op)) return NULL;
  int rc;
  do rc = flock(fd, op);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    if (errno == EWOULDBLOCK && (op & LOCK_NB)) return make_bool(env, false);
    return throw_errno(env, errno, "flock fd %d", fd);
  }
  return make_bool(env, true);
}

napi_value addon_unix_connect(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    napi_value r = throw_errno(env, ENAMETOOLONG, "connect %s", path);
    free(path);
    return r;
  }
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    napi_value r = throw_errno(env, e, "connect %s", path);
    free(path);
    return r;
  }
  free(path);
  return make_int(env, fd);
}

napi_value addon_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, errno, "socketpair");
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, make_int(env, sv[0]));
  napi_set_element(env, arr, 1, make_int(env, sv[1]));
  return arr;
}

napi_value addon_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return throw_errno(env, errno, "pipe2");
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, make_int(env, p[0]));
  napi_set_element(env, arr, 1, make_int(env, p[1]));
  return arr;
}

napi_value addon_recv_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t sock;
  if (!arg_int(env, argv[0], "sock", &sock)) return NULL;
  char data[4096];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "recvmsg fd %d", sock);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return throw_errno(env, EBADMSG, "recvmsg fd %d: no file descriptor in the message", sock);
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return make_int(env, fd);
}

napi_value addon_send_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t sock, fd;
  if (!arg_int(env, argv[0], "sock", &sock) || !arg_int(env, argv[1], "fd", &fd)) return NULL;
  char byte = 0;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "sendmsg fd %d", sock);
  return NULL;
}

napi_value addon_set_winsize(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int32_t fd, rows, cols;
  if (!arg_int(env, argv[0], "fd", &fd) || !arg_int(env, argv[1], "rows", &rows) || !arg_int(env, argv[2], "cols", &cols)) return NULL;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return throw_errno(env, errno, "ioctl TIOCSWINSZ fd %d", fd);
  return NULL;
}

napi_value addon_pidfd_open(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t pid;
  if (!arg_int(env, argv[0], "pid", &pid)) return NULL;
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return throw_errno(env, errno, "pidfd_open %d", pid);
  /* pidfds are O_CLOEXEC from the kernel. */
  return make_int(env, fd);
}

napi_value addon_pidfd_signal(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t fd, sig;
  if (!arg_int(env, argv[0], "pidfd", &fd) || !arg_int(env, argv[1], "signal", &sig)) return NULL;
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) return throw_errno(env, errno, "pidfd_send_signal %d", sig);
  return NULL;
}

napi_value addon_mount(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  char *src = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  uint32_t flags;
  napi_value r = NULL;
  if (arg_str(env, argv[0], "source", true, &src) && arg_str(env, argv[1], "target", false, &target) &&
      arg_str(env, argv[2], "fstype", true, &fstype) && arg_uint(env, argv[3], "flags", &flags) && arg_str(env, argv[4], "data", true, &data)) {
    if (mount(src, target, fstype, flags, data) < 0) r = throw_errno(env, errno, "mount %s on %s", fstype ? fstype : (src ? src : "none"), target);
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
  if (!arg_str(env, argv[0], "target", false, &target) || !arg_int(env, argv[1], "flags", &flags)) return NULL;
  napi_value r = NULL;
  if (umount2(target, flags) < 0) r = throw_errno(env, errno, "umount %s", target);
  free(target);
  return r;
}

napi_value addon_mkfifo(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char *path;
  uint32_t mode;
  if (!arg_str(env, argv[0], "path", false, &path) || !arg_uint(env, argv[1], "mode", &mode)) return NULL;
  napi_value r = NULL;
  if (mkfifo(path, mode) < 0) r = throw_errno(env, errno, "mkfifo %s", path);
  free(path);
  return r;
}

napi_value addon_mknod(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char *path;
  uint32_t mode, major, minor;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  if (!arg_uint(env, argv[1], "mode", &mode) || !arg_uint(env, argv[2], "major", &major) || !arg_uint(env, argv[3], "minor", &minor)) {
    free(path);
    return NULL;
  }
  napi_value r = NULL;
  if (mknod(path, mode, makedev(major, minor)) < 0) r = throw_errno(env, errno, "mknod %s", path);
  free(path);
  return r;
}

napi_value addon_setxattr(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char *path, *name;
  bool is_buf;
  void *val;
  size_t len;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  if (!arg_str(env, argv[1], "name", false, &name)) {
    free(path);
    return NULL;
  }
  napi_value r = NULL;
  if (napi_is_buffer(env, argv[2], &is_buf) != napi_ok || !is_buf) {
    r = throw_type(env, "value must be a Buffer");
  } else {
    napi_get_buffer_info(env, argv[2], &val, &len);
    /* lsetxattr: never follow a symlink out of an image layer. */
    if (syscall(SYS_lsetxattr, path, name, val, len, 0) < 0) r = throw_errno(env, errno, "lsetxattr %s %s", name, path);
  }
  free(path);
  free(name);
  return r;
}

napi_value addon_init_fd(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = init_memfd();
  if (fd < 0) return throw_errno(env, -fd, "memfd_create tsbox-init");
  return make_int(env, fd);
}
