/*
 * The libcurl client adapter: moves the bytes of sans-IO client calls
 * over libcurl's multi interface. Everything protocol-related happens in
 * the core; this file only translates between libcurl callbacks and the
 * call's feed/peek functions.
 */
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "connectc/curl.h"

typedef struct xfer xfer;

#define EASY_POOL 64
/* Bodies up to this size, known whole when a call starts, go to libcurl
 * as a copy sent with the request head (libcurl 7.88 sends post data of
 * up to 64 KiB in the same write as the head). */
#define WHOLE_BODY_MAX (64u * 1024u)

struct connectc_curl {
  connectc_allocator alloc;
  CURLM *multi;
  char *base_url;
  struct curl_blob ca, cert, key;
  long connect_timeout_ms;
  connectc_curl_http_version http_version;
  int tls; /* the base URL is https:// */
  /* h2c (HTTP/2, cleartext): see choose_h2c_version(). */
  int h2c;
  int open_sockets;  /* sockets libcurl opened and has not closed yet */
  xfer *connector;   /* the prior-knowledge transfer opening the connection */
  int h2c_suspect;   /* a transfer failed as if the connection were dead */
  connectc_curl_loop loop;
  int have_loop;
  xfer *xfers; /* running transfers, doubly linked */
  /* Finished easy handles, reset for the next call: curl_easy_reset keeps
   * their download and upload buffers (80 KiB), which a new handle would
   * allocate again. */
  CURL *pool[EASY_POOL];
  int n_pool;
  int running;
  int dispatching; /* inside libcurl: handles must not be removed now */
  int rescan;      /* woken while dispatching: reap() looks at every call again */
  /* Owned; lent to the calls of connectc_curl_transport() (the transport
   * is one per thread, so they never use it at the same time). */
  connectc_compress_ctx *cctx;
};

struct xfer {
  connectc_curl *t;
  connectc_client_call *call;
  CURL *easy;
  struct curl_slist *slist;
  char *url;
  connectc_headers resp_headers;
  connectc_headers trailers;
  int status;
  int http2;        /* the status line said HTTP/2 */
  int head_done;    /* the final (non-1xx) header block was delivered */
  int send_paused;
  /* Receive backpressure (see on_write): `held` keeps what a paused call
   * did not take of one write callback's bytes, from `held_off`, and
   * libcurl's receive side is paused while `recv_paused`. */
  uint8_t *held;   /* CURL_MAX_WRITE_SIZE bytes, allocated on first use */
  size_t held_off, held_len;
  int recv_paused;
  int done;           /* libcurl finished the transfer while bytes were held */
  CURLcode done_rc;   /* ... with this result, reported once they are taken */
  int recv_failed;  /* we aborted the transfer from the write callback */
  int add_pending;  /* started inside a libcurl callback: reap() adds it */
  int prior_knowledge; /* h2c: this transfer may open the connection */
  int socket_refused;  /* h2c: it asked for a connection it must not open */
  int restarts;        /* h2c: times it was re-added after socket_refused */
  size_t header_bytes; /* response header and trailer bytes seen */
  char errbuf[CURL_ERROR_SIZE]; /* libcurl's own words for a failure */
  void (*released)(void *arg); /* told when we let go of the call */
  void *released_arg;
  xfer *prev, *next;
};

