/*
 * compress.h: the compression algorithms Connect negotiates (identity,
 * gzip, br, zstd) behind one interface, with reusable contexts and
 * bounded decompression.
 *
 * gzip (zlib) is always compiled in; br (brotli) and zstd are compiled in
 * when found at configure time. connectc_compression_supported() and
 * connectc_compressions_list() report what this build has at run time.
 */
#ifndef CONNECTC_COMPRESS_H
#define CONNECTC_COMPRESS_H

#include "connectc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum connectc_compression {
  CONNECTC_COMPRESSION_IDENTITY = 0,
  CONNECTC_COMPRESSION_GZIP = 1,
  CONNECTC_COMPRESSION_BR = 2,
  CONNECTC_COMPRESSION_ZSTD = 3
} connectc_compression;

#define CONNECTC_COMPRESSION_COUNT 4

/* The wire name: "identity", "gzip", "br", "zstd"; NULL for other values. */
CONNECTC_API const char *connectc_compression_name(connectc_compression c);
/* Parses a wire name (exact, case-sensitive as Connect specifies; `len`
 * bytes, no NUL needed). Returns 1 and sets *out if the name is one of the
 * four AND this build supports it, 0 otherwise. */
CONNECTC_API int connectc_compression_from_name(const char *name, size_t len, connectc_compression *out);
/* 1 if this build can compress and decompress with `c`. */
CONNECTC_API int connectc_compression_supported(connectc_compression c);
/* Writes the supported algorithms other than identity, in preference order
 * (zstd? br? gzip...: see README), into out[0..cap) and returns how many
 * there are (which may exceed cap). */
CONNECTC_API size_t connectc_compressions_list(connectc_compression *out, size_t cap);
/* The Accept-Encoding value this build advertises, e.g. "gzip, br, zstd"
 * (static storage). */
CONNECTC_API const char *connectc_compressions_accept_header(void);

/*
 * A reusable compression context. It keeps one encoder and one decoder
 * state per algorithm, created on first use and reset between messages, so
 * that a call or a connection compresses many messages without
 * re-allocating library state. Not thread-safe; use one per call/thread.
 */
typedef struct connectc_compress_ctx connectc_compress_ctx;

/* Creates a context in *out. `alloc` may be NULL (default allocator); it is
 * copied and also handed to zlib/brotli/zstd so that every allocation goes
 * through it. Returns CONNECTC_OK, CONNECTC_ERR_ARGUMENT (out NULL) or
 * CONNECTC_ERR_NOMEM; *out is NULL on failure. */
CONNECTC_API int connectc_compress_ctx_new(const connectc_allocator *alloc, connectc_compress_ctx **out);
CONNECTC_API void connectc_compress_ctx_del(connectc_compress_ctx *ctx);
/* Compression level per algorithm; defaults: gzip 6 (zlib default),
 * br 1, zstd 3 (fast levels suited to RPC). Out-of-range levels are clamped. */
CONNECTC_API void connectc_compress_ctx_set_level(connectc_compress_ctx *ctx, connectc_compression c,
                                     int level);

/*
 * Known limitation: brotli 1.0.9's encoder terminates the process (exit)
 * when one of its allocations fails; its decoder reports failures. With
 * an allocator that may fail, prefer gzip or zstd for sending.
 *
 * Compresses `in[0..in_len)` with `c`, writing a freshly allocated buffer
 * (*out, *out_len) allocated with the context's allocator; the caller frees
 * it with connectc_free(alloc, *out). For identity the bytes are copied.
 * Returns CONNECTC_OK, CONNECTC_ERR_UNSUPPORTED (not in this build),
 * CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_compress(connectc_compress_ctx *ctx, connectc_compression c, const uint8_t *in,
                      size_t in_len, uint8_t **out, size_t *out_len);

/*
 * Decompresses `in[0..in_len)` into a freshly allocated buffer. Stops the
 * moment the output would exceed `max_out` bytes, whatever the ratio, and
 * fails with CONNECTC_ERR_LIMIT and `err` set to resource_exhausted
 * ("message is larger than configured max 1048576 bytes after
 * decompression" or similar). Corrupt, truncated input or trailing garbage
 * after the end of the compressed stream fails with CONNECTC_ERR_PROTOCOL
 * and `err` set to invalid_argument naming the algorithm and problem.
 * The output buffer never grows beyond max_out (+1 for detection) bytes.
 * `err` may be NULL.
 */
CONNECTC_API int connectc_decompress(connectc_compress_ctx *ctx, connectc_compression c, const uint8_t *in,
                        size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
                        connectc_error *err);

#ifdef __cplusplus
}
#endif

#endif
