/* The binary protobuf codec and its nesting-depth bound, on the recursive
 * well-known type google.protobuf.Value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/codec.h"
#include "google/protobuf/struct.pb-c.h"

/* Appends a varint. */
static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  do {
    uint8_t b = (uint8_t)(v & 0x7f);
    v >>= 7;
    p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
  } while (v);
  return n;
}

/* Wraps `inner` (a Value) in Value{list_value: ListValue{values: [inner]}}
 * `levels` times; each wrap adds two levels of nesting. */
static uint8_t *nest(size_t levels, size_t *len_out) {
  size_t cap = 16 + levels * 24;
  uint8_t *a = malloc(cap), *b = malloc(cap);
  size_t len = 2;
  a[0] = 0x08; /* null_value = 0 */
  a[1] = 0x00;
  for (size_t i = 0; i < levels; i++) {
    uint8_t hdr[12];
    size_t h = 0;
    hdr[h++] = 0x0a; /* ListValue.values */
    h += put_varint(hdr + h, len);
    size_t lv = h + len;
    size_t n = 0;
    b[n++] = 0x32; /* Value.list_value */
    n += put_varint(b + n, lv);
    memcpy(b + n, hdr, h);
    memcpy(b + n + h, a, len);
    len = n + h + len;
    uint8_t *t = a;
    a = b;
    b = t;
  }
  free(b);
  *len_out = len;
  return a;
}

static void test_round_trip(void **state) {
  (void)state;
  Google__Protobuf__Value v = GOOGLE__PROTOBUF__VALUE__INIT;
  v.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
  v.string_value = "hello";
  const connectc_codec *c = connectc_codec_proto();
  assert_string_equal(c->name, "proto");
  uint8_t *out = NULL;
  size_t len = 0;
  assert_int_equal(c->marshal(c, &v.base, NULL, &out, &len, NULL), CONNECTC_OK);
  assert_int_equal(len, 7);
  assert_memory_equal(out, "\x1a\x05hello", 7);
  ProtobufCMessage *m = NULL;
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, out, len, NULL, NULL, &m, NULL),
                   CONNECTC_OK);
  Google__Protobuf__Value *back = (Google__Protobuf__Value *)m;
  assert_int_equal(back->kind_case, GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE);
  assert_string_equal(back->string_value, "hello");
  connectc_message_free(m, NULL);
  connectc_free(NULL, out);
  /* Empty input is the empty message. */
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, NULL, 0, NULL, NULL, &m, NULL),
                   CONNECTC_OK);
  connectc_message_free(m, NULL);
}


/* proto3 strings must be UTF-8, at any depth and in map keys; the error
 * names the field. */
static void test_utf8(void **state) {
  (void)state;
  const connectc_codec *c = connectc_codec_proto();
  ProtobufCMessage *m = NULL;
  connectc_error e;
  connectc_error_init(&e, NULL);
  /* Value{string_value: "h\xc3\xa9"} is fine; a lone 0xC3 is not. */
  const uint8_t ok[] = {0x1a, 0x03, 'h', 0xc3, 0xa9};
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, ok, sizeof ok, NULL, NULL, &m, &e),
                   CONNECTC_OK);
  connectc_message_free(m, NULL);
  const uint8_t bad[] = {0x1a, 0x02, 'h', 0xc3};
  m = NULL;
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, bad, sizeof bad, NULL, NULL, &m, &e),
                   CONNECTC_ERR_PROTOCOL);
  assert_null(m);
  assert_int_equal(e.code, CONNECTC_CODE_INVALID_ARGUMENT);
  assert_string_equal(e.message, "unmarshal into google.protobuf.Value: field "
                                 "google.protobuf.Value.string_value holds invalid UTF-8");
  /* Overlong '/' and an encoded surrogate, nested in a ListValue. */
  const uint8_t overlong[] = {0x0a, 0x04, 0x1a, 0x02, 0xc0, 0xaf};
  assert_int_equal(c->unmarshal(c, &google__protobuf__list_value__descriptor, overlong, sizeof overlong,
                                NULL, NULL, &m, &e),
                   CONNECTC_ERR_PROTOCOL);
  assert_string_equal(e.message, "unmarshal into google.protobuf.ListValue: field "
                                 "google.protobuf.Value.string_value holds invalid UTF-8");
  const uint8_t surrogate[] = {0x0a, 0x05, 0x1a, 0x03, 0xed, 0xa0, 0x80};
  assert_int_equal(c->unmarshal(c, &google__protobuf__list_value__descriptor, surrogate, sizeof surrogate,
                                NULL, NULL, &m, &e),
                   CONNECTC_ERR_PROTOCOL);
  /* A Struct whose map key is not UTF-8. */
  const uint8_t key[] = {0x0a, 0x05, 0x0a, 0x01, 0xff, 0x12, 0x00};
  assert_int_equal(c->unmarshal(c, &google__protobuf__struct__descriptor, key, sizeof key, NULL, NULL,
                                &m, &e),
                   CONNECTC_ERR_PROTOCOL);
  assert_string_equal(e.message, "unmarshal into google.protobuf.Struct: field "
                                 "google.protobuf.Struct.FieldsEntry.key holds invalid UTF-8");
  connectc_error_reset(&e);
}

