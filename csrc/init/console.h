/* The container's terminal: a pty from the container's own devpts, master sent to the console socket. */
#ifndef TSBOX_INIT_CONSOLE_H
#define TSBOX_INIT_CONSOLE_H
#include "blob.h"

/* When TSBOX_FD_CONSOLE is open: create the pty, send the master, make the slave stdio and ctty.
 * bind_console: also make it /dev/console (the container's first process, not an exec). */
void console_setup(const struct blob *b, int bind_console);
#endif
