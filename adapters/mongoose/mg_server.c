/*
 * The Mongoose server adapter: moves bytes between Mongoose connections
 * and the router's sans-IO server calls.
 *
 * A connection the server holds (`conn`) comes from one of its own
 * listeners, or was handed over by the application's HTTP handler at
 * MG_EV_HTTP_HDRS (connectc_mg_serve); then the adapter swaps in its own
 * event handler and gives the connection back once the response is out.
 * Either way the adapter reads the raw bytes itself: request heads with
 * the strict parser of adapters/common/h1.h, bodies by Content-Length or
 * the strict chunked decoder, fed to the call as they arrive.
 *
 * One request at a time per connection (`req`): it holds the server call
 * and a mutex. Everything that touches the call takes the mutex: the loop
 * and asynchronous handlers on other threads (connectc_server_call_run).
 * When a handler elsewhere produces output, the wake hook queues the
 * request on the server's wake list and sends one mg_wakeup to the
 * server's own service connection; the loop drains the list (also on every
 * poll, should a wakeup datagram ever be lost). A req is reference-counted
 * so that an asynchronous handler may outlive the client's connection.
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* PTHREAD_MUTEX_RECURSIVE */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chunked.h"
#include "connectc/http.h"
#include "connectc/mongoose.h"
#include "h1.h"
#include "h1_rules.h"
#include "mg_iobuf.h"
#include "mongoose.h"

typedef struct req req;
typedef struct conn conn;
typedef struct listener listener;

struct connectc_mg_server {
  connectc_router *router;
  struct mg_mgr *mgr;
  struct mg_mgr own_mgr;
  int owns_mgr;
  char *cert, *key;
  unsigned max_connections;
  unsigned idle_ms;
  size_t max_head;
  unsigned max_headers;
  size_t max_discard;
  size_t send_hwm;
  unsigned grace_ms;
  connectc_http1_field *fields; /* max_headers entries, for the loop's head check */
  struct mg_connection *svc; /* receives the wakeups; polled every loop */
  unsigned long svc_id;
  listener *listeners;
  conn *conns; /* loop only */
  /* Loop only: the record of an embedded connection given back, kept for
   * the next handover (embedding hands over every request), with its
   * compression context: the next request borrows its states and its body
   * buffer. */
  conn *spare;
  size_t n_conns;
  int stopping;
  /* Requests alive, including those asynchronous handlers still hold. */
  pthread_mutex_t mu;
  pthread_cond_t idle;
  size_t n_live;
  /* Requests with new output from other threads. */
  pthread_mutex_t wake_mu;
  req *wakes;
  int wake_sent;
};

struct listener {
  connectc_mg_server *s;
  struct mg_connection *c;
  int tls;
  listener *next;
};

struct conn {
  connectc_mg_server *s;
  struct mg_connection *c;
  int embedded; /* handed over by the application: give it back after */
  int in_handover; /* inside connectc_mg_serve, under Mongoose's HTTP handler */
  mg_event_handler_t saved_fn, saved_pfn;
  void *saved_fn_data, *saved_pfn_data;
  req *r;            /* the request being served, or NULL */
  cc_h1_scanner scan;
  int closing;       /* no more requests: close once the response is out */
  int64_t last_io;
  int64_t head_since; /* when the first byte of the awaited head came; 0: none yet */
  /* Owned, created with the first request; lent to each request's call in
   * turn. They never use it at once: the next request starts after
   * drop_request() saw the previous call finished or canceled it (under
   * its lock), and a call lets go of a lent context then. */
  connectc_compress_ctx *cctx;
  conn *prev, *next;
};


struct req {
  connectc_mg_server *s;
  connectc_server_call *call;
  pthread_mutex_t mu;
  int refs;      /* under mu */
  int in_loop;   /* under mu: the loop holds it and pumps after */
  int gone;      /* under mu: the connection went away */
  int wake_queued; /* under s->wake_mu */
  req *wake_next;
  /* The rest is the loop's. */
  conn *mc;
  cc_h1_body body;
  uint64_t body_left;
  cc_chunked dec;
  int body_done;
  /* The call paused (its consumer is behind) and left request body bytes
   * in c->recv, or may get more: they stay there, Mongoose reads nothing
   * more (c->is_full) until connectc_server_call_resume_recv wakes the
   * loop, and the idle timeout does not run meanwhile. Set by serve(). */
  int paused;
  size_t discarded;
  int keep_alive;
  int http10;
  int head_sent, chunked, resp_done, close_after;
  int64_t deadline;
};

/* How long a response that is complete waits for the rest of a request
 * body the client stopped sending (at most the idle timeout). */
#define DRAIN_QUIET_MS 1000

/* Mongoose's own monotonic clock: the loop passes it to every
 * connection's MG_EV_POLL, read once per iteration. */
int64_t connectc_mg_now_ms(void) { return (int64_t)mg_millis(); }

/* ---- request lifetime ---- */

