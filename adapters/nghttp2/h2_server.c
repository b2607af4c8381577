/*
 * The socket side of the HTTP/2 server: epoll loops (threads, or the
 * application's own loop) moving bytes between TCP sockets, OpenSSL (on
 * memory BIOs, so TLS is bytes in and bytes out too) and the sans-IO
 * connections of h2_conn.c.
 *
 * Each loop owns the connections it accepted; only its thread touches
 * them. Asynchronous handlers reach a connection through its own lock (in
 * h2_conn.c); when they produce output the connection's wake hook queues
 * it on its loop and signals the loop's eventfd. A connection's memory
 * stays until h2_conn.c reports it released (handlers may hold calls past
 * the socket's close), which is also what connectc_h2_stop waits for.
 */
#define _GNU_SOURCE /* accept4 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "connectc/nghttp2.h"
#include "cpus.h"

#define READ_CHUNK 65536
#define OUT_HIGH 262144 /* pending output above which a connection stops reading */

typedef struct loop loop;
typedef struct sconn sconn;

struct connectc_h2_server {
  connectc_h2_config cfg;
  char *cert, *key, *ca;
  connectc_router *router;
  SSL_CTX *ssl;
  int lfd;
  uint16_t port;
  loop *loops;
  unsigned n_loops;
  pthread_mutex_t mu; /* n_objs, n_conns */
  pthread_cond_t idle;
  size_t n_objs;  /* connection objects not yet released */
  size_t n_conns; /* open sockets */
  int stopping;   /* guarded by mu; loops read it after their eventfd */
  int64_t stop_deadline;
};

struct loop {
  connectc_h2_server *s;
  int epfd, evfd;
  pthread_t th;
  int started;
  pthread_mutex_t mu; /* woken, signaled */
  sconn *woken;
  int signaled;
  sconn *conns; /* this loop's open connections */
  sconn *again; /* connections with input left to read */
  sconn *graveyard; /* released connections, freed between rounds (l->mu) */
  int64_t next_tick;
  int stop_seen;
  int listening;
  uint8_t buf[READ_CHUNK];
  uint8_t plain[READ_CHUNK];
};

struct sconn {
  loop *l;
  int fd;
  connectc_h2_conn *h2;
  SSL *ssl;
  int tls_done;
  uint8_t *tout; /* TLS records waiting for the socket */
  size_t tout_len, tout_off, tout_cap;
  int woken;     /* in l->woken (guarded by l->mu) */
  sconn *wnext;
  int in_again;
  sconn *anext;
  sconn *gnext;
  sconn *prev, *next;
  int64_t next_tick;
  int64_t stall_since;
  int read_blocked; /* stopped reading while output is pending */
  int closed;
};

static const int lfd_token = 0, evfd_token = 0;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connection lifetime ---- */

static void on_wake(void *ctx) {
  sconn *c = ctx;
  loop *l = c->l;
  pthread_mutex_lock(&l->mu);
  if (!c->woken) {
    c->woken = 1;
    c->wnext = l->woken;
    l->woken = c;
  }
  int signal = !l->signaled;
  l->signaled = 1;
  pthread_mutex_unlock(&l->mu);
  if (signal) {
    uint64_t one = 1;
    ssize_t w = write(l->evfd, &one, sizeof one);
    (void)w;
  }
}

/* The connection object is gone (from any thread). The memory waits in
 * the graveyard until the loop starts its next round: an event for it may
 * still sit in the batch epoll_wait returned. */
static void on_released(void *ctx) {
  sconn *c = ctx;
  loop *l = c->l;
  connectc_h2_server *s = l->s;
  pthread_mutex_lock(&l->mu);
  c->gnext = l->graveyard;
  l->graveyard = c;
  pthread_mutex_unlock(&l->mu);
  pthread_mutex_lock(&s->mu);
  if (--s->n_objs == 0) pthread_cond_broadcast(&s->idle);
  pthread_mutex_unlock(&s->mu);
}

