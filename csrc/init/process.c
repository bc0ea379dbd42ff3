/* Process setup, in the order runc uses: seccomp needs CAP_SYS_ADMIN unless no_new_privs is set, so it
 * goes first without no_new_privs and last with it. */
#define _GNU_SOURCE
#include "../common/exec_prep.h"
#include "process.h"
#include "caps.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <linux/filter.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static char **collect(const struct blob *b, uint32_t tag) {
  size_t n = 0, off = 0;
  struct blob_rec r;
  while (blob_next(b, &off, &r))
    if (r.tag == tag) n++;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) die(ENOMEM, "calloc");
  n = 0;
  off = 0;
  while (blob_next(b, &off, &r)) {
    if (r.tag != tag) continue;
    struct blob_cur c = blob_cur(&r);
    v[n] = (char *)cur_str(&c);
    if (c.err) die(EINVAL, "config blob: truncated string record %u", tag);
    n++;
  }
  return v;
}

int exec_exit_code(int err) { return err == ENOENT || err == ENOTDIR ? 127 : 126; }

static int executable(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return -errno;
  if (S_ISDIR(st.st_mode)) return -EACCES;
  if (access(path, X_OK) < 0) return -errno;
  return 0;
}

void process_prepare(const struct blob *b, struct proc *p) {
  p->argv = collect(b, TSBOX_T_ARG);
  p->envp = collect(b, TSBOX_T_ENV);
  struct blob_rec r;
  p->cwd = "/";
  if (blob_find(b, TSBOX_T_CWD, &r)) {
    struct blob_cur c = blob_cur(&r);
    p->cwd = cur_str(&c);
  }
  if (!p->argv[0]) die(EINVAL, "no process args");
  p->preserve = 0;
  if (blob_find(b, TSBOX_T_PRESERVE_FDS, &r)) {
    struct blob_cur c = blob_cur(&r);
    p->preserve = (int)cur_u32(&c);
    if (c.err || p->preserve < 0 || p->preserve > TSBOX_MAX_EXTRA) die(EINVAL, "config blob: bad preserve-fds record");
    /* The report pipe must survive the fds passed to 3.. until the exec: moved above all of them. */
    int rep = report_fd();
    if (rep >= 0 && rep < 3 + p->preserve) {
      int moved = fcntl(rep, F_DUPFD_CLOEXEC, TSBOX_FD_EXTRA + TSBOX_MAX_EXTRA);
      if (moved < 0) die(errno, "fcntl F_DUPFD_CLOEXEC report fd");
      close(rep);
      report_set_fd(moved);
    }
  }
  const char *name = p->argv[0];
  if (strchr(name, '/')) {
    if (strlen(name) >= sizeof p->path) die(ENAMETOOLONG, "exec %s", name);
    strcpy(p->path, name);
    /* Relative names resolve against cwd, which is only entered later: check from there. */
    if (name[0] == '/') {
      int e = executable(p->path);
      if (e < 0) die_code(exec_exit_code(-e), -e, "exec %s", name);
    }
    return;
  }
  const char *path = DEFAULT_PATH;
  for (char **e = p->envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  int first_err = ENOENT;
  for (const char *s = path;;) {
    const char *end = strchr(s, ':');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    if (len + strlen(name) + 2 < sizeof p->path) {
      if (len == 0) strcpy(p->path, name);
      else {
        memcpy(p->path, s, len);
        p->path[len] = '/';
        strcpy(p->path + len + 1, name);
      }
      int e = executable(p->path);
      if (e == 0) return;
      if (e != -ENOENT && e != -ENOTDIR && first_err == ENOENT) first_err = -e;
    }
    if (!end) break;
    s = end + 1;
  }
  die_code(exec_exit_code(first_err), first_err, "exec %s", name);
}

static int mkdir_p(const char *path) {
  char buf[4096];
  if (strlen(path) >= sizeof buf) return errno = ENAMETOOLONG, -1;
  strcpy(buf, path);
  for (char *q = buf + 1;; q++) {
    if (*q == '/' || *q == '\0') {
      char c = *q;
      *q = '\0';
      if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
      *q = c;
      if (!c) return 0;
    }
  }
}

static void load_seccomp(const struct blob *b) {
  struct blob_rec r;
  if (!blob_find(b, TSBOX_T_SECCOMP, &r)) return;
  struct blob_cur c = blob_cur(&r);
  uint32_t flags = cur_u32(&c);
  size_t len;
  const uint8_t *prog = cur_rest(&c, &len);
  if (c.err || len == 0 || len % sizeof(struct sock_filter)) die(EINVAL, "config blob: bad seccomp program (%zu bytes)", len);
  /* The blob is mapped privately; the filter is copied by the kernel. */
  struct sock_fprog fp = {.len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = (struct sock_filter *)prog};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fp) < 0) die(errno, "seccomp set filter (%u instructions)", fp.len);
}

