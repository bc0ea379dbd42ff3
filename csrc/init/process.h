/* The user process: where it runs, as whom, with which rights, and which binary. */
#ifndef TSBOX_INIT_PROCESS_H
#define TSBOX_INIT_PROCESS_H
#include "blob.h"

struct proc {
  char **argv;
  char **envp;
  const char *cwd;
  char path[4096]; /* resolved argv[0] */
  int preserve;    /* TSBOX_T_PRESERVE_FDS */
};

/* Collects argv/env/cwd and resolves argv[0] in the container's PATH (dies 127/126 when it can't). */
void process_prepare(const struct blob *b, struct proc *p);
/* chdir, seccomp (when no_new_privs is off), user, capabilities, no_new_privs, umask: everything that can
 * fail, done before "created" is reported so that such a failure fails create, as with runc. */
void process_secure(const struct blob *b, const struct proc *p);
/* With no_new_privs, seccomp goes last, right before exec (it needs no CAP_SYS_ADMIN then), so that the
 * filter never sees tsbox-init's own calls. */
void process_seccomp_late(const struct blob *b);
/* Marks fds >= 3 close-on-exec, restores default signal dispositions and an empty mask, then execve's
 * the resolved path; returns only on failure, with errno set. */
void process_exec(const struct proc *p);
/* Exit code for an exec errno: 127 not found, 126 otherwise. */
int exec_exit_code(int err);
#endif
