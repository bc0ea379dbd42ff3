#ifndef TSBOX_ADDON_SPAWN_H
#define TSBOX_ADDON_SPAWN_H
#include "napi_util.h"
napi_value addon_spawn(napi_env env, napi_callback_info info);
#endif
