/* The addon's own threads (the waiter, the spawner, the runtime server's listeners). */
#ifndef TSBOX_ADDON_THREAD_H
#define TSBOX_ADDON_THREAD_H

#include <stddef.h>

/* Starts fn(arg) on a detached thread with a stack of stack bytes and every signal blocked (signals
 * belong to Node's main thread). Returns 0 or the errno of pthread_create. */
int start_thread(void *(*fn)(void *), void *arg, size_t stack);

/* start_thread with no argument and a small stack (64 KiB). */
int start_helper_thread(void *(*fn)(void *));

#endif
