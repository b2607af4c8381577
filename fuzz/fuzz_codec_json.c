/* fuzz-needs-codegen: built by CMake only (uses generated JSON metadata).
 *
 * Fuzzes the protobuf JSON codec: arbitrary bytes decoded into a message
 * with every field kind (maps, oneofs, proto3 optional, recursion) or into
 * a well-known type (Value, Any, Timestamp); what is
 * accepted is encoded, decoded again and encoded again, and the two
 * encodings must be identical. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/json_codec.h"
#include "json_test.connect.h"
#include "json_test.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

static connectc_codec *codec;
static connectc_type_registry *reg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!codec) {
    (void)connectc_type_registry_new(NULL, &reg);
    if (json_test__register_types(reg) != CONNECTC_OK) abort();
    (void)connectc_codec_json_new(reg, NULL, &codec);
  }
  /* The first byte picks the type: every field kind, or the well-known
   * types with special forms (recursive Value, Any, Timestamp). */
  if (size < 1) return 0;
  static const ProtobufCMessageDescriptor *const types[] = {
      &connectc__jsontest__v1__everything__descriptor, &google__protobuf__value__descriptor,
      &google__protobuf__any__descriptor, &google__protobuf__timestamp__descriptor};
  const ProtobufCMessageDescriptor *d = types[data[0] % 4];
  data++;
  size--;
  connectc_codec_options opts = {.max_depth = 32, .reject_unknown_fields = 0};
  connectc_error e;
  connectc_error_init(&e, NULL);
  ProtobufCMessage *m = NULL;
  int rv = codec->unmarshal(codec, d, data, size, &opts, NULL, &m, &e);
  if (rv == CONNECTC_OK) {
    uint8_t *j1 = NULL, *j2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (codec->marshal(codec, m, NULL, &j1, &n1, NULL) != CONNECTC_OK) abort();
    ProtobufCMessage *m2 = NULL;
    if (codec->unmarshal(codec, d, j1, n1, &opts, NULL, &m2, NULL) != CONNECTC_OK) abort();
    if (codec->marshal(codec, m2, NULL, &j2, &n2, NULL) != CONNECTC_OK) abort();
    if (n1 != n2 || memcmp(j1, j2, n1) != 0) abort();
    connectc_free(NULL, j1);
    connectc_free(NULL, j2);
    connectc_message_free(m2, NULL);
    connectc_message_free(m, NULL);
  } else if (e.code != CONNECTC_CODE_INVALID_ARGUMENT) {
    abort();
  }
  connectc_error_reset(&e);
  return 0;
}
