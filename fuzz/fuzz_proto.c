/* Fuzzes proto unmarshaling behind the depth bound, on the recursive
 * google.protobuf.Value; what is accepted must marshal and unmarshal
 * again to the same bytes. Dropping unknown fields must accept the same
 * inputs and give a message with none left, and a small decoded-size
 * budget must fail only with resource_exhausted. */
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
  connectc_codec_options drop = {.max_depth = 64, .discard_unknown_fields = 1};
  ProtobufCMessage *d = NULL;
  int rv2 = c->unmarshal(c, &google__protobuf__value__descriptor, data, size, &drop, NULL, &d, NULL);
  if (rv == CONNECTC_OK && rv2 != CONNECTC_OK) abort();
  if (rv2 == CONNECTC_OK) {
    uint8_t *out = NULL;
    size_t len = 0, unknown = 1;
    if (c->marshal(c, d, NULL, &out, &len, NULL) != CONNECTC_OK) abort();
    if (connectc_proto_count_unknown(&google__protobuf__value__descriptor, out, len, 64, &unknown,
                                     NULL) != CONNECTC_OK ||
        unknown != 0)
      abort();
    connectc_free(NULL, out);
    connectc_message_free(d, NULL);
  }
  connectc_codec_options tight = {.max_depth = 64, .max_decoded_bytes = 512};
  connectc_error_reset(&e);
  if (c->unmarshal(c, &google__protobuf__value__descriptor, data, size, &tight, NULL, &d, &e) ==
      CONNECTC_OK)
    connectc_message_free(d, NULL);
  else if (e.code != CONNECTC_CODE_INVALID_ARGUMENT && e.code != CONNECTC_CODE_RESOURCE_EXHAUSTED)
    abort();
  connectc_error_reset(&e);
  return 0;
}
