/* seccompCompile(): an OCI-style filter, already mapped to libseccomp numbers by ts/runtime/seccomp.ts,
 * compiled to classic BPF with libseccomp. tsbox-init loads the bytes with seccomp(2): it stays free
 * of libseccomp, and the compile happens once in the parent instead of in every container. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define ACT_KIND(a) ((a) & 0xffff0000U)
#define MAX_ARGS 6 /* a syscall has at most six arguments */

/* SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry their data (errno, tracer message) in the low 16 bits. */
static bool action_with_data(napi_env env, napi_value obj, const char *action_key, const char *errno_key, uint32_t *out) {
  uint32_t action, data = 0;
  if (!arg_uint(env, get_prop(env, obj, action_key), action_key, &action)) return false;
  napi_value d = get_prop(env, obj, errno_key);
  if (d && !arg_uint(env, d, errno_key, &data)) return false;
  uint32_t kind = ACT_KIND(action);
  if (kind == ACT_KIND(SCMP_ACT_ERRNO(0))) {
    /* An errno of 0 would make the call "succeed" without running: default to EPERM, as runc. */
    *out = SCMP_ACT_ERRNO(d ? data & 0xffffU : EPERM);
  } else if (kind == ACT_KIND(SCMP_ACT_TRACE(0))) {
    *out = SCMP_ACT_TRACE(data & 0xffffU);
  } else {
    *out = action;
  }
  return true;
}

static bool add_arches(napi_env env, scmp_filter_ctx ctx, napi_value arches) {
  uint32_t n = 0;
  if (arches) napi_get_array_length(env, arches, &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    char *name;
    napi_get_element(env, arches, i, &e);
    if (!arg_str(env, e, "architecture", false, &name)) return false;
    uint32_t arch = seccomp_arch_resolve_name(name);
    int rc = arch ? seccomp_arch_add(ctx, arch) : -EINVAL;
    if (rc < 0 && rc != -EEXIST) {
      throw_errno(env, -rc, "seccomp_arch_add %s", name);
      free(name);
      return false;
    }
    free(name);
  }
  return true;
}

static bool read_conditions(napi_env env, napi_value args, struct scmp_arg_cmp *cmps, unsigned *count) {
  uint32_t n = 0;
  if (args) napi_get_array_length(env, args, &n);
  if (n > MAX_ARGS) return throw_type(env, "a seccomp rule has at most %d argument conditions, not %u", MAX_ARGS, n), false;
  for (uint32_t j = 0; j < n; j++) {
    napi_value c;
    uint32_t index, op;
    uint64_t value = 0, two = 0;
    napi_get_element(env, args, j, &c);
    napi_value v2 = get_prop(env, c, "valueTwo");
    if (!arg_uint(env, get_prop(env, c, "index"), "args[].index", &index) || !arg_uint(env, get_prop(env, c, "op"), "args[].op", &op) ||
        !arg_u64(env, get_prop(env, c, "value"), "args[].value", &value) || (v2 && !arg_u64(env, v2, "args[].valueTwo", &two)))
      return false;
    cmps[j] = (struct scmp_arg_cmp){.arg = index, .op = (enum scmp_compare)op, .datum_a = value, .datum_b = two};
  }
  *count = n;
  return true;
}

