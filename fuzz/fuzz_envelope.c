/* Fuzzes the envelope decoder: the input is decoded whole, then again in
 * chunks whose sizes come from the input; both must agree exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/envelope.h"

#define MAX_ENVELOPES 64

typedef struct seen {
  size_t n;
  uint8_t flags[MAX_ENVELOPES];
  size_t len[MAX_ENVELOPES];
  uint64_t sum[MAX_ENVELOPES];
  int rv;
} seen;

static void run(const uint8_t *data, size_t size, size_t chunk_seed, seen *out) {
  connectc_envelope_decoder d;
  connectc_envelope_decoder_init(&d, 1024, NULL);
  memset(out, 0, sizeof *out);
  size_t off = 0, step = chunk_seed ? chunk_seed : size;
  int rv = 0;
  while (off < size && rv >= 0 && out->n < MAX_ENVELOPES) {
    size_t k = size - off < step ? size - off : step;
    const uint8_t *p = data + off;
    off += k;
    while (k && rv >= 0 && out->n < MAX_ENVELOPES) {
      size_t used = 0;
      connectc_envelope env;
      rv = connectc_envelope_decode(&d, p, k, &used, &env, NULL);
      if (used > k) abort();
      p += used;
      k -= used;
      if (rv == 1) {
        if (env.len > 1024) abort();
        out->flags[out->n] = env.flags;
        out->len[out->n] = env.len;
        uint64_t s = 0;
        for (size_t i = 0; i < env.len; i++) s = s * 31 + env.payload[i];
        out->sum[out->n] = s;
        out->n++;
      } else if (rv == 0 && k != 0) {
        abort(); /* 0 means everything was consumed */
      }
    }
    step = (step * 7 + 3) % 97 + 1;
  }
  out->rv = rv < 0 ? rv : 0;
  connectc_envelope_decoder_reset(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  seen whole, chunked;
  run(data + 1, size - 1, 0, &whole);
  run(data + 1, size - 1, (size_t)data[0] % 13 + 1, &chunked);
  if (whole.n != chunked.n || whole.rv != chunked.rv) abort();
  for (size_t i = 0; i < whole.n; i++)
    if (whole.flags[i] != chunked.flags[i] || whole.len[i] != chunked.len[i] ||
        whole.sum[i] != chunked.sum[i])
      abort();
  return 0;
}