static void test_depth_bound(void **state) {
  (void)state;
  const connectc_codec *c = connectc_codec_proto();
  connectc_codec_options opts = {.max_depth = 10, .reject_unknown_fields = 0};
  size_t len;
  /* 4 wraps = depth 9: accepted at max 10 and 9, refused at 8. */
  uint8_t *b = nest(4, &len);
  assert_int_equal(connectc_proto_check_depth(&google__protobuf__value__descriptor, b, len, 9, NULL),
                   CONNECTC_OK);
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(connectc_proto_check_depth(&google__protobuf__value__descriptor, b, len, 8, &e),
                   CONNECTC_ERR_PROTOCOL);
  assert_int_equal(e.code, CONNECTC_CODE_INVALID_ARGUMENT);
  assert_string_equal(e.message,
                      "unmarshal into google.protobuf.Value: message nesting exceeds the maximum "
                      "depth of 8");
  ProtobufCMessage *m = NULL;
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, b, len, &opts, NULL, &m, &e),
                   CONNECTC_OK);
  connectc_message_free(m, NULL);
  free(b);
  /* 5000 wraps: far deeper than protobuf-c's stack could take; refused
   * with the default bound, before protobuf-c sees it. */
  b = nest(5000, &len);
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, b, len, NULL, NULL, &m, &e),
                   CONNECTC_ERR_PROTOCOL);
  assert_string_equal(e.message,
                      "unmarshal into google.protobuf.Value: message nesting exceeds the maximum "
                      "depth of 100");
  free(b);
  connectc_error_reset(&e);
}

static void test_malformed(void **state) {
  (void)state;
  struct {
    const char *bytes;
    size_t len;
    const char *problem;
  } cases[] = {
      {"\x08", 1, "truncated or overlong varint"},
      {"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11, "truncated or overlong varint"},
      {"\x1a\x05hel", 5, "length-delimited field runs past the end"},
      {"\x1a", 1, "truncated or overlong length"},
      {"\x11\x00\x00", 3, "truncated fixed64"},
      {"\x15\x00", 2, "truncated fixed32"},
      {"\x0b", 1, "groups are not supported"},
      {"\x0e", 1, "invalid wire type"},
      {"\x00\x00", 2, "invalid field number"},
      {"\x32\x03\x0a\x05x", 5, "length-delimited field runs past the end"},
  };
  const connectc_codec *c = connectc_codec_proto();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    ProtobufCMessage *m = NULL;
    assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor,
                                  (const uint8_t *)cases[i].bytes, cases[i].len, NULL, NULL, &m, &e),
                     CONNECTC_ERR_PROTOCOL);
    assert_null(m);
    assert_int_equal(e.code, CONNECTC_CODE_INVALID_ARGUMENT);
    char want[256];
    snprintf(want, sizeof want, "unmarshal into google.protobuf.Value: invalid protobuf wire format: %s",
             cases[i].problem);
    assert_string_equal(e.message, want);
    connectc_error_reset(&e);
  }
  /* Well-formed wire format with a wrong wire type for a known field. */
  connectc_error e;
  connectc_error_init(&e, NULL);
  ProtobufCMessage *m = NULL;
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor,
                                (const uint8_t *)"\x1d\x00\x00\x00\x00", 5, NULL, NULL, &m, &e),
                   CONNECTC_ERR_PROTOCOL);
  assert_string_equal(e.message,
                      "unmarshal into google.protobuf.Value: field values do not match the message type");
  connectc_error_reset(&e);
  /* Unknown fields are skipped by the walk (not descended) and kept. */
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor,
                                (const uint8_t *)"\xfa\x01\x02\x32\x00\x08\x00", 7, NULL, NULL, &m, NULL),
                   CONNECTC_OK);
  assert_int_equal(protobuf_c_message_get_packed_size(m), 7);
  connectc_message_free(m, NULL);
}