/* The additional gids, or none at all: root's host groups must not leak into the container. */
static void set_groups(const struct blob *b) {
  struct blob_rec r;
  size_t n = 0, off = 0;
  while (blob_next(b, &off, &r))
    if (r.tag == TSBOX_T_ADDITIONAL_GID) n++;
  gid_t *groups = calloc(n ? n : 1, sizeof *groups);
  if (!groups) die(ENOMEM, "setgroups: %zu groups", n);
  n = 0;
  off = 0;
  while (blob_next(b, &off, &r)) {
    if (r.tag != TSBOX_T_ADDITIONAL_GID) continue;
    struct blob_cur c = blob_cur(&r);
    groups[n++] = cur_u32(&c);
    if (c.err) die(EINVAL, "config blob: truncated additional gid record");
  }
  if (setgroups(n, groups) < 0) die(errno, "setgroups (%zu groups)", n);
  free(groups);
}

void process_secure(const struct blob *b, const struct proc *p) {
  struct blob_rec r;
  int nnp = blob_find(b, TSBOX_T_NO_NEW_PRIVS, &r);
  if (chdir(p->cwd) < 0) {
    /* As runc and docker do: a missing working directory is created (still as root, before the user switch). */
    if (errno != ENOENT || mkdir_p(p->cwd) < 0 || chdir(p->cwd) < 0) die(errno, "chdir %s", p->cwd);
  }
  if (p->path[0] != '/' ) {
    int e = executable(p->path);
    if (e < 0) die_code(exec_exit_code(-e), -e, "exec %s", p->path);
  }
  if (!nnp) load_seccomp(b);

  struct caps caps;
  int have_caps = blob_find(b, TSBOX_T_CAPS, &r);
  if (have_caps) {
    struct blob_cur c = blob_cur(&r);
    caps.bounding = cur_u64(&c);
    caps.effective = cur_u64(&c);
    caps.permitted = cur_u64(&c);
    caps.inheritable = cur_u64(&c);
    caps.ambient = cur_u64(&c);
    if (c.err) die(EINVAL, "config blob: truncated caps record");
    caps_drop_bounding(&caps);
  }

  uint32_t uid = 0, gid = 0;
  if (blob_find(b, TSBOX_T_UID, &r)) {
    struct blob_cur c = blob_cur(&r);
    uid = cur_u32(&c);
  }
  if (blob_find(b, TSBOX_T_GID, &r)) {
    struct blob_cur c = blob_cur(&r);
    gid = cur_u32(&c);
  }
  if (!blob_find(b, TSBOX_T_SETGROUPS_DENY, &r)) set_groups(b);
  if (setresgid(gid, gid, gid) < 0) die(errno, "setresgid %u", gid);
  /* Keep the permitted set across the uid change; capset below decides what stays. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die(errno, "prctl PR_SET_KEEPCAPS");
  if (setresuid(uid, uid, uid) < 0) die(errno, "setresuid %u", uid);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die(errno, "prctl PR_SET_KEEPCAPS");
  if (have_caps) caps_apply(&caps);

  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die(errno, "prctl PR_SET_NO_NEW_PRIVS");
  if (blob_find(b, TSBOX_T_UMASK, &r)) {
    struct blob_cur c = blob_cur(&r);
    umask((mode_t)cur_u32(&c));
  }
}

void process_seccomp_late(const struct blob *b) {
  struct blob_rec r;
  if (blob_find(b, TSBOX_T_NO_NEW_PRIVS, &r)) load_seccomp(b);
}



/* What the process must not inherit from tsbox-init's signal state. tsbox-init starts with every
 * disposition at its default (the child that execs it resets them all, exec_prep.h, and execve keeps none
 * that was caught) and changes only SIGPIPE's (main.c; signalfd blocks signals, it installs no handler):
 * that one and the mask, not all 64 as reset_signals() does (a sigaction call each). */
static void reset_own_signals(void) {
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

void process_exec(const struct proc *p) {
  /* Ascending: a target (3+i) may only be a source already moved (TSBOX_FD_EXTRA+j, j<i). */
  for (int i = 0; i < p->preserve; i++)
    if (dup2(TSBOX_FD_EXTRA + i, 3 + i) < 0) return;
  cloexec_from(3 + p->preserve);
  reset_own_signals();
  execve(p->path, p->argv, p->envp);
}
