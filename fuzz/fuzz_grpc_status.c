/* Fuzzes the google.rpc.Status decoder (grpc-status-details-bin): what
 * decodes must encode and decode again to the same code, message and
 * details. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const connectc_allocator *a = connectc_default_allocator();
  connectc_error e;
  connectc_error_init(&e, NULL);
  if (cc_grpc_status_decode(data, size, &e) == CONNECTC_OK) {
    if ((unsigned)e.code > 16u) abort();
    cc_buf b = CC_BUF_INIT;
    if (cc_grpc_status_encode(&b, a, &e) != CONNECTC_OK) abort();
    connectc_error back;
    connectc_error_init(&back, NULL);
    if (cc_grpc_status_decode(b.data, b.len, &back) != CONNECTC_OK) abort();
    if (back.code != e.code || back.n_details != e.n_details) abort();
    if (strcmp(back.message ? back.message : "", e.message ? e.message : "") != 0) abort();
    for (size_t i = 0; i < e.n_details; i++) {
      if (back.details[i].value_len != e.details[i].value_len) abort();
      if (e.details[i].value_len &&
          memcmp(back.details[i].value, e.details[i].value, e.details[i].value_len) != 0)
        abort();
    }
    connectc_error_reset(&back);
    cc_buf_free(&b, a);
  }
  connectc_error_reset(&e);
  return 0;
}
