/* Fuzzes the Connect GET query parser; whatever it accepts is formatted
 * again and must parse back to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/common.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const connectc_allocator *a = connectc_default_allocator();
  cc_buf scratch = CC_BUF_INIT;
  cc_get_query q;
  connectc_error e;
  connectc_error_init(&e, NULL);
  if (cc_get_query_parse((const char *)data, size, &scratch, a, &q, &e) == CONNECTC_OK) {
    if (q.message_len > size) abort();
    connectc_compression comp = CONNECTC_COMPRESSION_IDENTITY;
    if (q.compression) connectc_compression_from_name(q.compression, strlen(q.compression), &comp);
    cc_buf out = CC_BUF_INIT;
    if (cc_get_query_format(&out, a, q.encoding, comp, q.message, q.message_len) == CONNECTC_OK) {
      {
        cc_buf scratch2 = CC_BUF_INIT;
        cc_get_query q2;
        if (cc_get_query_parse((const char *)out.data, out.len, &scratch2, a, &q2, NULL) != CONNECTC_OK)
          abort();
        if (q2.message_len != q.message_len ||
            (q.message_len && memcmp(q2.message, q.message, q.message_len) != 0))
          abort();
        cc_buf_free(&scratch2, a);
      }
    }
    cc_buf_free(&out, a);
  } else if (e.code != CONNECTC_CODE_INVALID_ARGUMENT) {
    abort(); /* every refusal names a reason */
  }
  connectc_error_reset(&e);
  cc_buf_free(&scratch, a);
  return 0;
}
