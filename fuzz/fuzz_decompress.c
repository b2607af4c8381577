/* Fuzzes bounded decompression: the first byte picks the algorithm, the
 * rest is the compressed input, with a 64 KiB limit. The input is also
 * compressed and decompressed again, which must give it back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/compress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  connectc_compression alg = (connectc_compression)(data[0] % 4);
  if (!connectc_compression_supported(alg)) return 0;
  connectc_compress_ctx *ctx = NULL;
  (void)connectc_compress_ctx_new(NULL, &ctx);
  connectc_error e;
  connectc_error_init(&e, NULL);
  uint8_t *out = NULL;
  size_t n = 0;
  int rv = connectc_decompress(ctx, alg, data + 1, size - 1, 65536, &out, &n, &e);
  if (rv == CONNECTC_OK) {
    if (n > 65536) abort();
    connectc_free(NULL, out);
  } else if (rv == CONNECTC_ERR_LIMIT) {
    if (e.code != CONNECTC_CODE_RESOURCE_EXHAUSTED) abort();
  } else if (rv == CONNECTC_ERR_PROTOCOL) {
    if (e.code != CONNECTC_CODE_INVALID_ARGUMENT) abort();
  } else {
    abort();
  }
  uint8_t *c = NULL;
  size_t clen = 0;
  if (connectc_compress(ctx, alg, data + 1, size - 1, &c, &clen) != CONNECTC_OK) abort();
  if (connectc_decompress(ctx, alg, c, clen, size, &out, &n, NULL) != CONNECTC_OK) abort();
  if (n != size - 1 || (n && memcmp(out, data + 1, n) != 0)) abort();
  connectc_free(NULL, out);
  connectc_free(NULL, c);
  connectc_error_reset(&e);
  connectc_compress_ctx_del(ctx);
  return 0;
}
