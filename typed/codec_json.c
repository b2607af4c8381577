/*
 * The protobuf JSON mapping ("json" codec) over protobuf-c messages.
 *
 * Field names, oneof membership and map entries come from the generated
 * connectc_message_info of each type, looked up by full name in the
 * codec's registry (a type that is not registered is an error, never a
 * guess). Parsing uses the strict reader in json.h, so time is linear in
 * the input and nesting is bounded.
 *
 * The well-known types have their special forms (Any with "@type",
 * Timestamp and Duration as strings, Struct/Value/ListValue as plain JSON,
 * wrappers as their scalar, FieldMask as a comma-separated string).
 */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "connectc/json_codec.h"
#include "json.h"

typedef struct json_codec {
  connectc_codec base; /* first: the codec pointer is the json_codec pointer */
  const connectc_type_registry *reg;
  connectc_allocator alloc;
} json_codec;

/* ---- shared ---- */

/* The well-known types whose JSON form is special. */
enum wkt {
  WK_NONE = 0,
  WK_ANY,
  WK_TIMESTAMP,
  WK_DURATION,
  WK_STRUCT,
  WK_VALUE,
  WK_LIST,
  WK_FIELDMASK,
  WK_WRAPPER,
  WK_EMPTY
};

static enum wkt wkt_kind(const char *name) {
  static const struct {
    const char *name;
    enum wkt kind;
  } kinds[] = {{"google.protobuf.Any", WK_ANY},
               {"google.protobuf.Timestamp", WK_TIMESTAMP},
               {"google.protobuf.Duration", WK_DURATION},
               {"google.protobuf.Struct", WK_STRUCT},
               {"google.protobuf.Value", WK_VALUE},
               {"google.protobuf.ListValue", WK_LIST},
               {"google.protobuf.FieldMask", WK_FIELDMASK},
               {"google.protobuf.Empty", WK_EMPTY},
               {"google.protobuf.DoubleValue", WK_WRAPPER},
               {"google.protobuf.FloatValue", WK_WRAPPER},
               {"google.protobuf.Int64Value", WK_WRAPPER},
               {"google.protobuf.UInt64Value", WK_WRAPPER},
               {"google.protobuf.Int32Value", WK_WRAPPER},
               {"google.protobuf.UInt32Value", WK_WRAPPER},
               {"google.protobuf.BoolValue", WK_WRAPPER},
               {"google.protobuf.StringValue", WK_WRAPPER},
               {"google.protobuf.BytesValue", WK_WRAPPER}};
  if (strncmp(name, "google.protobuf.", 16) != 0) return WK_NONE;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].name, name) == 0) return kinds[i].kind;
  return WK_NONE;
}

/* Looks up the JSON metadata of a type; fails with a clear error. */
static const connectc_message_info *info_for(const json_codec *jc,
                                             const ProtobufCMessageDescriptor *desc,
                                             connectc_error *err, int *rv) {
  const connectc_message_info *info =
      connectc_type_registry_find(jc->reg, desc->name, strlen(desc->name));
  if (!info || info->n_fields != desc->n_fields) {
    if (err)
      connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                         "%s: type is not registered with the JSON codec (call the generated "
                         "<file>__register_types)",
                         desc->name);
    *rv = CONNECTC_ERR_ARGUMENT;
    return NULL;
  }
  return info;
}

/* ---- encoding ---- */

typedef struct enc {
  const json_codec *jc;
  const connectc_allocator *a;
  cc_buf out;
  connectc_error *err;
  uint32_t max_depth;
} enc;

static int put(enc *e, const char *s) { return cc_buf_append_str(&e->out, e->a, s); }

/* Writes a double in the shortest form that reads back exactly; the
 * non-finite values as the JSON mapping's strings. */
static int put_double(enc *e, double d, int is_float) {
  if (isnan(d)) return put(e, "\"NaN\"");
  if (isinf(d)) return put(e, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  char buf[40];
  for (int prec = is_float ? 1 : 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, d);
    /* snprintf follows the locale's decimal point; JSON's is '.'. */
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
      char *p = strchr(buf, dp[0]);
      if (p) *p = '.';
    }
    double back;
    if (cc_json_text_double(buf, strlen(buf), &back) == CONNECTC_OK &&
        (is_float ? (float)back == (float)d : back == d))
      break;
  }
  return put(e, buf);
}

static int enc_message(enc *e, const ProtobufCMessage *m, uint32_t depth);
static int enc_wkt(enc *e, const ProtobufCMessage *m, enum wkt kind, uint32_t depth);

/* Writes one value of field f stored at p (not repeated). */
static int enc_value(enc *e, const ProtobufCFieldDescriptor *f, const void *p, uint32_t depth) {
  char buf[32];
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      snprintf(buf, sizeof buf, "%d", (int)*(const int32_t *)p);
      return put(e, buf);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      snprintf(buf, sizeof buf, "%u", (unsigned)*(const uint32_t *)p);
      return put(e, buf);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      snprintf(buf, sizeof buf, "\"%lld\"", (long long)*(const int64_t *)p);
      return put(e, buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      snprintf(buf, sizeof buf, "\"%llu\"", (unsigned long long)*(const uint64_t *)p);
      return put(e, buf);
    case PROTOBUF_C_TYPE_FLOAT: return put_double(e, (double)*(const float *)p, 1);
    case PROTOBUF_C_TYPE_DOUBLE: return put_double(e, *(const double *)p, 0);
    case PROTOBUF_C_TYPE_BOOL: return put(e, *(const protobuf_c_boolean *)p ? "true" : "false");
    case PROTOBUF_C_TYPE_ENUM: {
      int32_t v = *(const int32_t *)p;
      if (strcmp(((const ProtobufCEnumDescriptor *)f->descriptor)->name, "google.protobuf.NullValue") == 0)
        return put(e, "null");
      const ProtobufCEnumValue *ev =
          protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)f->descriptor, v);
      if (ev) {
        int rv = cc_buf_append_byte(&e->out, e->a, '"');
        if (rv == CONNECTC_OK) rv = put(e, ev->name);
        if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, '"');
        return rv;
      }
      snprintf(buf, sizeof buf, "%d", (int)v); /* unknown values as numbers */
      return put(e, buf);
    }
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)p;
      return cc_json_write_string(&e->out, e->a, s ? s : "", s ? strlen(s) : 0);
    }
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *b = p;
      int rv = cc_buf_append_byte(&e->out, e->a, '"');
      if (rv == CONNECTC_OK) rv = cc_b64_encode(&e->out, e->a, b->data, b->len, CC_B64_STD, 1);
      if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, '"');
      return rv;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
      if (!sub) return put(e, "{}");
      return enc_message(e, sub, depth + 1);
    }
  }
  return CONNECTC_ERR_ARGUMENT;
}

static size_t elem_size(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return 8;
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return 4;
  }
}

/* 1 if a proto3 singular field holds its default value (omitted). */
static int is_default(const ProtobufCFieldDescriptor *f, const void *p) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)p;
      return !s || !s[0];
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)p == NULL;
    case PROTOBUF_C_TYPE_FLOAT: {
      float v = *(const float *)p;
      return v == 0 && !signbit(v);
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
      double v = *(const double *)p;
      return v == 0 && !signbit(v);
    }
    default: {
      size_t n = elem_size(f->type);
      const uint8_t *b = p;
      for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
      return 1;
    }
  }
}