static bool add_rule(napi_env env, scmp_filter_ctx ctx, uint32_t def_action, napi_value rule) {
  uint32_t action;
  struct scmp_arg_cmp cmps[MAX_ARGS];
  unsigned ncmp;
  if (!action_with_data(env, rule, "action", "errno", &action) || !read_conditions(env, get_prop(env, rule, "args"), cmps, &ncmp))
    return false;
  napi_value names = get_prop(env, rule, "names");
  uint32_t n = 0;
  if (names) napi_get_array_length(env, names, &n);
  for (uint32_t k = 0; k < n; k++) {
    napi_value e;
    char *name;
    napi_get_element(env, names, k, &e);
    if (!arg_str(env, e, "syscall name", false, &name)) return false;
    int nr = seccomp_syscall_resolve_name(name);
    /* Unknown to this libseccomp: skipped, as runc does (profiles list syscalls of newer kernels). */
    int rc = nr == __NR_SCMP_ERROR ? 0 : seccomp_rule_add_array(ctx, action, nr, ncmp, cmps);
    /* A rule repeating the default action is refused (EACCES); it would change nothing anyway. */
    if (rc < 0 && !(action == def_action && (rc == -EACCES || rc == -EINVAL))) {
      throw_errno(env, -rc, "seccomp_rule_add %s", name);
      free(name);
      return false;
    }
    free(name);
  }
  return true;
}

static napi_value export_bpf(napi_env env, scmp_filter_ctx ctx) {
  int mfd = memfd_create("tsbox-seccomp", MFD_CLOEXEC);
  if (mfd < 0) return throw_errno(env, errno, "memfd_create tsbox-seccomp");
  int rc = seccomp_export_bpf(ctx, mfd);
  if (rc < 0) {
    close(mfd);
    return throw_errno(env, -rc, "seccomp_export_bpf memfd:tsbox-seccomp");
  }
  off_t len = lseek(mfd, 0, SEEK_END);
  if (len < 0) {
    int e = errno;
    close(mfd);
    return throw_errno(env, e, "lseek memfd:tsbox-seccomp");
  }
  napi_value buf;
  void *data;
  if (napi_create_buffer(env, (size_t)len, &data, &buf) != napi_ok) {
    close(mfd);
    return throw_errno(env, ENOMEM, "Buffer of %lld bytes", (long long)len);
  }
  ssize_t got = pread(mfd, data, (size_t)len, 0);
  int e = got < 0 ? errno : EIO;
  close(mfd);
  if (got != len) return throw_errno(env, e, "pread memfd:tsbox-seccomp");
  return buf;
}

napi_value addon_seccomp_compile(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  napi_value f = argv[0];
  uint32_t def_action;
  if (!action_with_data(env, f, "defaultAction", "defaultErrno", &def_action)) return NULL;
  scmp_filter_ctx ctx = seccomp_init(def_action);
  if (!ctx) return throw_errno(env, EINVAL, "seccomp_init action %#x", def_action);
  napi_value r = NULL;
  /* The compiled program must not set no_new_privs itself: tsbox-init sets it only when the spec asks. */
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) {
    throw_errno(env, -rc, "seccomp_attr_set SCMP_FLTATR_CTL_NNP");
    goto out;
  }
  if (!add_arches(env, ctx, get_prop(env, f, "architectures"))) goto out;
  napi_value rules = get_prop(env, f, "rules");
  uint32_t n = 0;
  if (rules) napi_get_array_length(env, rules, &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value rule;
    napi_get_element(env, rules, i, &rule);
    if (!add_rule(env, ctx, def_action, rule)) goto out;
  }
  r = export_bpf(env, ctx);
out:
  seccomp_release(ctx);
  return r;
}

/* Bumped whenever a change in this file changes the program compiled from the same filter: a cache of
 * compiled programs (ts/runtime/seccomp-cache.ts) keys them by seccompVersion(). */
#define TSBOX_SECCOMP_REVISION 1

/* What seccompCompile()'s output depends on besides its input: libseccomp's version (linked statically),
 * this file's revision, and the API level libseccomp found the kernel at. */
napi_value addon_seccomp_version(napi_env env, napi_callback_info info) {
  (void)info;
  const struct scmp_version *v = seccomp_version();
  char text[96];
  snprintf(text, sizeof text, "libseccomp %u.%u.%u; tsbox %d; api %u", v->major, v->minor, v->micro, TSBOX_SECCOMP_REVISION, seccomp_api_get());
  napi_value r;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &r);
  return r;
}
