/* spawnAsync(): spawn() with its clone on one dedicated thread. The kernel's work for the new
 * namespaces and the wait for the child's exec (a vfork) then leave Node's main thread free for the
 * next container; on two cores that is most of the gain of starting many at once. Results return
 * through the environment's channel, as the waiter thread's do; never napi_async_work, whose pool
 * belongs to Node's own I/O. Jobs are cloned in the order they came. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "channel.h"
#include "errors.h"
#include "netns_pool.h"
#include "spawn.h"
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct async_spawn {
  struct channel_msg msg;
  struct channel *ch;
  struct spawn_job *job;
  napi_ref cb;
  struct async_spawn *next;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct async_spawn *head, *tail;
static int start_err;
static bool fill_wanted; /* netns_pool_want: make the next network namespace once nothing is queued */
/* Clones so far: only a process that starts containers again and again has a use for one made ahead
 * (a CLI that starts one would make it for nothing at its exit). */
static unsigned long cloned;

static void *loop(void *unused) {
  (void)unused;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (!head && !fill_wanted) pthread_cond_wait(&wake, &lock);
    if (!head) {
      fill_wanted = false;
      pthread_mutex_unlock(&lock);
      if (cloned >= 2) netns_pool_fill();
      continue;
    }
    struct async_spawn *s = head;
    if (!(head = s->next)) tail = NULL;
    pthread_mutex_unlock(&lock);
    spawn_job_clone(s->job);
    cloned++;
    /* Refused only once the environment is gone: the go pipe closes with the job, and a child that
     * reads EOF there exits without running anything. */
    if (!channel_post(s->ch, &s->msg)) {
      spawn_job_free(s->job);
      free(s);
    }
  }
  return NULL;
}

/* After an exit, when the machine has the least to do for the containers that run: not right after a
 * clone, where it would take a CPU from that container's own setup. */
void netns_pool_want(void) {
  pthread_mutex_lock(&lock);
  fill_wanted = true;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
}

static void start(void) {
  start_err = start_helper_thread(loop);
}

static void deliver(napi_env env, struct channel_msg *m) {
  struct async_spawn *s = (struct async_spawn *)m;
  napi_value cb;
  if (env && napi_get_reference_value(env, s->cb, &cb) == napi_ok && cb) {
    bool ok;
    napi_value args[2], undef;
    napi_get_undefined(env, &undef);
    napi_value r = spawn_job_result(env, s->job, &ok);
    if (ok) napi_get_null(env, &args[0]);
    args[ok ? 1 : 0] = r;
    if (!ok) args[1] = undef;
    napi_call_function(env, undef, cb, 2, args, NULL);
  }
  if (env) {
    napi_delete_reference(env, s->cb);
    channel_drop(env, s->ch);
  }
  spawn_job_free(s->job);
  free(s);
}

napi_value addon_spawn_async(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return throw_type(env, "callback must be a function");
  pthread_once(&once, start);
  if (start_err) return throw_errno(env, start_err, "pthread_create spawner");
  struct channel *ch = channel_get(env);
  if (!ch) return NULL;
  struct async_spawn *s = calloc(1, sizeof *s);
  if (!s) return throw_errno(env, ENOMEM, "calloc");
  if (!(s->job = spawn_job_prepare(env, argv[0]))) {
    free(s);
    return NULL;
  }
  s->msg.deliver = deliver;
  s->ch = ch;
  napi_create_reference(env, argv[1], 1, &s->cb);
  /* Held until the callback: a pending spawn keeps the event loop alive. */
  channel_hold(env, ch);
  pthread_mutex_lock(&lock);
  if (tail) tail->next = s;
  else head = s;
  tail = s;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  return NULL;
}
