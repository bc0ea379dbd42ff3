/* One network namespace made ahead of the container that will use it (netns_pool.c). */
#ifndef TSBOX_ADDON_NETNS_POOL_H
#define TSBOX_ADDON_NETNS_POOL_H

/* The namespace made ahead (an O_CLOEXEC fd, now the caller's), or -1 when there is none. */
int netns_pool_take(void);
/* Makes one if none is waiting; on the spawner thread only, while it has nothing else to do. */
void netns_pool_fill(void);
/* Asks the spawner thread (spawner.c) for netns_pool_fill once nothing is queued; any thread. */
void netns_pool_want(void);

#endif
