/* Fuzzes the grpc-timeout parser: any accepted value formats back to a
 * value that parses to no more than it (a deadline never grows). */
#include <stdint.h>
#include <stdlib.h>

#include "grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int64_t ms;
  if (cc_grpc_timeout_parse((const char *)data, size, &ms) != CONNECTC_OK) return 0;
  if (ms < 0) abort();
  char buf[CC_GRPC_TIMEOUT_MAX];
  size_t n = cc_grpc_timeout_format(ms, buf);
  int64_t again;
  if (cc_grpc_timeout_parse(buf, n, &again) != CONNECTC_OK || again > ms) abort();
  return 0;
}
