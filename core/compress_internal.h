/*
 * Internal: compression with the output buffer allocated by another
 * allocator than the context's. A call that borrows a context (lent by
 * its adapter or application) allocates the messages it produces with its
 * own allocator, while the zlib, brotli and zstd states stay the
 * context's.
 */
#ifndef CONNECTC_CORE_COMPRESS_INTERNAL_H
#define CONNECTC_CORE_COMPRESS_INTERNAL_H

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

#endif
