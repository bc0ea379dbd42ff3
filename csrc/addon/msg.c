/* SOCK_SEQPACKET messages with fds, for the runtime server (docs: /ts/runtime/cli/server.ts and the
 * client in csrc/client/): msgListen, msgSend, msgClose, peerCred, and msgConnect/msgRecv for tests
 * that play a client.
 *
 * Each listener has a thread of its own that accepts and reads every connection (poll), and posts each
 * message to JS through the environment's channel, in order. Received fds come with MSG_CMSG_CLOEXEC:
 * nothing Node or the addon spawns meanwhile inherits a caller's stdio. A connection the peer closed
 * is delivered as null and closed by the addon after the callback, so its fd number is never reused
 * while JS may still send on it; JS never closes one. msgClose stops accepting; the thread serves the connections it has
 * until they close, then ends (and stops keeping the event loop alive). */
#define _GNU_SOURCE
#include "addon.h"
#include "../common/scm.h"
#include "args.h"
#include "channel.h"
#include "errors.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MSG_MAX (4 << 20) /* the protocol's largest message */
#define MSG_MAX_FDS SCM_MAX_FDS
#define MAX_CONNS 1024

struct listener {
  struct channel *ch;
  napi_ref cb;
  int lfd;           /* the listening socket; the thread closes it once stopped */
  int stopfd;        /* eventfd: msgClose's wake-up */
  struct listener *next;
};

struct msg {
  struct channel_msg m;
  struct listener *l;
  int conn;
  int kind;          /* 0 data, 1 connection closed (null), 2 the listener ended, 3 closed by JS (null) */
  size_t len;
  int nfds;
  int fds[MSG_MAX_FDS];
  char data[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct listener *listeners; /* live ones, for msgClose (under lock) */


/* One recvmsg into buf: its length (0: the peer closed), or -errno. Fds beyond MSG_MAX_FDS or a
 * message beyond size are a protocol error (EMSGSIZE); the fds that did arrive are closed then. */
static ssize_t recv_one(int conn, char *buf, size_t size, int *fds, int *nfds) {
  int cut;
  ssize_t n = scm_recv(conn, buf, size, fds, MSG_MAX_FDS, nfds, &cut);
  if (n >= 0 && cut) {
    for (int i = 0; i < *nfds; i++) close(fds[i]);
    *nfds = 0;
    return -EMSGSIZE;
  }
  return n;
}

static void deliver(napi_env env, struct channel_msg *cm) {
  struct msg *m = (struct msg *)cm;
  struct listener *l = m->l;
  if (!env) {
    for (int i = 0; i < m->nfds; i++) close(m->fds[i]);
    if (m->kind == 1) close(m->conn);
    if (m->kind == 2) free(l);
    free(m);
    return;
  }
  if (m->kind == 2) {
    napi_delete_reference(env, l->cb);
    channel_drop(env, l->ch);
    free(l);
    free(m);
    return;
  }
  napi_value cb, undef, args[3];
  napi_get_undefined(env, &undef);
  args[0] = make_int(env, m->conn);
  if (m->kind == 1 || m->kind == 3) {
    napi_get_null(env, &args[1]);
  } else {
    void *copy;
    napi_create_buffer_copy(env, m->len, m->data, &copy, &args[1]);
  }
  napi_create_array_with_length(env, (size_t)m->nfds, &args[2]);
  for (int i = 0; i < m->nfds; i++) napi_set_element(env, args[2], (uint32_t)i, make_int(env, m->fds[i]));
  if (napi_get_reference_value(env, l->cb, &cb) == napi_ok && cb) {
    napi_value exc;
    if (napi_call_function(env, undef, cb, 3, args, NULL) == napi_pending_exception) {
      /* A throwing handler is the server's bug: report it as Node would, do not lose later messages. */
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  if (m->kind == 1) close(m->conn);
  free(m);
}

/* Posts a message; false when the environment is gone (then the caller's to free). */
static bool post(struct listener *l, int conn, int kind, const char *data, size_t len, const int *fds, int nfds) {
  struct msg *m = malloc(sizeof *m + len);
  if (!m) {
    for (int i = 0; i < nfds; i++) close(fds[i]);
    return true; /* dropped: out of memory leaves the peer waiting, as a lost message would */
  }
  m->m.deliver = deliver;
  m->l = l;
  m->conn = conn;
  m->kind = kind;
  m->len = len;
  m->nfds = nfds;
  memcpy(m->fds, fds, sizeof(int) * (size_t)nfds);
  if (len) memcpy(m->data, data, len);
  if (channel_post(l->ch, &m->m)) return true;
  for (int i = 0; i < nfds; i++) close(fds[i]);
  free(m);
  return false;
}

/* Takes l off the list of live listeners; the caller holds lock. */
static void unlist_locked(struct listener *l) {
  for (struct listener **p = &listeners; *p; p = &(*p)->next)
    if (*p == l) {
      *p = l->next;
      break;
    }
}

static void unlist(struct listener *l) {
  pthread_mutex_lock(&lock);
  unlist_locked(l);
  pthread_mutex_unlock(&lock);
}

/* The thread of one listener: pfd[0] the stop eventfd, pfd[1] the listening socket (-1 once stopped),
 * then the connections. */
static void *serve(void *arg) {
  struct listener *l = arg;
  struct pollfd *pfd = calloc(MAX_CONNS + 2, sizeof *pfd);
  char *buf = malloc(MSG_MAX);
  int n = 2, fds[MSG_MAX_FDS], nfds;
  bool alive = pfd && buf;
  if (alive) {
    pfd[0] = (struct pollfd){.fd = l->stopfd, .events = POLLIN};
    pfd[1] = (struct pollfd){.fd = l->lfd, .events = POLLIN};
  }
  while (alive && (pfd[1].fd >= 0 || n > 2)) {
    if (poll(pfd, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfd[0].revents && pfd[1].fd >= 0) {
      close(l->lfd);
      pfd[1].fd = -1;
      pfd[0].fd = -1;
    }
    if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN)) {
      int c = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0 && n < MAX_CONNS + 2) {
        scm_bufsize(c, 2 * MSG_MAX);
        pfd[n++] = (struct pollfd){.fd = c, .events = POLLIN};
      } else if (c >= 0) {
        close(c); /* too many at once: the client goes cold */
      }
    }
    for (int i = 2; i < n && alive; i++) {
      if (!pfd[i].revents) continue;
      int c = pfd[i].fd;
      if (pfd[i].revents & POLLNVAL) {
        /* JS closed it (it should not): reported, never closed again, as the number may be reused. */
        pfd[i--] = pfd[--n];
        alive = post(l, c, 3, NULL, 0, fds, 0);
        continue;
      }
      ssize_t r = recv_one(c, buf, MSG_MAX, fds, &nfds);
      if (r > 0) {
        alive = post(l, c, 0, buf, (size_t)r, fds, nfds);
        continue;
      }
      if (r == -EAGAIN) continue;
      /* Closed, or unreadable (a broken message): JS learns it is gone, then the addon closes it. */
      pfd[i--] = pfd[--n];
      if (!(alive = post(l, c, 1, NULL, 0, fds, 0))) close(c);
    }
  }
  /* Unlisted before stopfd closes: msgClose writes it under the lock, only to a listed listener. */
  unlist(l);
  if (!pfd || pfd[1].fd >= 0) close(l->lfd);
  for (int i = 2; pfd && i < n; i++) close(pfd[i].fd);
  close(l->stopfd);
  free(pfd);
  free(buf);
  if (!alive || !post(l, -1, 2, NULL, 0, fds, 0)) {
    /* The environment is gone: nothing in JS refers to the listener any more. */
    free(l);
  }
  return NULL;
}

static bool fill_addr(struct sockaddr_un *sa, const char *path) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sa->sun_path) return false;
  memcpy(sa->sun_path, path, strlen(path) + 1);
  return true;
}

