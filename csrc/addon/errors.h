/* Throwing errno-style errors from Node-API callbacks. */
#ifndef TSBOX_ADDON_ERRORS_H
#define TSBOX_ADDON_ERRORS_H

#include "napi.h"

/* Throws Error("<what>: ENAME") with .code = "ENAME" and .errno = err, where <what> names the
 * system call and its path or fd ("open /x", "flock fd 12"). Returns NULL for the caller to return. */
napi_value throw_errno(napi_env env, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The same Error, returned instead of thrown (for callbacks). */
napi_value make_errno(napi_env env, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Error(msg) with .code and .errno of err, msg already complete (a report from tsbox-init). */
napi_value make_error_text(napi_env env, int err, const char *msg);

/* Throws a TypeError; returns NULL. */
napi_value throw_type(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