static void conn_close(sconn *c) {
  if (c->closed) return;
  loop *l = c->l;
  c->closed = 1;
  epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->prev) c->prev->next = c->next;
  else l->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (c->in_again) {
    sconn **pp = &l->again;
    while (*pp && *pp != c) pp = &(*pp)->anext;
    if (*pp) *pp = c->anext;
    c->in_again = 0;
  }
  if (c->ssl) SSL_free(c->ssl);
  c->ssl = NULL;
  connectc_h2_server *s = l->s;
  pthread_mutex_lock(&s->mu);
  s->n_conns--;
  pthread_mutex_unlock(&s->mu);
  /* No wake after this returns; then take it off the woken list. */
  connectc_h2_conn *h2 = c->h2;
  c->h2 = NULL;
  pthread_mutex_lock(&l->mu);
  if (c->woken) {
    sconn **pp = &l->woken;
    while (*pp && *pp != c) pp = &(*pp)->wnext;
    if (*pp) *pp = c->wnext;
    c->woken = 0;
  }
  pthread_mutex_unlock(&l->mu);
  connectc_h2_conn_del(h2); /* may free c (on_released) */
}

/* ---- output ---- */

static size_t pending_out(sconn *c) { return c->tout_len - c->tout_off; }

/* Writes what the socket takes. Returns -1 on a dead socket, 0 when the
 * socket is full (or all is out). */
