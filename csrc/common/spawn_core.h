/* The clone of tsbox-init, without Node-API: shared by the addon (csrc/addon/spawn.c, spawner.c) and
 * the tsbox-runtime client (csrc/client/), so that a container is made by one piece of code whichever
 * process clones it. Three steps: new (the caller's fds duplicated), clone (any thread: the config memfd,
 * pipes and cgroup files, then clone; it blocks until the child has exec'd tsbox-init), take (the
 * result). Errors are an errno and the complete message the addon's Error carries
 * ("<syscall> <path>: ENAME", or tsbox-init's own report). */
#ifndef TSBOX_COMMON_SPAWN_CORE_H
#define TSBOX_COMMON_SPAWN_CORE_H

#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spawn_opts {
  void *config; /* heap */
  size_t config_len;
  int32_t flags;
  int32_t stdio[3];
  char *fifo_path; /* heap, or NULL */
  int32_t console_fd, status_fd; /* -1: none */
  uint32_t n_tasks;
  char **tasks; /* heap: cgroup v1 "tasks" paths the child enters */
  uint32_t n_extra;
  int32_t extra[TSBOX_MAX_EXTRA]; /* the caller's fds to pass through (duplicated by spawn_job_new) */
  bool monitor;  /* clone tsbox-init as the monitor: it clones the container with `flags` itself */
  char *pidns;   /* heap, or NULL: a pid namespace the clone happens in (setns on the cloning thread) */
};

struct spawn_error {
  int err;
  char msg[PATH_MAX + 128];
};

/* What a successful spawn hands over; every fd is then the caller's. */
struct spawn_result {
  pid_t pid;          /* the container's process */
  int pidfd;
  pid_t monitor_pid;  /* 0: no monitor */
  int monitor_pidfd;  /* -1: no monitor */
  int go_fd, report_fd;
};

struct spawn_job;

/* The options' heap parts. */
void spawn_opts_free(struct spawn_opts *o);
/* Takes o over (freed with the job, or here on failure) and duplicates the caller's fds in it; NULL
 * with *e set on failure. */
struct spawn_job *spawn_job_new(struct spawn_opts *o, struct spawn_error *e);
/* Opens what the child needs, then clone(2) with the job's namespaces. */
void spawn_job_clone(struct spawn_job *j);
/* After clone: true with *r (its fds now the caller's), or false with *e. */
bool spawn_job_take(struct spawn_job *j, struct spawn_result *r, struct spawn_error *e);
/* Kills and reaps a child never handed over, closes what is left. */
void spawn_job_free(struct spawn_job *j);

/* Where set (the addon: netns_pool_take), a fresh network namespace made ahead for a clone that would
 * make one, or -1; the client leaves it NULL and every clone makes its own. */
extern int (*spawn_take_netns)(void);

/* tsbox-init in a sealed memfd (O_CLOEXEC), made on first use; -errno on failure, and then
 * init_memfd_failure() names the step ("write memfd:tsbox-init"). The binary is linked in by
 * csrc/addon/init_blob.S. */
int init_memfd(void);
const char *init_memfd_failure(void);

#endif
