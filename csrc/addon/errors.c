/* Errors thrown to JS look like Node's own: message "<syscall> <path>: ENAME", .code, .errno. */
#define _GNU_SOURCE
#include "errors.h"
#include "args.h"
#include "../init/errname.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static napi_value verrno(napi_env env, int err, const char *fmt, va_list ap) {
  char what[1024], msg[1100];
  vsnprintf(what, sizeof what, fmt, ap);
  const char *name = errname(err);
  if (!name) name = "EUNKNOWN";
  snprintf(msg, sizeof msg, "%s: %s", what, name);
  napi_value m, code, e, no;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &e);
  napi_create_int32(env, err, &no);
  napi_set_named_property(env, e, "errno", no);
  return e;
}

napi_value make_error_text(napi_env env, int err, const char *msg) {
  const char *name = errname(err);
  napi_value m, code, e;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &e);
  napi_set_named_property(env, e, "errno", make_int(env, err));
  return e;
}

napi_value make_errno(napi_env env, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  napi_value e = verrno(env, err, fmt, ap);
  va_end(ap);
  return e;
}

napi_value throw_errno(napi_env env, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  napi_throw(env, verrno(env, err, fmt, ap));
  va_end(ap);
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
