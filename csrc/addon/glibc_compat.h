/* Forced into every addon source of a glibc build (-include, CMakeLists.txt and binding.gyp; musl needs
 * none of this): the addon built on a new glibc must load on glibc 2.28 (Debian 10, RHEL 8; Ubuntu
 * 20.04 has 2.31). The linker binds each call to the newest version of a symbol in the build machine's
 * libc; where glibc gave a function a new version without changing what it does (the libpthread merge
 * of 2.32/2.34), the calls are pinned here to the first version instead, which every glibc since keeps.
 * Functions that have no version old enough are defined in glibc_compat.c. scripts/prebuild.sh fails
 * when a symbol newer than 2.28 is left, naming it: add it here (same behaviour, older version) or there
 * (a replacement). This header includes nothing: a system header included before a source's own
 * #define _GNU_SOURCE would hide what that asks for. The prebuilds are made with glibc 2.36 (Debian 12):
 * glibc 2.38's headers also redirect sscanf & co. to __isoc23_* (GLIBC_2.38), which the check names. */
#ifndef TSBOX_GLIBC_COMPAT_H
#define TSBOX_GLIBC_COMPAT_H

#if defined(__x86_64__)
#define TSBOX_GLIBC_FIRST "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define TSBOX_GLIBC_FIRST "GLIBC_2.17"
#endif

#ifdef TSBOX_GLIBC_FIRST
/* Only symbols whose first version is the current implementation: never those with two old versions
 * (pthread_cond_* at 2.2.5 is LinuxThreads' condvar, timer_create's is the old ABI) nor those whose
 * old version behaves differently (pthread_kill@2.2.5 fails with ESRCH on an exited thread). */
#define TSBOX_GLIBC_PIN(sym) __asm__(".symver " #sym "," #sym "@" TSBOX_GLIBC_FIRST);
TSBOX_GLIBC_PIN(pthread_create)
TSBOX_GLIBC_PIN(pthread_join)
TSBOX_GLIBC_PIN(pthread_detach)
TSBOX_GLIBC_PIN(pthread_once)
TSBOX_GLIBC_PIN(pthread_sigmask)
TSBOX_GLIBC_PIN(pthread_attr_setstacksize)
TSBOX_GLIBC_PIN(pthread_attr_getstacksize)
TSBOX_GLIBC_PIN(pthread_attr_setguardsize)
TSBOX_GLIBC_PIN(pthread_key_create)
TSBOX_GLIBC_PIN(pthread_key_delete)
TSBOX_GLIBC_PIN(pthread_getspecific)
TSBOX_GLIBC_PIN(pthread_setspecific)
TSBOX_GLIBC_PIN(pthread_mutex_trylock)
TSBOX_GLIBC_PIN(pthread_mutexattr_init)
TSBOX_GLIBC_PIN(pthread_mutexattr_settype)
TSBOX_GLIBC_PIN(pthread_mutexattr_destroy)
#undef TSBOX_GLIBC_PIN
#endif

#endif