static void req_unref(req *r) {
  pthread_mutex_lock(&r->mu);
  int left = --r->refs;
  pthread_mutex_unlock(&r->mu);
  if (left) return;
  connectc_mg_server *s = r->s;
  /* Still counted in n_live: a stopping server (and its router) waits. */
  connectc_router_call_del(s->router, r->call);
  pthread_mutex_destroy(&r->mu);
  free(r);
  pthread_mutex_lock(&s->mu);
  s->n_live--;
  if (s->n_live == 0) pthread_cond_broadcast(&s->idle);
  pthread_mutex_unlock(&s->mu); /* `s` may be freed from here on */
}

static void t_lock(void *ctx) { pthread_mutex_lock(&((req *)ctx)->mu); }
static void t_unlock(void *ctx) { pthread_mutex_unlock(&((req *)ctx)->mu); }
static void t_ref(void *ctx) {
  req *r = ctx;
  pthread_mutex_lock(&r->mu);
  r->refs++;
  pthread_mutex_unlock(&r->mu);
}
static void t_unref(void *ctx) { req_unref(ctx); }

/* Called with r->mu held, from any thread. */
static void t_wake(void *ctx) {
  req *r = ctx;
  if (r->in_loop || r->gone) return; /* the loop pumps after, or nobody listens */
  connectc_mg_server *s = r->s;
  int send = 0;
  pthread_mutex_lock(&s->wake_mu);
  if (!r->wake_queued) {
    r->wake_queued = 1;
    r->refs++; /* the list's reference */
    r->wake_next = s->wakes;
    s->wakes = r;
    if (!s->wake_sent) send = s->wake_sent = 1;
  }
  pthread_mutex_unlock(&s->wake_mu);
  /* One datagram at a time per server: the socket pair never fills. */
  if (send) mg_wakeup(s->mgr, s->svc_id, "w", 1);
}

static const connectc_server_call_hooks hooks = {
    .lock = t_lock, .unlock = t_unlock, .wake = t_wake, .ref = t_ref, .unref = t_unref};

/* Locks a request for the loop: output the handler produces meanwhile is
 * pumped by the loop afterwards, not woken for. */
static void loop_lock(req *r) {
  pthread_mutex_lock(&r->mu);
  r->in_loop = 1;
}
static void loop_unlock(req *r) {
  r->in_loop = 0;
  pthread_mutex_unlock(&r->mu);
}

/* ---- writing ---- */

/* Sends `n` bytes that a connectc_http1_write_* call (snprintf-like)
 * wrote into stack[0..cap), or that `big` holds when they did not fit;
 * 0 when they are nowhere (out of memory) or Mongoose could not take
 * them. Frees big. */
static int send_written(struct mg_connection *c, const char *stack, size_t cap, size_t n,
                        char *big) {
  int ok = (big || n < cap) && mg_send(c, big ? big : stack, n);
  free(big);
  return ok;
}

/* Answers with the core's refusal (connectc/http.h) and closes. */
static void refuse_http(conn *mc, const connectc_http_refusal *why) {
  char buf[512];
  size_t n = connectc_http1_write_refusal(buf, sizeof buf, why);
  if (n >= sizeof buf) n = sizeof buf - 1; /* never: messages hold at most 191 bytes */
  mg_send(mc->c, buf, n);
  mc->last_io = connectc_mg_now_ms(); /* the answer has the idle timeout to leave */
  mc->closing = 1;
  mc->c->is_draining = 1;
  mc->c->recv.len = 0;
}

/* Answers a request the adapter refuses itself (its own limits, broken
 * chunked framing) the same way. */
static void refuse(conn *mc, int status, const char *why) {
  connectc_http_refusal r;
  r.status = status;
  r.code = status == 501 || status == 505   ? CONNECTC_CODE_UNIMPLEMENTED
           : status == 413 || status == 414 || status == 431 ? CONNECTC_CODE_RESOURCE_EXHAUSTED
           : status == 503                  ? CONNECTC_CODE_UNAVAILABLE
                                            : CONNECTC_CODE_INVALID_ARGUMENT;
  snprintf(r.message, sizeof r.message, "%s", why);
  refuse_http(mc, &r);
}

/* ---- one request ---- */

/* Writes the response head and as much body as the send buffer takes.
 * With r->mu held. Returns 0 when the connection must be closed at once
 * (the call was abandoned without a response, or out of memory). */
