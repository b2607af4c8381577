/*
 * The server call state machine: an HTTP request in, validated as the
 * Connect protocol demands; request messages out to the handler; the
 * handler's messages, metadata and final status in; HTTP response bytes
 * out.
 *
 * Validation order and the codes used follow connect-go's handler: 405 for
 * a method the procedure does not accept, 415 for a content type it cannot
 * handle, then (as Connect errors in the protocol's own framing) unknown
 * compression (unimplemented), protocol version, GET parameters, codec and
 * timeout (invalid_argument).
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "call_internal.h"
#include "compress_internal.h"
#include "connectc/http.h"
#include "connectc/router.h"
#include "grpc.h"
#include "protocol.h"
#include "wire_error.h"

static const char *const default_codecs[] = {"proto", "json", NULL};

enum srv_state {
  SRV_WAIT_HEAD = 0,
  SRV_RECEIVING,  /* reading request messages */
  SRV_HANDLING,   /* request fully read; the handler works */
  SRV_FINISHED    /* response decided */
};

struct connectc_server_call {
  connectc_allocator alloc;
  connectc_server_config cfg;
  connectc_call_limits limits;
  const connectc_method_desc *method;
  connectc_server_callbacks cb;
  void *user_data;
  /* The call's compression context: its own (created in recv_head when a
   * compression is negotiated, freed with the call) or, when cctx_lent,
   * one borrowed through connectc_server_call_lend_compress_ctx(), never
   * freed here and let go of (set to NULL) once the response is decided. */
  connectc_compress_ctx *cctx;
  int cctx_lent;

  enum srv_state state;
  int recv_done;
  int recv_paused; /* connectc_server_call_pause_recv */
  connectc_protocol protocol; /* detected from the request's content type */
  int ct_bare;          /* gRPC(-Web) request named no codec: answer the same way */
  int streaming;        /* messages travel in envelopes (all but Connect unary) */
  int is_get;
  int64_t deadline;
  int64_t timeout_ms;
  const char *codec;    /* one of cfg.codecs */
  connectc_headers req_headers;
  connectc_compression req_comp;
  connectc_compression resp_comp;

  /* request body */
  cc_buf unary_body;
  cc_msg_reader reader;
  size_t n_received;

  /* response */
  connectc_headers resp_headers;
  connectc_headers resp_trailers;
  connectc_headers head_headers; /* what goes on the wire */
  void *storage; /* connectc_server_call_storage: after the struct, in its allocation */
  size_t storage_size;
  connectc_headers http_trailers; /* gRPC: the HTTP trailers after the body */
  int has_http_trailers;
  int head_ready;
  int status;
  int64_t content_length;
  cc_outq body;
  int body_done;
  size_t n_sent;
  connectc_code final_code; /* the status the call ended with */
  cc_buf unary_msg; /* unary: the response message until finish */
  int unary_have_msg;
  size_t send_window;  /* resolved cfg.send_window_bytes */
  int want_writable;   /* a send was refused: tell on_writable */

  const connectc_server_call_hooks *tops;
  void *tctx;

  /* CORS: the request's origin when it is allowed (NULL otherwise). */
  char *cors_origin;
  int cors_added;
  /* stats */
  int stats_done;
  int closed_notified; /* interceptors' on_close ran */
  int64_t start_ms, now_ms, end_ms;
  uint64_t req_wire, req_bytes, req_msgs, resp_wire, resp_bytes, resp_msgs;
  /* Last: not zeroed at creation (cc_headers_init_storage sets up what
   * it uses). The first blocks of req_headers and head_headers. */
  cc_headers_storage req_store, head_store;
};

static int is_unary_request(connectc_stream_type st) {
  return st == CONNECTC_STREAM_UNARY || st == CONNECTC_STREAM_SERVER;
}
static int is_unary_response(connectc_stream_type st) {
  return st == CONNECTC_STREAM_UNARY || st == CONNECTC_STREAM_CLIENT;
}

int connectc_server_call_new(const connectc_server_config *cfg,
                             const connectc_method_desc *method,
                             const connectc_server_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, connectc_server_call **out) {
  return cc_server_call_new_sized(cfg, method, cb, user_data, alloc, 0, out);
}

/* The call's struct rounded up so that storage after it is aligned for
 * any object. */
#define CALL_HEAD_SIZE                                                                         \
  ((sizeof(connectc_server_call) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) *       \
   _Alignof(max_align_t))

int cc_server_call_new_sized(const connectc_server_config *cfg, const connectc_method_desc *method,
                             const connectc_server_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, size_t storage_size,
                             connectc_server_call **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  if (method && (!method->procedure || (unsigned)method->stream_type > 3u))
    return CONNECTC_ERR_ARGUMENT;
  if (storage_size > SIZE_MAX / 2) return CONNECTC_ERR_NOMEM;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  connectc_server_call *s = cc_malloc(a, CALL_HEAD_SIZE + storage_size);
  if (!s) return CONNECTC_ERR_NOMEM;
  memset(s, 0, offsetof(connectc_server_call, req_store));
  if (storage_size) memset((char *)s + CALL_HEAD_SIZE, 0, storage_size);
  if (storage_size) {
    s->storage = (char *)s + CALL_HEAD_SIZE;
    s->storage_size = storage_size;
  }
  s->alloc = *a;
  if (cfg) s->cfg = *cfg;
  if (!s->cfg.codecs) s->cfg.codecs = default_codecs;
  s->limits = cc_limits_resolve(&s->cfg.limits);
  s->send_window = s->cfg.send_window_bytes ? s->cfg.send_window_bytes
                                            : CONNECTC_DEFAULT_SEND_WINDOW_BYTES;
  s->method = method;
  if (cb) s->cb = *cb;
  s->user_data = user_data;
  s->deadline = -1;
  s->content_length = -1;
  s->final_code = CONNECTC_CODE_UNKNOWN; /* until the call ends */
  cc_headers_init_storage(&s->req_headers, &s->alloc, &s->req_store);
  connectc_headers_init(&s->resp_headers, &s->alloc);
  connectc_headers_init(&s->resp_trailers, &s->alloc);
  cc_headers_init_storage(&s->head_headers, &s->alloc, &s->head_store);
  connectc_headers_init(&s->http_trailers, &s->alloc);
  cc_msg_reader_init(&s->reader, s->limits.recv_max_bytes, 0, &s->alloc);
  /* The compression context is created in recv_head, only when a
   * compression was negotiated: most calls never need one. */
  *out = s;
  return CONNECTC_OK;
}

static void report_stats(connectc_server_call *s) {
  if (s->stats_done) return;
  s->stats_done = 1;
  if (!s->cfg.on_stats) return;
  connectc_call_stats st;
  connectc_server_call_stats(s, &st);
  s->cfg.on_stats(&st, s->cfg.stats_user_data);
}

void connectc_server_call_complete(connectc_server_call *s, int64_t now_ms) {
  if (!s || s->stats_done) return;
  s->end_ms = s->now_ms = now_ms;
  report_stats(s);
}

