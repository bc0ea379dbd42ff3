/* The key that locates a runtime server for this caller: 16 hex digits of FNV-1a 64 over everything a
 * server must share with the caller (credentials, umask, namespaces, cgroup, capabilities, rlimits, the
 * environment, the client and bundle files). It only locates one: the server itself checks the caller. */
#ifndef TSBOX_CLIENT_KEY_H
#define TSBOX_CLIENT_KEY_H

#include <stdbool.h>

/* key: 17 bytes. bundle: <pkg>/dist/tsbox-runtime.cjs. false (with the reason under
 * TSBOX_RUNTIME_DEBUG) when a part cannot be read. */
bool runtime_key(char *key, const char *bundle, char **envp);

#endif
