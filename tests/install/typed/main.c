/* A consumer of the installed libconnectc: a Connect error, and the JSON
 * codec writing a google.protobuf.Timestamp found through the registry
 * (the well-known types are inside the library; this program compiles no
 * protoc-c output of its own). */
#include <connectc/connectc.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_UNAVAILABLE, "try %s", "later");
  connectc_type_registry *reg = NULL;
  connectc_codec *json = NULL;
  if (connectc_type_registry_new(NULL, &reg) != CONNECTC_OK ||
      connectc_codec_json_new(reg, NULL, &json) != CONNECTC_OK)
    return 1;
  const connectc_message_info *ts = connectc_type_registry_find(reg, "google.protobuf.Timestamp", 25);
  if (!ts) return 1;
  /* Timestamp is {ProtobufCMessage base; int64 seconds; int32 nanos}. */
  struct {
    ProtobufCMessage base;
    int64_t seconds;
    int32_t nanos;
  } msg;
  protobuf_c_message_init(ts->descriptor, &msg);
  msg.seconds = 1;
  uint8_t *out = NULL;
  size_t len = 0;
  connectc_error merr;
  connectc_error_init(&merr, NULL);
  if (json->marshal(json, &msg.base, NULL, &out, &len, &merr) != CONNECTC_OK) return 1;
  printf("connectc %s %s %s %d %.*s\n", connectc_version(), connectc_code_name(e.code), e.message,
         connectc_code_to_http_status(e.code), (int)len, (const char *)out);
  connectc_free(NULL, out);
  connectc_codec_json_del(json);
  connectc_type_registry_del(reg);
  connectc_error_reset(&e);
  return 0;
}
