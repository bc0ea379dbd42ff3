/* Small helpers for reading arguments and throwing errors from Node-API callbacks. */
#ifndef TSBOX_ADDON_NAPI_UTIL_H
#define TSBOX_ADDON_NAPI_UTIL_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* Throws Error("<text>: ENAME") with .code = "ENAME" and .errno = err; returns NULL for the caller to return. */
napi_value throw_errno(napi_env env, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Throws a TypeError with the message. */
napi_value throw_type(napi_env env, const char *msg);

/* Argument readers: return false after throwing a TypeError. */
bool arg_int(napi_env env, napi_value v, const char *name, int32_t *out);
bool arg_uint(napi_env env, napi_value v, const char *name, uint32_t *out);
/* Heap string (free it), or NULL for null/undefined when nullable; false after throwing. */
bool arg_str(napi_env env, napi_value v, const char *name, bool nullable, char **out);

napi_value make_int(napi_env env, int64_t v);
napi_value make_bool(napi_env env, bool v);
napi_value get_prop(napi_env env, napi_value obj, const char *name);
bool is_nullish(napi_env env, napi_value v);

#define GET_ARGS(n)                                                      \
  size_t argc = (n);                                                     \
  napi_value argv[(n) > 0 ? (n) : 1];                                    \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) { \
    return throw_type(env, "bad arguments");                             \
  }

#endif
