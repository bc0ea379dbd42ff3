/* The parent's "go" (config.h TSBOX_FD_GO). */
#ifndef TSBOX_INIT_GO_H
#define TSBOX_INIT_GO_H

/* Waits for one byte on TSBOX_FD_GO; EOF means the parent gave up: exit, never run unplaced. */
void go_wait(void);

#endif