static int pump_out(req *r) {
  conn *mc = r->mc;
  struct mg_connection *c = mc->c;
  connectc_mg_server *s = r->s;
  if (!r->head_sent) {
    connectc_response_head head;
    if (connectc_server_call_response_head(r->call, &head) != CONNECTC_OK)
      return !connectc_server_call_is_finished(r->call);
    r->chunked = head.content_length < 0 && !r->http10;
    r->close_after = !r->keep_alive || !r->body_done || mc->closing || s->stopping ||
                     (head.content_length < 0 && r->http10);
    unsigned flags = (r->chunked ? CONNECTC_HTTP1_CHUNKED : 0u) |
                     (r->close_after ? CONNECTC_HTTP1_CLOSE : 0u);
    char stack[2048];
    size_t n = connectc_http1_write_response_head(stack, sizeof stack, head.status, head.headers,
                                                  head.content_length, flags);
    char *big = n < sizeof stack ? NULL : malloc(n + 1);
    if (big)
      connectc_http1_write_response_head(big, n + 1, head.status, head.headers,
                                         head.content_length, flags);
    r->head_sent = 1;
    mc->last_io = connectc_mg_now_ms(); /* from now on the client must read */
    if (!send_written(c, stack, sizeof stack, n, big)) return 0;
  }
  while (!r->resp_done) {
    size_t room = s->send_hwm > c->send.len ? s->send_hwm - c->send.len : 0;
    if (room == 0) break;
    const uint8_t *data;
    size_t len;
    int done;
    connectc_server_call_body_peek(r->call, &data, &len, &done);
    if (len) {
      size_t k = len < room ? len : room;
      if (r->chunked) {
        char sz[24 + 2]; /* the digits end at sz + 24 (cc_fmt_uint), then CRLF */
        const char *hex = cc_fmt_uint(sz, k, 16);
        memcpy(sz + 24, "\r\n", 2);
        if (!mg_send(c, hex, (size_t)(sz + sizeof sz - hex)) || !mg_send(c, data, k) ||
            !mg_send(c, "\r\n", 2))
          return 0;
      } else if (!mg_send(c, data, k)) {
        return 0;
      }
      connectc_server_call_body_consume(r->call, k);
      mc->last_io = connectc_mg_now_ms();
      continue;
    }
    if (done) {
      if (r->chunked) {
        /* HTTP trailers (gRPC's status) go in the chunked ending. */
        const connectc_headers *t = connectc_server_call_response_http_trailers(r->call);
        char stack[1024];
        size_t n = connectc_http1_write_chunked_end(stack, sizeof stack, t);
        char *big = n < sizeof stack ? NULL : malloc(n + 1);
        if (big) connectc_http1_write_chunked_end(big, n + 1, t);
        if (!send_written(c, stack, sizeof stack, n, big)) return 0;
      }
      r->resp_done = 1;
    }
    break;
  }
  return 1;
}

/* Feeds request body bytes and returns how many the call took: all of
 * them unless it paused (connectc_server_call_pause_recv, its consumer is
 * behind), which leaves the rest to be fed again after the resume. Once
 * the call is finished they are counted and dropped. With r->mu held. */
static size_t feed(req *r, const uint8_t *p, size_t n) {
  if (connectc_server_call_is_finished(r->call)) {
    r->discarded += n;
    return n;
  }
  size_t taken = n;
  (void)connectc_server_call_recv_body_some(r->call, p, n, &taken);
  if (taken < n && connectc_server_call_is_finished(r->call)) {
    r->discarded += n - taken; /* it failed meanwhile: nobody takes the rest */
    taken = n;
  }
  return taken;
}

static void end_body(req *r) {
  r->body_done = 1;
  (void)connectc_server_call_recv_end(r->call); /* synchronous handlers run here */
}

/* Reads request body bytes from the connection's receive buffer. With
 * r->mu held. What a paused call does not take stays at the front of the
 * buffer (for chunked bodies the decoder is given it back, so its place
 * in the chunk stays right); the body ends (recv_end) only once all of it
 * was taken. The bytes taken leave the buffer once, on the way out (and
 * before recv_end runs the handler), not chunk by chunk: a body of many
 * tiny chunks would otherwise move the rest of the buffer once per chunk
 * (perf: memmove 71% of the server's time under 1-byte chunks). Returns 0
 * when the framing is broken and the connection must be closed, 2 when it
 * stopped at a pause with body bytes left, else 1. */
static int pump_in(req *r) {
  struct mg_iobuf *in = &r->mc->c->recv;
  size_t off = 0; /* the bytes of `in` taken so far */
  int rv = 1;
  while (!r->body_done && off < in->len) {
    const uint8_t *p = in->buf + off;
    size_t avail = in->len - off;
    if (r->body == CC_H1_BODY_LENGTH) {
      size_t n = (uint64_t)avail < r->body_left ? avail : (size_t)r->body_left;
      size_t taken = feed(r, p, n);
      r->body_left -= taken;
      off += taken;
      if (r->body_left == 0) {
        cc_mg_iobuf_drop(in, off);
        off = 0;
        end_body(r);
      }
      if (taken < n) {
        rv = 2;
        break;
      }
      continue;
    }
    size_t used = 0, dlen = 0;
    const uint8_t *data = NULL;
    cc_chunked_result res = cc_chunked_decode(&r->dec, p, avail, &used, &data, &dlen);
    if (res == CC_CHUNKED_ERROR) {
      rv = 0;
      break;
    }
    /* While paused the framing is still read (it holds no body), up to
     * the next data: a stream whose last message paused it ends. */
    size_t back = res == CC_CHUNKED_DATA ? dlen - feed(r, data, dlen) : 0;
    if (back) (void)cc_chunked_unread(&r->dec, back); /* just past that span: cannot fail */
    off += used - back;
    if (back) {
      rv = 2;
      break;
    }
    if (res == CC_CHUNKED_DONE) {
      cc_mg_iobuf_drop(in, off);
      off = 0;
      end_body(r);
    }
  }
  cc_mg_iobuf_drop(in, off);
  return rv;
}

/* ---- connections ---- */

static void conn_fn(struct mg_connection *c, int ev, void *ev_data);

static void conn_unlink(conn *mc) {
  connectc_mg_server *s = mc->s;
  if (mc->prev) mc->prev->next = mc->next;
  else s->conns = mc->next;
  if (mc->next) mc->next->prev = mc->prev;
  s->n_conns--;
}

