/* tsbox-init: the first process of every container (and the shim of every exec).
 * Reads the config blob (csrc/common/config.h) and goes: join namespaces, root filesystem, terminal,
 * system settings, final mounts, wait for start, rights, exec (or fork and reap as pid 1). */
#define _GNU_SOURCE
#include "blob.h"
#include "caps.h"
#include "console.h"
#include "placement.h"
#include "process.h"
#include "reaper.h"
#include "report.h"
#include "rootfs.h"
#include "system.h"

#include <errno.h>
#include <fcntl.h>
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
  char c;
  ssize_t n;
  do n = read(TSBOX_FD_GO, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(1);
  close(TSBOX_FD_GO);
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

static void wait_for_start(void) {
  if (fcntl(TSBOX_FD_FIFO, F_GETFD) < 0) return;
  report_line("R");
  /* The O_PATH fd reopened for writing blocks until `start` opens the fifo for reading. */
  int fd = open("/proc/self/fd/5", O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(errno, "open exec fifo through /proc/self/fd/5 (is /proc mounted?)");
  if (write(fd, "0", 1) != 1) die(errno, "write exec fifo");
  close(fd);
  close(TSBOX_FD_FIFO);
}

int main(int argc, char **argv) {
  prctl(PR_SET_NAME, "tsbox-init", 0, 0, 0);
  /* A parent CLI may have exited after create: reports to it must fail with EPIPE, not kill us. */
  signal(SIGPIPE, SIG_IGN);
  placement_enter();
  wait_for_go(argc > 1 && strcmp(argv[1], TSBOX_ARG_NEW_USERNS) == 0);
  struct blob b;
  blob_load(&b);
  caps_init();
  struct blob_rec r;
  int has_root = blob_find(&b, TSBOX_T_ROOTFS, &r);

  system_join(&b);
  if (has_root) rootfs_setup(&b);
  console_setup(&b, has_root);
  system_setup(&b);
  if (has_root) rootfs_finalize(&b);

  struct proc p;
  process_prepare(&b, &p);
  wait_for_start();
  process_secure(&b, &p);

  uint32_t mode = TSBOX_MODE_EXEC;
  if (blob_find(&b, TSBOX_T_INIT_MODE, &r)) {
    struct blob_cur c = blob_cur(&r);
    mode = cur_u32(&c);
    if (mode != TSBOX_MODE_EXEC && mode != TSBOX_MODE_INIT) die(EINVAL, "config blob: unknown init mode %u", mode);
  }
  if (mode == TSBOX_MODE_INIT) reaper_run(&p, blob_find(&b, TSBOX_T_LOG_JSON, &r));

  /* The report fd becomes close-on-exec there: the parent reads EOF as success. */
  process_exec(&p);
  int e = errno;
  /* Signals are back to default by now: the report of the failure must not die of SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  die_code(exec_exit_code(e), e, "exec %s", p.path);
}
