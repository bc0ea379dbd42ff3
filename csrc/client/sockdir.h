/* The directory of runtime server sockets: <XDG_RUNTIME_DIR or /run>/tsbox/.runtime, the caller's own.
 * The state root (tsbox) is created 0711 as the runtime creates it, .runtime 0700. */
#ifndef TSBOX_CLIENT_SOCKDIR_H
#define TSBOX_CLIENT_SOCKDIR_H

#include <stdbool.h>
#include <stddef.h>

/* Opens (creating, 0700) the directory; its fd (O_CLOEXEC), or -1 when it is not safely ours: a
 * symlink, owned by another uid, group/other accessible, or its parent writable by others. path gets
 * the directory's path (size bytes). */
int sockdir_open(char *path, size_t size);
/* A connected SOCK_SEQPACKET fd to <dirfd>/<name> whose server runs as our euid; -1 with errno
 * (ENOENT/ECONNREFUSED: no server; EPERM: a server of another uid; EAGAIN: not accepting). */
int sockdir_connect(int dirfd, const char *name);

#endif
