/*
 * The HTTP/1.1 side of the server's port: a connection whose first bytes
 * were not the HTTP/2 preface (or whose TLS ALPN picked "http/1.1") is
 * served here, with the same router and calls as the HTTP/2 streams.
 *
 * Sans-IO like the rest of connectc_h2_conn: bytes in through
 * cc_h1_recv, response bytes pulled by cc_h1_pull into the connection's
 * output buffer. Heads are read with the strict shared parser
 * (adapters/common/h1.h: one Host, no ambiguous framing, no bare CR/LF or
 * NUL) and bodies with the strict chunked decoder (chunked.h). One request
 * is served at a time; pipelined requests wait in the input buffer, which
 * is bounded (reading stops while it is full). A refused request gets one
 * well-formed answer with a Connect error body and the connection closes.
 * Responses of unknown length go out chunked, with any HTTP trailers the
 * call has (gRPC's) in the chunked trailer section.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn_internal.h"
#include "connectc/http.h"
#include "h1_rules.h"

enum { H1_HEAD = 0, H1_BODY, H1_WAIT };

#define H1_MAX_HEAD 65536
/* Field lines plus query parameters plus cookies, as on every connectc
 * server; their array is on the stack of the head check (8 KiB). */
#define H1_MAX_FIELDS CONNECTC_HTTP1_DEFAULT_MAX_FIELDS
/* Input kept while a response is in progress (pipelining) or a head is
 * incomplete; past it reading stops. */
#define H1_MAX_IN (H1_MAX_HEAD + 65536)
/* Request body bytes read and dropped after the response went out (the
 * call answered early, e.g. refused it), so the client can finish writing
 * and read the answer; past this the connection closes instead. */
#define H1_MAX_DRAIN ((uint64_t)1 << 20)

static const char *reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 499: return "Client Closed Request";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Status";
  }
}

static int put(connectc_h2_conn *c, const void *p, size_t n) {
  if (cc_out_put(c, p, n) < 0) {
    c->hard_close = 1;
    return -1;
  }
  return 0;
}
static int puts_(connectc_h2_conn *c, const char *s) { return put(c, s, strlen(s)); }
static int put_uint(connectc_h2_conn *c, uint64_t v, unsigned base) {
  char d[24];
  const char *p = cc_fmt_uint(d, v, base);
  return put(c, p, (size_t)(d + sizeof d - p));
}

void cc_h1_start(connectc_h2_conn *c) {
  memset(&c->h1, 0, sizeof c->h1);
  cc_h1_scanner_init(&c->h1.scan);
  c->h1.head_started_ms = -1;
}

void cc_h1_free(connectc_h2_conn *c) {
  free(c->h1.in);
  c->h1.in = NULL;
}

/* Drops the first n input bytes. */
static void take(h1_state *h, size_t n) {
  memmove(h->in, h->in + n, h->in_len - n);
  h->in_len -= n;
}

/* Answers a refused request (no call took it) and closes. */
static void refuse(connectc_h2_conn *c, int status, const char *code, const char *why) {
  h1_state *h = &c->h1;
  char body[320], head[256];
  int bn = snprintf(body, sizeof body, "{\"code\":\"%s\",\"message\":\"%s\"}", code, why);
  if (bn < 0 || (size_t)bn >= sizeof body) bn = (int)strlen(body);
  snprintf(head, sizeof head,
           "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
           "connection: close\r\n\r\n",
           status, reason(status), bn);
  if (puts_(c, head) == 0) put(c, body, (size_t)bn);
  h->closing = 1;
}

/* Answers with the core's refusal (connectc/http.h) and closes. */
static void refuse_http(connectc_h2_conn *c, const connectc_http_refusal *why) {
  char buf[512];
  size_t n = connectc_http1_write_refusal(buf, sizeof buf, why);
  if (n >= sizeof buf) n = sizeof buf - 1; /* never: messages hold at most 191 bytes */
  put(c, buf, n);
  c->h1.closing = 1;
}

