/*
 * The client call state machine: typed intents in, request bytes out;
 * response bytes in, messages and exactly one final status out.
 *
 * Error codes and messages for a misbehaving server follow connect-go's
 * client, which the conformance suite uses as its reference.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "call_internal.h"
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

  connectc_compress_ctx *cctx;

  /* request */
  connectc_headers req_headers;
  int head_built;
  char *path;
  int64_t content_length;
  cc_outq body;
  int send_closed;
  size_t n_sent;
  cc_buf unary_msg; /* unary: the (maybe compressed) message until the head is built */
  int unary_compressed;

  /* response */
  enum resp_state rstate;
  int http_status;
  connectc_headers resp_headers;
  connectc_headers trailers;
  cc_buf unary_body;
  connectc_compression resp_comp;
  cc_msg_reader reader;
  int got_end_stream;
  size_t n_received;
  int held_done; /* client stream: the held response was delivered */
  connectc_error end_err; /* error carried by the end-of-stream message */

  int closed;
  connectc_error err;
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
  c->rstate = RESP_DISCARD;
  c->send_closed = 1;
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
  if (cfg->protocol != CONNECTC_PROTOCOL_CONNECT) return CONNECTC_ERR_UNSUPPORTED;
  if (!connectc_compression_supported(cfg->send_compression)) return CONNECTC_ERR_UNSUPPORTED;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  connectc_client_call *c = cc_malloc(a, sizeof *c);
  if (!c) return CONNECTC_ERR_NOMEM;
  memset(c, 0, sizeof *c);
  c->alloc = *a;
  if (cb) c->cb = *cb;
  c->user_data = user_data;
  c->stream_type = cfg->stream_type;
  c->send_comp = cfg->send_compression;
  c->limits = cc_limits_resolve(&cfg->limits);
  c->timeout_ms = cfg->timeout_ms;
  c->deadline = cfg->timeout_ms > 0 ? now_ms + cfg->timeout_ms : -1;
  c->use_get = cfg->use_get;
  c->protocol = cfg->protocol;
  c->full_duplex = cfg->full_duplex && cfg->stream_type == CONNECTC_STREAM_BIDI;
  c->content_length = -1;
  connectc_headers_init(&c->req_headers, &c->alloc);
  connectc_headers_init(&c->resp_headers, &c->alloc);
  connectc_headers_init(&c->trailers, &c->alloc);
  connectc_error_init(&c->err, &c->alloc);
  connectc_error_init(&c->end_err, &c->alloc);
  cc_msg_reader_init(&c->reader, c->limits.recv_max_bytes, CONNECTC_ENVELOPE_FLAG_END_STREAM,
                     &c->alloc);
  c->procedure = cc_strndup(&c->alloc, cfg->procedure, strlen(cfg->procedure));
  c->codec = cc_strndup(&c->alloc, cfg->codec, strlen(cfg->codec));
  (void)connectc_compress_ctx_new(&c->alloc, &c->cctx); /* NULL checked below */
  if (!c->procedure || !c->codec || !c->cctx) {
    connectc_client_call_del(c);
    return CONNECTC_ERR_NOMEM;
  }
  *out = c;
  return CONNECTC_OK;
}