int64_t connectc_curl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *t_malloc(connectc_curl *t, size_t n) { return t->alloc.malloc(n ? n : 1, t->alloc.user_data); }
static void t_free(connectc_curl *t, void *p) {
  if (p) t->alloc.free(p, t->alloc.user_data);
}
static char *t_strndup(connectc_curl *t, const char *s, size_t n) {
  char *p = t_malloc(t, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* ---- libcurl callbacks ---- */

/* A call that needs HTTP/2 got an HTTP/1.x response (ALPN picked
 * http/1.1): fails it and returns 0, else returns 1. */
static int check_http2(xfer *x) {
  if (x->http2 || !connectc_client_call_requires_http2(x->call)) return 1;
  connectc_client_call_fail(
      x->call, CONNECTC_CODE_UNIMPLEMENTED,
      connectc_client_call_protocol(x->call) == CONNECTC_PROTOCOL_GRPC
          ? "gRPC needs HTTP/2: the server answered over HTTP/1.1 (TLS ALPN did not select h2)"
          : "full-duplex bidi needs HTTP/2: the server answered over HTTP/1.1 (TLS ALPN did not "
            "select h2)");
  return 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
  xfer *x = ud;
  size_t n = size * nitems;
  size_t len = n;
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
  if (connectc_client_call_is_closed(x->call)) return n;
  /* A hostile server cannot make us keep unbounded headers or trailers. */
  x->header_bytes += n;
  if (x->header_bytes > CONNECTC_CURL_MAX_HEADER_BYTES) {
    char msg[192];
    snprintf(msg, sizeof msg,
             "response %s exceed the limit of %u bytes of headers and trailers "
             "(CONNECTC_CURL_MAX_HEADER_BYTES): %zu bytes seen",
             x->head_done ? "trailers" : "headers", (unsigned)CONNECTC_CURL_MAX_HEADER_BYTES,
             x->header_bytes);
    connectc_client_call_fail(x->call, CONNECTC_CODE_RESOURCE_EXHAUSTED, msg);
    return 0; /* abort the transfer */
  }
  if (len == 0) { /* end of a header block */
    if (x->head_done) return n; /* end of trailers */
    if (x->status >= 100 && x->status < 200) { /* 100 Continue and friends */
      connectc_headers_reset(&x->resp_headers);
      x->status = 0;
      return n;
    }
    x->head_done = 1;
    if (x->t->http_version != CONNECTC_CURL_HTTP_1_1 && !check_http2(x)) return 0;
    connectc_client_call_recv_head(x->call, x->status, &x->resp_headers);
    return n;
  }
  if (!x->head_done && len > 5 && memcmp(buf, "HTTP/", 5) == 0) {
    /* "HTTP/1.1 200 OK" or "HTTP/2 200" */
    const char *sp = memchr(buf, ' ', len);
    x->status = sp ? atoi(sp + 1) : 0;
    x->http2 = buf[5] == '2';
    /* An HTTP/2 body ends with END_STREAM, and trailers may follow it;
     * libcurl 7.88 would stop at a Content-Length and lose them. libcurl
     * handles each header line before passing it here, so this takes
     * effect for the Content-Length line of this very block. */
    if (x->http2) curl_easy_setopt(x->easy, CURLOPT_IGNORE_CONTENT_LENGTH, 1L);
    connectc_headers_reset(&x->resp_headers);
    return n;
  }
  const char *colon = memchr(buf, ':', len);
  if (!colon) return n; /* not a header line: ignore */
  size_t nlen = (size_t)(colon - buf);
  const char *v = colon + 1;
  const char *end = buf + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  connectc_headers *dst = x->head_done ? &x->trailers : &x->resp_headers;
  /* Invalid names or values are dropped, as HTTP libraries do. */
  (void)connectc_headers_add(dst, buf, nlen, v, (size_t)(end - v));
  return n;
}

/* The complete pause state of the transfer: curl_easy_pause() sets both
 * directions at once (CURLPAUSE_CONT would also resume the other one). */
static void apply_pause(xfer *x) {
  curl_easy_pause(x->easy, (x->recv_paused ? CURLPAUSE_RECV : 0) |
                               (x->send_paused ? CURLPAUSE_SEND : 0));
}

/*
 * Receive backpressure. A write callback must take all its bytes or return
 * CURL_WRITEFUNC_PAUSE, which makes libcurl keep all of them and deliver
 * them again once unpaused. The call, though, may pause in the middle of
 * them (on_message calls connectc_client_call_pause_recv): what
 * connectc_client_call_recv_body_some() took is gone, and handing those
 * bytes to it a second time would repeat messages. So the rest is copied
 * into the transfer's `held` buffer, the callback says it took everything,
 * and curl_easy_pause() stops libcurl reading (HTTP/1.1: the socket is not
 * read, TCP slows the server; HTTP/2: libcurl stops reading the stream,
 * see the README for what that does to its connection). One callback
 * delivers at most CURL_MAX_WRITE_SIZE bytes (libcurl's documented bound,
 * which it enforces by chopping larger writes), so `held` never needs
 * more. Bytes that come while something is held or while the call is
 * paused (libcurl may finish writing the data it already read, or the
 * application paused between callbacks) are refused with
 * CURL_WRITEFUNC_PAUSE before anything is taken: libcurl keeps those
 * itself, bounded by what it had read, and pauses. reap() offers the held
 * bytes once the call is resumed, then unpauses libcurl.
 */
static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
  xfer *x = ud;
  size_t n = size * nmemb;
  if (connectc_client_call_is_closed(x->call)) {
    x->recv_failed = 1;
    return 0; /* the outcome is known: stop the transfer */
  }
  if (!x->head_done) {
    x->head_done = 1;
    if (x->t->http_version != CONNECTC_CURL_HTTP_1_1 && !check_http2(x)) {
      x->recv_failed = 1;
      return 0;
    }
    connectc_client_call_recv_head(x->call, x->status, &x->resp_headers);
    if (connectc_client_call_is_closed(x->call)) {
      x->recv_failed = 1;
      return 0;
    }
  }
  if (x->held_len || connectc_client_call_recv_paused(x->call)) {
    x->recv_paused = 1; /* libcurl pauses the receive side itself */
    return CURL_WRITEFUNC_PAUSE;
  }
  size_t taken = n;
  if (connectc_client_call_recv_body_some(x->call, (const uint8_t *)ptr, n, &taken) != CONNECTC_OK)
    connectc_client_call_fail(x->call, CONNECTC_CODE_INTERNAL, "out of memory receiving the response");
  /* A response that keeps arriving must not outlive the call's deadline:
   * libcurl may deliver data for a long time without returning. */
  connectc_client_call_tick(x->call, connectc_curl_now_ms());
  if (connectc_client_call_is_closed(x->call)) {
    /* Final. With every byte taken, this was most likely the end of the
     * response (a Connect unary body is complete at its Content-Length,
     * and the call closes as it arrives): libcurl is told so, ends the
     * transfer cleanly and keeps the connection for the next call, where
     * aborting here would close it. Anything arriving after this is
     * refused above; reap() frees the transfer either way. Bytes left over
     * mean the call ended in the middle of the body: abort. */
    if (taken == n) return n;
    x->recv_failed = 1;
    return 0;
  }
  if (taken < n) {
    size_t rest = n - taken;
    if (!x->held) x->held = t_malloc(x->t, CURL_MAX_WRITE_SIZE);
    if (!x->held || rest > CURL_MAX_WRITE_SIZE) {
      /* The second cannot happen (see above); never grow past the bound. */
      connectc_client_call_fail(x->call, !x->held ? CONNECTC_CODE_RESOURCE_EXHAUSTED
                                                  : CONNECTC_CODE_INTERNAL,
                                !x->held ? "out of memory holding the response of a paused call"
                                         : "libcurl delivered more than CURL_MAX_WRITE_SIZE bytes "
                                           "at once to a paused call");
      x->recv_failed = 1;
      return 0;
    }
    memcpy(x->held, ptr + taken, rest);
    x->held_off = 0;
    x->held_len = rest;
  }
  if (connectc_client_call_recv_paused(x->call) && !x->recv_paused) {
    x->recv_paused = 1;
    apply_pause(x);
  }
  return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud) {
  xfer *x = ud;
  size_t cap = size * nitems;
  if (connectc_client_call_is_closed(x->call)) return CURL_READFUNC_ABORT;
  const uint8_t *data;
  size_t len;
  int done;
  connectc_client_call_body_peek(x->call, &data, &len, &done);
  if (len == 0) {
    if (done) return 0;
    x->send_paused = 1;
    return CURL_READFUNC_PAUSE;
  }
  size_t n = len < cap ? len : cap;
  memcpy(buf, data, n);
  connectc_client_call_body_consume(x->call, n);
  return n;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *socketp) {
  (void)easy;
  (void)socketp;
  connectc_curl *t = ud;
  int w = 0;
  if (what == CURL_POLL_REMOVE) w = CONNECTC_CURL_WATCH_REMOVE;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) w |= CONNECTC_CURL_WATCH_IN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) w |= CONNECTC_CURL_WATCH_OUT;
  t->loop.watch_socket(t->loop.user_data, (int)fd, w);
  return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *ud) {
  (void)multi;
  connectc_curl *t = ud;
  t->loop.set_timer(t->loop.user_data, timeout_ms);
  return 0;
}

