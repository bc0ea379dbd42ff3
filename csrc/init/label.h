/* The process's security labels: the AppArmor profile and the SELinux label it execs into. */
#ifndef TSBOX_INIT_LABEL_H
#define TSBOX_INIT_LABEL_H

#include "blob.h"

/* TSBOX_T_APPARMOR and TSBOX_T_SELINUX_LABEL: set for the next exec (runc's and crun's place: in the
 * container, its /proc mounted, before the capabilities go). Dies when the kernel refuses: a container
 * asked to be confined never runs unconfined. */
void label_apply(const struct blob *b);

#endif