/* Writes a map key (always a JSON string). */
static int enc_map_key(enc *e, const ProtobufCFieldDescriptor *kf, const void *p) {
  if (kf->type == PROTOBUF_C_TYPE_STRING) return enc_value(e, kf, p, 0);
  int rv = cc_buf_append_byte(&e->out, e->a, '"');
  if (rv) return rv;
  size_t start = e->out.len;
  rv = enc_value(e, kf, p, 0);
  if (rv) return rv;
  /* 64-bit keys were already quoted: drop the inner quotes. */
  if (e->out.len - start >= 2 && e->out.data[start] == '"') {
    memmove(e->out.data + start, e->out.data + start + 1, e->out.len - start - 2);
    e->out.len -= 2;
  }
  return cc_buf_append_byte(&e->out, e->a, '"');
}

static int enc_message(enc *e, const ProtobufCMessage *m, uint32_t depth) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (depth > e->max_depth) {
    if (e->err)
      connectc_error_set(e->err, CONNECTC_CODE_INTERNAL, "%s: message nesting exceeds %u", d->name,
                         (unsigned)e->max_depth);
    return CONNECTC_ERR_LIMIT;
  }
  enum wkt kind = wkt_kind(d->name);
  if (kind != WK_NONE) return enc_wkt(e, m, kind, depth);
  int rv = CONNECTC_OK;
  const connectc_message_info *info = info_for(e->jc, d, e->err, &rv);
  if (!info) return rv;
  rv = cc_buf_append_byte(&e->out, e->a, '{');
  int first = 1;
  const char *base = (const char *)m;
  for (unsigned i = 0; rv == CONNECTC_OK && i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const connectc_json_field_info *fi = &info->fields[i];
    const void *p = base + f->offset;
    size_t n = 1;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      n = *(const size_t *)(base + f->quantifier_offset);
      if (n == 0) continue;
    } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) continue;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
               f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
      if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset)) continue;
    } else if (f->label != PROTOBUF_C_LABEL_REQUIRED && is_default(f, p)) {
      continue;
    }
    if (!first) rv = cc_buf_append_byte(&e->out, e->a, ',');
    first = 0;
    if (rv == CONNECTC_OK) rv = cc_json_write_string(&e->out, e->a, fi->json_name, strlen(fi->json_name));
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, ':');
    if (rv) break;
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
      rv = enc_value(e, f, p, depth);
      continue;
    }
    const char *arr = *(const char *const *)p;
    if (fi->is_map) {
      const ProtobufCMessageDescriptor *ed = f->descriptor;
      const ProtobufCFieldDescriptor *kf = protobuf_c_message_descriptor_get_field(ed, 1);
      const ProtobufCFieldDescriptor *vf = protobuf_c_message_descriptor_get_field(ed, 2);
      rv = cc_buf_append_byte(&e->out, e->a, '{');
      for (size_t k = 0; rv == CONNECTC_OK && k < n; k++) {
        const char *entry = (const char *)((ProtobufCMessage *const *)(const void *)arr)[k];
        if (k) rv = cc_buf_append_byte(&e->out, e->a, ',');
        if (rv == CONNECTC_OK) rv = enc_map_key(e, kf, entry + kf->offset);
        if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, ':');
        if (rv == CONNECTC_OK) rv = enc_value(e, vf, entry + vf->offset, depth + 1);
      }
      if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, '}');
      continue;
    }
    size_t sz = elem_size(f->type);
    rv = cc_buf_append_byte(&e->out, e->a, '[');
    for (size_t k = 0; rv == CONNECTC_OK && k < n; k++) {
      if (k) rv = cc_buf_append_byte(&e->out, e->a, ',');
      if (rv == CONNECTC_OK) rv = enc_value(e, f, arr + k * sz, depth);
    }
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, ']');
  }
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, '}');
  return rv;
}

static int json_marshal(const connectc_codec *codec, const ProtobufCMessage *msg,
                        const connectc_allocator *alloc, uint8_t **out, size_t *out_len,
                        connectc_error *err) {
  const json_codec *jc = (const json_codec *)codec;
  enc e = {jc, cc_alloc_or_default(alloc), CC_BUF_INIT, err, CONNECTC_CODEC_DEFAULT_MAX_DEPTH};
  int rv = enc_message(&e, msg, 1);
  if (rv == CONNECTC_OK) rv = cc_buf_reserve(&e.out, e.a, 1);
  if (rv) {
    if (rv == CONNECTC_ERR_NOMEM && err)
      connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory writing JSON");
    cc_buf_free(&e.out, e.a);
    return rv;
  }
  *out = e.out.data;
  *out_len = e.out.len;
  return CONNECTC_OK;
}

/* ---- decoding ---- */

typedef struct dec {
  const json_codec *jc;
  const connectc_allocator *a;
  ProtobufCAllocator pa;
  const cc_json_doc *doc;
  connectc_error *err;
  int reject_unknown;
  uint32_t max_depth;
} dec;

static const char *type_name(const cc_json_token *t) {
  switch (t->type) {
    case CC_JSON_NULL: return "null";
    case CC_JSON_TRUE:
    case CC_JSON_FALSE: return "boolean";
    case CC_JSON_NUMBER: return "number";
    case CC_JSON_STRING: return "string";
    case CC_JSON_ARRAY: return "array";
    default: return "object";
  }
}

static int bad(dec *d, const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f,
               const char *fmt, const char *detail) {
  if (d->err) {
    char what[160];
    snprintf(what, sizeof what, fmt, detail);
    if (f)
      connectc_error_set(d->err, CONNECTC_CODE_INVALID_ARGUMENT, "%s.%s: %s", md->name, f->name, what);
    else
      connectc_error_set(d->err, CONNECTC_CODE_INVALID_ARGUMENT, "%s: %s", md->name, what);
  }
  return CONNECTC_ERR_PROTOCOL;
}

/* The token's raw text (at most 40 bytes, strings without their quotes)
 * as a NUL-terminated string in `buf`, for error messages. */
static const char *raw_text(dec *d, const cc_json_token *t, char buf[48]) {
  size_t n = t->end - t->start;
  if (n > 40) n = 40;
  memcpy(buf, d->doc->input + t->start, n);
  buf[n] = 0;
  return buf;
}

static void *pa_alloc(dec *d, size_t n) { return d->pa.alloc(d->pa.allocator_data, n ? n : 1); }

static ProtobufCMessage *new_message(dec *d, const ProtobufCMessageDescriptor *md) {
  ProtobufCMessage *m = pa_alloc(d, md->sizeof_message);
  if (m) md->message_init(m);
  return m;
}

static int dec_message(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m,
                       uint32_t depth);
static int dec_wkt(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m,
                   enum wkt kind, uint32_t depth);

/* Reads the text of a string token into a NUL-terminated scratch buffer. */
static int token_text(dec *d, size_t tok, cc_buf *b) {
  cc_buf_clear(b);
  int rv = cc_json_string_append(d->doc, tok, b, d->a);
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(b, d->a, 0);
  return rv;
}

/* Parses an integer value from a number or a string token. */
static int dec_int(dec *d, const cc_json_token *t, size_t tok, int is_signed, int64_t *sv,
                   uint64_t *uv) {
  const char *s;
  size_t len;
  cc_buf b = CC_BUF_INIT;
  if (t->type == CC_JSON_NUMBER) {
    s = d->doc->input + t->start;
    len = t->end - t->start;
  } else {
    if (token_text(d, tok, &b)) return CONNECTC_ERR_NOMEM;
    s = (const char *)b.data;
    len = b.len - 1;
  }
  int rv = is_signed ? cc_json_text_i64(s, len, sv) : cc_json_text_u64(s, len, uv);
  cc_buf_free(&b, d->a);
  return rv;
}