static conn *conn_new(connectc_mg_server *s, struct mg_connection *c) {
  conn *mc = s->spare;
  if (mc) {
    s->spare = NULL;
    connectc_compress_ctx *cctx = mc->cctx;
    memset(mc, 0, sizeof *mc);
    mc->cctx = cctx;
  } else if (!(mc = calloc(1, sizeof *mc))) {
    return NULL;
  }
  mc->s = s;
  mc->c = c;
  mc->last_io = connectc_mg_now_ms();
  cc_h1_scanner_init(&mc->scan);
  mc->next = s->conns;
  if (s->conns) s->conns->prev = mc;
  s->conns = mc;
  s->n_conns++;
  /* Bodies are read as they arrive: a larger receive buffer than
   * MG_IO_SIZE means fewer reads per body. */
  if (c->recv.size < 16384) mg_iobuf_resize(&c->recv, 16384);
  return mc;
}

/* Lets go of the connection's request (the loop's reference): its
 * response was written, or the connection went away. */
static void drop_request(conn *mc) {
  req *r = mc->r;
  if (!r) return;
  mc->r = NULL;
  pthread_mutex_lock(&r->mu);
  if (!connectc_server_call_is_finished(r->call)) connectc_server_call_cancel(r->call);
  connectc_server_call_complete(r->call, connectc_mg_now_ms()); /* its stats */
  r->gone = 1;
  pthread_mutex_unlock(&r->mu);
  r->mc = NULL;
  req_unref(r);
}

/* Frees a connection the loop unlinked; its request was dropped first. */
static void conn_free(conn *mc) {
  connectc_compress_ctx_del(mc->cctx);
  free(mc);
}

/* Gives a handed-over connection back to the application's handler. */
static void give_back(conn *mc) {
  connectc_mg_server *s = mc->s;
  struct mg_connection *c = mc->c;
  c->fn = mc->saved_fn;
  c->fn_data = mc->saved_fn_data;
  c->pfn = mc->saved_pfn;
  c->pfn_data = mc->saved_pfn_data;
  conn_unlink(mc);
  if (!s->spare) s->spare = mc;
  else conn_free(mc);
}

/* Starts serving the request whose head is in recv[off, off + head_len).
 * Returns 0 when the connection was refused and is closing. */
static int start_request(conn *mc, size_t off, size_t head_len) {
  connectc_mg_server *s = mc->s;
  struct mg_connection *c = mc->c;
  mc->head_since = 0;
  /* The rules every connectc server applies (connectc/http.h) read the
   * head, so this server refuses what the others refuse, the same way. */
  const char *raw = (const char *)c->recv.buf + off;
  connectc_http1_limits lim = {s->max_head, s->max_headers};
  connectc_http1_head h;
  connectc_http_target tg;
  connectc_http_refusal hwhy;
  int keep_alive = 0;
  if (cc_h1_check_rules(raw, head_len, &lim, &h, s->fields, s->max_headers, &keep_alive, &tg,
                        &hwhy)) {
    refuse_http(mc, &hwhy);
    return 0;
  }
  if (h.method_len > 31) {
    refuse(mc, 501, "unknown method");
    return 0;
  }
  char method[32];
  memcpy(method, h.method, h.method_len);
  method[h.method_len] = 0;
  char target_small[256];
  char *target = h.target_len + 2 <= sizeof target_small ? target_small : malloc(h.target_len + 2);
  req *r = calloc(1, sizeof *r);
  int ok = target && r;
  /* The path percent-decoded (never holding a NUL), then the query as
   * sent, each NUL-terminated, in `target`. */
  const char *query = NULL;
  size_t path_len = 0;
  int bad_path = 0;
  if (ok) {
    bad_path = connectc_http_decode_path(tg.path, tg.path_len, target, &path_len, &hwhy) !=
               CONNECTC_OK;
    if (!bad_path) {
      target[path_len] = 0;
      if (tg.query) {
        memcpy(target + path_len + 1, tg.query, tg.query_len);
        target[path_len + 1 + tg.query_len] = 0;
        query = target + path_len + 1;
      }
      ok = connectc_router_call_new(s->router, target, path_len, &r->call) == CONNECTC_OK;
      /* Without a context (out of memory) the call makes its own. A
       * handed-over connection's record, and its context, is kept for the
       * next handover (s->spare). */
      if (ok && !mc->cctx)
        (void)connectc_compress_ctx_new(connectc_router_allocator(s->router), &mc->cctx);
      if (ok && mc->cctx) (void)connectc_server_call_lend_compress_ctx(r->call, mc->cctx);
      /* The fields go straight into the call's own list: one copy. */
      connectc_headers *hl = ok ? connectc_server_call_headers_to_fill(r->call) : NULL;
      for (size_t i = 0; ok && i < h.n_fields; i++)
        ok = connectc_headers_add(hl, s->fields[i].name, s->fields[i].name_len,
                                  s->fields[i].value, s->fields[i].value_len) == CONNECTC_OK;
      if (!ok && r->call) {
        connectc_router_call_del(s->router, r->call);
        r->call = NULL;
      }
    }
  }
  if (bad_path) {
    if (target != target_small) free(target);
    free(r);
    refuse_http(mc, &hwhy);
    return 0;
  }
  if (!ok) {
    if (target != target_small) free(target);
    free(r);
    refuse(mc, 503, "out of memory");
    return 0;
  }
  r->s = s;
  r->mc = mc;
  r->refs = 1; /* the loop's, dropped when the connection lets go */
  /* Recursive: handlers run inside the loop's locked calls and may call
   * connectc_server_call_run themselves. */
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&r->mu, &attr);
  pthread_mutexattr_destroy(&attr);
  connectc_server_call_set_hooks(r->call, &hooks, r);
  pthread_mutex_lock(&s->mu);
  s->n_live++;
  pthread_mutex_unlock(&s->mu);
  r->keep_alive = keep_alive;
  r->http10 = h.minor == 0;
  r->body = cc_h1_request_body(&h, &r->body_left);
  if (r->body == CC_H1_BODY_CHUNKED) cc_chunked_init(&r->dec, NULL);
  int expect_continue = cc_h1_wants_continue(&h);
  mc->r = r;

  loop_lock(r);
  (void)connectc_server_call_recv_head(r->call, method, query,
                                       connectc_server_call_headers_to_fill(r->call),
                                       connectc_mg_now_ms());
  r->deadline = connectc_server_call_deadline(r->call);
  if (r->body == CC_H1_BODY_NONE) {
    end_body(r);
  } else if (expect_continue && !connectc_server_call_is_finished(r->call)) {
    mg_send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  }
  loop_unlock(r);
  if (target != target_small) free(target);
  cc_mg_iobuf_drop(&c->recv, off + head_len);
  cc_h1_scanner_init(&mc->scan);
  return 1;
}

