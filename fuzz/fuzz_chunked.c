/* Fuzzes the chunked-coding decoder (adapters/common/chunked.h): the input
 * is decoded whole and then in chunks whose sizes come from the first
 * byte; data, result, end offset and error must agree exactly, every data
 * span must lie inside the input, and nothing past the input is read.
 * fuzz-extra-sources: adapters/common/chunked.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"

typedef struct seen {
  uint64_t sum;
  size_t data_len;
  int result;
  size_t end;
  const char *error;
} seen;

static void run(const uint8_t *in, size_t len, size_t step, const cc_chunked_limits *lim,
                seen *o) {
  cc_chunked d;
  cc_chunked_init(&d, lim);
  memset(o, 0, sizeof *o);
  size_t off = 0;
  while (off < len) {
    size_t k = step && len - off > step ? step : len - off;
    size_t pos = 0;
    while (pos < k) {
      size_t used = 0;
      const uint8_t *data;
      size_t dlen;
      cc_chunked_result r = cc_chunked_decode(&d, in + off + pos, k - pos, &used, &data, &dlen);
      if (used > k - pos) abort();
      if (r == CC_CHUNKED_DATA) {
        if (dlen == 0 || dlen > used || data + dlen != in + off + pos + used) abort();
        for (size_t i = 0; i < dlen; i++) o->sum = o->sum * 31 + data[i];
        o->data_len += dlen;
      } else if (r == CC_CHUNKED_MORE) {
        if (used != k - pos || data || dlen) abort();
      } else {
        o->result = r;
        o->end = off + pos + used;
        o->error = cc_chunked_error(&d);
        if ((r == CC_CHUNKED_ERROR) != (o->error != NULL)) abort();
        return;
      }
      pos += used;
    }
    off += k;
    step = (step * 7 + 3) % 31 + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  /* The second byte picks small limits sometimes, to reach them. */
  cc_chunked_limits lim = {0, 0, 0};
  if (data[1] & 1) {
    lim.max_line = (size_t)(data[1] >> 1) + 1;
    lim.max_trailer_bytes = (size_t)(data[1] >> 2) + 1;
    lim.max_chunk_size = (uint64_t)data[1] * 1000;
  }
  seen whole, split;
  run(data + 2, size - 2, 0, &lim, &whole);
  run(data + 2, size - 2, (size_t)data[0] % 17 + 1, &lim, &split);
  if (whole.sum != split.sum || whole.data_len != split.data_len ||
      whole.result != split.result || whole.end != split.end || whole.error != split.error)
    abort();
  return 0;
}