static int dec_float(dec *d, const cc_json_token *t, size_t tok, double *out) {
  if (t->type == CC_JSON_NUMBER)
    return cc_json_text_double(d->doc->input + t->start, t->end - t->start, out);
  cc_buf b = CC_BUF_INIT;
  if (token_text(d, tok, &b)) return CONNECTC_ERR_NOMEM;
  const char *s = (const char *)b.data;
  int rv = CONNECTC_OK;
  if (strcmp(s, "NaN") == 0) *out = NAN;
  else if (strcmp(s, "Infinity") == 0) *out = INFINITY;
  else if (strcmp(s, "-Infinity") == 0) *out = -INFINITY;
  else rv = cc_json_text_double(s, b.len - 1, out);
  cc_buf_free(&b, d->a);
  return rv;
}

/* Decodes one (non-repeated) value of field f from token tok into p.
 * `key` is 1 for map keys, which are always JSON strings. */
static int dec_value(dec *d, const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f,
                     size_t tok, void *p, uint32_t depth, int key) {
  const cc_json_token *t = &d->doc->tokens[tok];
  int64_t sv = 0;
  uint64_t uv = 0;
  double dv = 0;
  int rv;
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
      int is_signed = f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_SINT32 ||
                      f->type == PROTOBUF_C_TYPE_SFIXED32 || f->type == PROTOBUF_C_TYPE_INT64 ||
                      f->type == PROTOBUF_C_TYPE_SINT64 || f->type == PROTOBUF_C_TYPE_SFIXED64;
      if (t->type != CC_JSON_NUMBER && t->type != CC_JSON_STRING)
        return bad(d, md, f, "expected integer, got %s", type_name(t));
      if (key && t->type != CC_JSON_STRING) return bad(d, md, f, "map keys must be strings%s", "");
      rv = dec_int(d, t, tok, is_signed, &sv, &uv);
      if (rv == CONNECTC_ERR_NOMEM) return rv;
      char raw[48];
      if (rv) return bad(d, md, f, "not an integer in range: %s", raw_text(d, t, raw));
      size_t sz = elem_size(f->type);
      if (sz == 4) {
        if (is_signed && (sv < INT32_MIN || sv > INT32_MAX))
          return bad(d, md, f, "value out of range for a 32-bit integer%s", "");
        if (!is_signed && uv > UINT32_MAX)
          return bad(d, md, f, "value out of range for a 32-bit integer%s", "");
        if (is_signed) *(int32_t *)p = (int32_t)sv;
        else *(uint32_t *)p = (uint32_t)uv;
      } else {
        if (is_signed) *(int64_t *)p = sv;
        else *(uint64_t *)p = uv;
      }
      return CONNECTC_OK;
    }
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
      if (t->type != CC_JSON_NUMBER && t->type != CC_JSON_STRING)
        return bad(d, md, f, "expected number, got %s", type_name(t));
      rv = dec_float(d, t, tok, &dv);
      if (rv == CONNECTC_ERR_NOMEM) return rv;
      char raw[48];
      if (rv || (isinf(dv) && t->type == CC_JSON_NUMBER))
        return bad(d, md, f, "not a number in range: %s", raw_text(d, t, raw));
      if (f->type == PROTOBUF_C_TYPE_FLOAT) {
        if (isfinite(dv) && (dv > 3.4028234663852886e38 || dv < -3.4028234663852886e38))
          return bad(d, md, f, "value out of range for a float%s", "");
        *(float *)p = (float)dv;
      } else {
        *(double *)p = dv;
      }
      return CONNECTC_OK;
    }
    case PROTOBUF_C_TYPE_BOOL:
      if (key && t->type == CC_JSON_STRING) {
        if (cc_json_string_eq(d->doc, tok, "true", 4)) *(protobuf_c_boolean *)p = 1;
        else if (cc_json_string_eq(d->doc, tok, "false", 5)) *(protobuf_c_boolean *)p = 0;
        else return bad(d, md, f, "map key is not a boolean%s", "");
        return CONNECTC_OK;
      }
      if (t->type != CC_JSON_TRUE && t->type != CC_JSON_FALSE)
        return bad(d, md, f, "expected boolean, got %s", type_name(t));
      *(protobuf_c_boolean *)p = t->type == CC_JSON_TRUE;
      return CONNECTC_OK;
    case PROTOBUF_C_TYPE_ENUM: {
      const ProtobufCEnumDescriptor *ed = f->descriptor;
      if (strcmp(ed->name, "google.protobuf.NullValue") == 0) {
        /* NullValue has one value, written null; also accept its name and
         * number, but nothing else (which could not be written back). */
        if (t->type == CC_JSON_NULL || cc_json_string_eq(d->doc, tok, "NULL_VALUE", 10) ||
            (t->type == CC_JSON_NUMBER && cc_json_number_i64(d->doc, tok, &sv) == CONNECTC_OK &&
             sv == 0)) {
          *(int32_t *)p = 0;
          return CONNECTC_OK;
        }
        return bad(d, md, f, "expected null, got %s", type_name(t));
      }
      if (t->type == CC_JSON_NUMBER) {
        rv = cc_json_number_i64(d->doc, tok, &sv);
        if (rv || sv < INT32_MIN || sv > INT32_MAX)
          return bad(d, md, f, "enum number out of range%s", "");
        *(int32_t *)p = (int32_t)sv;
        return CONNECTC_OK;
      }
      if (t->type != CC_JSON_STRING) return bad(d, md, f, "expected enum name, got %s", type_name(t));
      cc_buf b = CC_BUF_INIT;
      if (token_text(d, tok, &b)) return CONNECTC_ERR_NOMEM;
      const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, (const char *)b.data);
      if (!ev) {
        rv = bad(d, md, f, "unknown enum value \"%.60s\"", (const char *)b.data);
        cc_buf_free(&b, d->a);
        return rv;
      }
      cc_buf_free(&b, d->a);
      *(int32_t *)p = ev->value;
      return CONNECTC_OK;
    }
    case PROTOBUF_C_TYPE_STRING: {
      if (t->type != CC_JSON_STRING) return bad(d, md, f, "expected string, got %s", type_name(t));
      cc_buf b = CC_BUF_INIT;
      if (token_text(d, tok, &b)) return CONNECTC_ERR_NOMEM;
      char *s = pa_alloc(d, b.len);
      if (!s) {
        cc_buf_free(&b, d->a);
        return CONNECTC_ERR_NOMEM;
      }
      memcpy(s, b.data, b.len);
      cc_buf_free(&b, d->a);
      *(char **)p = s;
      return CONNECTC_OK;
    }
    case PROTOBUF_C_TYPE_BYTES: {
      if (t->type != CC_JSON_STRING) return bad(d, md, f, "expected base64 string, got %s", type_name(t));
      cc_buf text = CC_BUF_INIT, raw = CC_BUF_INIT;
      if (token_text(d, tok, &text)) return CONNECTC_ERR_NOMEM;
      rv = cc_b64_decode(&raw, d->a, (const char *)text.data, text.len - 1,
                         CC_B64_ACCEPT_STD | CC_B64_ACCEPT_URL);
      cc_buf_free(&text, d->a);
      if (rv) {
        cc_buf_free(&raw, d->a);
        return rv == CONNECTC_ERR_NOMEM ? rv : bad(d, md, f, "invalid base64%s", "");
      }
      ProtobufCBinaryData *bd = p;
      bd->len = raw.len;
      bd->data = NULL;
      if (raw.len) {
        bd->data = pa_alloc(d, raw.len);
        if (!bd->data) {
          bd->len = 0;
          cc_buf_free(&raw, d->a);
          return CONNECTC_ERR_NOMEM;
        }
        memcpy(bd->data, raw.data, raw.len);
      }
      cc_buf_free(&raw, d->a);
      return CONNECTC_OK;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessageDescriptor *sd = f->descriptor;
      if (t->type != CC_JSON_OBJECT && wkt_kind(sd->name) == WK_NONE)
        return bad(d, md, f, "expected object, got %s", type_name(t));
      ProtobufCMessage *sub = new_message(d, sd);
      if (!sub) return CONNECTC_ERR_NOMEM;
      *(ProtobufCMessage **)p = sub; /* owned by the parent from here on */
      return dec_message(d, sd, tok, sub, depth + 1);
    }
  }
  return CONNECTC_ERR_ARGUMENT;
}

