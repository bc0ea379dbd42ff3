/* docker's json-file log format, written by tsbox-init: the process's stdout and stderr come in through
 * pipes and go out to init's own stdout (the container's log file) as one JSON object per line, with
 * the stream and a timestamp. No log process per container is needed. */
#ifndef TSBOX_INIT_LOGGER_H
#define TSBOX_INIT_LOGGER_H
#include <stddef.h>

struct logger {
  int active;
  int rd[2], wr[2]; /* pipe ends per stream: 0 stdout, 1 stderr */
  int out;          /* the log file */
  char buf[2][16384];
  size_t len[2];
};

void logger_open(struct logger *l);
/* In the forked process: its stdout/stderr become the pipes. */
void logger_child(struct logger *l);
/* In init after the fork: keep the read ends. */
void logger_parent(struct logger *l);
/* Reads what stream s has (nonblocking) and writes whole lines; returns 0 at EOF. */
int logger_read(struct logger *l, int s);
/* Before exit: everything still in the pipes, then the unterminated rests. */
void logger_flush(struct logger *l);
#endif
