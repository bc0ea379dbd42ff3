/* Entering the container's cgroup v1 hierarchies before "go" (config.h, TSBOX_FD_FIRST_FREE). */
#ifndef TSBOX_INIT_PLACEMENT_H
#define TSBOX_INIT_PLACEMENT_H

/* Writes "0" to each "tasks" fd from TSBOX_FD_FIRST_FREE up, closes it, and reports "P" when there
 * was one. Dies naming the file on failure. */
void placement_enter(void);

#endif