/*
 * h2c and libcurl 7.88 (curl issue #10634, fixed in 8.0.0): a transfer that
 * asks for CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE and is given an existing
 * h2c connection stacks a second HTTP/2 layer on it and fails with "Error
 * in the HTTP2 framing layer", so an h2c connection could carry one call
 * only. The transport therefore keeps one h2c connection (at most one per
 * host: CURLMOPT_MAX_HOST_CONNECTIONS 1, calls past the server's stream
 * limit wait for a stream) and gives prior knowledge only to the transfer
 * that opens it (the "connector", chosen when no connection exists or is
 * being opened). Every other transfer asks for CURL_HTTP_VERSION_2TLS,
 * which multiplexes onto the h2c connection and on cleartext never
 * switches protocols or sends an Upgrade. Should such a transfer need a new
 * connection after all (the old one closed while it waited), the socket
 * callback refuses to open it and reap() re-adds the transfer, choosing
 * again: nothing of it was sent. The same code is right for every libcurl
 * version, so it is not made conditional.
 *
 * libcurl 7.88 also keeps an h2c connection whose HTTP/2 session failed
 * (for instance on a header block over its 128 KiB) and hands it to the
 * next transfer, which then fails. After such a failure the next call is
 * a connector with CURLOPT_FRESH_CONNECT: with one connection allowed,
 * libcurl closes the idle dead one to open the new one.
 */