void connectc_server_call_stats(const connectc_server_call *s, connectc_call_stats *out) {
  memset(out, 0, sizeof *out);
  out->procedure = s->method ? s->method->procedure : "";
  out->stream_type = s->method ? s->method->stream_type : CONNECTC_STREAM_UNARY;
  out->protocol = s->protocol;
  out->codec = s->codec;
  out->request_compression = s->req_comp;
  out->response_compression = s->resp_comp;
  out->request_wire_bytes = s->req_wire;
  out->request_bytes = s->req_bytes;
  out->request_messages = s->req_msgs;
  out->response_wire_bytes = s->resp_wire;
  out->response_bytes = s->resp_bytes;
  out->response_messages = s->resp_msgs;
  out->start_ms = s->start_ms;
  out->end_ms = s->stats_done ? s->end_ms : s->now_ms;
  out->code = s->final_code;
  out->http_status = s->head_ready ? s->status : 0;
}

void connectc_server_call_del(connectc_server_call *s) {
  if (!s) return;
  if (!s->stats_done && s->state != SRV_WAIT_HEAD) {
    s->end_ms = s->now_ms;
    report_stats(s);
  }
  connectc_allocator a = s->alloc;
  cc_free(&a, s->cors_origin);
  if (!s->cctx_lent) connectc_compress_ctx_del(s->cctx);
  connectc_headers_reset(&s->req_headers);
  connectc_headers_reset(&s->resp_headers);
  connectc_headers_reset(&s->resp_trailers);
  connectc_headers_reset(&s->head_headers);
  connectc_headers_reset(&s->http_trailers);
  cc_msg_reader_free(&s->reader);
  cc_buf_free(&s->unary_body, &a);
  cc_buf_free(&s->unary_msg, &a);
  cc_outq_free(&s->body, &a);
  cc_free(&a, s);
}

/* ---- response building ---- */

/* Appends the application's headers (refusing protocol-owned names) and,
 * for unary responses, the trailers as "trailer-" headers. */
static int add_app_metadata(connectc_server_call *s, int with_unary_trailers) {
  connectc_headers *h = &s->head_headers;
  for (size_t i = 0; i < s->resp_headers.len; i++) {
    const connectc_header *e = &s->resp_headers.items[i];
    if (cc_header_is_reserved(e->name, e->name_len)) continue;
    int rv = connectc_headers_add(h, e->name, e->name_len, e->value, e->value_len);
    if (rv) return rv;
  }
  if (!with_unary_trailers) return CONNECTC_OK;
  cc_buf name = CC_BUF_INIT;
  int rv = CONNECTC_OK;
  for (size_t i = 0; rv == CONNECTC_OK && i < s->resp_trailers.len; i++) {
    const connectc_header *e = &s->resp_trailers.items[i];
    cc_buf_clear(&name);
    rv = cc_buf_append(&name, &s->alloc, "trailer-", 8);
    if (rv == CONNECTC_OK) rv = cc_buf_append(&name, &s->alloc, e->name, e->name_len);
    if (rv == CONNECTC_OK)
      rv = connectc_headers_add(h, (const char *)name.data, name.len, e->value, e->value_len);
  }
  cc_buf_free(&name, &s->alloc);
  return rv;
}

static int add_accept_encoding(connectc_server_call *s, const char *name) {
  const char *accept = connectc_compressions_accept_header();
  if (!accept[0]) return CONNECTC_OK;
  return connectc_headers_adds(&s->head_headers, name, accept);
}

/* Commits the head of a streaming response (200, connect+codec). */
/* The protocol part of a streaming (or gRPC) response head. */
static int protocol_head(connectc_server_call *s) {
  int grpc = s->protocol != CONNECTC_PROTOCOL_CONNECT;
  int rv = cc_add_content_type(&s->head_headers, s->protocol, 1, s->ct_bare,
                               s->codec ? s->codec : "proto");
  if (rv == CONNECTC_OK && s->resp_comp != CONNECTC_COMPRESSION_IDENTITY)
    rv = connectc_headers_adds(&s->head_headers, grpc ? "grpc-encoding" : "connect-content-encoding",
                               connectc_compression_name(s->resp_comp));
  if (rv == CONNECTC_OK)
    rv = add_accept_encoding(s, grpc ? "grpc-accept-encoding" : "connect-accept-encoding");
  return rv;
}

static int stream_head(connectc_server_call *s) {
  if (s->head_ready) return CONNECTC_OK;
  connectc_headers_reset(&s->head_headers);
  int rv = protocol_head(s);
  if (rv == CONNECTC_OK) rv = add_app_metadata(s, 0);
  if (rv) return rv;
  s->status = 200;
  s->content_length = -1;
  s->head_ready = 1;
  return CONNECTC_OK;
}

/* Writes a unary error response: HTTP status from the code, JSON body. */
static int unary_error_response(connectc_server_call *s, const connectc_error *e) {
  connectc_headers_reset(&s->head_headers);
  cc_outq_free(&s->body, &s->alloc);
  cc_buf json = CC_BUF_INIT;
  int rv = cc_error_json_write(&json, &s->alloc, e);
  if (rv == CONNECTC_OK)
    rv = connectc_headers_adds(&s->head_headers, "content-type", "application/json");
  if (rv == CONNECTC_OK) rv = add_accept_encoding(s, "accept-encoding");
  if (rv == CONNECTC_OK) rv = add_app_metadata(s, 1);
  if (rv == CONNECTC_OK) rv = cc_outq_append(&s->body, &s->alloc, json.data, json.len);
  s->status = connectc_code_to_http_status(e->code);
  s->content_length = (int64_t)json.len;
  cc_buf_free(&json, &s->alloc);
  s->head_ready = 1;
  return rv;
}

/* Appends the application's trailers (refusing protocol-owned names). */
static int add_app_trailers(connectc_server_call *s, connectc_headers *h) {
  for (size_t i = 0; i < s->resp_trailers.len; i++) {
    const connectc_header *t = &s->resp_trailers.items[i];
    if (cc_header_is_reserved(t->name, t->name_len)) continue;
    int rv = connectc_headers_add(h, t->name, t->name_len, t->value, t->value_len);
    if (rv) return rv;
  }
  return CONNECTC_OK;
}

/* Ends a gRPC or gRPC-Web response with `e` (NULL: success). When nothing
 * was sent yet and the handler set no headers, the response is
 * trailers-only: the status travels in the head. Otherwise gRPC puts it in
 * HTTP trailers, gRPC-Web in a trailer frame (flag 0x80) at the end of the
 * body. */
