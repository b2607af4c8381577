/* The binary protobuf codec on protobuf-c, with a nesting-depth bound
 * checked before protobuf-c (which has none) sees untrusted bytes. */
#include <string.h>

#include "buf.h"
#include "connectc/codec.h"
#include "proto_internal.h"

static void *pb_alloc(void *data, size_t size) {
  const connectc_allocator *a = data;
  return a->malloc(size ? size : 1, a->user_data);
}

static void pb_free(void *data, void *ptr) {
  const connectc_allocator *a = data;
  if (ptr) a->free(ptr, a->user_data);
}

ProtobufCAllocator connectc_protobuf_allocator(const connectc_allocator *alloc) {
  ProtobufCAllocator pa;
  pa.alloc = pb_alloc;
  pa.free = pb_free;
  /* protobuf-c wants a mutable pointer; it only hands it back to us. */
  pa.allocator_data = (void *)(uintptr_t)cc_alloc_or_default(alloc);
  return pa;
}

void connectc_message_free(ProtobufCMessage *msg, const connectc_allocator *alloc) {
  if (!msg) return;
  ProtobufCAllocator pa = connectc_protobuf_allocator(alloc);
  protobuf_c_message_free_unpacked(msg, &pa);
}

/* ---- depth check ---- */

typedef struct walk {
  uint32_t max_depth;
  const char *problem; /* set on failure */
} walk;

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (*p >= end) return 0;
    uint8_t b = *(*p)++;
    if (shift == 63 && b > 1) return 0; /* more than 64 bits */
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

/* Walks one message's bytes; recursion depth is bounded by max_depth. */
static int walk_message(walk *w, const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                        const uint8_t *end, uint32_t depth) {
  while (p < end) {
    uint64_t tag;
    if (!read_varint(&p, end, &tag)) {
      w->problem = "truncated or overlong varint";
      return 0;
    }
    uint64_t number = tag >> 3;
    if (number == 0 || number > 536870911u) {
      w->problem = "invalid field number";
      return 0;
    }
    uint64_t v;
    switch (tag & 7) {
      case 0:
        if (!read_varint(&p, end, &v)) {
          w->problem = "truncated or overlong varint";
          return 0;
        }
        break;
      case 1:
        if (end - p < 8) {
          w->problem = "truncated fixed64";
          return 0;
        }
        p += 8;
        break;
      case 5:
        if (end - p < 4) {
          w->problem = "truncated fixed32";
          return 0;
        }
        p += 4;
        break;
      case 2: {
        if (!read_varint(&p, end, &v)) {
          w->problem = "truncated or overlong length";
          return 0;
        }
        if (v > (uint64_t)(end - p)) {
          w->problem = "length-delimited field runs past the end";
          return 0;
        }
        const ProtobufCFieldDescriptor *f =
            desc ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number) : NULL;
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
          if (depth + 1 > w->max_depth) {
            w->problem = NULL; /* depth, reported by the caller */
            return -1;
          }
          int rv = walk_message(w, f->descriptor, p, p + v, depth + 1);
          if (rv <= 0) return rv;
        }
        p += v;
        break;
      }
      case 3:
      case 4:
        w->problem = "groups are not supported";
        return 0;
      default:
        w->problem = "invalid wire type";
        return 0;
    }
  }
  return 1;
}

int connectc_proto_check_depth(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                               size_t len, uint32_t max_depth, connectc_error *err) {
  if (max_depth == 0) max_depth = CONNECTC_CODEC_DEFAULT_MAX_DEPTH;
  walk w = {max_depth, NULL};
  const uint8_t *p = data ? data : (const uint8_t *)"";
  int rv = walk_message(&w, desc, p, p + len, 1);
  if (rv == 1) return CONNECTC_OK;
  const char *name = desc ? desc->name : "message";
  if (err) {
    if (rv < 0)
      connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                         "unmarshal into %s: message nesting exceeds the maximum depth of %u",
                         name, (unsigned)max_depth);
    else
      connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                         "unmarshal into %s: invalid protobuf wire format: %s", name, w.problem);
  }
  return CONNECTC_ERR_PROTOCOL;
}

/* ---- the codec ---- */

static const connectc_codec proto_codec;

/* Packs `msg` (of packed size n) into buf. */
static int pack_checked(const ProtobufCMessage *msg, uint8_t *buf, size_t n, connectc_error *err) {
  size_t w = protobuf_c_message_pack(msg, buf);
  if (w == n) return CONNECTC_OK;
  if (err) connectc_error_set(err, CONNECTC_CODE_INTERNAL, "marshal %s: packed %zu of %zu bytes",
                              msg->descriptor->name, w, n);
  return CONNECTC_ERR_PROTOCOL;
}

static int proto_marshal(const connectc_codec *codec, const ProtobufCMessage *msg,
                         const connectc_allocator *alloc, uint8_t **out, size_t *out_len,
                         connectc_error *err) {
  (void)codec;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  size_t n = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = cc_malloc(a, n);
  if (!buf) {
    if (err) connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory marshaling %s",
                                msg->descriptor->name);
    return CONNECTC_ERR_NOMEM;
  }
  int rv = pack_checked(msg, buf, n, err);
  if (rv) {
    cc_free(a, buf);
    return rv;
  }
  *out = buf;
  *out_len = n;
  return CONNECTC_OK;
}

int cc_marshal_small(const connectc_codec *codec, const ProtobufCMessage *msg, uint8_t *stack,
                     size_t cap, const connectc_allocator *alloc, const uint8_t **out, size_t *len,
                     uint8_t **heap, connectc_error *err) {
  *heap = NULL;
  if (codec == &proto_codec) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n <= cap) {
      int rv = pack_checked(msg, stack, n, err);
      if (rv) return rv;
      *out = stack;
      *len = n;
      return CONNECTC_OK;
    }
  }
  int rv = codec->marshal(codec, msg, alloc, heap, len, err);
  *out = *heap;
  return rv;
}

static int proto_unmarshal(const connectc_codec *codec, const ProtobufCMessageDescriptor *desc,
                           const uint8_t *data, size_t len, const connectc_codec_options *opts,
                           const connectc_allocator *alloc, ProtobufCMessage **out,
                           connectc_error *err) {
  (void)codec;
  uint32_t max_depth = opts && opts->max_depth ? opts->max_depth : CONNECTC_CODEC_DEFAULT_MAX_DEPTH;
  int rv = connectc_proto_check_depth(desc, data, len, max_depth, err);
  if (rv) return rv;
  ProtobufCAllocator pa = connectc_protobuf_allocator(alloc);
  ProtobufCMessage *m = protobuf_c_message_unpack(desc, &pa, len, data ? data : (const uint8_t *)"");
  if (!m) {
    /* The bytes are well-formed wire format (checked above), so protobuf-c
     * refused their content (a wire type that contradicts the field's
     * type, a missing proto2 required field) or ran out of memory; it
     * does not say which. */
    if (err) connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                                "unmarshal into %s: field values do not match the message type",
                                desc->name);
    return CONNECTC_ERR_PROTOCOL;
  }
  rv = cc_proto_check_utf8(m, max_depth, err);
  if (rv) {
    protobuf_c_message_free_unpacked(m, &pa);
    return rv;
  }
  *out = m;
  return CONNECTC_OK;
}

static const connectc_codec proto_codec = {
    .name = "proto", .marshal = proto_marshal, .unmarshal = proto_unmarshal};

const connectc_codec *connectc_codec_proto(void) { return &proto_codec; }
