/* AppArmor and SELinux exec labels, written where runc writes them. */
#define _GNU_SOURCE
#include "label.h"
#include "report.h"
#include "system.h"

#include <errno.h>
#include <stdio.h>

void label_apply(const struct blob *b) {
  struct blob_rec r;
  if (blob_find(b, TSBOX_T_APPARMOR, &r)) {
    const char *profile = rec_str(&r, "apparmor");
    char v[4096];
    snprintf(v, sizeof v, "exec %s", profile);
    /* The AppArmor-only file where the kernel has it (other LSMs stacked), else the shared one. */
    if (write_str("/proc/thread-self/attr/apparmor/exec", v) < 0) {
      if (errno != ENOENT) die(errno, "apparmor profile %s: write /proc/thread-self/attr/apparmor/exec", profile);
      if (write_str("/proc/thread-self/attr/exec", v) < 0) die(errno, "apparmor profile %s: write /proc/thread-self/attr/exec", profile);
    }
  }
  if (blob_find(b, TSBOX_T_SELINUX_LABEL, &r)) {
    const char *label = rec_str(&r, "selinux label");
    if (write_str("/proc/thread-self/attr/exec", label) < 0) die(errno, "selinux label %s: write /proc/thread-self/attr/exec", label);
  }
}
