/*
 * json_codec.h: the protobuf JSON mapping ("json" codec) over protobuf-c
 * messages, and the type registry it needs.
 *
 * protobuf-c's descriptors lack what the JSON mapping needs: JSON field
 * names, oneof grouping by name, map-entry marks and proto3 `optional`
 * presence. The code generator (protoc-gen-connectc) emits that as one
 * `connectc_message_info` per message, next to protoc-c's descriptor; it is
 * the single source of truth. Generated code registers every message of a
 * file in a registry (`<file>__register_types(reg)`), which the JSON codec
 * uses to resolve message-typed fields and `google.protobuf.Any` payloads.
 *
 * Every field kind is supported both ways, and the well-known types in
 * their special forms: Any ({"@type": url, ...fields}, or "value" for a
 * well-known payload), Timestamp (RFC 3339, 0001..9999), Duration
 * ("1.5s", +-315576000000 s), Struct/Value/ListValue as plain JSON,
 * wrappers as their scalar, FieldMask as comma-separated lowerCamel paths,
 * Empty as {}.
 */
#ifndef CONNECTC_JSON_CODEC_H
#define CONNECTC_JSON_CODEC_H

#include <protobuf-c/protobuf-c.h>

#include "connectc/codec.h"
#include "connectc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the JSON mapping needs to know about one field, beyond protobuf-c's
 * ProtobufCFieldDescriptor. */
typedef struct connectc_json_field_info {
  uint32_t number;        /* the field number (matches the protobuf-c field) */
  const char *json_name;  /* lowerCamelCase, or the custom json_name */
  int32_t oneof_index;    /* index into the message's oneof_names, or -1 */
  uint8_t is_map;         /* a map field (repeated XxxEntry{key=1, value=2}) */
  uint8_t proto3_optional;/* declared `optional` in proto3 (synthetic oneof) */
} connectc_json_field_info;

/* JSON metadata of one message type; static, generated. */
typedef struct connectc_message_info {
  const ProtobufCMessageDescriptor *descriptor;
  const connectc_json_field_info *fields; /* in the order of descriptor->fields */
  size_t n_fields;
  const char *const *oneof_names;         /* real and synthetic oneofs */
  size_t n_oneofs;
} connectc_message_info;

/* A registry of message types by full name ("pkg.Msg"). Not thread-safe
 * to modify; safe to read from many threads once filled. */
typedef struct connectc_type_registry connectc_type_registry;

/* Creates a registry holding the well-known types (google.protobuf.Any,
 * Timestamp, Duration, Struct, Value, ListValue, FieldMask, Empty and the
 * wrappers) in *out. `alloc` may be NULL. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT (out NULL) or CONNECTC_ERR_NOMEM; *out is NULL on
 * failure. */
CONNECTC_API int connectc_type_registry_new(const connectc_allocator *alloc, connectc_type_registry **out);
CONNECTC_API void connectc_type_registry_del(connectc_type_registry *reg);
/* Adds one message type (the info must outlive the registry). Adding the
 * same full name twice with the same info is a no-op; with a different
 * info it fails with CONNECTC_ERR_ARGUMENT. */
CONNECTC_API int connectc_type_registry_add(connectc_type_registry *reg, const connectc_message_info *info);
/* Looks a type up by full name (no "type.googleapis.com/" prefix). */
CONNECTC_API const connectc_message_info *connectc_type_registry_find(const connectc_type_registry *reg,
                                                         const char *full_name, size_t len);

/*
 * Output: JSON names of the generator's metadata; 64-bit integers as
 * strings; floats in the shortest form that reads back exactly ("NaN",
 * "Infinity", "-Infinity" as strings); bytes as padded standard base64;
 * enums by name (unknown numbers as numbers); proto3 defaults omitted,
 * oneof members and proto3 optional fields written whenever set.
 * Input: JSON or proto field names; integers as numbers or strings
 * (exponents allowed when the value is integral; exact range checks);
 * bytes in standard or URL-safe base64, padded or not; enums by name or
 * number; null leaves a field at its default (refused inside repeated
 * fields and maps); unknown fields ignored unless opts->reject_unknown_fields.
 * A type missing from the registry is an error (internal), never guessed.
 *
 * Creates the JSON codec bound to `reg` (borrowed; must outlive the codec).
 * The codec's marshal/unmarshal follow codec.h; unmarshal failures are
 * invalid_argument with the field path in the message
 * ("eliza.v1.SayRequest.sentence: expected string, got number").
 * Returns CONNECTC_OK with *out set, CONNECTC_ERR_ARGUMENT (reg or out
 * NULL) or CONNECTC_ERR_NOMEM; *out is NULL on failure.
 */
CONNECTC_API int connectc_codec_json_new(const connectc_type_registry *reg, const connectc_allocator *alloc,
                            connectc_codec **out);
CONNECTC_API void connectc_codec_json_del(connectc_codec *codec);

#ifdef __cplusplus
}
#endif

#endif
