/* h2srv: a test-only HTTP/2 server on libnghttp2 (see h2srv.h). */
#define _POSIX_C_SOURCE 200809L

#include "h2srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn conn;

struct h2srv_stream {
  conn *c;
  int32_t id;
  char **names, **values;
  size_t n_headers;
  uint8_t *out;
  size_t out_len, out_off;
  int eof;
  char **trailers; /* name, value, ..., NULL (owned) */
  void *user;
  int reset_after_end;
  int reset_due; /* END_STREAM went out: reset after a pause */
  h2srv_stream *prev, *next;
};

struct conn {
  h2srv *srv;
  int fd;
  int index;
  SSL *ssl;
  nghttp2_session *sess;
  h2srv_stream *streams;
  int open_streams;
  pthread_t thread;
  conn *next;
};

struct h2srv {
  h2srv_handler h;
  void *ud;
  int lfd;
  int port;
  SSL_CTX *ssl_ctx;
  pthread_t accept_thread;
  pthread_mutex_t mu;
  conn *conns;
  int n_conns;
  int max_open;
  uint64_t body_bytes; /* response DATA bytes handed to nghttp2 */
  int stopping;
  char alpn[32];
  char cn[256];
};

/* ---- streams ---- */

static char *dupn(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  memcpy(s, p, n);
  s[n] = 0;
  return s;
}

static char **dup_list(const char *const *l) {
  size_t n = 0;
  while (l && l[n]) n++;
  char **d = calloc(n + 1, sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = strdup(l[i]);
  return d;
}

static void free_list(char **l) {
  for (size_t i = 0; l && l[i]; i++) free(l[i]);
  free(l);
}

static void stream_free(h2srv_stream *s) {
  conn *c = s->c;
  if (s->prev) s->prev->next = s->next;
  else c->streams = s->next;
  if (s->next) s->next->prev = s->prev;
  for (size_t i = 0; i < s->n_headers; i++) {
    free(s->names[i]);
    free(s->values[i]);
  }
  free(s->names);
  free(s->values);
  free(s->out);
  free_list(s->trailers);
  free(s);
}

static nghttp2_nv *to_nva(const char *const *l, size_t *n) {
  size_t k = 0;
  while (l && l[2 * k]) k++;
  nghttp2_nv *nva = calloc(k + 1, sizeof *nva);
  for (size_t i = 0; i < k; i++) {
    nva[i].name = (uint8_t *)l[2 * i];
    nva[i].namelen = strlen(l[2 * i]);
    nva[i].value = (uint8_t *)l[2 * i + 1];
    nva[i].valuelen = strlen(l[2 * i + 1]);
    nva[i].flags = NGHTTP2_NV_FLAG_NONE;
  }
  *n = k;
  return nva;
}

static ssize_t read_body(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *ud) {
  (void)ud;
  h2srv_stream *s = source->ptr;
  size_t avail = s->out_len - s->out_off;
  if (avail == 0 && !s->eof) return NGHTTP2_ERR_DEFERRED;
  size_t n = avail < length ? avail : length;
  if (n) memcpy(buf, s->out + s->out_off, n);
  s->out_off += n;
  pthread_mutex_lock(&s->c->srv->mu);
  s->c->srv->body_bytes += n;
  pthread_mutex_unlock(&s->c->srv->mu);
  if (s->out_off == s->out_len && s->eof) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (s->trailers) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      size_t nt;
      nghttp2_nv *nva = to_nva((const char *const *)s->trailers, &nt);
      nghttp2_submit_trailer(sess, id, nva, nt);
      free(nva);
    }
  }
  return (ssize_t)n;
}

const char *h2srv_header(const h2srv_stream *s, const char *name, int *count) {
  const char *v = NULL;
  int k = 0;
  for (size_t i = 0; i < s->n_headers; i++)
    if (strcmp(s->names[i], name) == 0) {
      if (!v) v = s->values[i];
      k++;
    }
  if (count) *count = k;
  return v;
}

size_t h2srv_header_count(const h2srv_stream *s) { return s->n_headers; }

