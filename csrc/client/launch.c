#define _GNU_SOURCE
#include "launch.h"
#include "fail.h"
#include "../common/exec_prep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

int pkg_find(struct pkg *p) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return cold_why(errno, "readlink /proc/self/exe");
  exe[n] = 0;
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(exe, '/');
    if (!slash) return cold_why(0, "%s: not two directories deep", exe);
    *slash = 0;
  }
  if ((size_t)snprintf(p->cached, sizeof p->cached, "%s/bin/cached.cjs", exe) >= sizeof p->cached ||
      (size_t)snprintf(p->bundle, sizeof p->bundle, "%s/dist/tsbox-runtime.cjs", exe) >= sizeof p->bundle)
    return cold_why(ENAMETOOLONG, "%s", exe);
  return 1;
}

void go_cold(const struct pkg *p, int argc, char **argv) {
  char **args = calloc((size_t)argc + 3, sizeof *args);
  if (!args) {
    say(ENOMEM, "calloc");
    exit(127);
  }
  args[0] = "node";
  args[1] = (char *)p->cached;
  args[2] = (char *)p->bundle;
  for (int i = 1; i < argc; i++) args[i + 2] = argv[i];
  /* Node starts as the shell script started it: default dispositions (SIGPIPE is ignored by the warm
   * path), nothing blocked. */
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execvp("node", args);
  say(errno, "exec node");
  exit(127);
}

static __attribute__((noreturn)) void exec_server(const struct pkg *p, int lock, const char *sock) {
  if (setsid() < 0) _exit(1);
  pid_t pid = fork();
  if (pid != 0) _exit(pid < 0 ? 1 : 0);
  /* The grandchild: no parent to wait for it but the subreaper or init. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(1);
  /* The lock on fd 3 without O_CLOEXEC (dup2 clears it); held by the server for its whole life. */
  if (lock != 3 && dup2(lock, 3) < 0) _exit(1);
  if (lock == 3) fcntl(3, F_SETFD, 0);
  /* containerd's shim and conmon wait for EOF on the pipes they gave the runtime: nothing of ours
   * stays open in the server. */
  cloexec_from(4);
  /* A server must not pin the caller's cwd (a bundle on a tmpfs could not be unmounted). */
  if (chdir("/") < 0) _exit(1);
  reset_signals();
  char *args[] = {"node", (char *)p->cached, (char *)p->bundle, "--serve", (char *)sock, NULL};
  execvp("node", args);
  _exit(127);
}

void start_server(const struct pkg *p, int dirfd, const char *dir, const char *key) {
  char name[64], sock[4200];
  snprintf(name, sizeof name, "%s.lock", key);
  if ((size_t)snprintf(sock, sizeof sock, "%s/%s.sock", dir, key) >= sizeof sock) return (void)cold_why(ENAMETOOLONG, "%s", dir);
  int lock = openat(dirfd, name, O_CREAT | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lock < 0) return (void)cold_why(errno, "open %s/%s", dir, name);
  if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
    /* Busy: a server is starting, or one is ending; this call goes cold without waiting. */
    cold_why(errno, "flock %s/%s", dir, name);
    close(lock);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) exec_server(p, lock, sock);
  if (pid < 0) cold_why(errno, "fork");
  else
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  close(lock);
  cold_why(0, "no server on %s: one is starting", sock);
}
