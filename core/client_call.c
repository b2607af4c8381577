/*
 * The client call state machine: typed intents in, request bytes out;
 * response bytes in, messages and exactly one final status out.
 *
 * Error codes and messages for a misbehaving server follow connect-go's
 * client, which the conformance suite uses as its reference.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "call_internal.h"
#include "compress_internal.h"
#include "connectc/http.h"
#include "grpc.h"
#include "protocol.h"
#include "wire_error.h"

enum resp_state {
  RESP_WAIT_HEAD = 0, /* nothing received yet */
  RESP_BODY,          /* head accepted, reading the body */
  RESP_ERROR_BODY,    /* unary non-200 with a JSON body: collecting the error */
  RESP_DISCARD        /* the outcome is known; ignore the rest */
};

struct connectc_client_call {
  connectc_allocator alloc;
  connectc_client_callbacks cb;
  void *user_data;

  char *procedure;
  char *codec;
  connectc_stream_type stream_type;
  connectc_compression send_comp;
  connectc_call_limits limits;
  int64_t timeout_ms;
  int64_t deadline; /* -1: none */
  int use_get;
  connectc_protocol protocol;
  int full_duplex;
  int framed; /* messages travel in envelopes: every call but Connect unary */

  /* Own (created when needed, freed with the call) or, when cctx_lent,
   * borrowed from connectc_client_config.compress_ctx: never freed here,
   * and let go of (NULL) once the call closed. */
  connectc_compress_ctx *cctx;
  int cctx_lent;

  /* request */
  connectc_headers req_headers;
  int head_built;
  char *path;
  int64_t content_length;
  cc_outq body;
  int send_closed;
  size_t n_sent;
  int unary_compressed;

  /* response */
  enum resp_state rstate;
  int http_status;
  connectc_headers resp_headers;
  connectc_headers trailers;
  cc_buf unary_body;
  connectc_compression resp_comp;
  cc_msg_reader reader;
  int got_end_stream;   /* Connect end-stream message, or gRPC-Web trailer frame */
  int got_http_trailers; /* gRPC: HTTP trailers arrived */
  uint64_t body_bytes;   /* response body bytes received (trailers-only detection) */
  int64_t expect_len;    /* Connect unary: the response's Content-Length, or -1 */
  size_t n_received;
  int held_done; /* client stream: the held response was delivered */
  connectc_error end_err; /* error carried by the end-of-stream message */

  int closed;
  int recv_paused; /* connectc_client_call_pause_recv */
  connectc_error err;

  /* interceptors and stats */
  const struct connectc_client_interceptor *const *icpt;
  size_t n_icpt;
  connectc_stats_fn on_stats;
  void *stats_ud;
  int stats_done;
  int64_t start_ms, now_ms, end_ms;
  uint64_t req_wire, req_bytes, req_msgs, resp_bytes, resp_msgs;
  /* Last: not zeroed at creation (cc_headers_init_storage sets up what
   * it uses). The first blocks of req_headers and resp_headers. */
  cc_headers_storage req_store, resp_store;
};

static int is_unary_request(connectc_stream_type st) {
  return st == CONNECTC_STREAM_UNARY || st == CONNECTC_STREAM_SERVER;
}
static int is_unary_response(connectc_stream_type st) {
  return st == CONNECTC_STREAM_UNARY || st == CONNECTC_STREAM_CLIENT;
}

/* ---- closing ---- */

static void close_call(connectc_client_call *c) {
  if (c->closed) return;
  c->closed = 1;
  if (c->cctx_lent) c->cctx = NULL; /* a closed call compresses nothing more */
  c->rstate = RESP_DISCARD;
  c->send_closed = 1;
  for (size_t i = c->n_icpt; i-- > 0;)
    if (c->icpt[i]->on_close) c->icpt[i]->on_close(c, &c->err, &c->trailers, c->icpt[i]->user_data);
  if (c->cb.on_close) c->cb.on_close(c, &c->err, &c->trailers, c->user_data);
}

static void close_with(connectc_client_call *c, connectc_code code, const char *fmt, ...)
    CONNECTC_PRINTF(3, 4);
static void close_with(connectc_client_call *c, connectc_code code, const char *fmt, ...) {
  if (c->closed) return;
  va_list ap;
  va_start(ap, fmt);
  connectc_error_setv(&c->err, code, fmt, ap);
  va_end(ap);
  close_call(c);
}

/* Closes with an error already described in `e` (moved in by copy). */
static void close_with_error(connectc_client_call *c, const connectc_error *e) {
  if (c->closed) return;
  if (connectc_error_copy(&c->err, e) != CONNECTC_OK) c->err.code = e->code;
  if (c->err.code == CONNECTC_CODE_OK) c->err.code = CONNECTC_CODE_INTERNAL;
  close_call(c);
}

/* ---- creation ---- */

