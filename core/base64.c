#include "base64.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t cc_b64_encoded_len(size_t n, int pad) {
  if (pad) return (n + 2) / 3 * 4;
  return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

int cc_b64_encode(cc_buf *out, const connectc_allocator *alloc, const uint8_t *in, size_t len,
                  cc_b64_alphabet alphabet, int pad) {
  const char *tab = alphabet == CC_B64_URL ? b64_url : b64_std;
  if (len == 0) return CONNECTC_OK; /* nothing to write (and out->data may be NULL) */
  if (len > (SIZE_MAX / 4) * 3 - 3) return CONNECTC_ERR_NOMEM;
  int rv = cc_buf_reserve(out, alloc, cc_b64_encoded_len(len, pad));
  if (rv) return rv;
  uint8_t *o = out->data + out->len;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *o++ = (uint8_t)tab[v >> 18];
    *o++ = (uint8_t)tab[(v >> 12) & 63];
    *o++ = (uint8_t)tab[(v >> 6) & 63];
    *o++ = (uint8_t)tab[v & 63];
  }
  size_t rem = len - i;
  if (rem) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (rem == 2) v |= (uint32_t)in[i + 1] << 8;
    *o++ = (uint8_t)tab[v >> 18];
    *o++ = (uint8_t)tab[(v >> 12) & 63];
    if (rem == 2) *o++ = (uint8_t)tab[(v >> 6) & 63];
    if (pad) {
      if (rem == 1) *o++ = '=';
      *o++ = '=';
    }
  }
  out->len = (size_t)(o - out->data);
  return CONNECTC_OK;
}

static int b64_value(char c, unsigned flags) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if ((flags & CC_B64_ACCEPT_STD) && c == '+') return 62;
  if ((flags & CC_B64_ACCEPT_STD) && c == '/') return 63;
  if ((flags & CC_B64_ACCEPT_URL) && c == '-') return 62;
  if ((flags & CC_B64_ACCEPT_URL) && c == '_') return 63;
  return -1;
}

/* Decodes in[0..len) to o, which may be `in` itself: the write position
 * never passes the read position (three bytes out for four characters
 * in). Returns the decoded length, or SIZE_MAX for a bad input. */
static size_t decode_to(const char *in, size_t len, uint8_t *o, unsigned flags) {
  /* Strip correct padding: at most two '=' and only if the padded length is
   * a multiple of four. */
  size_t n = len;
  if (n > 0 && in[n - 1] == '=') {
    if (len % 4 != 0) return SIZE_MAX;
    n--;
    if (n > 0 && in[n - 1] == '=') n--;
  }
  if (n % 4 == 1) return SIZE_MAX;
  uint8_t *start = o;
  uint32_t acc = 0;
  unsigned bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(in[i], flags);
    if (v < 0) return SIZE_MAX;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *o++ = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1u;
    }
  }
  return (size_t)(o - start);
}

int cc_b64_decode(cc_buf *out, const connectc_allocator *alloc, const char *in, size_t len,
                  unsigned flags) {
  int rv = cc_buf_reserve(out, alloc, len / 4 * 3 + 2);
  if (rv) return rv;
  size_t n = decode_to(in, len, out->data + out->len, flags);
  if (n == SIZE_MAX) return CONNECTC_ERR_PROTOCOL;
  out->len += n;
  return CONNECTC_OK;
}

int cc_b64_decode_in_place(uint8_t *data, size_t len, unsigned flags, size_t *out_len) {
  size_t n = decode_to((const char *)data, len, data, flags);
  if (n == SIZE_MAX) return CONNECTC_ERR_PROTOCOL;
  *out_len = n;
  return CONNECTC_OK;
}