static int write_some(sconn *c, const uint8_t *p, size_t n, size_t *wrote) {
  *wrote = 0;
  while (*wrote < n) {
    ssize_t w = send(c->fd, p + *wrote, n - *wrote, MSG_NOSIGNAL);
    if (w > 0) {
      *wrote += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
  }
  return 0;
}

/* Moves TLS records from the memory BIO to tout. */
static int drain_wbio(sconn *c) {
  BIO *w = SSL_get_wbio(c->ssl);
  size_t avail = (size_t)BIO_ctrl_pending(w);
  if (!avail) return 0;
  if (c->tout_off == c->tout_len) c->tout_off = c->tout_len = 0;
  if (c->tout_len + avail > c->tout_cap) {
    size_t ncap = c->tout_cap ? c->tout_cap : 32768;
    while (ncap < c->tout_len + avail) ncap *= 2;
    uint8_t *nb = realloc(c->tout, ncap);
    if (!nb) return -1;
    c->tout = nb;
    c->tout_cap = ncap;
  }
  int r = BIO_read(w, c->tout + c->tout_len, (int)avail);
  if (r > 0) c->tout_len += (size_t)r;
  return 0;
}

/* Sends what the connection has for the socket. Returns -1 when the
 * connection must close now. */
static int flush(sconn *c, int64_t now) {
  int blocked = 0;
  if (!c->ssl) {
    for (;;) {
      const uint8_t *p;
      size_t n, wrote;
      connectc_h2_conn_send_peek(c->h2, &p, &n, 65536);
      if (!n) break;
      if (write_some(c, p, n, &wrote) < 0) return -1;
      connectc_h2_conn_send_consume(c->h2, wrote);
      if (wrote < n) {
        blocked = 1;
        break;
      }
    }
  } else {
    for (;;) {
      if (drain_wbio(c) < 0) return -1;
      if (pending_out(c)) {
        size_t wrote;
        if (write_some(c, c->tout + c->tout_off, pending_out(c), &wrote) < 0) return -1;
        c->tout_off += wrote;
        if (pending_out(c)) {
          blocked = 1;
          break;
        }
      }
      if (!c->tls_done) break;
      const uint8_t *p;
      size_t n;
      connectc_h2_conn_send_peek(c->h2, &p, &n, 65536);
      if (!n) break;
      int r = SSL_write(c->ssl, p, (int)n);
      if (r <= 0) return -1;
      connectc_h2_conn_send_consume(c->h2, (size_t)r);
    }
  }
  if (blocked) {
    if (!c->stall_since) c->stall_since = now;
  } else {
    c->stall_since = 0;
  }
  return 0;
}

/* ---- input ---- */

/* Feeds received bytes through TLS (when on) into the connection. Returns
 * -1 when the connection must close. */
static int feed(sconn *c, const uint8_t *data, size_t n, int64_t now) {
  if (!c->ssl) {
    connectc_h2_conn_recv(c->h2, data, n, now);
    return 0;
  }
  if (BIO_write(SSL_get_rbio(c->ssl), data, (int)n) != (int)n) return -1;
  if (!c->tls_done) {
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      ERR_clear_error();
      return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    c->tls_done = 1;
    const unsigned char *alpn = NULL;
    unsigned alen = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
    if (connectc_h2_conn_set_alpn(c->h2, (const char *)alpn, alen) != CONNECTC_OK) return -1;
  }
  uint8_t *plain = c->l->plain;
  for (;;) {
    int r = SSL_read(c->ssl, plain, READ_CHUNK);
    if (r > 0) {
      connectc_h2_conn_recv(c->h2, plain, (size_t)r, now);
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ) return 0;
    return -1; /* close_notify or a TLS error */
  }
}

/* Ticks the connection (deadlines, timeouts), sends what it has, closes
 * it when done, and notes when it wants the next tick. */
static void settle(sconn *c, int64_t now) {
  int64_t next = connectc_h2_conn_tick(c->h2, now);
  if (flush(c, now) < 0 || connectc_h2_conn_is_done(c->h2)) {
    conn_close(c);
    return;
  }
  unsigned stall = c->l->s->cfg.stall_timeout_ms ? c->l->s->cfg.stall_timeout_ms : 30000;
  if (c->stall_since) {
    if (now - c->stall_since >= stall) {
      conn_close(c); /* the peer takes no bytes */
      return;
    }
    int64_t t = c->stall_since + stall;
    if (next < 0 || t < next) next = t;
  }
  if (c->read_blocked && pending_out(c) < OUT_HIGH / 2 && !c->in_again &&
      connectc_h2_conn_wants_read(c->h2)) {
    c->read_blocked = 0;
    c->in_again = 1;
    c->anext = c->l->again;
    c->l->again = c;
  }
  c->next_tick = next;
  if (next >= 0 && (c->l->next_tick < 0 || next < c->l->next_tick)) c->l->next_tick = next;
}

static void on_readable(sconn *c, int64_t now) {
  for (int i = 0; i < 4; i++) {
    if (pending_out(c) >= OUT_HIGH || !connectc_h2_conn_wants_read(c->h2)) {
      c->read_blocked = 1; /* resumed by settle() once output drains */
      break;
    }
    ssize_t r = recv(c->fd, c->l->buf, READ_CHUNK, 0);
    if (r > 0) {
      if (feed(c, c->l->buf, (size_t)r, now) < 0) {
        flush(c, now);
        conn_close(c);
        return;
      }
      if (i == 3 && !c->in_again) { /* fairness: more next round */
        c->in_again = 1;
        c->anext = c->l->again;
        c->l->again = c;
      }
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    conn_close(c); /* EOF or error: calls in flight are canceled */
    return;
  }
  settle(c, now);
}

/* ---- accepting ---- */

/* "h2" when offered; else "http/1.1" (unless HTTP/2 only); else no
 * protocol this server speaks. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  const connectc_h2_server *s = arg;
  const unsigned char *h1 = NULL;
  for (unsigned i = 0; i + 1 <= inlen;) {
    unsigned n = in[i];
    if (i + 1 + n > inlen) break;
    if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) h1 = in + i + 1;
    i += 1 + n;
  }
  if (h1 && !s->cfg.http2_only) {
    *out = h1;
    *outlen = 8;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void accept_some(loop *l, int64_t now) {
  connectc_h2_server *s = l->s;
  unsigned maxc = s->cfg.max_connections ? s->cfg.max_connections : 4096;
  for (int i = 0; i < 64; i++) {
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return; /* EAGAIN (another loop took it), or EMFILE: try later */
    pthread_mutex_lock(&s->mu);
    int full = s->n_conns >= maxc || s->stopping;
    if (!full) {
      s->n_conns++;
      s->n_objs++;
    }
    pthread_mutex_unlock(&s->mu);
    if (full) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sconn *c = calloc(1, sizeof *c);
    connectc_h2_conn_hooks hooks = {on_wake, on_released};
    if (c) {
      c->l = l;
      c->fd = fd;
      c->next_tick = -1;
    }
    if (!c || connectc_h2_conn_new(&s->cfg, s->router, &hooks, c, now, &c->h2) != CONNECTC_OK) {
      free(c);
      close(fd);
      pthread_mutex_lock(&s->mu);
      s->n_conns--;
      if (--s->n_objs == 0) pthread_cond_broadcast(&s->idle);
      pthread_mutex_unlock(&s->mu);
      continue;
    }
    c->next = l->conns;
    if (l->conns) l->conns->prev = c;
    l->conns = c;
    if (s->ssl) {
      c->ssl = SSL_new(s->ssl);
      BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
      if (!c->ssl || !rb || !wb) {
        BIO_free(rb);
        BIO_free(wb);
        conn_close(c);
        continue;
      }
      SSL_set_bio(c->ssl, rb, wb);
      SSL_set_accept_state(c->ssl);
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      conn_close(c);
      continue;
    }
    /* The server's SETTINGS go out at once; the client may have sent its
     * preface already (edge-triggered: read now). */
    on_readable(c, now);
  }
}

