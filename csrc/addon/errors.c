/* Errors thrown to JS look like Node's own: message "<syscall> <path>: ENAME", .code, .errno. */
#define _GNU_SOURCE
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

napi_value throw_errno(napi_env env, int err, const char *fmt, ...) {
  char what[1024], msg[1100];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *name = strerrorname_np(err);
  if (!name) name = "EUNKNOWN";
  snprintf(msg, sizeof msg, "%s: %s", what, name);
  napi_value m, code, e, no;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &e);
  napi_create_int32(env, err, &no);
  napi_set_named_property(env, e, "errno", no);
  napi_throw(env, e);
  return NULL;
}

napi_value throw_type(napi_env env, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}
