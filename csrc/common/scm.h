/* Sending one fd over a unix socket (SCM_RIGHTS): shared by the addon (sendFd) and tsbox-init (the
 * console socket). Header-only, so each binary keeps building from its own directory. */
#ifndef TSBOX_COMMON_SCM_H
#define TSBOX_COMMON_SCM_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* One message carrying fd and data (at least one byte: an empty payload would not be delivered).
 * MSG_NOSIGNAL: a gone peer is EPIPE, never a signal. Returns 0, or -1 with errno set. */
static inline int scm_send_fd(int sock, int fd, const void *data, size_t len) {
  static const char zero = 0;
  struct iovec iov = {.iov_base = (void *)(len ? data : &zero), .iov_len = len ? len : 1};
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
  return n < 0 ? -1 : 0;
}

#endif
