/* Internal helpers of the proto codec. */
#ifndef CONNECTC_PROTO_INTERNAL_H
#define CONNECTC_PROTO_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "connectc/codec.h"

/* Checks that every string field of the proto3 messages in `m` (nested
 * ones included, at most max_depth levels) holds valid UTF-8. Returns
 * CONNECTC_OK, or CONNECTC_ERR_PROTOCOL with `err` (may be NULL) set to
 * invalid_argument naming the field. proto2 messages are not checked. */
int cc_proto_check_utf8(const ProtobufCMessage *m, uint32_t max_depth, connectc_error *err);

/* Bytes a small proto message may occupy on the caller's stack. */
#define CC_SMALL_MESSAGE 512

/*
 * Marshals `msg` with `codec` (any codec). A proto message of at most `cap`
 * bytes is packed into `stack` without allocating; anything else goes
 * through codec->marshal. On CONNECTC_OK, *out and *len view the bytes and
 * *heap is what the caller frees with `alloc` afterwards (NULL for the
 * stack). Used by the typed client and server layers.
 */
int cc_marshal_small(const connectc_codec *codec, const ProtobufCMessage *msg, uint8_t *stack,
                     size_t cap, const connectc_allocator *alloc, const uint8_t **out, size_t *len,
                     uint8_t **heap, connectc_error *err);

/*
 * A budget on what decoding may allocate: an allocator that forwards to
 * `base` and refuses (returns NULL) once the bytes asked for pass `max`.
 * Blocks it returns are the base allocator's, so whatever it built is
 * freed with `base`. Frees are not subtracted: `used` is everything asked
 * for, an upper bound of the peak. Each request counts 16 bytes of
 * allocator overhead on top.
 */
typedef struct cc_budget {
  connectc_allocator alloc; /* hand this one to the decoder */
  const connectc_allocator *base;
  size_t used, max;
  int exceeded;
} cc_budget;

void cc_budget_init(cc_budget *b, const connectc_allocator *base, size_t max);
/* The allocator under any budgets wrapped around `a` (a itself if none):
 * for scratch no larger than the input, freed before returning, which a
 * budget on decoded memory need not count. */
const connectc_allocator *cc_budget_base(const connectc_allocator *a);

#endif
