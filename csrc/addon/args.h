/* Reading Node-API arguments into C values. Every reader throws a TypeError and returns false on a
 * wrong type, so callers just return NULL. */
#ifndef TSBOX_ADDON_ARGS_H
#define TSBOX_ADDON_ARGS_H

#include "napi.h"

#include <stdbool.h>
#include <stdint.h>

bool arg_int(napi_env env, napi_value v, const char *name, int32_t *out);
bool arg_uint(napi_env env, napi_value v, const char *name, uint32_t *out);
/* A BigInt (or a safe-integer Number) as u64. */
bool arg_u64(napi_env env, napi_value v, const char *name, uint64_t *out);
/* A heap copy (free it); NULL for null/undefined when nullable. Strings with NUL bytes are refused:
 * the kernel would silently cut them short. */
bool arg_str(napi_env env, napi_value v, const char *name, bool nullable, char **out);
bool arg_buffer(napi_env env, napi_value v, const char *name, void **data, size_t *len);

/* obj[name], or NULL when obj is not an object or the property is null/undefined. */
napi_value get_prop(napi_env env, napi_value obj, const char *name);
bool is_nullish(napi_env env, napi_value v);

napi_value make_int(napi_env env, int64_t v);
napi_value make_bool(napi_env env, bool v);
napi_value make_int_pair(napi_env env, int a, int b);

#define GET_ARGS(n)                                                                            \
  size_t argc = (n);                                                                           \
  napi_value argv[(n) > 0 ? (n) : 1];                                                          \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;            \
  for (size_t i_ = argc; i_ < (n); i_++) napi_get_undefined(env, &argv[i_])

#endif
