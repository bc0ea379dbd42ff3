/* The json-file log writer (see logger.h). */
#define _GNU_SOURCE
#include "logger.h"
#include "report.h"
#include "attach.h"
#include "../common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Above every fd number config.h gives a meaning: the monitor opens the log before its child looks for
 * its console, fifo and cgroup fds by number. */
static int high(int fd) {
  if (fd < 0) die(errno, "pipe2 for the log");
  int h = fcntl(fd, F_DUPFD_CLOEXEC, TSBOX_FD_EXTRA + TSBOX_MAX_EXTRA);
  if (h < 0) die(errno, "fcntl F_DUPFD_CLOEXEC log fd");
  if (fd > STDERR_FILENO) close(fd);
  return h;
}

void logger_open(struct logger *l) {
  int p[2][2];
  for (int s = 0; s < 2; s++) {
    if (pipe2(p[s], O_CLOEXEC) < 0) die(errno, "pipe2 for the log");
    l->rd[s] = high(p[s][0]);
    l->wr[s] = high(p[s][1]);
    l->len[s] = 0;
  }
  /* The log file is init's stdout; the process gets the pipes instead. */
  l->out = high(fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
  l->active = 1;
  struct stat st;
  l->written = fstat(l->out, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void logger_limits(struct logger *l, const uint8_t *p, uint32_t len) {
  if (len < 12) return;
  memcpy(&l->max_size, p, 8);
  memcpy(&l->max_files, p + 8, 4);
  if (l->max_files < 1) l->max_files = 1;
}

/* The file is found again by its name (the monitor stays in the caller's mount namespace): older files
 * shift up, the current one becomes .1, a new one takes its name. Any failure: the file starts over. */
static void rotate(struct logger *l) {
  char link[64], path[4096], from[4200], to[4200];
  snprintf(link, sizeof link, "/proc/self/fd/%d", l->out);
  ssize_t n = readlink(link, path, sizeof path - 1);
  l->written = 0;
  if (n > 0 && l->max_files > 1) {
    path[n] = 0;
    for (uint32_t i = l->max_files - 1; i >= 1; i--) {
      if (i == 1) snprintf(from, sizeof from, "%s", path);
      else snprintf(from, sizeof from, "%s.%u", path, i - 1);
      snprintf(to, sizeof to, "%s.%u", path, i);
      rename(from, to);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      dup3(fd, l->out, O_CLOEXEC);
      close(fd);
      return;
    }
  }
  if (ftruncate(l->out, 0) < 0) { /* nothing more to do: the lines still go on */ }
}

void logger_child(struct logger *l) {
  if (dup2(l->wr[0], STDOUT_FILENO) < 0 || dup2(l->wr[1], STDERR_FILENO) < 0) _exit(126);
}

void logger_parent(struct logger *l) {
  for (int s = 0; s < 2; s++) {
    close(l->wr[s]);
    fcntl(l->rd[s], F_SETFL, O_NONBLOCK);
  }
  /* Nothing else may keep writing to the file in our name. */
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    close(null);
  }
}

static void put(char **o, const char *s) {
  while (*s) *(*o)++ = *s++;
}

/* One record; line may lack its newline (a flushed rest). */
static void emit(struct logger *l, int s, const char *line, size_t n) {
  static char rec[16384 * 6 + 256];
  char *o = rec;
  put(&o, "{\"log\":\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)line[i];
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c == '\n') put(&o, "\\n");
    else if (c == '\r') put(&o, "\\r");
    else if (c == '\t') put(&o, "\\t");
    else if (c < 0x20) o += sprintf(o, "\\u%04x", c);
    else *o++ = (char)c;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  o += sprintf(o, "\",\"stream\":\"%s\",\"time\":\"%s.%09ldZ\"}\n", s ? "stderr" : "stdout", when, ts.tv_nsec);
  const char *p = rec;
  size_t left = (size_t)(o - rec);
  while (left > 0) {
    ssize_t w = write(l->out, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* a full disk loses log lines, never the container */
    p += w;
    left -= (size_t)w;
    l->written += (uint64_t)w;
  }
  if (l->max_size && l->written >= l->max_size) rotate(l);
}

/* Splits what arrived in buf[s] (len[s] bytes) into records. */
static void split(struct logger *l, int s) {
  size_t start = 0;
  for (size_t i = 0; i < l->len[s]; i++) {
    if (l->buf[s][i] != '\n') continue;
    emit(l, s, l->buf[s] + start, i + 1 - start);
    start = i + 1;
  }
  /* A line longer than the buffer goes out in pieces, as docker splits at 16 KiB. */
  if (start == 0 && l->len[s] == sizeof l->buf[s]) start = l->len[s], emit(l, s, l->buf[s], l->len[s]);
  memmove(l->buf[s], l->buf[s] + start, l->len[s] - start);
  l->len[s] -= start;
}

int logger_read(struct logger *l, int s) {
  for (;;) {
    ssize_t n = read(l->rd[s], l->buf[s] + l->len[s], sizeof l->buf[s] - l->len[s]);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1; /* EAGAIN: for now that is all */
    if (n == 0) return 0;
    attach_broadcast(l->att, s, l->buf[s] + l->len[s], (size_t)n);
    l->len[s] += (size_t)n;
    split(l, s);
  }
}

int logger_read_fd(struct logger *l, int fd) {
  for (;;) {
    ssize_t n = read(fd, l->buf[0] + l->len[0], sizeof l->buf[0] - l->len[0]);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 1;
    if (n <= 0) return 0; /* EIO: the terminal's last process is gone */
    attach_broadcast(l->att, 0, l->buf[0] + l->len[0], (size_t)n);
    l->len[0] += (size_t)n;
    split(l, 0);
  }
}

void logger_flush(struct logger *l) {
  if (!l->active) return;
  for (int s = 0; s < 2; s++) {
    logger_read(l, s);
    if (l->len[s]) emit(l, s, l->buf[s], l->len[s]);
    l->len[s] = 0;
  }
}