void connectc_client_call_del(connectc_client_call *c) {
  if (!c) return;
  connectc_allocator a = c->alloc;
  cc_free(&a, c->procedure);
  cc_free(&a, c->codec);
  cc_free(&a, c->path);
  connectc_compress_ctx_del(c->cctx);
  connectc_headers_reset(&c->req_headers);
  connectc_headers_reset(&c->resp_headers);
  connectc_headers_reset(&c->trailers);
  connectc_error_reset(&c->err);
  connectc_error_reset(&c->end_err);
  cc_msg_reader_free(&c->reader);
  cc_outq_free(&c->body, &a);
  cc_buf_free(&c->unary_msg, &a);
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

static int add_protocol_headers(connectc_client_call *c) {
  connectc_headers *h = &c->req_headers;
  int streaming = c->stream_type != CONNECTC_STREAM_UNARY;
  int rv = CONNECTC_OK;
  if (!c->use_get) {
    rv = cc_add_content_type(h, streaming, c->codec);
    if (rv == CONNECTC_OK) rv = connectc_headers_adds(h, "connect-protocol-version", "1");
  }
  if (rv == CONNECTC_OK && c->timeout_ms > 0) {
    char t[11];
    cc_timeout_format(c->timeout_ms, t);
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

static int build_head(connectc_client_call *c) {
  if (c->head_built) return CONNECTC_OK;
  int rv = add_protocol_headers(c);
  if (rv) return rv;
  if (c->use_get) {
    cc_buf q = CC_BUF_INIT;
    rv = cc_buf_append_str(&q, &c->alloc, c->procedure);
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&q, &c->alloc, '?');
    if (rv == CONNECTC_OK)
      rv = cc_get_query_format(&q, &c->alloc, c->codec,
                               c->unary_compressed ? c->send_comp : CONNECTC_COMPRESSION_IDENTITY,
                               c->unary_msg.data, c->unary_msg.len);
    if (rv == CONNECTC_OK) {
      c->path = cc_buf_take_cstr(&q, &c->alloc);
      if (!c->path) rv = CONNECTC_ERR_NOMEM;
    }
    cc_buf_free(&q, &c->alloc);
    if (rv) return rv;
    c->content_length = 0;
    cc_buf_free(&c->unary_msg, &c->alloc);
  } else {
    c->path = cc_strndup(&c->alloc, c->procedure, strlen(c->procedure));
    if (!c->path) return CONNECTC_ERR_NOMEM;
    if (c->stream_type == CONNECTC_STREAM_UNARY) {
      c->content_length = (int64_t)c->unary_msg.len;
      rv = cc_outq_append(&c->body, &c->alloc, c->unary_msg.data, c->unary_msg.len);
      cc_buf_free(&c->unary_msg, &c->alloc);
      if (rv) return rv;
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
  int rv;
  if (c->stream_type == CONNECTC_STREAM_UNARY) {
    const uint8_t *p;
    size_t plen;
    uint8_t *owned;
    rv = cc_maybe_compress(c->cctx, &c->alloc, c->send_comp, c->limits.compress_min_bytes, msg,
                           len, &p, &plen, &owned, &c->unary_compressed);
    if (rv == CONNECTC_OK) rv = cc_buf_append(&c->unary_msg, &c->alloc, p, plen);
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
  cc_outq_peek(&c->body, data, len);
  *done = c->send_closed && (c->head_built || c->closed);
}

void connectc_client_call_body_consume(connectc_client_call *c, size_t n) {
  cc_outq_consume(&c->body, n);
}

/* ---- response side ---- */

/* Resolves a response compression header; closes the call when unknown. */
static int resolve_encoding(connectc_client_call *c, const char *value) {
  c->resp_comp = CONNECTC_COMPRESSION_IDENTITY;
  if (!value || !value[0] || strcmp(value, "identity") == 0) return 1;
  if (connectc_compression_from_name(value, strlen(value), &c->resp_comp)) return 1;
  close_with(c, CONNECTC_CODE_INTERNAL, "unknown encoding \"%s\": accepted encodings are %s",
             value, connectc_compressions_accept_header());
  return 0;
}

static int deliver_headers(connectc_client_call *c) {
  if (!c->cb.on_headers) return 1;
  if (c->cb.on_headers(c, &c->resp_headers, c->user_data) != 0) {
    close_with(c, CONNECTC_CODE_CANCELED, "call canceled by the on_headers callback");
    return 0;
  }
  return 1;
}

int connectc_client_call_recv_head(connectc_client_call *c, int http_status,
                                   const connectc_headers *headers) {
  if (!c || !headers) return CONNECTC_ERR_ARGUMENT;
  if (c->closed) return CONNECTC_OK;
  if (c->rstate != RESP_WAIT_HEAD) return CONNECTC_ERR_STATE;
  c->http_status = http_status;
  c->rstate = RESP_BODY;
  int unary = c->stream_type == CONNECTC_STREAM_UNARY;
  /* Unary trailers travel as "trailer-" prefixed headers. */
  for (size_t i = 0; i < headers->len; i++) {
    const connectc_header *e = &headers->items[i];
    int rv;
    if (unary && e->name_len > 8 && memcmp(e->name, "trailer-", 8) == 0)
      rv = connectc_headers_add(&c->trailers, e->name + 8, e->name_len - 8, e->value,
                                e->value_len);
    else
      rv = connectc_headers_add(&c->resp_headers, e->name, e->name_len, e->value, e->value_len);
    if (rv == CONNECTC_ERR_NOMEM) return rv;
  }
  const char *ctype = connectc_headers_get(&c->resp_headers, "content-type");
  if (!ctype) ctype = "";
  if (unary) {
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
  if (c->stream_type == CONNECTC_STREAM_CLIENT && !c->held_done) {
    /* The one response of a client stream is handed over only once the
     * stream ended cleanly (a second message or an error end-of-stream
     * means no response at all, as in connect-go). */
    cc_buf_clear(&c->unary_body);
    if (cc_buf_append(&c->unary_body, &c->alloc, data, len) != CONNECTC_OK) {
      close_with(c, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory holding the response");
      return 1;
    }
    return 0;
  }
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
  if (flags & CONNECTC_ENVELOPE_FLAG_END_STREAM) {
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

int connectc_client_call_recv_body(connectc_client_call *c, const uint8_t *data, size_t len) {
  if (!c || (!data && len)) return CONNECTC_ERR_ARGUMENT;
  if (c->closed || c->rstate == RESP_DISCARD || len == 0) return CONNECTC_OK;
  if (c->rstate == RESP_WAIT_HEAD) return CONNECTC_ERR_STATE;
  if (c->stream_type == CONNECTC_STREAM_UNARY) {
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
    return cc_buf_append(&c->unary_body, &c->alloc, data, len);
  }
  connectc_error perr;
  connectc_error_init(&perr, &c->alloc);
  int rv = cc_msg_reader_feed(&c->reader, c->cctx, data, len, on_stream_message, c, &perr);
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

int connectc_client_call_recv_trailers(connectc_client_call *c,
                                       const connectc_headers *trailers) {
  if (!c || !trailers) return CONNECTC_ERR_ARGUMENT;
  if (c->closed) return CONNECTC_OK;
  return connectc_headers_append_all(&c->trailers, trailers);
}

/* Decompresses the unary body within the receive limit; closes on error. */
static int unary_payload(connectc_client_call *c, const uint8_t **p, size_t *len,
                         uint8_t **owned) {
  *owned = NULL;
  *p = c->unary_body.data;
  *len = c->unary_body.len;
  if (c->resp_comp != CONNECTC_COMPRESSION_IDENTITY && *len > 0) {
    connectc_error perr;
    connectc_error_init(&perr, &c->alloc);
    int rv = connectc_decompress(c->cctx, c->resp_comp, *p, *len, c->limits.recv_max_bytes,
                                 owned, len, &perr);
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

static void finish_unary(connectc_client_call *c) {
  const uint8_t *p;
  size_t len;
  uint8_t *owned;
  if (c->rstate == RESP_ERROR_BODY) {
    if (!unary_payload(c, &p, &len, &owned)) return;
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
  if (!unary_payload(c, &p, &len, &owned)) return;
  if (!p) p = (const uint8_t *)""; /* callbacks never see NULL */
  int stop = deliver_message(c, p, len);
  cc_free(&c->alloc, owned);
  if (!stop) close_call(c); /* success: err is still OK */
}

int connectc_client_call_recv_end(connectc_client_call *c) {
  if (!c) return CONNECTC_ERR_ARGUMENT;
  if (c->closed) return CONNECTC_OK;
  if (c->rstate == RESP_WAIT_HEAD) {
    close_with(c, CONNECTC_CODE_UNAVAILABLE, "the response ended before its headers");
    return CONNECTC_OK;
  }
  if (c->stream_type == CONNECTC_STREAM_UNARY) {
    finish_unary(c);
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
  if (c->stream_type == CONNECTC_STREAM_CLIENT && c->n_received == 0) {
    close_with(c, CONNECTC_CODE_UNIMPLEMENTED, "unary response has zero messages");
    return CONNECTC_OK;
  }
  if (c->stream_type == CONNECTC_STREAM_CLIENT) {
    c->held_done = 1;
    c->n_received = 0;
    const uint8_t *p = c->unary_body.data ? c->unary_body.data : (const uint8_t *)"";
    if (deliver_message(c, p, c->unary_body.len)) return CONNECTC_OK;
  }
  close_call(c);
  return CONNECTC_OK;
}

void connectc_client_call_fail(connectc_client_call *c, connectc_code code,
                               const char *message) {
  if (!c) return;
  if (code == CONNECTC_CODE_OK) code = CONNECTC_CODE_UNKNOWN;
  close_with(c, code, "%s", message ? message : "transport failure");
}

void connectc_client_call_tick(connectc_client_call *c, int64_t now_ms) {
  if (!c || c->closed || c->deadline < 0) return;
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