static const char *code_for(int status) {
  return status == 431 || status == 413 || status == 414 ? "resource_exhausted"
         : status == 501 || status == 505                ? "unimplemented"
         : status == 408                                 ? "deadline_exceeded"
                                                         : "invalid_argument";
}

/* The current request is over (response complete): release it and go on
 * with the next one, or close. */
static void request_done(connectc_h2_conn *c) {
  h1_state *h = &c->h1;
  h2_stream *st = h->st;
  h->st = NULL;
  if (st) {
    st->closed = 1;
    (void)cc_stream_unref_locked(st); /* c->refs >= 1: the owner's */
  }
  if (h->close_after || !h->keep_alive) {
    h->closing = 1;
    return;
  }
  h->phase = H1_HEAD;
  h->head_sent = h->chunked_out = h->resp_done = h->body_was_paused = 0;
  h->drained = 0;
  cc_h1_scanner_init(&h->scan);
  h->head_started_ms = h->in_len ? c->now : -1;
}

/* 1 while the request body waits for a paused call. */
static int body_paused(const h1_state *h) {
  return h->phase == H1_BODY && h->st && h->st->call &&
         connectc_server_call_recv_paused(h->st->call);
}

/* Feeds body bytes from the input to the call. */
static void body(connectc_h2_conn *c) {
  h1_state *h = &c->h1;
  connectc_server_call *call = h->st->call;
  if (h->resp_done && h->drained > H1_MAX_DRAIN) {
    h->closing = 1;
    return;
  }
  if (h->body_kind == CC_H1_BODY_LENGTH) {
    size_t k = h->in_len < h->body_left ? h->in_len : (size_t)h->body_left;
    if (k) {
      /* A paused call takes part or none: the rest stays in h->in, and
       * reading stops (cc_h1_wants_read) until it resumes. */
      size_t taken = 0;
      if (connectc_server_call_recv_body_some(call, h->in, k, &taken) != CONNECTC_OK) taken = k;
      take(h, taken);
      h->body_left -= taken;
      if (h->resp_done) h->drained += taken;
      if (body_paused(h)) h->body_was_paused = 1;
    }
    if (h->body_left == 0) {
      h->phase = H1_WAIT;
      (void)connectc_server_call_recv_end(call);
    }
    return;
  }
  size_t off = 0;
  while (off < h->in_len) {
    size_t used;
    const uint8_t *data;
    size_t dlen;
    cc_chunked_result r =
        cc_chunked_decode(&h->chunked, h->in + off, h->in_len - off, &used, &data, &dlen);
    off += used;
    if (r == CC_CHUNKED_DATA) {
      size_t taken = 0;
      if (connectc_server_call_recv_body_some(call, data, dlen, &taken) != CONNECTC_OK)
        taken = dlen;
      if (h->resp_done) h->drained += taken;
      if (taken < dlen) {
        /* Paused: the decoder expects the rest again. */
        (void)cc_chunked_unread(&h->chunked, dlen - taken);
        off -= dlen - taken;
        h->body_was_paused = 1;
        break;
      }
    } else if (r == CC_CHUNKED_DONE) {
      take(h, off);
      h->phase = H1_WAIT;
      (void)connectc_server_call_recv_end(call);
      return;
    } else if (r == CC_CHUNKED_ERROR) {
      /* The body cannot be read: the request is abandoned. */
      take(h, h->in_len);
      connectc_server_call_cancel(call);
      if (!h->head_sent) {
        h->st->closed = 1;
        (void)cc_stream_unref_locked(h->st);
        h->st = NULL;
        refuse(c, 400, "invalid_argument", cc_chunked_error(&h->chunked));
      } else {
        c->hard_close = 1;
      }
      return;
    } else {
      break; /* MORE */
    }
  }
  take(h, off);
}

