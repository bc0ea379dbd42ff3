/* Capabilities as bit masks, with the raw syscalls (no libcap in a static init). */
#define _GNU_SOURCE
#include "caps.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int last = -1;

void caps_init(void) {
  last = CAP_LAST_CAP;
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[16] = {0};
    if (read(fd, buf, sizeof buf - 1) > 0) last = atoi(buf);
    close(fd);
  }
  /* The masks are 64 bits wide. */
  if (last < 0 || last > 63) last = last < 0 ? CAP_LAST_CAP : 63;
}

static int last_cap(void) {
  if (last < 0) caps_init();
  return last;
}

void caps_drop_bounding(const struct caps *c) {
  for (int cap = 0; cap <= last_cap(); cap++) {
    if (c->bounding & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) die(errno, "prctl PR_CAPBSET_DROP %d", cap);
  }
}

void caps_apply(const struct caps *c) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2] = {
      {.effective = (uint32_t)c->effective, .permitted = (uint32_t)c->permitted, .inheritable = (uint32_t)c->inheritable},
      {.effective = (uint32_t)(c->effective >> 32), .permitted = (uint32_t)(c->permitted >> 32), .inheritable = (uint32_t)(c->inheritable >> 32)},
  };
  if (syscall(SYS_capset, &h, d) < 0) die(errno, "capset effective %#llx permitted %#llx", (unsigned long long)c->effective, (unsigned long long)c->permitted);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) die(errno, "prctl PR_CAP_AMBIENT_CLEAR_ALL");
  for (int cap = 0; cap <= last_cap(); cap++) {
    /* A cap not in permitted and inheritable cannot be ambient: skipped, as runc does. */
    if (c->ambient & (1ULL << cap)) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
  }
}