static void choose_h2c_version(xfer *x) {
  connectc_curl *t = x->t;
  x->prior_knowledge = !t->connector && (t->open_sockets == 0 || t->h2c_suspect);
  curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, (long)(x->prior_knowledge && t->open_sockets));
  if (x->prior_knowledge) {
    t->connector = x;
    t->h2c_suspect = 0;
  }
  curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION,
                   (long)(x->prior_knowledge ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                             : CURL_HTTP_VERSION_2TLS));
}

static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
  (void)purpose;
  xfer *x = ud; /* only called while its transfer connects: alive */
  connectc_curl *t = x->t;
  if (!x->prior_knowledge) {
    x->socket_refused = 1;
    return CURL_SOCKET_BAD;
  }
  curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
  if (fd != CURL_SOCKET_BAD) t->open_sockets++;
  if (t->connector == x) t->connector = NULL; /* the connection exists now */
  return fd;
}

/* Connections outlive the transfer that opened them: the data is the
 * transport, which outlives them all (curl_multi_cleanup closes them). */
static int on_close_socket(void *ud, curl_socket_t fd) {
  connectc_curl *t = ud;
  t->open_sockets--;
  return close(fd);
}

/* ---- transport ---- */

static int blob_copy(connectc_curl *t, struct curl_blob *b, const char *data, size_t len) {
  b->data = NULL;
  b->len = 0;
  b->flags = CURL_BLOB_COPY;
  if (!data || !len) return CONNECTC_OK;
  b->data = t_malloc(t, len);
  if (!b->data) return CONNECTC_ERR_NOMEM;
  memcpy(b->data, data, len);
  b->len = len;
  return CONNECTC_OK;
}

int connectc_curl_new(const connectc_curl_config *cfg, const connectc_allocator *alloc,
                      connectc_curl **out) {
  if (!cfg || !cfg->base_url || !out) return CONNECTC_ERR_ARGUMENT;
  if (cfg->loop && (!cfg->loop->watch_socket || !cfg->loop->set_timer))
    return CONNECTC_ERR_ARGUMENT;
  const connectc_allocator *a = alloc ? alloc : connectc_default_allocator();
  connectc_curl *t = a->malloc(sizeof *t, a->user_data);
  if (!t) return CONNECTC_ERR_NOMEM;
  memset(t, 0, sizeof *t);
  t->alloc = *a;
  size_t blen = strlen(cfg->base_url);
  while (blen && cfg->base_url[blen - 1] == '/') blen--;
  t->base_url = t_strndup(t, cfg->base_url, blen);
  int rv = t->base_url ? CONNECTC_OK : CONNECTC_ERR_NOMEM;
  if (rv == CONNECTC_OK) rv = blob_copy(t, &t->ca, cfg->ca_pem, cfg->ca_pem_len);
  if (rv == CONNECTC_OK) rv = blob_copy(t, &t->cert, cfg->client_cert_pem, cfg->client_cert_pem_len);
  if (rv == CONNECTC_OK) rv = blob_copy(t, &t->key, cfg->client_key_pem, cfg->client_key_pem_len);
  t->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
  t->http_version = cfg->http_version;
  t->tls = blen >= 8 && strncasecmp(cfg->base_url, "https://", 8) == 0;
  t->h2c = cfg->http_version == CONNECTC_CURL_HTTP_2 && !t->tls;
  if (rv == CONNECTC_OK && (unsigned)cfg->http_version > (unsigned)CONNECTC_CURL_HTTP_2)
    rv = CONNECTC_ERR_ARGUMENT;
  if (rv == CONNECTC_OK && cfg->http_version == CONNECTC_CURL_HTTP_2 &&
      !(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2))
    rv = CONNECTC_ERR_UNSUPPORTED;
  if (rv == CONNECTC_OK) rv = connectc_compress_ctx_new(&t->alloc, &t->cctx);
  if (rv == CONNECTC_OK) {
    t->multi = curl_multi_init();
    if (!t->multi) rv = CONNECTC_ERR_UNSUPPORTED;
  }
  /* HTTP/2: concurrent calls are streams of one connection (libcurl's
   * default since 7.62, stated here because the design relies on it). */
  if (rv == CONNECTC_OK) curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  if (rv == CONNECTC_OK && t->h2c) curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
  if (rv == CONNECTC_OK && cfg->loop) {
    t->loop = *cfg->loop;
    t->have_loop = 1;
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
  }
  if (rv != CONNECTC_OK) {
    connectc_curl_del(t);
    return rv;
  }
  *out = t;
  return CONNECTC_OK;
}

