/* Capability sets: bounding, then effective/permitted/inheritable, then ambient. */
#ifndef TSBOX_INIT_CAPS_H
#define TSBOX_INIT_CAPS_H
#include <stdint.h>

struct caps {
  uint64_t bounding, effective, permitted, inheritable, ambient;
};

/* Reads the kernel's highest capability number; called first, while the host's /proc is still in reach
 * (the container's may be missing or masked). */
void caps_init(void);
/* Drops every capability not in c->bounding from the bounding set (needs CAP_SETPCAP: call before the user switch). */
void caps_drop_bounding(const struct caps *c);
/* capset() for effective/permitted/inheritable, then the ambient set. */
void caps_apply(const struct caps *c);
#endif