void h2srv_header_at(const h2srv_stream *s, size_t i, const char **name, const char **value) {
  *name = s->names[i];
  *value = s->values[i];
}

int h2srv_conn_index(const h2srv_stream *s) { return s->c->index; }
int32_t h2srv_stream_id(const h2srv_stream *s) { return s->id; }
void **h2srv_user(h2srv_stream *s) { return &s->user; }

void h2srv_respond(h2srv_stream *s, int status, const char *const *headers, int end_stream) {
  char st[8];
  snprintf(st, sizeof st, "%d", status);
  size_t n = 0;
  while (headers && headers[2 * n]) n++;
  const char **all = calloc(2 * n + 3, sizeof *all);
  all[0] = ":status";
  all[1] = st;
  for (size_t i = 0; i < 2 * n; i++) all[2 + i] = headers[i];
  size_t nn;
  nghttp2_nv *nva = to_nva(all, &nn);
  nghttp2_data_provider prd = {.source = {.ptr = s}, .read_callback = read_body};
  nghttp2_submit_response(s->c->sess, s->id, nva, nn, end_stream ? NULL : &prd);
  free(nva);
  free(all);
}

void h2srv_write(h2srv_stream *s, const void *data, size_t len) {
  s->out = realloc(s->out, s->out_len + len + 1);
  memcpy(s->out + s->out_len, data, len);
  s->out_len += len;
  nghttp2_session_resume_data(s->c->sess, s->id);
}

void h2srv_finish(h2srv_stream *s, const char *const *trailers) {
  s->eof = 1;
  if (trailers) s->trailers = dup_list(trailers);
  nghttp2_session_resume_data(s->c->sess, s->id);
}

void h2srv_reset_after_end(h2srv_stream *s) { s->reset_after_end = 1; }

void h2srv_reset(h2srv_stream *s, uint32_t code) {
  nghttp2_submit_rst_stream(s->c->sess, NGHTTP2_FLAG_NONE, s->id, code);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *sess, const nghttp2_frame *f, void *ud) {
  conn *c = ud;
  if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  h2srv_stream *s = calloc(1, sizeof *s);
  s->c = c;
  s->id = f->hd.stream_id;
  s->next = c->streams;
  if (c->streams) c->streams->prev = s;
  c->streams = s;
  nghttp2_session_set_stream_user_data(sess, s->id, s);
  c->open_streams++;
  pthread_mutex_lock(&c->srv->mu);
  if (c->open_streams > c->srv->max_open) c->srv->max_open = c->open_streams;
  pthread_mutex_unlock(&c->srv->mu);
  return 0;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  (void)flags;
  (void)ud;
  h2srv_stream *s = nghttp2_session_get_stream_user_data(sess, f->hd.stream_id);
  if (!s || f->hd.type != NGHTTP2_HEADERS) return 0;
  s->names = realloc(s->names, (s->n_headers + 1) * sizeof *s->names);
  s->values = realloc(s->values, (s->n_headers + 1) * sizeof *s->values);
  s->names[s->n_headers] = dupn(name, namelen);
  s->values[s->n_headers] = dupn(value, valuelen);
  s->n_headers++;
  return 0;
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *f, void *ud) {
  conn *c = ud;
  h2srv_stream *s = nghttp2_session_get_stream_user_data(sess, f->hd.stream_id);
  if (!s) return 0;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST &&
      c->srv->h.on_request)
    c->srv->h.on_request(s, c->srv->ud);
  if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && c->srv->h.on_end)
    c->srv->h.on_end(s, c->srv->ud);
  return 0;
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud) {
  (void)flags;
  conn *c = ud;
  h2srv_stream *s = nghttp2_session_get_stream_user_data(sess, id);
  if (s && c->srv->h.on_data) c->srv->h.on_data(s, data, len, c->srv->ud);
  return 0;
}