static void xfer_free(xfer *x) {
  connectc_curl *t = x->t;
  if (t->connector == x) t->connector = NULL;
  if (x->prev) x->prev->next = x->next;
  else t->xfers = x->next;
  if (x->next) x->next->prev = x->prev;
  if (x->easy) {
    curl_multi_remove_handle(t->multi, x->easy);
    /* A handle removed while paused keeps its pause state, which
     * curl_easy_reset() is not documented to clear: it is not reused. */
    if (t->n_pool < EASY_POOL && !x->recv_paused) {
      curl_easy_reset(x->easy);
      t->pool[t->n_pool++] = x->easy;
    } else {
      curl_easy_cleanup(x->easy);
    }
  }
  curl_slist_free_all(x->slist);
  t_free(t, x->held);
  t_free(t, x->url);
  connectc_headers_reset(&x->resp_headers);
  connectc_headers_reset(&x->trailers);
  void (*released)(void *) = x->released;
  void *arg = x->released_arg;
  t_free(t, x);
  t->running--;
  if (released) released(arg);
}

void connectc_curl_del(connectc_curl *t) {
  if (!t) return;
  while (t->xfers) {
    xfer *x = t->xfers;
    t->dispatching = 1; /* on_close may wake: nothing is freed under us */
    connectc_client_call_cancel(x->call);
    t->dispatching = 0;
    xfer_free(x);
  }
  while (t->n_pool) curl_easy_cleanup(t->pool[--t->n_pool]);
  if (t->multi) curl_multi_cleanup(t->multi);
  t_free(t, t->base_url);
  t_free(t, t->ca.data);
  t_free(t, t->cert.data);
  t_free(t, t->key.data);
  /* Every call was canceled above: a closed call no longer uses it. */
  connectc_compress_ctx_del(t->cctx);
  t->alloc.free(t, t->alloc.user_data);
}

static xfer *find_xfer(connectc_curl *t, connectc_client_call *call) {
  for (xfer *x = t->xfers; x; x = x->next)
    if (x->call == call) return x;
  return NULL;
}

static int add_header_line(xfer *x, const char *name, const char *value) {
  size_t nl = strlen(name), vl = strlen(value);
  char *line = t_malloc(x->t, nl + vl + 3);
  if (!line) return CONNECTC_ERR_NOMEM;
  memcpy(line, name, nl);
  line[nl] = ':';
  line[nl + 1] = ' ';
  memcpy(line + nl + 2, value, vl + 1);
  if (vl == 0) line[nl + 1] = 0; /* "Name:" removes a libcurl default header */
  struct curl_slist *s = curl_slist_append(x->slist, line);
  t_free(x->t, line);
  if (!s) return CONNECTC_ERR_NOMEM;
  x->slist = s;
  return CONNECTC_OK;
}

int connectc_curl_start(connectc_curl *t, connectc_client_call *call) {
  return connectc_curl_start_with_release(t, call, NULL, NULL);
}