/* A complete head of n bytes: start the call. */
static void start(connectc_h2_conn *c, size_t n) {
  h1_state *h = &c->h1;
  /* The rules every connectc server applies (connectc/http.h) decide
   * first, so this side refuses what the others refuse, the same way. */
  connectc_http1_limits lim = {H1_MAX_HEAD, H1_MAX_FIELDS};
  connectc_http1_head head;
  connectc_http1_field fields[H1_MAX_FIELDS];
  connectc_http_target tg;
  connectc_http_refusal hw;
  int keep_alive = 0;
  if (cc_h1_check_rules((const char *)h->in, n, &lim, &head, fields, H1_MAX_FIELDS, &keep_alive,
                        &tg, &hw)) {
    refuse_http(c, &hw);
    return;
  }
  h2_stream *st = cc_stream_new(c, 0);
  if (!st) {
    c->hard_close = 1;
    return;
  }
  c->got_settings = 1; /* the handshake is over once a head parsed */
  /* The method, then the path percent-decoded (never holding a NUL) and
   * the query as sent, each NUL-terminated: on the stack when they fit
   * (the call copies them). */
  char small[320];
  size_t need = head.method_len + 1 + head.target_len + 2;
  char *buf = need <= sizeof small ? small : malloc(need);
  char *method = buf, *target = buf ? buf + head.method_len + 1 : NULL;
  size_t plen = 0;
  if (target &&
      connectc_http_decode_path(tg.path, tg.path_len, target, &plen, &hw) != CONNECTC_OK) {
    if (buf != small) free(buf);
    st->closed = 1;
    (void)cc_stream_unref_locked(st);
    refuse_http(c, &hw);
    return;
  }
  if (!buf || connectc_router_call_new(c->router, target, plen, &st->call) != CONNECTC_OK) {
    st->call = NULL;
    if (buf != small) free(buf);
    st->closed = 1;
    (void)cc_stream_unref_locked(st);
    refuse(c, 500, "resource_exhausted", "out of memory");
    return;
  }
  /* The fields go straight into the call's own list: one copy. */
  connectc_headers *hl = connectc_server_call_headers_to_fill(st->call);
  int bad = 0;
  for (size_t i = 0; i < head.n_fields && !bad; i++)
    bad = connectc_headers_add(hl, fields[i].name, fields[i].name_len, fields[i].value,
                               fields[i].value_len) != CONNECTC_OK;
  if (bad) {
    if (buf != small) free(buf);
    st->closed = 1;
    (void)cc_stream_unref_locked(st); /* deletes the call */
    refuse(c, 400, "invalid_argument", "a header field is not valid");
    return;
  }
  memcpy(method, head.method, head.method_len);
  method[head.method_len] = 0;
  target[plen] = 0;
  char *q = NULL;
  if (tg.query) {
    q = target + plen;
    memcpy(q + 1, tg.query, tg.query_len);
    q[1 + tg.query_len] = 0;
  }
  h->st = st;
  h->keep_alive = keep_alive;
  h->body_kind = cc_h1_request_body(&head, &h->body_left);
  if (h->body_kind == CC_H1_BODY_CHUNKED) cc_chunked_init(&h->chunked, NULL);
  int expect = cc_h1_wants_continue(&head);
  take(h, n);
  h->head_started_ms = -1;
  connectc_server_call_set_hooks(st->call, &cc_stream_ops, st);
  cc_conn_lend_ctx(c, st->call);
  (void)connectc_server_call_recv_head(st->call, method, q ? q + 1 : NULL, hl, c->now);
  if (buf != small) free(buf);
  if (h->body_kind == CC_H1_BODY_NONE) {
    h->phase = H1_WAIT;
    (void)connectc_server_call_recv_end(st->call);
    return;
  }
  /* 100 Continue only for a request the call did not refuse already. */
  if (expect && !connectc_server_call_is_finished(st->call))
    puts_(c, "HTTP/1.1 100 Continue\r\n\r\n");
  h->phase = H1_BODY;
}

