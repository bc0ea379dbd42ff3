/* spawn(): clone a child into new namespaces and exec tsbox-init in it (csrc/common/spawn_core.c does
 * the clone); here the SpawnOptions are read and the result or Error made for JS. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "spawn.h"
#include "errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool read_opts(napi_env env, napi_value o, struct spawn_opts *s) {
  memset(s, 0, sizeof *s);
  s->console_fd = s->status_fd = -1;
  void *config;
  if (!arg_buffer(env, get_prop(env, o, "config"), "config", &config, &s->config_len)) return false;
  /* Copied: the memfd is filled on the cloning thread, after JS may have reused the Buffer. */
  if (!(s->config = malloc(s->config_len ? s->config_len : 1))) return throw_errno(env, ENOMEM, "malloc config"), false;
  memcpy(s->config, config, s->config_len);
  if (!arg_int(env, get_prop(env, o, "cloneFlags"), "cloneFlags", &s->flags)) return false;
  napi_value stdio = get_prop(env, o, "stdio");
  for (uint32_t i = 0; i < 3; i++) {
    napi_value e = NULL;
    if (stdio) napi_get_element(env, stdio, i, &e);
    if (!arg_int(env, e, "stdio[]", &s->stdio[i])) return false;
  }
  napi_value console = get_prop(env, o, "consoleFd");
  if (console && !arg_int(env, console, "consoleFd", &s->console_fd)) return false;
  napi_value status = get_prop(env, o, "statusFd");
  if (status && !arg_int(env, status, "statusFd", &s->status_fd)) return false;
  if (!arg_str(env, get_prop(env, o, "fifoPath"), "fifoPath", true, &s->fifo_path)) return false;
  if (!arg_str(env, get_prop(env, o, "pidNamespace"), "pidNamespace", true, &s->pidns)) return false;
  napi_value mon = get_prop(env, o, "monitor");
  if (mon && napi_get_value_bool(env, mon, &s->monitor) != napi_ok) s->monitor = false;
  napi_value extra = get_prop(env, o, "extraFds");
  if (extra) {
    bool is_array = false;
    if (napi_is_array(env, extra, &is_array) != napi_ok || !is_array) return throw_type(env, "extraFds must be an array"), false;
    napi_get_array_length(env, extra, &s->n_extra);
    if (s->n_extra > TSBOX_MAX_EXTRA) return throw_type(env, "extraFds: at most %d fds", TSBOX_MAX_EXTRA), false;
    for (uint32_t i = 0; i < s->n_extra; i++) {
      napi_value e;
      napi_get_element(env, extra, i, &e);
      if (!arg_int(env, e, "extraFds[]", &s->extra[i])) return false;
    }
  }
  napi_value tasks = get_prop(env, o, "cgroupTasks");
  if (!tasks) return true;
  bool is_array = false;
  if (napi_is_array(env, tasks, &is_array) != napi_ok || !is_array) return throw_type(env, "cgroupTasks must be an array"), false;
  napi_get_array_length(env, tasks, &s->n_tasks);
  if (s->n_tasks > TSBOX_MAX_TASKS) return throw_type(env, "cgroupTasks: at most %d paths", TSBOX_MAX_TASKS), false;
  if (!(s->tasks = calloc(s->n_tasks + 1, sizeof *s->tasks))) return throw_errno(env, ENOMEM, "calloc"), false;
  for (uint32_t i = 0; i < s->n_tasks; i++) {
    napi_value e;
    napi_get_element(env, tasks, i, &e);
    if (!arg_str(env, e, "cgroupTasks[]", false, &s->tasks[i])) return false;
  }
  return true;
}

struct spawn_job *spawn_job_prepare(napi_env env, napi_value opts) {
  struct spawn_opts o;
  if (!read_opts(env, opts, &o)) {
    spawn_opts_free(&o);
    return NULL;
  }
  struct spawn_error e;
  struct spawn_job *j = spawn_job_new(&o, &e);
  if (!j) napi_throw(env, make_error_text(env, e.err, e.msg));
  return j;
}

napi_value spawn_job_result(napi_env env, struct spawn_job *j, bool *ok) {
  struct spawn_result s;
  struct spawn_error e;
  if (!(*ok = spawn_job_take(j, &s, &e))) return make_error_text(env, e.err, e.msg);
  napi_value r;
  napi_create_object(env, &r);
  napi_set_named_property(env, r, "pid", make_int(env, s.pid));
  napi_set_named_property(env, r, "pidfd", make_int(env, s.pidfd));
  if (s.monitor_pidfd >= 0) {
    napi_set_named_property(env, r, "monitorPid", make_int(env, s.monitor_pid));
    napi_set_named_property(env, r, "monitorPidfd", make_int(env, s.monitor_pidfd));
  }
  napi_set_named_property(env, r, "goFd", make_int(env, s.go_fd));
  napi_set_named_property(env, r, "reportFd", make_int(env, s.report_fd));
  return r;
}

napi_value addon_spawn(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct spawn_job *j = spawn_job_prepare(env, argv[0]);
  if (!j) return NULL;
  spawn_job_clone(j);
  bool ok;
  napi_value r = spawn_job_result(env, j, &ok);
  spawn_job_free(j);
  if (!ok) return napi_throw(env, r), NULL;
  return r;
}

napi_value addon_init_fd(napi_env env, napi_callback_info info) {
  (void)info;
  int m = init_memfd();
  if (m < 0) return throw_errno(env, -m, "%s", init_memfd_failure());
  return make_int(env, m);
}
