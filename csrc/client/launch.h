/* Where the client hands over to Node: the cold path (exec node on the runtime bundle, as
 * bin/tsbox-runtime did) and the start of a runtime server. */
#ifndef TSBOX_CLIENT_LAUNCH_H
#define TSBOX_CLIENT_LAUNCH_H

/* <pkg>: two directories above the client's own executable (build/Release, prebuilds/linux-<arch>). */
struct pkg {
  char cached[4096];  /* <pkg>/bin/cached.cjs */
  char bundle[4096];  /* <pkg>/dist/tsbox-runtime.cjs */
};

/* false when /proc/self/exe cannot be read or the paths are too long. */
int pkg_find(struct pkg *p);
/* exec node <cached> <bundle> args...; on failure prints the reason and exits 127. */
__attribute__((noreturn)) void go_cold(const struct pkg *p, int argc, char **argv);
/* No server answered on <dir>/<key>.sock: unless one is starting (its lock busy), start one, detached:
 * a double fork, the grandchild in a session of its own with the lock on fd 3, stdio on /dev/null, cwd
 * "/" and nothing else open. Returns once the direct child has exited; never waits for the server. */
void start_server(const struct pkg *p, int dirfd, const char *dir, const char *key);

#endif