static int on_frame_send(nghttp2_session *sess, const nghttp2_frame *f, void *ud) {
  (void)ud;
  if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
  h2srv_stream *s = nghttp2_session_get_stream_user_data(sess, f->hd.stream_id);
  if (s && s->reset_after_end) s->reset_due = 1;
  return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t id, uint32_t code, void *ud) {
  conn *c = ud;
  h2srv_stream *s = nghttp2_session_get_stream_user_data(sess, id);
  if (!s) return 0;
  if (c->srv->h.on_close) c->srv->h.on_close(s, code, c->srv->ud);
  c->open_streams--;
  stream_free(s);
  return 0;
}

/* ---- connections ---- */

static ssize_t conn_read(conn *c, uint8_t *buf, size_t cap) {
  if (c->ssl) {
    int n = SSL_read(c->ssl, buf, (int)cap);
    return n > 0 ? n : -1;
  }
  for (;;) {
    ssize_t n = recv(c->fd, buf, cap, 0);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

static int conn_write(conn *c, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w;
    if (c->ssl) {
      int k = SSL_write(c->ssl, p, (int)n);
      w = k > 0 ? k : -1;
    } else {
      w = send(c->fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
    }
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int flush(conn *c) {
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(c->sess, &data);
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (conn_write(c, data, (size_t)n)) return -1;
  }
}

static int tls_handshake(conn *c) {
  h2srv *srv = c->srv;
  c->ssl = SSL_new(srv->ssl_ctx);
  SSL_set_fd(c->ssl, c->fd);
  int ok = SSL_accept(c->ssl) == 1;
  const unsigned char *alpn = NULL;
  unsigned alen = 0;
  char cn[256] = "";
  if (ok) {
    SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (peer) {
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
      X509_free(peer);
    }
  }
  pthread_mutex_lock(&srv->mu);
  snprintf(srv->alpn, sizeof srv->alpn, "%.*s", (int)alen, alpn ? (const char *)alpn : "");
  snprintf(srv->cn, sizeof srv->cn, "%s", cn);
  pthread_mutex_unlock(&srv->mu);
  return ok && alen == 2 && memcmp(alpn, "h2", 2) == 0 ? 0 : -1;
}

static void *conn_main(void *arg) {
  conn *c = arg;
  if (c->srv->ssl_ctx && tls_handshake(c)) goto out;
  nghttp2_session_callbacks *cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_option *opt;
  nghttp2_option_new(&opt);
  /* Tests send oversized header blocks on purpose (default limit 64 KiB). */
  nghttp2_option_set_max_send_header_block_length(opt, 4u << 20);
  nghttp2_session_server_new2(&c->sess, cbs, c, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 256}};
  nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 1);
  uint8_t buf[16384];
  for (;;) {
    if (flush(c)) break;
    /* Resets asked for by h2srv_reset_after_end go out 50 ms after the
     * response, in a write of their own. */
    int due = 0;
    for (h2srv_stream *s = c->streams; s; s = s->next) due |= s->reset_due;
    if (due) {
      struct timespec ts = {0, 50 * 1000 * 1000};
      nanosleep(&ts, NULL);
      for (h2srv_stream *s = c->streams; s; s = s->next)
        if (s->reset_due) {
          s->reset_due = 0;
          nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
        }
      continue;
    }
    if (!nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess)) break;
    ssize_t n = conn_read(c, buf, sizeof buf);
    if (n <= 0) break;
    if (nghttp2_session_mem_recv(c->sess, buf, (size_t)n) < 0) break;
  }
  nghttp2_session_del(c->sess); /* fires no stream-close callbacks */
  while (c->streams) stream_free(c->streams);
out:
  if (c->ssl) {
    SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  shutdown(c->fd, SHUT_RDWR);
  return NULL;
}

static void *accept_main(void *arg) {
  h2srv *srv = arg;
  for (;;) {
    int fd = accept(srv->lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_mutex_lock(&srv->mu);
    if (srv->stopping) {
      pthread_mutex_unlock(&srv->mu);
      close(fd);
      break;
    }
    conn *c = calloc(1, sizeof *c);
    c->srv = srv;
    c->fd = fd;
    c->index = srv->n_conns++;
    c->next = srv->conns;
    srv->conns = c;
    pthread_create(&c->thread, NULL, conn_main, c);
    pthread_mutex_unlock(&srv->mu);
  }
  return NULL;
}

static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned inlen, void *arg) {
  (void)ssl;
  (void)arg;
  for (unsigned i = 0; i < inlen; i += 1u + in[i])
    if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
  return SSL_TLSEXT_ERR_NOACK; /* no ALPN: the handshake succeeds, the conn is dropped */
}

h2srv *h2srv_start(const h2srv_handler *h, void *ud, const h2srv_tls *tls) {
  /* OpenSSL writes with write(2): a peer that hung up must not kill the
   * test with SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  h2srv *srv = calloc(1, sizeof *srv);
  srv->h = *h;
  srv->ud = ud;
  pthread_mutex_init(&srv->mu, NULL);
  if (tls) {
    srv->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(srv->ssl_ctx, tls->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(srv->ssl_ctx, tls->key_file, SSL_FILETYPE_PEM) != 1) {
      fprintf(stderr, "h2srv: cannot load %s / %s\n", tls->cert_file, tls->key_file);
      SSL_CTX_free(srv->ssl_ctx);
      free(srv);
      return NULL;
    }
    SSL_CTX_set_alpn_select_cb(srv->ssl_ctx, select_h2, NULL);
    if (tls->client_ca_file) {
      SSL_CTX_load_verify_locations(srv->ssl_ctx, tls->client_ca_file, NULL);
      SSL_CTX_set_client_CA_list(srv->ssl_ctx, SSL_load_client_CA_file(tls->client_ca_file));
      SSL_CTX_set_verify(srv->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
  }
  srv->lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(srv->lfd, (struct sockaddr *)&a, sizeof a) || listen(srv->lfd, 64) ||
      getsockname(srv->lfd, (struct sockaddr *)&a, &al)) {
    close(srv->lfd);
    if (srv->ssl_ctx) SSL_CTX_free(srv->ssl_ctx);
    free(srv);
    return NULL;
  }
  srv->port = ntohs(a.sin_port);
  pthread_create(&srv->accept_thread, NULL, accept_main, srv);
  return srv;
}

void h2srv_stop(h2srv *srv) {
  if (!srv) return;
  pthread_mutex_lock(&srv->mu);
  srv->stopping = 1;
  for (conn *c = srv->conns; c; c = c->next) shutdown(c->fd, SHUT_RDWR);
  pthread_mutex_unlock(&srv->mu);
  shutdown(srv->lfd, SHUT_RDWR); /* ends accept() */
  pthread_join(srv->accept_thread, NULL);
  close(srv->lfd);
  while (srv->conns) {
    conn *c = srv->conns;
    srv->conns = c->next;
    pthread_join(c->thread, NULL);
    close(c->fd);
    free(c);
  }
  if (srv->ssl_ctx) SSL_CTX_free(srv->ssl_ctx);
  pthread_mutex_destroy(&srv->mu);
  free(srv);
}

int h2srv_port(const h2srv *srv) { return srv->port; }

int h2srv_connections(h2srv *srv) {
  pthread_mutex_lock(&srv->mu);
  int n = srv->n_conns;
  pthread_mutex_unlock(&srv->mu);
  return n;
}

uint64_t h2srv_body_bytes(h2srv *srv) {
  pthread_mutex_lock(&srv->mu);
  uint64_t n = srv->body_bytes;
  pthread_mutex_unlock(&srv->mu);
  return n;
}

int h2srv_max_open_streams(h2srv *srv) {
  pthread_mutex_lock(&srv->mu);
  int n = srv->max_open;
  pthread_mutex_unlock(&srv->mu);
  return n;
}

void h2srv_last_tls(h2srv *srv, char *alpn, size_t alpn_cap, char *cn, size_t cn_cap) {
  pthread_mutex_lock(&srv->mu);
  snprintf(alpn, alpn_cap, "%s", srv->alpn);
  snprintf(cn, cn_cap, "%s", srv->cn);
  pthread_mutex_unlock(&srv->mu);
}
