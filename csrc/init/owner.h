/* An owned container dies with the process that started it (TSBOX_T_OWNER in config.h). */
#ifndef TSBOX_INIT_OWNER_H
#define TSBOX_INIT_OWNER_H

#include "blob.h"

/* With TSBOX_T_OWNER: SIGKILL when the parent (the owner's cloning thread) exits, and exit now if the
 * owner is gone already. `last`: the final call, which closes the owner's pipe. */
void owner_bind(const struct blob *b, int last);

#endif
