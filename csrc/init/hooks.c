/* createContainer hooks (after the mounts, before pivot_root, cwd the rootfs) and startContainer hooks
 * (after start, right before the exec), in the container's namespaces: runc's Command.Run in C. */
#define _GNU_SOURCE
#include "hooks.h"
#include "go.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* The last bytes a hook wrote: the line of them that ends the error. */
#define TAIL 1024

static const char *stage_name(uint32_t stage) {
  return stage == TSBOX_HOOK_CREATE_CONTAINER ? "createContainer" : "startContainer";
}

/* prefix "status":"...","pid":N suffix: the parts around status and pid come from the parent. */
static char *state_json(const struct blob *b, uint32_t stage, size_t *len) {
  struct blob_rec r;
  if (!blob_find(b, TSBOX_T_HOOK_STATE, &r)) die(EINVAL, "config blob: hooks without a state record");
  struct blob_cur c = blob_cur(&r);
  const char *prefix = cur_str(&c), *suffix = cur_str(&c);
  if (c.err) die(EINVAL, "config blob: truncated hook state record");
  const char *status = stage == TSBOX_HOOK_CREATE_CONTAINER ? "creating" : "created";
  size_t n = strlen(prefix) + strlen(suffix) + 64;
  char *s = malloc(n);
  if (!s) die(ENOMEM, "hook state");
  int w = snprintf(s, n, "%s\"status\":\"%s\",\"pid\":%d%s", prefix, status, (int)getpid(), suffix);
  *len = (size_t)w;
  return s;
}

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

/* The hook's last non-empty line, in place. */
static const char *last_line(char *tail, size_t n) {
  tail[n] = 0;
  while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r')) tail[--n] = 0;
  char *nl = strrchr(tail, '\n');
  return nl ? nl + 1 : tail;
}

static void run_hook(uint32_t stage, const char *path, char **argv, char **envp, uint32_t timeout, const char *state, size_t state_len) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) die(errno, "%s hook %s: pipe", stage_name(stage), path);
  pid_t pid = fork();
  if (pid < 0) die(errno, "%s hook %s: fork", stage_name(stage), path);
  if (pid == 0) {
    /* Only the state, and a pipe for what it says: none of our fds (report, fifo, blob) go with it. */
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0) _exit(127);
    syscall(SYS_close_range, 3, ~0U, 0);
    signal(SIGPIPE, SIG_DFL);
    execve(path, argv, envp);
    dprintf(2, "exec %s: %s\n", path, strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) die(errno, "%s hook %s: pidfd_open", stage_name(stage), path);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  char tail[TAIL + 1];
  size_t tail_len = 0, sent = 0;
  long deadline = timeout ? now_ms() + timeout * 1000L : 0;
  int wfd = in[1], rfd = out[0], exited = 0, timed_out = 0;
  if (state_len == 0) {
    close(wfd);
    wfd = -1;
  }
  /* Until it exits and its output ends: the state written as it reads it (EPIPE if it never does:
   * it ran all the same, as runc has it), its output kept, the timeout watched. */
  long drain = 0; /* once it exited: how long its output may still take (a child of it may hold it open) */
  while (!exited || rfd >= 0) {
    struct pollfd p[3] = {{.fd = exited ? -1 : pidfd, .events = POLLIN}, {.fd = rfd, .events = POLLIN}, {.fd = wfd, .events = POLLOUT}};
    int wait = -1;
    if (deadline && !exited) wait = deadline > now_ms() ? (int)(deadline - now_ms()) : 0;
    if (exited) wait = drain > now_ms() ? (int)(drain - now_ms()) : 0;
    int n = poll(p, 3, wait);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(errno, "%s hook %s: poll", stage_name(stage), path);
    if (n == 0 && exited) {
      close(rfd);
      rfd = -1;
      continue;
    }
    if (n == 0) {
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
      timed_out = 1;
      exited = 1;
      /* Its output may stay open in a child of it: not waited for. */
      if (rfd >= 0) close(rfd);
      rfd = -1;
      continue;
    }
    if (p[0].revents) {
      exited = 1;
      drain = now_ms() + 1000;
    }
    if (p[2].revents) {
      ssize_t w = write(wfd, state + sent, state_len - sent);
      if (w > 0) sent += (size_t)w;
      if ((w < 0 && errno != EAGAIN) || sent == state_len) {
        close(wfd);
        wfd = -1;
      }
    }
    if (p[1].revents) {
      char buf[4096];
      ssize_t r = read(rfd, buf, sizeof buf);
      if (r <= 0) {
        close(rfd);
        rfd = -1;
      } else if ((size_t)r >= TAIL) {
        memcpy(tail, buf + r - TAIL, TAIL);
        tail_len = TAIL;
      } else {
        if (tail_len + (size_t)r > TAIL) {
          size_t drop = tail_len + (size_t)r - TAIL;
          memmove(tail, tail + drop, tail_len - drop);
          tail_len -= drop;
        }
        memcpy(tail + tail_len, buf, (size_t)r);
        tail_len += (size_t)r;
      }
    }
    /* The hook is gone and nothing can still read what is left of the state. */
    if (exited && wfd >= 0) {
      close(wfd);
      wfd = -1;
    }
  }
  if (wfd >= 0) close(wfd);
  close(pidfd);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die(errno, "%s hook %s: waitpid", stage_name(stage), path);
  if (timed_out) die(ETIMEDOUT, "%s hook %s: ran past its timeout of %us", stage_name(stage), path, timeout);
  if (WIFSIGNALED(status)) die(ECANCELED, "%s hook %s: killed by signal %d: %s", stage_name(stage), path, WTERMSIG(status), last_line(tail, tail_len));
  if (WEXITSTATUS(status) != 0) die(ECANCELED, "%s hook %s: exit status %d: %s", stage_name(stage), path, WEXITSTATUS(status), last_line(tail, tail_len));
}

void hooks_sync_parent(const struct blob *b) {
  struct blob_rec r;
  if (!blob_find(b, TSBOX_T_HOOK_SYNC, &r)) return;
  report_line("H");
  go_wait();
}

void hooks_run(const struct blob *b, uint32_t stage) {
  size_t off = 0, state_len = 0;
  struct blob_rec r;
  char *state = NULL;
  while (blob_next(b, &off, &r)) {
    if (r.tag != TSBOX_T_HOOK) continue;
    struct blob_cur c = blob_cur(&r);
    uint32_t s = cur_u32(&c), timeout = cur_u32(&c), argc = cur_u32(&c), envc = cur_u32(&c);
    const char *path = cur_str(&c);
    if (c.err || argc > 4096 || envc > 4096) die(EINVAL, "config blob: bad hook record");
    if (s != stage) continue;
    char **argv = calloc(argc + 2, sizeof *argv), **envp = calloc(envc + 1, sizeof *envp);
    if (!argv || !envp) die(ENOMEM, "%s hook %s", stage_name(stage), path);
    for (uint32_t i = 0; i < argc; i++) argv[i] = (char *)cur_str(&c);
    if (argc == 0) argv[0] = (char *)path;
    for (uint32_t i = 0; i < envc; i++) envp[i] = (char *)cur_str(&c);
    if (c.err) die(EINVAL, "config blob: truncated hook record");
    if (!state) state = state_json(b, stage, &state_len);
    run_hook(stage, path, argv, envp, timeout, state, state_len);
    free(argv);
    free(envp);
  }
  free(state);
}