/* Closes the connection now; its call, if unfinished, is canceled (on
 * MG_EV_CLOSE). */
static void abort_conn(conn *mc) {
  mc->closing = 1;
  mc->c->is_closing = 1;
}

/* Closes a connection with no request in progress once what it queued
 * (the last response) is written. */
static void close_idle(conn *mc) {
  mc->closing = 1;
  mc->c->is_draining = 1;
  mc->c->recv.len = 0;
}

/* Serves what the connection has: request heads (own listeners), body
 * bytes, response bytes; moves on to the next request when one is done. */
static void serve_once(conn *mc) {
  connectc_mg_server *s = mc->s;
  struct mg_connection *c = mc->c;
  for (;;) {
    if (mc->closing && !mc->r) {
      c->recv.len = 0; /* nothing more is read */
      return;
    }
    if (!mc->r) {
      if (mc->embedded) { /* the application serves what comes next */
        /* Not from under Mongoose's HTTP handler, which detaches itself
         * when it returns: the event it was handling reaches conn_fn
         * next, and the connection goes back from there. */
        if (!mc->in_handover) give_back(mc);
        return;
      }
      if (s->stopping) {
        close_idle(mc);
        return;
      }
      if (c->recv.len == 0) return;
      if (!mc->head_since) mc->head_since = connectc_mg_now_ms();
      long n = cc_h1_scan(&mc->scan, c->recv.buf, c->recv.len, s->max_head);
      if (n < 0) {
        refuse(mc, (int)-n,
               n == -414   ? "request line too long"
               : n == -431 ? "request head too large"
                           : "malformed request head (bare CR or LF, or NUL)");
        return;
      }
      if (n == 0) return;
      if (!start_request(mc, 0, (size_t)n)) return;
    }
    req *r = mc->r;
    loop_lock(r);
    int ok;
    for (;;) {
      int in = pump_in(r);
      ok = in && pump_out(r);
      r->paused = !r->body_done && connectc_server_call_recv_paused(r->call);
      /* Stopped at a pause, but resumed meanwhile (from a callback that
       * pump_out ran, say: no wake is sent while the loop holds the call,
       * as it pumps after): feed what is held. A call takes bytes unless
       * it is paused, so this ends. */
      if (!ok || in != 2 || r->paused) break;
    }
    const char *bad = ok ? NULL : cc_chunked_error(&r->dec);
    int done = r->resp_done && (r->body_done || r->discarded > s->max_discard);
    int close_now = r->resp_done && !r->body_done && r->discarded > s->max_discard;
    loop_unlock(r);
    if (bad) {
      /* Broken chunked framing: answer 400 if nothing was sent yet. */
      int sent = r->head_sent;
      drop_request(mc);
      if (!sent) refuse(mc, 400, bad);
      else abort_conn(mc);
      return;
    }
    if (!ok) {
      drop_request(mc);
      abort_conn(mc);
      return;
    }
    if (!done) {
      /* Waiting for the handler or the client. A paused call reads
       * nothing more; past the request, hold no more than 64 KiB of what
       * the client sends next. */
      c->is_full = r->paused || (r->body_done && c->recv.len >= 65536);
      return;
    }
    c->is_full = 0;
    int close_after = r->close_after || close_now;
    drop_request(mc);
    if (close_after) {
      mc->closing = 1;
      c->is_draining = 1;
      c->recv.len = 0;
      return;
    }
  }
}

/* Rounds of serve() that send directly before Mongoose takes over. */
enum { DIRECT_ROUNDS = 8 };

