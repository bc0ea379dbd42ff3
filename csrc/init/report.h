/* Messages to the parent on TSBOX_FD_REPORT (protocol in csrc/common/config.h). */
#ifndef TSBOX_INIT_REPORT_H
#define TSBOX_INIT_REPORT_H

/* "E <errno> <text>" then exit(1). text is printf-formatted and should name the syscall and path. */
_Noreturn void die(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same message with a chosen exit code (126/127 for exec failures). */
_Noreturn void die_code(int code, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* One raw line ("R", "S", "X 256"); a newline is appended. */
void report_line(const char *line);
/* Which fd report_* write to (TSBOX_FD_REPORT by default; -1 disables). */
void report_set_fd(int fd);
int report_fd(void);

#endif
