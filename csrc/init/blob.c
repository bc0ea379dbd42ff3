/* The config blob reader: bounds-checked, so a malformed blob dies with a message instead of faulting. */
#include "blob.h"
#include "report.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void blob_load(struct blob *b) {
  struct stat st;
  if (fstat(TSBOX_FD_CONFIG, &st) < 0) die(errno, "fstat config fd %d", TSBOX_FD_CONFIG);
  if (st.st_size < 8) die(EINVAL, "config blob: %lld bytes is too short", (long long)st.st_size);
  /* A private copy: the parent may reuse the memfd; mmap keeps init free of read loops. */
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, TSBOX_FD_CONFIG, 0);
  if (m == MAP_FAILED) die(errno, "mmap config fd %d", TSBOX_FD_CONFIG);
  close(TSBOX_FD_CONFIG);
  b->data = m;
  b->size = (size_t)st.st_size;
  uint32_t magic, version;
  memcpy(&magic, b->data, 4);
  memcpy(&version, b->data + 4, 4);
  if (magic != TSBOX_CONFIG_MAGIC) die(EINVAL, "config blob: bad magic %#x", magic);
  if (version != TSBOX_CONFIG_VERSION) die(EINVAL, "config blob: version %u, want %u", version, TSBOX_CONFIG_VERSION);
}

int blob_next(const struct blob *b, size_t *off, struct blob_rec *r) {
  if (*off == 0) *off = 8;
  if (*off >= b->size) return 0;
  if (b->size - *off < 8) die(EINVAL, "config blob: truncated record header at %zu", *off);
  memcpy(&r->tag, b->data + *off, 4);
  memcpy(&r->len, b->data + *off + 4, 4);
  if (b->size - *off - 8 < r->len) die(EINVAL, "config blob: record %u at %zu overruns the blob", r->tag, *off);
  r->p = b->data + *off + 8;
  *off += 8 + (size_t)r->len;
  return 1;
}

int blob_find(const struct blob *b, uint32_t tag, struct blob_rec *r) {
  size_t off = 0;
  while (blob_next(b, &off, r))
    if (r->tag == tag) return 1;
  r->p = NULL;
  r->len = 0;
  return 0;
}

struct blob_cur blob_cur(const struct blob_rec *r) {
  struct blob_cur c = {r->p, r->p + r->len, 0};
  return c;
}

static int take(struct blob_cur *c, void *out, size_t n) {
  if ((size_t)(c->end - c->p) < n) {
    c->err = 1;
    memset(out, 0, n);
    return 0;
  }
  memcpy(out, c->p, n);
  c->p += n;
  return 1;
}

uint16_t cur_u16(struct blob_cur *c) { uint16_t v; take(c, &v, 2); return v; }
uint32_t cur_u32(struct blob_cur *c) { uint32_t v; take(c, &v, 4); return v; }
uint64_t cur_u64(struct blob_cur *c) { uint64_t v; take(c, &v, 8); return v; }
int32_t cur_i32(struct blob_cur *c) { int32_t v; take(c, &v, 4); return v; }

const char *cur_str(struct blob_cur *c) {
  const uint8_t *nul = memchr(c->p, 0, (size_t)(c->end - c->p));
  if (!nul) {
    c->err = 1;
    return "";
  }
  const char *s = (const char *)c->p;
  c->p = nul + 1;
  return s;
}

const uint8_t *cur_rest(struct blob_cur *c, size_t *len) {
  *len = (size_t)(c->end - c->p);
  const uint8_t *p = c->p;
  c->p = c->end;
  return p;
}

const char *rec_str(const struct blob_rec *r, const char *what) {
  struct blob_cur c = blob_cur(r);
  const char *s = cur_str(&c);
  if (c.err) die(EINVAL, "config blob: truncated %s record", what);
  return s;
}
