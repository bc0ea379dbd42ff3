/* tsbox-init: the first process of every container (and the shim of every exec).
 * Reads the config blob (csrc/common/config.h) and goes: join namespaces, root filesystem, terminal,
 * system settings, final mounts, wait for start, rights, exec (or fork and reap as pid 1). */
#define _GNU_SOURCE
#include "blob.h"
#include "caps.h"
#include "go.h"
#include "hooks.h"
#include "label.h"
#include "console.h"
#include "monitor.h"
#include "owner.h"
#include "placement.h"
#include "process.h"
#include "reaper.h"
#include "report.h"
#include "rootfs.h"
#include "system.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Whether the parent wrote this map (/proc/self/uid_map or gid_map): empty until then. */
static int map_written(const char *path) {
  char c;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, &c, 1);
  close(fd);
  return n == 1;
}

/* The parent's "go": id maps written, cgroups joined. EOF means it gave up: never run unplaced. */
static void wait_for_go(int new_userns) {
  go_wait();
  /* Kept for a second byte (TSBOX_T_HOOK_SYNC) until the root filesystem is set up. */
  if (!new_userns) return;
  /* Become the namespace's root. EINVAL with the maps written means 0 is not mapped (a sandbox that
   * keeps the caller's ids): the ambient capabilities the addon carried across exec do instead. */
  int e = setresgid(0, 0, 0) < 0 ? errno : 0;
  if (e && (e != EINVAL || !map_written("/proc/self/gid_map"))) die(e, "setresgid 0");
  if (setresuid(0, 0, 0) < 0) {
    e = errno;
    if (e != EINVAL || !map_written("/proc/self/uid_map")) die(e, "setresuid 0");
  }
}

/* Our fd directory in the host's /proc, opened before the root changes: the exec fifo is reopened
 * through it, also in a root without /proc (a chroot with no mount namespace of its own). */
static int fd_dir = -1;

static void open_fd_dir(void) {
  if (fcntl(TSBOX_FD_FIFO, F_GETFD) >= 0) fd_dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void wait_for_start(void) {
  if (fcntl(TSBOX_FD_FIFO, F_GETFD) < 0) return;
  report_line("R");
  /* The O_PATH fd reopened for writing blocks until `start` opens the fifo for reading. */
  int fd = fd_dir >= 0 ? openat(fd_dir, "5", O_WRONLY | O_CLOEXEC) : open("/proc/self/fd/5", O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(errno, "open exec fifo through /proc/self/fd/5 (is /proc mounted?)");
  if (fd_dir >= 0) close(fd_dir);
  if (write(fd, "0", 1) != 1) die(errno, "write exec fifo");
  close(fd);
  close(TSBOX_FD_FIFO);
}

int main(int argc, char **argv) {
  prctl(PR_SET_NAME, "tsbox-init", 0, 0, 0);
  /* A parent CLI may have exited after create: reports to it must fail with EPIPE, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  struct blob b = {0};
  int new_userns = argc > 1 && strcmp(argv[1], TSBOX_ARG_NEW_USERNS) == 0;
  if (argc > 2 && strcmp(argv[1], TSBOX_ARG_MONITOR) == 0) {
    unsigned long flags = strtoul(argv[2], NULL, 10);
    monitor_start(flags, &b);
    new_userns = (flags & CLONE_NEWUSER) != 0;
  }
  /* Never in the caller's session: a terminal it has must not be the container's controlling terminal
   * (TIOCSTI would type into it). console_setup makes the container's own pty the controlling one. */
  setsid();
  placement_enter();
  wait_for_go(new_userns);
  if (!b.data) blob_load(&b);
  owner_bind(&b, 0);
  open_fd_dir();
  caps_init();
  struct blob_rec r;
  int has_root = blob_find(&b, TSBOX_T_ROOTFS, &r);

  system_join(&b, 0);
  if (has_root) {
    rootfs_setup(&b); /* with the parent's hooks and the createContainer hooks */
  } else {
    hooks_sync_parent(&b);
    hooks_run(&b, TSBOX_HOOK_CREATE_CONTAINER);
    if (blob_find(&b, TSBOX_T_CHROOT, &r)) rootfs_chroot(&b);
  }
  close(TSBOX_FD_GO);
  console_setup(&b, has_root);
  system_setup(&b);
  if (has_root) rootfs_finalize(&b);

  struct proc p;
  process_prepare(&b, &p);
  /* With the capabilities still ours, the container's /proc mounted. */
  label_apply(&b);
  /* Everything that can fail happens before "created" (runc's order): a bad user, capability or
   * working directory fails create, not the start of what looks like the application. */
  process_secure(&b, &p);
  wait_for_start();
  hooks_run(&b, TSBOX_HOOK_START_CONTAINER);
  /* After every credential change (they clear it) and before seccomp (which may forbid prctl). */
  owner_bind(&b, 1);
  process_seccomp_late(&b);

  uint32_t mode = TSBOX_MODE_EXEC;
  if (blob_find(&b, TSBOX_T_INIT_MODE, &r)) {
    struct blob_cur c = blob_cur(&r);
    mode = cur_u32(&c);
    if (mode != TSBOX_MODE_EXEC && mode != TSBOX_MODE_INIT) die(EINVAL, "config blob: unknown init mode %u", mode);
  }
  /* With a monitor, the log goes through it. */
  if (mode == TSBOX_MODE_INIT) reaper_run(&p, !monitored && blob_find(&b, TSBOX_T_LOG_JSON, &r));

  /* The report fd becomes close-on-exec there: the parent reads EOF as success, unless a monitor keeps
   * the pipe open, which cannot tell: then "started" is said first. */
  if (monitored) report_line("S");
  process_exec(&p);
  int e = errno;
  /* Signals are back to default by now: the report of the failure must not die of SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  die_code(exec_exit_code(e), e, "exec %s", p.path);
}
