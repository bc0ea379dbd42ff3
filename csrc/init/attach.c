/* The monitor's attach socket (attach.h). */
#define _GNU_SOURCE
#include "attach.h"
#include "report.h"
#include "../common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <unistd.h>

/* Above every fd number config.h gives a meaning, as the logger's. */
static int high(int fd) {
  if (fd < 0) return -1;
  int h = fcntl(fd, F_DUPFD_CLOEXEC, TSBOX_FD_EXTRA + TSBOX_MAX_EXTRA);
  close(fd);
  return h;
}

void attach_open(struct attach *a, const struct blob *b) {
  a->active = 0;
  a->lsock = a->stdin_r = a->stdin_w = -1;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) a->client[i] = -1;
  struct blob_rec r;
  if (!blob_find(b, TSBOX_T_ATTACH, &r)) return;
  struct blob_cur c = blob_cur(&r);
  const char *path = cur_str(&c);
  uint32_t flags = cur_u32(&c);
  if (c.err || strlen(path) >= sizeof a->path) return;
  a->active = 1;
  if (flags & 1) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) {
      a->stdin_r = high(p[0]);
      a->stdin_w = high(p[1]);
    }
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, path);
  unlink(path);
  /* Only its owner (root, or the rootless user) may connect: the socket is the container's stdin. */
  mode_t old = umask(0177);
  int ok = bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(s, ATTACH_MAX_CLIENTS) == 0;
  umask(old);
  if (!ok) {
    close(s);
    return;
  }
  strcpy(a->path, path);
  a->lsock = high(s);
}

void attach_child(struct attach *a) {
  if (a->stdin_r >= 0 && dup2(a->stdin_r, STDIN_FILENO) < 0) _exit(126);
}

void attach_parent(struct attach *a) {
  if (a->stdin_r >= 0) close(a->stdin_r);
  a->stdin_r = -1;
  /* Writes to a full pipe are dropped rather than stall the log. */
  if (a->stdin_w >= 0) fcntl(a->stdin_w, F_SETFL, O_NONBLOCK);
}

int attach_fds(const struct attach *a, int *out) {
  int n = 0;
  if (a->lsock >= 0) out[n++] = a->lsock;
  if (a->stdin_r >= 0) out[n++] = a->stdin_r;
  if (a->stdin_w >= 0) out[n++] = a->stdin_w;
  return n;
}

int attach_poll(const struct attach *a, struct pollfd *pf, int n) {
  pf[n++] = (struct pollfd){.fd = a->lsock, .events = POLLIN};
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) pf[n++] = (struct pollfd){.fd = a->client[i], .events = POLLIN};
  return n;
}

static void drop(struct attach *a, int i) {
  close(a->client[i]);
  a->client[i] = -1;
}

void attach_events(struct attach *a, const struct pollfd *pf, int first, int last) {
  (void)last;
  if (a->lsock >= 0 && (pf[first].revents & POLLIN)) {
    int c = accept4(a->lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c >= 0) {
      int i = 0;
      while (i < ATTACH_MAX_CLIENTS && a->client[i] >= 0) i++;
      if (i == ATTACH_MAX_CLIENTS) close(c);
      else a->client[i] = high(c);
    }
  }
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    short ev = pf[first + 1 + i].revents;
    if (a->client[i] < 0 || !ev) continue;
    char buf[4096];
    ssize_t n = read(a->client[i], buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      drop(a, i);
      continue;
    }
    /* The client's input: the container's stdin, if it has one open; else it goes nowhere. */
    if (a->stdin_w >= 0) {
      ssize_t w = write(a->stdin_w, buf, (size_t)n);
      (void)w;
    }
  }
}

void attach_broadcast(struct attach *a, int s, const char *data, size_t n) {
  if (!a || !a->active || !n) return;
  unsigned char h[8] = {(unsigned char)(s + 1), 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    if (a->client[i] < 0) continue;
    struct iovec v[2] = {{h, 8}, {(void *)data, n}};
    struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
    /* A client too slow to take a whole frame now loses the stream (its frames would be cut). */
    if (sendmsg(a->client[i], &m, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(n + 8)) drop(a, i);
  }
}

void attach_close(struct attach *a) {
  if (a && a->path[0]) unlink(a->path);
}
