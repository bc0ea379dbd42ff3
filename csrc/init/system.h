/* Namespaces to join, and the container's system settings: hostname, sysctls, oom score, rlimits. */
#ifndef TSBOX_INIT_SYSTEM_H
#define TSBOX_INIT_SYSTEM_H
#include "blob.h"

/* TSBOX_T_SETNS in order (all paths opened first), then TSBOX_T_UNSHARE_CGROUP. `only` (a CLONE_NEW*
 * type): that namespace alone, and no unshare (the monitor enters the pid namespace before its clone). */
void system_join(const struct blob *b, int only);
/* Writes value to the file at path (proc and sysfs attributes): 0, or -1 with errno. */
int write_str(const char *path, const char *value);
/* Hostname, domainname, sysctls, oom_score_adj, rlimits. */
void system_setup(const struct blob *b);
#endif
