/* watch(): one dedicated thread waits on every watched pidfd with epoll and reaps each child with
 * waitid(P_PIDFD) the moment it exits; with a report fd it also reads tsbox-init's reports (protocol in
 * csrc/common/config.h). Lines and the exit reach JS through the environment's channel, in order: every
 * report line (then null for EOF) before the exit, which carries the "X" status when init sent one.
 * Never waitpid(-1) (it would steal libuv's children) and never napi_async_work (a blocking wait would
 * hold one of libuv's four pool threads per container).
 *
 * The JS thread adds a watch's fds to the epoll set itself (report fd first, pidfd last) and never
 * touches the watch after that; the thread owns it until it hands the exit over, and the JS thread
 * frees it once delivered. The thread hands exits over only after a whole batch of events: an event of
 * a finished watch later in the same batch is skipped, never read from freed memory. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "channel.h"
#include "errors.h"
#include "netns_pool.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* Longest report line kept whole (tsbox-init's own limit is 4096 bytes); a longer one is cut. */
#define LINE_MAX_LEN 4096
/* epoll tags: the watch's address with its low bit telling the fd; 0 is the eventfd. */
#define TAG_REPORT 1u

struct watch {
  struct channel_msg exit_msg; /* delivered last; frees the watch */
  struct channel *ch;
  int pidfd;     /* our own dup: the caller may close theirs at any time */
  int reportfd;  /* ours once watched; -1 when closed or none */
  napi_ref on_exit, on_report;
  bool kill_at_teardown; /* SIGKILL it should the environment end first (a worker thread terminated) */
  bool done;     /* reaped: later events of the batch are skipped */
  int code, signal, err; /* -1: none; err is the errno of waitid or epoll_ctl */
  int wstatus;   /* from an "X" report; -1: none */
  struct watch *next; /* on the thread's done list, or the failed list */
  size_t len;
  char buf[LINE_MAX_LEN];
};

struct line_msg {
  struct channel_msg msg;
  struct watch *w;
  char *line; /* NULL: EOF */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch *failed; /* watches whose pidfd could not be added: the thread ends them */
static int epfd = -1, evfd = -1;
static int start_err;
static const char *start_what;

static void free_watch(napi_env env, struct watch *w) {
  if (env) {
    napi_delete_reference(env, w->on_exit);
    if (w->on_report) napi_delete_reference(env, w->on_report);
  }
  close(w->pidfd);
  free(w);
}

static void deliver_line(napi_env env, struct channel_msg *m) {
  struct line_msg *l = (struct line_msg *)m;
  napi_value cb, arg, undef;
  if (env && napi_get_reference_value(env, l->w->on_report, &cb) == napi_ok && cb) {
    if (l->line) napi_create_string_utf8(env, l->line, NAPI_AUTO_LENGTH, &arg);
    else napi_get_null(env, &arg);
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 1, &arg, NULL);
  }
  free(l->line);
  free(l);
}

/* An environment cleanup hook, on the JS thread of an environment that ends with the process still
 * watched: JS never runs there again (a terminated worker runs no 'exit' listener), so the API's
 * promise to end the containers it owns is kept here. The watch is alive: only deliver_exit frees
 * it, on this thread, and removes the hook first. */
static void kill_at_teardown(void *arg) {
  struct watch *w = arg;
  syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
}

static void deliver_exit(napi_env env, struct channel_msg *m) {
  struct watch *w = (struct watch *)m;
  napi_value cb, status, v, undef;
  if (env && w->kill_at_teardown) napi_remove_env_cleanup_hook(env, kill_at_teardown, w);
  if (env && napi_get_reference_value(env, w->on_exit, &cb) == napi_ok && cb) {
    napi_create_object(env, &status);
    if (w->code >= 0) napi_create_int32(env, w->code, &v);
    else napi_get_null(env, &v);
    napi_set_named_property(env, status, "code", v);
    if (w->signal >= 0) napi_create_int32(env, w->signal, &v);
    else napi_get_null(env, &v);
    napi_set_named_property(env, status, "signal", v);
    /* Not reaped (ECHILD: not our child, or reaped elsewhere): code and signal are null. */
    if (w->err) napi_set_named_property(env, status, "errno", make_int(env, w->err));
    if (w->wstatus >= 0) napi_set_named_property(env, status, "report", make_int(env, w->wstatus));
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 1, &status, NULL);
  }
  if (env) channel_drop(env, w->ch);
  free_watch(env, w);
}

