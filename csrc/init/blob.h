/* Reading the config blob (csrc/common/config.h): records and their payloads. */
#ifndef TSBOX_INIT_BLOB_H
#define TSBOX_INIT_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include "../common/config.h"

struct blob {
  const uint8_t *data;
  size_t size;
};

struct blob_rec {
  uint32_t tag;
  uint32_t len;
  const uint8_t *p;
};

/* A cursor over one record's payload; a short read sets err and yields 0 / "". */
struct blob_cur {
  const uint8_t *p, *end;
  int err;
};

/* Reads TSBOX_FD_CONFIG whole and checks the header; dies on a bad blob. */
void blob_load(struct blob *b);
/* Iterates: *off starts at 0; returns 1 and fills r while records remain. Dies on a truncated record. */
int blob_next(const struct blob *b, size_t *off, struct blob_rec *r);
/* First record with this tag, or NULL payload (returns 0) when absent. */
int blob_find(const struct blob *b, uint32_t tag, struct blob_rec *r);

struct blob_cur blob_cur(const struct blob_rec *r);
uint16_t cur_u16(struct blob_cur *c);
uint32_t cur_u32(struct blob_cur *c);
uint64_t cur_u64(struct blob_cur *c);
int32_t cur_i32(struct blob_cur *c);
const char *cur_str(struct blob_cur *c);
const uint8_t *cur_rest(struct blob_cur *c, size_t *len);
/* A record that is one string; dies naming what when it is truncated. */
const char *rec_str(const struct blob_rec *r, const char *what);

#endif