napi_value addon_msg_listen(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return throw_type(env, "onMessage must be a function");
  char *path;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  struct channel *ch = channel_get(env);
  struct sockaddr_un sa;
  int fd = -1, stopfd = -1;
  struct listener *l = NULL;
  napi_value r = NULL;
  if (!ch) goto out;
  if (!fill_addr(&sa, path)) {
    throw_errno(env, ENAMETOOLONG, "bind %s", path);
    goto out;
  }
  if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0) {
    throw_errno(env, errno, "socket AF_UNIX SOCK_SEQPACKET for %s", path);
    goto out;
  }
  /* 0600 from the start: bind creates the file with the umask's mode. The umask is process-wide for
   * this instant; Node's own threads create no files without an explicit mode. */
  mode_t old = umask(0177);
  int b = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  int e = errno;
  umask(old);
  if (b < 0) {
    throw_errno(env, e, "bind %s", path);
    goto out;
  }
  if (listen(fd, 128) < 0) {
    throw_errno(env, errno, "listen %s", path);
    goto out;
  }
  if ((stopfd = eventfd(0, EFD_CLOEXEC)) < 0) {
    throw_errno(env, errno, "eventfd for %s", path);
    goto out;
  }
  if (!(l = calloc(1, sizeof *l))) {
    throw_errno(env, ENOMEM, "calloc listener");
    goto out;
  }
  l->ch = ch;
  l->lfd = fd;
  l->stopfd = stopfd;
  napi_create_reference(env, argv[1], 1, &l->cb);
  pthread_mutex_lock(&lock);
  l->next = listeners;
  listeners = l;
  pthread_mutex_unlock(&lock);
  int err = start_thread(serve, l, 128 * 1024);
  if (err) {
    unlist(l);
    napi_delete_reference(env, l->cb);
    free(l);
    l = NULL;
    throw_errno(env, err, "pthread_create listener %s", path);
    goto out;
  }
  /* A listening socket keeps the event loop alive, as a net.Server does, until its thread ends. */
  channel_hold(env, ch);
  r = make_int(env, fd);
  fd = stopfd = -1;
