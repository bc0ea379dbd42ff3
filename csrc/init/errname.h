/* errno names for reports. */
#ifndef TSBOX_INIT_ERRNAME_H
#define TSBOX_INIT_ERRNAME_H

/* "EPERM" for EPERM; NULL for a number without a name. */
const char *errname(int err);

#endif
