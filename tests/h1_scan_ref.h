/*
 * A byte-at-a-time HTTP/1.1 head scanner with the contract of cc_h1_scan()
 * (adapters/common/h1.h): the plain reading of that contract, which the
 * library's line-at-a-time scanner must match on every input, every limit
 * and every split into calls. Used by tests/test_h1.c and fuzz/fuzz_h1.c.
 */
#ifndef CONNECTC_TESTS_H1_SCAN_REF_H
#define CONNECTC_TESTS_H1_SCAN_REF_H

#include <stddef.h>
#include <stdint.h>

#include "h1.h"

static long h1_scan_ref(cc_h1_scanner *s, const uint8_t *buf, size_t len, size_t max_bytes) {
  if (!max_bytes) max_bytes = 65536;
  for (; s->pos < len; s->pos++) {
    if (s->pos >= max_bytes) return s->lines == 0 ? -414 : -431;
    uint8_t c = buf[s->pos];
    if (c == 0) return -400;
    if (c == '\r') {
      if (s->pos + 1 == len) return 0; /* judged with the next byte */
      if (buf[s->pos + 1] != '\n') return -400;
      continue;
    }
    if (c != '\n') continue;
    if (s->pos == 0 || buf[s->pos - 1] != '\r') return -400;
    size_t line_len = s->pos - 1 - s->line_start;
    s->line_start = s->pos + 1;
    if (line_len > 0) {
      s->lines++;
    } else if (s->lines > 0) {
      s->pos++;
      return (long)s->pos;
    }
  }
  return 0;
}

#endif
