/* Fuzzes proto unmarshaling behind the depth bound, on the recursive
 * google.protobuf.Value; what is accepted must marshal and unmarshal
 * again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/codec.h"
#include "google/protobuf/struct.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const connectc_codec *c = connectc_codec_proto();
  connectc_codec_options opts = {.max_depth = 64, .reject_unknown_fields = 0};
  connectc_error e;
  connectc_error_init(&e, NULL);
  ProtobufCMessage *m = NULL;
  int rv = c->unmarshal(c, &google__protobuf__value__descriptor, data, size, &opts, NULL, &m, &e);
  if (rv == CONNECTC_OK) {
    uint8_t *out = NULL;
    size_t len = 0;
    if (c->marshal(c, m, NULL, &out, &len, NULL) != CONNECTC_OK) abort();
    ProtobufCMessage *m2 = NULL;
    if (c->unmarshal(c, &google__protobuf__value__descriptor, out, len, &opts, NULL, &m2, NULL) !=
        CONNECTC_OK)
      abort();
    uint8_t *out2 = NULL;
    size_t len2 = 0;
    if (c->marshal(c, m2, NULL, &out2, &len2, NULL) != CONNECTC_OK) abort();
    if (len2 != len || memcmp(out, out2, len) != 0) abort();
    connectc_free(NULL, out);
    connectc_free(NULL, out2);
    connectc_message_free(m2, NULL);
    connectc_message_free(m, NULL);
  } else if (e.code != CONNECTC_CODE_INVALID_ARGUMENT) {
    abort();
  }
  connectc_error_reset(&e);
  return 0;
}
