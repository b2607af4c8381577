/**
 * @file connectc/codec.h
 * @brief How messages become bytes and back.
 *
 * Part of libconnectc. A codec is a small vtable; the library ships the
 * binary protobuf codec ("proto", on protobuf-c, connectc_codec_proto())
 * and the protobuf JSON codec ("json", connectc_codec_json_new() in
 * json_codec.h).
 */
#ifndef CONNECTC_CODEC_H
#define CONNECTC_CODEC_H

#include <protobuf-c/protobuf-c.h>

#include "connectc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Limits and switches for decoding untrusted bytes. Zero-initialise it
 * (designated initializers or memset): zero means the default, and the
 * struct only grows at the end. */
typedef struct connectc_codec_options {
  /** Deepest nesting of messages accepted (the top-level message is depth
   * 1). Bytes nesting deeper are rejected before protobuf-c sees them.
   * 0 means the default, CONNECTC_CODEC_DEFAULT_MAX_DEPTH. */
  uint32_t max_depth;
  /** JSON only: reject unknown fields instead of ignoring them. */
  int reject_unknown_fields;
} connectc_codec_options;

/** The nesting depth a codec accepts when connectc_codec_options leaves
 * max_depth at 0 (and the depth the JSON codec writes at most). */
#define CONNECTC_CODEC_DEFAULT_MAX_DEPTH 100

/** A codec (see struct connectc_codec). */
typedef struct connectc_codec connectc_codec;

/** A codec: its Connect name and two functions. Codecs of the library are
 * immutable and may be shared between threads. */
struct connectc_codec {
  /** Connect codec name, as in content types: "proto", "json". */
  const char *name;
  /** Serializes `msg` into a freshly allocated buffer (`*out`, `*out_len`;
   * `alloc` may be NULL for the default; free with
   * `connectc_free(alloc, *out)`). Returns CONNECTC_OK or a negative
   * CONNECTC_ERR_* with `err` (may be NULL) set: proto fails with
   * CONNECTC_ERR_NOMEM (resource_exhausted) or, if protobuf-c packs fewer
   * bytes than it measured, CONNECTC_ERR_PROTOCOL (internal); json as
   * connectc_codec_json_new() says. */
  int (*marshal)(const connectc_codec *codec, const ProtobufCMessage *msg,
                 const connectc_allocator *alloc, uint8_t **out, size_t *out_len,
                 connectc_error *err);
  /** Parses `data` (may be NULL when `len` is 0) as a message of type
   * `desc`, within `opts` (may be NULL: defaults). On success `*out` is a
   * new message allocated with `alloc` (may be NULL: default); free it
   * with connectc_message_free(). Malformed bytes fail with
   * CONNECTC_ERR_PROTOCOL and `err` (may be NULL) set to invalid_argument
   * with a message a person can act on: for proto, nesting over the
   * depth, bytes that are not protobuf wire format (groups included),
   * field values protobuf-c refuses (or its running out of memory, which
   * it does not tell apart), or invalid UTF-8 in a proto3 string field. */
  int (*unmarshal)(const connectc_codec *codec, const ProtobufCMessageDescriptor *desc,
                   const uint8_t *data, size_t len, const connectc_codec_options *opts,
                   const connectc_allocator *alloc, ProtobufCMessage **out,
                   connectc_error *err);
};

/**
 * The binary protobuf codec ("proto", on protobuf-c). Unmarshal checks
 * the nesting depth (connectc_proto_check_depth()) before protobuf-c sees
 * the bytes, and UTF-8 in proto3 string fields after.
 * @return the codec, static storage; never NULL.
 */
CONNECTC_API const connectc_codec *connectc_codec_proto(void);

/**
 * Frees a message returned by a codec's unmarshal.
 * @param msg the message; NULL is ignored.
 * @param alloc the allocator given to unmarshal; NULL means the default.
 */
CONNECTC_API void connectc_message_free(ProtobufCMessage *msg, const connectc_allocator *alloc);

/**
 * Checks that protobuf wire bytes for `desc` nest message fields no deeper
 * than `max_depth` (top level = 1), without allocating and without
 * recursion on the C stack beyond max_depth frames. Only fields the
 * descriptor knows as messages are descended into (protobuf-c keeps unknown
 * fields as opaque bytes). Groups (wire types 3 and 4) are refused.
 * @param desc the message type; NULL checks the wire format of the top
 *        level only.
 * @param data the bytes; borrowed for the call; may be NULL when `len` is
 *        0.
 * @param len length of `data`.
 * @param max_depth the deepest nesting accepted; 0 means
 *        CONNECTC_CODEC_DEFAULT_MAX_DEPTH.
 * @param err set on failure; may be NULL.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_PROTOCOL with `err` invalid_argument if the bytes
 *         nest too deep ("unmarshal into T: message nesting exceeds the
 *         maximum depth of N") or are not well-formed wire format
 *         ("unmarshal into T: invalid protobuf wire format: ...").
 */
CONNECTC_API int connectc_proto_check_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                               size_t len, uint32_t max_depth, connectc_error *err);

/**
 * Adapts a connectc_allocator to protobuf-c's allocator type, e.g. to
 * unpack or free messages with protobuf-c directly.
 * @param alloc the allocator, retained by pointer: it must outlive every
 *        use of the result. NULL means the default allocator.
 * @return the protobuf-c allocator.
 */
CONNECTC_API ProtobufCAllocator connectc_protobuf_allocator(const connectc_allocator *alloc);

#ifdef __cplusplus
}
#endif

#endif