static int dec_field(dec *d, const ProtobufCMessageDescriptor *md, const connectc_message_info *info,
                     unsigned fi_index, size_t vtok, ProtobufCMessage *m, uint32_t depth) {
  const ProtobufCFieldDescriptor *f = &md->fields[fi_index];
  const connectc_json_field_info *fi = &info->fields[fi_index];
  char *base = (char *)m;
  const cc_json_token *t = &d->doc->tokens[vtok];
  int is_value = (f->type == PROTOBUF_C_TYPE_MESSAGE &&
                  wkt_kind(((const ProtobufCMessageDescriptor *)f->descriptor)->name) == WK_VALUE) ||
                 (f->type == PROTOBUF_C_TYPE_ENUM &&
                  strcmp(((const ProtobufCEnumDescriptor *)f->descriptor)->name,
                         "google.protobuf.NullValue") == 0);
  /* null: the field keeps its default, except a google.protobuf.Value,
   * for which null is a value. */
  if (t->type == CC_JSON_NULL && !(is_value && f->label != PROTOBUF_C_LABEL_REPEATED))
    return CONNECTC_OK;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    uint32_t *c = (uint32_t *)(base + f->quantifier_offset);
    if (*c != 0) return bad(d, md, f, "more than one field of a oneof is set%s", "");
    *c = f->id;
  }
  if (f->label != PROTOBUF_C_LABEL_REPEATED) {
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
        !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING)
      *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    /* A repeated key in the JSON object replaces the earlier value. */
    if (f->type == PROTOBUF_C_TYPE_STRING) {
      char **sp = (char **)(base + f->offset);
      if (*sp && *sp != f->default_value) d->pa.free(d->pa.allocator_data, *sp);
      *sp = NULL;
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
      ProtobufCMessage **mp = (ProtobufCMessage **)(base + f->offset);
      if (*mp) protobuf_c_message_free_unpacked(*mp, &d->pa);
      *mp = NULL;
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
      ProtobufCBinaryData *bd = (ProtobufCBinaryData *)(base + f->offset);
      if (bd->data) d->pa.free(d->pa.allocator_data, bd->data);
      bd->data = NULL;
      bd->len = 0;
    }
    int rv = dec_value(d, md, f, vtok, base + f->offset, depth, 0);
    if (rv == CONNECTC_OK && f->type == PROTOBUF_C_TYPE_STRING && !*(char **)(base + f->offset))
      *(const char **)(base + f->offset) = f->default_value;
    return rv;
  }
  size_t *count = (size_t *)(base + f->quantifier_offset);
  void **arr = (void **)(base + f->offset);
  if (*count) return bad(d, md, f, "the field appears twice%s", "");
  if (fi->is_map) {
    if (t->type != CC_JSON_OBJECT) return bad(d, md, f, "expected object (map), got %s", type_name(t));
  } else if (t->type != CC_JSON_ARRAY) {
    return bad(d, md, f, "expected array, got %s", type_name(t));
  }
  size_t n = t->size;
  if (n == 0) return CONNECTC_OK;
  size_t sz = elem_size(f->type);
  *arr = pa_alloc(d, n * sz);
  if (!*arr) return CONNECTC_ERR_NOMEM;
  memset(*arr, 0, n * sz);
  size_t i = vtok + 1;
  for (size_t k = 0; k < n; k++) {
    int rv;
    if (fi->is_map) {
      const ProtobufCMessageDescriptor *ed = f->descriptor;
      ProtobufCMessage *entry = new_message(d, ed);
      if (!entry) return CONNECTC_ERR_NOMEM;
      ((ProtobufCMessage **)*arr)[k] = entry;
      *count = k + 1;
      const ProtobufCFieldDescriptor *kf = protobuf_c_message_descriptor_get_field(ed, 1);
      const ProtobufCFieldDescriptor *vf = protobuf_c_message_descriptor_get_field(ed, 2);
      size_t vt = i + 1;
      const ProtobufCFieldDescriptor *vdesc = protobuf_c_message_descriptor_get_field(ed, 2);
      if (d->doc->tokens[vt].type == CC_JSON_NULL &&
          !(vdesc->type == PROTOBUF_C_TYPE_MESSAGE &&
            wkt_kind(((const ProtobufCMessageDescriptor *)vdesc->descriptor)->name) == WK_VALUE))
        return bad(d, md, f, "map values must not be null%s", "");
      rv = dec_value(d, ed, kf, i, (char *)entry + kf->offset, depth + 1, 1);
      if (rv == CONNECTC_OK) rv = dec_value(d, ed, vf, vt, (char *)entry + vf->offset, depth + 1, 0);
      i = d->doc->tokens[vt].next;
    } else {
      if (d->doc->tokens[i].type == CC_JSON_NULL && !is_value)
        return bad(d, md, f, "repeated values must not be null%s", "");
      *count = k + 1;
      rv = dec_value(d, md, f, i, (char *)*arr + k * sz, depth, 0);
      i = d->doc->tokens[i].next;
    }
    if (rv) return rv;
  }
  return CONNECTC_OK;
}

static int dec_message(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m,
                       uint32_t depth) {
  if (depth > d->max_depth) {
    if (d->err)
      connectc_error_set(d->err, CONNECTC_CODE_INVALID_ARGUMENT,
                         "%s: message nesting exceeds the maximum depth of %u", md->name,
                         (unsigned)d->max_depth);
    return CONNECTC_ERR_PROTOCOL;
  }
  enum wkt kind = wkt_kind(md->name);
  if (kind != WK_NONE) return dec_wkt(d, md, tok, m, kind, depth);
  int rv = CONNECTC_OK;
  const connectc_message_info *info = info_for(d->jc, md, d->err, &rv);
  if (!info) return rv;
  const cc_json_token *o = &d->doc->tokens[tok];
  if (o->type != CC_JSON_OBJECT) return bad(d, md, NULL, "expected object, got %s", type_name(o));
  size_t i = tok + 1;
  for (uint32_t k = 0; k < o->size; k++) {
    size_t key = i, val = i + 1;
    i = d->doc->tokens[val].next;
    unsigned found = md->n_fields;
    for (unsigned f = 0; f < md->n_fields && found == md->n_fields; f++) {
      const char *jn = info->fields[f].json_name;
      const char *pn = md->fields[f].name;
      if (cc_json_string_eq(d->doc, key, jn, strlen(jn)) ||
          cc_json_string_eq(d->doc, key, pn, strlen(pn)))
        found = f;
    }
    if (found == md->n_fields) {
      if (!d->reject_unknown || (depth > 1 && cc_json_string_eq(d->doc, key, "@type", 5))) continue;
      cc_buf b = CC_BUF_INIT;
      if (token_text(d, key, &b)) return CONNECTC_ERR_NOMEM;
      rv = bad(d, md, NULL, "unknown field \"%.80s\"", (const char *)b.data);
      cc_buf_free(&b, d->a);
      return rv;
    }
    rv = dec_field(d, md, info, found, val, m, depth);
    if (rv) return rv;
  }
  return CONNECTC_OK;
}