int connectc_client_call_new(const connectc_client_config *cfg,
                             const connectc_client_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, int64_t now_ms,
                             connectc_client_call **out) {
  if (!cfg || !out || !cfg->procedure || cfg->procedure[0] != '/' || !cfg->codec ||
      !cfg->codec[0] || cfg->timeout_ms < 0 || (unsigned)cfg->stream_type > 3u)
    return CONNECTC_ERR_ARGUMENT;
  if (cfg->use_get && cfg->stream_type != CONNECTC_STREAM_UNARY) return CONNECTC_ERR_ARGUMENT;
  if ((unsigned)cfg->protocol > 2u) return CONNECTC_ERR_ARGUMENT;
  if (cfg->use_get && cfg->protocol != CONNECTC_PROTOCOL_CONNECT) return CONNECTC_ERR_ARGUMENT;
  if (!connectc_compression_supported(cfg->send_compression)) return CONNECTC_ERR_UNSUPPORTED;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  /* The procedure and codec names live in the same allocation. */
  size_t plen = strlen(cfg->procedure), clen = strlen(cfg->codec);
  if (plen > SIZE_MAX / 2 - sizeof(connectc_client_call) || clen > SIZE_MAX / 4) return CONNECTC_ERR_NOMEM;
  connectc_client_call *c = cc_malloc(a, sizeof *c + plen + clen + 2);
  if (!c) return CONNECTC_ERR_NOMEM;
  memset(c, 0, offsetof(connectc_client_call, req_store));
  c->alloc = *a;
  c->procedure = (char *)(c + 1);
  memcpy(c->procedure, cfg->procedure, plen + 1);
  c->codec = c->procedure + plen + 1;
  memcpy(c->codec, cfg->codec, clen + 1);
  if (cb) c->cb = *cb;
  c->user_data = user_data;
  c->stream_type = cfg->stream_type;
  c->send_comp = cfg->send_compression;
  c->limits = cc_limits_resolve(&cfg->limits);
  c->timeout_ms = cfg->timeout_ms;
  c->deadline = cfg->timeout_ms > 0 ? now_ms + cfg->timeout_ms : -1;
  c->start_ms = c->now_ms = c->end_ms = now_ms;
  c->icpt = cfg->n_interceptors ? cfg->interceptors : NULL;
  c->n_icpt = c->icpt ? cfg->n_interceptors : 0;
  c->on_stats = cfg->on_stats;
  c->stats_ud = cfg->stats_user_data;
  c->use_get = cfg->use_get;
  c->protocol = cfg->protocol;
  c->full_duplex = cfg->full_duplex && cfg->stream_type == CONNECTC_STREAM_BIDI;
  c->framed = c->protocol != CONNECTC_PROTOCOL_CONNECT || c->stream_type != CONNECTC_STREAM_UNARY;
  c->content_length = -1;
  c->expect_len = -1;
  cc_headers_init_storage(&c->req_headers, &c->alloc, &c->req_store);
  cc_headers_init_storage(&c->resp_headers, &c->alloc, &c->resp_store);
  connectc_headers_init(&c->trailers, &c->alloc);
  connectc_error_init(&c->err, &c->alloc);
  connectc_error_init(&c->end_err, &c->alloc);
  uint8_t end_flag = c->protocol == CONNECTC_PROTOCOL_CONNECT   ? CONNECTC_ENVELOPE_FLAG_END_STREAM
                     : c->protocol == CONNECTC_PROTOCOL_GRPC_WEB ? CC_GRPC_WEB_FLAG_TRAILERS
                                                                 : 0;
  cc_msg_reader_init(&c->reader, c->limits.recv_max_bytes, end_flag, &c->alloc);
  /* A compression context only when a compression is used (requests now,
   * responses when one announces it). */
  if (cfg->compress_ctx) {
    c->cctx = cfg->compress_ctx;
    c->cctx_lent = 1;
  } else if (c->send_comp != CONNECTC_COMPRESSION_IDENTITY &&
             connectc_compress_ctx_new(&c->alloc, &c->cctx) != CONNECTC_OK) {
    connectc_client_call_del(c);
    return CONNECTC_ERR_NOMEM;
  }
  *out = c;
  return CONNECTC_OK;
}

static void report_stats(connectc_client_call *c) {
  if (c->stats_done) return;
  c->stats_done = 1;
  if (!c->on_stats) return;
  connectc_call_stats st;
  connectc_client_call_stats(c, &st);
  c->on_stats(&st, c->stats_ud);
}

void connectc_client_call_complete(connectc_client_call *c, int64_t now_ms) {
  if (!c || c->stats_done) return;
  c->end_ms = c->now_ms = now_ms;
  report_stats(c);
}

void connectc_client_call_stats(const connectc_client_call *c, connectc_call_stats *out) {
  memset(out, 0, sizeof *out);
  out->procedure = c->procedure;
  out->stream_type = c->stream_type;
  out->protocol = c->protocol;
  out->codec = c->codec;
  out->request_compression = c->send_comp;
  out->response_compression = c->resp_comp;
  out->request_wire_bytes = c->req_wire;
  out->request_bytes = c->req_bytes;
  out->request_messages = c->req_msgs;
  out->response_wire_bytes = c->body_bytes;
  out->response_bytes = c->resp_bytes;
  out->response_messages = c->resp_msgs;
  out->start_ms = c->start_ms;
  out->end_ms = c->stats_done ? c->end_ms : c->now_ms;
  out->code = c->closed ? c->err.code : CONNECTC_CODE_UNKNOWN;
  out->http_status = c->http_status;
}

void connectc_client_call_del(connectc_client_call *c) {
  if (!c) return;
  if (!c->stats_done) {
    c->end_ms = c->now_ms;
    report_stats(c);
  }
  connectc_allocator a = c->alloc;
  if (c->path != c->procedure) cc_free(&a, c->path);
  if (!c->cctx_lent) connectc_compress_ctx_del(c->cctx);
  connectc_headers_reset(&c->req_headers);
  connectc_headers_reset(&c->resp_headers);
  connectc_headers_reset(&c->trailers);
  connectc_error_reset(&c->err);
  connectc_error_reset(&c->end_err);
  cc_msg_reader_free(&c->reader);
  cc_outq_free(&c->body, &a);
  cc_buf_free(&c->unary_body, &a);
  cc_free(&a, c);
}

/* ---- request side ---- */