/* An allocator that fails after `budget` allocations. */
typedef struct budget {
  int left;
  int live;
} budget;
static void *b_malloc(size_t n, void *ud) {
  budget *b = ud;
  if (b->left-- <= 0) return NULL;
  b->live++;
  return malloc(n);
}
static void *b_realloc(void *p, size_t n, void *ud) {
  budget *b = ud;
  if (b->left-- <= 0) return NULL;
  if (!p) b->live++;
  return realloc(p, n);
}
static void b_free(void *p, void *ud) {
  budget *b = ud;
  if (p) b->live--;
  free(p);
}

static void test_allocation_failures(void **state) {
  (void)state;
  Google__Protobuf__ListValue lv = GOOGLE__PROTOBUF__LIST_VALUE__INIT;
  Google__Protobuf__Value items[3] = {GOOGLE__PROTOBUF__VALUE__INIT, GOOGLE__PROTOBUF__VALUE__INIT,
                                      GOOGLE__PROTOBUF__VALUE__INIT};
  Google__Protobuf__Value *ptrs[3] = {&items[0], &items[1], &items[2]};
  for (int i = 0; i < 3; i++) {
    items[i].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
    items[i].string_value = "abc";
  }
  lv.n_values = 3;
  lv.values = ptrs;
  const connectc_codec *c = connectc_codec_proto();
  uint8_t *bytes = NULL;
  size_t len = 0;
  assert_int_equal(c->marshal(c, &lv.base, NULL, &bytes, &len, NULL), CONNECTC_OK);
  for (int n = 0; n < 20; n++) {
    budget b = {n, 0};
    connectc_allocator a = {b_malloc, b_realloc, b_free, &b};
    ProtobufCMessage *m = NULL;
    int rv = c->unmarshal(c, &google__protobuf__list_value__descriptor, bytes, len, NULL, &a, &m, NULL);
    if (rv == CONNECTC_OK) connectc_message_free(m, &a);
    assert_int_equal(b.live, 0);
  }
  connectc_free(NULL, bytes);
}

/* Re-marshals m and compares with `want`. */
static void expect_bytes(const ProtobufCMessage *m, const char *want, size_t n) {
  const connectc_codec *c = connectc_codec_proto();
  uint8_t *out = NULL;
  size_t len = 0;
  assert_int_equal(c->marshal(c, m, NULL, &out, &len, NULL), CONNECTC_OK);
  assert_int_equal(len, n);
  assert_memory_equal(out, want, n);
  connectc_free(NULL, out);
}