static int json_unmarshal(const connectc_codec *codec, const ProtobufCMessageDescriptor *desc,
                          const uint8_t *data, size_t len, const connectc_codec_options *opts,
                          const connectc_allocator *alloc, ProtobufCMessage **out,
                          connectc_error *err) {
  const json_codec *jc = (const json_codec *)codec;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  uint32_t max_depth = opts && opts->max_depth ? opts->max_depth : CONNECTC_CODEC_DEFAULT_MAX_DEPTH;
  cc_json_doc doc;
  /* Each message level may add one array or map level on top. */
  cc_json_limits lim = {.max_depth = max_depth * 2 + 2};
  connectc_error perr;
  connectc_error_init(&perr, a);
  int rv = cc_json_parse(data ? (const char *)data : "", len, &lim, a, &doc, &perr);
  if (rv) {
    if (err)
      connectc_error_set(err, rv == CONNECTC_ERR_NOMEM ? CONNECTC_CODE_RESOURCE_EXHAUSTED
                                                       : CONNECTC_CODE_INVALID_ARGUMENT,
                         "unmarshal into %s: %s", desc->name, perr.message ? perr.message : "invalid JSON");
    connectc_error_reset(&perr);
    return rv == CONNECTC_ERR_NOMEM ? rv : CONNECTC_ERR_PROTOCOL;
  }
  connectc_error_reset(&perr);
  dec d = {jc, a, connectc_protobuf_allocator(a), &doc, err, opts ? opts->reject_unknown_fields : 0,
           max_depth};
  ProtobufCMessage *m = new_message(&d, desc);
  if (!m) rv = CONNECTC_ERR_NOMEM;
  else rv = dec_message(&d, desc, 0, m, 1);
  cc_json_doc_free(&doc, a);
  if (rv) {
    if (m) protobuf_c_message_free_unpacked(m, &d.pa);
    if (rv == CONNECTC_ERR_NOMEM && err)
      connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory reading JSON");
    return rv;
  }
  *out = m;
  return CONNECTC_OK;
}

/* ---- well-known types ---- */

/* A field of a well-known type, by number (their layouts are fixed). */
static const ProtobufCFieldDescriptor *wfield(const ProtobufCMessageDescriptor *d, unsigned num) {
  return protobuf_c_message_descriptor_get_field(d, num);
}
static void *wptr(const ProtobufCMessage *m, unsigned num) {
  return (char *)m + wfield(m->descriptor, num)->offset;
}

static int enc_fail(enc *e, const ProtobufCMessage *m, const char *why) {
  if (e->err) connectc_error_set(e->err, CONNECTC_CODE_INTERNAL, "%s: %s", m->descriptor->name, why);
  return CONNECTC_ERR_ARGUMENT;
}

#define TS_MIN (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TS_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define DUR_MAX 315576000000LL

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = floor_div(z, 146097);
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* Appends ".fff", ".ffffff" or ".fffffffff" (none for 0). */
static void frac_digits(char *buf, size_t cap, int32_t nanos) {
  if (nanos == 0) buf[0] = 0;
  else if (nanos % 1000000 == 0) snprintf(buf, cap, ".%03d", (int)(nanos / 1000000));
  else if (nanos % 1000 == 0) snprintf(buf, cap, ".%06d", (int)(nanos / 1000));
  else snprintf(buf, cap, ".%09d", (int)nanos);
}

static int enc_timestamp(enc *e, const ProtobufCMessage *m) {
  int64_t s = *(const int64_t *)wptr(m, 1);
  int32_t n = *(const int32_t *)wptr(m, 2);
  if (s < TS_MIN || s > TS_MAX || n < 0 || n > 999999999) return enc_fail(e, m, "timestamp out of range");
  int64_t days = floor_div(s, 86400), rem = s - days * 86400, y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  char frac[16], buf[64];
  frac_digits(frac, sizeof frac, n);
  snprintf(buf, sizeof buf, "\"%04d-%02u-%02uT%02d:%02d:%02d%sZ\"", (int)y, mo, d, (int)(rem / 3600),
           (int)(rem / 60 % 60), (int)(rem % 60), frac);
  return put(e, buf);
}

static int enc_duration(enc *e, const ProtobufCMessage *m) {
  int64_t s = *(const int64_t *)wptr(m, 1);
  int32_t n = *(const int32_t *)wptr(m, 2);
  if (s < -DUR_MAX || s > DUR_MAX || n < -999999999 || n > 999999999 || (s > 0 && n < 0) ||
      (s < 0 && n > 0))
    return enc_fail(e, m, "duration out of range");
  char frac[16], buf[64];
  frac_digits(frac, sizeof frac, n < 0 ? -n : n);
  snprintf(buf, sizeof buf, "\"%s%lld%ss\"", (s < 0 || n < 0) ? "-" : "",
           (long long)(s < 0 ? -s : s), frac);
  return put(e, buf);
}

static int enc_fieldmask(enc *e, const ProtobufCMessage *m) {
  size_t n = *(const size_t *)((const char *)m + wfield(m->descriptor, 1)->quantifier_offset);
  char *const *paths = *(char *const *const *)wptr(m, 1);
  cc_buf joined = CC_BUF_INIT;
  int rv = CONNECTC_OK;
  for (size_t i = 0; rv == CONNECTC_OK && i < n; i++) {
    if (i) rv = cc_buf_append_byte(&joined, e->a, ',');
    for (const char *p = paths[i]; rv == CONNECTC_OK && *p; p++) {
      if (*p >= 'A' && *p <= 'Z') {
        rv = enc_fail(e, m, "a field mask path has an upper-case letter");
      } else if (*p == '_') {
        if (!(p[1] >= 'a' && p[1] <= 'z')) rv = enc_fail(e, m, "a field mask path cannot be written in JSON");
        else rv = cc_buf_append_byte(&joined, e->a, (uint8_t)(*++p - 'a' + 'A'));
      } else {
        rv = cc_buf_append_byte(&joined, e->a, (uint8_t)*p);
      }
    }
  }
  if (rv == CONNECTC_OK)
    rv = cc_json_write_string(&e->out, e->a, joined.data ? (const char *)joined.data : "", joined.len);
  cc_buf_free(&joined, e->a);
  return rv;
}

static int enc_list(enc *e, const ProtobufCMessage *m, uint32_t depth) {
  const ProtobufCFieldDescriptor *f = wfield(m->descriptor, 1);
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  ProtobufCMessage *const *vals = *(ProtobufCMessage *const *const *)wptr(m, 1);
  int rv = cc_buf_append_byte(&e->out, e->a, '[');
  for (size_t i = 0; rv == CONNECTC_OK && i < n; i++) {
    if (i) rv = cc_buf_append_byte(&e->out, e->a, ',');
    if (rv == CONNECTC_OK) rv = enc_message(e, vals[i], depth + 1);
  }
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, ']');
  return rv;
}

