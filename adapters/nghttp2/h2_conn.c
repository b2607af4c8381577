/*
 * One server-side HTTP/2 connection with no I/O: an nghttp2 session fed
 * with bytes, whose streams are the router's server calls.
 *
 * All protocol logic stays in the core: a stream's pseudo-headers and
 * headers become connectc_server_call_recv_head(), DATA recv_body(),
 * END_STREAM recv_end(), a reset or a lost connection cancel(); the call's
 * response head, body and HTTP trailers become HEADERS, DATA and trailing
 * HEADERS. This file only maps frames to calls and enforces the limits a
 * hostile peer could abuse.
 *
 * Locking: one recursive mutex per connection guards the session and
 * every stream. The owner's calls take it; so do asynchronous handlers
 * through the call hooks (connectc_server_call_run). Streams are
 * reference-counted (nghttp2's open stream holds one reference, handlers
 * may hold more), and every live stream holds a reference on the
 * connection, so a handler may outlive both the stream and the owner's
 * connectc_h2_conn_del().
 */
#define _XOPEN_SOURCE 700 /* PTHREAD_MUTEX_RECURSIVE */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"

/* ---- small helpers ---- */

void cc_conn_free(connectc_h2_conn *c) {
  void (*released)(void *) = c->hooks.released;
  void *ctx = c->ctx;
  if (c->sess) nghttp2_session_del(c->sess);
  cc_h1_free(c);
  free(c->out);
  connectc_compress_ctx_del(c->cctx);
  pthread_mutex_destroy(&c->mu);
  free(c);
  if (released) released(ctx);
}

void cc_conn_lend_ctx(connectc_h2_conn *c, connectc_server_call *call) {
  if (!c->cctx) (void)connectc_compress_ctx_new(connectc_router_allocator(c->router), &c->cctx);
  if (c->cctx) (void)connectc_server_call_lend_compress_ctx(call, c->cctx);
}

/* Drops one reference; frees the stream at zero. Called with c->mu held.
 * Returns 1 when the connection lost its last reference (the caller frees
 * it after unlocking). */
int cc_stream_unref_locked(h2_stream *st) {
  if (--st->refs > 0) return 0;
  connectc_h2_conn *c = st->c;
  if (st->prev) st->prev->next = st->next;
  else c->streams = st->next;
  if (st->next) st->next->prev = st->prev;
  c->n_live--;
  if (st->call) connectc_router_call_del(c->router, st->call);
  free(st->held);
  free(st->method);
  free(st->path);
  free(st);
  return --c->refs == 0;
}

static void conn_fail(connectc_h2_conn *c, uint32_t code) {
  if (c->failed) return;
  c->failed = 1;
  if (c->sess) nghttp2_session_terminate_session(c->sess, code);
}

/* ---- call hooks (asynchronous handlers) ---- */

static void stream_kick(h2_stream *st);

static void t_lock(void *ctx) { pthread_mutex_lock(&((h2_stream *)ctx)->c->mu); }
static void t_unlock(void *ctx) { pthread_mutex_unlock(&((h2_stream *)ctx)->c->mu); }
static void t_wake(void *ctx) {
  h2_stream *st = ctx;
  connectc_h2_conn *c = st->c;
  stream_kick(st);
  if (!c->detached && c->hooks.wake) c->hooks.wake(c->ctx);
}
static void t_ref(void *ctx) {
  h2_stream *st = ctx;
  pthread_mutex_lock(&st->c->mu);
  st->refs++;
  pthread_mutex_unlock(&st->c->mu);
}
static void t_unref(void *ctx) {
  h2_stream *st = ctx;
  connectc_h2_conn *c = st->c;
  pthread_mutex_lock(&c->mu);
  int gone = cc_stream_unref_locked(st);
  pthread_mutex_unlock(&c->mu);
  if (gone) cc_conn_free(c);
}

const connectc_server_call_hooks cc_stream_ops = {t_lock, t_unlock, t_wake, t_ref, t_unref};

/* ---- response ---- */

