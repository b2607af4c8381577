/**
 * @file connectc/compress.h
 * @brief The compression algorithms Connect negotiates (identity, gzip,
 * br, zstd) behind one interface, with reusable contexts and bounded
 * decompression.
 *
 * Part of libconnectc-core. gzip (zlib) is always compiled in; br
 * (brotli) and zstd are compiled in when found at configure time (the
 * CMake options CONNECTC_WITH_BROTLI and CONNECTC_WITH_ZSTD).
 * connectc_compression_supported() and connectc_compressions_list()
 * report what this build has at run time.
 */
#ifndef CONNECTC_COMPRESS_H
#define CONNECTC_COMPRESS_H

#include "connectc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A compression algorithm, as Connect names them on the wire. */
typedef enum connectc_compression {
  /** "identity": no compression. Always supported. */
  CONNECTC_COMPRESSION_IDENTITY = 0,
  /** "gzip" (zlib). Always supported. */
  CONNECTC_COMPRESSION_GZIP = 1,
  /** "br" (brotli). Supported when the build found brotli. */
  CONNECTC_COMPRESSION_BR = 2,
  /** "zstd". Supported when the build found zstd. */
  CONNECTC_COMPRESSION_ZSTD = 3
} connectc_compression;

/** The number of connectc_compression values, built in or not. */
#define CONNECTC_COMPRESSION_COUNT 4

/**
 * The wire name of an algorithm.
 * @param c any value.
 * @return "identity", "gzip", "br" or "zstd" (static storage), also for an
 *         algorithm this build lacks; NULL for other values.
 */
CONNECTC_API const char *connectc_compression_name(connectc_compression c);
/**
 * Parses a wire name (exact, case-sensitive as Connect specifies).
 * @param name the name, `len` bytes (no NUL needed); borrowed for the call.
 * @param len length of `name`.
 * @param out receives the algorithm on success; untouched otherwise.
 * @return 1 if the name is one of the four ("identity" included) AND this
 *         build supports it, 0 otherwise.
 */
CONNECTC_API int connectc_compression_from_name(const char *name, size_t len, connectc_compression *out);
/**
 * Whether this build can compress and decompress with an algorithm.
 * @param c any value.
 * @return 1 if it can (always for identity and gzip), 0 otherwise.
 */
CONNECTC_API int connectc_compression_supported(connectc_compression c);
/**
 * Lists the supported algorithms other than identity, in a fixed order:
 * gzip, then br, then zstd (those this build has), the order of
 * connectc_compressions_accept_header().
 * @param out receives the first `cap` of them; may be NULL when `cap` is 0.
 * @param cap number of entries `out` has room for.
 * @return how many algorithms there are (which may exceed `cap`).
 */
CONNECTC_API size_t connectc_compressions_list(connectc_compression *out, size_t cap);
/**
 * The Accept-Encoding value this build advertises.
 * @return "gzip", "gzip, br", "gzip, zstd" or "gzip, br, zstd" (static
 *         storage).
 */
CONNECTC_API const char *connectc_compressions_accept_header(void);

/**
 * A reusable compression context. It keeps one encoder and one decoder
 * state per algorithm (gzip and zstd; brotli's are made per message),
 * created on first use and reset at the start of every message, so that a
 * call or a connection compresses many messages without re-allocating
 * library state.
 *
 * Each connectc_compress() and connectc_decompress() is one-shot: nothing
 * of one message carries over to the next except the allocated states and
 * the levels. So one context can serve many calls, one after another or
 * interleaved, as long as no two operations run at the same time: it is
 * not thread-safe, use it from one thread at a time (one per event-loop
 * thread, per connection, or per lock). Calls borrow one through
 * connectc_server_call_lend_compress_ctx() and
 * connectc_client_config.compress_ctx; the adapters lend one per
 * connection or per loop thread.
 *
 * A context lent to calls also keeps a receive buffer for the next call
 * (a Connect unary body, a server call's gathered stream messages; see
 * connectc_server_call_lend_compress_ctx()): it holds memory up to the
 * largest message received until connectc_compress_ctx_del().
 */
typedef struct connectc_compress_ctx connectc_compress_ctx;

/**
 * Creates a compression context. Encoder and decoder states are created
 * on first use, not here.
 * @param alloc the allocator of the context and of every zlib, brotli and
 *        zstd state it creates; may be NULL (default allocator); copied.
 * @param out receives the context; set to NULL on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `out` is NULL;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_compress_ctx_new(const connectc_allocator *alloc, connectc_compress_ctx **out);
/**
 * Frees a context and every state it holds.
 * @param ctx the context; NULL is ignored.
 */
