/* One call served by the runtime server over a connected socket: the request, then the server's
 * messages until 'Z'. */
#ifndef TSBOX_CLIENT_CALL_H
#define TSBOX_CLIENT_CALL_H

/* Returns only when the call is to go cold instead (the server said 'N', or closed the connection
 * having received nothing but the request); otherwise exits with the call's code. */
void call_warm(int sock, int argc, char **argv, char **envp);

#endif