static ssize_t read_body(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *source, void *user_data) {
  (void)user_data;
  h2_stream *st = source->ptr;
  size_t n = 0;
  int done = 1;
  const uint8_t *data = NULL;
  size_t len = 0;
  while (st->call && n < length) {
    connectc_server_call_body_peek(st->call, &data, &len, &done);
    if (!len) break;
    size_t k = len < length - n ? len : length - n;
    memcpy(buf + n, data, k);
    connectc_server_call_body_consume(st->call, k);
    n += k;
  }
  if (st->call && n == length) connectc_server_call_body_peek(st->call, &data, &len, &done);
  if (len == 0 && done) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    st->response_done = 1;
    const connectc_headers *t = st->call ? connectc_server_call_response_http_trailers(st->call)
                                         : NULL;
    if (t && t->len) {
      nghttp2_nv *nv = calloc(t->len, sizeof *nv);
      if (nv) {
        for (size_t i = 0; i < t->len; i++) {
          nv[i].name = (uint8_t *)t->items[i].name; /* stored lower-case */
          nv[i].namelen = t->items[i].name_len;
          nv[i].value = (uint8_t *)t->items[i].value;
          nv[i].valuelen = t->items[i].value_len;
        }
        if (nghttp2_submit_trailer(sess, id, nv, t->len) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        free(nv);
      }
    }
    return (ssize_t)n;
  }
  if (n == 0) {
    st->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)n;
}

/* Submits a response that carries no call (431). */
static void submit_status(connectc_h2_conn *c, h2_stream *st, const char *status) {
  nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)status, 7, strlen(status),
                      NGHTTP2_NV_FLAG_NONE}};
  nghttp2_submit_response(c->sess, st->id, nv, 1, NULL);
  st->submitted = 1;
  st->response_done = 1;
}

/* Moves whatever the call has produced towards the session: the response
 * head once decided, or a resumed data source. Called with c->mu held. */
static void stream_kick(h2_stream *st) {
  connectc_h2_conn *c = st->c;
  /* HTTP/1.1 pulls its output in cc_h1_pull. */
  if (c->mode != MODE_H2 || !st->call || st->closed || !c->sess) return;
  if (st->submitted) {
    if (st->deferred) {
      st->deferred = 0;
      nghttp2_session_resume_data(c->sess, st->id);
    }
    return;
  }
  connectc_response_head head;
  if (connectc_server_call_response_head(st->call, &head) != CONNECTC_OK) {
    /* Finished with no response: the call was abandoned. */
    if (connectc_server_call_is_finished(st->call)) {
      nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
      st->submitted = 1;
    }
    return;
  }
  size_t nh = head.headers->len;
  /* nghttp2 copies the fields when the response is submitted: a response
   * head of a few fields needs no allocation for them. */
  nghttp2_nv nv_small[16];
  nghttp2_nv *nv = nh + 2 <= sizeof nv_small / sizeof nv_small[0] ? nv_small
                                                                     : calloc(nh + 2, sizeof *nv);
  if (!nv) {
    nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    st->submitted = 1;
    return;
  }
  char status_d[24], clen_d[24];
  int code = head.status >= 100 && head.status <= 999 ? head.status : 500;
  char *status = cc_fmt_uint(status_d, (uint64_t)code, 10);
  size_t k = 0;
  nv[k++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7,
                         (size_t)(status_d + sizeof status_d - status), NGHTTP2_NV_FLAG_NONE};
  int has_clen = 0;
  for (size_t i = 0; i < nh; i++) {
    const connectc_header *h = &head.headers->items[i];
    /* Connection-specific fields have no place in HTTP/2 (RFC 9113
     * 8.2.2); the core never makes them, but a handler might. */
    if (strcmp(h->name, "connection") == 0 || strcmp(h->name, "transfer-encoding") == 0 ||
        strcmp(h->name, "keep-alive") == 0 || strcmp(h->name, "upgrade") == 0 ||
        strcmp(h->name, "proxy-connection") == 0)
      continue;
    if (strcmp(h->name, "content-length") == 0) has_clen = 1;
    nv[k++] = (nghttp2_nv){(uint8_t *)h->name, (uint8_t *)h->value, h->name_len, h->value_len,
                           NGHTTP2_NV_FLAG_NONE};
  }
  if (!has_clen && head.content_length >= 0) {
    char *clen = cc_fmt_uint(clen_d, (uint64_t)head.content_length, 10);
    nv[k++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)clen, 14,
                           (size_t)(clen_d + sizeof clen_d - clen), NGHTTP2_NV_FLAG_NONE};
  }
  const uint8_t *data;
  size_t len;
  int done;
  connectc_server_call_body_peek(st->call, &data, &len, &done);
  const connectc_headers *t = connectc_server_call_response_http_trailers(st->call);
  int rv;
  if (done && len == 0 && !t) {
    /* Nothing follows the head: one HEADERS frame with END_STREAM (a
     * trailers-only gRPC response, an empty Connect body). */
    rv = nghttp2_submit_response(c->sess, st->id, nv, k, NULL);
    st->response_done = 1;
  } else {
    nghttp2_data_provider prd;
    prd.source.ptr = st;
    prd.read_callback = read_body;
    rv = nghttp2_submit_response(c->sess, st->id, nv, k, &prd);
  }
  if (nv != nv_small) free(nv);
  if (rv != 0) nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
  st->submitted = 1;
}

