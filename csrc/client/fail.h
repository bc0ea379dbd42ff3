/* Errors of the tsbox-runtime client: "tsbox-runtime: <syscall> <path>: ENAME" on stderr. Set-up steps of
 * the warm path do not print (a failure there means the cold path), unless TSBOX_RUNTIME_DEBUG is set:
 * then each reason to go cold is printed as "tsbox-runtime: cold: <why>". */
#ifndef TSBOX_CLIENT_FAIL_H
#define TSBOX_CLIENT_FAIL_H

#include <stdbool.h>

/* Prints "tsbox-runtime: <what>: ENAME" for err (0: no name). */
void say(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* With TSBOX_RUNTIME_DEBUG set: "tsbox-runtime: cold: <what>[: ENAME]". Returns false. */
bool cold_why(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
