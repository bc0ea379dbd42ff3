/* The messages between the client and the runtime server (the protocol: docs in ts/runtime/cli/server.ts):
 * SOCK_SEQPACKET, one message per sendmsg, 1 byte type then fields (u32 little-endian length, bytes),
 * fds as SCM_RIGHTS on the same message. */
#ifndef TSBOX_CLIENT_WIRE_H
#define TSBOX_CLIENT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX (4u << 20)
#define WIRE_MAX_FDS 64

/* A message being built (heap buffer). */
struct wmsg {
  char *buf;
  size_t len, cap;
  bool oom;
};

void wmsg_start(struct wmsg *m, char type);
void wmsg_field(struct wmsg *m, const void *data, size_t len);
void wmsg_str(struct wmsg *m, const char *s);
void wmsg_num(struct wmsg *m, long long v);
/* One sendmsg with fds (MSG_NOSIGNAL); frees m. 0, or -errno. */
int wmsg_send(int sock, struct wmsg *m, const int *fds, int nfds);

/* A received message: its fields point into buf. */
struct rmsg {
  char type;
  int nfields;
  const char *field[WIRE_MAX_FDS * 2 + 64];
  uint32_t flen[WIRE_MAX_FDS * 2 + 64];
  int nfds;
  int fds[WIRE_MAX_FDS];
};

/* One recvmsg into buf (WIRE_MAX bytes) parsed into *m: 1, 0 at EOF, -errno (-EPROTO: malformed; its
 * fds are closed then). Received fds are O_CLOEXEC. */
int wire_recv(int sock, char *buf, struct rmsg *m);
/* Field i as a NUL-terminated copy in out (size bytes); false when absent or too long. */
bool rmsg_str(const struct rmsg *m, int i, char *out, size_t size);
/* Field i as a decimal integer; false when absent or not one. */
bool rmsg_num(const struct rmsg *m, int i, long long *out);

#endif