/* ---- request ---- */

/* Token buckets: 1 when a token was left. */
static int bucket_take(double *tokens, double burst, double rate, int64_t *last, int64_t now) {
  double elapsed = (double)(now - *last) / 1000.0;
  if (elapsed > 0) {
    *tokens += elapsed * rate;
    if (*tokens > burst) *tokens = burst;
  }
  *last = now;
  if (*tokens < 1.0) return 0;
  *tokens -= 1.0;
  return 1;
}

static int take_budget(connectc_h2_conn *c) {
  return bucket_take(&c->ctl_tokens, c->ctl_burst, c->ctl_rate, &c->ctl_last_ms, c->now);
}

static int on_begin_headers(nghttp2_session *sess, const nghttp2_frame *frame, void *ud) {
  connectc_h2_conn *c = ud;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  if (c->n_live >= 2 * (size_t)c->max_streams) {
    /* Handlers still hold the calls of reset streams: refuse new work
     * rather than let a client pile it up (the rapid-reset shape). */
    nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                              NGHTTP2_REFUSED_STREAM);
    if (++c->refused > c->max_streams) conn_fail(c, NGHTTP2_ENHANCE_YOUR_CALM);
    return 0;
  }
  h2_stream *st = cc_stream_new(c, frame->hd.stream_id);
  if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  c->n_open++;
  nghttp2_session_set_stream_user_data(sess, st->id, st);
  return 0;
}

h2_stream *cc_stream_new(connectc_h2_conn *c, int32_t id) {
  h2_stream *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->c = c;
  st->id = id;
  st->refs = 1;
  st->next = c->streams;
  if (c->streams) c->streams->prev = st;
  c->streams = st;
  c->n_live++;
  c->refs++;
  return st;
}

static char *dup_n(const uint8_t *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) {
    memcpy(p, s, n);
    p[n] = 0;
  }
  return p;
}

/* Routes the stream's :path (the part before any query) to a new call,
 * whose request header list the regular fields then fill. Returns 0, or -1
 * when the call could not be made (st->call stays NULL). */