/* Serves, then sends what that queued at once instead of on Mongoose's
 * next iteration. In epoll mode Mongoose adds EPOLLOUT to a connection
 * with bytes queued at the start of an iteration and removes it once they
 * are written: two epoll_ctl calls and one more wakeup per response,
 * which a send that empties the buffer here avoids. Only when nothing was
 * queued when this began: then EPOLLOUT is not set (Mongoose removes it
 * whenever it empties the buffer, and bytes sent here are only ever those
 * of a buffer that was empty), so emptying the buffer behind Mongoose's
 * back cannot leave it set on an empty buffer. No Mongoose write follows
 * a send made here, so no MG_EV_WRITE either: the next round serves
 * again, as MG_EV_WRITE would, for a response the send window held back.
 * After DIRECT_ROUNDS, or a partial send, what is queued goes Mongoose's
 * way (and MG_EV_WRITE follows). Plain TCP only: TLS goes through
 * Mongoose's record layer. */
static void serve(conn *mc) {
  struct mg_connection *c = mc->c;
  int direct = !c->is_tls && c->send.len == 0;
  for (int round = 0;; round++) {
    serve_once(mc);
    /* An embedded connection may have gone back to the application, and
     * mc with it (give_back): then mc is not looked at again. */
    int ours = c->fn_data == mc;
    if (!direct || round == DIRECT_ROUNDS || c->is_closing || c->send.len == 0) return;
    long n = mg_io_send(c, c->send.buf, c->send.len);
    if (n <= 0) return; /* would block, or an error Mongoose's own write will see */
    cc_mg_iobuf_drop(&c->send, (size_t)n);
    if (!ours) return;
    mc->last_io = connectc_mg_now_ms();
    if (c->send.len > 0 || !mc->r) return;
  }
}

static void on_poll(conn *mc, int64_t now) {
  connectc_mg_server *s = mc->s;
  struct mg_connection *c = mc->c;
  req *r = mc->r;
  if (r && r->deadline >= 0 && now >= r->deadline) {
    r->deadline = -1; /* once: the call has finished now */
    loop_lock(r);
    connectc_server_call_tick(r->call, now);
    loop_unlock(r);
    serve(mc);
    return;
  }
  /* Part of a head, for longer than the idle timeout (however slowly
   * it trickles in): 408, as every connectc server answers. */
  if (!r && !mc->closing && mc->head_since && now - mc->head_since > (int64_t)s->idle_ms) {
    connectc_http_refusal why = {408, CONNECTC_CODE_DEADLINE_EXCEEDED, {0}};
    snprintf(why.message, sizeof why.message,
             "the request head did not arrive within %u ms (idle_timeout_ms)", s->idle_ms);
    refuse_http(mc, &why);
    return;
  }
  /* The response is out but the client stopped sending the rest of the
   * request body: nothing more will be served on this connection. */
  if (r && r->resp_done && !r->body_done && c->send.len == 0 &&
      now - mc->last_io > (int64_t)(s->idle_ms < DRAIN_QUIET_MS ? s->idle_ms : DRAIN_QUIET_MS)) {
    abort_conn(mc);
    return;
  }
  /* A paused call waits for its consumer, not for the client: the idle
   * clock starts again when it resumes. */
  if (r && r->paused) mc->last_io = now;
  /* Waiting on the client (a head, a body, room to send) for too long. */
  int waiting_client = !r || !r->body_done || c->send.len > 0;
  if (waiting_client && now - mc->last_io > (int64_t)s->idle_ms) abort_conn(mc);
}

static void conn_fn(struct mg_connection *c, int ev, void *ev_data) {
  conn *mc = c->fn_data;
  if (mc->embedded && !mc->r && !mc->closing && ev != MG_EV_CLOSE) {
    /* The request served under Mongoose's HTTP handler is done: this is
     * the first event after it, and the connection goes back. */
    give_back(mc);
    return;
  }
  switch (ev) {
    case MG_EV_READ:
      mc->last_io = connectc_mg_now_ms();
      serve(mc);
      break;
    case MG_EV_WRITE:
      mc->last_io = connectc_mg_now_ms();
      if (mc->r) serve(mc);
      break;
    case MG_EV_POLL:
      on_poll(mc, (int64_t)*(const uint64_t *)ev_data);
      break;
    case MG_EV_ERROR:
      if (mc->embedded && mc->saved_fn) {
        c->fn_data = mc->saved_fn_data;
        mc->saved_fn(c, ev, ev_data);
        c->fn_data = mc;
      }
      break;
    case MG_EV_CLOSE: {
      drop_request(mc);
      mg_event_handler_t fn = mc->embedded ? mc->saved_fn : NULL;
      void *fn_data = mc->saved_fn_data;
      conn_unlink(mc);
      conn_free(mc);
      c->fn = fn;
      c->fn_data = fn_data;
      if (fn) fn(c, ev, ev_data); /* the application accepted it: it sees it go */
      break;
    }
    default:
      break;
  }
}

/* ---- listeners ---- */

