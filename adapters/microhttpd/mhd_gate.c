/*
 * The gate in front of a ready server's libmicrohttpd daemon: see
 * mhd_gate.h for what it does and why. One thread, one epoll set; every
 * connection it holds is a socket and a few words of state, kept in lists
 * ordered by age so that deadlines and shedding are O(1).
 */
#define _GNU_SOURCE /* accept4 */

#include "mhd_gate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

enum pstate { P_HEAD, P_READY, P_CLOSING };

typedef struct pend pend;
typedef struct plist {
  pend *head, *tail;
  size_t n;
} plist;

struct pend {
  int fd;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  enum pstate state;
  int64_t since;      /* accepted; for P_READY: ready; for P_CLOSING: answered */
  int64_t last_check; /* last look at the head */
  size_t seen;        /* bytes available at that look */
  size_t drained;     /* P_CLOSING: bytes read and dropped */
  int in_epoll;
  plist *in;          /* heads, ready or closing */
  pend *prev, *next;
  int dead;           /* closed; freed after the current batch of events */
  pend *dead_next;
  int deferred;       /* in the deferred list too */
  int64_t recheck_at;
  pend *dprev, *dnext;
};

typedef struct tracked tracked;
struct tracked {
  int fd;
  int idle;  /* between requests, in the idle list */
  int shed;  /* shut down by the gate, closing */
  /* Owned: lent to the connection's calls, one after another
   * (mhd_gate_compress_ctx); touched only by the connection's thread. */
  connectc_compress_ctx *cctx;
  tracked *prev, *next;
};

struct mhd_gate {
  mhd_gate_config cfg;
  struct MHD_Daemon *daemon;
  int epfd;
  int wake_rd, wake_wr;
  pthread_t thread;
  int running;
  char *scratch;
  size_t scratch_cap;
  plist heads, ready, closing;
  pend *def_head, *def_tail; /* heads whose next look is deferred */
  pend *dead;                /* closed, to free once no event can name them */
  int accept_paused;
  int64_t accept_resume_at;

  /* Shared with libmicrohttpd's threads: under mu. */
  pthread_mutex_t mu;
  int stop;
  size_t n_live;     /* connections libmicrohttpd holds (started - closed) */
  size_t n_inflight; /* handed over, not yet started */
  size_t n_shedding; /* idle ones shut down, not yet closed */
  int64_t last_handover, last_started;
  tracked *idle_head, *idle_tail; /* longest idle first */
  mhd_gate_stats stats;
};

/* Markers for the epoll data of the two non-connection descriptors. */
static char listen_marker, wake_marker;

#define READY_WAIT_MS 1000   /* a complete head waits this long for a slot */
#define LINGER_MS 1000       /* a refused connection is drained this long */
#define LINGER_MAX_BYTES (256 * 1024)
#define RECHECK_MS 10        /* small additions to a head are looked at this often */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- lists ---- */

static void pl_push(plist *l, pend *p) {
  p->in = l;
  p->next = NULL;
  p->prev = l->tail;
  if (l->tail) l->tail->next = p;
  else l->head = p;
  l->tail = p;
  l->n++;
}

static void pl_remove(pend *p) {
  plist *l = p->in;
  if (!l) return;
  if (p->prev) p->prev->next = p->next;
  else l->head = p->next;
  if (p->next) p->next->prev = p->prev;
  else l->tail = p->prev;
  l->n--;
  p->in = NULL;
  p->prev = p->next = NULL;
}

static void def_remove(mhd_gate *g, pend *p) {
  if (!p->deferred) return;
  if (p->dprev) p->dprev->dnext = p->dnext;
  else g->def_head = p->dnext;
  if (p->dnext) p->dnext->dprev = p->dprev;
  else g->def_tail = p->dprev;
  p->deferred = 0;
  p->dprev = p->dnext = NULL;
}

