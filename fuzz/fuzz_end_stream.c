/* Fuzzes end-of-stream parsing; an accepted message is written and parsed
 * again to the same error code and metadata. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  connectc_error e, back;
  connectc_error_init(&e, NULL);
  connectc_error_init(&back, NULL);
  connectc_headers md, md2;
  connectc_headers_init(&md, NULL);
  connectc_headers_init(&md2, NULL);
  int rv = cc_end_stream_parse((const char *)data, size, &e, &md);
  if (rv == CONNECTC_OK) {
    cc_buf b = CC_BUF_INIT;
    const connectc_allocator *a = connectc_default_allocator();
    if (cc_end_stream_write(&b, a, &e, &md) != CONNECTC_OK) abort();
    if (cc_end_stream_parse((const char *)b.data, b.len, &back, &md2) != CONNECTC_OK) abort();
    if (back.code != e.code || md2.len != md.len) abort();
    cc_buf_free(&b, a);
  } else if (rv == CONNECTC_ERR_PROTOCOL && e.code != CONNECTC_CODE_INTERNAL) {
    abort();
  }
  connectc_headers_reset(&md);
  connectc_headers_reset(&md2);
  connectc_error_reset(&e);
  connectc_error_reset(&back);
  return 0;
}
