/* tsbox-runtime, the executable: forwards a runtime call to a runtime server (Node, running the same
 * runtime CLI, kept up for a few idle seconds) so that the call does not pay Node's start-up, or else
 * runs the cold path (exec node on the runtime bundle). The TypeScript owns every rule; this client
 * only locates a server that shares the caller's identity, clones tsbox-init where the server asks
 * (csrc/common/spawn_core.c, the addon's own code), waits for those children and forwards signals.
 * Any doubt means the cold path: a socket directory that is not the caller's own, a server of another
 * uid, one that declines the call, fds the caller preserves for the container. */
#define _GNU_SOURCE
#include "call.h"
#include "fail.h"
#include "key.h"
#include "launch.h"
#include "sockdir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* The runtime CLI's global flags that take a value (ts/runtime/cli/main.ts). */
static bool valued(const char *name, size_t len) {
  static const char *const names[] = {"root", "log", "log-format", "rootless", "criu"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return true;
  return false;
}

/* The command, as the runtime CLI would find it: the first argument after the global flags. NULL
 * for what goes cold anyway (no command, --version, --help, a flag the CLI does not know). */
static const char *command_of(int argc, char **argv, int *at) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) return *at = i + 1, i + 1 < argc ? argv[i + 1] : NULL;
    if (a[0] != '-' || a[1] == 0) return *at = i, a;
    const char *name = a + (a[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (valued(name, len)) {
      if (!eq) i++;
    } else if (!((len == 5 && memcmp(name, "debug", 5) == 0) || (len == 14 && memcmp(name, "systemd-cgroup", 14) == 0))) {
      return NULL; /* --version, --help, or unknown: the cold path answers */
    }
  }
  return NULL;
}

static bool served(const char *cmd) {
  static const char *const warm[] = {"create", "start", "run", "state", "kill", "delete", "exec", "ps", "pause", "resume", "list", "update", "features"};
  for (size_t i = 0; i < sizeof warm / sizeof warm[0]; i++)
    if (strcmp(cmd, warm[i]) == 0) return true;
  return false;
}

/* --preserve-fds N > 0 anywhere after the command: those fds are the caller's and must be inherited by
 * the process that clones, which a server is not. (An argument of the container's own process that
 * looks the same only costs the cold path.) */
static bool preserves_fds(int argc, char **argv, int from) {
  for (int i = from; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (strcmp(a, "--preserve-fds") == 0 || strcmp(a, "-preserve-fds") == 0) v = i + 1 < argc ? argv[i + 1] : "";
    else if (strncmp(a, "--preserve-fds=", 15) == 0) v = a + 15;
    else if (strncmp(a, "-preserve-fds=", 14) == 0) v = a + 14;
    if (v && strcmp(v, "0") != 0) return true;
  }
  return false;
}

int main(int argc, char **argv) {
  /* As bin/tsbox-runtime: Node would parse that bundle at every start, and the runtime makes no TLS
   * connection. Before anything else, so that the key, the request and the server all see the same
   * environment. */
  unsetenv("NODE_EXTRA_CA_CERTS");
  struct pkg p;
  if (!pkg_find(&p)) {
    say(0, "cannot find the package from /proc/self/exe");
    return 127;
  }
  const char *cold = getenv("TSBOX_RUNTIME_COLD");
  if (cold && strcmp(cold, "1") == 0) go_cold(&p, argc, argv);
  int at = 0;
  const char *cmd = command_of(argc, argv, &at);
  if (!cmd || !served(cmd)) go_cold(&p, argc, argv);
  if (preserves_fds(argc, argv, at + 1)) {
    cold_why(0, "--preserve-fds");
    go_cold(&p, argc, argv);
  }
  char dir[4096], key[17], name[32];
  int dirfd = sockdir_open(dir, sizeof dir);
  if (dirfd < 0 || !runtime_key(key, p.bundle, environ)) go_cold(&p, argc, argv);
  snprintf(name, sizeof name, "%s.sock", key);
  int sock = sockdir_connect(dirfd, name);
  if (sock < 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) start_server(&p, dirfd, dir, key);
    else cold_why(errno, "connect %s/%s", dir, name);
    go_cold(&p, argc, argv);
  }
  close(dirfd);
  call_warm(sock, argc, argv, environ);
  close(sock);
  go_cold(&p, argc, argv);
}