int connectc_client_call_add_header(connectc_client_call *c, const char *name,
                                    const char *value) {
  if (!c || !name || !value) return CONNECTC_ERR_ARGUMENT;
  if (c->head_built || c->closed) return CONNECTC_ERR_STATE;
  if (cc_header_is_reserved(name, strlen(name))) return CONNECTC_ERR_ARGUMENT;
  return connectc_headers_adds(&c->req_headers, name, value);
}

int connectc_client_call_add_header_bin(connectc_client_call *c, const char *name,
                                        const uint8_t *value, size_t len) {
  if (!c || !name) return CONNECTC_ERR_ARGUMENT;
  if (c->head_built || c->closed) return CONNECTC_ERR_STATE;
  if (cc_header_is_reserved(name, strlen(name))) return CONNECTC_ERR_ARGUMENT;
  return connectc_headers_add_bin(&c->req_headers, name, value, len);
}

/* What is left of the deadline at the latest time the call saw: what the
 * server is told, so that its deadline is not later than ours. */
static int64_t time_left(const connectc_client_call *c) {
  int64_t left = c->deadline - c->now_ms;
  return left > 0 ? left : 0;
}

static int add_grpc_headers(connectc_client_call *c) {
  connectc_headers *h = &c->req_headers;
  int rv = cc_add_content_type(h, c->protocol, 1, c->protocol == CONNECTC_PROTOCOL_GRPC, c->codec);
  if (rv == CONNECTC_OK && c->protocol == CONNECTC_PROTOCOL_GRPC)
    rv = connectc_headers_adds(h, "te", "trailers");
  if (rv == CONNECTC_OK && c->deadline >= 0) {
    char t[CC_GRPC_TIMEOUT_MAX];
    size_t n = cc_grpc_timeout_format(time_left(c), t);
    rv = connectc_headers_add(h, "grpc-timeout", 12, t, n);
  }
  if (rv == CONNECTC_OK && c->send_comp != CONNECTC_COMPRESSION_IDENTITY)
    rv = connectc_headers_adds(h, "grpc-encoding", connectc_compression_name(c->send_comp));
  const char *accept = connectc_compressions_accept_header();
  if (rv == CONNECTC_OK && accept[0]) rv = connectc_headers_adds(h, "grpc-accept-encoding", accept);
  return rv;
}

static int add_protocol_headers(connectc_client_call *c) {
  if (c->protocol != CONNECTC_PROTOCOL_CONNECT) return add_grpc_headers(c);
  connectc_headers *h = &c->req_headers;
  int streaming = c->stream_type != CONNECTC_STREAM_UNARY;
  int rv = CONNECTC_OK;
  if (!c->use_get) {
    rv = cc_add_content_type(h, CONNECTC_PROTOCOL_CONNECT, streaming, 0, c->codec);
    if (rv == CONNECTC_OK) rv = connectc_headers_adds(h, "connect-protocol-version", "1");
  }
  if (rv == CONNECTC_OK && c->deadline >= 0) {
    char t[11];
    cc_timeout_format(time_left(c), t);
    rv = connectc_headers_adds(h, "connect-timeout-ms", t);
  }
  const char *accept = connectc_compressions_accept_header();
  if (streaming) {
    if (rv == CONNECTC_OK && c->send_comp != CONNECTC_COMPRESSION_IDENTITY)
      rv = connectc_headers_adds(h, "connect-content-encoding",
                                 connectc_compression_name(c->send_comp));
    if (rv == CONNECTC_OK && accept[0])
      rv = connectc_headers_adds(h, "connect-accept-encoding", accept);
  } else {
    if (rv == CONNECTC_OK && c->unary_compressed && !c->use_get)
      rv = connectc_headers_adds(h, "content-encoding", connectc_compression_name(c->send_comp));
    if (rv == CONNECTC_OK && accept[0]) rv = connectc_headers_adds(h, "accept-encoding", accept);
  }
  return rv;
}

/* Runs the interceptors' on_request_head; 0 when one refused (the call is
 * then closed with its error). */
static int intercept_head(connectc_client_call *c) {
  for (size_t i = 0; i < c->n_icpt; i++) {
    if (!c->icpt[i]->on_request_head) continue;
    connectc_error refuse;
    connectc_error_init(&refuse, &c->alloc);
    int stop = c->icpt[i]->on_request_head(c, &c->req_headers, &refuse, c->icpt[i]->user_data);
    if (stop) {
      if (refuse.code == CONNECTC_CODE_OK) refuse.code = CONNECTC_CODE_CANCELED;
      if (!refuse.message)
        connectc_error_set(&refuse, refuse.code, "the call was refused by an interceptor");
      close_with_error(c, &refuse);
    }
    connectc_error_reset(&refuse);
    if (stop) return 0;
  }
  return 1;
}

