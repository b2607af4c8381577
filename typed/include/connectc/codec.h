/*
 * codec.h: how messages become bytes and back. A codec is a small vtable;
 * the library ships the binary protobuf codec ("proto", on protobuf-c) and,
 * in json.h's companion issue, the protobuf JSON codec ("json").
 */
#ifndef CONNECTC_CODEC_H
#define CONNECTC_CODEC_H

#include <protobuf-c/protobuf-c.h>

#include "connectc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits and switches for decoding untrusted bytes. */
typedef struct connectc_codec_options {
  /* Deepest nesting of messages accepted (the top-level message is depth
   * 1). Bytes nesting deeper are rejected before protobuf-c sees them.
   * 0 means the default, CONNECTC_CODEC_DEFAULT_MAX_DEPTH. */
  uint32_t max_depth;
  /* JSON only: reject unknown fields instead of ignoring them. */
  int reject_unknown_fields;
  /* The most memory decoding one message may allocate (the message, its
   * strings, arrays and sub-messages, unknown fields, and the decoder's own
   * scratch), counted as it is allocated: a few bytes on the wire can cost
   * far more once decoded (4 MiB of one-byte unknown fields took 185 MiB
   * with protobuf-c). Past it, decoding stops and fails with
   * CONNECTC_ERR_LIMIT and resource_exhausted. 0 =
   * CONNECTC_CODEC_DEFAULT_MAX_DECODED_BYTES. */
  size_t max_decoded_bytes;
  /* Proto only: drop unknown fields (at any depth) before decoding rather
   * than keep each as its own allocation, for a receiver that never sends
   * the message on. The typed server layer sets it for requests. */
  int discard_unknown_fields;
} connectc_codec_options;

#define CONNECTC_CODEC_DEFAULT_MAX_DEPTH 100
#define CONNECTC_CODEC_DEFAULT_MAX_DECODED_BYTES ((size_t)64 * 1024 * 1024)

typedef struct connectc_codec connectc_codec;

struct connectc_codec {
  /* Connect codec name, as in content types: "proto", "json". */
  const char *name;
  /* Serializes `msg`; writes a freshly allocated buffer (*out, *out_len,
   * free with connectc_free(alloc, *out)). On failure fills `err`
   * (internal). */
  int (*marshal)(const connectc_codec *codec, const ProtobufCMessage *msg,
                 const connectc_allocator *alloc, uint8_t **out, size_t *out_len,
                 connectc_error *err);
  /* Parses `data` as a message of type `desc`. On success *out is a new
   * message allocated with `alloc`; free it with connectc_message_free.
   * Malformed bytes fail with CONNECTC_ERR_PROTOCOL and `err` set to
   * invalid_argument with a message a person can act on. */
  int (*unmarshal)(const connectc_codec *codec, const ProtobufCMessageDescriptor *desc,
                   const uint8_t *data, size_t len, const connectc_codec_options *opts,
                   const connectc_allocator *alloc, ProtobufCMessage **out,
                   connectc_error *err);
};

/* The binary protobuf codec (static storage). */
CONNECTC_API const connectc_codec *connectc_codec_proto(void);

/* Frees a message returned by a codec's unmarshal (NULL is ignored). */
CONNECTC_API void connectc_message_free(ProtobufCMessage *msg, const connectc_allocator *alloc);

/*
 * Checks that protobuf wire bytes for `desc` nest message fields no deeper
 * than `max_depth` (top level = 1), without allocating and without
 * recursion on the C stack beyond max_depth frames. Only fields the
 * descriptor knows as messages are descended into (protobuf-c keeps unknown
 * fields as opaque bytes). Returns CONNECTC_OK, or CONNECTC_ERR_PROTOCOL
 * with err = invalid_argument if the bytes nest too deep or are not
 * well-formed wire format.
 */
CONNECTC_API int connectc_proto_check_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                               size_t len, uint32_t max_depth, connectc_error *err);

/*
 * Like connectc_proto_check_depth, and also counts the fields the
 * descriptors do not know (at every depth walked) into *n_unknown.
 */
CONNECTC_API int connectc_proto_count_unknown(const ProtobufCMessageDescriptor *desc,
                                              const uint8_t *data, size_t len,
                                              uint32_t max_depth, size_t *n_unknown,
                                              connectc_error *err);

/* Adapts a connectc_allocator to protobuf-c's allocator type. */
CONNECTC_API ProtobufCAllocator connectc_protobuf_allocator(const connectc_allocator *alloc);

#ifdef __cplusplus
}
#endif

#endif