static int enc_struct(enc *e, const ProtobufCMessage *m, uint32_t depth) {
  const ProtobufCFieldDescriptor *f = wfield(m->descriptor, 1);
  size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
  ProtobufCMessage *const *entries = *(ProtobufCMessage *const *const *)wptr(m, 1);
  int rv = cc_buf_append_byte(&e->out, e->a, '{');
  for (size_t i = 0; rv == CONNECTC_OK && i < n; i++) {
    const char *key = *(char *const *)wptr(entries[i], 1);
    const ProtobufCMessage *val = *(ProtobufCMessage *const *)wptr(entries[i], 2);
    if (i) rv = cc_buf_append_byte(&e->out, e->a, ',');
    if (rv == CONNECTC_OK) rv = cc_json_write_string(&e->out, e->a, key ? key : "", key ? strlen(key) : 0);
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, ':');
    if (rv == CONNECTC_OK) rv = val ? enc_message(e, val, depth + 1) : put(e, "null");
  }
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, '}');
  return rv;
}

static int enc_value_wkt(enc *e, const ProtobufCMessage *m, uint32_t depth) {
  const ProtobufCFieldDescriptor *f1 = wfield(m->descriptor, 1);
  uint32_t which = *(const uint32_t *)((const char *)m + f1->quantifier_offset);
  switch (which) {
    case 1: return put(e, "null");
    case 2: {
      double v = *(const double *)wptr(m, 2);
      if (!isfinite(v)) return enc_fail(e, m, "number_value is NaN or infinite");
      return put_double(e, v, 0);
    }
    case 3: {
      const char *s = *(char *const *)wptr(m, 3);
      return cc_json_write_string(&e->out, e->a, s ? s : "", s ? strlen(s) : 0);
    }
    case 4: return put(e, *(const protobuf_c_boolean *)wptr(m, 4) ? "true" : "false");
    case 5:
    case 6: {
      const ProtobufCMessage *sub = *(ProtobufCMessage *const *)wptr(m, which);
      if (!sub) return put(e, which == 5 ? "{}" : "[]");
      return enc_message(e, sub, depth + 1);
    }
    default: return enc_fail(e, m, "no kind is set");
  }
}

static int enc_any(enc *e, const ProtobufCMessage *m, uint32_t depth) {
  const char *url = *(char *const *)wptr(m, 1);
  const ProtobufCBinaryData *val = wptr(m, 2);
  if (!url || !url[0]) {
    if (val->len) return enc_fail(e, m, "value without a type_url");
    return put(e, "{}");
  }
  const char *slash = strrchr(url, '/');
  const char *name = slash ? slash + 1 : url;
  const connectc_message_info *info = connectc_type_registry_find(e->jc->reg, name, strlen(name));
  if (!info) {
    if (e->err)
      connectc_error_set(e->err, CONNECTC_CODE_INTERNAL,
                         "google.protobuf.Any: type %s is not registered with the JSON codec", name);
    return CONNECTC_ERR_ARGUMENT;
  }
  if (connectc_proto_check_depth(info->descriptor, val->data, val->len,
                                 e->max_depth > depth ? e->max_depth - depth : 1, e->err))
    return CONNECTC_ERR_PROTOCOL;
  ProtobufCAllocator pa = connectc_protobuf_allocator(e->a);
  ProtobufCMessage *inner = protobuf_c_message_unpack(info->descriptor, &pa, val->len, val->data);
  if (!inner) return enc_fail(e, m, "the value does not unpack as its type");
  int rv = put(e, "{\"@type\":");
  if (rv == CONNECTC_OK) rv = cc_json_write_string(&e->out, e->a, url, strlen(url));
  if (rv == CONNECTC_OK && wkt_kind(info->descriptor->name) != WK_NONE) {
    rv = put(e, ",\"value\":");
    if (rv == CONNECTC_OK) rv = enc_message(e, inner, depth + 1);
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&e->out, e->a, '}');
  } else if (rv == CONNECTC_OK) {
    size_t mark = e->out.len;
    rv = enc_message(e, inner, depth + 1);
    if (rv == CONNECTC_OK) {
      /* Splice the payload's members after "@type": drop its '{'. */
      if (e->out.len - mark == 2) {
        e->out.data[mark] = '}';
        e->out.len = mark + 1;
      } else {
        e->out.data[mark] = ',';
      }
    }
  }
  protobuf_c_message_free_unpacked(inner, &pa);
  return rv;
}

static int enc_wkt(enc *e, const ProtobufCMessage *m, enum wkt kind, uint32_t depth) {
  switch (kind) {
    case WK_TIMESTAMP: return enc_timestamp(e, m);
    case WK_DURATION: return enc_duration(e, m);
    case WK_FIELDMASK: return enc_fieldmask(e, m);
    case WK_LIST: return enc_list(e, m, depth);
    case WK_STRUCT: return enc_struct(e, m, depth);
    case WK_VALUE: return enc_value_wkt(e, m, depth);
    case WK_ANY: return enc_any(e, m, depth);
    case WK_EMPTY: return put(e, "{}");
    case WK_WRAPPER: return enc_value(e, wfield(m->descriptor, 1), wptr(m, 1), depth);
    default: return CONNECTC_ERR_ARGUMENT;
  }
}

/* Decoding. */

static int wbad(dec *d, const ProtobufCMessageDescriptor *md, const char *what, const cc_json_token *t) {
  char raw[48];
  if (d->err)
    connectc_error_set(d->err, CONNECTC_CODE_INVALID_ARGUMENT, "%s: %s: %s", md->name, what,
                       t ? raw_text(d, t, raw) : "");
  return CONNECTC_ERR_PROTOCOL;
}

/* Reads n digits at *p into *out; 0 if not digits. */
static int digits(const char **p, const char *end, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (*p >= end || **p < '0' || **p > '9') return 0;
    v = v * 10 + (*(*p)++ - '0');
  }
  *out = v;
  return 1;
}

/* Parses ".d{1,9}" into nanoseconds (none: 0). */
static int fraction(const char **p, const char *end, int32_t *nanos) {
  *nanos = 0;
  if (*p >= end || **p != '.') return 1;
  (*p)++;
  int n = 0;
  int32_t v = 0;
  while (*p < end && **p >= '0' && **p <= '9' && n < 9) {
    v = v * 10 + (*(*p)++ - '0');
    n++;
  }
  if (n == 0 || (*p < end && **p >= '0' && **p <= '9')) return 0;
  for (; n < 9; n++) v *= 10;
  *nanos = v;
  return 1;
}

