/* One thread-safe function per environment, shared by the waiter and the spawner, rather than one made
 * and torn down per container: making one costs an async handle and a resource object, and under load
 * many results then arrive in one wake-up of the event loop.
 *
 * It is unreferenced while no result is awaited, so it never keeps a process alive by itself. When the
 * environment is torn down (a worker ending, the process exiting) Node finalizes it whatever threads
 * still hold it: the finalizer marks the channel dead under the lock channel_post holds while it
 * calls, so no thread ever calls into a finalized function. Channels are never freed (one per
 * environment), so a helper thread may still look at a dead one. */
#include "channel.h"
#include "errors.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct channel {
  napi_threadsafe_function tsfn;
  bool alive;      /* under lock */
  uint32_t held;   /* JS thread only */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)cb;
  (void)ctx;
  struct channel_msg *m = data;
  m->deliver(env, m);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct channel *ch = data;
  pthread_mutex_lock(&lock);
  ch->alive = false;
  pthread_mutex_unlock(&lock);
}

struct channel *channel_get(napi_env env) {
  struct channel *ch = NULL;
  if (napi_get_instance_data(env, (void **)&ch) == napi_ok && ch) return ch;
  if (!(ch = calloc(1, sizeof *ch))) {
    throw_errno(env, ENOMEM, "calloc channel");
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "tsbox", NAPI_AUTO_LENGTH, &name);
  /* No JS function of its own (each message knows what to call), no queue limit (never blocks). */
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, ch, finalize, NULL, call_js, &ch->tsfn) != napi_ok) {
    free(ch);
    throw_errno(env, ENOMEM, "napi_create_threadsafe_function");
    return NULL;
  }
  ch->alive = true;
  napi_unref_threadsafe_function(env, ch->tsfn);
  napi_set_instance_data(env, ch, NULL, NULL);
  return ch;
}

void channel_hold(napi_env env, struct channel *ch) {
  if (ch->held++ == 0) napi_ref_threadsafe_function(env, ch->tsfn);
}

void channel_drop(napi_env env, struct channel *ch) {
  if (ch->held > 0 && --ch->held == 0) napi_unref_threadsafe_function(env, ch->tsfn);
}

bool channel_post(struct channel *ch, struct channel_msg *m) {
  pthread_mutex_lock(&lock);
  bool ok = ch->alive && napi_call_threadsafe_function(ch->tsfn, m, napi_tsfn_nonblocking) == napi_ok;
  pthread_mutex_unlock(&lock);
  return ok;
}
