/* spawn() and spawnAsync() over the clone of csrc/common/spawn_core.h: prepare (on the JS thread:
 * options and the caller's fds), clone (any thread, spawn_job_clone), result (on the JS thread). */
#ifndef TSBOX_ADDON_SPAWN_H
#define TSBOX_ADDON_SPAWN_H

#include "napi.h"
#include "../common/spawn_core.h"

#include <stdbool.h>

/* Reads SpawnOptions and duplicates the caller's fds; throws and returns NULL on failure. */
struct spawn_job *spawn_job_prepare(napi_env env, napi_value opts);
/* The Spawned object (*ok), or the clone's Error to throw or pass on. */
napi_value spawn_job_result(napi_env env, struct spawn_job *j, bool *ok);

#endif