static int dec_timestamp(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m) {
  const cc_json_token *t = &d->doc->tokens[tok];
  if (t->type != CC_JSON_STRING || t->escaped) return wbad(d, md, "expected an RFC 3339 string, got", t);
  const char *p = d->doc->input + t->start, *end = d->doc->input + t->end;
  int y, mo, dd, h, mi, s, oh = 0, om = 0, sign = 0;
  int32_t nanos;
  if (!digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mo) || p >= end ||
      *p++ != '-' || !digits(&p, end, 2, &dd) || p >= end || (*p != 'T' && *p != 't') ||
      !(++p, digits(&p, end, 2, &h)) || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi) ||
      p >= end || *p++ != ':' || !digits(&p, end, 2, &s) || !fraction(&p, end, &nanos) || p >= end)
    return wbad(d, md, "invalid RFC 3339 timestamp", t);
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    sign = *p++ == '-' ? -1 : 1;
    if (!digits(&p, end, 2, &oh) || p >= end || *p++ != ':' || !digits(&p, end, 2, &om) || oh > 23 ||
        om > 59)
      return wbad(d, md, "invalid RFC 3339 timestamp", t);
  } else {
    return wbad(d, md, "invalid RFC 3339 timestamp", t);
  }
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (p != end || mo < 1 || mo > 12 || dd < 1 || dd > mdays[mo - 1] || (mo == 2 && dd == 29 && !leap) ||
      h > 23 || mi > 59 || s > 59 || y < 1)
    return wbad(d, md, "invalid RFC 3339 timestamp", t);
  int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)dd) * 86400 + h * 3600 + mi * 60 + s -
                 sign * (oh * 3600 + om * 60);
  if (secs < TS_MIN || secs > TS_MAX) return wbad(d, md, "timestamp out of range", t);
  *(int64_t *)wptr(m, 1) = secs;
  *(int32_t *)wptr(m, 2) = nanos;
  return CONNECTC_OK;
}

static int dec_duration(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m) {
  const cc_json_token *t = &d->doc->tokens[tok];
  if (t->type != CC_JSON_STRING || t->escaped) return wbad(d, md, "expected a duration string, got", t);
  const char *p = d->doc->input + t->start, *end = d->doc->input + t->end;
  int neg = 0;
  if (p < end && *p == '-') {
    neg = 1;
    p++;
  }
  int64_t secs = 0;
  int nd = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (secs > DUR_MAX) return wbad(d, md, "duration out of range", t);
    secs = secs * 10 + (*p++ - '0');
    nd++;
  }
  int32_t nanos;
  if (nd == 0 || !fraction(&p, end, &nanos) || p >= end || *p != 's' || p + 1 != end)
    return wbad(d, md, "invalid duration (expected e.g. \"1.5s\")", t);
  if (secs > DUR_MAX) return wbad(d, md, "duration out of range", t);
  *(int64_t *)wptr(m, 1) = neg ? -secs : secs;
  *(int32_t *)wptr(m, 2) = neg ? -nanos : nanos;
  return CONNECTC_OK;
}

static char *dup_pa(dec *d, const char *s, size_t n) {
  char *c = pa_alloc(d, n + 1);
  if (!c) return NULL;
  memcpy(c, s, n);
  c[n] = 0;
  return c;
}

static int dec_fieldmask(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m) {
  const cc_json_token *t = &d->doc->tokens[tok];
  if (t->type != CC_JSON_STRING) return wbad(d, md, "expected a string, got", t);
  cc_buf b = CC_BUF_INIT;
  if (token_text(d, tok, &b)) return CONNECTC_ERR_NOMEM;
  const char *s = (const char *)b.data;
  size_t len = b.len - 1, n = len ? 1 : 0;
  for (size_t i = 0; i < len; i++) n += s[i] == ',';
  const ProtobufCFieldDescriptor *f = wfield(md, 1);
  size_t *count = (size_t *)((char *)m + f->quantifier_offset);
  char ***paths = (char ***)wptr(m, 1);
  int rv = CONNECTC_OK;
  if (n) {
    *paths = pa_alloc(d, n * sizeof(char *));
    if (!*paths) rv = CONNECTC_ERR_NOMEM;
  }
  size_t start = 0;
  for (size_t k = 0; rv == CONNECTC_OK && k < n; k++) {
    size_t stop = start;
    while (stop < len && s[stop] != ',') stop++;
    cc_buf snake = CC_BUF_INIT;
    for (size_t i = start; rv == CONNECTC_OK && i < stop; i++) {
      char c = s[i];
      if (c == '_') rv = wbad(d, md, "field mask paths are lowerCamelCase in JSON", t);
      else if (c >= 'A' && c <= 'Z') {
        rv = cc_buf_append_byte(&snake, d->a, '_');
        if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&snake, d->a, (uint8_t)(c - 'A' + 'a'));
      } else {
        rv = cc_buf_append_byte(&snake, d->a, (uint8_t)c);
      }
    }
    if (rv == CONNECTC_OK) {
      (*paths)[k] = dup_pa(d, snake.data ? (const char *)snake.data : "", snake.len);
      if (!(*paths)[k]) rv = CONNECTC_ERR_NOMEM;
      else *count = k + 1;
    }
    cc_buf_free(&snake, d->a);
    start = stop + 1;
  }
  cc_buf_free(&b, d->a);
  return rv;
}

static int dec_any_json_value(dec *d, const ProtobufCMessageDescriptor *vd, size_t tok, ProtobufCMessage *v,
                              uint32_t depth);

static int dec_list(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m,
                    uint32_t depth) {
  const cc_json_token *t = &d->doc->tokens[tok];
  if (t->type != CC_JSON_ARRAY) return wbad(d, md, "expected an array, got", t);
  const ProtobufCFieldDescriptor *f = wfield(md, 1);
  size_t *count = (size_t *)((char *)m + f->quantifier_offset);
  ProtobufCMessage ***vals = (ProtobufCMessage ***)wptr(m, 1);
  if (!t->size) return CONNECTC_OK;
  *vals = pa_alloc(d, t->size * sizeof(ProtobufCMessage *));
  if (!*vals) return CONNECTC_ERR_NOMEM;
  size_t i = tok + 1;
  for (uint32_t k = 0; k < t->size; k++) {
    ProtobufCMessage *v = new_message(d, f->descriptor);
    if (!v) return CONNECTC_ERR_NOMEM;
    (*vals)[k] = v;
    *count = k + 1;
    int rv = dec_any_json_value(d, f->descriptor, i, v, depth + 1);
    if (rv) return rv;
    i = d->doc->tokens[i].next;
  }
  return CONNECTC_OK;
}

static int dec_struct(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m,
                      uint32_t depth) {
  const cc_json_token *t = &d->doc->tokens[tok];
  if (t->type != CC_JSON_OBJECT) return wbad(d, md, "expected an object, got", t);
  const ProtobufCFieldDescriptor *f = wfield(md, 1);
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  size_t *count = (size_t *)((char *)m + f->quantifier_offset);
  ProtobufCMessage ***entries = (ProtobufCMessage ***)wptr(m, 1);
  if (!t->size) return CONNECTC_OK;
  *entries = pa_alloc(d, t->size * sizeof(ProtobufCMessage *));
  if (!*entries) return CONNECTC_ERR_NOMEM;
  size_t i = tok + 1;
  for (uint32_t k = 0; k < t->size; k++) {
    ProtobufCMessage *entry = new_message(d, ed);
    if (!entry) return CONNECTC_ERR_NOMEM;
    (*entries)[k] = entry;
    *count = k + 1;
    cc_buf key = CC_BUF_INIT;
    if (token_text(d, i, &key)) return CONNECTC_ERR_NOMEM;
    char *ks = dup_pa(d, (const char *)key.data, key.len - 1);
    cc_buf_free(&key, d->a);
    if (!ks) return CONNECTC_ERR_NOMEM;
    *(char **)wptr(entry, 1) = ks;
    const ProtobufCFieldDescriptor *vf = wfield(ed, 2);
    ProtobufCMessage *v = new_message(d, vf->descriptor);
    if (!v) return CONNECTC_ERR_NOMEM;
    *(ProtobufCMessage **)wptr(entry, 2) = v;
    int rv = dec_any_json_value(d, vf->descriptor, i + 1, v, depth + 1);
    if (rv) return rv;
    i = d->doc->tokens[i + 1].next;
  }
  return CONNECTC_OK;
}