/* Moves input forward as far as it goes. */
static void process(connectc_h2_conn *c) {
  h1_state *h = &c->h1;
  while (!h->closing && !c->hard_close) {
    if (h->phase == H1_HEAD) {
      if (h->st || h->in_len == 0) return;
      long n = cc_h1_scan(&h->scan, h->in, h->in_len, H1_MAX_HEAD);
      if (n == 0) {
        if (h->head_started_ms < 0) h->head_started_ms = c->now;
        return;
      }
      if (n < 0) {
        int status = (int)-n;
        refuse(c, status, code_for(status),
               status == 400   ? "malformed request head (bare CR or LF, or NUL)"
               : status == 414 ? "request line longer than 65536 bytes"
                               : "request head longer than 65536 bytes");
        return;
      }
      start(c, (size_t)n);
    } else if (h->phase == H1_BODY) {
      if (h->in_len == 0) return;
      body(c);
      if (h->phase == H1_BODY) return; /* all taken, or a partial chunk line waits */
    } else if (h->resp_done) {
      request_done(c); /* the body drained after an early answer */
    } else {
      return; /* H1_WAIT: the response first */
    }
  }
}

int cc_h1_recv(connectc_h2_conn *c, const uint8_t *data, size_t len) {
  h1_state *h = &c->h1;
  c->last_activity_ms = c->now;
  if (h->closing || c->hard_close) return -1;
  if (!len) return 0;
  if (h->in_len + len > h->in_cap) {
    size_t ncap = h->in_cap ? h->in_cap : 4096;
    while (ncap < h->in_len + len) ncap *= 2;
    uint8_t *nb = realloc(h->in, ncap);
    if (!nb) {
      c->hard_close = 1;
      return -1;
    }
    h->in = nb;
    h->in_cap = ncap;
  }
  memcpy(h->in + h->in_len, data, len);
  h->in_len += len;
  process(c);
  return h->closing || c->hard_close ? -1 : 0;
}

/* Queues `n` bytes that a connectc_http1_write_* call (snprintf-like)
 * wrote into stack[0..cap), or that `big` holds when they did not fit.
 * Frees big. */
static int put_written(connectc_h2_conn *c, const char *stack, size_t cap, size_t n, char *big) {
  if (!big && n >= cap) { /* out of memory for a long head */
    c->hard_close = 1;
    return -1;
  }
  int rv = put(c, big ? big : stack, n);
  free(big);
  return rv;
}

/* Writes the response head. */
static int write_head(connectc_h2_conn *c, const connectc_response_head *rh) {
  h1_state *h = &c->h1;
  h->chunked_out = rh->content_length < 0;
  unsigned flags = (h->chunked_out ? CONNECTC_HTTP1_CHUNKED : 0u) |
                   (h->close_after || !h->keep_alive ? CONNECTC_HTTP1_CLOSE : 0u);
  char stack[2048];
  size_t n = connectc_http1_write_response_head(stack, sizeof stack, rh->status, rh->headers,
                                                rh->content_length, flags);
  char *big = n < sizeof stack ? NULL : malloc(n + 1);
  if (big)
    connectc_http1_write_response_head(big, n + 1, rh->status, rh->headers, rh->content_length,
                                       flags);
  return put_written(c, stack, sizeof stack, n, big);
}

