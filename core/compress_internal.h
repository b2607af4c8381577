/*
 * Internal: compression with the output buffer allocated by another
 * allocator than the context's. A call that borrows a context (lent by
 * its adapter or application) allocates the messages it produces with its
 * own allocator, while the zlib, brotli and zstd states stay the
 * context's.
 */
#ifndef CONNECTC_CORE_COMPRESS_INTERNAL_H
#define CONNECTC_CORE_COMPRESS_INTERNAL_H

#include "buf.h"
#include "connectc/compress.h"

/* connectc_compress(), with *out allocated with `out_alloc` (NULL: the
 * context's allocator). */
int cc_compress_to(connectc_compress_ctx *ctx, const connectc_allocator *out_alloc,
                   connectc_compression c, const uint8_t *in, size_t in_len, uint8_t **out,
                   size_t *out_len);
/* connectc_decompress(), with *out allocated with `out_alloc` (NULL: the
 * context's allocator). */
int cc_decompress_to(connectc_compress_ctx *ctx, const connectc_allocator *out_alloc,
                     connectc_compression c, const uint8_t *in, size_t in_len, size_t max_out,
                     uint8_t **out, size_t *out_len, connectc_error *err);

/* A unary request body's buffer, reused by the calls that borrow one
 * context one after another: memory already written once is not faulted
 * in again, where a fresh buffer of 1 MiB costs about 200 page faults
 * (bench/RESULTS.md's size sweep). take moves the buffer the last call
 * gave back into the empty `b` when it was allocated with `a` (the same
 * functions and user_data); otherwise `b` stays empty. give takes `b`
 * back (it becomes empty): kept for the next call, or freed with `a` when
 * `a` is not the context's allocator, when the context keeps a larger one
 * already, or when it is over CC_SPARE_ALWAYS_KEPT bytes and
 * CC_SPARE_SMALL_RUN bodies in a row used under a quarter of it. `ctx` may
 * be NULL (give then frees). */
#define CC_SPARE_ALWAYS_KEPT ((size_t)64 * 1024)
#define CC_SPARE_SMALL_RUN 16u
void cc_compress_ctx_take_buf(connectc_compress_ctx *ctx, const connectc_allocator *a, cc_buf *b);
void cc_compress_ctx_give_buf(connectc_compress_ctx *ctx, const connectc_allocator *a, cc_buf *b);

#endif
