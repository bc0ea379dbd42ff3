/* Bringing lo up in the current network namespace (a new one starts with it down): shared by tsbox-init
 * (every new namespace) and the addon (a namespace made ahead, csrc/addon/netns_pool.c). Header-only,
 * so each binary keeps building from its own directory. */
#ifndef TSBOX_COMMON_LOOPBACK_H
#define TSBOX_COMMON_LOOPBACK_H

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* 0, or -errno with *what naming the failed step. Up already: nothing set (setting it takes the RTNL
 * lock, which the kernel's cleanup of other namespaces holds for long). */
static inline int loopback_up(const char **what) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return *what = "socket for lo", -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int r = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) *what = "ioctl SIOCGIFFLAGS lo", r = -errno;
  else if (!(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) *what = "ioctl SIOCSIFFLAGS lo up", r = -errno;
  }
  close(s);
  return r;
}

#endif