static int build_head(connectc_client_call *c) {
  if (c->head_built) return CONNECTC_OK;
  if (c->closed) return CONNECTC_ERR_RPC;
  if (!intercept_head(c)) return CONNECTC_ERR_RPC;
  int rv = add_protocol_headers(c);
  if (rv) return rv;
  if (c->use_get) {
    cc_buf q = CC_BUF_INIT;
    rv = cc_buf_append_str(&q, &c->alloc, c->procedure);
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&q, &c->alloc, '?');
    const uint8_t *msg;
    size_t msg_len;
    cc_outq_peek(&c->body, &msg, &msg_len);
    if (rv == CONNECTC_OK)
      rv = cc_get_query_format(&q, &c->alloc, c->codec,
                               c->unary_compressed ? c->send_comp : CONNECTC_COMPRESSION_IDENTITY,
                               msg, msg_len);
    if (rv == CONNECTC_OK) {
      c->path = cc_buf_take_cstr(&q, &c->alloc);
      if (!c->path) rv = CONNECTC_ERR_NOMEM;
    }
    cc_buf_free(&q, &c->alloc);
    if (rv) return rv;
    c->content_length = 0;
    cc_outq_free(&c->body, &c->alloc); /* the message travels in the query */
  } else {
    c->path = c->procedure; /* no query: the path is the procedure */
    if (c->stream_type == CONNECTC_STREAM_UNARY) {
      /* A framed unary call's head comes after its one message. */
      const uint8_t *d;
      size_t n;
      cc_outq_peek(&c->body, &d, &n);
      c->content_length = (int64_t)n;
    }
  }
  c->head_built = 1;
  return CONNECTC_OK;
}

int connectc_client_call_request_head(connectc_client_call *c, connectc_request_head *out) {
  if (!c || !out) return CONNECTC_ERR_ARGUMENT;
  if (!c->head_built) {
    if (c->stream_type == CONNECTC_STREAM_UNARY && c->n_sent == 0) return CONNECTC_ERR_STATE;
    int rv = build_head(c);
    if (rv) return rv;
  }
  out->method = c->use_get ? "GET" : "POST";
  out->path = c->path;
  out->headers = &c->req_headers;
  out->content_length = c->content_length;
  return CONNECTC_OK;
}

int connectc_client_call_send(connectc_client_call *c, const uint8_t *msg, size_t len) {
  if (!c || (!msg && len)) return CONNECTC_ERR_ARGUMENT;
  if (c->closed) return CONNECTC_ERR_STATE;
  if (c->send_closed) return CONNECTC_ERR_STATE;
  if (c->limits.send_max_bytes && len > c->limits.send_max_bytes) {
    close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED, "message size %zu exceeds sendMaxBytes %zu",
               len, c->limits.send_max_bytes);
    return CONNECTC_ERR_LIMIT;
  }
  for (size_t i = 0; i < c->n_icpt; i++)
    if (c->icpt[i]->on_request_message)
      c->icpt[i]->on_request_message(c, msg ? msg : (const uint8_t *)"", len, c->icpt[i]->user_data);
  c->req_bytes += len;
  c->req_msgs++;
  int rv;
  if (!c->framed) {
    const uint8_t *p;
    size_t plen;
    uint8_t *owned;
    rv = cc_maybe_compress(c->cctx, &c->alloc, c->send_comp, c->limits.compress_min_bytes, msg,
                           len, &p, &plen, &owned, &c->unary_compressed);
    /* The body itself: the unary message is written once, where the
     * transport reads it. */
    if (rv == CONNECTC_OK) rv = cc_outq_append(&c->body, &c->alloc, p, plen);
    cc_free(&c->alloc, owned);
    if (rv == CONNECTC_OK && c->limits.send_max_bytes && c->unary_compressed &&
        plen > c->limits.send_max_bytes) {
      close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                 "compressed message size %zu exceeds sendMaxBytes %zu", plen,
                 c->limits.send_max_bytes);
      return CONNECTC_ERR_LIMIT;
    }
  } else {
    rv = cc_frame_message(&c->body, c->cctx, &c->alloc, c->send_comp,
                          c->limits.compress_min_bytes, 0, msg, len);
  }
  if (rv) return rv;
  c->n_sent++;
  if (is_unary_request(c->stream_type)) c->send_closed = 1;
  return CONNECTC_OK;
}

int connectc_client_call_close_send(connectc_client_call *c) {
  if (!c) return CONNECTC_ERR_ARGUMENT;
  if (is_unary_request(c->stream_type) && c->n_sent == 0 && !c->closed)
    return CONNECTC_ERR_STATE; /* the one request message must be sent first */
  c->send_closed = 1;
  return CONNECTC_OK;
}

void connectc_client_call_cancel(connectc_client_call *c) {
  if (!c) return;
  close_with(c, CONNECTC_CODE_CANCELED, "call canceled");
}

void connectc_client_call_body_peek(connectc_client_call *c, const uint8_t **data, size_t *len,
                                    int *done) {
  if (!c->head_built && !c->closed) {
    /* A unary body exists only once its head does. */
    if (c->stream_type != CONNECTC_STREAM_UNARY || c->n_sent) (void)build_head(c);
  }
  if (c->head_built) {
    cc_outq_peek(&c->body, data, len);
  } else { /* no head (not yet, or refused): no body either */
    *data = NULL;
    *len = 0;
  }
  *done = c->send_closed && (c->head_built || c->closed);
}

void connectc_client_call_body_consume(connectc_client_call *c, size_t n) {
  c->req_wire += n;
  cc_outq_consume(&c->body, n);
}

/* ---- response side ---- */

/* Resolves a response compression header; closes the call when unknown. */
static int resolve_encoding(connectc_client_call *c, const char *value) {
  c->resp_comp = CONNECTC_COMPRESSION_IDENTITY;
  if (!value || !value[0] || strcmp(value, "identity") == 0) return 1;
  if (connectc_compression_from_name(value, strlen(value), &c->resp_comp)) {
    if (c->resp_comp == CONNECTC_COMPRESSION_IDENTITY || c->cctx || c->cctx_lent ||
        connectc_compress_ctx_new(&c->alloc, &c->cctx) == CONNECTC_OK)
      return 1;
    close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory for a decompression context");
    return 0;
  }
  close_with(c, CONNECTC_CODE_INTERNAL, "unknown encoding \"%s\": accepted encodings are %s",
             value, connectc_compressions_accept_header());
  return 0;
}

