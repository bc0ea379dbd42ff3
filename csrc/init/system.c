/* Joining namespaces and the per-container kernel settings. */
#define _GNU_SOURCE
#include "system.h"
#include <grp.h>
#include "../common/loopback.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_JOINS 16

static void write_file(const char *path, const char *value);

/* Once: before joining a user namespace (as the host's root, as runc's nsexec writes it), else with the
 * other system settings. In the joined namespace the write is refused (EACCES). */
static void oom_score_adj(const struct blob *b) {
  static int done;
  struct blob_rec r;
  if (done || !blob_find(b, TSBOX_T_OOM_SCORE_ADJ, &r)) return;
  struct blob_cur c = blob_cur(&r);
  char v[16];
  snprintf(v, sizeof v, "%d", cur_i32(&c));
  write_file("/proc/self/oom_score_adj", v);
  done = 1;
}

void system_join(const struct blob *b, int only) {
  struct blob_rec r;
  size_t off = 0;
  int fds[MAX_JOINS], types[MAX_JOINS], n = 0;
  const char *paths[MAX_JOINS];
  /* Open everything before joining anything: after joining a mount namespace the paths change meaning. */
  while (blob_next(b, &off, &r)) {
    if (r.tag != TSBOX_T_SETNS) continue;
    if (n == MAX_JOINS) die(E2BIG, "setns: more than %d namespaces", MAX_JOINS);
    struct blob_cur c = blob_cur(&r);
    types[n] = (int)cur_u32(&c);
    paths[n] = cur_str(&c);
    if (c.err) die(EINVAL, "config blob: truncated setns record");
    if (only && types[n] != only) continue;
    if ((fds[n] = open(paths[n], O_RDONLY | O_CLOEXEC)) < 0) die(errno, "open namespace %s", paths[n]);
    n++;
  }
  for (int i = 0; i < n && !only; i++)
    if (types[i] == CLONE_NEWUSER) oom_score_adj(b);
  for (int i = 0; i < n; i++) {
    if (setns(fds[i], types[i]) < 0) die(errno, "setns %s", paths[i]);
    close(fds[i]);
    /* Root of the joined user namespace, as runc's nsexec becomes: our host ids are not mapped there,
     * and what we create (the /dev tmpfs's nodes) must be owned by ids that are (EOVERFLOW otherwise).
     * A namespace without 0 mapped (EINVAL) keeps ours; the process's own user comes later anyway. */
    if (types[i] == CLONE_NEWUSER) {
      if (setgroups(0, NULL) < 0 && errno != EPERM) die(errno, "setgroups in the joined user namespace %s", paths[i]);
      if (setresgid(0, 0, 0) < 0 && errno != EINVAL) die(errno, "setresgid 0 in the joined user namespace %s", paths[i]);
      if (setresuid(0, 0, 0) < 0 && errno != EINVAL) die(errno, "setresuid 0 in the joined user namespace %s", paths[i]);
    }
  }
  if (!only && blob_find(b, TSBOX_T_UNSHARE, &r)) {
    struct blob_cur c = blob_cur(&r);
    int flags = (int)cur_u32(&c);
    if (c.err) die(EINVAL, "config blob: truncated unshare record");
    if (unshare(flags) < 0) die(errno, "unshare %#x in the joined user namespace", (unsigned)flags);
  }
  if (!only && blob_find(b, TSBOX_T_UNSHARE_CGROUP, &r) && unshare(CLONE_NEWCGROUP) < 0) die(errno, "unshare cgroup namespace");
}

int write_str(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = strlen(value);
  ssize_t n = write(fd, value, len);
  int e = n < 0 ? errno : EIO; /* a short write to a proc or sysfs file is a refusal */
  close(fd);
  if (n == (ssize_t)len) return 0;
  errno = e;
  return -1;
}

static void write_file(const char *path, const char *value) {
  if (write_str(path, value) < 0) die(errno, "write %s", path);
}

static void sysctl(const char *key, const char *value) {
  char path[PATH_MAX];
  int n = snprintf(path, sizeof path, "/proc/sys/%s", key);
  if (n < 0 || (size_t)n >= sizeof path || strstr(key, "..")) die(EINVAL, "sysctl %s: bad name", key);
  /* Dotted names map to directories; a '/' form is accepted as is, as runc does. */
  for (char *p = path + 10; *p; p++)
    if (*p == '.') *p = '/';
  write_file(path, value);
}

void system_setup(const struct blob *b) {
  struct blob_rec r;
  size_t off = 0;
  /* A new network namespace starts with lo down; docker's "none" and every bridge container expect it up. */
  const char *what;
  int e;
  if (blob_find(b, TSBOX_T_LO_UP, &r) && (e = loopback_up(&what)) < 0) die(-e, "%s", what);
  while (blob_next(b, &off, &r)) {
    struct blob_cur c = blob_cur(&r);
    switch (r.tag) {
      case TSBOX_T_HOSTNAME: {
        const char *h = cur_str(&c);
        if (sethostname(h, strlen(h)) < 0) die(errno, "sethostname %s", h);
        break;
      }
      case TSBOX_T_DOMAINNAME: {
        const char *d = cur_str(&c);
        if (setdomainname(d, strlen(d)) < 0) die(errno, "setdomainname %s", d);
        break;
      }
      case TSBOX_T_SYSCTL: {
        const char *k = cur_str(&c), *v = cur_str(&c);
        if (c.err) die(EINVAL, "config blob: truncated sysctl record");
        sysctl(k, v);
        break;
      }
      case TSBOX_T_OOM_SCORE_ADJ:
        oom_score_adj(b);
        break;
      case TSBOX_T_PERSONALITY: {
        uint32_t persona = cur_u32(&c);
        if (c.err) die(EINVAL, "config blob: truncated personality record");
        /* Kept across the exec: the process's uname -m says i686 under LINUX32. */
        if (personality(persona) < 0) die(errno, "personality %#x", persona);
        break;
      }
      case TSBOX_T_RLIMIT: {
        uint32_t res = cur_u32(&c);
        struct rlimit rl = {.rlim_cur = cur_u64(&c), .rlim_max = cur_u64(&c)};
        if (c.err) die(EINVAL, "config blob: truncated rlimit record");
        if (setrlimit((int)res, &rl) < 0) die(errno, "setrlimit %u soft %llu hard %llu", res, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
        break;
      }
      default:
        break;
    }
  }
}
