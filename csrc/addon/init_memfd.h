/* tsbox-init in a sealed memfd: what every container execs first. */
#ifndef TSBOX_ADDON_INIT_MEMFD_H
#define TSBOX_ADDON_INIT_MEMFD_H

/* The memfd (O_CLOEXEC, sealed against writes), created on first use; -errno on failure. */
int init_memfd(void);
/* After a failure: the step that failed, e.g. "write memfd:tsbox-init". */
const char *init_memfd_failure(void);

#endif