static int make_call(connectc_h2_conn *c, h2_stream *st) {
  const char *path = st->path ? st->path : "";
  const char *q = strchr(path, '?');
  size_t plen = q ? (size_t)(q - path) : strlen(path);
  if (connectc_router_call_new(c->router, path, plen, &st->call) != CONNECTC_OK) {
    st->call = NULL;
    return -1;
  }
  return 0;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  (void)flags;
  connectc_h2_conn *c = ud;
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  h2_stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
  if (!st) return 0;
  st->header_bytes += namelen + valuelen + 32;
  if (st->header_bytes > c->max_header_bytes) st->too_large = 1;
  if (st->too_large || st->head_done) return 0; /* trailers: counted, not kept */
  if (namelen && name[0] == ':') {
    if (namelen == 7 && memcmp(name, ":method", 7) == 0 && !st->method) {
      st->method = dup_n(value, valuelen);
    } else if (namelen == 5 && memcmp(name, ":path", 5) == 0 && !st->path) {
      st->path = dup_n(value, valuelen);
    }
    return 0;
  }
  /* nghttp2 refuses pseudo-headers after regular ones, so :path is known
   * by now: the call exists from the first regular field on, and the
   * fields go straight into its own list (one copy). */
  if (!st->call && make_call(c, st) != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  if (connectc_headers_add(connectc_server_call_headers_to_fill(st->call), (const char *)name,
                           namelen, (const char *)value, valuelen) == CONNECTC_ERR_NOMEM)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return 0;
}

/* The request head is complete: give it to the call (made here when the
 * request had no regular field). */
static void start_call(connectc_h2_conn *c, h2_stream *st) {
  st->head_done = 1;
  if (st->too_large) {
    if (st->call) connectc_router_call_del(c->router, st->call);
    st->call = NULL;
    submit_status(c, st, "431");
    return;
  }
  if (!st->call && make_call(c, st) != 0) {
    nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    st->submitted = 1;
    return;
  }
  const char *path = st->path ? st->path : "";
  const char *q = strchr(path, '?');
  connectc_server_call_set_hooks(st->call, &cc_stream_ops, st);
  cc_conn_lend_ctx(c, st->call);
  (void)connectc_server_call_recv_head(st->call, st->method ? st->method : "", q ? q + 1 : NULL,
                                       connectc_server_call_headers_to_fill(st->call), c->now);
  free(st->path);
  st->path = NULL;
}

static void end_request(h2_stream *st) {
  st->remote_ended = 1;
  if (st->held_len) st->end_held = 1; /* delivered once the held bytes are */
  else if (st->call) (void)connectc_server_call_recv_end(st->call);
}

/* Offers DATA to the call; what a paused call leaves is held (appended
 * behind what is held already) and its window stays closed. Returns 0, or
 * -1 when the bytes cannot be held (out of memory, or more than the
 * stream's window, which nghttp2 enforces first). */
static int offer_data(connectc_h2_conn *c, h2_stream *st, const uint8_t *data, size_t len) {
  size_t taken = 0;
  if (!st->held_len &&
      connectc_server_call_recv_body_some(st->call, data, len, &taken) != CONNECTC_OK)
    taken = len; /* refused (the call is over): dropped */
  if (taken) nghttp2_session_consume(c->sess, st->id, taken);
  size_t rest = len - taken;
  if (!rest) return 0;
  if (st->held_len + rest > c->stream_window) return -1;
  if (st->held_off + st->held_len + rest > st->held_cap) {
    if (st->held_off && st->held_off >= st->held_len) {
      /* Moves no more than the call took since: linear overall. */
      memmove(st->held, st->held + st->held_off, st->held_len);
      st->held_off = 0;
    }
    /* Otherwise grow: at most twice the window (held_off < held_len). */
    size_t need = st->held_off + st->held_len + rest;
    if (need > st->held_cap) {
      size_t cap = st->held_cap ? st->held_cap : 16384;
      while (cap < need) cap *= 2;
      uint8_t *nb = realloc(st->held, cap);
      if (!nb) return -1;
      st->held = nb;
      st->held_cap = cap;
    }
  }
  memcpy(st->held + st->held_off + st->held_len, data + taken, rest);
  if (!st->held_len) c->n_held++;
  st->held_len += rest;
  return 0;
}

/* Feeds held DATA to the calls that resumed, reopening the window for what
 * they take, then the END_STREAM that waited behind it. */
static void drain_held(connectc_h2_conn *c) {
  if (!c->n_held || !c->sess) return;
  for (h2_stream *st = c->streams; st; st = st->next) {
    if (!st->held_len || !st->call || connectc_server_call_recv_paused(st->call)) continue;
    size_t taken = 0;
    if (connectc_server_call_recv_body_some(st->call, st->held + st->held_off, st->held_len,
                                            &taken) != CONNECTC_OK)
      taken = st->held_len;
    if (!taken) continue;
    nghttp2_session_consume(c->sess, st->id, taken);
    /* No move per resume: a consumer pausing at every message would copy
     * the rest of the window each time. */
    st->held_off += taken;
    st->held_len -= taken;
    if (!st->held_len) {
      st->held_off = 0;
      c->n_held--;
      if (st->end_held) {
        st->end_held = 0;
        (void)connectc_server_call_recv_end(st->call);
      }
    }
    stream_kick(st);
  }
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame, void *ud) {
  connectc_h2_conn *c = ud;
  c->last_activity_ms = c->now;
  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      if (c->got_settings && !take_budget(c)) conn_fail(c, NGHTTP2_ENHANCE_YOUR_CALM);
      c->got_settings = 1;
    }
    return 0;
  case NGHTTP2_PING:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && !take_budget(c))
      conn_fail(c, NGHTTP2_ENHANCE_YOUR_CALM);
    return 0;
  case NGHTTP2_PRIORITY:
    if (!take_budget(c)) conn_fail(c, NGHTTP2_ENHANCE_YOUR_CALM);
    return 0;
  case NGHTTP2_RST_STREAM:
    /* Rapid reset (CVE-2023-44487): streams opened and reset faster than
     * the budget allows. nghttp2's own limit (twice as loose) backs it. */
    if (!bucket_take(&c->rst_tokens, c->rst_burst, c->rst_rate, &c->rst_last_ms, c->now))
      conn_fail(c, NGHTTP2_ENHANCE_YOUR_CALM);
    return 0;
  case NGHTTP2_DATA: {
    if (frame->hd.length == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !take_budget(c))
      conn_fail(c, NGHTTP2_ENHANCE_YOUR_CALM);
    h2_stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
    if (st && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      end_request(st);
      stream_kick(st);
    }
    return 0;
  }
  case NGHTTP2_HEADERS: {
    h2_stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
    if (!st) return 0;
    if (!st->head_done) {
      start_call(c, st);
    } else if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !take_budget(c)) {
      conn_fail(c, NGHTTP2_ENHANCE_YOUR_CALM);
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) end_request(st);
    stream_kick(st);
    return 0;
  }
  default:
    return 0;
  }
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud) {
  (void)flags;
  connectc_h2_conn *c = ud;
  h2_stream *st = nghttp2_session_get_stream_user_data(sess, id);
  if (!st || !st->call) {
    nghttp2_session_consume(sess, id, len);
    return 0;
  }
  /* The window reopens only for bytes the call has taken. */
  if (offer_data(c, st, data, len) != 0) {
    nghttp2_session_consume(sess, id, len);
    nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, id, NGHTTP2_FLOW_CONTROL_ERROR);
  }
  stream_kick(st);
  return 0;
}

