/* The monitor's attach socket (attach.h). */
#define _GNU_SOURCE
#include "attach.h"
#include "report.h"
#include "logger.h"
#include "../common/scm.h"
#include "../common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <termios.h>

/* Above every fd number config.h gives a meaning, as the logger's. */
static int high(int fd) {
  if (fd < 0) return -1;
  int h = fcntl(fd, F_DUPFD_CLOEXEC, TSBOX_FD_EXTRA + TSBOX_MAX_EXTRA);
  close(fd);
  return h;
}

void attach_open(struct attach *a, const struct blob *b) {
  a->active = 0;
  a->lsock = a->stdin_r = a->stdin_w = a->cons_mine = a->cons_child = a->master = -1;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) a->client[i] = -1, a->inlen[i] = 0, a->started[i] = 0;
  struct blob_rec r;
  if (!blob_find(b, TSBOX_T_ATTACH, &r)) return;
  struct blob_cur c = blob_cur(&r);
  const char *path = cur_str(&c);
  uint32_t flags = cur_u32(&c);
  if (c.err || strlen(path) >= sizeof a->path) return;
  a->active = 1;
  if (flags & 2) {
    /* The container's tsbox-init sends its terminal's master to TSBOX_FD_CONSOLE: ours, not the caller's. */
    int cs[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) == 0) {
      a->cons_mine = high(cs[0]);
      a->cons_child = high(cs[1]);
    }
  } else if (flags & 1) {
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
  if (a->cons_child >= 0 && dup2(a->cons_child, TSBOX_FD_CONSOLE) < 0) _exit(126);
}

void attach_parent(struct attach *a) {
  if (a->stdin_r >= 0) close(a->stdin_r);
  a->stdin_r = -1;
  if (a->cons_child >= 0) close(a->cons_child);
  a->cons_child = -1;
  /* Writes to a full pipe are dropped rather than stall the log. */
  if (a->stdin_w >= 0) fcntl(a->stdin_w, F_SETFL, O_NONBLOCK);
}

int attach_fds(const struct attach *a, int *out) {
  int n = 0;
  if (a->lsock >= 0) out[n++] = a->lsock;
  if (a->stdin_r >= 0) out[n++] = a->stdin_r;
  if (a->stdin_w >= 0) out[n++] = a->stdin_w;
  if (a->cons_mine >= 0) out[n++] = a->cons_mine;
  return n;
}

static void drop(struct attach *a, int i) {
  close(a->client[i]);
  a->client[i] = -1;
  a->inlen[i] = 0;
  a->started[i] = 0;
}

int attach_poll(const struct attach *a, struct pollfd *pf, int n) {
  pf[n++] = (struct pollfd){.fd = a->cons_mine, .events = POLLIN};
  pf[n++] = (struct pollfd){.fd = a->master, .events = POLLIN};
  pf[n++] = (struct pollfd){.fd = a->lsock, .events = POLLIN};
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) pf[n++] = (struct pollfd){.fd = a->client[i], .events = POLLIN};
  return n;
}


/* One whole frame from a client: input, or a terminal size. */
static void frame(struct attach *a, int i, int type, const unsigned char *p, size_t n) {
  if (type == 2 || type == 3) {
    /* Under one poll iteration: nothing is broadcast between the kept output and the live one. */
    a->started[i] = 1;
    if (type == 2 && a->ring_len && send(a->client[i], a->ring, a->ring_len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)a->ring_len) drop(a, i);
    return;
  }
  if (type == 1 && n == 4 && a->master >= 0) {
    struct winsize ws = {.ws_row = (unsigned short)(p[0] << 8 | p[1]), .ws_col = (unsigned short)(p[2] << 8 | p[3])};
    ioctl(a->master, TIOCSWINSZ, &ws);
    return;
  }
  if (type == 4) {
    /* The client's input ended (docker's StdinOnce): the container reads EOF. A terminal has no EOF to give. */
    if (a->stdin_w >= 0) close(a->stdin_w);
    a->stdin_w = -1;
    return;
  }
  if (type != 0) return;
  /* To the terminal, or the container's stdin if it has one open; else nowhere. Never blocking the log. */
  int to = a->master >= 0 ? a->master : a->stdin_w;
  if (to >= 0) {
    ssize_t w = write(to, p, n);
    (void)w;
  }
}

