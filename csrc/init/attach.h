/* The monitor's attach socket (conmon's): later clients of a detached container connect to a unix socket
 * the monitor serves; they get its output from then on, framed as docker's multiplexed stream (8-byte
 * header: stream 1 stdout / 2 stderr, three zero bytes, big-endian length). They send frames of the same
 * shape: type 0 input (to the container's stdin, when it was started with one open, -i, or to its
 * terminal), type 1 a terminal size (u16 rows, u16 columns, big-endian), type 2 (empty, first) the output
 * kept from before (the last 32 KiB, whole frames) and then on, type 3 (empty, first) the output from now
 * on: a client gets none before either. With a terminal the monitor
 * holds its master (the container's console socket is the monitor's): the terminal outlives every client. */
#ifndef TSBOX_INIT_ATTACH_H
#define TSBOX_INIT_ATTACH_H
#include <stddef.h>
#include <poll.h>
#include "blob.h"

#define ATTACH_MAX_CLIENTS 8

struct attach {
  int active;
  int lsock;                        /* listening socket, -1 without */
  int stdin_r, stdin_w;             /* the container's stdin pipe: its end, ours (-1 without) */
  int client[ATTACH_MAX_CLIENTS];   /* -1: free */
  unsigned char in[ATTACH_MAX_CLIENTS][8 + 4096]; /* a client's frame, until it is whole */
  size_t inlen[ATTACH_MAX_CLIENTS];
  char started[ATTACH_MAX_CLIENTS]; /* output goes to a client once it said from when (type 2 or 3) */
  int cons_mine, cons_child;        /* the console socket pair, with a terminal (-1 without) */
  int master;                       /* the terminal's master once the container sent it (-1 before, or without) */
  /* The last output as frames, for a client that asks (type 2): run -t connects just after the start. */
  unsigned char ring[32768];
  size_t ring_len;
  char path[108];
};

/* Before the clone: from the TSBOX_T_ATTACH record (socket path, u32 flags: 1 open stdin). Failing to
 * serve is no reason to fail the container: then there is no socket. */
void attach_open(struct attach *a, const struct blob *b);
/* In the container's process: its stdin becomes the pipe. */
void attach_child(struct attach *a);
/* In the monitor after the clone. */
void attach_parent(struct attach *a);
/* The fds to keep open (at most 4). */
int attach_fds(const struct attach *a, int *out);
/* Adds the pollfds (listening socket, clients) from pf[n]; returns the new n. */
int attach_poll(const struct attach *a, struct pollfd *pf, int n);
/* Handles the events of the pollfds attach_poll added at pf[first]; the terminal's output goes to log. */
struct logger;
void attach_events(struct attach *a, struct logger *log, const struct pollfd *pf, int first, int last);
/* Before the monitor exits: what the terminal still has. */
void attach_drain(struct attach *a, struct logger *log);
/* Output of stream s (0 stdout, 1 stderr) to every client; a client that cannot take it is dropped. */
void attach_broadcast(struct attach *a, int s, const char *data, size_t n);
/* Before the monitor exits: the socket's name goes. */
void attach_close(struct attach *a);
#endif
