/* seccompCompile(): an OCI-style filter (already mapped to libseccomp numbers by ts/runtime/seccomp.ts)
 * compiled to classic BPF with libseccomp. tsbox-init loads the bytes with seccomp(2): it stays free of
 * libseccomp, and the compile happens once in the parent instead of in every container. */
#define _GNU_SOURCE
#include "seccomp_compile.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ACT_ERRNO_BASE 0x00050000U
#define ACT_TRACE_BASE 0x7ff00000U

/* ERRNO and TRACE carry their data in the low 16 bits. */
static uint32_t with_data(uint32_t action, napi_env env, napi_value errno_v) {
  uint32_t data = 0;
  if (errno_v && !is_nullish(env, errno_v)) napi_get_value_uint32(env, errno_v, &data);
  if ((action & 0xffff0000U) == ACT_ERRNO_BASE || (action & 0xffff0000U) == ACT_TRACE_BASE) return (action & 0xffff0000U) | (data & 0xffffU);
  return action;
}

static napi_value fail(napi_env env, scmp_filter_ctx ctx, int err, const char *what, const char *name) {
  if (ctx) seccomp_release(ctx);
  return throw_errno(env, err, "seccomp %s%s%s", what, name ? " " : "", name ? name : "");
}

static bool get_u64(napi_env env, napi_value v, uint64_t *out) {
  bool lossless;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok;
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  *out = (uint64_t)d;
  return true;
}

napi_value addon_seccomp_compile(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  napi_value f = argv[0];
  uint32_t def_action;
  napi_value v = get_prop(env, f, "defaultAction");
  if (!v || !arg_uint(env, v, "defaultAction", &def_action)) return NULL;
  def_action = with_data(def_action, env, get_prop(env, f, "defaultErrno"));
  scmp_filter_ctx ctx = seccomp_init(def_action);
  if (!ctx) return throw_errno(env, EINVAL, "seccomp_init action %#x", def_action);
  /* The parent has no_new_privs off; tsbox-init sets it as the spec says. */
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);

  napi_value arches = get_prop(env, f, "architectures");
  uint32_t n = 0;
  if (arches) napi_get_array_length(env, arches, &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    char *name;
    napi_get_element(env, arches, i, &e);
    if (!arg_str(env, e, "architecture", false, &name)) {
      seccomp_release(ctx);
      return NULL;
    }
    uint32_t arch = seccomp_arch_resolve_name(name);
    int rc = arch ? seccomp_arch_add(ctx, arch) : -EINVAL;
    if (rc < 0 && rc != -EEXIST) {
      napi_value r = fail(env, ctx, -rc, "arch", name);
      free(name);
      return r;
    }
    free(name);
  }

  napi_value rules = get_prop(env, f, "rules");
  uint32_t nrules = 0;
  if (rules) napi_get_array_length(env, rules, &nrules);
  for (uint32_t i = 0; i < nrules; i++) {
    napi_value rule, names, args;
    napi_get_element(env, rules, i, &rule);
    uint32_t action;
    napi_value a = get_prop(env, rule, "action");
    if (!a || !arg_uint(env, a, "rule.action", &action)) {
      seccomp_release(ctx);
      return NULL;
    }
    action = with_data(action, env, get_prop(env, rule, "errno"));
    struct scmp_arg_cmp cmps[6];
    uint32_t ncmp = 0;
    args = get_prop(env, rule, "args");
    if (args && !is_nullish(env, args)) napi_get_array_length(env, args, &ncmp);
    if (ncmp > 6) return fail(env, ctx, EINVAL, "rule with more than 6 argument conditions", NULL);
    for (uint32_t j = 0; j < ncmp; j++) {
      napi_value c;
      napi_get_element(env, args, j, &c);
      uint32_t index, op;
      uint64_t value = 0, two = 0;
      if (!arg_uint(env, get_prop(env, c, "index"), "arg.index", &index) || !arg_uint(env, get_prop(env, c, "op"), "arg.op", &op)) {
        seccomp_release(ctx);
        return NULL;
      }
      napi_value vv = get_prop(env, c, "value"), vt = get_prop(env, c, "valueTwo");
      if ((vv && !get_u64(env, vv, &value)) || (vt && !is_nullish(env, vt) && !get_u64(env, vt, &two))) {
        seccomp_release(ctx);
        return throw_type(env, "arg.value must be a bigint or number");
      }
      cmps[j] = (struct scmp_arg_cmp){.arg = index, .op = (enum scmp_compare)op, .datum_a = value, .datum_b = two};
    }
    names = get_prop(env, rule, "names");
    uint32_t nn = 0;
    if (names) napi_get_array_length(env, names, &nn);
    for (uint32_t k = 0; k < nn; k++) {
      napi_value e;
      char *name;
      napi_get_element(env, names, k, &e);
      if (!arg_str(env, e, "syscall name", false, &name)) {
        seccomp_release(ctx);
        return NULL;
      }
      int nr = seccomp_syscall_resolve_name(name);
      /* Unknown to this libseccomp or this arch: skipped, as runc does. */
      if (nr == __NR_SCMP_ERROR) {
        free(name);
        continue;
      }
      int rc = seccomp_rule_add_array(ctx, action, nr, ncmp, cmps);
      /* A rule whose action equals the default action is refused by libseccomp; it is a no-op anyway. */
      if (rc < 0 && rc != -EACCES && !(rc == -EINVAL && action == def_action)) {
        napi_value r = fail(env, ctx, -rc, "rule_add", name);
        free(name);
        return r;
      }
      free(name);
    }
  }

  int mfd = memfd_create("tsbox-seccomp", MFD_CLOEXEC);
  if (mfd < 0) return fail(env, ctx, errno, "memfd_create", NULL);
  int rc = seccomp_export_bpf(ctx, mfd);
  seccomp_release(ctx);
  if (rc < 0) {
    close(mfd);
    return throw_errno(env, -rc, "seccomp_export_bpf");
  }
  off_t len = lseek(mfd, 0, SEEK_END);
  napi_value buf;
  void *data;
  if (len < 0 || napi_create_buffer(env, (size_t)len, &data, &buf) != napi_ok) {
    close(mfd);
    return throw_errno(env, EIO, "read back seccomp filter");
  }
  ssize_t got = pread(mfd, data, (size_t)len, 0);
  close(mfd);
  if (got != len) return throw_errno(env, EIO, "read back seccomp filter");
  return buf;
}
