/*
 * Internal: pieces shared by the client and the server call state
 * machines: an outbound byte queue, message framing with compression, and
 * the inbound envelope reader with decompression and limits.
 */
#ifndef CONNECTC_CORE_CALL_INTERNAL_H
#define CONNECTC_CORE_CALL_INTERNAL_H

#include "buf.h"
#include "connectc/client_call.h"
#include "connectc/server_call.h"
#include "connectc/compress.h"
#include "connectc/envelope.h"

/* A FIFO of bytes to write: peek at the front, consume what was sent. */
typedef struct cc_outq {
  cc_buf buf;
  size_t off; /* bytes already consumed from the front */
} cc_outq;

void cc_outq_peek(const cc_outq *q, const uint8_t **data, size_t *len);
void cc_outq_consume(cc_outq *q, size_t n);
/* Makes room for `extra` bytes at the back, compacting consumed space. */
int cc_outq_reserve(cc_outq *q, const connectc_allocator *a, size_t extra);
int cc_outq_append(cc_outq *q, const connectc_allocator *a, const void *data, size_t len);
void cc_outq_free(cc_outq *q, const connectc_allocator *a);

/* Limits with defaults applied. */
connectc_call_limits cc_limits_resolve(const connectc_call_limits *in);
/* The most compressed bytes accepted for a message of at most `max`. */
size_t cc_compressed_bound(size_t max);

/*
 * Compresses `msg` with `comp` when comp is not identity and len >=
 * min_bytes. On return *out and *out_len view either msg itself (*owned = NULL)
 * or a new buffer (*owned, to free with cc_free) and *compressed says which.
 */
int cc_maybe_compress(connectc_compress_ctx *ctx, const connectc_allocator *a,
                      connectc_compression comp, size_t min_bytes, const uint8_t *msg,
                      size_t len, const uint8_t **out, size_t *out_len, uint8_t **owned,
                      int *compressed);

/* Appends one envelope (5-byte prefix + payload) holding `msg`, compressed
 * per cc_maybe_compress, with `flags` OR-ed into the prefix. */
int cc_frame_message(cc_outq *q, connectc_compress_ctx *ctx, const connectc_allocator *a,
                     connectc_compression comp, size_t min_bytes, uint8_t flags,
                     const uint8_t *msg, size_t len);

/* Receives enveloped messages: decodes envelopes, checks flags and
 * decompresses within the receive limit. */
typedef struct cc_msg_reader {
  connectc_envelope_decoder dec;
  connectc_compression comp; /* negotiated encoding of the peer's messages */
  size_t max_bytes;          /* receive limit, after decompression */
  uint8_t allowed_flags;     /* flag bits the peer may set besides 0x01 */
} cc_msg_reader;

/* Called per message: flags of the envelope, the (decompressed) payload. */
typedef int (*cc_msg_fn)(void *ud, uint8_t flags, const uint8_t *data, size_t len);

/* connectc_server_call_new() with `storage_size` bytes of per-call
 * storage inside the call's allocation (connectc_server_call_storage). */
int cc_server_call_new_sized(const connectc_server_config *cfg, const connectc_method_desc *method,
                             const connectc_server_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, size_t storage_size,
                             connectc_server_call **out);

void cc_msg_reader_init(cc_msg_reader *r, size_t max_bytes, uint8_t allowed_flags,
                        const connectc_allocator *a);
void cc_msg_reader_free(cc_msg_reader *r);
/* The buffer a message split across chunks is gathered in, taken from a
 * lent context when the reader has none (cc_compress_ctx_take_buf), and
 * given back to it once the reader is idle and done
 * (cc_compress_ctx_give_buf). `ctx` may be NULL: nothing happens. */
void cc_msg_reader_take_buf(cc_msg_reader *r, connectc_compress_ctx *ctx);
void cc_msg_reader_give_buf(cc_msg_reader *r, connectc_compress_ctx *ctx);
/*
 * Feeds bytes; invokes fn for every complete message. Stops early when fn
 * returns non-zero (that value is returned). Protocol failures return a
 * negative connectc_rv with `err` set.
 */
int cc_msg_reader_feed(cc_msg_reader *r, connectc_compress_ctx *ctx, const uint8_t *data,
                       size_t len, cc_msg_fn fn, void *ud, connectc_error *err);
/* The same, but also stops after a message whose delivery set *stop;
 * *taken is then the bytes up to the end of that message (all of them
 * otherwise, or on an error). */
int cc_msg_reader_feed_some(cc_msg_reader *r, connectc_compress_ctx *ctx, const uint8_t *data,
                            size_t len, cc_msg_fn fn, void *ud, const int *stop, size_t *taken,
                            connectc_error *err);

/* Adds the content-type header of `protocol` (see cc_content_type_format). */
int cc_add_content_type(connectc_headers *h, connectc_protocol protocol, int streaming, int bare,
                        const char *codec);

#endif
