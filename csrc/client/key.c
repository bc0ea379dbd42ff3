#define _GNU_SOURCE
#include "key.h"
#include "fail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct fnv {
  uint64_t h;
};

/* Each part ends with its length, so that parts cannot run into each other. */
static void mix(struct fnv *f, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) f->h = (f->h ^ p[i]) * 0x100000001b3ULL;
  uint64_t n = len;
  const unsigned char *q = (const unsigned char *)&n;
  for (size_t i = 0; i < sizeof n; i++) f->h = (f->h ^ q[i]) * 0x100000001b3ULL;
}

static bool mix_file(struct fnv *f, const char *path) {
  char buf[8192];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cold_why(errno, "open %s", path);
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) mix(f, buf, (size_t)n);
  int e = errno;
  close(fd);
  return n == 0 || cold_why(e, "read %s", path);
}

/* The lines of /proc/self/status that a server must share: capabilities, no_new_privs, seccomp. */
static bool mix_status(struct fnv *f) {
  static const char *const keep[] = {"CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"};
  char buf[8192];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cold_why(errno, "open /proc/self/status");
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int e = errno;
  close(fd);
  if (n <= 0) return cold_why(n < 0 ? e : EIO, "read /proc/self/status");
  buf[n] = 0;
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
      if (strncmp(line, keep[i], strlen(keep[i])) == 0) mix(f, line, strlen(line));
  }
  return true;
}

static bool mix_identity(struct fnv *f, const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return cold_why(errno, "stat %s", path);
  uint64_t id[6] = {st.st_dev, st.st_ino, (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec, 0};
  mix(f, id, sizeof id);
  return true;
}

static bool ignored_env(const char *e) {
  static const char *const names[] = {"PWD=", "OLDPWD=", "NODE_EXTRA_CA_CERTS="};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strncmp(e, names[i], strlen(names[i]))) return true;
  return false;
}

bool runtime_key(char *key, const char *bundle, char **envp) {
  struct fnv f = {0xcbf29ce484222325ULL};
  uid_t euid = geteuid();
  gid_t egid = getegid();
  mix(&f, &euid, sizeof euid);
  mix(&f, &egid, sizeof egid);
  gid_t groups[256];
  int ng = getgroups(256, groups);
  if (ng < 0) return cold_why(errno, "getgroups");
  mix(&f, groups, sizeof(gid_t) * (size_t)ng);
  mode_t mask = umask(0);
  umask(mask);
  mix(&f, &mask, sizeof mask);
  static const char *const ns[] = {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"};
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
    char path[64], link[128];
    snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
    ssize_t n = readlink(path, link, sizeof link);
    if (n < 0) return cold_why(errno, "readlink %s", path);
    mix(&f, link, (size_t)n);
  }
  if (!mix_file(&f, "/proc/self/cgroup") || !mix_status(&f)) return false;
  for (int r = 0; r < RLIM_NLIMITS; r++) {
    struct rlimit rl;
    if (getrlimit(r, &rl) < 0) return cold_why(errno, "getrlimit %d", r);
    mix(&f, &rl, sizeof rl);
  }
  /* As the server compares (ts/runtime/cli/server.ts IGNORED_ENV): a sh launcher exports the cwd as PWD, and
   * containerd's shim and conmon call from each container's own bundle directory. */
  for (char **e = envp; *e; e++)
    if (!ignored_env(*e)) mix(&f, *e, strlen(*e));
  if (!mix_identity(&f, "/proc/self/exe") || !mix_identity(&f, bundle)) return false;
  snprintf(key, 17, "%016llx", (unsigned long long)f.h);
  return true;
}