static void test_unknown_fields(void **state) {
  (void)state;
  const connectc_codec *c = connectc_codec_proto();
  /* Value{struct_value{fields{key "k", value{number 1 (fixed64)}}}} with
   * unknown fields at the top (field 15 varint, field 14 bytes), in the
   * Struct (field 9 fixed32), in the map entry (field 7 bytes) and in
   * the inner Value (field 99 varint, a 2-byte tag). */
  static const uint8_t in[] = {
      0x78, 0x05,                         /* Value: 15 = 5 (unknown) */
      0x2a, 0x1c,                         /* Value.struct_value, 28 bytes */
      0x4d, 1, 2, 3, 4,                   /*   Struct: 9 = fixed32 (unknown) */
      0x0a, 0x15,                         /*   Struct.fields, 21 bytes */
      0x0a, 0x01, 'k',                    /*     entry.key "k" */
      0x3a, 0x02, 'x', 'y',               /*     entry: 7 = "xy" (unknown) */
      0x12, 0x0c,                         /*     entry.value, 12 bytes */
      0x98, 0x06, 0x01,                   /*       Value: 99 = 1 (unknown) */
      0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, /*       number_value 1.0 */
      0x72, 0x00,                         /* Value: 14 = "" (unknown) */
  };
  size_t n = 99;
  assert_int_equal(connectc_proto_count_unknown(&google__protobuf__value__descriptor, in, sizeof in,
                                                0, &n, NULL),
                   CONNECTC_OK);
  assert_int_equal(n, 5);
  /* Kept by default (each as its own allocation, and re-marshaled)... */
  ProtobufCMessage *m = NULL;
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, in, sizeof in, NULL, NULL,
                                &m, NULL),
                   CONNECTC_OK);
  assert_int_equal(m->n_unknown_fields, 2);
  connectc_message_free(m, NULL);
  /* ...dropped at every depth when asked: the length prefixes keep their
   * width, padded, and the message is the same without them. */
  connectc_codec_options drop = {.discard_unknown_fields = 1};
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, in, sizeof in, &drop, NULL,
                                &m, NULL),
                   CONNECTC_OK);
  Google__Protobuf__Value *v = (Google__Protobuf__Value *)m;
  assert_int_equal(m->n_unknown_fields, 0);
  assert_int_equal(v->kind_case, GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE);
  assert_int_equal(v->struct_value->base.n_unknown_fields, 0);
  assert_int_equal(v->struct_value->n_fields, 1);
  assert_string_equal(v->struct_value->fields[0]->key, "k");
  assert_int_equal(v->struct_value->fields[0]->base.n_unknown_fields, 0);
  assert_int_equal(v->struct_value->fields[0]->value->base.n_unknown_fields, 0);
  assert_true(v->struct_value->fields[0]->value->number_value == 1.0);
  expect_bytes(m, "\x2a\x10\x0a\x0e\x0a\x01k\x12\x09\x11\0\0\0\0\0\0\xf0\x3f", 18);
  connectc_message_free(m, NULL);
  /* 1 MiB of one-byte unknown fields decodes to almost nothing. */
  size_t big = 1 << 20;
  uint8_t *junk = malloc(big);
  junk[0] = 0x1a; /* string_value "ab" */
  junk[1] = 2;
  junk[2] = 'a';
  junk[3] = 'b';
  for (size_t i = 4; i < big; i += 2) {
    junk[i] = 0x78;
    junk[i + 1] = 0;
  }
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, junk, big, &drop, NULL, &m,
                                NULL),
                   CONNECTC_OK);
  expect_bytes(m, "\x1a\x02" "ab", 4);
  connectc_message_free(m, NULL);
  free(junk);
}

static void test_decoded_budget(void **state) {
  (void)state;
  const connectc_codec *c = connectc_codec_proto();
  /* Value{list_value{values: 1000 x empty Value}}: 2 bytes each on the
   * wire, a message each once decoded. */
  uint8_t buf[2 + 3 + 2000];
  size_t n = 0;
  buf[n++] = 0x32; /* list_value */
  n += put_varint(buf + n, 2000 + 0);
  size_t list_at = n;
  for (int i = 0; i < 1000; i++) {
    buf[n++] = 0x0a;
    buf[n++] = 0x00;
  }
  (void)list_at;
  ProtobufCMessage *m = NULL;
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, buf, n, NULL, NULL, &m,
                                NULL),
                   CONNECTC_OK);
  connectc_message_free(m, NULL);
  connectc_codec_options tight = {.max_decoded_bytes = 8192};
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(c->unmarshal(c, &google__protobuf__value__descriptor, buf, n, &tight, NULL, &m,
                                &e),
                   CONNECTC_ERR_LIMIT);
  assert_int_equal(e.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  char want[256];
  snprintf(want, sizeof want,
           "unmarshal into google.protobuf.Value: decoding %zu bytes needs more than 8192 bytes "
           "of memory (connectc_codec_options.max_decoded_bytes)",
           n);
  assert_string_equal(e.message, want);
  connectc_error_reset(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_depth_bound),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_unknown_fields),
      cmocka_unit_test(test_decoded_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