static void listen_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void)ev_data;
  listener *l = c->fn_data;
  if (ev == MG_EV_CLOSE && c->is_listening) {
    l->c = NULL; /* the manager was freed before the server */
    return;
  }
  if (ev != MG_EV_ACCEPT || c->is_listening) return;
  connectc_mg_server *s = l->s;
  conn *mc = NULL;
  if (s->stopping || s->n_conns >= s->max_connections || !(mc = conn_new(s, c))) {
    c->fn = NULL;
    c->fn_data = NULL;
    c->is_closing = 1;
    return;
  }
  c->fn = conn_fn;
  c->fn_data = mc;
  if (l->tls) {
    struct mg_tls_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.cert = mg_str(s->cert);
    opts.key = mg_str(s->key);
    mg_tls_init(c, &opts);
  }
}

int connectc_mg_listen(connectc_mg_server *s, const char *url, uint16_t *port) {
  if (!s || !url) return CONNECTC_ERR_ARGUMENT;
  int tls = strncmp(url, "https://", 8) == 0;
  if (!tls && strncmp(url, "http://", 7) != 0) return CONNECTC_ERR_ARGUMENT;
  if (tls && !s->cert) return CONNECTC_ERR_ARGUMENT;
  listener *l = calloc(1, sizeof *l);
  if (!l) return CONNECTC_ERR_NOMEM;
  l->s = s;
  l->tls = tls;
  l->c = mg_listen(s->mgr, url, listen_fn, l);
  if (!l->c) {
    free(l);
    return CONNECTC_ERR_UNSUPPORTED;
  }
#if MG_ARCH == MG_ARCH_UNIX
  /* mongoose.c listens with MG_SOCK_LISTEN_BACKLOG_SIZE (128 by default):
   * a burst of more connections than that drops SYNs, and each dropped
   * client waits a second or more for its retransmission. Listening again
   * on the bound socket only sets the longer queue. */
  (void)listen((int)(size_t)l->c->fd, SOMAXCONN);
#endif
  l->next = s->listeners;
  s->listeners = l;
  if (port) *port = mg_ntohs(l->c->loc.port);
  return CONNECTC_OK;
}

/* ---- embedding ---- */

int connectc_mg_serve(connectc_mg_server *s, struct mg_connection *c, int ev, void *ev_data) {
  if (!s || !c || ev != MG_EV_HTTP_HDRS || s->stopping) return 0;
  struct mg_http_message *hm = ev_data;
  if (!connectc_router_find(s->router, hm->uri.buf, hm->uri.len)) return 0;
  const char *base = (const char *)c->recv.buf;
  if (hm->head.buf < base || hm->head.buf + hm->head.len > base + c->recv.len) return 0;
  conn *mc = conn_new(s, c);
  if (!mc) return 0;
  mc->embedded = 1;
  mc->saved_fn = c->fn;
  mc->saved_fn_data = c->fn_data;
  mc->saved_pfn = c->pfn;
  mc->saved_pfn_data = c->pfn_data;
  c->fn = conn_fn;
  c->fn_data = mc;
  c->pfn = NULL; /* Mongoose's HTTP parser lets go of the connection */
  c->pfn_data = NULL;
  size_t off = (size_t)(hm->head.buf - base);
  /* Mongoose found the head; the strict scanner must find the same one. */
  long n = cc_h1_scan(&mc->scan, c->recv.buf + off, hm->head.len, s->max_head);
  if (n != (long)hm->head.len) {
    refuse(mc, n < 0 ? (int)-n : 400,
           n == -414   ? "request line too long"
           : n == -431 ? "request head too large"
                       : "malformed request head (bare CR or LF, or NUL)");
    return 1;
  }
  /* Removing the head from the receive buffer is also what tells
   * Mongoose's HTTP handler, which called us, to stand back. */
  mc->in_handover = 1;
  if (start_request(mc, off, hm->head.len)) serve(mc);
  mc->in_handover = 0;
  return 1;
}

/* ---- wakeups ---- */

static void drain_wakes(connectc_mg_server *s) {
  pthread_mutex_lock(&s->wake_mu);
  req *list = s->wakes;
  s->wakes = NULL;
  s->wake_sent = 0;
  pthread_mutex_unlock(&s->wake_mu);
  while (list) {
    /* Each leaves the list under the lock: once wake_queued is 0 a handler
     * may queue it again, which rewrites wake_next. */
    pthread_mutex_lock(&s->wake_mu);
    req *r = list;
    list = r->wake_next;
    r->wake_next = NULL;
    r->wake_queued = 0;
    pthread_mutex_unlock(&s->wake_mu);
    if (r->mc && r->mc->r == r) serve(r->mc);
    req_unref(r);
  }
}

static void svc_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void)c;
  (void)ev_data;
  connectc_mg_server *s = c->fn_data;
  if (ev == MG_EV_WAKEUP || ev == MG_EV_POLL) drain_wakes(s);
  if (ev == MG_EV_CLOSE) s->svc = NULL; /* the manager was freed before the server */
}

/* ---- the server ---- */

struct mg_mgr *connectc_mg_server_mgr(const connectc_mg_server *s) { return s->mgr; }
void connectc_mg_poll(connectc_mg_server *s, int timeout_ms) { mg_mgr_poll(s->mgr, timeout_ms); }
size_t connectc_mg_server_connections(const connectc_mg_server *s) { return s->n_conns; }

