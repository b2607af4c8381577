/* Internal helpers of the proto codec. */
#ifndef CONNECTC_PROTO_INTERNAL_H
#define CONNECTC_PROTO_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "connectc/common.h"

/* Checks that every string field of the proto3 messages in `m` (nested
 * ones included, at most max_depth levels) holds valid UTF-8. Returns
 * CONNECTC_OK, or CONNECTC_ERR_PROTOCOL with `err` (may be NULL) set to
 * invalid_argument naming the field. proto2 messages are not checked. */
int cc_proto_check_utf8(const ProtobufCMessage *m, uint32_t max_depth, connectc_error *err);

#endif
