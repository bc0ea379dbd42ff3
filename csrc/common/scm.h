/* Fds over a unix socket (SCM_RIGHTS): shared by the addon (sendFd, recvFd, the runtime server's
 * messages), the tsbox-runtime client and tsbox-init (the console socket). Header-only, so each binary keeps building from its own directory. */
#ifndef TSBOX_COMMON_SCM_H
#define TSBOX_COMMON_SCM_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Every SCM_RIGHTS message of tsbox carries at most this many fds. */
#define SCM_MAX_FDS 64

union scm_cmsg {
  char buf[CMSG_SPACE(sizeof(int) * SCM_MAX_FDS)];
  struct cmsghdr align;
};

/* Socket buffers of size bytes each way, so that one message that large fits: SO_*BUFFORCE where we may
 * (CAP_NET_ADMIN), else as far as net.core.[wr]mem_max allows. */
static inline void scm_bufsize(int fd, int size) {
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

/* One message: len bytes of data (0 is a message too on SOCK_SEQPACKET) and nfds fds (at most
 * SCM_MAX_FDS). MSG_NOSIGNAL: a gone peer is EPIPE, never a signal. Returns 0, or -errno. */
static inline int scm_send(int sock, const void *data, size_t len, const int *fds, int nfds) {
  static const char zero = 0;
  if (nfds < 0 || nfds > SCM_MAX_FDS) return -EMSGSIZE;
  struct iovec iov = {.iov_base = (void *)(len ? data : &zero), .iov_len = len};
  union scm_cmsg u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    msg.msg_control = u.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

/* One recvmsg (fds close-on-exec) into buf: the data's length (0 with no fd: the peer closed), or -errno.
 * The first max fds land in fds (*nfds of them), any more are closed; *cut is set when data or fds
 * did not fit (MSG_TRUNC, MSG_CTRUNC, more than max). */
static inline ssize_t scm_recv(int sock, void *buf, size_t size, int *fds, int max, int *nfds, int *cut) {
  struct iovec iov = {.iov_base = buf, .iov_len = size};
  union scm_cmsg u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  *nfds = 0;
  *cut = 0;
  if (n < 0) return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < max) fds[(*nfds)++] = fd;
      else close(fd), *cut = 1;
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) *cut = 1;
  return n;
}

/* One message carrying fd and data (at least one byte: on a stream socket an empty payload would not
 * be delivered). Returns 0, or -1 with errno set. */
static inline int scm_send_fd(int sock, int fd, const void *data, size_t len) {
  static const char zero = 0;
  int r = len ? scm_send(sock, data, len, &fd, 1) : scm_send(sock, &zero, 1, &fd, 1);
  if (r < 0) errno = -r;
  return r < 0 ? -1 : 0;
}

#endif
