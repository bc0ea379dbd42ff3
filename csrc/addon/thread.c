/* Detached helper threads that never take a signal meant for Node. */
#define _GNU_SOURCE
#include "thread.h"

#include <pthread.h>
#include <signal.h>

int start_thread(void *(*fn)(void *), void *arg, size_t stack) {
  pthread_t t;
  pthread_attr_t attr;
  sigset_t all, old;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, stack);
  /* The new thread inherits the mask: blocked for it, restored for the caller. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&t, &attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return err;
}

int start_helper_thread(void *(*fn)(void *)) {
  return start_thread(fn, NULL, 64 * 1024);
}