static int grpc_finish(connectc_server_call *s, const connectc_error *e) {
  connectc_error missing;
  connectc_error_init(&missing, &s->alloc);
  if (!e && s->method && is_unary_response(s->method->stream_type) && s->n_sent == 0) {
    connectc_error_set(&missing, CONNECTC_CODE_INTERNAL,
                       "the handler finished without a response message");
    e = &missing;
  }
  int rv;
  if (!s->head_ready && s->n_sent == 0 && s->resp_headers.len == 0) {
    connectc_headers_reset(&s->head_headers);
    rv = protocol_head(s);
    if (rv == CONNECTC_OK) rv = cc_grpc_status_to_trailers(&s->head_headers, e);
    if (rv == CONNECTC_OK) rv = add_app_trailers(s, &s->head_headers);
    s->status = 200;
    s->content_length = s->protocol == CONNECTC_PROTOCOL_GRPC_WEB ? 0 : -1;
    s->head_ready = 1;
    connectc_error_reset(&missing);
    return rv;
  }
  rv = stream_head(s);
  if (rv == CONNECTC_OK && s->protocol == CONNECTC_PROTOCOL_GRPC) {
    connectc_headers_reset(&s->http_trailers);
    rv = cc_grpc_status_to_trailers(&s->http_trailers, e);
    if (rv == CONNECTC_OK) rv = add_app_trailers(s, &s->http_trailers);
    s->has_http_trailers = 1;
  } else if (rv == CONNECTC_OK) {
    connectc_headers t;
    connectc_headers_init(&t, &s->alloc);
    cc_buf block = CC_BUF_INIT;
    rv = cc_grpc_status_to_trailers(&t, e);
    if (rv == CONNECTC_OK) rv = add_app_trailers(s, &t);
    if (rv == CONNECTC_OK) rv = cc_grpc_web_trailers_format(&block, &s->alloc, &t);
    if (rv == CONNECTC_OK)
      rv = cc_frame_message(&s->body, s->cctx, &s->alloc, CONNECTC_COMPRESSION_IDENTITY, 0,
                            CC_GRPC_WEB_FLAG_TRAILERS, block.data, block.len);
    cc_buf_free(&block, &s->alloc);
    connectc_headers_reset(&t);
  }
  connectc_error_reset(&missing);
  return rv;
}

/* Ends the response with `e` (NULL: success). */
/* Tells the interceptors how the call ended (once). */
static void notify_close(connectc_server_call *s, const connectc_error *e) {
  if (s->closed_notified) return;
  s->closed_notified = 1;
  s->final_code = e ? e->code : CONNECTC_CODE_OK;
  connectc_error ok;
  if (!e) {
    connectc_error_init(&ok, &s->alloc);
    e = &ok;
  }
  for (size_t i = s->cfg.n_interceptors; s->cfg.interceptors && i-- > 0;)
    if (s->cfg.interceptors[i]->on_close)
      s->cfg.interceptors[i]->on_close(s, e, &s->resp_trailers, s->cfg.interceptors[i]->user_data);
}

/* A finished call compresses nothing more (every path that could is
 * refused in SRV_FINISHED): it lets go of a lent context, so that its
 * lender may hand it to the next call. */
static void release_lent_ctx(connectc_server_call *s) {
  if (s->cctx_lent) s->cctx = NULL;
}

static int finish_response_now(connectc_server_call *s, const connectc_error *e);

static int finish_response(connectc_server_call *s, const connectc_error *e) {
  int rv = finish_response_now(s, e);
  release_lent_ctx(s);
  return rv;
}

static int finish_response_now(connectc_server_call *s, const connectc_error *e) {
  if (s->state == SRV_FINISHED) return CONNECTC_ERR_STATE;
  s->state = SRV_FINISHED;
  s->body_done = 1;
  notify_close(s, e);
  int failed = e && e->code != CONNECTC_CODE_OK;
  int rv;
  if (!s->streaming) {
    if (failed) return unary_error_response(s, e);
    if (!s->unary_have_msg && s->method && is_unary_response(s->method->stream_type)) {
      connectc_error m;
      connectc_error_init(&m, &s->alloc);
      connectc_error_set(&m, CONNECTC_CODE_INTERNAL, "the handler finished without a response message");
      rv = unary_error_response(s, &m);
      connectc_error_reset(&m);
      return rv;
    }
    const uint8_t *p;
    size_t plen;
    uint8_t *owned;
    int compressed;
    rv = cc_maybe_compress(s->cctx, &s->alloc, s->resp_comp, s->limits.compress_min_bytes,
                           s->unary_msg.data, s->unary_msg.len, &p, &plen, &owned, &compressed);
    if (rv) return rv;
    connectc_headers_reset(&s->head_headers);
    rv = cc_add_content_type(&s->head_headers, CONNECTC_PROTOCOL_CONNECT, 0, 0, s->codec);
    if (rv == CONNECTC_OK && compressed)
      rv = connectc_headers_adds(&s->head_headers, "content-encoding",
                                 connectc_compression_name(s->resp_comp));
    if (rv == CONNECTC_OK) rv = add_accept_encoding(s, "accept-encoding");
    if (rv == CONNECTC_OK) rv = add_app_metadata(s, 1);
    if (rv == CONNECTC_OK && !owned && s->body.buf.len == 0 && s->unary_msg.data) {
      /* Uncompressed: the message buffer becomes the body, no copy. */
      cc_outq_free(&s->body, &s->alloc);
      s->body.buf = s->unary_msg;
      s->unary_msg = (cc_buf)CC_BUF_INIT;
    } else if (rv == CONNECTC_OK) {
      rv = cc_outq_append(&s->body, &s->alloc, p, plen);
    }
    cc_free(&s->alloc, owned);
    cc_buf_free(&s->unary_msg, &s->alloc);
    s->status = 200;
    s->content_length = (int64_t)plen;
    s->head_ready = 1;
    return rv;
  }
  if (s->protocol != CONNECTC_PROTOCOL_CONNECT) return grpc_finish(s, failed ? e : NULL);
  rv = stream_head(s);
  if (rv) return rv;
  cc_buf json = CC_BUF_INIT;
  rv = cc_end_stream_write(&json, &s->alloc, failed ? e : NULL, &s->resp_trailers);
  if (rv == CONNECTC_OK)
    rv = cc_frame_message(&s->body, s->cctx, &s->alloc, CONNECTC_COMPRESSION_IDENTITY, 0,
                          CONNECTC_ENVELOPE_FLAG_END_STREAM, json.data, json.len);
  cc_buf_free(&json, &s->alloc);
  return rv;
}

static int fail_with(connectc_server_call *s, connectc_code code, const char *fmt, ...)
    CONNECTC_PRINTF(3, 4);
static int fail_with(connectc_server_call *s, connectc_code code, const char *fmt, ...) {
  connectc_error e;
  connectc_error_init(&e, &s->alloc);
  va_list ap;
  va_start(ap, fmt);
  connectc_error_setv(&e, code, fmt, ap);
  va_end(ap);
  int rv = finish_response(s, &e);
  connectc_error_reset(&e);
  return rv;
}

