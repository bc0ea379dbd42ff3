/* A new network namespace made ahead, by the spawner thread while nothing is queued, for the next
 * container that asks for one. Making it (the kernel's setup_net: the pernet sysctl tables, lo, the
 * RTNL lock) is most of a clone's time, and it waits on that lock while the kernel's cleanup of the
 * last container's namespace holds it across RCU grace periods: the next start paid both. Made ahead,
 * neither is on a start's path any more; the kernel work is the same.
 *
 * The container gets what clone(CLONE_NEWNET) would have given it: a namespace of its own, used by
 * nothing before, owned by the same user namespace (ours), with lo as its only interface. lo is up
 * already: tsbox-init brings it up in every new network namespace (TSBOX_T_LO_UP), and doing it here
 * takes the RTNL lock off the start's path too (tsbox-init then finds it up). It is
 * held until then only as a close-on-exec fd of this process, and each one is given out once. spawn.c
 * uses it only where the clone itself would have made the namespace with our credentials: not with a
 * new user namespace (that one must own it) nor under a monitor (which clones the container itself).
 * Made after an exit (the waiter thread asks for it), once nothing is queued: made right after a clone,
 * it took a CPU from that container's own setup. */
#define _GNU_SOURCE
#include "netns_pool.h"
#include "../common/loopback.h"

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

static int pooled = -1;
/* The spawner thread's own network namespace, to return to; -2 not opened yet, -1 the pool is off. */
static int home = -2;

int netns_pool_take(void) {
  return __atomic_exchange_n(&pooled, -1, __ATOMIC_ACQ_REL);
}

void netns_pool_fill(void) {
  if (home == -1 || __atomic_load_n(&pooled, __ATOMIC_ACQUIRE) >= 0) return;
  if (home == -2 && (home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
    home = -1;
    return;
  }
  /* Not allowed here (no CAP_SYS_ADMIN): then never, and every clone makes its own as before. */
  if (unshare(CLONE_NEWNET) < 0) {
    close(home);
    home = -1;
    return;
  }
  int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  /* Best effort: left down, tsbox-init brings it up as in any new namespace. */
  const char *what;
  if (fd >= 0) (void)loopback_up(&what);
  /* This thread clones every container: left in that namespace, it would put each later one there. */
  if (setns(home, CLONE_NEWNET) < 0) abort();
  if (fd < 0) return;
  int old = __atomic_exchange_n(&pooled, fd, __ATOMIC_ACQ_REL);
  if (old >= 0) close(old);
}