static int deliver_headers(connectc_client_call *c) {
  for (size_t i = 0; i < c->n_icpt; i++)
    if (c->icpt[i]->on_response_headers)
      c->icpt[i]->on_response_headers(c, &c->resp_headers, c->icpt[i]->user_data);
  if (!c->cb.on_headers) return 1;
  if (c->cb.on_headers(c, &c->resp_headers, c->user_data) != 0) {
    close_with(c, CONNECTC_CODE_CANCELED, "call canceled by the on_headers callback");
    return 0;
  }
  return 1;
}

/* gRPC and gRPC-Web response heads, checked in connect-go's order: the
 * HTTP status first, then the content type, then the compression. */
static int grpc_recv_head(connectc_client_call *c, int http_status) {
  if (http_status != 200) {
    if (!deliver_headers(c)) return CONNECTC_OK;
    close_with(c, connectc_code_from_http_status(http_status), "HTTP status %d", http_status);
    return CONNECTC_OK;
  }
  const char *ctype = connectc_headers_get(&c->resp_headers, "content-type");
  if (!ctype) ctype = "";
  int web = c->protocol == CONNECTC_PROTOCOL_GRPC_WEB;
  const char *want_prefix = web ? "application/grpc-web" : "application/grpc";
  size_t plen = strlen(want_prefix);
  cc_content_type ct;
  int parsed = cc_content_type_parse(ctype, strlen(ctype), &ct) == CONNECTC_OK;
  if (!parsed || ct.protocol != c->protocol) {
    /* Not of this protocol at all: unknown; a gRPC type of the other
     * flavour (or malformed): internal, as connect-go reports them. */
    connectc_code code = cc_ascii_casecmp_n(ctype, want_prefix, plen) == 0 && strlen(ctype) >= plen
                             ? CONNECTC_CODE_INTERNAL
                             : CONNECTC_CODE_UNKNOWN;
    close_with(c, code, "invalid content-type: \"%s\"; expecting \"%s+%s\"", ctype, want_prefix,
               c->codec);
    return CONNECTC_OK;
  }
  if (!cc_ascii_eq_nocase(ct.codec, ct.codec_len, c->codec, strlen(c->codec))) {
    close_with(c, CONNECTC_CODE_INTERNAL, "invalid content-type: \"%s\"; expecting \"%s+%s\"",
               ctype, want_prefix, c->codec);
    return CONNECTC_OK;
  }
  if (!resolve_encoding(c, connectc_headers_get(&c->resp_headers, "grpc-encoding")))
    return CONNECTC_OK;
  c->reader.comp = c->resp_comp;
  deliver_headers(c);
  return CONNECTC_OK;
}

int connectc_client_call_recv_head(connectc_client_call *c, int http_status,
                                   const connectc_headers *headers) {
  if (!c || !headers) return CONNECTC_ERR_ARGUMENT;
  if (c->closed) return CONNECTC_OK;
  if (c->rstate != RESP_WAIT_HEAD) return CONNECTC_ERR_STATE;
  c->http_status = http_status;
  c->rstate = RESP_BODY;
  if (c->protocol != CONNECTC_PROTOCOL_CONNECT) {
    int rv = connectc_headers_append_all(&c->resp_headers, headers);
    if (rv == CONNECTC_ERR_NOMEM) return rv;
    return grpc_recv_head(c, http_status);
  }
  int unary = c->stream_type == CONNECTC_STREAM_UNARY;
  /* Unary trailers travel as "trailer-" prefixed headers. */
  for (size_t i = 0; i < headers->len; i++) {
    const connectc_header *e = &headers->items[i];
    int rv;
    if (unary && e->name_len > 8 && memcmp(e->name, "trailer-", 8) == 0) {
      rv = connectc_headers_add(&c->trailers, e->name + 8, e->name_len - 8, e->value,
                                e->value_len);
    } else {
      rv = cc_headers_push(&c->resp_headers, e); /* an entry of a list: already checked */
    }
    if (rv == CONNECTC_ERR_NOMEM) return rv;
  }
  const char *ctype = connectc_headers_get(&c->resp_headers, "content-type");
  if (!ctype) ctype = "";
  if (unary) {
    const connectc_header *cl = connectc_headers_get_nth(&c->resp_headers, "content-length", 0);
    uint64_t n;
    if (cl && connectc_headers_count(&c->resp_headers, "content-length") == 1 &&
        connectc_http_parse_content_length(cl->value, cl->value_len, &n, NULL) == CONNECTC_OK)
      c->expect_len = (int64_t)n;
    if (http_status != 200) {
      if (!deliver_headers(c)) return CONNECTC_OK;
      if (strcmp(ctype, "application/json") == 0 ||
          strcmp(ctype, "application/json; charset=utf-8") == 0) {
        if (!resolve_encoding(c, connectc_headers_get(&c->resp_headers, "content-encoding")))
          return CONNECTC_OK;
        c->rstate = RESP_ERROR_BODY;
        return CONNECTC_OK;
      }
      close_with(c, connectc_code_from_http_status(http_status), "HTTP status %d", http_status);
      return CONNECTC_OK;
    }
    cc_content_type ct;
    if (strncmp(ctype, "application/", 12) != 0) {
      close_with(c, CONNECTC_CODE_UNKNOWN, "invalid content-type: \"%s\"; expecting \"application/%s\"",
                 ctype, c->codec);
      return CONNECTC_OK;
    }
    if (cc_content_type_parse(ctype, strlen(ctype), &ct) != CONNECTC_OK || ct.streaming ||
        !cc_ascii_eq_nocase(ct.codec, ct.codec_len, c->codec, strlen(c->codec))) {
      close_with(c, CONNECTC_CODE_INTERNAL, "invalid content-type: \"%s\"; expecting \"application/%s\"",
                 ctype, c->codec);
      return CONNECTC_OK;
    }
    if (!resolve_encoding(c, connectc_headers_get(&c->resp_headers, "content-encoding")))
      return CONNECTC_OK;
    deliver_headers(c);
    return CONNECTC_OK;
  }
  /* Streaming responses. */
  if (http_status != 200) {
    if (!deliver_headers(c)) return CONNECTC_OK;
    close_with(c, connectc_code_from_http_status(http_status), "HTTP status %d", http_status);
    return CONNECTC_OK;
  }
  if (strncmp(ctype, "application/connect+", 20) != 0) {
    close_with(c, CONNECTC_CODE_UNKNOWN,
               "invalid content-type: \"%s\"; expecting \"application/connect+%s\"", ctype,
               c->codec);
    return CONNECTC_OK;
  }
  cc_content_type ct;
  if (cc_content_type_parse(ctype, strlen(ctype), &ct) != CONNECTC_OK || !ct.streaming ||
      !cc_ascii_eq_nocase(ct.codec, ct.codec_len, c->codec, strlen(c->codec))) {
    close_with(c, CONNECTC_CODE_INTERNAL,
               "invalid content-type: \"%s\"; expecting \"application/connect+%s\"", ctype,
               c->codec);
    return CONNECTC_OK;
  }
  if (!resolve_encoding(c, connectc_headers_get(&c->resp_headers, "connect-content-encoding")))
    return CONNECTC_OK;
  c->reader.comp = c->resp_comp;
  deliver_headers(c);
  return CONNECTC_OK;
}

