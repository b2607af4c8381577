/* The 5-byte Connect envelope: writer and incremental decoder. */
#include <string.h>

#include "buf.h"
#include "connectc/envelope.h"

void connectc_envelope_write_header(uint8_t out[CONNECTC_ENVELOPE_HEADER_LEN], uint8_t flags,
                                    uint32_t len) {
  out[0] = flags;
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
}

void connectc_envelope_decoder_init(connectc_envelope_decoder *d, size_t max_len,
                                    const connectc_allocator *alloc) {
  memset(d, 0, sizeof *d);
  d->alloc = *cc_alloc_or_default(alloc);
  d->max_len = max_len;
}

void connectc_envelope_decoder_reset(connectc_envelope_decoder *d) {
  cc_free(&d->alloc, d->buf);
  d->buf = NULL;
  d->buf_len = d->buf_cap = 0;
  d->hdr_have = 0;
  d->failed = 0;
}

int connectc_envelope_decoder_idle(const connectc_envelope_decoder *d) {
  return d->hdr_have == 0;
}

/* Grows the payload buffer towards the declared length, following the
 * bytes that actually arrived (never the declared length alone). */
static int grow(connectc_envelope_decoder *d, size_t need) {
  if (need <= d->buf_cap) return CONNECTC_OK;
  size_t ncap = d->buf_cap ? d->buf_cap : 256;
  while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  if (ncap > d->len) ncap = d->len;
  uint8_t *p = cc_realloc(&d->alloc, d->buf, ncap);
  if (!p) return CONNECTC_ERR_NOMEM;
  d->buf = p;
  d->buf_cap = ncap;
  return CONNECTC_OK;
}

int connectc_envelope_decode(connectc_envelope_decoder *d, const uint8_t *in, size_t len,
                             size_t *consumed, connectc_envelope *out, connectc_error *err) {
  *consumed = 0;
  if (d->failed) return d->failed;
  size_t used = 0;
  if (d->hdr_have < CONNECTC_ENVELOPE_HEADER_LEN) {
    /* Fast path: a whole envelope inside this chunk, nothing buffered. */
    if (d->hdr_have == 0 && len >= CONNECTC_ENVELOPE_HEADER_LEN) {
      uint32_t n = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4];
      if (n <= d->max_len && len - CONNECTC_ENVELOPE_HEADER_LEN >= n) {
        out->flags = in[0];
        out->payload = in + CONNECTC_ENVELOPE_HEADER_LEN;
        out->len = n;
        *consumed = CONNECTC_ENVELOPE_HEADER_LEN + (size_t)n;
        return 1;
      }
    }
    size_t take = CONNECTC_ENVELOPE_HEADER_LEN - d->hdr_have;
    if (take > len) take = len;
    memcpy(d->hdr + d->hdr_have, in, take);
    d->hdr_have += take;
    used = take;
    if (d->hdr_have < CONNECTC_ENVELOPE_HEADER_LEN) {
      *consumed = used;
      return 0;
    }
    d->flags = d->hdr[0];
    d->len = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 | (uint32_t)d->hdr[3] << 8 |
             d->hdr[4];
    if (d->len > d->max_len) {
      if (err)
        connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                           "an envelope declares a message of %lu bytes, larger than the limit "
                           "of %zu bytes for one envelope",
                           (unsigned long)d->len, d->max_len);
      *consumed = used;
      d->failed = CONNECTC_ERR_LIMIT;
      return d->failed;
    }
    d->buf_len = 0;
  }
  size_t want = (size_t)d->len - d->buf_len;
  size_t take = len - used < want ? len - used : want;
  if (take) {
    if (grow(d, d->buf_len + take) != CONNECTC_OK) {
      *consumed = used;
      d->failed = CONNECTC_ERR_NOMEM;
      return d->failed;
    }
    memcpy(d->buf + d->buf_len, in + used, take);
    d->buf_len += take;
    used += take;
  }
  *consumed = used;
  if (d->buf_len < d->len) return 0;
  out->flags = d->flags;
  out->payload = d->buf ? d->buf : (const uint8_t *)""; /* never NULL */
  out->len = d->len;
  d->hdr_have = 0; /* ready for the next envelope; the buffer stays valid */
  return 1;
}
