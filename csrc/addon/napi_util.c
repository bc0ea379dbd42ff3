/* Node-API argument and error helpers shared by the addon's functions. */
#define _GNU_SOURCE
#include "napi_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

napi_value throw_errno(napi_env env, int err, const char *fmt, ...) {
  char text[1024], msg[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  const char *name = strerrorname_np(err);
  if (!name) name = "EUNKNOWN";
  snprintf(msg, sizeof msg, "%s: %s", text, name);
  napi_value m, code, e, no;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &e);
  napi_create_int32(env, err, &no);
  napi_set_named_property(env, e, "errno", no);
  napi_throw(env, e);
  return NULL;
}

napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_null || t == napi_undefined;
}

static bool type_err(napi_env env, const char *name, const char *want) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s must be %s", name, want);
  napi_throw_type_error(env, NULL, msg);
  return false;
}

bool arg_int(napi_env env, napi_value v, const char *name, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) return type_err(env, name, "a number");
  return true;
}

bool arg_uint(napi_env env, napi_value v, const char *name, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) return type_err(env, name, "a number");
  return true;
}

bool arg_str(napi_env env, napi_value v, const char *name, bool nullable, char **out) {
  *out = NULL;
  if (nullable && is_nullish(env, v)) return true;
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return type_err(env, name, "a string");
  char *s = malloc(len + 1);
  if (!s) {
    throw_errno(env, 12, "malloc");
    return false;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    return type_err(env, name, "a string without NUL bytes");
  }
  *out = s;
  return true;
}

napi_value make_int(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

napi_value make_bool(napi_env env, bool v) {
  napi_value r;
  napi_get_boolean(env, v, &r);
  return r;
}

napi_value get_prop(napi_env env, napi_value obj, const char *name) {
  napi_value v = NULL;
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return NULL;
  napi_get_named_property(env, obj, name, &v);
  return v;
}