static int deliver_message(connectc_client_call *c, const uint8_t *data, size_t len) {
  c->n_received++;
  if (is_unary_response(c->stream_type) && c->n_received > 1) {
    close_with(c, CONNECTC_CODE_UNIMPLEMENTED, "unary response has multiple messages");
    return 1;
  }
  if (c->framed && is_unary_response(c->stream_type) && !c->held_done) {
    /* The one response of a client stream (or of a gRPC unary call) is
     * handed over only once the stream ended cleanly (a second message or
     * an error status means no response at all, as in connect-go). */
    cc_buf_clear(&c->unary_body);
    if (cc_buf_append(&c->unary_body, &c->alloc, data, len) != CONNECTC_OK) {
      close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory holding the response");
      return 1;
    }
    return 0;
  }
  for (size_t i = 0; i < c->n_icpt; i++)
    if (c->icpt[i]->on_response_message)
      c->icpt[i]->on_response_message(c, data, len, c->icpt[i]->user_data);
  c->resp_bytes += len;
  c->resp_msgs++;
  if (c->cb.on_message && c->cb.on_message(c, data, len, c->user_data) != 0) {
    close_with(c, CONNECTC_CODE_CANCELED, "call canceled by the on_message callback");
    return 1;
  }
  return c->closed ? 1 : 0;
}

static int on_stream_message(void *ud, uint8_t flags, const uint8_t *data, size_t len) {
  connectc_client_call *c = ud;
  if (c->got_end_stream) {
    close_with(c, CONNECTC_CODE_INTERNAL,
               "corrupt response: received data after the end-of-stream message");
    return 1;
  }
  if (c->protocol == CONNECTC_PROTOCOL_GRPC_WEB && (flags & CC_GRPC_WEB_FLAG_TRAILERS)) {
    c->got_end_stream = 1;
    connectc_error perr;
    connectc_error_init(&perr, &c->alloc);
    int rv = cc_grpc_web_trailers_parse(data, len, &c->trailers, &perr);
    if (rv) {
      if (rv == CONNECTC_ERR_NOMEM)
        connectc_error_set(&perr, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                           "out of memory reading the response trailers");
      close_with_error(c, &perr);
    }
    connectc_error_reset(&perr);
    return rv ? 1 : 0;
  }
  if (c->protocol == CONNECTC_PROTOCOL_CONNECT && (flags & CONNECTC_ENVELOPE_FLAG_END_STREAM)) {
    c->got_end_stream = 1;
    connectc_error perr;
    connectc_error_init(&perr, &c->alloc);
    int rv = cc_end_stream_parse((const char *)data, len, &perr, &c->trailers);
    if (rv) {
      close_with_error(c, &perr);
      connectc_error_reset(&perr);
      return 1;
    }
    connectc_error_copy(&c->end_err, &perr);
    connectc_error_reset(&perr);
    return 0;
  }
  return deliver_message(c, data, len);
}

static void finish_unary(connectc_client_call *c, const uint8_t *src, size_t src_len);