static void def_push(mhd_gate *g, pend *p, int64_t at) {
  if (p->deferred) return;
  p->deferred = 1;
  p->recheck_at = at;
  p->dnext = NULL;
  p->dprev = g->def_tail;
  if (g->def_tail) g->def_tail->dnext = p;
  else g->def_head = p;
  g->def_tail = p;
}

static void idle_remove(mhd_gate *g, tracked *t) {
  if (!t->idle) return;
  if (t->prev) t->prev->next = t->next;
  else g->idle_head = t->next;
  if (t->next) t->next->prev = t->prev;
  else g->idle_tail = t->prev;
  t->idle = 0;
  t->prev = t->next = NULL;
}

static void idle_push(mhd_gate *g, tracked *t) {
  if (t->idle || t->shed) return;
  t->idle = 1;
  t->next = NULL;
  t->prev = g->idle_tail;
  if (g->idle_tail) g->idle_tail->next = t;
  else g->idle_head = t;
  g->idle_tail = t;
}

static void count(mhd_gate *g, uint64_t *field) {
  pthread_mutex_lock(&g->mu);
  (*field)++;
  pthread_mutex_unlock(&g->mu);
}

/* ---- connections the gate holds ---- */

/* Closes the socket; the memory goes after the current batch of epoll
 * events, which may still name it. */
static void pend_close(mhd_gate *g, pend *p) {
  pl_remove(p);
  def_remove(g, p);
  if (p->in_epoll) epoll_ctl(g->epfd, EPOLL_CTL_DEL, p->fd, NULL);
  p->in_epoll = 0;
  close(p->fd);
  p->dead = 1;
  p->dead_next = g->dead;
  g->dead = p;
}

static void free_dead(mhd_gate *g) {
  while (g->dead) {
    pend *p = g->dead;
    g->dead = p->dead_next;
    free(p);
  }
}

/* Reads and drops what the peer sent; closes at its end or past the
 * linger budget. */
static void drain(mhd_gate *g, pend *p) {
  for (;;) {
    ssize_t n = recv(p->fd, g->scratch, g->scratch_cap, MSG_DONTWAIT);
    if (n > 0) {
      p->drained += (size_t)n;
      if (p->drained > LINGER_MAX_BYTES) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    break; /* end of stream or error */
  }
  pend_close(g, p);
}

/* Sends the one answer of a refused connection, then half-closes it and
 * drains what the peer still sends for a moment, so that the answer is
 * not lost to a reset. */
static void answer(mhd_gate *g, pend *p, const connectc_http_refusal *why) {
  char buf[1024];
  size_t n = connectc_http1_write_refusal(buf, sizeof buf, why);
  if (n < sizeof buf && !g->cfg.tls)
    (void)send(p->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown(p->fd, SHUT_WR);
  pl_remove(p);
  def_remove(g, p);
  p->state = P_CLOSING;
  p->since = now_ms();
  pl_push(&g->closing, p);
  if (!p->in_epoll) {
    struct epoll_event ev = {EPOLLIN | EPOLLRDHUP | EPOLLET, {.ptr = p}};
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, p->fd, &ev) == 0) p->in_epoll = 1;
  }
  drain(g, p);
}

static void answer_with(mhd_gate *g, pend *p, int status, connectc_code code, const char *fmt,
                        ...) __attribute__((format(printf, 5, 6)));
static void answer_with(mhd_gate *g, pend *p, int status, connectc_code code, const char *fmt,
                        ...) {
  connectc_http_refusal why;
  why.status = status;
  why.code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why.message, sizeof why.message, fmt, ap);
  va_end(ap);
  answer(g, p, &why);
}

/* ---- handing over ---- */

