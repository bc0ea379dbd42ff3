/* Replacements for the glibc functions whose every version is newer than 2.28 (glibc_compat.h says
 * why). glibc 2.33 made stat, fstat, mknod & co. real functions (GLIBC_2.33); before, they were inline
 * wrappers of __fxstat and friends. These are the system calls themselves, hidden in the addon, so the
 * addon imports none of them; the kernel's struct stat is glibc's on x86_64 and aarch64. */
#define _GNU_SOURCE
#include <features.h>

#ifdef __GLIBC__
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN int fstatat(int dirfd, const char *path, struct stat *st, int flags) {
  return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}

/* As glibc's: a negative fd is EBADF, never AT_FDCWD's directory (fstatat would stat the cwd). */
HIDDEN int fstat(int fd, struct stat *st) {
  if (fd < 0) {
    errno = EBADF;
    return -1;
  }
  return fstatat(fd, "", st, AT_EMPTY_PATH);
}

HIDDEN int stat(const char *path, struct stat *st) {
  return fstatat(AT_FDCWD, path, st, 0);
}

HIDDEN int lstat(const char *path, struct stat *st) {
  return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

HIDDEN int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev) {
  return (int)syscall(SYS_mknodat, dirfd, path, mode, dev);
}

HIDDEN int mknod(const char *path, mode_t mode, dev_t dev) {
  return mknodat(AT_FDCWD, path, mode, dev);
}
#endif
