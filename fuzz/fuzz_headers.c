/* Fuzzes the request-head parsers: content type, Connect-Timeout-Ms,
 * Accept-Encoding, reserved/binary header checks and -bin decoding. The
 * first byte picks the parser; the rest is the header value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/common.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t which = data[0];
  const char *v = (const char *)data + 1;
  size_t len = size - 1;
  switch (which % 5) {
    case 0: {
      cc_content_type ct;
      if (cc_content_type_parse(v, len, &ct) == CONNECTC_OK) {
        /* The codec points into the input, or is "proto" for a bare gRPC
         * or gRPC-Web type (which says no codec). */
        if (ct.bare) {
          if (ct.codec_len != 5 || memcmp(ct.codec, "proto", 5) != 0) abort();
          if (ct.protocol == CONNECTC_PROTOCOL_CONNECT) abort();
        } else if (ct.codec < v || ct.codec + ct.codec_len > v + len || ct.codec_len == 0) {
          abort();
        }
      }
      break;
    }
    case 1: {
      int64_t ms;
      if (cc_timeout_parse(v, len, &ms) == CONNECTC_OK) {
        if (ms < 0 || ms > 9999999999LL) abort();
        char buf[11];
        size_t n = cc_timeout_format(ms, buf);
        int64_t again;
        if (cc_timeout_parse(buf, n, &again) != CONNECTC_OK || again != ms) abort();
        /* Without leading zeros the text is canonical. */
        if (len && v[0] != '0' && (n != len || memcmp(buf, v, n) != 0)) abort();
      }
      break;
    }
    case 2: {
      unsigned mask = 0;
      cc_accept_encoding_parse(v, len, &mask);
      if (mask >> CONNECTC_COMPRESSION_COUNT) abort();
      break;
    }
    case 3:
      (void)cc_header_is_reserved(v, len);
      (void)cc_header_is_binary(v, len);
      break;
    default: {
      connectc_headers h;
      connectc_headers_init(&h, NULL);
      if (connectc_headers_add(&h, "x-fuzz-bin", 10, v, len) == CONNECTC_OK) {
        uint8_t *out = NULL;
        size_t n = 0;
        if (connectc_headers_get_bin(&h, "x-fuzz-bin", 0, &out, &n) == CONNECTC_OK) {
          if (n > len) abort();
          connectc_headers h2;
          connectc_headers_init(&h2, NULL);
          if (connectc_headers_add_bin(&h2, "x-b-bin", out, n) != CONNECTC_OK) abort();
          uint8_t *back = NULL;
          size_t bn = 0;
          if (connectc_headers_get_bin(&h2, "x-b-bin", 0, &back, &bn) != CONNECTC_OK) abort();
          if (bn != n || (n && memcmp(back, out, n) != 0)) abort();
          connectc_free(NULL, back);
          connectc_headers_reset(&h2);
          connectc_free(NULL, out);
        }
      }
      connectc_headers_reset(&h);
      break;
    }
  }
  return 0;
}