/* ---- the loop ---- */

static void bury(loop *l) {
  pthread_mutex_lock(&l->mu);
  sconn *g = l->graveyard;
  l->graveyard = NULL;
  pthread_mutex_unlock(&l->mu);
  while (g) {
    sconn *c = g;
    g = c->gnext;
    free(c->tout);
    free(c);
  }
}

static void take_woken(loop *l, int64_t now) {
  uint64_t v;
  ssize_t r = read(l->evfd, &v, sizeof v);
  (void)r;
  /* One at a time: a handler may wake a connection again meanwhile. Only
   * this thread closes them, so a queued one is open. */
  for (;;) {
    pthread_mutex_lock(&l->mu);
    sconn *c = l->woken;
    if (c) {
      l->woken = c->wnext;
      c->woken = 0;
    } else {
      l->signaled = 0;
    }
    pthread_mutex_unlock(&l->mu);
    if (!c) break;
    settle(c, now);
  }
}

static void tick_all(loop *l, int64_t now) {
  l->next_tick = -1;
  for (sconn *c = l->conns, *next; c; c = next) {
    next = c->next;
    if (c->next_tick >= 0 && c->next_tick <= now) {
      settle(c, now); /* ticks inside */
    } else if (c->next_tick >= 0 && (l->next_tick < 0 || c->next_tick < l->next_tick)) {
      l->next_tick = c->next_tick;
    }
  }
}

static int stopping(connectc_h2_server *s) {
  pthread_mutex_lock(&s->mu);
  int st = s->stopping;
  pthread_mutex_unlock(&s->mu);
  return st;
}

/* One round of the loop: waits up to `wait_ms` (-1 = until something
 * happens). Returns 1 when a stopping loop has nothing left. */
static int loop_once(loop *l, int wait_ms) {
  connectc_h2_server *s = l->s;
  bury(l);
  int64_t now = now_ms();
  if (l->again) wait_ms = 0;
  if (l->next_tick >= 0) {
    int64_t d = l->next_tick - now;
    if (d < 0) d = 0;
    if (wait_ms < 0 || d < wait_ms) wait_ms = (int)(d > 60000 ? 60000 : d);
  }
  if (l->stop_seen) {
    int64_t d = s->stop_deadline - now;
    if (d < 0) d = 0;
    if (wait_ms < 0 || d < wait_ms) wait_ms = (int)d;
  }
  struct epoll_event evs[64];
  int n = epoll_wait(l->epfd, evs, 64, wait_ms);
  now = now_ms();
  for (int i = 0; i < n; i++) {
    void *p = evs[i].data.ptr;
    if (p == &lfd_token) {
      if (l->listening) accept_some(l, now);
    } else if (p == &evfd_token) {
      take_woken(l, now);
    } else {
      sconn *c = p;
      if (c->closed) continue;
      if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c, now);
      else settle(c, now); /* EPOLLOUT */
    }
  }
  /* Connections with input left over from the last round. */
  sconn *again = l->again;
  l->again = NULL;
  while (again) {
    sconn *c = again;
    again = c->anext;
    c->in_again = 0;
    on_readable(c, now);
  }
  if (l->next_tick >= 0 && now >= l->next_tick) tick_all(l, now);
  if (!l->stop_seen && stopping(s)) {
    l->stop_seen = 1;
    if (l->listening) {
      epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
      l->listening = 0;
    }
    for (sconn *c = l->conns, *next; c; c = next) {
      next = c->next;
      connectc_h2_conn_shutdown(c->h2, now);
      settle(c, now);
    }
  }
  if (l->stop_seen) {
    if (now >= s->stop_deadline) {
      while (l->conns) conn_close(l->conns); /* cancels what is left */
    }
    return l->conns == NULL;
  }
  return 0;
}