static void server_free(connectc_mg_server *s) {
  if (s->svc) {
    s->svc->fn = NULL;
    s->svc->fn_data = NULL;
    s->svc->is_closing = 1;
  }
  if (s->owns_mgr) mg_mgr_free(&s->own_mgr);
  pthread_mutex_destroy(&s->wake_mu);
  pthread_cond_destroy(&s->idle);
  pthread_mutex_destroy(&s->mu);
  if (s->spare) conn_free(s->spare);
  free(s->fields);
  free(s->cert);
  free(s->key);
  free(s);
}

int connectc_mg_server_new(const connectc_mg_server_config *cfg, connectc_router *router,
                           struct mg_mgr *mgr, connectc_mg_server **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  connectc_mg_server_config c;
  memset(&c, 0, sizeof c);
  if (cfg) c = *cfg;
  if (!router || (c.tls_cert_pem == NULL) != (c.tls_key_pem == NULL)) return CONNECTC_ERR_ARGUMENT;
  connectc_mg_server *s = calloc(1, sizeof *s);
  if (!s) return CONNECTC_ERR_NOMEM;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->idle, NULL);
  pthread_mutex_init(&s->wake_mu, NULL);
  s->router = router;
  s->max_connections = c.max_connections ? c.max_connections : 1024;
  s->idle_ms = c.idle_timeout_ms ? c.idle_timeout_ms : 60000;
  s->max_head = c.max_header_bytes ? c.max_header_bytes : CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES;
  s->max_headers = c.max_headers ? c.max_headers : (unsigned)CONNECTC_HTTP1_DEFAULT_MAX_FIELDS;
  s->max_discard = c.max_discard_bytes ? c.max_discard_bytes : 1024 * 1024;
  s->send_hwm = c.send_buffer_bytes ? c.send_buffer_bytes : 256 * 1024;
  s->grace_ms = c.shutdown_grace_ms ? c.shutdown_grace_ms : 5000;
  s->fields = calloc(s->max_headers, sizeof *s->fields);
  if (c.tls_cert_pem) {
    s->cert = strdup(c.tls_cert_pem);
    s->key = strdup(c.tls_key_pem);
  }
  if (!s->fields || (c.tls_cert_pem && (!s->cert || !s->key))) {
    server_free(s);
    return CONNECTC_ERR_NOMEM;
  }
  if (mgr) {
    s->mgr = mgr;
  } else {
    mg_mgr_init(&s->own_mgr);
    s->mgr = &s->own_mgr;
    s->owns_mgr = 1;
  }
  /* mg_wakeup_init refuses a second initialisation; either way the socket
   * pair must be there. */
  if (!mg_wakeup_init(s->mgr) && s->mgr->pipe.fd == MG_INVALID_SOCKET) {
    server_free(s);
    return CONNECTC_ERR_UNSUPPORTED;
  }
  /* The wakeups' target: a connection with no socket, polled every loop. */
  s->svc = mg_wrapfd(s->mgr, (int)MG_INVALID_SOCKET, svc_fn, s);
  if (!s->svc) {
    server_free(s);
    return CONNECTC_ERR_NOMEM;
  }
  s->svc_id = s->svc->id;
  *out = s;
  return CONNECTC_OK;
}

void connectc_mg_server_del(connectc_mg_server *s) {
  if (!s) return;
  s->stopping = 1;
  while (s->listeners) {
    listener *l = s->listeners;
    s->listeners = l->next;
    if (l->c) {
      l->c->fn = NULL;
      l->c->fn_data = NULL;
      l->c->is_closing = 1;
    }
    free(l);
  }
  /* Idle connections go now; the others after their response. */
  for (conn *mc = s->conns; mc; mc = mc->next) {
    mc->closing = 1;
    if (!mc->r) close_idle(mc); /* its last response may not be written yet */
  }
  int64_t deadline = connectc_mg_now_ms() + s->grace_ms;
  while (s->conns && connectc_mg_now_ms() < deadline) mg_mgr_poll(s->mgr, 10);
  /* Whatever is left: canceled and closed. */
  for (conn *mc = s->conns; mc; mc = mc->next) abort_conn(mc);
  for (int i = 0; s->conns && i < 100; i++) mg_mgr_poll(s->mgr, 0);
  while (s->conns) { /* the loop closed none of them? detach them ourselves */
    conn *mc = s->conns;
    struct mg_connection *c = mc->c;
    drop_request(mc);
    if (mc->embedded) {
      give_back(mc);
    } else {
      conn_unlink(mc);
      conn_free(mc);
      c->fn = NULL;
      c->fn_data = NULL;
    }
    c->is_closing = 1;
  }
  /* Asynchronous handlers may still hold canceled calls; their finish
   * releases them. Nothing may refer to the server (or the router) once
   * this returns, so wait for that, draining their wakeups meanwhile. */
  pthread_mutex_lock(&s->mu);
  while (s->n_live > 0) {
    pthread_mutex_unlock(&s->mu);
    drain_wakes(s);
    pthread_mutex_lock(&s->mu);
    if (s->n_live == 0) break;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 10 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->idle, &s->mu, &until);
  }
  pthread_mutex_unlock(&s->mu);
  drain_wakes(s);
  server_free(s);
}
