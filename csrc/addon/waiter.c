/* watch(): one dedicated thread waits on every watched pidfd with epoll and reaps each child with
 * waitid(P_PIDFD) the moment it exits; the status reaches JS through a thread-safe function.
 * Never waitpid(-1) (it would steal libuv's children) and never napi_async_work (a blocking wait
 * would hold one of libuv's four pool threads per container).
 *
 * Only the waiter thread touches the epoll set: new watches are queued and announced through an
 * eventfd, so a watch is never freed while another thread may still be registering it. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "errors.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct watch {
  int pidfd; /* our own dup: the caller may close theirs at any time */
  napi_threadsafe_function tsfn;
  struct watch *next;
};

struct result {
  int code;   /* -1: none */
  int signal; /* -1: none */
  int err;    /* errno of waitid or epoll_ctl; 0 when reaped */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch *queue; /* added by watch(), taken by the thread */
static int epfd = -1, evfd = -1;
static int start_err;
static const char *start_what;

/* Delivers the result (or drops it when the environment is going away) and ends the watch. */
static void finish(struct watch *w, int code, int sig, int err) {
  struct result *r = malloc(sizeof *r);
  if (r) {
    *r = (struct result){.code = code, .signal = sig, .err = err};
    if (napi_call_threadsafe_function(w->tsfn, r, napi_tsfn_blocking) != napi_ok) free(r);
  }
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
  close(w->pidfd);
  free(w);
}

static void reap(struct watch *w) {
  siginfo_t si = {0};
  int rc;
  do rc = waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED);
  while (rc < 0 && errno == EINTR);
  int err = rc < 0 ? errno : 0;
  epoll_ctl(epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
  if (err) finish(w, -1, -1, err);
  else if (si.si_code == CLD_EXITED) finish(w, si.si_status, -1, 0);
  else finish(w, -1, si.si_status, 0); /* CLD_KILLED, CLD_DUMPED */
}

static void take_queue(void) {
  uint64_t count;
  ssize_t ignored = read(evfd, &count, sizeof count); /* EAGAIN: drained by an earlier wakeup */
  (void)ignored;
  pthread_mutex_lock(&lock);
  struct watch *w = queue;
  queue = NULL;
  pthread_mutex_unlock(&lock);
  while (w) {
    struct watch *next = w->next;
    /* Level-triggered: a child that exited already is reported at once. */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->pidfd, &ev) < 0) finish(w, -1, -1, errno);
    w = next;
  }
}

static void *loop(void *unused) {
  (void)unused;
  struct epoll_event evs[32];
  for (;;) {
    int n = epoll_wait(epfd, evs, 32, -1);
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) take_queue();
      else reap(evs[i].data.ptr);
    }
  }
  return NULL;
}

static void start(void) {
  start_what = "epoll_create1";
  if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) goto fail;
  start_what = "eventfd";
  if ((evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) goto fail;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  start_what = "epoll_ctl eventfd";
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) < 0) goto fail;
  start_err = start_helper_thread(loop);
  start_what = "pthread_create waiter";
  return;
fail:
  start_err = errno;
}

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)ctx;
  struct result *r = data;
  if (env && cb) {
    napi_value status, v, undef;
    napi_create_object(env, &status);
    if (r->code >= 0) napi_create_int32(env, r->code, &v);
    else napi_get_null(env, &v);
    napi_set_named_property(env, status, "code", v);
    if (r->signal >= 0) napi_create_int32(env, r->signal, &v);
    else napi_get_null(env, &v);
    napi_set_named_property(env, status, "signal", v);
    /* Not reaped (ECHILD: not our child, or reaped elsewhere): code and signal are null. */
    if (r->err) napi_set_named_property(env, status, "errno", make_int(env, r->err));
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 1, &status, NULL);
  }
  free(r);
}

napi_value addon_watch(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t pidfd;
  napi_valuetype t;
  if (!arg_int(env, argv[0], "pidfd", &pidfd)) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return throw_type(env, "callback must be a function");
  /* Catch a wrong fd here rather than on the thread: EBADF, EINVAL (not a pidfd), ECHILD (not our
   * child). WNOWAIT leaves an exited child for the thread to reap. */
  siginfo_t si = {0};
  if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0) return throw_errno(env, errno, "waitid P_PIDFD fd %d", pidfd);
  pthread_once(&once, start);
  if (start_err) return throw_errno(env, start_err, "%s", start_what);

  struct watch *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "watch fd %d", pidfd);
  if ((w->pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 0)) < 0) {
    int e = errno;
    free(w);
    return throw_errno(env, e, "fcntl F_DUPFD_CLOEXEC fd %d", pidfd);
  }
  napi_value name;
  napi_create_string_utf8(env, "tsbox.watch", NAPI_AUTO_LENGTH, &name);
  /* Referenced until released after the call: a pending watch keeps the event loop alive. */
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &w->tsfn) != napi_ok) {
    close(w->pidfd);
    free(w);
    return throw_errno(env, ENOMEM, "napi_create_threadsafe_function watch fd %d", pidfd);
  }
  pthread_mutex_lock(&lock);
  w->next = queue;
  queue = w;
  pthread_mutex_unlock(&lock);
  uint64_t one = 1;
  ssize_t ignored = write(evfd, &one, sizeof one); /* EAGAIN: the counter is full, a wakeup is pending anyway */
  (void)ignored;
  return NULL;
}