int connectc_curl_start_with_release(connectc_curl *t, connectc_client_call *call,
                                     void (*released)(void *arg), void *arg) {
  if (!t || !call) return CONNECTC_ERR_ARGUMENT;
  if (connectc_client_call_is_closed(call) || find_xfer(t, call)) return CONNECTC_ERR_STATE;
  if (t->http_version == CONNECTC_CURL_HTTP_1_1 && connectc_client_call_requires_http2(call)) {
    /* Refused before anything is sent, with the reason. */
    connectc_client_call_fail(
        call, CONNECTC_CODE_UNIMPLEMENTED,
        connectc_client_call_protocol(call) == CONNECTC_PROTOCOL_GRPC
            ? "gRPC needs HTTP/2: this transport is configured for HTTP/1.1"
            : "full-duplex bidi needs HTTP/2: this transport is configured for HTTP/1.1 (over "
              "HTTP/1.1 a bidi call is half duplex)");
    return CONNECTC_ERR_UNSUPPORTED;
  }
  connectc_request_head head;
  int rv = connectc_client_call_request_head(call, &head);
  if (rv) return rv;
  xfer *x = t_malloc(t, sizeof *x);
  if (!x) return CONNECTC_ERR_NOMEM;
  memset(x, 0, sizeof *x);
  x->t = t;
  x->call = call;
  connectc_headers_init(&x->resp_headers, &t->alloc);
  connectc_headers_init(&x->trailers, &t->alloc);
  x->next = t->xfers;
  if (t->xfers) t->xfers->prev = x;
  t->xfers = x;
  t->running++;

  size_t bl = strlen(t->base_url), pl = strlen(head.path);
  x->url = t_malloc(t, bl + pl + 1);
  x->easy = t->n_pool ? t->pool[--t->n_pool] : curl_easy_init();
  if (!x->url || !x->easy) {
    xfer_free(x);
    return CONNECTC_ERR_NOMEM;
  }
  memcpy(x->url, t->base_url, bl);
  memcpy(x->url + bl, head.path, pl + 1);

  for (size_t i = 0; rv == CONNECTC_OK && i < head.headers->len; i++)
    rv = add_header_line(x, head.headers->items[i].name, head.headers->items[i].value);
  if (rv == CONNECTC_OK) rv = add_header_line(x, "Expect", ""); /* no 100-continue wait */
  if (rv == CONNECTC_OK) rv = add_header_line(x, "Accept", "");
  /* HTTP/2 has no chunked encoding (DATA frames end with END_STREAM); a
   * TLS connection that fell back to HTTP/1.1 gets it from libcurl. */
  if (rv == CONNECTC_OK && head.content_length < 0 && t->http_version == CONNECTC_CURL_HTTP_1_1)
    rv = add_header_line(x, "Transfer-Encoding", "chunked");
  if (rv) {
    xfer_free(x);
    return rv;
  }
  CURL *e = x->easy;
  curl_easy_setopt(e, CURLOPT_URL, x->url);
  if (t->http_version == CONNECTC_CURL_HTTP_2) {
    /* TLS: ALPN offers h2 (and http/1.1); cleartext: h2c with prior
     * knowledge, never an HTTP/1.1 Upgrade. */
    if (t->h2c) {
      curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
      curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
      curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
      curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, t);
      choose_h2c_version(x);
    } else {
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    }
    /* Calls started together wait for the connection being set up and
     * share it, instead of each opening one. */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  }
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->slist);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "connectc/" CONNECTC_VERSION_STRING);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  if (strcmp(head.method, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    const uint8_t *body;
    size_t body_len;
    int body_done;
    connectc_client_call_body_peek(call, &body, &body_len, &body_done);
    if (body_done && head.content_length >= 0 && (uint64_t)head.content_length == body_len &&
        body_len <= WHOLE_BODY_MAX) {
      /* The whole body is known now (a unary request): libcurl takes a
       * copy and sends it with the head, in one write, where the read
       * callback costs a second send (and the server a second read). */
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
      curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body_len ? (const char *)body : "");
      connectc_client_call_body_consume(call, body_len);
    } else {
      curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(e, CURLOPT_READDATA, x);
      if (head.content_length >= 0)
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)head.content_length);
    }
  }
  if (t->ca.data) curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &t->ca);
  if (t->cert.data) curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &t->cert);
  if (t->key.data) curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &t->key);
  int64_t deadline = connectc_client_call_deadline(call);
  if (deadline >= 0) {
    int64_t left = deadline - connectc_curl_now_ms();
    /* A backstop: the call's own deadline closes it first when polled. */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(left > 0 ? left + 50 : 1));
  }
  CURLMcode mc = curl_multi_add_handle(t->multi, e);
  if (mc == CURLM_RECURSIVE_API_CALL) {
    /* Started from a stream callback run by libcurl (on_message...),
     * where libcurl refuses new handles: reap() adds it on the way out. */
    x->add_pending = 1;
  } else if (mc != CURLM_OK) {
    xfer_free(x);
    return CONNECTC_ERR_NOMEM;
  }
  x->released = released; /* only now: a failed start never reports */
  x->released_arg = arg;
  return CONNECTC_OK;
}

static void reap(connectc_curl *t);

/* A paused call was resumed: offers it the bytes held for it (it may
 * pause again), then lets libcurl receive again. libcurl may deliver what
 * it kept from inside curl_easy_pause(), so this runs only where libcurl
 * callbacks may run (t->dispatching set, nothing is freed). */
static void resume_recv(xfer *x) {
  connectc_client_call *call = x->call;
  if (connectc_client_call_is_closed(call) || connectc_client_call_recv_paused(call)) return;
  if (x->held_len) {
    size_t taken = x->held_len;
    if (connectc_client_call_recv_body_some(call, x->held + x->held_off, x->held_len, &taken) !=
        CONNECTC_OK)
      connectc_client_call_fail(call, CONNECTC_CODE_INTERNAL,
                                "out of memory receiving the response");
    if (taken > x->held_len) taken = x->held_len;
    x->held_off += taken;
    x->held_len -= taken;
    connectc_client_call_tick(call, connectc_curl_now_ms());
    if (connectc_client_call_is_closed(call) || x->held_len) return; /* ended, or paused again */
  }
  if (x->recv_paused && !x->done && !connectc_client_call_recv_paused(call)) {
    x->recv_paused = 0;
    apply_pause(x); /* may deliver what libcurl kept, from inside */
  }
}

