/* Argument readers shared by the addon's functions. */
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_null || t == napi_undefined;
}

bool arg_int(napi_env env, napi_value v, const char *name, int32_t *out) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok || t != napi_number) return throw_type(env, "%s must be a number", name), false;
  napi_get_value_int32(env, v, out);
  return true;
}

bool arg_uint(napi_env env, napi_value v, const char *name, uint32_t *out) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok || t != napi_number) return throw_type(env, "%s must be a number", name), false;
  napi_get_value_uint32(env, v, out);
  return true;
}

bool arg_u64(napi_env env, napi_value v, const char *name, uint64_t *out) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok) return throw_type(env, "%s must be a bigint", name), false;
  if (t == napi_bigint) {
    bool lossless;
    napi_get_value_bigint_uint64(env, v, out, &lossless);
    return true;
  }
  if (t == napi_number) {
    int64_t i;
    napi_get_value_int64(env, v, &i);
    *out = (uint64_t)i;
    return true;
  }
  return throw_type(env, "%s must be a bigint", name), false;
}

bool arg_str(napi_env env, napi_value v, const char *name, bool nullable, char **out) {
  *out = NULL;
  if (nullable && is_nullish(env, v)) return true;
  size_t len;
  if (!v || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return throw_type(env, "%s must be a string", name), false;
  char *s = malloc(len + 1);
  if (!s) return throw_errno(env, ENOMEM, "malloc %zu", len + 1), false;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    return throw_type(env, "%s must not contain NUL bytes", name), false;
  }
  *out = s;
  return true;
}

bool arg_buffer(napi_env env, napi_value v, const char *name, void **data, size_t *len) {
  bool is_buf = false;
  if (!v || napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf) return throw_type(env, "%s must be a Buffer", name), false;
  napi_get_buffer_info(env, v, data, len);
  return true;
}

napi_value get_prop(napi_env env, napi_value obj, const char *name) {
  napi_valuetype t;
  napi_value v;
  if (!obj || napi_typeof(env, obj, &t) != napi_ok || t != napi_object) return NULL;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok || is_nullish(env, v)) return NULL;
  return v;
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

napi_value make_int_pair(napi_env env, int a, int b) {
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, make_int(env, a));
  napi_set_element(env, arr, 1, make_int(env, b));
  return arr;
}