out:
  if (fd >= 0) close(fd);
  if (stopfd >= 0) close(stopfd);
  free(path);
  return r;
}

napi_value addon_msg_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  if (!arg_int(env, argv[0], "listenFd", &fd)) return NULL;
  pthread_mutex_lock(&lock);
  struct listener *l = listeners;
  while (l && l->lfd != fd) l = l->next;
  if (l) {
    uint64_t one = 1;
    ssize_t w = write(l->stopfd, &one, sizeof one);
    (void)w;
    /* Unlisted now, so that a second msgClose, or a new listener that gets the same fd number, never
     * reaches this one; the thread closes the fd. */
    unlist_locked(l);
  }
  pthread_mutex_unlock(&lock);
  if (!l) return throw_errno(env, EBADF, "msgClose fd %d: not a listening socket of msgListen", fd);
  return NULL;
}

/* The fds array of a JS call, at most MSG_MAX_FDS. */
static bool read_fds(napi_env env, napi_value v, int *fds, int *n) {
  *n = 0;
  if (is_nullish(env, v)) return true;
  bool is_array = false;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array) return throw_type(env, "fds must be an array"), false;
  uint32_t len;
  napi_get_array_length(env, v, &len);
  if (len > MSG_MAX_FDS) return throw_type(env, "fds: at most %d", MSG_MAX_FDS), false;
  for (uint32_t i = 0; i < len; i++) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    if (!arg_int(env, e, "fds[]", &fds[i])) return false;
  }
  *n = (int)len;
  return true;
}

napi_value addon_msg_send(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int32_t conn;
  void *data;
  size_t len;
  int fds[MSG_MAX_FDS], nfds;
  if (!arg_int(env, argv[0], "conn", &conn) || !arg_buffer(env, argv[1], "data", &data, &len) || !read_fds(env, argv[2], fds, &nfds)) return NULL;
  int r = scm_send(conn, data, len, fds, nfds);
  if (r < 0) return throw_errno(env, -r, "sendmsg fd %d", conn);
  return NULL;
}

napi_value addon_peer_cred(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t conn;
  if (!arg_int(env, argv[0], "conn", &conn)) return NULL;
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) return throw_errno(env, errno, "getsockopt SO_PEERCRED fd %d", conn);
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "pid", make_int(env, cr.pid));
  napi_set_named_property(env, o, "uid", make_int(env, cr.uid));
  napi_set_named_property(env, o, "gid", make_int(env, cr.gid));
  return o;
}

napi_value addon_msg_connect(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char *path;
  if (!arg_str(env, argv[0], "path", false, &path)) return NULL;
  struct sockaddr_un sa;
  napi_value r = NULL;
  int fd = -1;
  if (!fill_addr(&sa, path)) throw_errno(env, ENAMETOOLONG, "connect %s", path);
  else if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0) throw_errno(env, errno, "socket AF_UNIX SOCK_SEQPACKET for %s", path);
  else if (scm_bufsize(fd, 2 * MSG_MAX), connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) throw_errno(env, errno, "connect %s", path), close(fd);
  else r = make_int(env, fd);
  free(path);
  return r;
}

napi_value addon_msg_recv(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t conn;
  if (!arg_int(env, argv[0], "conn", &conn)) return NULL;
  char *buf = malloc(MSG_MAX);
  if (!buf) return throw_errno(env, ENOMEM, "malloc");
  int fds[MSG_MAX_FDS], nfds = 0;
  ssize_t n = recv_one(conn, buf, MSG_MAX, fds, &nfds);
  if (n < 0) {
    free(buf);
    return throw_errno(env, (int)-n, "recvmsg fd %d", conn);
  }
  napi_value o, data, arr;
  if (n == 0 && nfds == 0) napi_get_null(env, &data);
  else {
    void *copy;
    napi_create_buffer_copy(env, (size_t)n, buf, &copy, &data);
  }
  free(buf);
  napi_create_array_with_length(env, (size_t)nfds, &arr);
  for (int i = 0; i < nfds; i++) napi_set_element(env, arr, (uint32_t)i, make_int(env, fds[i]));
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "data", data);
  napi_set_named_property(env, o, "fds", arr);
  return o;
}
