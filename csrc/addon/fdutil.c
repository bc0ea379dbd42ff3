/* File descriptor calls Node lacks: flock, pipes and unix sockets with SCM_RIGHTS, pty window size. */
#define _GNU_SOURCE
#include "../common/scm.h"
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
  napi_value r;
  if (strlen(path) >= sizeof sa.sun_path) {
    r = throw_errno(env, ENAMETOOLONG, "connect %s", path);
  } else {
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      r = throw_errno(env, errno, "socket AF_UNIX for %s", path);
    } else if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
      r = throw_errno(env, errno, "connect %s", path);
      close(fd);
    } else {
      r = make_int(env, fd);
    }
  }
  free(path);
  return r;
}

napi_value addon_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, errno, "socketpair AF_UNIX");
  return make_int_pair(env, sv[0], sv[1]);
}

napi_value addon_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return throw_errno(env, errno, "pipe2");
  return make_int_pair(env, p[0], p[1]);
}

/* close(2) for the fds the addon made: fs.closeSync on them in a worker thread warns ("closed but not
 * opened in unmanaged mode"), Node tracking only the fds its own fs opened there. */
napi_value addon_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  if (!arg_int(env, argv[0], "fd", &fd)) return NULL;
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close fd %d", fd);
  return NULL;
}

napi_value addon_recv_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t sock;
  if (!arg_int(env, argv[0], "sock", &sock)) return NULL;
  char data[256];
  int fd, nfds, cut;
  ssize_t n = scm_recv(sock, data, sizeof data, &fd, 1, &nfds, &cut);
  if (n < 0) return throw_errno(env, (int)-n, "recvmsg fd %d", sock);
  if (nfds != 1 || cut) {
    if (nfds) close(fd);
    return throw_errno(env, n == 0 && !nfds ? ECONNRESET : EBADMSG, "recvmsg fd %d SCM_RIGHTS", sock);
  }
  return make_int(env, fd);
}

napi_value addon_send_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t sock, fd;
  if (!arg_int(env, argv[0], "sock", &sock) || !arg_int(env, argv[1], "fd", &fd)) return NULL;
  if (scm_send_fd(sock, fd, NULL, 0) < 0) return throw_errno(env, errno, "sendmsg fd %d SCM_RIGHTS fd %d", sock, fd);
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
