/* The init mode: fork the user process, forward signals to it, reap every child, report its status. */
#ifndef TSBOX_INIT_REAPER_H
#define TSBOX_INIT_REAPER_H
#include "process.h"

/* Never returns: exits with the process's code (128+N for signal N) after reporting "X <wstatus>". */
/* log_json: the process's output goes through init as json-file log lines (logger.h). */
_Noreturn void reaper_run(const struct proc *p, int log_json);
#endif