static int on_frame_send(nghttp2_session *sess, const nghttp2_frame *frame, void *ud) {
  (void)ud;
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    h2_stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
    /* The response is complete while the request still streams in: tell
     * the client to stop (RFC 9113 8.1). */
    if (st && !st->remote_ended)
      nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t id, uint32_t error_code, void *ud) {
  (void)error_code;
  connectc_h2_conn *c = ud;
  h2_stream *st = nghttp2_session_get_stream_user_data(sess, id);
  if (!st) return 0;
  nghttp2_session_set_stream_user_data(sess, id, NULL);
  st->closed = 1;
  c->n_open--;
  if (st->held_len) {
    /* Never delivered: give the connection its window back. */
    nghttp2_session_consume_connection(sess, st->held_len);
    st->held_off = st->held_len = 0;
    st->end_held = 0;
    c->n_held--;
  }
  c->last_activity_ms = c->now;
  /* A call not finished when its stream goes (reset, or the connection
   * ended) lost its client. One whose head never completed was not
   * started: it is only deleted. */
  if (st->call && st->head_done && !connectc_server_call_is_finished(st->call))
    connectc_server_call_cancel(st->call);
  (void)cc_stream_unref_locked(st); /* c->refs stays >= 1: the owner's */
  return 0;
}

/* ---- public ---- */