/* A bare HTTP response with no Connect body (404, 405, 415). */
static int raw_response(connectc_server_call *s, int status, const char *hname,
                        const char *hvalue) {
  s->final_code = connectc_code_from_http_status(status);
  s->closed_notified = 1; /* refused before any interceptor saw the call */
  s->state = SRV_FINISHED;
  release_lent_ctx(s);
  s->body_done = 1;
  s->status = status;
  s->content_length = 0;
  connectc_headers_reset(&s->head_headers);
  int rv = CONNECTC_OK;
  if (hname) rv = connectc_headers_adds(&s->head_headers, hname, hvalue);
  s->head_ready = 1;
  return rv;
}

/* ---- request validation ---- */

static const char *find_codec(const connectc_server_call *s, const char *name, size_t len) {
  for (const char *const *c = s->cfg.codecs; *c; c++)
    if (cc_ascii_eq_nocase(*c, strlen(*c), name, len)) return *c;
  return NULL;
}

static int refuse_content_type(connectc_server_call *s) {
  cc_buf accept = CC_BUF_INIT;
  int rv = CONNECTC_OK;
  static const connectc_protocol protocols[] = {CONNECTC_PROTOCOL_CONNECT, CONNECTC_PROTOCOL_GRPC,
                                                CONNECTC_PROTOCOL_GRPC_WEB};
  int connect_streaming = s->method && s->method->stream_type != CONNECTC_STREAM_UNARY;
  for (size_t p = 0; p < 3; p++) {
    for (const char *const *c = s->cfg.codecs; rv == CONNECTC_OK && *c; c++) {
      if (accept.len) rv = cc_buf_append(&accept, &s->alloc, ", ", 2);
      if (rv == CONNECTC_OK)
        rv = cc_content_type_format(&accept, &s->alloc, protocols[p], connect_streaming, 0, *c);
    }
  }
  char *v = rv == CONNECTC_OK ? cc_buf_take_cstr(&accept, &s->alloc) : NULL;
  rv = raw_response(s, 415, v ? "accept-post" : NULL, v);
  cc_free(&s->alloc, v);
  cc_buf_free(&accept, &s->alloc);
  return rv;
}

/* Picks the response compression as connect-go does: the request's own
 * compression if any, else the first name in the accept list this build
 * supports. */
static connectc_compression pick_response_compression(connectc_compression req,
                                                      const char *accept) {
  if (req != CONNECTC_COMPRESSION_IDENTITY || !accept) return req;
  const char *p = accept;
  while (*p) {
    while (*p == ',' || *p == ' ') p++;
    const char *start = p;
    while (*p && *p != ',' && *p != ' ') p++;
    connectc_compression c;
    if (p > start && connectc_compression_from_name(start, (size_t)(p - start), &c)) return c;
  }
  return CONNECTC_COMPRESSION_IDENTITY;
}

/* ---- CORS ---- */

static const char cors_allow_headers[] =
    "Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, Connect-Accept-Encoding, "
    "Connect-Content-Encoding, Grpc-Timeout, Grpc-Accept-Encoding, Grpc-Encoding, X-Grpc-Web, "
    "X-User-Agent";
static const char cors_expose_headers[] = "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin";

static int origin_in_list(const char *const *list, const char *o, size_t len) {
  for (; list && *list; list++)
    if (strcmp(*list, "*") == 0 || (strlen(*list) == len && memcmp(*list, o, len) == 0)) return 1;
  return 0;
}

/* Records the request's origin when the configuration allows it. */
static int cors_check(connectc_server_call *s, const connectc_headers *h) {
  const connectc_header *o = connectc_headers_get_nth(h, "origin", 0);
  if (!o || connectc_headers_count(h, "origin") != 1) return CONNECTC_OK;
  const connectc_cors *c = s->cfg.cors;
  int ok = origin_in_list(c->allowed_origins, o->value, o->value_len) ||
           (c->origin_allowed && c->origin_allowed(o->value, o->value_len, c->user_data));
  if (!ok) return CONNECTC_OK;
  s->cors_origin = cc_strndup(&s->alloc, o->value, o->value_len);
  return s->cors_origin ? CONNECTC_OK : CONNECTC_ERR_NOMEM;
}

/* Appends "a, b, c" of a NULL-terminated list to b. */
static int append_list(cc_buf *b, const connectc_allocator *a, const char *first,
                       const char *const *more) {
  int rv = cc_buf_append_str(b, a, first);
  for (; rv == CONNECTC_OK && more && *more; more++) {
    rv = cc_buf_append(b, a, ", ", 2);
    if (rv == CONNECTC_OK) rv = cc_buf_append_str(b, a, *more);
  }
  return rv;
}

static int add_list_header(connectc_server_call *s, const char *name, const char *first,
                           const char *const *more) {
  cc_buf b = CC_BUF_INIT;
  int rv = append_list(&b, &s->alloc, first, more);
  if (rv == CONNECTC_OK)
    rv = connectc_headers_add(&s->head_headers, name, strlen(name), (const char *)b.data, b.len);
  cc_buf_free(&b, &s->alloc);
  return rv;
}

/* Adds the CORS headers of an actual response (once, when the head is
 * read): an allowed origin only. */
static int cors_response_headers(connectc_server_call *s) {
  if (s->cors_added || !s->cors_origin) return CONNECTC_OK;
  s->cors_added = 1;
  int rv = connectc_headers_adds(&s->head_headers, "access-control-allow-origin", s->cors_origin);
  if (rv == CONNECTC_OK && s->cfg.cors->allow_credentials)
    rv = connectc_headers_adds(&s->head_headers, "access-control-allow-credentials", "true");
  if (rv == CONNECTC_OK)
    rv = add_list_header(s, "access-control-expose-headers", cors_expose_headers,
                         s->cfg.cors->exposed_headers);
  if (rv == CONNECTC_OK) rv = connectc_headers_adds(&s->head_headers, "vary", "Origin");
  return rv;
}

/* Answers a preflight: 204, with the CORS headers when the origin is
 * allowed. */