static void *loop_main(void *arg) {
  loop *l = arg;
  while (!loop_once(l, -1)) {
  }
  return NULL;
}

/* ---- TLS setup ---- */

static SSL_CTX *tls_ctx(connectc_h2_server *s, const char *cert, const char *key, const char *ca) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return NULL;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  int ok = 0;
  BIO *b = BIO_new_mem_buf(cert, -1);
  X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  if (x && SSL_CTX_use_certificate(ctx, x) == 1) {
    ok = 1;
    X509 *extra;
    while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
      if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) { /* takes ownership on success */
        X509_free(extra);
        ok = 0;
        break;
      }
    }
  }
  X509_free(x);
  BIO_free(b);
  ERR_clear_error();
  if (ok) {
    ok = 0;
    b = BIO_new_mem_buf(key, -1);
    EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    if (pk && SSL_CTX_use_PrivateKey(ctx, pk) == 1 && SSL_CTX_check_private_key(ctx) == 1) ok = 1;
    EVP_PKEY_free(pk);
    BIO_free(b);
  }
  if (ok && ca) {
    b = BIO_new_mem_buf(ca, -1);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int n = 0;
    X509 *c;
    while (b && (c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
      if (X509_STORE_add_cert(store, c) == 1 && SSL_CTX_add_client_CA(ctx, c) == 1) n++;
      X509_free(c);
    }
    BIO_free(b);
    if (n == 0) ok = 0;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  }
  ERR_clear_error();
  if (!ok) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, s);
  return ctx;
}

/* ---- public ---- */

static void server_free(connectc_h2_server *s) {
  for (unsigned i = 0; s->loops && i < s->n_loops; i++) {
    loop *l = &s->loops[i];
    bury(l);
    if (l->epfd >= 0) close(l->epfd);
    if (l->evfd >= 0) close(l->evfd);
    pthread_mutex_destroy(&l->mu);
  }
  free(s->loops);
  if (s->lfd >= 0) close(s->lfd);
  if (s->ssl) SSL_CTX_free(s->ssl);
  free(s->cert);
  free(s->key);
  free(s->ca);
  pthread_cond_destroy(&s->idle);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

static char *dup_or_null(const char *p, int *oom) {
  if (!p) return NULL;
  char *d = strdup(p);
  if (!d) *oom = 1;
  return d;
}

static int listen_on(connectc_h2_server *s) {
  const char *addr = s->cfg.bind_address ? s->cfg.bind_address : "127.0.0.1";
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(s->cfg.port);
    sl = sizeof *a4;
  } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(s->cfg.port);
    sl = sizeof *a6;
  } else {
    return CONNECTC_ERR_ARGUMENT;
  }
  s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->lfd < 0) return CONNECTC_ERR_UNSUPPORTED;
  int one = 1;
  setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s->lfd, (struct sockaddr *)&ss, sl) != 0 || listen(s->lfd, SOMAXCONN) != 0)
    return CONNECTC_ERR_UNSUPPORTED;
  struct sockaddr_storage bound;
  socklen_t bl = sizeof bound;
  getsockname(s->lfd, (struct sockaddr *)&bound, &bl);
  s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                             : ((struct sockaddr_in6 *)&bound)->sin6_port);
  return CONNECTC_OK;
}