int connectc_h2_conn_new(const connectc_h2_config *cfg, connectc_router *router,
                         const connectc_h2_conn_hooks *hooks, void *ctx, int64_t now_ms,
                         connectc_h2_conn **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  if (!router) return CONNECTC_ERR_ARGUMENT;
  connectc_h2_config d;
  memset(&d, 0, sizeof d);
  if (cfg) d = *cfg;
  connectc_h2_conn *c = calloc(1, sizeof *c);
  if (!c) return CONNECTC_ERR_NOMEM;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&c->mu, &attr);
  pthread_mutexattr_destroy(&attr);
  c->refs = 1;
  c->router = router;
  c->mode = MODE_SNIFF;
  c->http1 = !d.http2_only;
  if (hooks) c->hooks = *hooks;
  c->ctx = ctx;
  c->max_streams = d.max_concurrent_streams ? d.max_concurrent_streams : 100;
  c->max_header_bytes = d.max_header_list_bytes ? d.max_header_list_bytes : 16384;
  size_t recv_max = connectc_router_config(router)->limits.recv_max_bytes;
  if (!recv_max) recv_max = CONNECTC_DEFAULT_RECV_MAX_BYTES;
  uint32_t win = d.stream_window_bytes ? d.stream_window_bytes : 262144;
  if (win > recv_max + 5) win = (uint32_t)(recv_max + 5);
  if (win < 65535) win = 65535;
  if (win > 0x7fffffff) win = 0x7fffffff;
  c->stream_window = win;
  uint32_t cwin = d.connection_window_bytes ? d.connection_window_bytes : 1048576;
  if (cwin > 0x7fffffff) cwin = 0x7fffffff;
  c->handshake_ms = d.handshake_timeout_ms ? d.handshake_timeout_ms : 10000;
  c->idle_ms = d.idle_timeout_ms ? d.idle_timeout_ms : 60000;
  c->stall_ms = d.stall_timeout_ms ? d.stall_timeout_ms : 30000;
  c->ctl_rate = d.max_control_frames_per_s ? d.max_control_frames_per_s : 200;
  c->ctl_burst = 2 * c->ctl_rate;
  c->ctl_tokens = c->ctl_burst;
  unsigned burst = d.max_resets_burst ? d.max_resets_burst : 200;
  c->rst_burst = c->rst_tokens = burst;
  c->rst_rate = burst / 10 ? burst / 10 : 1;
  c->now = c->created_ms = c->last_activity_ms = c->ctl_last_ms = c->rst_last_ms = now_ms;

  nghttp2_session_callbacks *cbs;
  nghttp2_option *opt;
  if (nghttp2_session_callbacks_new(&cbs) != 0) goto nomem;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    goto nomem;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_no_closed_streams(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 16);
  nghttp2_option_set_max_continuations(opt, 8);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
  nghttp2_option_set_stream_reset_rate_limit(opt, 2 * (uint64_t)c->rst_burst,
                                             2 * (uint64_t)c->rst_rate);
  int rv = nghttp2_session_server_new2(&c->sess, cbs, c, opt);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_option_del(opt);
  if (rv != 0) goto nomem;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c->max_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, c->stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, c->max_header_bytes},
  };
  if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
      nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0, (int32_t)cwin) != 0)
    goto nomem;
  *out = c;
  return CONNECTC_OK;
nomem:
  if (c->sess) nghttp2_session_del(c->sess);
  pthread_mutex_destroy(&c->mu);
  free(c);
  return CONNECTC_ERR_NOMEM;
}

void connectc_h2_conn_del(connectc_h2_conn *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->detached = 1;
  /* Cancel what is in flight; nghttp2_session_del closes no stream
   * through callbacks, so release nghttp2's references here. */
  for (h2_stream *st = c->streams; st;) {
    st->refs++; /* pinned while its handler hears of the cancel */
    if (st->call && st->head_done && !connectc_server_call_is_finished(st->call))
      connectc_server_call_cancel(st->call);
    if (!st->closed) {
      st->closed = 1;
      st->refs--; /* nghttp2's */
    }
    h2_stream *next = st->next;
    (void)cc_stream_unref_locked(st);
    st = next;
  }
  c->h1.st = NULL;
  if (c->sess) {
    nghttp2_session_del(c->sess);
    c->sess = NULL;
  }
  int gone = --c->refs == 0;
  pthread_mutex_unlock(&c->mu);
  if (gone) cc_conn_free(c);
}

