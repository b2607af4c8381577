/* Shared machinery of the client and server call state machines. */
#include <string.h>

#include "call_internal.h"
#include "compress_internal.h"
#include "protocol.h"

void cc_outq_peek(const cc_outq *q, const uint8_t **data, size_t *len) {
  *data = q->buf.data ? q->buf.data + q->off : NULL;
  *len = q->buf.len - q->off;
}

void cc_outq_consume(cc_outq *q, size_t n) {
  size_t avail = q->buf.len - q->off;
  if (n > avail) n = avail;
  q->off += n;
  if (q->off == q->buf.len) q->off = q->buf.len = 0;
}

int cc_outq_reserve(cc_outq *q, const connectc_allocator *a, size_t extra) {
  if (q->off > 0 && q->buf.cap - q->buf.len < extra) {
    memmove(q->buf.data, q->buf.data + q->off, q->buf.len - q->off);
    q->buf.len -= q->off;
    q->off = 0;
  }
  return cc_buf_reserve(&q->buf, a, extra);
}

int cc_outq_append(cc_outq *q, const connectc_allocator *a, const void *data, size_t len) {
  int rv = cc_outq_reserve(q, a, len);
  if (rv) return rv;
  return cc_buf_append(&q->buf, a, data, len);
}

void cc_outq_free(cc_outq *q, const connectc_allocator *a) {
  cc_buf_free(&q->buf, a);
  q->off = 0;
}

const char *connectc_protocol_name(connectc_protocol p) {
  switch (p) {
    case CONNECTC_PROTOCOL_CONNECT: return "connect";
    case CONNECTC_PROTOCOL_GRPC: return "grpc";
    case CONNECTC_PROTOCOL_GRPC_WEB: return "grpc-web";
  }
  return NULL;
}

connectc_call_limits cc_limits_resolve(const connectc_call_limits *in) {
  connectc_call_limits l = {0};
  if (in) l = *in;
  if (l.recv_max_bytes == 0) l.recv_max_bytes = CONNECTC_DEFAULT_RECV_MAX_BYTES;
  return l;
}

size_t cc_compressed_bound(size_t max) {
  size_t slack = max / 16 + 1024;
  return max > SIZE_MAX - slack ? SIZE_MAX : max + slack;
}

int cc_maybe_compress(connectc_compress_ctx *ctx, const connectc_allocator *a,
                      connectc_compression comp, size_t min_bytes, const uint8_t *msg,
                      size_t len, const uint8_t **out, size_t *out_len, uint8_t **owned,
                      int *compressed) {
  *owned = NULL;
  *compressed = 0;
  *out = msg;
  *out_len = len;
  if (comp == CONNECTC_COMPRESSION_IDENTITY || len < min_bytes) return CONNECTC_OK;
  uint8_t *c = NULL;
  size_t clen = 0;
  int rv = cc_compress_to(ctx, a, comp, msg, len, &c, &clen);
  if (rv) return rv;
  *owned = c;
  *out = c;
  *out_len = clen;
  *compressed = 1;
  return CONNECTC_OK;
}

int cc_frame_message(cc_outq *q, connectc_compress_ctx *ctx, const connectc_allocator *a,
                     connectc_compression comp, size_t min_bytes, uint8_t flags,
                     const uint8_t *msg, size_t len) {
  const uint8_t *payload;
  size_t plen;
  uint8_t *owned;
  int compressed;
  int rv = cc_maybe_compress(ctx, a, comp, min_bytes, msg, len, &payload, &plen, &owned,
                             &compressed);
  if (rv) return rv;
  if (plen > UINT32_MAX) {
    cc_free(a, owned);
    return CONNECTC_ERR_LIMIT;
  }
  if (compressed) flags |= CONNECTC_ENVELOPE_FLAG_COMPRESSED;
  uint8_t hdr[CONNECTC_ENVELOPE_HEADER_LEN];
  connectc_envelope_write_header(hdr, flags, (uint32_t)plen);
  rv = cc_outq_reserve(q, a, sizeof hdr + plen);
  if (rv == CONNECTC_OK) {
    cc_buf_append(&q->buf, a, hdr, sizeof hdr);
    cc_buf_append(&q->buf, a, payload, plen);
  }
  cc_free(a, owned);
  return rv;
}

void cc_msg_reader_init(cc_msg_reader *r, size_t max_bytes, uint8_t allowed_flags,
                        const connectc_allocator *a) {
  connectc_envelope_decoder_init(&r->dec, cc_compressed_bound(max_bytes), a);
  r->comp = CONNECTC_COMPRESSION_IDENTITY;
  r->max_bytes = max_bytes;
  r->allowed_flags = allowed_flags;
}

void cc_msg_reader_free(cc_msg_reader *r) { connectc_envelope_decoder_reset(&r->dec); }