int connectc_h2_start(const connectc_h2_config *cfg, connectc_router *router,
                      connectc_h2_server **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  if (!router) return CONNECTC_ERR_ARGUMENT;
  connectc_h2_server *s = calloc(1, sizeof *s);
  if (!s) return CONNECTC_ERR_NOMEM;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->idle, NULL);
  s->lfd = -1;
  if (cfg) s->cfg = *cfg;
  s->router = router;
  if ((s->cfg.tls_cert_pem == NULL) != (s->cfg.tls_key_pem == NULL)) {
    server_free(s);
    return CONNECTC_ERR_ARGUMENT;
  }
  int oom = 0;
  s->cert = dup_or_null(s->cfg.tls_cert_pem, &oom);
  s->key = dup_or_null(s->cfg.tls_key_pem, &oom);
  s->ca = dup_or_null(s->cfg.tls_client_ca_pem, &oom);
  s->cfg.tls_cert_pem = s->cert;
  s->cfg.tls_key_pem = s->key;
  s->cfg.tls_client_ca_pem = s->ca;
  s->cfg.bind_address = NULL; /* not kept past start */
  if (oom) {
    server_free(s);
    return CONNECTC_ERR_NOMEM;
  }
  if (s->cert && !(s->ssl = tls_ctx(s, s->cert, s->key, s->ca))) {
    server_free(s);
    return CONNECTC_ERR_UNSUPPORTED;
  }
  connectc_h2_config tmp = s->cfg;
  tmp.bind_address = cfg ? cfg->bind_address : NULL;
  s->cfg.bind_address = tmp.bind_address;
  int rv = listen_on(s);
  s->cfg.bind_address = NULL;
  if (rv != CONNECTC_OK) {
    server_free(s);
    return rv;
  }
  unsigned n = 1;
  if (!s->cfg.external_loop) {
    n = s->cfg.threads;
    if (!n) n = cc_usable_cpus(8);
  }
  s->loops = calloc(n, sizeof *s->loops);
  if (!s->loops) {
    server_free(s);
    return CONNECTC_ERR_NOMEM;
  }
  s->n_loops = n;
  for (unsigned i = 0; i < n; i++) {
    loop *l = &s->loops[i];
    l->s = s;
    l->next_tick = -1;
    pthread_mutex_init(&l->mu, NULL);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = (void *)&lfd_token;
    int ok = l->epfd >= 0 && l->evfd >= 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->lfd, &ev) == 0;
    ev.events = EPOLLIN;
    ev.data.ptr = (void *)&evfd_token;
    ok = ok && epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) == 0;
    l->listening = ok;
    if (!ok) {
      s->n_loops = i + 1;
      connectc_h2_stop(s);
      return CONNECTC_ERR_UNSUPPORTED;
    }
  }
  if (!s->cfg.external_loop) {
    for (unsigned i = 0; i < n; i++) {
      if (pthread_create(&s->loops[i].th, NULL, loop_main, &s->loops[i]) != 0) {
        connectc_h2_stop(s);
        return CONNECTC_ERR_UNSUPPORTED;
      }
      s->loops[i].started = 1;
    }
  }
  *out = s;
  return CONNECTC_OK;
}

uint16_t connectc_h2_port(const connectc_h2_server *s) { return s ? s->port : 0; }

int connectc_h2_fd(const connectc_h2_server *s) {
  return s && s->cfg.external_loop ? s->loops[0].epfd : -1;
}

int connectc_h2_timeout_ms(connectc_h2_server *s) {
  if (!s || !s->cfg.external_loop) return -1;
  loop *l = &s->loops[0];
  if (l->again) return 0;
  if (l->next_tick < 0) return -1;
  int64_t d = l->next_tick - now_ms();
  return d < 0 ? 0 : (int)(d > 60000 ? 60000 : d);
}

int connectc_h2_dispatch(connectc_h2_server *s) {
  if (!s || !s->cfg.external_loop) return CONNECTC_ERR_STATE;
  (void)loop_once(&s->loops[0], 0);
  return CONNECTC_OK;
}

void connectc_h2_stop(connectc_h2_server *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  s->stop_deadline = now_ms() + (s->cfg.shutdown_grace_ms ? s->cfg.shutdown_grace_ms : 5000);
  pthread_mutex_unlock(&s->mu);
  for (unsigned i = 0; i < s->n_loops; i++) {
    uint64_t one = 1;
    if (s->loops[i].evfd >= 0) {
      ssize_t w = write(s->loops[i].evfd, &one, sizeof one);
      (void)w;
    }
  }
  if (s->cfg.external_loop) {
    if (s->loops && s->loops[0].epfd >= 0)
      while (!loop_once(&s->loops[0], 50)) {
      }
  } else {
    for (unsigned i = 0; i < s->n_loops; i++)
      if (s->loops[i].started) pthread_join(s->loops[i].th, NULL);
  }
  /* Asynchronous handlers may still hold calls of closed connections;
   * nothing may use the router once this returns. */
  pthread_mutex_lock(&s->mu);
  while (s->n_objs > 0) pthread_cond_wait(&s->idle, &s->mu);
  pthread_mutex_unlock(&s->mu);
  server_free(s);
}
