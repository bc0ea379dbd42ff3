/* The OCI hooks that run inside the container: createContainer and startContainer. */
#ifndef TSBOX_INIT_HOOKS_H
#define TSBOX_INIT_HOOKS_H

#include "blob.h"

/* Runs the TSBOX_T_HOOK records of this stage in blob order, as runc runs them: the state
 * (TSBOX_T_HOOK_STATE, with status and our pid) on stdin, only the hook's own environment, stdout and
 * stderr kept for the error, killed after its timeout. Dies on the first that fails. */
void hooks_run(const struct blob *b, uint32_t stage);

/* With TSBOX_T_HOOK_SYNC: reports "H" and waits for the parent's second go byte, once it has run the
 * createRuntime and prestart hooks (runc's place for them: the mounts made, before pivot_root). EOF:
 * the parent gave up, exit. */
void hooks_sync_parent(const struct blob *b);

#endif
