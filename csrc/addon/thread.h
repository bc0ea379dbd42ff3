/* The addon's own threads (the waiter, the spawner). */
#ifndef TSBOX_ADDON_THREAD_H
#define TSBOX_ADDON_THREAD_H

/* Starts fn on a detached thread with a small stack and every signal blocked (signals belong to
 * Node's main thread). Returns 0 or the errno of pthread_create. */
int start_helper_thread(void *(*fn)(void *));

#endif
