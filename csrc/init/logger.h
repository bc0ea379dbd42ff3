/* docker's json-file log format, written by tsbox-init: the process's stdout and stderr come in through
 * pipes and go out to init's own stdout (the container's log file) as one JSON object per line, with
 * the stream and a timestamp. No log process per container is needed. */
#ifndef TSBOX_INIT_LOGGER_H
#define TSBOX_INIT_LOGGER_H
#include <stddef.h>
#include <stdint.h>

struct attach;

struct logger {
  int active;
  int rd[2], wr[2]; /* pipe ends per stream: 0 stdout, 1 stderr */
  int out;          /* the log file */
  char buf[2][16384];
  size_t len[2];
  /* docker's --log-opt max-size/max-file: past max_size bytes the file becomes <file>.1 (older ones
   * shift up to <file>.<max_files-1>); with one file it starts again empty. 0: no limit. */
  uint64_t max_size;
  uint32_t max_files;
  uint64_t written;
  /* The monitor's attach socket, whose clients get the output as it is read (NULL: none). */
  struct attach *att;
};

void logger_open(struct logger *l);
/* The rotation limits from the TSBOX_T_LOG_JSON record's payload (u64 max size, u32 max files), if any. */
void logger_limits(struct logger *l, const uint8_t *p, uint32_t len);
/* In the forked process: its stdout/stderr become the pipes. */
void logger_child(struct logger *l);
/* In init after the fork: keep the read ends. */
void logger_parent(struct logger *l);
/* Reads what stream s has (nonblocking) and writes whole lines; returns 0 at EOF. */
int logger_read(struct logger *l, int s);
/* The same for a terminal's master (its output is stdout): nonblocking fd; returns 0 at EOF or EIO. */
int logger_read_fd(struct logger *l, int fd);
/* Before exit: everything still in the pipes, then the unterminated rests. */
void logger_flush(struct logger *l);
#endif
