/* The way the addon's threads hand results to JS: one thread-safe function per Node environment. */
#ifndef TSBOX_ADDON_CHANNEL_H
#define TSBOX_ADDON_CHANNEL_H

#include "napi.h"

#include <stdbool.h>

/* A message: embedded first in the sender's own struct. deliver runs on the environment's thread with
 * env NULL when the environment is going away (free only, call nothing). */
struct channel_msg {
  void (*deliver)(napi_env env, struct channel_msg *m);
};

struct channel;

/* JS thread: the environment's channel, made on first use; NULL with a JS exception pending. */
struct channel *channel_get(napi_env env);
/* JS thread: one more result is awaited (keeps the event loop alive), or one fewer. */
void channel_hold(napi_env env, struct channel *ch);
void channel_drop(napi_env env, struct channel *ch);
/* Any thread: queues m for delivery; false when the environment is gone (m is the caller's to free). */
bool channel_post(struct channel *ch, struct channel_msg *m);

#endif
