/* Internal helpers shared by the typed client (client.c) and server
 * (service.c) layers. */
#ifndef CONNECTC_TYPED_INTERNAL_H
#define CONNECTC_TYPED_INTERNAL_H

#include "connectc/codec.h"

/* Bytes a small proto message may occupy on the caller's stack. */
#define CC_SMALL_MESSAGE 512

/*
 * Marshals `msg` with `codec`. A proto message of at most `cap` bytes is
 * packed into `stack` without allocating; anything else goes through
 * codec->marshal. On CONNECTC_OK, *out and *len view the bytes and *heap
 * is what the caller frees with `alloc` afterwards (NULL for the stack).
 */
int cc_marshal_small(const connectc_codec *codec, const ProtobufCMessage *msg, uint8_t *stack,
                     size_t cap, const connectc_allocator *alloc, const uint8_t **out, size_t *len,
                     uint8_t **heap, connectc_error *err);

#endif
