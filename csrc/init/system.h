/* Namespaces to join, and the container's system settings: hostname, sysctls, oom score, rlimits. */
#ifndef TSBOX_INIT_SYSTEM_H
#define TSBOX_INIT_SYSTEM_H
#include "blob.h"

/* TSBOX_T_SETNS in order (all paths opened first), then TSBOX_T_UNSHARE_CGROUP. `only` (a CLONE_NEW*
 * type): that namespace alone, and no unshare (the monitor enters the pid namespace before its clone). */
void system_join(const struct blob *b, int only);
/* Hostname, domainname, sysctls, oom_score_adj, rlimits. */
void system_setup(const struct blob *b);
#endif