CONNECTC_API void connectc_compress_ctx_del(connectc_compress_ctx *ctx);
/**
 * Sets the compression level of one algorithm. Defaults: gzip 6 (zlib's
 * default), br 1, zstd 3 (fast levels suited to RPC). Levels out of range
 * are brought into it: gzip above 9 becomes 9 and below 0 the default;
 * br is kept within 0..11, zstd within 1..19. Changing the gzip level
 * drops the gzip encoder state (it is created again on next use).
 *
 * Levels belong to the context, not to a call: the calls a context is lent
 * to never change them, and every one of them compresses at the levels set
 * here (a call with a context of its own uses the defaults). Set them
 * before lending the context; setting the gzip level between calls costs
 * a new gzip state each time it changes.
 * @param ctx the context; must not be NULL.
 * @param c the algorithm; identity and other values are ignored.
 * @param level the level.
 */
CONNECTC_API void connectc_compress_ctx_set_level(connectc_compress_ctx *ctx, connectc_compression c,
                                     int level);

/**
 * Compresses `in[0..in_len)` with `c` into a freshly allocated buffer.
 * For identity the bytes are copied.
 *
 * Known limitation: brotli 1.0.9's encoder terminates the process (exit)
 * when one of its allocations fails; its decoder reports failures. With
 * an allocator that may fail, prefer gzip or zstd for sending.
 *
 * @param ctx the context (its encoder state for `c` is reused).
 * @param c the algorithm.
 * @param in the bytes to compress, borrowed for the call; may be NULL when
 *        `in_len` is 0.
 * @param in_len length of `in`.
 * @param out receives the compressed bytes (never NULL on success),
 *        allocated with the context's allocator: free them with
 *        connectc_free() and that allocator.
 * @param out_len receives their length.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `ctx`, `out` or `out_len` is NULL, or
 *         `in` is NULL with a non-zero length;
 *         CONNECTC_ERR_UNSUPPORTED when `c` is not in this build;
 *         CONNECTC_ERR_LIMIT for gzip input over 2 GiB (UINT32_MAX / 2);
 *         CONNECTC_ERR_NOMEM when an allocation or the compressor failed.
 */
CONNECTC_API int connectc_compress(connectc_compress_ctx *ctx, connectc_compression c, const uint8_t *in,
                      size_t in_len, uint8_t **out, size_t *out_len);

/**
 * Decompresses `in[0..in_len)` into a freshly allocated buffer. Stops the
 * moment the output would exceed `max_out` bytes, whatever the ratio; the
 * output buffer never grows beyond max_out + 1 bytes (the 1 detects the
 * overflow). Empty input is an empty message for every algorithm.
 * Concatenated gzip members are accepted, as Go's reader does. zstd
 * frames asking for a window above 8 MiB are refused.
 *
 * @param ctx the context (its decoder state for `c` is reused).
 * @param c the algorithm.
 * @param in the compressed bytes, borrowed for the call; may be NULL when
 *        `in_len` is 0.
 * @param in_len length of `in`.
 * @param max_out the largest output accepted, in bytes.
 * @param out receives the bytes (never NULL on success, also when empty),
 *        allocated with the context's allocator: free them with
 *        connectc_free() and that allocator.
 * @param out_len receives their length.
 * @param err set on failure (except CONNECTC_ERR_ARGUMENT) to the Connect
 *        error to report; may be NULL.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `ctx`, `out` or `out_len` is NULL, or
 *         `in` is NULL with a non-zero length (`err` untouched);
 *         CONNECTC_ERR_UNSUPPORTED when `c` is not in this build (`err`:
 *         unimplemented, "compression zstd is not supported");
 *         CONNECTC_ERR_LIMIT when the output passes `max_out` (`err`:
 *         resource_exhausted, "message is larger than configured max N");
 *         CONNECTC_ERR_PROTOCOL for corrupt or truncated input, or
 *         trailing bytes after the end of the compressed stream (`err`:
 *         invalid_argument, "decompress: <algorithm>: <problem>");
 *         CONNECTC_ERR_NOMEM (`err`: resource_exhausted, "out of memory
 *         while decompressing").
 */
CONNECTC_API int connectc_decompress(connectc_compress_ctx *ctx, connectc_compression c, const uint8_t *in,
                        size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
                        connectc_error *err);

#ifdef __cplusplus
}
#endif

#endif