static int cors_preflight(connectc_server_call *s) {
  int rv = raw_response(s, 204, NULL, NULL);
  s->final_code = CONNECTC_CODE_OK;
  if (rv == CONNECTC_OK)
    rv = connectc_headers_adds(&s->head_headers, "vary",
                               "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  if (rv || !s->cors_origin) return rv;
  s->cors_added = 1;
  const connectc_cors *c = s->cfg.cors;
  rv = connectc_headers_adds(&s->head_headers, "access-control-allow-origin", s->cors_origin);
  if (rv == CONNECTC_OK && c->allow_credentials)
    rv = connectc_headers_adds(&s->head_headers, "access-control-allow-credentials", "true");
  if (rv == CONNECTC_OK)
    rv = connectc_headers_adds(&s->head_headers, "access-control-allow-methods", "POST, GET");
  if (rv == CONNECTC_OK)
    rv = add_list_header(s, "access-control-allow-headers", cors_allow_headers, c->allowed_headers);
  if (rv == CONNECTC_OK) {
    char age[24];
    int n = snprintf(age, sizeof age, "%d", c->max_age_s > 0 ? c->max_age_s : 7200);
    rv = connectc_headers_add(&s->head_headers, "access-control-max-age", 22, age, (size_t)n);
  }
  return rv;
}

/* The most body bytes a unary request may send: the receive limit, plus
 * slack for a compressed body (its size after decompression is checked
 * as it is inflated). */
static size_t unary_body_limit(const connectc_server_call *s) {
  return s->req_comp == CONNECTC_COMPRESSION_IDENTITY ? s->limits.recv_max_bytes
                                                      : cc_compressed_bound(s->limits.recv_max_bytes);
}

static int body_limit_error(connectc_server_call *s, const char *what, const char *at_least,
                            uint64_t seen) {
  size_t limit = unary_body_limit(s);
  if (s->req_comp == CONNECTC_COMPRESSION_IDENTITY)
    fail_with(s, CONNECTC_CODE_RESOURCE_EXHAUSTED,
              "%s of %s%" PRIu64 " bytes is larger than the receive limit of %zu bytes "
              "(recv_max_bytes)",
              what, at_least, seen, limit);
  else
    fail_with(s, CONNECTC_CODE_RESOURCE_EXHAUSTED,
              "%s of %s%" PRIu64 " bytes is larger than the limit of %zu bytes for a compressed "
              "body (recv_max_bytes %zu plus 1/16 and 1 KiB)",
              what, at_least, seen, limit, s->limits.recv_max_bytes);
  return 1;
}

/* A unary body whose Content-Length passes the limit is refused from the
 * head, before any of it is read (and before an HTTP/1.1 server sends
 * 100 Continue). Malformed values are the adapter's to refuse. */
static int refuse_declared_length(connectc_server_call *s, const connectc_headers *h) {
  const char *v = connectc_headers_get(h, "content-length");
  uint64_t n;
  if (!v || connectc_http_parse_content_length(v, strlen(v), &n, NULL) != CONNECTC_OK) return 0;
  if (n <= unary_body_limit(s)) return 0;
  return body_limit_error(s, "the request body (Content-Length)", "", n);
}

int connectc_server_call_recv_head(connectc_server_call *s, const char *http_method,
                                   const char *query, const connectc_headers *headers,
                                   int64_t now_ms) {
  if (!s || !http_method || !headers) return CONNECTC_ERR_ARGUMENT;
  if (s->state != SRV_WAIT_HEAD) return CONNECTC_ERR_STATE;
  int rv = headers == &s->req_headers ? CONNECTC_OK
                                      : connectc_headers_append_all(&s->req_headers, headers);
  if (rv) return rv;
  s->state = SRV_RECEIVING;
  s->start_ms = s->now_ms = s->end_ms = now_ms;
  if (s->cfg.cors) {
    rv = cors_check(s, headers);
    if (rv) return rv;
    if (strcmp(http_method, "OPTIONS") == 0 &&
        connectc_headers_get(headers, "access-control-request-method")) {
      rv = cors_preflight(s);
      return rv ? rv : CONNECTC_ERR_PROTOCOL;
    }
  }
  if (!s->method) {
    raw_response(s, 404, NULL, NULL);
    return CONNECTC_ERR_PROTOCOL;
  }
  connectc_stream_type st = s->method->stream_type;
  s->streaming = st != CONNECTC_STREAM_UNARY;
  s->protocol = CONNECTC_PROTOCOL_CONNECT;
  int get_ok = st == CONNECTC_STREAM_UNARY && s->method->no_side_effects;
  if (strcmp(http_method, "GET") == 0 && get_ok) {
    s->is_get = 1;
  } else if (strcmp(http_method, "POST") != 0) {
    raw_response(s, 405, "allow", get_ok ? "GET, POST" : "POST");
    return CONNECTC_ERR_PROTOCOL;
  }

  /* Content type (POST) or encoding parameter (GET). */
  cc_get_query q;
  cc_buf qscratch = CC_BUF_INIT;
  connectc_error qerr;
  connectc_error_init(&qerr, &s->alloc);
  int query_ok = 1;
  if (s->is_get) {
    query_ok = cc_get_query_parse(query ? query : "", query ? strlen(query) : 0, &qscratch,
                                  &s->alloc, &q, &qerr) == CONNECTC_OK;
    if (query_ok && q.encoding) s->codec = find_codec(s, q.encoding, strlen(q.encoding));
  } else {
    const char *ct = connectc_headers_get(headers, "content-type");
    cc_content_type parsed;
    /* Content-Type is a singleton: two of them are ambiguous (which one
     * would a proxy or the handler believe?), so both are refused. */
    if (connectc_headers_count(headers, "content-type") > 1) ct = NULL;
    if (!ct || cc_content_type_parse(ct, strlen(ct), &parsed) != CONNECTC_OK ||
        (parsed.protocol == CONNECTC_PROTOCOL_CONNECT && parsed.streaming != s->streaming) ||
        !(s->codec = find_codec(s, parsed.codec, parsed.codec_len))) {
      connectc_error_reset(&qerr);
      refuse_content_type(s);
      return CONNECTC_ERR_PROTOCOL;
    }
    /* The request's protocol decides how the call is answered. */
    s->protocol = parsed.protocol;
    s->ct_bare = parsed.bare;
    if (s->protocol != CONNECTC_PROTOCOL_CONNECT) s->streaming = 1;
  }
  int grpc = s->protocol != CONNECTC_PROTOCOL_CONNECT;

  /* Compression negotiation. */
  const char *sent, *accept;
  if (grpc) {
    sent = connectc_headers_get(headers, "grpc-encoding");
    accept = connectc_headers_get(headers, "grpc-accept-encoding");
  } else if (s->streaming) {
    sent = connectc_headers_get(headers, "connect-content-encoding");
    accept = connectc_headers_get(headers, "connect-accept-encoding");
  } else {
    sent = s->is_get ? (query_ok ? q.compression : NULL)
                     : connectc_headers_get(headers, "content-encoding");
    accept = connectc_headers_get(headers, "accept-encoding");
  }
  s->req_comp = CONNECTC_COMPRESSION_IDENTITY;
  int failed = 0;
  if (sent && sent[0] && strcmp(sent, "identity") != 0 &&
      !connectc_compression_from_name(sent, strlen(sent), &s->req_comp)) {
    fail_with(s, CONNECTC_CODE_UNIMPLEMENTED, "unknown compression \"%s\": supported encodings are %s",
              sent, connectc_compressions_accept_header());
    failed = 1;
  }
  s->resp_comp = pick_response_compression(s->req_comp, accept);
  s->reader.comp = s->req_comp;
  if (!failed && !s->cctx_lent &&
      (s->req_comp != CONNECTC_COMPRESSION_IDENTITY ||
       s->resp_comp != CONNECTC_COMPRESSION_IDENTITY)) {
    if (connectc_compress_ctx_new(&s->alloc, &s->cctx) != CONNECTC_OK) {
      s->resp_comp = CONNECTC_COMPRESSION_IDENTITY;
      fail_with(s, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory for compression");
      failed = 1;
    }
  }

  /* Protocol version (Connect only). */
  if (!failed && !grpc) {
    const char *version = s->is_get ? (query_ok ? q.connect : NULL)
                                    : connectc_headers_get(headers, "connect-protocol-version");
    int required = s->cfg.require_protocol_header && st == CONNECTC_STREAM_UNARY;
    const char *pname = s->is_get ? "connect" : "connect-protocol-version";
    const char *want = s->is_get ? "v1" : "1";
    if (!version && required) {
      fail_with(s, CONNECTC_CODE_INVALID_ARGUMENT, "missing required %s: set %s to \"%s\"",
                s->is_get ? "query parameter" : "header", pname, want);
      failed = 1;
    } else if (version && strcmp(version, want) != 0) {
      fail_with(s, CONNECTC_CODE_INVALID_ARGUMENT, "%s must be \"%s\": got \"%s\"", pname, want,
                version);
      failed = 1;
    }
  }
  /* GET query and codec. */
  if (!failed && s->is_get && !query_ok) {
    finish_response(s, &qerr);
    failed = 1;
  }
  if (!failed && s->is_get && !s->codec) {
    fail_with(s, CONNECTC_CODE_INVALID_ARGUMENT, "invalid message encoding: \"%s\"", q.encoding);
    failed = 1;
  }
  /* Timeout. */
  const char *t = connectc_headers_get(headers, grpc ? "grpc-timeout" : "connect-timeout-ms");
  if (!failed && t && grpc) {
    int64_t ms;
    if (cc_grpc_timeout_parse(t, strlen(t), &ms) != CONNECTC_OK) {
      fail_with(s, CONNECTC_CODE_INVALID_ARGUMENT,
                "invalid grpc-timeout \"%s\": expected 1 to 8 digits and a unit (H, M, S, m, u, n)",
                t);
      failed = 1;
    } else {
      s->timeout_ms = ms;
      s->deadline = now_ms + ms;
    }
  } else if (!failed && t) {
    int64_t ms;
    if (cc_timeout_parse(t, strlen(t), &ms) != CONNECTC_OK) {
      fail_with(s, CONNECTC_CODE_INVALID_ARGUMENT,
                "invalid connect-timeout-ms \"%s\": expected 1 to 10 digits", t);
      failed = 1;
    } else {
      s->timeout_ms = ms;
      s->deadline = now_ms + ms;
    }
  }
  /* Deadline policy. */
  if (!failed && s->deadline < 0 && s->cfg.default_timeout_ms > 0) {
    s->timeout_ms = s->cfg.default_timeout_ms;
    s->deadline = now_ms + s->timeout_ms;
  }
  if (!failed && s->deadline >= 0 && s->cfg.max_timeout_ms > 0 &&
      s->timeout_ms > s->cfg.max_timeout_ms) {
    s->timeout_ms = s->cfg.max_timeout_ms;
    s->deadline = now_ms + s->timeout_ms;
  }
  /* Interceptors, before any of the body is read. */
  for (size_t i = 0; !failed && s->cfg.interceptors && i < s->cfg.n_interceptors; i++) {
    const connectc_server_interceptor *ic = s->cfg.interceptors[i];
    if (!ic->on_request_head) continue;
    connectc_error refuse;
    connectc_error_init(&refuse, &s->alloc);
    if (ic->on_request_head(s, &s->req_headers, &refuse, ic->user_data) != 0) {
      if (refuse.code == CONNECTC_CODE_OK) refuse.code = CONNECTC_CODE_PERMISSION_DENIED;
      if (!refuse.message)
        connectc_error_set(&refuse, refuse.code, "the call was refused by an interceptor");
      finish_response(s, &refuse);
      failed = 1;
    }
    connectc_error_reset(&refuse);
  }
  if (!failed && !s->streaming && !s->is_get) failed = refuse_declared_length(s, headers);
  if (!failed && s->is_get) {
    /* The message travels in the query, and its decoded bytes are in the
     * scratch already: the scratch becomes the unary body. */
    rv = CONNECTC_OK;
    if (s->unary_body.len == 0 && qscratch.data) {
      size_t at = (size_t)(q.message - qscratch.data);
      memmove(qscratch.data, qscratch.data + at, q.message_len);
      qscratch.len = q.message_len;
      cc_buf_free(&s->unary_body, &s->alloc);
      s->unary_body = qscratch;
      qscratch = (cc_buf)CC_BUF_INIT;
    } else {
      rv = cc_buf_append(&s->unary_body, &s->alloc, q.message, q.message_len);
    }
    if (rv) {
      fail_with(s, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory buffering the GET message");
      failed = 1;
    }
  }
  cc_buf_free(&qscratch, &s->alloc);
  connectc_error_reset(&qerr);
  if (!s->codec) s->codec = s->cfg.codecs[0];
  return failed ? CONNECTC_ERR_PROTOCOL : CONNECTC_OK;
}

/* ---- request body ---- */

static int deliver(connectc_server_call *s, const uint8_t *data, size_t len) {
  s->n_received++;
  s->req_msgs++;
  s->req_bytes += len;
  for (size_t i = 0; s->cfg.interceptors && i < s->cfg.n_interceptors; i++)
    if (s->cfg.interceptors[i]->on_request_message)
      s->cfg.interceptors[i]->on_request_message(s, data, len, s->cfg.interceptors[i]->user_data);
  if (is_unary_request(s->method->stream_type) && s->n_received > 1) {
    fail_with(s, CONNECTC_CODE_UNIMPLEMENTED, "unary request has multiple messages");
    return 1;
  }
  if (s->cb.on_message && s->cb.on_message(s, data, len, s->user_data) != 0) {
    if (s->state != SRV_FINISHED)
      fail_with(s, CONNECTC_CODE_INTERNAL, "the handler refused the request message");
    return 1;
  }
  return s->state == SRV_FINISHED;
}

static int on_stream_message(void *ud, uint8_t flags, const uint8_t *data, size_t len) {
  (void)flags;
  return deliver(ud, data, len);
}

/* recv_body and recv_body_some: `some` stops at a pause. */
static int recv_body(connectc_server_call *s, const uint8_t *data, size_t len, int some,
                     size_t *taken) {
  *taken = 0;
  if (!s || (!data && len)) return CONNECTC_ERR_ARGUMENT;
  if (s->state == SRV_WAIT_HEAD) return CONNECTC_ERR_STATE;
  *taken = len;
  if (s->state != SRV_RECEIVING || s->recv_done || len == 0) {
    s->req_wire += len;
    return CONNECTC_OK;
  }
  if (some && s->streaming && s->recv_paused) {
    *taken = 0; /* nothing is taken until connectc_server_call_resume_recv */
    return CONNECTC_OK;
  }
  if (!s->streaming) {
    s->req_wire += len;
    if (s->is_get) return CONNECTC_OK; /* a GET body is ignored */
    if (len > unary_body_limit(s) - s->unary_body.len) {
      body_limit_error(s, "the request body", "at least ", (uint64_t)(s->unary_body.len + len));
      return CONNECTC_OK;
    }
    /* A lent context may hold the last call's body buffer. */
    if (!s->unary_body.data && s->cctx_lent)
      cc_compress_ctx_take_buf(s->cctx, &s->alloc, &s->unary_body);
    return cc_buf_append(&s->unary_body, &s->alloc, data, len);
  }
  connectc_error e;
  connectc_error_init(&e, &s->alloc);
  if (s->cctx_lent) cc_msg_reader_take_buf(&s->reader, s->cctx);
  int rv = cc_msg_reader_feed_some(&s->reader, s->cctx, data, len, on_stream_message, s,
                                   some ? &s->recv_paused : NULL, taken, &e);
  s->req_wire += *taken; /* len, unless `some` stopped at a pause */
  if (rv < 0) {
    /* Codes as connect-go's handler reports them (e.g. internal for a
     * compressed message without a negotiated encoding). */
    if (e.code == CONNECTC_CODE_OK) e.code = CONNECTC_CODE_INTERNAL;
    if (s->state != SRV_FINISHED) finish_response(s, &e);
  }
  connectc_error_reset(&e);
  return CONNECTC_OK;
}

int connectc_server_call_recv_body(connectc_server_call *s, const uint8_t *data, size_t len) {
  size_t taken;
  return recv_body(s, data, len, 0, &taken);
}

int connectc_server_call_recv_body_some(connectc_server_call *s, const uint8_t *data, size_t len,
                                        size_t *taken) {
  size_t dummy;
  return recv_body(s, data, len, 1, taken ? taken : &dummy);
}

int connectc_server_call_lend_compress_ctx(connectc_server_call *s, connectc_compress_ctx *ctx) {
  if (!s) return CONNECTC_ERR_ARGUMENT;
  if (s->state != SRV_WAIT_HEAD) return CONNECTC_ERR_STATE;
  /* Before recv_head the call has no context of its own yet. */
  s->cctx = ctx;
  s->cctx_lent = ctx != NULL;
  return CONNECTC_OK;
}

void connectc_server_call_pause_recv(connectc_server_call *s) {
  if (s) s->recv_paused = 1;
}

void connectc_server_call_resume_recv(connectc_server_call *s) {
  if (!s || !s->recv_paused) return;
  s->recv_paused = 0;
  if (s->tops) s->tops->wake(s->tctx);
}

int connectc_server_call_recv_paused(const connectc_server_call *s) {
  return s && s->streaming && s->recv_paused && s->state == SRV_RECEIVING && !s->recv_done;
}

int connectc_server_call_recv_end(connectc_server_call *s) {
  if (!s) return CONNECTC_ERR_ARGUMENT;
  if (s->state == SRV_WAIT_HEAD) return CONNECTC_ERR_STATE;
  if (s->recv_done) return CONNECTC_OK;
  s->recv_done = 1;
  if (s->state != SRV_RECEIVING) return CONNECTC_OK;
  if (!s->streaming) {
    const uint8_t *p = s->unary_body.data;
    size_t len = s->unary_body.len;
    uint8_t *owned = NULL;
    connectc_error e;
    connectc_error_init(&e, &s->alloc);
    if (s->req_comp != CONNECTC_COMPRESSION_IDENTITY && len > 0) {
      int rv = cc_decompress_to(s->cctx, &s->alloc, s->req_comp, p, len,
                                s->limits.recv_max_bytes, &owned, &len, &e);
      if (rv) {
        if (e.code == CONNECTC_CODE_OK) e.code = CONNECTC_CODE_INTERNAL;
        finish_response(s, &e);
        connectc_error_reset(&e);
        return CONNECTC_OK;
      }
      p = owned;
    } else if (len > s->limits.recv_max_bytes) {
      connectc_error_reset(&e);
      fail_with(s, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                "message size %zu is larger than configured max %zu", len,
                s->limits.recv_max_bytes);
      return CONNECTC_OK;
    }
    connectc_error_reset(&e);
    s->state = SRV_HANDLING;
    if (!p) p = (const uint8_t *)""; /* callbacks never see NULL */
    /* The handler may decide the response inside deliver, which lets go
     * of a lent context; the body's buffer still goes back to it before
     * this function returns (connectc_server_call_lend_compress_ctx). */
    connectc_compress_ctx *lent = s->cctx_lent ? s->cctx : NULL;
    int stop = deliver(s, p, len);
    cc_free(&s->alloc, owned);
    cc_compress_ctx_give_buf(lent, &s->alloc, &s->unary_body);
    if (stop) return CONNECTC_OK;
  } else {
    if (!connectc_envelope_decoder_idle(&s->reader.dec)) {
      fail_with(s, CONNECTC_CODE_INVALID_ARGUMENT,
                "protocol error: the request ended in the middle of a message envelope");
      return CONNECTC_OK;
    }
    if (is_unary_request(s->method->stream_type) && s->n_received == 0) {
      fail_with(s, CONNECTC_CODE_UNIMPLEMENTED, "unary request has zero messages");
      return CONNECTC_OK;
    }
    /* Every message was delivered: the gathering buffer can serve the
     * next call on a lent context. */
    if (s->cctx_lent) cc_msg_reader_give_buf(&s->reader, s->cctx);
    s->state = SRV_HANDLING;
  }
  if (s->cb.on_end) s->cb.on_end(s, s->user_data);
  return CONNECTC_OK;
}

/* ---- accessors ---- */

const connectc_headers *connectc_server_call_request_headers(const connectc_server_call *s) {
  return &s->req_headers;
}
const char *connectc_server_call_codec(const connectc_server_call *s) { return s->codec; }
int connectc_server_call_is_get(const connectc_server_call *s) { return s->is_get; }
int64_t connectc_server_call_deadline(const connectc_server_call *s) {
  return s ? s->deadline : -1;
}
connectc_headers *connectc_server_call_response_headers(connectc_server_call *s) {
  return &s->resp_headers;
}
connectc_headers *connectc_server_call_response_trailers(connectc_server_call *s) {
  return &s->resp_trailers;
}
int connectc_server_call_is_finished(const connectc_server_call *s) {
  return s ? s->state == SRV_FINISHED : 1;
}

void connectc_server_call_tick(connectc_server_call *s, int64_t now_ms) {
  if (s && now_ms > s->now_ms) s->now_ms = now_ms;
  if (!s || s->state == SRV_FINISHED || s->state == SRV_WAIT_HEAD || s->deadline < 0) return;
  if (now_ms < s->deadline) return;
  connectc_error e;
  connectc_error_init(&e, &s->alloc);
  connectc_error_set(&e, CONNECTC_CODE_DEADLINE_EXCEEDED, "the deadline of %" PRId64 " ms passed",
                     s->timeout_ms);
  finish_response(s, &e);
  if (s->cb.on_cancel) s->cb.on_cancel(s, &e, s->user_data);
  connectc_error_reset(&e);
}

void connectc_server_call_cancel(connectc_server_call *s) {
  if (!s) return;
  int was_finished = s->state == SRV_FINISHED;
  s->state = SRV_FINISHED;
  s->body_done = 1;
  release_lent_ctx(s);
  if (was_finished) return;
  connectc_error e;
  connectc_error_init(&e, &s->alloc);
  connectc_error_set(&e, CONNECTC_CODE_CANCELED, "the client went away");
  notify_close(s, &e);
  if (s->cb.on_cancel) s->cb.on_cancel(s, &e, s->user_data);
  connectc_error_reset(&e);
}

/* ---- response side ---- */

int connectc_server_call_flush_headers(connectc_server_call *s) {
  if (!s) return CONNECTC_ERR_ARGUMENT;
  if (s->state == SRV_WAIT_HEAD || s->state == SRV_FINISHED || !s->streaming)
    return CONNECTC_ERR_STATE;
  return stream_head(s);
}

int connectc_server_call_send(connectc_server_call *s, const uint8_t *msg, size_t len) {
  if (!s || (!msg && len)) return CONNECTC_ERR_ARGUMENT;
  if (s->state == SRV_WAIT_HEAD || s->state == SRV_FINISHED) return CONNECTC_ERR_STATE;
  if (is_unary_response(s->method->stream_type) && s->n_sent > 0) return CONNECTC_ERR_STATE;
  if (s->limits.send_max_bytes && len > s->limits.send_max_bytes) {
    fail_with(s, CONNECTC_CODE_RESOURCE_EXHAUSTED, "message size %zu exceeds sendMaxBytes %zu",
              len, s->limits.send_max_bytes);
    return CONNECTC_ERR_LIMIT;
  }
  if (s->streaming && connectc_server_call_send_queued(s) >= s->send_window) {
    s->want_writable = 1;
    return CONNECTC_ERR_FULL;
  }
  s->n_sent++;
  s->resp_msgs++;
  s->resp_bytes += len;
  for (size_t i = 0; s->cfg.interceptors && i < s->cfg.n_interceptors; i++)
    if (s->cfg.interceptors[i]->on_response_message)
      s->cfg.interceptors[i]->on_response_message(s, msg ? msg : (const uint8_t *)"", len,
                                                  s->cfg.interceptors[i]->user_data);
  if (!s->streaming) {
    s->unary_have_msg = 1;
    return cc_buf_append(&s->unary_msg, &s->alloc, msg, len);
  }
  int rv = stream_head(s);
  if (rv) return rv;
  return cc_frame_message(&s->body, s->cctx, &s->alloc, s->resp_comp,
                          s->limits.compress_min_bytes, 0, msg, len);
}

int connectc_server_call_finish(connectc_server_call *s, const connectc_error *err) {
  if (!s) return CONNECTC_ERR_ARGUMENT;
  if (s->state == SRV_WAIT_HEAD) return CONNECTC_ERR_STATE;
  if ((!err || err->code == CONNECTC_CODE_OK) && s->streaming &&
      s->protocol == CONNECTC_PROTOCOL_CONNECT &&
      s->method->stream_type == CONNECTC_STREAM_CLIENT && s->n_sent == 0) {
    return fail_with(s, CONNECTC_CODE_INTERNAL, "the handler finished without a response message");
  }
  return finish_response(s, err);
}

int connectc_server_call_response_head(connectc_server_call *s, connectc_response_head *out) {
  if (!s || !out) return CONNECTC_ERR_ARGUMENT;
  if (!s->head_ready) return CONNECTC_ERR_STATE;
  int rv = cors_response_headers(s);
  if (rv) return rv;
  out->status = s->status;
  out->headers = &s->head_headers;
  out->content_length = s->content_length;
  return CONNECTC_OK;
}

void connectc_server_call_body_peek(connectc_server_call *s, const uint8_t **data, size_t *len,
                                    int *done) {
  if (!s->head_ready) {
    *data = NULL;
    *len = 0;
    *done = 0;
    return;
  }
  cc_outq_peek(&s->body, data, len);
  *done = s->body_done;
}

void connectc_server_call_body_consume(connectc_server_call *s, size_t n) {
  s->resp_wire += n;
  cc_outq_consume(&s->body, n);
  if (s->want_writable && connectc_server_call_send_queued(s) <= s->send_window / 2) {
    s->want_writable = 0;
    if (s->state != SRV_FINISHED && s->cb.on_writable) s->cb.on_writable(s, s->user_data);
  }
}

size_t connectc_server_call_send_queued(const connectc_server_call *s) {
  return s ? s->body.buf.len - s->body.off : 0;
}

int connectc_server_call_writable(const connectc_server_call *s) {
  if (!s || s->state == SRV_WAIT_HEAD || s->state == SRV_FINISHED) return 0;
  return !s->streaming || connectc_server_call_send_queued(s) < s->send_window;
}

void connectc_server_call_want_writable(connectc_server_call *s) {
  if (s) s->want_writable = 1;
}

size_t connectc_server_call_send_window(const connectc_server_call *s) {
  return s ? s->send_window : 0;
}

void connectc_server_call_set_user_data(connectc_server_call *s, void *user_data) {
  s->user_data = user_data;
}
void *connectc_server_call_user_data(const connectc_server_call *s) { return s->user_data; }
const connectc_method_desc *connectc_server_call_method(const connectc_server_call *s) {
  return s->method;
}

connectc_headers *connectc_server_call_headers_to_fill(connectc_server_call *call) {
  return &call->req_headers;
}

void *connectc_server_call_storage(connectc_server_call *call, size_t *size) {
  if (size) *size = call->storage_size;
  return call->storage;
}

void connectc_server_call_set_hooks(connectc_server_call *s,
                                        const connectc_server_call_hooks *ops, void *ctx) {
  s->tops = ops;
  s->tctx = ctx;
}

void connectc_server_call_run(connectc_server_call *s,
                              void (*fn)(connectc_server_call *call, void *arg), void *arg) {
  if (!s->tops) {
    fn(s, arg);
    return;
  }
  s->tops->lock(s->tctx);
  fn(s, arg);
  s->tops->wake(s->tctx);
  s->tops->unlock(s->tctx);
}

void connectc_server_call_ref(connectc_server_call *s) {
  if (s->tops && s->tops->ref) s->tops->ref(s->tctx);
}

void connectc_server_call_unref(connectc_server_call *s) {
  if (s->tops && s->tops->unref) s->tops->unref(s->tctx);
}

const connectc_headers *connectc_server_call_response_http_trailers(const connectc_server_call *s) {
  return s && s->body_done && s->has_http_trailers ? &s->http_trailers : NULL;
}

connectc_protocol connectc_server_call_protocol(const connectc_server_call *s) {
  return s ? s->protocol : CONNECTC_PROTOCOL_CONNECT;
}

int connectc_server_call_has_hooks(const connectc_server_call *s) { return s && s->tops != NULL; }