void connectc_curl_wake(connectc_curl *t, connectc_client_call *call) {
  xfer *x = find_xfer(t, call);
  if (!x) return;
  if (connectc_client_call_is_closed(call)) {
    /* Aborts the transfer: HTTP/1.1 closes its connection, HTTP/2 resets
     * its stream only. From inside a callback this is deferred to the end
     * of the current dispatch. */
    if (!t->dispatching) xfer_free(x);
    return;
  }
  if (x->send_paused) {
    x->send_paused = 0;
    apply_pause(x); /* the receive side stays as it is */
  }
  if (x->held_len || x->recv_paused) {
    if (t->dispatching) {
      /* Inside a callback (maybe this call's own on_message, inside
       * recv_body_some): reap() offers the held bytes on its way out. */
      t->rescan = 1;
    } else {
      reap(t); /* offers them now, and completes what that completes */
    }
  }
}

static connectc_code code_for_curl_error(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return CONNECTC_CODE_DEADLINE_EXCEEDED;
    case CURLE_OUT_OF_MEMORY: return CONNECTC_CODE_RESOURCE_EXHAUSTED;
    default: return CONNECTC_CODE_UNAVAILABLE;
  }
}

/* Completes the call of a transfer libcurl reported done with `rc`. */
static void finish(xfer *x, CURLcode rc) {
  connectc_curl *t = x->t;
  connectc_client_call *call = x->call;
  if (!connectc_client_call_is_closed(call)) {
    if (rc == CURLE_OK && !x->head_done) {
      /* libcurl reports success when the connection closes in the
       * middle of the header block (it never delivers the lines it
       * has): the head is incomplete, so is the response. */
      connectc_client_call_fail(call, CONNECTC_CODE_UNAVAILABLE,
                                "the connection closed before the response headers ended");
    } else if (rc == CURLE_OK) {
      if (x->trailers.len) connectc_client_call_recv_trailers(call, &x->trailers);
      connectc_client_call_recv_end(call);
    } else {
      if (t->h2c && (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_HTTP2))
        t->h2c_suspect = 1;
      connectc_client_call_tick(call, connectc_curl_now_ms());
      char msg[512];
      if (!x->head_done && rc == CURLE_OUT_OF_MEMORY)
        /* libcurl refuses a header line longer than CURL_MAX_HTTP_HEADER
         * with this code: say so, not "out of memory". */
        snprintf(msg, sizeof msg,
                 "a response header line is larger than libcurl's limit of %d bytes "
                 "(CURL_MAX_HTTP_HEADER), after %zu header bytes%s%s",
                 CURL_MAX_HTTP_HEADER, x->header_bytes, x->errbuf[0] ? ": " : "", x->errbuf);
      else
        snprintf(msg, sizeof msg, "%s", curl_easy_strerror(rc));
      connectc_client_call_fail(call, code_for_curl_error(rc), msg);
    }
  }
}

/* Completes finished transfers and ticks deadlines. */
static void reap(connectc_curl *t) {
  CURLMsg *m;
  int left;
  /* Callbacks fired from here may wake or cancel any call: only this
   * function frees transfers until it returns. */
  t->dispatching = 1;
  while ((m = curl_multi_info_read(t->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    xfer *x = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    if (!x) continue;
    CURLcode rc = m->data.result;
    connectc_client_call *call = x->call;
    if (rc != CURLE_OK && x->socket_refused && x->restarts < 4 &&
        !connectc_client_call_is_closed(call)) {
      /* h2c: it needed a connection it was not chosen to open (the old one
       * closed while it waited); nothing was sent, so it starts over. */
      curl_multi_remove_handle(t->multi, x->easy);
      x->socket_refused = 0;
      x->restarts++;
      choose_h2c_version(x);
      int64_t deadline = connectc_client_call_deadline(call);
      if (deadline >= 0) {
        int64_t ms = deadline - connectc_curl_now_ms();
        curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)(ms > 0 ? ms + 50 : 1));
      }
      if (curl_multi_add_handle(t->multi, x->easy) == CURLM_OK) continue;
      connectc_client_call_fail(call, CONNECTC_CODE_UNAVAILABLE,
                                "the transport could not restart the call");
    }
    if (x->held_len && !connectc_client_call_is_closed(call)) {
      /* The end came behind bytes a paused call has not taken yet: it is
       * reported once they are (see the loop below). libcurl 7.88 does
       * not report a transfer done while its receive side is paused (as
       * it is whenever bytes are held), so this is a safeguard: the tests
       * never reach it. */
      x->done = 1;
      x->done_rc = rc;
      continue;
    }
    finish(x, rc);
    xfer_free(x);
  }
  /* Once more if a call was woken (resumed) while this ran: the loop
   * may have passed it. Each round follows a wake from a callback, and
   * callbacks fire only as bytes are taken or calls end. */
  do {
    t->rescan = 0;
    int64_t now = connectc_curl_now_ms();
    for (xfer *x = t->xfers, *next; x; x = next) {
      next = x->next;
      /* Resumed calls: what was held for them first, then the end if it
       * came behind those bytes. */
      resume_recv(x);
      if (x->done) {
        connectc_client_call_tick(x->call, now);
        if (!x->held_len && !connectc_client_call_is_closed(x->call)) finish(x, x->done_rc);
        if (!x->held_len || connectc_client_call_is_closed(x->call)) xfer_free(x);
        continue;
      }
      if (x->http2 && x->trailers.len && !x->held_len && !x->recv_paused &&
          !connectc_client_call_is_closed(x->call)) {
        /* HTTP/2 trailers end the response (their HEADERS carry
         * END_STREAM; libcurl hands them over whole, after the body). The
         * call completes now: libcurl would report the transfer done only
         * once a paused upload ends too, which a full-duplex call whose
         * server finished first may never do. */
        connectc_client_call_recv_trailers(x->call, &x->trailers);
        connectc_client_call_recv_end(x->call);
      }
      connectc_client_call_tick(x->call, now);
      if (connectc_client_call_is_closed(x->call)) xfer_free(x);
    }
  } while (t->rescan);
  /* Transfers started inside libcurl callbacks, ours included above. */
  for (xfer *x = t->xfers, *next; x; x = next) {
    next = x->next;
    if (!x->add_pending) continue;
    x->add_pending = 0;
    if (connectc_client_call_is_closed(x->call) ||
        curl_multi_add_handle(t->multi, x->easy) != CURLM_OK) {
      connectc_client_call_fail(x->call, CONNECTC_CODE_UNAVAILABLE,
                                "the transport could not start the call");
      xfer_free(x);
    }
  }
  t->dispatching = 0;
}

