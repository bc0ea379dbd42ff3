/* deviceFilter(): cgroup v2 has no devices.allow/deny files; device access is decided by an eBPF program
 * of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup (as runc's devicefilter and crun's ebpf.c do).
 * The program is generated here from the rules ts/runtime/cgroup/devices.ts compiled (a default and its
 * exceptions), loaded with bpf(BPF_PROG_LOAD) and attached with BPF_F_ALLOW_MULTI; programs attached to
 * the same cgroup before are detached afterwards, so a new apply replaces the filter without a moment
 * without one. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef BPF_JMP32
#define BPF_JMP32 0x06
#endif

#define MAX_RULES 4096
#define MAX_OLD 64
#define LOG_SIZE 65536

struct prog {
  struct bpf_insn *v;
  size_t n, cap;
};

static bool emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    struct bpf_insn *v = realloc(p->v, cap * sizeof *v);
    if (!v) return false;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
  return true;
}

static bool ret(struct prog *p, int value) {
  return emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, value) && emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

struct rule {
  uint32_t type; /* BPF_DEVCG_DEV_CHAR or _BLOCK */
  int64_t major, minor; /* -1: any */
  uint32_t access; /* BPF_DEVCG_ACC_* */
};

/* One exception: "if it matches, the opposite of the default". Each test jumps past the block when it
 * does not match; the offsets are patched once the block's length is known. */
static bool emit_rule(struct prog *p, const struct rule *r, bool default_allow) {
  size_t jumps[4], nj = 0, all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
  jumps[nj++] = p->n;
  if (!emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_3, 0, 0, (int32_t)r->type)) return false;
  if (r->access != all) {
    /* An allowed exception covers an access asking only for its bits (as v1 whitelists do); a denied one
     * catches any access sharing a bit with it (as v1 blacklists do). */
    if (!emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_7, BPF_REG_4, 0, 0)) return false;
    jumps[nj++] = p->n + 1;
    if (default_allow) {
      if (!emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_7, 0, 0, (int32_t)r->access) || !emit(p, BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_7, 0, 0, 0)) return false;
    } else {
      if (!emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_7, 0, 0, (int32_t)~r->access) || !emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_7, 0, 0, 0)) return false;
    }
  }
  if (r->major >= 0) {
    jumps[nj++] = p->n;
    if (!emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)(uint32_t)r->major)) return false;
  }
  if (r->minor >= 0) {
    jumps[nj++] = p->n;
    if (!emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_6, 0, 0, (int32_t)(uint32_t)r->minor)) return false;
  }
  if (!ret(p, default_allow ? 0 : 1)) return false;
  for (size_t i = 0; i < nj; i++) p->v[jumps[i]].off = (int16_t)(p->n - jumps[i] - 1);
  return true;
}

static bool build(struct prog *p, const struct rule *rules, uint32_t n, bool default_allow) {
  /* struct bpf_cgroup_dev_ctx: access_type = (access << 16) | type, then major, minor. */
  if (!emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0) ||
      !emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0) ||
      !emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, 0xffff) ||
      !emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0) ||
      !emit(p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_4, 0, 0, 16) ||
      !emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 4, 0) ||
      !emit(p, BPF_LDX | BPF_W | BPF_MEM, BPF_REG_6, BPF_REG_1, 8, 0))
    return false;
  for (uint32_t i = 0; i < n; i++)
    if (!emit_rule(p, &rules[i], default_allow)) return false;
  return ret(p, default_allow ? 1 : 0);
}

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/* On a verifier refusal the load is repeated with a log, whose last line says why. */
static int load(const struct prog *p, char *log, size_t logsz) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uint64_t)(uintptr_t)p->v;
  a.insn_cnt = (uint32_t)p->n;
  a.license = (uint64_t)(uintptr_t) "Apache-2.0";
  int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
  if (fd >= 0 || errno != EINVAL || !log) return fd;
  a.log_buf = (uint64_t)(uintptr_t)log;
  a.log_size = (uint32_t)logsz;
  a.log_level = 1;
  fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
  if (fd < 0) errno = EINVAL;
  return fd;
}

/* The verifier's log ends with a summary ("processed N insns ..."); the reason is the line before it. */
static const char *verifier_reason(char *log) {
  size_t len = strlen(log);
  while (len && log[len - 1] == '\n') log[--len] = 0;
  char *last = strrchr(log, '\n');
  if (!last || strncmp(last + 1, "processed ", 10)) return last ? last + 1 : log;
  *last = 0;
  char *prev = strrchr(log, '\n');
  return prev ? prev + 1 : log;
}