static void try_handover(mhd_gate *g) {
  while (g->ready.head) {
    pend *p = g->ready.head;
    pthread_mutex_lock(&g->mu);
    if (g->n_live + g->n_inflight < g->cfg.max_connections) {
      g->n_inflight++;
      g->last_handover = now_ms();
      pthread_mutex_unlock(&g->mu);
      pl_remove(p);
      /* libmicrohttpd owns the socket from here on, also when it fails
       * (it closes it then). */
      if (MHD_add_connection(g->daemon, p->fd, (const struct sockaddr *)&p->addr, p->addrlen) ==
          MHD_YES) {
        count(g, &g->stats.handed_over);
      } else {
        pthread_mutex_lock(&g->mu);
        if (g->n_inflight) g->n_inflight--;
        pthread_mutex_unlock(&g->mu);
      }
      p->dead = 1; /* the socket is libmicrohttpd's now */
      p->dead_next = g->dead;
      g->dead = p;
      continue;
    }
    /* Every slot is taken: make room by shutting down the connections
     * idle the longest, one per waiting head. libmicrohttpd notices,
     * closes them, and its close notification wakes us again. */
    while (g->n_shedding < g->ready.n && g->idle_head) {
      tracked *t = g->idle_head;
      idle_remove(g, t);
      t->shed = 1;
      g->n_shedding++;
      g->stats.shed_idle++;
      shutdown(t->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&g->mu);
    return;
  }
}

static void to_ready(mhd_gate *g, pend *p) {
  def_remove(g, p);
  pl_remove(p);
  if (p->in_epoll) {
    epoll_ctl(g->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    p->in_epoll = 0;
  }
  p->state = P_READY;
  p->since = now_ms();
  pl_push(&g->ready, p);
  try_handover(g);
}

/* Looks at what has arrived of a connection's first request head. */
static void look(mhd_gate *g, pend *p, int64_t now) {
  int avail = 0;
  if (ioctl(p->fd, FIONREAD, &avail) != 0) avail = 0;
  if (avail <= 0) {
    char b;
    ssize_t r = recv(p->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      pend_close(g, p); /* gone before sending a head */
    return;
  }
  if (g->cfg.tls) {
    to_ready(g, p); /* encrypted: libmicrohttpd reads it */
    return;
  }
  size_t have = (size_t)avail;
  if (have <= p->seen) return;
  /* A head trickled in small pieces is looked at every RECHECK_MS, not
   * on every byte: peeking is a copy of everything so far. */
  if (p->seen && have < p->seen + 256 && have < 2 * p->seen && now - p->last_check < RECHECK_MS) {
    def_push(g, p, p->last_check + RECHECK_MS);
    return;
  }
  def_remove(g, p);
  size_t want = have < g->scratch_cap ? have : g->scratch_cap;
  ssize_t n = recv(p->fd, g->scratch, want, MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0) return;
  p->seen = (size_t)n;
  p->last_check = now;
  connectc_http1_head h;
  connectc_http_refusal why;
  int rv = connectc_http1_check_head(g->scratch, (size_t)n, &g->cfg.limits, &h, &why);
  if (rv == 1) {
    /* libmicrohttpd keeps the head, a 64-byte record for each field,
     * query parameter and cookie, and later the response head, in one
     * pool per connection: what does not fit would be closed unanswered. */
    size_t records = h.n_fields + h.n_params + h.n_cookies;
    size_t need = h.head_len + 64 * records + 4096;
    if (g->cfg.pool_bytes && need > g->cfg.pool_bytes) {
      count(g, &g->stats.refused);
      answer_with(g, p, 431, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                  "the request head of %zu bytes with %zu fields, query parameters and cookies "
                  "needs %zu bytes, more than the %zu a connection has (head bytes, 64 per "
                  "record, 4 KiB for the answer)",
                  h.head_len, records, need, g->cfg.pool_bytes);
      return;
    }
    to_ready(g, p);
  } else if (rv < 0) {
    count(g, &g->stats.refused);
    answer(g, p, &why);
  } else if ((size_t)n >= g->scratch_cap) {
    count(g, &g->stats.refused);
    answer_with(g, p, 431, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                "the request head exceeds the limit of %zu bytes", g->cfg.limits.max_head_bytes);
  }
}

/* ---- accepting ---- */

static void shed_oldest_head(mhd_gate *g) {
  pend *old = g->heads.head;
  if (!old) return;
  count(g, &g->stats.shed_pending);
  int64_t waited = now_ms() - old->since;
  answer_with(g, old, 503, CONNECTC_CODE_UNAVAILABLE,
              "the server holds its limit of %u connections waiting for a request head; this one "
              "waited longest (%lld ms)",
              g->cfg.max_pending, (long long)waited);
}

static void do_accept(mhd_gate *g) {
  for (int k = 0; k < 256; k++) {
    pend *p = calloc(1, sizeof *p);
    if (!p) return;
    p->addrlen = sizeof p->addr;
    int fd = accept4(g->cfg.listen_fd, (struct sockaddr *)&p->addr, &p->addrlen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      free(p);
      if (e == EINTR || e == ECONNABORTED) continue;
      if ((e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) && g->heads.head) {
        shed_oldest_head(g); /* frees a descriptor */
        continue;
      }
      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        /* Nothing of ours to free: stop accepting for a moment rather
         * than spin on a listening socket that stays readable. */
        struct epoll_event ev = {0, {.ptr = &listen_marker}};
        epoll_ctl(g->epfd, EPOLL_CTL_MOD, g->cfg.listen_fd, &ev);
        g->accept_paused = 1;
        g->accept_resume_at = now_ms() + 100;
      }
      return;
    }
    p->fd = fd;
    p->state = P_HEAD;
    p->since = now_ms();
    count(g, &g->stats.accepted);
    pl_push(&g->heads, p);
    /* Most clients send their head with the connection: look at once, and
     * watch the socket only when it is not all there yet. */
    look(g, p, p->since);
    if (p->dead || p->state != P_HEAD) continue;
    struct epoll_event ev = {EPOLLIN | EPOLLRDHUP | EPOLLET, {.ptr = p}};
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      pend_close(g, p);
      continue;
    }
    p->in_epoll = 1;
    /* Data that came between the look and the watch raises an event. */
    if (g->heads.n > g->cfg.max_pending) shed_oldest_head(g);
  }
}

/* ---- the loop ---- */

static int64_t earliest(int64_t a, int64_t b) { return a < 0 ? b : (b < 0 || a < b ? a : b); }

static void *gate_main(void *arg) {
  mhd_gate *g = arg;
  struct epoll_event evs[128];
  for (;;) {
    int64_t now = now_ms();
    int64_t due = -1;
    if (g->heads.head) due = earliest(due, g->heads.head->since + g->cfg.head_timeout_ms);
    if (g->ready.head) due = earliest(due, g->ready.head->since + READY_WAIT_MS);
    if (g->closing.head) due = earliest(due, g->closing.head->since + LINGER_MS);
    if (g->def_head) due = earliest(due, g->def_head->recheck_at);
    if (g->accept_paused) due = earliest(due, g->accept_resume_at);
    pthread_mutex_lock(&g->mu);
    if (g->n_inflight) due = earliest(due, g->last_handover + 1000);
    pthread_mutex_unlock(&g->mu);
    int timeout = due < 0 ? 1000 : (due <= now ? 0 : (int)(due - now > 1000 ? 1000 : due - now));
    int n = epoll_wait(g->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
    pthread_mutex_lock(&g->mu);
    int stop = g->stop;
    pthread_mutex_unlock(&g->mu);
    if (stop) break;
    now = now_ms();
    for (int i = 0; i < n; i++) {
      void *tag = evs[i].data.ptr;
      if (tag == &listen_marker) {
        do_accept(g);
      } else if (tag == &wake_marker) {
        char b[64];
        while (read(g->wake_rd, b, sizeof b) > 0) {
        }
      } else {
        pend *p = tag;
        /* An earlier event of this batch may have closed it (it is freed
         * after the batch) or handed it over. */
        if (p->dead || !p->in_epoll) continue;
        if (p->state == P_CLOSING) drain(g, p);
        else if (p->state == P_HEAD) look(g, p, now);
      }
    }
    now = now_ms();
    while (g->def_head && g->def_head->recheck_at <= now) {
      pend *p = g->def_head;
      def_remove(g, p);
      p->last_check = 0;
      look(g, p, now);
    }
    while (g->heads.head && now - g->heads.head->since >= g->cfg.head_timeout_ms) {
      pend *p = g->heads.head;
      count(g, &g->stats.timed_out);
      answer_with(g, p, 408, CONNECTC_CODE_DEADLINE_EXCEEDED,
                  "no complete request head within %lld ms (request_head_timeout_ms)",
                  (long long)g->cfg.head_timeout_ms);
    }
    try_handover(g);
    while (g->ready.head && now - g->ready.head->since >= READY_WAIT_MS) {
      pend *p = g->ready.head;
      count(g, &g->stats.busy);
      answer_with(g, p, 503, CONNECTC_CODE_UNAVAILABLE,
                  "all %u connections of the server are busy with calls (max_connections)",
                  g->cfg.max_connections);
    }
    while (g->closing.head && now - g->closing.head->since >= LINGER_MS)
      pend_close(g, g->closing.head);
    if (g->accept_paused && now >= g->accept_resume_at) {
      struct epoll_event ev = {EPOLLIN, {.ptr = &listen_marker}};
      epoll_ctl(g->epfd, EPOLL_CTL_MOD, g->cfg.listen_fd, &ev);
      g->accept_paused = 0;
    }
    free_dead(g);
    pthread_mutex_lock(&g->mu);
    /* A connection libmicrohttpd refused after accepting it from us never
     * reports: forget handovers that did not start within a second. */
    if (g->n_inflight && now - g->last_handover >= 1000 && now - g->last_started >= 1000)
      g->n_inflight = 0;
    pthread_mutex_unlock(&g->mu);
  }
  return NULL;
}

/* ---- life cycle ---- */

int mhd_gate_new(const mhd_gate_config *cfg, mhd_gate **out) {
  mhd_gate *g = calloc(1, sizeof *g);
  if (!g) return -1;
  g->cfg = *cfg;
  g->epfd = g->wake_rd = g->wake_wr = -1;
  size_t max_head = cfg->limits.max_head_bytes ? cfg->limits.max_head_bytes
                                               : CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES;
  g->cfg.limits.max_head_bytes = max_head;
  /* Enough for any head within the limit and the empty lines allowed
   * before it, plus one byte to see it pass the limit. */
  g->scratch_cap = max_head + 64;
  g->scratch = malloc(g->scratch_cap);
  pthread_mutex_init(&g->mu, NULL);
  int pipefd[2];
  if (!g->scratch || pipe(pipefd) != 0) {
    mhd_gate_del(g);
    return -1;
  }
  g->wake_rd = pipefd[0];
  g->wake_wr = pipefd[1];
  for (int i = 0; i < 2; i++) {
    fcntl(pipefd[i], F_SETFL, fcntl(pipefd[i], F_GETFL, 0) | O_NONBLOCK);
    fcntl(pipefd[i], F_SETFD, FD_CLOEXEC);
  }
  fcntl(cfg->listen_fd, F_SETFL, fcntl(cfg->listen_fd, F_GETFL, 0) | O_NONBLOCK);
  g->epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {EPOLLIN, {.ptr = &listen_marker}};
  struct epoll_event wev = {EPOLLIN, {.ptr = &wake_marker}};
  if (g->epfd < 0 || epoll_ctl(g->epfd, EPOLL_CTL_ADD, cfg->listen_fd, &lev) != 0 ||
      epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->wake_rd, &wev) != 0) {
    mhd_gate_del(g);
    return -1;
  }
  *out = g;
  return 0;
}

int mhd_gate_run(mhd_gate *g, struct MHD_Daemon *daemon) {
  g->daemon = daemon;
  if (pthread_create(&g->thread, NULL, gate_main, g) != 0) return -1;
  g->running = 1;
  return 0;
}

static void wake(mhd_gate *g) {
  char b = 1;
  if (g->wake_wr >= 0) (void)!write(g->wake_wr, &b, 1);
}

void mhd_gate_stop(mhd_gate *g) {
  if (!g) return;
  pthread_mutex_lock(&g->mu);
  g->stop = 1;
  pthread_mutex_unlock(&g->mu);
  wake(g);
  if (g->running) pthread_join(g->thread, NULL);
  g->running = 0;
  plist *lists[] = {&g->heads, &g->ready, &g->closing};
  for (size_t i = 0; i < 3; i++)
    while (lists[i]->head) pend_close(g, lists[i]->head);
  free_dead(g);
  if (g->cfg.listen_fd >= 0) {
    if (g->epfd >= 0) epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->cfg.listen_fd, NULL);
    close(g->cfg.listen_fd);
    g->cfg.listen_fd = -1;
  }
}