/* Feeds nghttp2. Called with c->mu held. */
static void h2_feed(connectc_h2_conn *c, const uint8_t *data, size_t len) {
  if (!len || c->failed || c->hard_close || !c->sess) return;
  ssize_t n = nghttp2_session_mem_recv(c->sess, data, len);
  if (n < 0) {
    /* nghttp2 queued a GOAWAY for protocol errors it detected itself;
     * anything else (a bad preface, a flood) ends the connection. */
    if (n == NGHTTP2_ERR_BAD_CLIENT_MAGIC) c->hard_close = 1;
    conn_fail(c, n == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
  }
}

/* The connection speaks HTTP/1.1 from here on. */
static void become_h1(connectc_h2_conn *c) {
  c->mode = MODE_H1;
  if (c->sess) {
    nghttp2_session_del(c->sess);
    c->sess = NULL;
  }
  cc_h1_start(c);
}

int connectc_h2_conn_set_alpn(connectc_h2_conn *c, const char *proto, size_t len) {
  if (!c || (!proto && len)) return CONNECTC_ERR_ARGUMENT;
  pthread_mutex_lock(&c->mu);
  int rv = CONNECTC_OK;
  if (c->mode != MODE_SNIFF || c->sniff_len) {
    rv = CONNECTC_ERR_STATE;
  } else if (len == 2 && memcmp(proto, "h2", 2) == 0) {
    c->mode = MODE_H2;
  } else if (len == 8 && memcmp(proto, "http/1.1", 8) == 0 && c->http1) {
    become_h1(c);
  } else if (len != 0) {
    rv = CONNECTC_ERR_UNSUPPORTED;
  }
  pthread_mutex_unlock(&c->mu);
  return rv;
}

int connectc_h2_conn_recv(connectc_h2_conn *c, const uint8_t *data, size_t len, int64_t now_ms) {
  if (!c || (!data && len)) return CONNECTC_ERR_ARGUMENT;
  pthread_mutex_lock(&c->mu);
  int rv = CONNECTC_OK;
  c->now = now_ms;
  if (c->mode == MODE_SNIFF && len && !c->hard_close) {
    /* Cleartext: the HTTP/2 preface, or else HTTP/1.1. */
    size_t k = CONNECTC_H2_PREFACE_LEN - c->sniff_len;
    if (k > len) k = len;
    memcpy(c->sniff + c->sniff_len, data, k);
    c->sniff_len += k;
    data += k;
    len -= k;
    if (memcmp(c->sniff, CONNECTC_H2_PREFACE, c->sniff_len) != 0 && c->http1) {
      become_h1(c);
      if (cc_h1_recv(c, c->sniff, c->sniff_len) == 0) (void)cc_h1_recv(c, data, len);
    } else if (c->sniff_len == CONNECTC_H2_PREFACE_LEN || memcmp(c->sniff, CONNECTC_H2_PREFACE, c->sniff_len) != 0) {
      c->mode = MODE_H2;
      h2_feed(c, c->sniff, c->sniff_len);
      h2_feed(c, data, len);
    }
    len = 0;
  }
  if (c->mode == MODE_H1) {
    if (len) (void)cc_h1_recv(c, data, len);
    if (c->hard_close || c->h1.closing) rv = CONNECTC_ERR_PROTOCOL;
  } else {
    if (c->mode == MODE_H2) h2_feed(c, data, len);
    if (c->failed || c->hard_close || (c->mode == MODE_H2 && !c->sess)) rv = CONNECTC_ERR_PROTOCOL;
  }
  pthread_mutex_unlock(&c->mu);
  return rv;
}

void connectc_h2_conn_send_peek(connectc_h2_conn *c, const uint8_t **data, size_t *len,
                                size_t max) {
  pthread_mutex_lock(&c->mu);
  if (!max) max = 65536;
  if (c->mode == MODE_H1 && !c->hard_close) {
    cc_h1_resume(c);
    cc_h1_pull(c, max);
  }
  if (c->mode == MODE_H2 && !c->hard_close) drain_held(c);
  /* The server's SETTINGS wait until the client showed it speaks HTTP/2. */
  while (c->mode == MODE_H2 && c->sess && !c->hard_close && c->out_len - c->out_off < max) {
    const uint8_t *p;
    ssize_t n = nghttp2_session_mem_send(c->sess, &p);
    if (n <= 0) {
      if (n < 0) c->hard_close = 1; /* out of memory in nghttp2: give up */
      break;
    }
    if (cc_out_put(c, p, (size_t)n) < 0) {
      c->hard_close = 1;
      break;
    }
  }
  *data = c->out ? c->out + c->out_off : (const uint8_t *)"";
  *len = c->hard_close ? 0 : c->out_len - c->out_off;
  pthread_mutex_unlock(&c->mu);
}

int cc_out_put(connectc_h2_conn *c, const void *p, size_t n) {
  if (c->out_off && c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (c->out_len + n > c->out_cap) {
    size_t ncap = c->out_cap ? c->out_cap : 16384;
    while (ncap < c->out_len + n) ncap *= 2;
    uint8_t *nb = realloc(c->out, ncap);
    if (!nb) return -1;
    c->out = nb;
    c->out_cap = ncap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  return 0;
}

void connectc_h2_conn_send_consume(connectc_h2_conn *c, size_t n) {
  pthread_mutex_lock(&c->mu);
  if (n > c->out_len - c->out_off) n = c->out_len - c->out_off;
  c->out_off += n;
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  pthread_mutex_unlock(&c->mu);
}

int64_t connectc_h2_conn_tick(connectc_h2_conn *c, int64_t now_ms) {
  if (!c) return -1;
  pthread_mutex_lock(&c->mu);
  c->now = now_ms;
  int64_t next = -1;
#define WANT(t) \
  do { \
    int64_t t_ = (t); \
    if (next < 0 || t_ < next) next = t_; \
  } while (0)
  if (c->mode == MODE_H1) {
    next = c->hard_close ? -1 : cc_h1_tick(c, now_ms);
    goto out;
  }
  if (c->mode == MODE_SNIFF && !c->hard_close) {
    if (now_ms - c->created_ms >= c->handshake_ms) c->hard_close = 1;
    else next = c->created_ms + c->handshake_ms;
    goto out;
  }
  if (!c->sess || c->hard_close) goto out;
  if (!c->got_settings) {
    if (now_ms - c->created_ms >= c->handshake_ms) {
      c->hard_close = 1;
      goto out;
    }
    WANT(c->created_ms + c->handshake_ms);
  }
  if (c->shutdown && !c->goaway_final) {
    if (now_ms - c->shutdown_ms >= 100) {
      /* The notice had a round trip to arrive: now the real GOAWAY. */
      nghttp2_submit_goaway(c->sess, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(c->sess), NGHTTP2_NO_ERROR,
                            NULL, 0);
      c->goaway_final = 1;
    } else {
      WANT(c->shutdown_ms + 100);
    }
  }
  for (h2_stream *st = c->streams; st; st = st->next) {
    if (!st->call) continue;
    int64_t d = connectc_server_call_deadline(st->call);
    if (d >= 0 && !connectc_server_call_is_finished(st->call)) {
      if (now_ms >= d) {
        connectc_server_call_tick(st->call, now_ms);
        stream_kick(st);
      } else {
        WANT(d);
      }
    }
    /* A response that cannot move because the peer opens no window. */
    if (!st->closed && st->submitted && !st->response_done && !st->deferred) {
      int32_t w = nghttp2_session_get_stream_remote_window_size(c->sess, st->id);
      int32_t cw = nghttp2_session_get_remote_window_size(c->sess);
      if (w <= 0 || cw <= 0) {
        if (!st->stall_since) st->stall_since = now_ms;
        if (now_ms - st->stall_since >= c->stall_ms) {
          nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
          if (!connectc_server_call_is_finished(st->call)) connectc_server_call_cancel(st->call);
          st->response_done = 1;
        } else {
          WANT(st->stall_since + c->stall_ms);
        }
      } else {
        st->stall_since = 0;
      }
    }
  }
  if (c->n_open == 0 && !c->failed) {
    if (now_ms - c->last_activity_ms >= c->idle_ms) {
      nghttp2_submit_goaway(c->sess, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(c->sess), NGHTTP2_NO_ERROR,
                            NULL, 0);
      c->failed = 1;
    } else {
      WANT(c->last_activity_ms + c->idle_ms);
    }
  }
#undef WANT
out:
  pthread_mutex_unlock(&c->mu);
  return next;
}

void connectc_h2_conn_shutdown(connectc_h2_conn *c, int64_t now_ms) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->now = now_ms;
  if (c->mode == MODE_SNIFF) {
    c->hard_close = 1;
  } else if (c->mode == MODE_H1) {
    cc_h1_shutdown(c);
  } else if (c->sess && !c->shutdown && !c->failed) {
    c->shutdown = 1;
    c->shutdown_ms = now_ms;
    if (!c->got_settings) {
      c->hard_close = 1; /* never spoke HTTP/2: nothing to finish */
    } else {
      nghttp2_submit_shutdown_notice(c->sess);
    }
  }
  pthread_mutex_unlock(&c->mu);
}

int connectc_h2_conn_is_done(connectc_h2_conn *c) {
  pthread_mutex_lock(&c->mu);
  int done;
  if (c->mode == MODE_H1) {
    done = c->hard_close || cc_h1_is_done(c);
  } else if (c->mode == MODE_SNIFF) {
    done = c->hard_close;
  } else if (c->hard_close || !c->sess) {
    done = 1;
  } else {
    done = c->out_len == c->out_off && !nghttp2_session_want_write(c->sess) &&
           (c->failed || !nghttp2_session_want_read(c->sess));
  }
  pthread_mutex_unlock(&c->mu);
  return done;
}

int connectc_h2_conn_wants_read(connectc_h2_conn *c) {
  pthread_mutex_lock(&c->mu);
  int r;
  if (c->mode == MODE_H1) r = !c->hard_close && cc_h1_wants_read(c);
  else if (c->mode == MODE_SNIFF) r = !c->hard_close;
  else r = c->sess && !c->hard_close && !c->failed && nghttp2_session_want_read(c->sess);
  pthread_mutex_unlock(&c->mu);
  return r;
}