static bool read_rule(napi_env env, napi_value obj, struct rule *r) {
  char *type = NULL, *access = NULL;
  int32_t major, minor;
  bool ok = arg_str(env, get_prop(env, obj, "type"), "type", false, &type) && arg_str(env, get_prop(env, obj, "access"), "access", false, &access) &&
            arg_int(env, get_prop(env, obj, "major"), "major", &major) && arg_int(env, get_prop(env, obj, "minor"), "minor", &minor);
  if (ok) {
    r->type = !strcmp(type, "c") ? BPF_DEVCG_DEV_CHAR : !strcmp(type, "b") ? BPF_DEVCG_DEV_BLOCK : 0;
    r->access = 0;
    for (const char *c = access; *c && r->type; c++) {
      if (*c == 'r') r->access |= BPF_DEVCG_ACC_READ;
      else if (*c == 'w') r->access |= BPF_DEVCG_ACC_WRITE;
      else if (*c == 'm') r->access |= BPF_DEVCG_ACC_MKNOD;
      else r->type = 0;
    }
    if (!r->type || !r->access || major < -1 || minor < -1) {
      throw_type(env, "device rule %s %d:%d %s: want type c or b, access of r, w and m, numbers or -1", type, major, minor, access);
      ok = false;
    }
    r->major = major;
    r->minor = minor;
  }
  free(type);
  free(access);
  return ok;
}

/* deviceFilter(cgroupDir, defaultAllow, rules): see ts/native.ts. */
napi_value addon_device_filter(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char *dir = NULL;
  bool default_allow;
  uint32_t n = 0;
  bool is_array = false;
  if (!arg_str(env, argv[0], "cgroupDir", false, &dir)) return NULL;
  napi_value result = NULL;
  struct rule *rules = NULL;
  struct prog p = {0};
  int dirfd = -1, progfd = -1;
  char *log = NULL;
  if (napi_get_value_bool(env, argv[1], &default_allow) != napi_ok) {
    throw_type(env, "defaultAllow must be a boolean");
    goto out;
  }
  napi_is_array(env, argv[2], &is_array);
  if (!is_array) {
    throw_type(env, "rules must be an array");
    goto out;
  }
  napi_get_array_length(env, argv[2], &n);
  if (n > MAX_RULES) {
    throw_type(env, "at most %d device rules, not %u", MAX_RULES, n);
    goto out;
  }
  rules = calloc(n ? n : 1, sizeof *rules);
  if (!rules) {
    throw_errno(env, ENOMEM, "device filter of %u rules", n);
    goto out;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, argv[2], i, &e);
    if (!read_rule(env, e, &rules[i])) goto out;
  }
  if (!build(&p, rules, n, default_allow)) {
    throw_errno(env, ENOMEM, "device filter of %u rules", n);
    goto out;
  }
  dirfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dirfd < 0) {
    throw_errno(env, errno, "open %s", dir);
    goto out;
  }
  log = calloc(1, LOG_SIZE);
  progfd = load(&p, log, LOG_SIZE);
  if (progfd < 0) {
    int err = errno;
    throw_errno(env, err, "bpf BPF_PROG_LOAD device filter for %s (%zu instructions)%s%s", dir, p.n, log && *log ? ": " : "", log ? verifier_reason(log) : "");
    goto out;
  }
  /* The programs attached to this very cgroup before (a previous apply), detached once the new one is in. */
  uint32_t old[MAX_OLD];
  union bpf_attr q;
  memset(&q, 0, sizeof q);
  q.query.target_fd = (uint32_t)dirfd;
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = (uint64_t)(uintptr_t)old;
  q.query.prog_cnt = MAX_OLD;
  uint32_t nold = sys_bpf(BPF_PROG_QUERY, &q) == 0 ? q.query.prog_cnt : 0;
  if (nold > MAX_OLD) nold = MAX_OLD;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.target_fd = (uint32_t)dirfd;
  a.attach_bpf_fd = (uint32_t)progfd;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
    throw_errno(env, errno, "bpf BPF_PROG_ATTACH BPF_CGROUP_DEVICE %s", dir);
    goto out;
  }
  for (uint32_t i = 0; i < nold; i++) {
    union bpf_attr g;
    memset(&g, 0, sizeof g);
    g.prog_id = old[i];
    int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
    if (fd < 0) continue; /* gone meanwhile */
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t)dirfd;
    a.attach_bpf_fd = (uint32_t)fd;
    a.attach_type = BPF_CGROUP_DEVICE;
    long rc = sys_bpf(BPF_PROG_DETACH, &a);
    int err = errno;
    close(fd);
    if (rc < 0 && err != ENOENT) {
      throw_errno(env, err, "bpf BPF_PROG_DETACH BPF_CGROUP_DEVICE program %u from %s", old[i], dir);
      goto out;
    }
  }
out:
  if (progfd >= 0) close(progfd); /* the cgroup holds the program now */
  if (dirfd >= 0) close(dirfd);
  free(log);
  free(p.v);
  free(rules);
  free(dir);
  return result;
}