/* Posts one report line (NULL: EOF); dropped when the environment is gone. */
static void post_line(struct watch *w, const char *line, size_t n) {
  struct line_msg *l = calloc(1, sizeof *l);
  if (!l) return;
  l->msg.deliver = deliver_line;
  l->w = w;
  if (line && !(l->line = strndup(line, n))) {
    free(l);
    return;
  }
  if (!channel_post(w->ch, &l->msg)) {
    free(l->line);
    free(l);
  }
}

static void take_line(struct watch *w, const char *line, size_t n) {
  if (n > 2 && line[0] == 'X' && line[1] == ' ') {
    /* Digits within the line only: it ends with no NUL, in a buffer that holds more. */
    int st = 0;
    for (size_t i = 2; i < n && line[i] >= '0' && line[i] <= '9' && st < (1 << 20); i++) st = st * 10 + (line[i] - '0');
    w->wstatus = st;
  } else post_line(w, line, n);
}

static void close_report(struct watch *w) {
  if (w->reportfd < 0) return;
  if (w->len) take_line(w, w->buf, w->len); /* a last line without its newline */
  w->len = 0;
  epoll_ctl(epfd, EPOLL_CTL_DEL, w->reportfd, NULL);
  close(w->reportfd);
  w->reportfd = -1;
  post_line(w, NULL, 0);
}

/* Reads what the report fd holds now (it is non-blocking), line by line; closes it at EOF. */
static void read_reports(struct watch *w) {
  while (w->reportfd >= 0) {
    ssize_t r = read(w->reportfd, w->buf + w->len, sizeof w->buf - w->len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0) {
      close_report(w);
      return;
    }
    w->len += (size_t)r;
    char *start = w->buf, *nl;
    while ((nl = memchr(start, '\n', w->len - (size_t)(start - w->buf)))) {
      take_line(w, start, (size_t)(nl - start));
      start = nl + 1;
    }
    size_t rest = w->len - (size_t)(start - w->buf);
    if (rest == sizeof w->buf) { /* no newline in a full buffer: cut the line here */
      take_line(w, w->buf, rest);
      rest = 0;
    }
    memmove(w->buf, start, rest);
    w->len = rest;
  }
}

static void reap(struct watch *w) {
  siginfo_t si = {0};
  int rc;
  do rc = waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) w->err = errno;
  else if (si.si_code == CLD_EXITED) w->code = si.si_status;
  else w->signal = si.si_status; /* CLD_KILLED, CLD_DUMPED */
}

/* The end of a watch, on the thread: its last reports (init wrote "X" before it exited, and nothing
 * may be left unread once it is gone), then no more events, then the exit goes to JS. */
static void finish(struct watch *w) {
  read_reports(w);
  close_report(w);
  epoll_ctl(epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
  if (!channel_post(w->ch, &w->exit_msg)) free_watch(NULL, w);
}

static void *loop(void *unused) {
  (void)unused;
  struct epoll_event evs[32];
  for (;;) {
    int n = epoll_wait(epfd, evs, 32, -1);
    struct watch *done = NULL;
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == 0) {
        uint64_t count;
        ssize_t ignored = read(evfd, &count, sizeof count); /* EAGAIN: drained by an earlier wakeup */
        (void)ignored;
        pthread_mutex_lock(&lock);
        struct watch *f = failed;
        failed = NULL;
        pthread_mutex_unlock(&lock);
        while (f) {
          struct watch *next = f->next;
          f->done = true;
          f->next = done;
          done = f;
          f = next;
        }
        continue;
      }
      struct watch *w = (struct watch *)(uintptr_t)(tag & ~(uint64_t)TAG_REPORT);
      if (w->done) continue;
      if (tag & TAG_REPORT) {
        read_reports(w);
        continue;
      }
      reap(w);
      w->done = true;
      w->next = done;
      done = w;
    }
    bool exited = done != NULL;
    while (done) {
      struct watch *next = done->next;
      finish(done);
      done = next;
    }
    /* A container gone: the next one's network namespace can be made now (netns_pool.c). */
    if (exited) netns_pool_want();
  }
  return NULL;
}

