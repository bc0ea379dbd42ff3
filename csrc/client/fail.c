#define _GNU_SOURCE
#include "fail.h"
#include "../init/errname.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void vsay(const char *prefix, int err, const char *fmt, va_list ap) {
  char what[1024], line[1200];
  vsnprintf(what, sizeof what, fmt, ap);
  const char *name = err ? errname(err) : NULL;
  int n;
  if (err) n = snprintf(line, sizeof line, "tsbox-runtime: %s%s: %s\n", prefix, what, name ? name : "EUNKNOWN");
  else n = snprintf(line, sizeof line, "tsbox-runtime: %s%s\n", prefix, what);
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
  ssize_t w = write(2, line, (size_t)n);
  (void)w;
}

void say(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay("", err, fmt, ap);
  va_end(ap);
}

bool cold_why(int err, const char *fmt, ...) {
  const char *d = getenv("TSBOX_RUNTIME_DEBUG");
  if (!d || !*d) return false;
  va_list ap;
  va_start(ap, fmt);
  vsay("cold: ", err, fmt, ap);
  va_end(ap);
  return false;
}