int connectc_curl_poll(connectc_curl *t, int timeout_ms) {
  if (t->have_loop) return CONNECTC_ERR_STATE;
  int still = 0;
  t->dispatching = 1;
  curl_multi_perform(t->multi, &still);
  t->dispatching = 0;
  reap(t);
  if (!t->running) return 0;
  /* Wake early for the nearest call deadline. */
  int64_t now = connectc_curl_now_ms();
  for (xfer *x = t->xfers; x; x = x->next) {
    int64_t d = connectc_client_call_deadline(x->call);
    if (d >= 0 && d - now < timeout_ms) timeout_ms = d - now > 0 ? (int)(d - now) : 0;
  }
  curl_multi_poll(t->multi, NULL, 0, timeout_ms, NULL);
  t->dispatching = 1;
  curl_multi_perform(t->multi, &still);
  t->dispatching = 0;
  reap(t);
  return t->running;
}

int connectc_curl_socket_action(connectc_curl *t, int fd, int events) {
  int mask = 0, still = 0;
  if (events & CONNECTC_CURL_WATCH_IN) mask |= CURL_CSELECT_IN;
  if (events & CONNECTC_CURL_WATCH_OUT) mask |= CURL_CSELECT_OUT;
  t->dispatching = 1;
  curl_multi_socket_action(t->multi, (curl_socket_t)fd, mask, &still);
  t->dispatching = 0;
  reap(t);
  return t->running;
}

int connectc_curl_timeout_action(connectc_curl *t) {
  int still = 0;
  t->dispatching = 1;
  curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &still);
  t->dispatching = 0;
  reap(t);
  return t->running;
}

int connectc_curl_running(const connectc_curl *t) { return t->running; }

int connectc_curl_perform(connectc_curl *t, connectc_client_call *call) {
  if (t->have_loop) return CONNECTC_ERR_STATE;
  int rv = connectc_curl_start(t, call);
  if (rv) return rv;
  while (find_xfer(t, call)) connectc_curl_poll(t, 1000);
  return CONNECTC_OK;
}

static int transport_perform(void *ctx, connectc_client_call *call) {
  return connectc_curl_perform(ctx, call);
}
static int64_t transport_now(void *ctx) {
  (void)ctx;
  return connectc_curl_now_ms();
}
static int transport_start(void *ctx, connectc_client_call *call, void (*released)(void *arg),
                           void *arg) {
  return connectc_curl_start_with_release(ctx, call, released, arg);
}
static void transport_wake(void *ctx, connectc_client_call *call) { connectc_curl_wake(ctx, call); }

connectc_transport connectc_curl_transport(connectc_curl *t) {
  connectc_transport tr = {.perform = transport_perform,
                           .now_ms = transport_now,
                           .ctx = t,
                           .start = transport_start,
                           .wake = transport_wake,
                           .compress_ctx = t->cctx};
  return tr;
}