/* recv_body and recv_body_some: `some` stops at a pause. */
static int recv_body(connectc_client_call *c, const uint8_t *data, size_t len, int some,
                     size_t *taken) {
  *taken = 0;
  if (!c || (!data && len)) return CONNECTC_ERR_ARGUMENT;
  *taken = len; /* discarded bytes count as taken */
  if (c->closed || c->rstate == RESP_DISCARD || len == 0) return CONNECTC_OK;
  if (c->rstate == RESP_WAIT_HEAD) {
    *taken = 0;
    return CONNECTC_ERR_STATE;
  }
  if (some && c->framed && c->recv_paused) {
    *taken = 0; /* nothing is taken until connectc_client_call_resume_recv */
    return CONNECTC_OK;
  }
  if (!c->framed) {
    c->body_bytes += len;
    size_t bound = cc_compressed_bound(c->limits.recv_max_bytes);
    if (c->rstate == RESP_ERROR_BODY) bound = 64 * 1024 + c->limits.recv_max_bytes / 16;
    if (len > bound - c->unary_body.len) {
      if (c->rstate == RESP_ERROR_BODY)
        close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                   "HTTP status %d with an error body of at least %zu bytes, larger than the "
                   "limit of %zu bytes for error bodies (64 KiB plus recv_max_bytes/16)",
                   c->http_status, c->unary_body.len + len, bound);
      else
        close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                   "message size %zu is larger than configured max %zu (recv_max_bytes, with "
                   "room for a compressed body up to %zu)",
                   c->unary_body.len + len, c->limits.recv_max_bytes, bound);
      return CONNECTC_OK;
    }
    /* The whole body at once (its Content-Length): answered from the
     * transport's bytes, with no copy; the end then changes nothing. */
    if (c->unary_body.len == 0 && c->expect_len >= 0 && (uint64_t)c->expect_len == len) {
      finish_unary(c, data, len);
      return CONNECTC_OK;
    }
    /* A lent context may hold the last call's body buffer. */
    if (!c->unary_body.data && c->cctx_lent)
      cc_compress_ctx_take_buf(c->cctx, &c->alloc, &c->unary_body);
    return cc_buf_append(&c->unary_body, &c->alloc, data, len);
  }
  connectc_error perr;
  connectc_error_init(&perr, &c->alloc);
  int rv = cc_msg_reader_feed_some(&c->reader, c->cctx, data, len, on_stream_message, c,
                                   some ? &c->recv_paused : NULL, taken, &perr);
  c->body_bytes += *taken;
  if (rv < 0) {
    if (rv == CONNECTC_ERR_NOMEM && perr.code == CONNECTC_CODE_OK) {
      connectc_error_reset(&perr);
      return rv;
    }
    close_with_error(c, &perr);
  }
  connectc_error_reset(&perr);
  return CONNECTC_OK;
}

int connectc_client_call_recv_body(connectc_client_call *c, const uint8_t *data, size_t len) {
  size_t taken;
  return recv_body(c, data, len, 0, &taken);
}

int connectc_client_call_recv_body_some(connectc_client_call *c, const uint8_t *data, size_t len,
                                        size_t *taken) {
  size_t dummy;
  return recv_body(c, data, len, 1, taken ? taken : &dummy);
}

void connectc_client_call_pause_recv(connectc_client_call *c) {
  if (c) c->recv_paused = 1;
}

void connectc_client_call_resume_recv(connectc_client_call *c) {
  if (c) c->recv_paused = 0;
}

int connectc_client_call_recv_paused(const connectc_client_call *c) {
  return c && c->framed && c->recv_paused && !c->closed;
}

int connectc_client_call_recv_trailers(connectc_client_call *c,
                                       const connectc_headers *trailers) {
  if (!c || !trailers) return CONNECTC_ERR_ARGUMENT;
  if (c->closed) return CONNECTC_OK;
  /* gRPC-Web carries its trailers in the body; HTTP trailers are not part
   * of the protocol and are ignored. */
  if (c->protocol == CONNECTC_PROTOCOL_GRPC_WEB) return CONNECTC_OK;
  if (c->protocol == CONNECTC_PROTOCOL_GRPC) c->got_http_trailers = 1;
  return connectc_headers_append_all(&c->trailers, trailers);
}

/* Decompresses the unary body within the receive limit; closes on error. */
static int unary_payload(connectc_client_call *c, const uint8_t *src, size_t src_len,
                         const uint8_t **p, size_t *len, uint8_t **owned) {
  *owned = NULL;
  *p = src;
  *len = src_len;
  if (c->resp_comp != CONNECTC_COMPRESSION_IDENTITY && *len > 0) {
    connectc_error perr;
    connectc_error_init(&perr, &c->alloc);
    int rv = cc_decompress_to(c->cctx, &c->alloc, c->resp_comp, *p, *len,
                              c->limits.recv_max_bytes, owned, len, &perr);
    if (rv) {
      close_with_error(c, &perr);
      connectc_error_reset(&perr);
      return 0;
    }
    *p = *owned;
  } else if (*len > c->limits.recv_max_bytes) {
    close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED,
               "message size %zu is larger than configured max %zu", *len,
               c->limits.recv_max_bytes);
    return 0;
  }
  return 1;
}

/* Ends a Connect unary call with its whole body, `src` (the collected
 * body, or the transport's bytes when they came at once). */
static void finish_unary(connectc_client_call *c, const uint8_t *src, size_t src_len) {
  const uint8_t *p;
  size_t len;
  uint8_t *owned;
  if (c->rstate == RESP_ERROR_BODY) {
    if (!unary_payload(c, src, src_len, &p, &len, &owned)) return;
    connectc_error werr;
    connectc_error_init(&werr, &c->alloc);
    if (cc_error_json_parse((const char *)p, len, &werr) == CONNECTC_OK) {
      /* No (known) code in the body: the HTTP status decides, as in
       * connect-go; the message is kept. */
      if (werr.code == CONNECTC_CODE_OK) werr.code = connectc_code_from_http_status(c->http_status);
      close_with_error(c, &werr);
    } else {
      close_with(c, connectc_code_from_http_status(c->http_status), "HTTP status %d",
                 c->http_status);
    }
    connectc_error_reset(&werr);
    cc_free(&c->alloc, owned);
    return;
  }
  if (!unary_payload(c, src, src_len, &p, &len, &owned)) return;
  if (!p) p = (const uint8_t *)""; /* callbacks never see NULL */
  int stop = deliver_message(c, p, len);
  cc_free(&c->alloc, owned);
  /* The body's buffer goes back to a lent context for the next call,
   * unless the application closed the call from on_message (then the
   * call has let go of the context). */
  if (src == c->unary_body.data && c->cctx_lent && c->cctx)
    cc_compress_ctx_give_buf(c->cctx, &c->alloc, &c->unary_body);
  if (!stop) close_call(c); /* success: err is still OK */
}

