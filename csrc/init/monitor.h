/* The monitor of a detached engine container (conmon's job, in tsbox-init): outside the container's
 * pid namespace and cgroups, it keeps what must outlive the CLI that started the container. */
#ifndef TSBOX_INIT_MONITOR_H
#define TSBOX_INIT_MONITOR_H
#include "blob.h"

/* Set in the container's first process when a monitor holds the report pipe too: the parent then sees
 * no EOF at exec, so "S" is sent before it. */
extern int monitored;

/* Loads the blob, clones the container's first process with `flags` (CLONE_NEW*) and returns in it;
 * in the monitor, reports "C <pid>", keeps the json-file log and the status file, and exits with the
 * process's exit code. */
void monitor_start(unsigned long flags, struct blob *b);
#endif
