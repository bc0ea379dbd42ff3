#ifndef TSBOX_ADDON_SECCOMP_COMPILE_H
#define TSBOX_ADDON_SECCOMP_COMPILE_H
#include "napi_util.h"
napi_value addon_seccomp_compile(napi_env env, napi_callback_info info);
#endif
