/* The init mode: fork the user process, forward signals to it, reap every child, report its status. */
#ifndef TSBOX_INIT_REAPER_H
#define TSBOX_INIT_REAPER_H
#include "process.h"

#include <sys/types.h>

/* Never returns: exits with the process's code (128+N for signal N) after reporting "X <wstatus>". */
/* log_json: the process's output goes through init as json-file log lines (logger.h). */
_Noreturn void reaper_run(const struct proc *p, int log_json);

struct logger;
/* Waits for pid (reaping every other child meanwhile), relays the log pipes, forwards signals to pid when
 * `forward`; then reports "X <wstatus>", records it in TSBOX_FD_STATUS and exits with pid's code
 * (128+N for signal N). Signals must be blocked already. */
_Noreturn void supervise(pid_t pid, struct logger *log, int forward);
#endif
