#define _GNU_SOURCE
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void grow(struct wmsg *m, size_t more) {
  if (m->oom) return;
  if (m->len + more <= m->cap) return;
  size_t cap = m->cap ? m->cap : 4096;
  while (cap < m->len + more) cap *= 2;
  char *b = realloc(m->buf, cap);
  if (!b) {
    m->oom = true;
    return;
  }
  m->buf = b;
  m->cap = cap;
}

void wmsg_start(struct wmsg *m, char type) {
  memset(m, 0, sizeof *m);
  grow(m, 1);
  if (!m->oom) m->buf[m->len++] = type;
}

void wmsg_field(struct wmsg *m, const void *data, size_t len) {
  grow(m, 4 + len);
  if (m->oom) return;
  uint32_t n = (uint32_t)len;
  unsigned char *p = (unsigned char *)m->buf + m->len;
  p[0] = (unsigned char)n, p[1] = (unsigned char)(n >> 8), p[2] = (unsigned char)(n >> 16), p[3] = (unsigned char)(n >> 24);
  if (len) memcpy(p + 4, data, len);
  m->len += 4 + len;
}

void wmsg_str(struct wmsg *m, const char *s) { wmsg_field(m, s, strlen(s)); }

void wmsg_num(struct wmsg *m, long long v) {
  char b[24];
  int n = snprintf(b, sizeof b, "%lld", v);
  wmsg_field(m, b, (size_t)n);
}

union cmsg_fds {
  char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
  struct cmsghdr align;
};

int wmsg_send(int sock, struct wmsg *m, const int *fds, int nfds) {
  int r = 0;
  if (m->oom) r = -ENOMEM;
  else if (m->len > WIRE_MAX || nfds > WIRE_MAX_FDS) r = -EMSGSIZE;
  if (r) goto out;
  struct iovec iov = {.iov_base = m->buf, .iov_len = m->len};
  union cmsg_fds u;
  memset(&u, 0, sizeof u);
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    mh.msg_control = u.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
  }
  ssize_t n;
  do n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) r = -errno;
out:
  free(m->buf);
  memset(m, 0, sizeof *m);
  return r;
}

int wire_recv(int sock, char *buf, struct rmsg *m) {
  struct iovec iov = {.iov_base = buf, .iov_len = WIRE_MAX};
  union cmsg_fds u;
  memset(&u, 0, sizeof u);
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t n;
  do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  m->nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (m->nfds < WIRE_MAX_FDS) m->fds[m->nfds++] = fd;
      else close(fd);
    }
  }
  if (n == 0 && m->nfds == 0) return 0;
  bool bad = n < 1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
  m->type = n > 0 ? buf[0] : 0;
  m->nfields = 0;
  size_t off = 1;
  while (!bad && off < (size_t)n) {
    if ((size_t)n - off < 4 || m->nfields == (int)(sizeof m->field / sizeof m->field[0])) {
      bad = true;
      break;
    }
    const unsigned char *p = (const unsigned char *)buf + off;
    uint32_t len = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    off += 4;
    if (len > (size_t)n - off) {
      bad = true;
      break;
    }
    m->field[m->nfields] = buf + off;
    m->flen[m->nfields++] = len;
    off += len;
  }
  if (bad) {
    for (int i = 0; i < m->nfds; i++) close(m->fds[i]);
    m->nfds = 0;
    return -EPROTO;
  }
  return 1;
}

bool rmsg_str(const struct rmsg *m, int i, char *out, size_t size) {
  if (i >= m->nfields || m->flen[i] >= size || memchr(m->field[i], 0, m->flen[i])) return false;
  memcpy(out, m->field[i], m->flen[i]);
  out[m->flen[i]] = 0;
  return true;
}

bool rmsg_num(const struct rmsg *m, int i, long long *out) {
  char b[24], *end;
  if (!rmsg_str(m, i, b, sizeof b) || !b[0]) return false;
  errno = 0;
  *out = strtoll(b, &end, 10);
  return !*end && !errno;
}
