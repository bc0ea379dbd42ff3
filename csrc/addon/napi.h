/* The one place node_api.h is included, so every file agrees on the Node-API version. */
#ifndef TSBOX_ADDON_NAPI_H
#define TSBOX_ADDON_NAPI_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#endif
