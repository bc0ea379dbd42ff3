/* The container's cgroup view: a cgroup2 fs, or on v1/hybrid hosts a tmpfs of per-hierarchy directories. */
#define _GNU_SOURCE
#include "cgroupfs.h"
#include "mountutil.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MAX_CGROUPS 64

/* One line of /proc/self/cgroup: "id:controllers:path" ("0::path" for cgroup2). */
struct own_cgroup {
  char ctrls[256];
  char path[PATH_MAX];
};

static int read_own_cgroups(struct own_cgroup *out, int max) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f) die(errno, "open /proc/self/cgroup");
  char *line = NULL;
  size_t cap = 0;
  int n = 0;
  while (n < max && getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = 0;
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!b) continue;
    *b = 0;
    snprintf(out[n].ctrls, sizeof out[n].ctrls, "%s", a + 1);
    snprintf(out[n].path, sizeof out[n].path, "%s", b + 1);
    n++;
  }
  free(line);
  fclose(f);
  return n;
}

static int has_item(const char *list, const char *item, size_t l) {
  for (const char *p = list;;) {
    size_t pl = strcspn(p, ",");
    if (pl == l && strncmp(p, item, l) == 0) return 1;
    if (!p[pl]) return 0;
    p += pl + 1;
  }
}

/* Is every comma-separated item of a also in b? */
static int subset(const char *a, const char *b) {
  for (const char *p = a; *p;) {
    size_t l = strcspn(p, ",");
    if (!has_item(b, p, l)) return 0;
    p += l;
    if (*p) p++;
  }
  return 1;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
      *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

/* The controllers named by v1 super options ("rw,cpu,cpuacct,clone_children" → "cpu,cpuacct";
 * "rw,name=systemd" → "name=systemd") and the directory name for them ("cpu,cpuacct", "systemd"). */
static void v1_hierarchy(const char *superopts, char *ctrls, size_t csz, char *name, size_t nsz) {
  static const char *const not_ctrl[] = {"rw", "ro", "noprefix", "clone_children", "xattr",
                                         "cpuset_v2_mode", "favordynmods", "nofavordynmods"};
  size_t cl = 0;
  ctrls[0] = name[0] = 0;
  for (const char *p = superopts; *p;) {
    size_t l = strcspn(p, ",");
    int skip = memchr(p, '=', l) && strncmp(p, "name=", 5) != 0; /* release_agent=... */
    for (size_t i = 0; !skip && i < sizeof not_ctrl / sizeof not_ctrl[0]; i++)
      skip = strlen(not_ctrl[i]) == l && strncmp(p, not_ctrl[i], l) == 0;
    if (!skip && cl + l + 2 < csz) {
      if (cl) ctrls[cl++] = ',';
      memcpy(ctrls + cl, p, l);
      cl += l;
      ctrls[cl] = 0;
      if (l > 5 && strncmp(p, "name=", 5) == 0) snprintf(name, nsz, "%.*s", (int)(l - 5), p + 5);
    }
    p += l;
    if (*p) p++;
  }
  if (!name[0]) snprintf(name, nsz, "%s", ctrls);
}

/* Where our own cgroup lies under a host mount of the hierarchy, or NULL when that mount's root is
 * not above it (a cgroup namespace shows roots like "/.."): then only a fresh mount gives our view. */
static const char *below_root(const char *root, const char *cgpath) {
  size_t rl = strlen(root);
  if (strcmp(root, "/") == 0) return cgpath;
  if (strncmp(cgpath, root, rl) == 0 && (cgpath[rl] == 0 || cgpath[rl] == '/')) return cgpath + rl;
  return NULL;
}

/* One hierarchy at <top>/<name>: bind of the host directory, or a fresh mount (fstype, opts). */
static void mount_hierarchy(int top, const char *where, const char *name, const char *hostdir,
                            const char *fstype, const char *opts, unsigned long flags) {
  char fdp[32], path[PATH_MAX + 300];
  snprintf(path, sizeof path, "%s/%s", where, name);
  if (mkdirat(top, name, 0755) < 0 && errno != EEXIST) die(errno, "mkdir %s", path);
  int sub = openat(top, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (sub < 0) die(errno, "open %s", path);
  if (hostdir) {
    if (mount(hostdir, mu_fdpath(sub, fdp), NULL, MS_BIND, NULL) < 0) die(errno, "mount bind %s on %s", hostdir, path);
    close(sub);
    if (flags) {
      /* sub still names the directory under the bind; the bind itself is reached by name. */
      sub = openat(top, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) die(errno, "open %s", path);
      if (mu_remount_bind(mu_fdpath(sub, fdp), flags) < 0) die(errno, "remount %s", path);
    }
  } else if (mount(fstype, mu_fdpath(sub, fdp), fstype, flags, opts) < 0) {
    die(errno, "mount %s (%s) on %s", fstype, opts ? opts : "", path);
  }
  close(sub);
  /* Co-mounted controllers are also found under each own name, as on the host ("cpu" → "cpu,cpuacct"). */
  if (!strchr(name, ',')) return;
  for (const char *p = name; *p;) {
    size_t l = strcspn(p, ",");
    char link[NAME_MAX + 1];
    snprintf(link, sizeof link, "%.*s", (int)l, p);
    if (symlinkat(name, top, link) < 0 && errno != EEXIST) die(errno, "symlink %s on %s/%s", name, where, link);
    p += l;
    if (*p) p++;
  }
}

/* Every cgroup hierarchy the host has mounted (outside the rootfs), each once. */
static void mount_hierarchies(int top, const char *where, const char *rootfs, unsigned long flags) {
  static struct own_cgroup own[MAX_CGROUPS];
  int nown = read_own_cgroups(own, MAX_CGROUPS);
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) die(errno, "open /proc/self/mountinfo");
  char *line = NULL, done[MAX_CGROUPS][NAME_MAX + 1];
  size_t cap = 0, rl = strlen(rootfs);
  int ndone = 0;
  while (getline(&line, &cap, f) > 0 && ndone < MAX_CGROUPS) {
    /* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
    char *sep = strstr(line, " - ");
    if (!sep) continue;
    char root[PATH_MAX], mnt[PATH_MAX], fstype[64], src[256], superopts[1024];
    if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2) continue;
    if (sscanf(sep + 3, "%63s %255s %1023s", fstype, src, superopts) != 3) continue;
    int v2 = strcmp(fstype, "cgroup2") == 0;
    if (!v2 && strcmp(fstype, "cgroup") != 0) continue;
    unescape(root);
    unescape(mnt);
    if (strncmp(mnt, rootfs, rl) == 0 && (mnt[rl] == '/' || mnt[rl] == 0)) continue;
    char ctrls[256], name[NAME_MAX + 1];
    if (v2) {
      ctrls[0] = 0;
      snprintf(name, sizeof name, "unified");
    } else {
      v1_hierarchy(superopts, ctrls, sizeof ctrls, name, sizeof name);
    }
    int seen = 0;
    for (int i = 0; i < ndone && !seen; i++) seen = strcmp(done[i], name) == 0;
    const struct own_cgroup *cg = NULL;
    for (int i = 0; i < nown && !cg; i++)
      if (v2 ? own[i].ctrls[0] == 0 : own[i].ctrls[0] && subset(own[i].ctrls, ctrls) && subset(ctrls, own[i].ctrls))
        cg = &own[i];
    if (seen || !cg) continue;
    snprintf(done[ndone++], NAME_MAX + 1, "%s", name);
    const char *rel = below_root(root, cg->path);
    if (rel) {
      char hostdir[2 * PATH_MAX];
      snprintf(hostdir, sizeof hostdir, "%s%s", mnt, rel);
      mount_hierarchy(top, where, name, hostdir, NULL, NULL, flags);
    } else {
      char opts[300];
      snprintf(opts, sizeof opts, "%s%s", strncmp(ctrls, "name=", 5) == 0 ? "none," : "", ctrls);
      mount_hierarchy(top, where, name, NULL, v2 ? "cgroup2" : "cgroup", v2 ? NULL : opts, flags);
    }
  }
  free(line);
  fclose(f);
}

/* cgroup2 host: a cgroup2 fs, or where that is refused (no cgroup namespace of our own in a user
 * namespace) a bind of our own cgroup directory. */
static void mount_v2(int rootfd, const char *rootfs, const char *dst, const char *where, unsigned long flags) {
  char fdp[32];
  int fd = mu_resolve(rootfd, dst, MU_DIR, 0755);
  if (fd < 0) die(errno, "openat2 %s in %s", dst, rootfs);
  if (mount("cgroup2", mu_fdpath(fd, fdp), "cgroup2", flags, NULL) == 0) {
    close(fd);
    return;
  }
  if (errno != EPERM && errno != EBUSY) die(errno, "mount cgroup2 on %s", where);
  struct own_cgroup own[MAX_CGROUPS];
  int n = read_own_cgroups(own, MAX_CGROUPS);
  const char *path = NULL;
  for (int i = 0; i < n && !path; i++)
    if (!own[i].ctrls[0]) path = own[i].path;
  if (!path) die(ENOENT, "cgroup2 entry of /proc/self/cgroup");
  char hostdir[PATH_MAX + 32];
  snprintf(hostdir, sizeof hostdir, "/sys/fs/cgroup%s", path);
  if (mount(hostdir, fdp, NULL, MS_BIND, NULL) < 0) die(errno, "mount bind %s on %s", hostdir, where);
  close(fd);
  if (!flags) return;
  if ((fd = mu_resolve(rootfd, dst, MU_NONE, 0)) < 0) die(errno, "openat2 %s in %s", dst, rootfs);
  if (mu_remount_bind(mu_fdpath(fd, fdp), flags) < 0) die(errno, "remount %s", where);
  close(fd);
}

void cgroupfs_mount(int rootfd, const char *rootfs, const char *dst, unsigned long flags) {
  char where[2 * PATH_MAX], fdp[32];
  snprintf(where, sizeof where, "%s%s", rootfs, dst);
  flags &= MU_MNT_FLAGS;
  struct statfs sfs;
  if (statfs("/sys/fs/cgroup", &sfs) < 0) die(errno, "statfs /sys/fs/cgroup");
  if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
    mount_v2(rootfd, rootfs, dst, where, flags);
    return;
  }
  int fd = mu_resolve(rootfd, dst, MU_DIR, 0755);
  if (fd < 0) die(errno, "openat2 %s in %s", dst, rootfs);
  /* Writable until the hierarchy directories exist; made read-only below if asked. */
  if (mount("tmpfs", mu_fdpath(fd, fdp), "tmpfs", flags & ~MS_RDONLY, "mode=755") < 0)
    die(errno, "mount tmpfs on %s", where);
  close(fd);
  int top = mu_resolve(rootfd, dst, MU_NONE, 0);
  if (top < 0) die(errno, "openat2 %s in %s", dst, rootfs);
  mount_hierarchies(top, where, rootfs, flags);
  if ((flags & MS_RDONLY) && mount(NULL, mu_fdpath(top, fdp), NULL, MS_REMOUNT | flags, "mode=755") < 0)
    die(errno, "remount tmpfs read-only on %s", where);
  close(top);
}