void cc_msg_reader_take_buf(cc_msg_reader *r, connectc_compress_ctx *ctx) {
  if (!ctx || r->dec.buf) return;
  cc_buf b = CC_BUF_INIT;
  cc_compress_ctx_take_buf(ctx, &r->dec.alloc, &b);
  r->dec.buf = b.data;
  r->dec.buf_len = 0;
  r->dec.buf_cap = b.cap;
}

void cc_msg_reader_give_buf(cc_msg_reader *r, connectc_compress_ctx *ctx) {
  if (!ctx || !r->dec.buf || !connectc_envelope_decoder_idle(&r->dec)) return;
  cc_buf b = {r->dec.buf, r->dec.buf_len, r->dec.buf_cap};
  r->dec.buf = NULL;
  r->dec.buf_len = r->dec.buf_cap = 0;
  cc_compress_ctx_give_buf(ctx, &r->dec.alloc, &b);
}

int cc_msg_reader_feed(cc_msg_reader *r, connectc_compress_ctx *ctx, const uint8_t *data,
                       size_t len, cc_msg_fn fn, void *ud, connectc_error *err) {
  size_t taken;
  return cc_msg_reader_feed_some(r, ctx, data, len, fn, ud, NULL, &taken, err);
}

int cc_msg_reader_feed_some(cc_msg_reader *r, connectc_compress_ctx *ctx, const uint8_t *data,
                            size_t len, cc_msg_fn fn, void *ud, const int *stop, size_t *taken,
                            connectc_error *err) {
  *taken = len;
  const size_t all = len;
  while (len > 0) {
    size_t used = 0;
    connectc_envelope env;
    int rv = connectc_envelope_decode(&r->dec, data, len, &used, &env, err);
    if (rv < 0) return rv;
    data += used;
    len -= used;
    if (rv == 0) break;
    if (env.flags & ~(uint8_t)(CONNECTC_ENVELOPE_FLAG_COMPRESSED | r->allowed_flags)) {
      connectc_error_set(err, CONNECTC_CODE_INTERNAL, "protocol error: invalid envelope flags %u",
                         (unsigned)env.flags);
      return CONNECTC_ERR_PROTOCOL;
    }
    const uint8_t *payload = env.payload;
    size_t plen = env.len;
    uint8_t *owned = NULL;
    /* Checked even for empty payloads, as connect-go does. */
    if ((env.flags & CONNECTC_ENVELOPE_FLAG_COMPRESSED) && r->comp == CONNECTC_COMPRESSION_IDENTITY) {
      connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                         "protocol error: received a compressed message but no compression "
                         "was negotiated");
      return CONNECTC_ERR_PROTOCOL;
    }
    if ((env.flags & CONNECTC_ENVELOPE_FLAG_COMPRESSED) && plen > 0) {
      rv = cc_decompress_to(ctx, &r->dec.alloc, r->comp, payload, plen, r->max_bytes, &owned,
                            &plen, err);
      if (rv) return rv;
      payload = owned;
    } else if (plen > r->max_bytes) {
      connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                         "message size %zu is larger than configured max %zu", plen,
                         r->max_bytes);
      return CONNECTC_ERR_LIMIT;
    }
    rv = fn(ud, env.flags, payload, plen);
    cc_free(&r->dec.alloc, owned);
    if (rv) return rv;
    if (stop && *stop) {
      *taken = all - len;
      break;
    }
  }
  return CONNECTC_OK;
}

int cc_add_content_type(connectc_headers *h, connectc_protocol protocol, int streaming, int bare,
                        const char *codec) {
  /* Codec names are short: build the value on the stack (one allocation,
   * the header entry, per call); a long one goes through a buffer. */
  char ct[96];
  const char *prefix;
  switch (protocol) {
    case CONNECTC_PROTOCOL_GRPC: prefix = "application/grpc+"; break;
    case CONNECTC_PROTOCOL_GRPC_WEB: prefix = "application/grpc-web+"; break;
    default: prefix = streaming ? "application/connect+" : "application/"; break;
  }
  size_t pl = strlen(prefix), cl = strlen(codec);
  if (protocol != CONNECTC_PROTOCOL_CONNECT && bare && strcmp(codec, "proto") == 0) {
    cl = 0;
    pl--; /* no '+' */
  }
  if (pl + cl <= sizeof ct) {
    memcpy(ct, prefix, pl);
    memcpy(ct + pl, codec, cl);
    return connectc_headers_add(h, "content-type", 12, ct, pl + cl);
  }
  cc_buf b = CC_BUF_INIT;
  int rv = cc_content_type_format(&b, &h->alloc, protocol, streaming, bare, codec);
  if (rv == CONNECTC_OK) rv = connectc_headers_add(h, "content-type", 12, (const char *)b.data, b.len);
  cc_buf_free(&b, &h->alloc);
  return rv;
}