static void start(void) {
  start_what = "epoll_create1";
  if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) goto fail;
  start_what = "eventfd";
  if ((evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) goto fail;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
  start_what = "epoll_ctl eventfd";
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) < 0) goto fail;
  start_err = start_helper_thread(loop);
  start_what = "pthread_create waiter";
  return;
fail:
  start_err = errno;
}

static bool is_function(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_function;
}

/* watch(pidfd, onExit, reportFd?, onReport?, killAtTeardown?): on success the report fd is the addon's
 * to read and close. */
napi_value addon_watch(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int32_t pidfd, reportfd = -1;
  if (!arg_int(env, argv[0], "pidfd", &pidfd)) return NULL;
  if (!is_function(env, argv[1])) return throw_type(env, "callback must be a function");
  napi_valuetype t;
  bool with_report = argc >= 3 && napi_typeof(env, argv[2], &t) == napi_ok && t != napi_undefined;
  if (with_report) {
    if (!arg_int(env, argv[2], "reportFd", &reportfd)) return NULL;
    if (argc < 4 || !is_function(env, argv[3])) return throw_type(env, "onReport must be a function");
  }
  /* Catch a wrong fd here rather than on the thread: EBADF, EINVAL (not a pidfd), ECHILD (not our
   * child). WNOWAIT leaves an exited child for the thread to reap. */
  siginfo_t si = {0};
  if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0) return throw_errno(env, errno, "waitid P_PIDFD fd %d", pidfd);
  int fl = 0;
  if (with_report && ((fl = fcntl(reportfd, F_GETFL)) < 0 || fcntl(reportfd, F_SETFL, fl | O_NONBLOCK) < 0)) return throw_errno(env, errno, "fcntl O_NONBLOCK report fd %d", reportfd);
  pthread_once(&once, start);
  if (start_err) return throw_errno(env, start_err, "%s", start_what);
  struct channel *ch = channel_get(env);
  if (!ch) return NULL;

  struct watch *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "watch fd %d", pidfd);
  *w = (struct watch){.exit_msg.deliver = deliver_exit, .ch = ch, .reportfd = -1, .code = -1, .signal = -1, .wstatus = -1};
  if ((w->pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 0)) < 0) {
    int e = errno;
    free(w);
    return throw_errno(env, e, "fcntl F_DUPFD_CLOEXEC fd %d", pidfd);
  }
  napi_create_reference(env, argv[1], 1, &w->on_exit);
  if (with_report) napi_create_reference(env, argv[3], 1, &w->on_report);

  /* Level-triggered: a child that exited already, or reports already written, are seen at once. */
  if (with_report) {
    w->reportfd = reportfd; /* before the thread can see the watch */
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)w | TAG_REPORT};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, reportfd, &ev) < 0) {
      int e = errno;
      free_watch(env, w);
      return throw_errno(env, e, "epoll_ctl report fd %d", reportfd);
    }
  }
  bool kill = false;
  if (argc >= 5 && napi_get_value_bool(env, argv[4], &kill) == napi_ok && kill) {
    w->kill_at_teardown = true;
    napi_add_env_cleanup_hook(env, kill_at_teardown, w);
  }
  channel_hold(env, ch);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)w};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->pidfd, &ev) < 0) {
    /* Rare (ENOMEM, ENOSPC): the thread may be reading the reports already, so it ends the watch. */
    w->err = errno;
    pthread_mutex_lock(&lock);
    w->next = failed;
    failed = w;
    pthread_mutex_unlock(&lock);
    uint64_t one = 1;
    ssize_t ignored = write(evfd, &one, sizeof one);
    (void)ignored;
  }
  return NULL;
}
