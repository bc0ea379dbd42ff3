#ifndef TSBOX_ADDON_WAITER_H
#define TSBOX_ADDON_WAITER_H
#include "napi_util.h"
napi_value addon_watch(napi_env env, napi_callback_info info);
#endif