void attach_events(struct attach *a, struct logger *log, const struct pollfd *pf, int first, int last) {
  (void)last;
  if (a->cons_mine >= 0 && (pf[first].revents & (POLLIN | POLLHUP))) {
    int fd = -1;
    char data[128];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    if (recvmsg(a->cons_mine, &m, MSG_CMSG_CLOEXEC) > 0) {
      struct cmsghdr *c = CMSG_FIRSTHDR(&m);
      if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof fd);
    }
    close(a->cons_mine);
    a->cons_mine = -1;
    if (fd >= 0) {
      a->master = high(fd);
      fcntl(a->master, F_SETFL, O_NONBLOCK);
    }
  }
  if (a->master >= 0 && (pf[first + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
    if (!logger_read_fd(log, a->master)) {
      close(a->master);
      a->master = -1;
    }
  }
  first += 2;
  if (a->lsock >= 0 && (pf[first].revents & POLLIN)) {
    int c = accept4(a->lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c >= 0) {
      int i = 0;
      while (i < ATTACH_MAX_CLIENTS && a->client[i] >= 0) i++;
      if (i == ATTACH_MAX_CLIENTS) close(c);
      else a->client[i] = high(c), a->inlen[i] = 0, a->started[i] = 0;
    }
  }
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    short ev = pf[first + 1 + i].revents;
    if (a->client[i] < 0 || !ev) continue;
    ssize_t n = read(a->client[i], a->in[i] + a->inlen[i], sizeof a->in[i] - a->inlen[i]);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      drop(a, i);
      continue;
    }
    a->inlen[i] += (size_t)n;
    while (a->inlen[i] >= 8) {
      const unsigned char *h = a->in[i];
      size_t len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
      if (len > sizeof a->in[i] - 8) {
        drop(a, i); /* not the protocol */
        break;
      }
      if (a->inlen[i] < 8 + len) break;
      frame(a, i, h[0], h + 8, len);
      if (a->client[i] < 0) break;
      memmove(a->in[i], a->in[i] + 8 + len, a->inlen[i] - 8 - len);
      a->inlen[i] -= 8 + len;
    }
  }
}

void attach_drain(struct attach *a, struct logger *log) {
  if (a && a->master >= 0) logger_read_fd(log, a->master);
}

void attach_broadcast(struct attach *a, int s, const char *data, size_t n) {
  if (!a || !a->active || !n) return;
  unsigned char h[8] = {(unsigned char)(s + 1), 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
  /* Kept for later clients: whole frames, the oldest dropped to make room. */
  if (n + 8 <= sizeof a->ring) {
    while (a->ring_len + n + 8 > sizeof a->ring) {
      size_t first = 8 + ((size_t)a->ring[4] << 24 | (size_t)a->ring[5] << 16 | (size_t)a->ring[6] << 8 | a->ring[7]);
      memmove(a->ring, a->ring + first, a->ring_len - first);
      a->ring_len -= first;
    }
    memcpy(a->ring + a->ring_len, h, 8);
    memcpy(a->ring + a->ring_len + 8, data, n);
    a->ring_len += n + 8;
  }
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    if (a->client[i] < 0 || !a->started[i]) continue;
    struct iovec v[2] = {{h, 8}, {(void *)data, n}};
    struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
    /* A client too slow to take a whole frame now loses the stream (its frames would be cut). */
    if (sendmsg(a->client[i], &m, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(n + 8)) drop(a, i);
  }
}

void attach_close(struct attach *a) {
  if (a && a->path[0]) unlink(a->path);
}
