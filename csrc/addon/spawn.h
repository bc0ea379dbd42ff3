/* One spawn in three steps, so that the clone itself can run on the spawner thread (spawner.c):
 * prepare (on the JS thread: options and the caller's fds), clone (any thread: the config memfd,
 * pipes and cgroup files, then clone; it blocks until the child has exec'd tsbox-init), result (on the
 * JS thread). */
#ifndef TSBOX_ADDON_SPAWN_H
#define TSBOX_ADDON_SPAWN_H

#include "napi.h"

#include <stdbool.h>

struct spawn_job;

/* Reads SpawnOptions and duplicates the caller's fds; throws and returns NULL on failure. */
struct spawn_job *spawn_job_prepare(napi_env env, napi_value opts);
/* Opens what the child needs, then clone(2) with the job's namespaces; never touches JS. */
void spawn_job_clone(struct spawn_job *j);
/* The Spawned object (*ok), or the clone's Error to throw or pass on. */
napi_value spawn_job_result(napi_env env, struct spawn_job *j, bool *ok);
void spawn_job_free(struct spawn_job *j);

#endif
