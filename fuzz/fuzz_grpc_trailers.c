/* Fuzzes the gRPC-Web trailer block parser, then the status it describes:
 * whatever parses must format into a block that parses to the same list,
 * and reading the status (grpc-status, percent-decoded grpc-message,
 * base64 google.rpc.Status in grpc-status-details-bin) must never fail
 * other than by running out of memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const connectc_allocator *a = connectc_default_allocator();
  connectc_headers t, again;
  connectc_headers_init(&t, NULL);
  connectc_headers_init(&again, NULL);
  connectc_error e;
  connectc_error_init(&e, NULL);
  if (cc_grpc_web_trailers_parse(data, size, &t, &e) == CONNECTC_OK) {
    cc_buf b = CC_BUF_INIT;
    if (cc_grpc_web_trailers_format(&b, a, &t) != CONNECTC_OK) abort();
    if (cc_grpc_web_trailers_parse(b.data, b.len, &again, &e) != CONNECTC_OK) abort();
    if (again.len != t.len) abort();
    cc_buf_free(&b, a);
    connectc_error st;
    connectc_error_init(&st, NULL);
    if (cc_grpc_status_from_trailers(&t, 1, &st) != CONNECTC_OK) abort();
    if ((unsigned)st.code > 16u) abort();
    /* What we read, we can write. */
    connectc_headers out;
    connectc_headers_init(&out, NULL);
    if (cc_grpc_status_to_trailers(&out, &st) != CONNECTC_OK) abort();
    connectc_error back;
    connectc_error_init(&back, NULL);
    if (cc_grpc_status_from_trailers(&out, 1, &back) != CONNECTC_OK) abort();
    if (back.code != st.code || back.n_details != st.n_details) abort();
    if (st.message && st.code != CONNECTC_CODE_OK &&
        (!back.message || strcmp(back.message, st.message) != 0))
      abort();
    connectc_error_reset(&back);
    connectc_headers_reset(&out);
    connectc_error_reset(&st);
  }
  connectc_error_reset(&e);
  connectc_headers_reset(&t);
  connectc_headers_reset(&again);
  return 0;
}
