/* Fuzzes the HTTP/1.1 head scanner and response parser
 * (adapters/common/h1.h): the scanner run whole and byte by byte must
 * agree, and with the byte-at-a-time reference (tests/h1_scan_ref.h); a
 * head it accepts is parsed as a response, and every span returned must
 * lie inside the head. (Request heads are the core's: fuzz_http.)
 * fuzz-extra-sources: adapters/common/h1.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"
#include "../tests/h1_scan_ref.h"

static void check_spans(const char *buf, size_t len, const cc_h1_head *h) {
  const char *end = buf + len;
  for (size_t i = 0; i < h->n_fields; i++) {
    const cc_h1_field *f = &h->fields[i];
    if (f->name < buf || f->name + f->name_len > end || f->value < buf ||
        f->value + f->value_len > end || f->name_len == 0)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t max = size > 0 ? (size_t)data[0] * 4 + 1 : 1;
  cc_h1_scanner s;
  cc_h1_scanner_init(&s);
  long whole = cc_h1_scan(&s, data, size, max);
  cc_h1_scanner_init(&s);
  long step = 0;
  for (size_t n = 1; n <= size && step == 0; n++) step = cc_h1_scan(&s, data, n, max);
  if (step != whole) abort();
  cc_h1_scanner_init(&s);
  if (h1_scan_ref(&s, data, size, max) != whole) abort();
  if (whole <= 0) return 0;
  if ((size_t)whole > size || (size_t)whole > max) abort();
  const char *buf = (const char *)data;
  size_t len = (size_t)whole;
  cc_h1_field fields[16];
  cc_h1_head h;
  const char *why = NULL;
  int st = cc_h1_parse_response(buf, len, fields, 16, &h, &why);
  if (st == 0) {
    check_spans(buf, len, &h);
    if (h.status < 0 || h.status > 999 || h.reason + h.reason_len > buf + len) abort();
  } else if (st != -1 || !why) {
    abort();
  }
  return 0;
}
