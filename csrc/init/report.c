/* The report pipe. Writes ignore EPIPE: a CLI parent may have exited after "create". */
#define _GNU_SOURCE
#include "report.h"
#include "errname.h"
#include "../common/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fd = TSBOX_FD_REPORT;

void report_set_fd(int f) { fd = f; }
int report_fd(void) { return fd; }

/* Returns 0 when the whole message went out. */
static int write_all(const char *buf, size_t n) {
  if (fd < 0) return -1;
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

void report_line(const char *line) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "%s\n", line);
  write_all(buf, n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n);
}

static _Noreturn void vdie(int code, int err, const char *fmt, va_list ap) {
  char text[3000], buf[4096];
  vsnprintf(text, sizeof text, fmt, ap);
  const char *name = errname(err);
  int n = snprintf(buf, sizeof buf, "E %d %s: %s\n", err, text, name ? name : strerror(err));
  if (n > 2 && write_all(buf, (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n) < 0) {
    /* Nobody reads the pipe any more (a runtime CLI that exited after create): use stderr. */
    ssize_t ignored = write(STDERR_FILENO, buf + 2, (size_t)n - 2);
    (void)ignored;
  }
  _exit(code);
}

_Noreturn void die(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vdie(1, err, fmt, ap);
}

_Noreturn void die_code(int code, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vdie(code, err, fmt, ap);
}
