#define _GNU_SOURCE
#include "wire.h"
#include "../common/scm.h"

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

int wmsg_send(int sock, struct wmsg *m, const int *fds, int nfds) {
  int r = 0;
  if (m->oom) r = -ENOMEM;
  else if (m->len > WIRE_MAX || nfds > WIRE_MAX_FDS) r = -EMSGSIZE;
  if (r) goto out;
  r = scm_send(sock, m->buf, m->len, fds, nfds);
out:
  free(m->buf);
  memset(m, 0, sizeof *m);
  return r;
}

int wire_recv(int sock, char *buf, struct rmsg *m) {
  int cut;
  ssize_t n = scm_recv(sock, buf, WIRE_MAX, m->fds, WIRE_MAX_FDS, &m->nfds, &cut);
  if (n < 0) return (int)n;
  if (n == 0 && m->nfds == 0) return 0;
  bool bad = n < 1 || cut;
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