void mhd_gate_del(mhd_gate *g) {
  if (!g) return;
  if (g->running) mhd_gate_stop(g);
  if (g->cfg.listen_fd >= 0) close(g->cfg.listen_fd);
  if (g->epfd >= 0) close(g->epfd);
  if (g->wake_rd >= 0) close(g->wake_rd);
  if (g->wake_wr >= 0) close(g->wake_wr);
  pthread_mutex_destroy(&g->mu);
  free(g->scratch);
  free(g);
}

/* ---- libmicrohttpd's side ---- */

void mhd_gate_notify_connection(void *cls, struct MHD_Connection *connection,
                                void **socket_context, enum MHD_ConnectionNotificationCode code) {
  mhd_gate *g = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    tracked *t = calloc(1, sizeof *t);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    pthread_mutex_lock(&g->mu);
    g->n_live++;
    if (g->n_inflight) g->n_inflight--;
    g->last_started = now_ms();
    if (t) {
      t->fd = ci ? ci->connect_fd : -1;
      if (t->fd >= 0) idle_push(g, t);
    }
    pthread_mutex_unlock(&g->mu);
    *socket_context = t;
    return;
  }
  if (code != MHD_CONNECTION_NOTIFY_CLOSED) return;
  tracked *t = *socket_context;
  *socket_context = NULL;
  pthread_mutex_lock(&g->mu);
  if (g->n_live) g->n_live--;
  if (t) {
    idle_remove(g, t);
    if (t->shed && g->n_shedding) g->n_shedding--;
  }
  pthread_mutex_unlock(&g->mu);
  /* Its last request completed before: no call uses the context now. */
  if (t) connectc_compress_ctx_del(t->cctx);
  free(t);
  wake(g);
}

static tracked *tracked_of(struct MHD_Connection *connection) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

connectc_compress_ctx *mhd_gate_compress_ctx(struct MHD_Connection *connection,
                                             const connectc_allocator *alloc) {
  tracked *t = tracked_of(connection);
  if (!t) return NULL;
  if (!t->cctx) (void)connectc_compress_ctx_new(alloc, &t->cctx);
  return t->cctx;
}

void mhd_gate_request_started(mhd_gate *g, struct MHD_Connection *connection) {
  tracked *t = tracked_of(connection);
  if (!t) return;
  pthread_mutex_lock(&g->mu);
  idle_remove(g, t);
  pthread_mutex_unlock(&g->mu);
}

void mhd_gate_request_done(mhd_gate *g, struct MHD_Connection *connection) {
  tracked *t = tracked_of(connection);
  if (!t) return;
  pthread_mutex_lock(&g->mu);
  idle_push(g, t);
  pthread_mutex_unlock(&g->mu);
}

void mhd_gate_get_stats(mhd_gate *g, mhd_gate_stats *out) {
  pthread_mutex_lock(&g->mu);
  *out = g->stats;
  pthread_mutex_unlock(&g->mu);
}