void cc_h1_pull(connectc_h2_conn *c, size_t max) {
  h1_state *h = &c->h1;
  while (h->st && h->st->call && !h->resp_done && !c->hard_close &&
         c->out_len - c->out_off < max) {
    connectc_server_call *call = h->st->call;
    if (!h->head_sent) {
      connectc_response_head rh;
      if (connectc_server_call_response_head(call, &rh) != CONNECTC_OK) {
        /* Finished with no response: abandoned. */
        if (connectc_server_call_is_finished(call)) c->hard_close = 1;
        return;
      }
      if (write_head(c, &rh)) return;
      h->head_sent = 1;
    }
    const uint8_t *data;
    size_t len;
    int done;
    connectc_server_call_body_peek(call, &data, &len, &done);
    if (len) {
      size_t room = max - (c->out_len - c->out_off);
      if (len > room && room >= 1024) len = room;
      if (h->chunked_out) {
        if (put_uint(c, len, 16) || put(c, "\r\n", 2) || put(c, data, len) || put(c, "\r\n", 2))
          return;
      } else if (put(c, data, len)) {
        return;
      }
      connectc_server_call_body_consume(call, len);
      continue;
    }
    if (!done) return;
    if (h->chunked_out) {
      const connectc_headers *t = connectc_server_call_response_http_trailers(call);
      char stack[1024];
      size_t n = connectc_http1_write_chunked_end(stack, sizeof stack, t);
      char *big = n < sizeof stack ? NULL : malloc(n + 1);
      if (big) connectc_http1_write_chunked_end(big, n + 1, t);
      if (put_written(c, stack, sizeof stack, n, big)) return;
    }
    h->resp_done = 1;
    if (h->phase != H1_WAIT) {
      /* Answered before the request body ended: read (and drop) the rest
       * so that the client can read the answer, then go on. */
      process(c);
      return;
    }
    request_done(c);
    process(c); /* a pipelined request may be waiting */
  }
}

int64_t cc_h1_tick(connectc_h2_conn *c, int64_t now) {
  h1_state *h = &c->h1;
  c->now = now;
  int64_t next = -1;
  if (h->closing) return -1;
  if (h->st && h->st->call) {
    connectc_server_call *call = h->st->call;
    int64_t d = connectc_server_call_deadline(call);
    if (d >= 0 && !connectc_server_call_is_finished(call)) {
      if (now >= d) connectc_server_call_tick(call, now);
      else next = d;
    }
    /* A request body that stops arriving (not while the call paused it). */
    if (h->phase == H1_BODY && body_paused(h)) {
      h->body_was_paused = 1;
    } else if (h->phase == H1_BODY) {
      if (now - c->last_activity_ms >= c->idle_ms) {
        connectc_server_call_cancel(call);
        c->hard_close = 1;
        return -1;
      }
      int64_t idle = c->last_activity_ms + c->idle_ms;
      if (next < 0 || idle < next) next = idle;
    }
    return next;
  }
  /* Between requests: a head must arrive in time, and an idle
   * connection goes. */
  unsigned head_ms = c->handshake_ms;
  if (h->head_started_ms >= 0 || !c->got_settings) {
    int64_t since = h->head_started_ms >= 0 ? h->head_started_ms : c->created_ms;
    if (now - since >= head_ms) {
      refuse(c, 408, "deadline_exceeded", "the request head did not arrive in time");
      return -1;
    }
    next = since + head_ms;
  }
  if (now - c->last_activity_ms >= c->idle_ms) {
    h->closing = 1;
    return -1;
  }
  int64_t idle = c->last_activity_ms + c->idle_ms;
  return next < 0 || idle < next ? idle : next;
}

void cc_h1_shutdown(connectc_h2_conn *c) {
  h1_state *h = &c->h1;
  if (h->st) h->close_after = 1; /* after this response */
  else h->closing = 1;
}

int cc_h1_is_done(connectc_h2_conn *c) {
  return c->h1.closing && c->out_len == c->out_off;
}

void cc_h1_resume(connectc_h2_conn *c) {
  h1_state *h = &c->h1;
  if (!h->body_was_paused || body_paused(h)) return;
  /* The wait for the client starts again now: the time paused was ours. */
  h->body_was_paused = 0;
  c->last_activity_ms = c->now;
  if (h->phase == H1_BODY && h->in_len && h->st && h->st->call) process(c);
}

int cc_h1_wants_read(connectc_h2_conn *c) {
  return !c->h1.closing && c->h1.in_len < H1_MAX_IN && !body_paused(&c->h1);
}