/* google.protobuf.Value from any JSON value. */
static int dec_any_json_value(dec *d, const ProtobufCMessageDescriptor *vd, size_t tok, ProtobufCMessage *v,
                              uint32_t depth) {
  if (depth > d->max_depth) return wbad(d, vd, "nesting exceeds the maximum depth", NULL);
  const cc_json_token *t = &d->doc->tokens[tok];
  uint32_t *which = (uint32_t *)((char *)v + wfield(vd, 1)->quantifier_offset);
  switch (t->type) {
    case CC_JSON_NULL:
      *which = 1;
      *(int32_t *)wptr(v, 1) = 0;
      return CONNECTC_OK;
    case CC_JSON_NUMBER: {
      double x;
      if (cc_json_number_double(d->doc, tok, &x) || !isfinite(x)) return wbad(d, vd, "number out of range", t);
      *which = 2;
      *(double *)wptr(v, 2) = x;
      return CONNECTC_OK;
    }
    case CC_JSON_STRING: {
      cc_buf b = CC_BUF_INIT;
      if (token_text(d, tok, &b)) return CONNECTC_ERR_NOMEM;
      char *s = dup_pa(d, (const char *)b.data, b.len - 1);
      cc_buf_free(&b, d->a);
      if (!s) return CONNECTC_ERR_NOMEM;
      *which = 3;
      *(char **)wptr(v, 3) = s;
      return CONNECTC_OK;
    }
    case CC_JSON_TRUE:
    case CC_JSON_FALSE:
      *which = 4;
      *(protobuf_c_boolean *)wptr(v, 4) = t->type == CC_JSON_TRUE;
      return CONNECTC_OK;
    default: {
      unsigned num = t->type == CC_JSON_OBJECT ? 5 : 6;
      const ProtobufCMessageDescriptor *sd = wfield(vd, num)->descriptor;
      ProtobufCMessage *sub = new_message(d, sd);
      if (!sub) return CONNECTC_ERR_NOMEM;
      *which = num;
      *(ProtobufCMessage **)wptr(v, num) = sub;
      return num == 5 ? dec_struct(d, sd, tok, sub, depth + 1) : dec_list(d, sd, tok, sub, depth + 1);
    }
  }
}

static int dec_any(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m,
                   uint32_t depth) {
  const cc_json_token *t = &d->doc->tokens[tok];
  if (t->type != CC_JSON_OBJECT) return wbad(d, md, "expected an object, got", t);
  long at = cc_json_object_get(d->doc, tok, "@type");
  if (at < 0) {
    if (t->size == 0) return CONNECTC_OK; /* the empty Any */
    return wbad(d, md, "missing \"@type\"", NULL);
  }
  if (d->doc->tokens[at].type != CC_JSON_STRING) return wbad(d, md, "\"@type\" is not a string", NULL);
  cc_buf url = CC_BUF_INIT;
  if (token_text(d, (size_t)at, &url)) return CONNECTC_ERR_NOMEM;
  const char *u = (const char *)url.data;
  const char *slash = strrchr(u, '/');
  const char *name = slash ? slash + 1 : u;
  const connectc_message_info *info = connectc_type_registry_find(d->jc->reg, name, strlen(name));
  int rv = CONNECTC_OK;
  if (!info || !slash) {
    if (d->err)
      connectc_error_set(d->err, CONNECTC_CODE_INVALID_ARGUMENT,
                         "%s: %s \"%.100s\"", md->name,
                         slash ? "unknown message type in @type" : "@type is not a type URL", u);
    rv = CONNECTC_ERR_PROTOCOL;
  }
  ProtobufCMessage *inner = NULL;
  if (rv == CONNECTC_OK) {
    inner = new_message(d, info->descriptor);
    if (!inner) rv = CONNECTC_ERR_NOMEM;
  }
  if (rv == CONNECTC_OK) {
    if (wkt_kind(info->descriptor->name) != WK_NONE) {
      long v = cc_json_object_get(d->doc, tok, "value");
      if (v < 0) rv = wbad(d, md, "missing \"value\" for a well-known type", NULL);
      else rv = dec_message(d, info->descriptor, (size_t)v, inner, depth + 1);
    } else {
      rv = dec_message(d, info->descriptor, tok, inner, depth + 1);
    }
  }
  if (rv == CONNECTC_OK) {
    size_t n = protobuf_c_message_get_packed_size(inner);
    ProtobufCBinaryData *val = wptr(m, 2);
    val->data = pa_alloc(d, n);
    if (!val->data) rv = CONNECTC_ERR_NOMEM;
    else {
      val->len = protobuf_c_message_pack(inner, val->data);
      char *us = dup_pa(d, u, url.len - 1);
      if (!us) rv = CONNECTC_ERR_NOMEM;
      else *(char **)wptr(m, 1) = us;
    }
  }
  if (inner) protobuf_c_message_free_unpacked(inner, &d->pa);
  cc_buf_free(&url, d->a);
  return rv;
}

static int dec_wkt(dec *d, const ProtobufCMessageDescriptor *md, size_t tok, ProtobufCMessage *m,
                   enum wkt kind, uint32_t depth) {
  const cc_json_token *t = &d->doc->tokens[tok];
  switch (kind) {
    case WK_TIMESTAMP: return dec_timestamp(d, md, tok, m);
    case WK_DURATION: return dec_duration(d, md, tok, m);
    case WK_FIELDMASK: return dec_fieldmask(d, md, tok, m);
    case WK_LIST: return dec_list(d, md, tok, m, depth);
    case WK_STRUCT: return dec_struct(d, md, tok, m, depth);
    case WK_VALUE: return dec_any_json_value(d, md, tok, m, depth);
    case WK_ANY: return dec_any(d, md, tok, m, depth);
    case WK_EMPTY:
      if (t->type != CC_JSON_OBJECT) return wbad(d, md, "expected an object, got", t);
      return CONNECTC_OK;
    case WK_WRAPPER: {
      const ProtobufCFieldDescriptor *f = wfield(md, 1);
      if (t->type == CC_JSON_NULL) return CONNECTC_OK;
      return dec_value(d, md, f, tok, wptr(m, 1), depth, 0);
    }
    default: return CONNECTC_ERR_ARGUMENT;
  }
}

int connectc_codec_json_new(const connectc_type_registry *reg, const connectc_allocator *alloc,
                            connectc_codec **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  if (!reg) return CONNECTC_ERR_ARGUMENT;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  json_codec *jc = cc_malloc(a, sizeof *jc);
  if (!jc) return CONNECTC_ERR_NOMEM;
  jc->base.name = "json";
  jc->base.marshal = json_marshal;
  jc->base.unmarshal = json_unmarshal;
  jc->reg = reg;
  jc->alloc = *a;
  *out = &jc->base;
  return CONNECTC_OK;
}

void connectc_codec_json_del(connectc_codec *codec) {
  if (!codec) return;
  json_codec *jc = (json_codec *)codec;
  connectc_allocator a = jc->alloc;
  cc_free(&a, jc);
}
