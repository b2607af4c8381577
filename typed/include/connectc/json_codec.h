/**
 * @file connectc/json_codec.h
 * @brief The protobuf JSON mapping ("json" codec) over protobuf-c
 * messages, and the type registry it needs.
 *
 * Part of libconnectc.
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

/** What the JSON mapping needs to know about one field, beyond protobuf-c's
 * ProtobufCFieldDescriptor. Generated. */
typedef struct connectc_json_field_info {
  uint32_t number;        /**< the field number (matches the protobuf-c field) */
  const char *json_name;  /**< lowerCamelCase, or the custom json_name */
  int32_t oneof_index;    /**< index into the message's oneof_names, or -1 */
  uint8_t is_map;         /**< a map field (repeated XxxEntry{key=1, value=2}) */
  uint8_t proto3_optional;/**< declared `optional` in proto3 (synthetic oneof) */
} connectc_json_field_info;

/** JSON metadata of one message type; static, generated. */
typedef struct connectc_message_info {
  const ProtobufCMessageDescriptor *descriptor; /**< protoc-c's descriptor of the type */
  const connectc_json_field_info *fields; /**< in the order of descriptor->fields */
  size_t n_fields;                        /**< equal to descriptor->n_fields */
  const char *const *oneof_names;         /**< real and synthetic oneofs */
  size_t n_oneofs;                        /**< entries in oneof_names */
} connectc_message_info;

/** A registry of message types by full name ("pkg.Msg") (opaque). Not
 * thread-safe to modify; safe to read from many threads once filled. */
typedef struct connectc_type_registry connectc_type_registry;

/**
 * Creates a registry holding the well-known types (google.protobuf.Any,
 * Timestamp, Duration, Struct, Value, ListValue, FieldMask, Empty and the
 * wrappers).
 * @param alloc the registry's allocator; may be NULL (default); copied.
 * @param out receives the registry; set to NULL on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `out` is NULL;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_type_registry_new(const connectc_allocator *alloc, connectc_type_registry **out);
/**
 * Frees a registry (not the infos it points to). Codecs bound to it must
 * be deleted first.
 * @param reg the registry; NULL is ignored.
 */
CONNECTC_API void connectc_type_registry_del(connectc_type_registry *reg);
/**
 * Adds one message type. Generated `<file>__register_types(reg)`
 * functions call this for every message of a file.
 * @param reg the registry.
 * @param info the type's metadata, retained: it must outlive the registry
 *        (generated infos are static).
 * @return CONNECTC_OK, also when the same info (the same pointer) was
 *         added before (a no-op);
 *         CONNECTC_ERR_ARGUMENT when `reg` or `info` is NULL, the info has
 *         no descriptor or name, or another info has the same full name;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_type_registry_add(connectc_type_registry *reg, const connectc_message_info *info);
/**
 * Looks a type up by full name.
 * @param reg the registry; may be NULL (nothing is found).
 * @param full_name "pkg.Msg", `len` bytes (no NUL needed; no
 *        "type.googleapis.com/" prefix); borrowed for the call.
 * @param len length of `full_name`.
 * @return the registered info, or NULL when there is none.
 */
CONNECTC_API const connectc_message_info *connectc_type_registry_find(const connectc_type_registry *reg,
                                                         const char *full_name, size_t len);

/**
 * Creates the JSON codec bound to a registry.
 *
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
 * The codec's marshal and unmarshal follow codec.h. Unmarshal fails with
 * CONNECTC_ERR_PROTOCOL and invalid_argument, naming the message type and
 * field (its proto name) ("eliza.v1.SayRequest.sentence: expected
 * string, got number"), for bytes that are not JSON, nest too deep, or do
 * not fit the type; with CONNECTC_ERR_NOMEM (resource_exhausted); and
 * with CONNECTC_ERR_ARGUMENT (internal) for a type missing from the
 * registry. Marshal fails with CONNECTC_ERR_ARGUMENT (internal: a type
 * missing from the registry, an Any it cannot write), CONNECTC_ERR_LIMIT
 * (internal: nesting beyond CONNECTC_CODEC_DEFAULT_MAX_DEPTH),
 * CONNECTC_ERR_PROTOCOL (an Any payload that is not valid protobuf) or
 * CONNECTC_ERR_NOMEM (resource_exhausted).
 *
 * @param reg the registry, borrowed: it must outlive the codec.
 * @param alloc allocator of the codec object; may be NULL (default);
 *        copied. (Messages and buffers use the allocator given to each
 *        marshal or unmarshal.)
 * @param out receives the codec; set to NULL on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `reg` or `out` is NULL;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_codec_json_new(const connectc_type_registry *reg, const connectc_allocator *alloc,
                            connectc_codec **out);
/**
 * Frees a codec made by connectc_codec_json_new() (not its registry).
 * @param codec the codec; NULL is ignored.
 */
CONNECTC_API void connectc_codec_json_del(connectc_codec *codec);

#ifdef __cplusplus
}
#endif

#endif
