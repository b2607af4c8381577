/* UTF-8 validation of string fields in unpacked proto3 messages.
 *
 * The protobuf spec requires proto3 `string` fields to hold valid UTF-8 and
 * connect-go (through Go's protobuf) refuses messages that break that rule;
 * protobuf-c does not check. This walk runs after protobuf-c unpacked a
 * message whose nesting the depth walk has already bounded.
 *
 * protobuf-c 1.4.1 descriptors do not record the syntax of their file, so a
 * message counts as proto2 (and is not checked) when one of its fields is
 * labelled optional or required, labels proto3 never produces. */
#include <string.h>

#include "connectc/codec.h"
#include "json.h"
#include "proto_internal.h"

static int is_proto2(const ProtobufCMessageDescriptor *d) {
  for (unsigned i = 0; i < d->n_fields; i++)
    if (d->fields[i].label == PROTOBUF_C_LABEL_OPTIONAL ||
        d->fields[i].label == PROTOBUF_C_LABEL_REQUIRED)
      return 1;
  return 0;
}

/* 1 if the field holds a value (for oneof members: is the chosen one). */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) return 1;
  uint32_t which = *(const uint32_t *)(const void *)((const char *)m + f->quantifier_offset);
  return which == f->id;
}

static int bad_string(const ProtobufCMessage *top, const ProtobufCMessageDescriptor *d,
                      const ProtobufCFieldDescriptor *f, connectc_error *err) {
  if (err)
    connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                       "unmarshal into %s: field %s.%s holds invalid UTF-8", top->descriptor->name,
                       d->name, f->name);
  return CONNECTC_ERR_PROTOCOL;
}

static int check(const ProtobufCMessage *top, const ProtobufCMessage *m, uint32_t depth,
                 connectc_error *err) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (depth == 0) return CONNECTC_OK; /* cannot happen after the depth walk */
  int proto3 = !is_proto2(d);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (f->type == PROTOBUF_C_TYPE_STRING && !proto3) continue;
    const char *base = (const char *)m + f->offset;
    size_t n = 1;
    const void *const *items;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      n = *(const size_t *)(const void *)((const char *)m + f->quantifier_offset);
      items = *(const void *const *const *)(const void *)base;
    } else {
      if (!present(m, f)) continue;
      items = (const void *const *)(const void *)base;
    }
    for (size_t k = 0; k < n; k++) {
      const void *v = items[k];
      if (!v) continue;
      if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *str = v;
        if (!cc_utf8_valid((const uint8_t *)str, strlen(str))) return bad_string(top, d, f, err);
      } else {
        int rv = check(top, v, depth - 1, err);
        if (rv) return rv;
      }
    }
  }
  return CONNECTC_OK;
}

int cc_proto_check_utf8(const ProtobufCMessage *m, uint32_t max_depth, connectc_error *err) {
  return check(m, m, max_depth + 1, err);
}