/* Hands over the held response of a unary or client-streaming call, then
 * closes with success; or fails for a response count other than one. */
static void finish_held(connectc_client_call *c) {
  if (is_unary_response(c->stream_type)) {
    if (c->n_received == 0) {
      close_with(c, CONNECTC_CODE_UNIMPLEMENTED, "unary response has zero messages");
      return;
    }
    c->held_done = 1;
    c->n_received = 0;
    const uint8_t *p = c->unary_body.data ? c->unary_body.data : (const uint8_t *)"";
    if (deliver_message(c, p, c->unary_body.len)) return;
  }
  close_call(c);
}

/* The end of a gRPC or gRPC-Web response: where the status is (HTTP
 * trailers, the trailer frame, or the headers of a trailers-only response)
 * and what it says. */
static void grpc_finish(connectc_client_call *c) {
  if (!connectc_envelope_decoder_idle(&c->reader.dec)) {
    close_with(c, CONNECTC_CODE_INTERNAL,
               "protocol error: the response ended in the middle of a message envelope");
    return;
  }
  int have = c->protocol == CONNECTC_PROTOCOL_GRPC ? c->got_http_trailers : c->got_end_stream;
  if (!have) {
    if (c->body_bytes > 0) {
      close_with(c, CONNECTC_CODE_INTERNAL,
                 c->protocol == CONNECTC_PROTOCOL_GRPC
                     ? "protocol error: no grpc-status: the response ended without trailers"
                     : "protocol error: no grpc-status: the response ended without a trailer "
                       "frame");
      return;
    }
    /* Trailers-only: the headers are the trailers. */
    for (size_t i = 0; i < c->resp_headers.len; i++) {
      const connectc_header *e = &c->resp_headers.items[i];
      if (e->name_len == 12 && memcmp(e->name, "content-type", 12) == 0) continue;
      if (connectc_headers_add(&c->trailers, e->name, e->name_len, e->value, e->value_len) ==
          CONNECTC_ERR_NOMEM) {
        close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory reading the status");
        return;
      }
    }
    have = c->trailers.len > 0;
  }
  connectc_error st;
  connectc_error_init(&st, &c->alloc);
  if (cc_grpc_status_from_trailers(&c->trailers, have, &st) == CONNECTC_ERR_NOMEM)
    connectc_error_set(&st, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory reading the status");
  cc_grpc_status_strip(&c->trailers);
  if (st.code != CONNECTC_CODE_OK) close_with_error(c, &st);
  else finish_held(c);
  connectc_error_reset(&st);
}

int connectc_client_call_recv_end(connectc_client_call *c) {
  if (!c) return CONNECTC_ERR_ARGUMENT;
  if (c->closed) return CONNECTC_OK;
  if (c->rstate == RESP_WAIT_HEAD) {
    close_with(c, CONNECTC_CODE_UNAVAILABLE, "the response ended before its headers");
    return CONNECTC_OK;
  }
  if (!c->framed) {
    finish_unary(c, c->unary_body.data, c->unary_body.len);
    return CONNECTC_OK;
  }
  if (c->protocol != CONNECTC_PROTOCOL_CONNECT) {
    grpc_finish(c);
    return CONNECTC_OK;
  }
  if (!connectc_envelope_decoder_idle(&c->reader.dec)) {
    close_with(c, CONNECTC_CODE_INTERNAL,
               "protocol error: the response ended in the middle of a message envelope");
    return CONNECTC_OK;
  }
  if (!c->got_end_stream) {
    close_with(c, CONNECTC_CODE_INTERNAL,
               "protocol error: the response ended without an end-of-stream message");
    return CONNECTC_OK;
  }
  if (c->end_err.code != CONNECTC_CODE_OK) {
    close_with_error(c, &c->end_err);
    return CONNECTC_OK;
  }
  finish_held(c);
  return CONNECTC_OK;
}

void connectc_client_call_fail(connectc_client_call *c, connectc_code code,
                               const char *message) {
  if (!c) return;
  if (code == CONNECTC_CODE_OK) code = CONNECTC_CODE_UNKNOWN;
  close_with(c, code, "%s", message ? message : "transport failure");
}

void connectc_client_call_tick(connectc_client_call *c, int64_t now_ms) {
  if (!c) return;
  if (now_ms > c->now_ms) c->now_ms = now_ms;
  if (c->closed || c->deadline < 0) return;
  if (now_ms >= c->deadline)
    close_with(c, CONNECTC_CODE_DEADLINE_EXCEEDED, "the deadline of %" PRId64 " ms passed",
               c->timeout_ms);
}

int64_t connectc_client_call_deadline(const connectc_client_call *c) {
  return c ? c->deadline : -1;
}

int connectc_client_call_is_closed(const connectc_client_call *c) { return c ? c->closed : 1; }

connectc_protocol connectc_client_call_protocol(const connectc_client_call *c) {
  return c ? c->protocol : CONNECTC_PROTOCOL_CONNECT;
}

int connectc_client_call_requires_http2(const connectc_client_call *c) {
  return c && (c->protocol == CONNECTC_PROTOCOL_GRPC || c->full_duplex);
}
