/* The container's view of its cgroups at a "cgroup" mount destination. */
#ifndef TSBOX_INIT_CGROUPFS_H
#define TSBOX_INIT_CGROUPFS_H

/* Mounts the cgroup view at dst, a container path resolved (and created) under rootfd, the rootfs
 * at host path rootfs. On a cgroup2 host: a cgroup2 fs. On a v1/hybrid host: a tmpfs holding, per
 * hierarchy, this process's own cgroup directory (bound from the host, or freshly mounted inside a
 * cgroup namespace), plus "unified" for cgroup2. flags are the record's MS_* flags; MS_RDONLY makes
 * all of it read-only. Dies on failure. */
void cgroupfs_mount(int rootfd, const char *rootfs, const char *dst, unsigned long flags);

#endif
