/* runc's console-socket protocol: one sendmsg with the pty master as SCM_RIGHTS and its path as data. */
#define _GNU_SOURCE
#include "../common/scm.h"
#include "console.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static void send_master(int sock, int master, const char *name) {
  /* runc's protocol: the data is the pty's path. */
  if (scm_send_fd(sock, master, name, strlen(name)) < 0) die(errno, "sendmsg pty master to the console socket");
}

void console_setup(const struct blob *b, int bind_console) {
  if (fcntl(TSBOX_FD_CONSOLE, F_GETFD) < 0) return;
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) die(errno, "open /dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) die(errno, "ioctl TIOCSPTLCK /dev/ptmx");
  int ptn;
  if (ioctl(master, TIOCGPTN, &ptn) < 0) die(errno, "ioctl TIOCGPTN /dev/ptmx");
  char name[64];
  snprintf(name, sizeof name, "/dev/pts/%d", ptn);
  /* TIOCGPTPEER opens the peer of this very master: no path lookup an attacker could redirect. */
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) die(errno, "ioctl TIOCGPTPEER %s", name);
  struct blob_rec r;
  if (blob_find(b, TSBOX_T_CONSOLE_SIZE, &r)) {
    struct blob_cur c = blob_cur(&r);
    struct winsize ws = {.ws_row = cur_u16(&c), .ws_col = cur_u16(&c)};
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) die(errno, "ioctl TIOCSWINSZ %s", name);
  }
  send_master(TSBOX_FD_CONSOLE, master, name);
  close(master);
  close(TSBOX_FD_CONSOLE);
  /* /dev/console in the container is this pty, as runc does it. */
  struct stat st;
  if (bind_console && stat("/dev/console", &st) < 0 && errno == ENOENT) {
    int f = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (f >= 0) close(f);
  }
  if (bind_console && stat("/dev/console", &st) == 0) {
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", slave);
    if (mount(self, "/dev/console", NULL, MS_BIND, NULL) < 0) die(errno, "mount bind %s on /dev/console", name);
  }
  /* Usually a session leader already (main): then only the controlling terminal is missing. */
  if (setsid() < 0 && errno != EPERM) die(errno, "setsid");
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) die(errno, "dup2 %s to %d", name, fd);
  if (slave > 2) close(slave);
  if (ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0) die(errno, "ioctl TIOCSCTTY %s", name);
}
