/* watch(): one dedicated thread waits on every watched pidfd with epoll and reaps each child with
 * waitid(P_PIDFD) the moment it exits; the status reaches JS through a thread-safe function.
 * Never waitpid(-1) (it would steal libuv's children) and never napi_async_work (a blocking wait
 * would hold one of libuv's four pool threads per container). */
#define _GNU_SOURCE
#include "waiter.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct watch {
  int pidfd;
  napi_threadsafe_function tsfn;
};

struct result {
  int code;   /* -1: none */
  int signal; /* -1: none */
  int err;    /* errno of waitid, 0 if reaped */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int epfd = -1;
static int start_err;

static void *loop(void *unused) {
  (void)unused;
  struct epoll_event evs[32];
  for (;;) {
    int n = epoll_wait(epfd, evs, 32, -1);
    if (n < 0) continue; /* EINTR */
    for (int i = 0; i < n; i++) {
      struct watch *w = evs[i].data.ptr;
      struct result *r = malloc(sizeof *r);
      siginfo_t si = {0};
      int rc;
      do rc = waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED);
      while (rc < 0 && errno == EINTR);
      epoll_ctl(epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
      if (r) {
        r->code = -1;
        r->signal = -1;
        r->err = rc < 0 ? errno : 0;
        if (rc == 0) {
          if (si.si_code == CLD_EXITED) r->code = si.si_status;
          else r->signal = si.si_status;
        }
        napi_call_threadsafe_function(w->tsfn, r, napi_tsfn_blocking);
      }
      napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
      free(w);
    }
  }
  return NULL;
}

static void start(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    start_err = errno;
    return;
  }
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  /* Signals belong to Node's main thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  start_err = pthread_create(&t, &attr, loop, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
}

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)ctx;
  struct result *r = data;
  if (env && cb) {
    napi_value status, code, sig, undef;
    napi_create_object(env, &status);
    if (r->code >= 0) napi_create_int32(env, r->code, &code);
    else napi_get_null(env, &code);
    if (r->signal >= 0) napi_create_int32(env, r->signal, &sig);
    else napi_get_null(env, &sig);
    napi_set_named_property(env, status, "code", code);
    napi_set_named_property(env, status, "signal", sig);
    if (r->err) {
      napi_value e;
      napi_create_int32(env, r->err, &e);
      napi_set_named_property(env, status, "errno", e);
    }
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 1, &status, NULL);
  }
  free(r);
}

napi_value addon_watch(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t pidfd;
  if (!arg_int(env, argv[0], "pidfd", &pidfd)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return throw_type(env, "callback must be a function");
  pthread_once(&once, start);
  if (epfd < 0 || start_err) return throw_errno(env, start_err ? start_err : EINVAL, "start the waiter thread");
  struct watch *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "watch");
  w->pidfd = pidfd;
  napi_value name;
  napi_create_string_utf8(env, "tsbox.watch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &w->tsfn) != napi_ok) {
    free(w);
    return throw_type(env, "cannot create the exit callback");
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
    int e = errno;
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    free(w);
    return throw_errno(env, e, "epoll_ctl add pidfd %d", pidfd);
  }
  return NULL;
}
