/* The protobuf JSON codec (first part: everything but the special forms
 * of the well-known types), with exact JSON both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/json_codec.h"
#include "json_test.connect.h"
#include "json_test.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"

typedef struct fixture {
  connectc_type_registry *reg;
  connectc_codec *codec;
} fixture;

static int setup(void **state) {
  static fixture f;
  (void)connectc_type_registry_new(NULL, &f.reg);
  assert_int_equal(json_test__register_types(f.reg), CONNECTC_OK);
  (void)connectc_codec_json_new(f.reg, NULL, &f.codec);
  assert_non_null(f.codec);
  assert_string_equal(f.codec->name, "json");
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  connectc_codec_json_del(f->codec);
  connectc_type_registry_del(f->reg);
  return 0;
}

static void expect_json(const connectc_codec *c, const ProtobufCMessage *m, const char *want) {
  uint8_t *out = NULL;
  size_t len = 0;
  connectc_error e;
  connectc_error_init(&e, NULL);
  int rv = c->marshal(c, m, NULL, &out, &len, &e);
  if (rv) fail_msg("marshal: %s", e.message);
  if (len != strlen(want) || memcmp(out, want, len) != 0)
    fail_msg("got  %.*s\nwant %s", (int)len, (const char *)out, want);
  connectc_free(NULL, out);
  connectc_error_reset(&e);
}

static ProtobufCMessage *parse_ok(const connectc_codec *c, const ProtobufCMessageDescriptor *d,
                                  const char *json) {
  ProtobufCMessage *m = NULL;
  connectc_error e;
  connectc_error_init(&e, NULL);
  if (c->unmarshal(c, d, (const uint8_t *)json, strlen(json), NULL, NULL, &m, &e) != CONNECTC_OK)
    fail_msg("unmarshal %s: %s", json, e.message);
  connectc_error_reset(&e);
  return m;
}

static void parse_bad(const connectc_codec *c, const ProtobufCMessageDescriptor *d, const char *json,
                      const connectc_codec_options *opts, const char *message) {
  ProtobufCMessage *m = NULL;
  connectc_error e;
  connectc_error_init(&e, NULL);
  if (c->unmarshal(c, d, (const uint8_t *)json, strlen(json), opts, NULL, &m, &e) == CONNECTC_OK)
    fail_msg("accepted %s", json);
  assert_null(m);
  assert_int_equal(e.code, CONNECTC_CODE_INVALID_ARGUMENT);
  if (strcmp(e.message, message) != 0) fail_msg("got  %s\nwant %s", e.message, message);
  connectc_error_reset(&e);
}

static void test_scalars(void **state) {
  fixture *f = *state;
  Connectc__Jsontest__V1__Scalars s = CONNECTC__JSONTEST__V1__SCALARS__INIT;
  expect_json(f->codec, &s.base, "{}");
  s.i32 = -5;
  s.i64 = INT64_MIN;
  s.u32 = UINT32_MAX;
  s.u64 = UINT64_MAX;
  s.s32 = -1;
  s.s64 = 9007199254740993LL;
  s.f32 = 7;
  s.f64 = 8;
  s.sf32 = -9;
  s.sf64 = -10;
  s.fl = 0.1f;
  s.db = 0.1;
  s.b = 1;
  s.str = "h\xc3\xa9\"llo\n";
  uint8_t bytes[] = {0xfb, 0xff, 0x00};
  s.by.data = bytes;
  s.by.len = 3;
  s.color = CONNECTC__JSONTEST__V1__COLOR__COLOR_BLUE;
  s.custom = "c";
  const char *want =
      "{\"i32\":-5,\"i64\":\"-9223372036854775808\",\"u32\":4294967295,"
      "\"u64\":\"18446744073709551615\",\"s32\":-1,\"s64\":\"9007199254740993\",\"f32\":7,"
      "\"f64\":\"8\",\"sf32\":-9,\"sf64\":\"-10\",\"fl\":0.1,\"db\":0.1,\"b\":true,"
      "\"str\":\"h\xc3\xa9\\\"llo\\n\",\"by\":\"+/8A\",\"color\":\"COLOR_BLUE\",\"renamed\":\"c\"}";
  expect_json(f->codec, &s.base, want);
  /* And back, exactly. */
  Connectc__Jsontest__V1__Scalars *back = (Connectc__Jsontest__V1__Scalars *)parse_ok(
      f->codec, &connectc__jsontest__v1__scalars__descriptor, want);
  assert_true(back->i64 == INT64_MIN);
  assert_true(back->u64 == UINT64_MAX);
  assert_true(back->s64 == 9007199254740993LL);
  assert_true(back->fl == 0.1f);
  assert_true(back->db == 0.1);
  assert_string_equal(back->str, s.str);
  assert_int_equal(back->by.len, 3);
  assert_memory_equal(back->by.data, bytes, 3);
  assert_string_equal(back->custom, "c");
  expect_json(f->codec, &back->base, want);
  connectc_message_free(&back->base, NULL);

  /* Special floats, unknown enum numbers. */
  Connectc__Jsontest__V1__Scalars n = CONNECTC__JSONTEST__V1__SCALARS__INIT;
  n.fl = (float)(1.0 / 0.0);
  n.db = -(1.0 / 0.0);
  n.color = (Connectc__Jsontest__V1__Color)7;
  expect_json(f->codec, &n.base, "{\"fl\":\"Infinity\",\"db\":\"-Infinity\",\"color\":7}");
  n.db = 0.0 / 0.0;
  n.fl = 1e-45f;
  n.color = 0;
  expect_json(f->codec, &n.base, "{\"fl\":1e-45,\"db\":\"NaN\"}");
}

static void test_lenient_input(void **state) {
  fixture *f = *state;
  /* Proto names, numbers as strings, 64-bit as numbers, exponents, enum
   * numbers, URL-safe unpadded base64, null for defaults. */
  Connectc__Jsontest__V1__Scalars *s = (Connectc__Jsontest__V1__Scalars *)parse_ok(
      f->codec, &connectc__jsontest__v1__scalars__descriptor,
      "{\"i32\":\"12\",\"i64\":1e3,\"u32\":4.0,\"custom\":\"proto name\",\"color\":2,"
      "\"by\":\"-_8A\",\"db\":\"NaN\",\"fl\":\"-Infinity\",\"str\":null,\"unknownField\":[1,{}]}");
  assert_int_equal(s->i32, 12);
  assert_true(s->i64 == 1000);
  assert_int_equal(s->u32, 4);
  assert_string_equal(s->custom, "proto name");
  assert_int_equal(s->color, CONNECTC__JSONTEST__V1__COLOR__COLOR_BLUE);
  assert_int_equal(s->by.len, 3);
  assert_memory_equal(s->by.data, "\xfb\xff\x00", 3);
  assert_true(s->db != s->db);
  assert_string_equal(s->str, "");
  connectc_message_free(&s->base, NULL);
  s = (Connectc__Jsontest__V1__Scalars *)parse_ok(f->codec, &connectc__jsontest__v1__scalars__descriptor,
                                                    "{\"renamed\":\"json name\",\"color\":\"COLOR_RED\"}");
  assert_string_equal(s->custom, "json name");
  assert_int_equal(s->color, CONNECTC__JSONTEST__V1__COLOR__COLOR_RED);
  connectc_message_free(&s->base, NULL);
}

static void test_collections(void **state) {
  fixture *f = *state;
  const char *json =
      "{\"numbers\":[1,-2,3],\"words\":[\"a\",\"\"],\"colors\":[\"COLOR_RED\",2],"
      "\"counts\":{\"x\":1,\"y\":2},\"nodes\":{\"-7\":{\"name\":\"n\"}},\"flags\":{\"true\":\"t\","
      "\"false\":\"f\"},\"node\":{\"name\":\"in oneof\",\"child\":{\"name\":\"deep\"}},\"maybe\":0,"
      "\"tree\":{\"children\":[{\"name\":\"c1\"},{}]},\"blobs\":[\"AA==\",\"\"]}";
  Connectc__Jsontest__V1__Everything *m = (Connectc__Jsontest__V1__Everything *)parse_ok(
      f->codec, &connectc__jsontest__v1__everything__descriptor, json);
  assert_int_equal(m->n_numbers, 3);
  assert_int_equal(m->numbers[1], -2);
  assert_int_equal(m->n_words, 2);
  assert_int_equal(m->n_colors, 2);
  assert_int_equal(m->colors[1], CONNECTC__JSONTEST__V1__COLOR__COLOR_BLUE);
  assert_int_equal(m->n_counts, 2);
  assert_string_equal(m->counts[1]->key, "y");
  assert_int_equal(m->counts[1]->value, 2);
  assert_int_equal(m->n_nodes, 1);
  assert_true(m->nodes[0]->key == -7);
  assert_string_equal(m->nodes[0]->value->name, "n");
  assert_int_equal(m->n_flags, 2);
  assert_int_equal(m->flags[0]->key, 1);
  assert_int_equal(m->choice_case, CONNECTC__JSONTEST__V1__EVERYTHING__CHOICE_NODE);
  assert_string_equal(m->node->child->name, "deep");
  /* proto3 optional: present even though it holds the default. */
  assert_int_equal(m->_maybe_case, CONNECTC__JSONTEST__V1__EVERYTHING___MAYBE_MAYBE);
  assert_int_equal(m->tree->n_children, 2);
  expect_json(f->codec, &m->base,
              "{\"numbers\":[1,-2,3],\"words\":[\"a\",\"\"],\"colors\":[\"COLOR_RED\",\"COLOR_BLUE\"],"
              "\"counts\":{\"x\":1,\"y\":2},\"nodes\":{\"-7\":{\"name\":\"n\"}},\"flags\":{\"true\":\"t\","
              "\"false\":\"f\"},\"node\":{\"name\":\"in oneof\",\"child\":{\"name\":\"deep\"}},"
              "\"maybe\":0,\"tree\":{\"children\":[{\"name\":\"c1\"},{}]},\"blobs\":[\"AA==\",\"\"]}");
  connectc_message_free(&m->base, NULL);
  /* A oneof member holding its default is still written. */
  m = (Connectc__Jsontest__V1__Everything *)parse_ok(f->codec, &connectc__jsontest__v1__everything__descriptor,
                                                      "{\"big\":\"0\"}");
  expect_json(f->codec, &m->base, "{\"big\":\"0\"}");
  connectc_message_free(&m->base, NULL);
}

static void test_null_value_and_wkt_fields(void **state) {
  fixture *f = *state;
  const char *j = "{\"nullChoice\":null,\"dyn\":null,\"when\":\"1970-01-01T00:00:01Z\",\"dyns\":[null,1]}";
  Connectc__Jsontest__V1__Everything *m = (Connectc__Jsontest__V1__Everything *)parse_ok(
      f->codec, &connectc__jsontest__v1__everything__descriptor, j);
  assert_int_equal(m->maybe_null_case, CONNECTC__JSONTEST__V1__EVERYTHING__MAYBE_NULL_NULL_CHOICE);
  assert_non_null(m->dyn);
  assert_int_equal(m->dyn->kind_case, GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE);
  assert_true(m->when->seconds == 1);
  assert_int_equal(m->n_dyns, 2);
  expect_json(f->codec, &m->base, j);
  connectc_message_free(&m->base, NULL);
  /* NullValue accepts null, its name and 0; any other number could not be
   * written back (regression: found by fuzz_codec_json's round trip). */
  parse_bad(f->codec, &connectc__jsontest__v1__everything__descriptor, "{\"nothing\":1}", NULL,
            "connectc.jsontest.v1.Everything.nothing: expected null, got number");
  m = (Connectc__Jsontest__V1__Everything *)parse_ok(f->codec, &connectc__jsontest__v1__everything__descriptor,
                                                      "{\"nothing\":\"NULL_VALUE\",\"nullChoice\":0}");
  expect_json(f->codec, &m->base, "{\"nullChoice\":null}");
  connectc_message_free(&m->base, NULL);
  /* A singular NullValue field holds its default: omitted. */
  m = (Connectc__Jsontest__V1__Everything *)parse_ok(f->codec, &connectc__jsontest__v1__everything__descriptor,
                                                      "{\"nothing\":null}");
  expect_json(f->codec, &m->base, "{}");
  connectc_message_free(&m->base, NULL);
}

static void test_rejections(void **state) {
  fixture *f = *state;
  const ProtobufCMessageDescriptor *sd = &connectc__jsontest__v1__scalars__descriptor;
  const ProtobufCMessageDescriptor *ed = &connectc__jsontest__v1__everything__descriptor;
  parse_bad(f->codec, sd, "{\"str\":5}", NULL,
            "connectc.jsontest.v1.Scalars.str: expected string, got number");
  parse_bad(f->codec, sd, "{\"i32\":2147483648}", NULL,
            "connectc.jsontest.v1.Scalars.i32: value out of range for a 32-bit integer");
  parse_bad(f->codec, sd, "{\"i32\":1.5}", NULL,
            "connectc.jsontest.v1.Scalars.i32: not an integer in range: 1.5");
  parse_bad(f->codec, sd, "{\"u64\":-1}", NULL,
            "connectc.jsontest.v1.Scalars.u64: not an integer in range: -1");
  parse_bad(f->codec, sd, "{\"b\":\"true\"}", NULL,
            "connectc.jsontest.v1.Scalars.b: expected boolean, got string");
  parse_bad(f->codec, sd, "{\"color\":\"PURPLE\"}", NULL,
            "connectc.jsontest.v1.Scalars.color: unknown enum value \"PURPLE\"");
  parse_bad(f->codec, sd, "{\"by\":\"***\"}", NULL, "connectc.jsontest.v1.Scalars.by: invalid base64");
  parse_bad(f->codec, sd, "{\"fl\":1e39}", NULL, "connectc.jsontest.v1.Scalars.fl: value out of range for a float");
  parse_bad(f->codec, sd, "[]", NULL, "connectc.jsontest.v1.Scalars: expected object, got array");
  parse_bad(f->codec, sd, "{\"i32\":1,}", NULL,
            "unmarshal into connectc.jsontest.v1.Scalars: invalid JSON at byte 9: a string key");
  connectc_codec_options strict = {.max_depth = 0, .reject_unknown_fields = 1};
  parse_bad(f->codec, sd, "{\"nope\":1}", &strict, "connectc.jsontest.v1.Scalars: unknown field \"nope\"");
  parse_bad(f->codec, ed, "{\"text\":\"a\",\"big\":1}", NULL,
            "connectc.jsontest.v1.Everything.big: more than one field of a oneof is set");
  parse_bad(f->codec, ed, "{\"numbers\":[1,null]}", NULL,
            "connectc.jsontest.v1.Everything.numbers: repeated values must not be null");
  parse_bad(f->codec, ed, "{\"counts\":{\"a\":null}}", NULL,
            "connectc.jsontest.v1.Everything.counts: map values must not be null");
  parse_bad(f->codec, ed, "{\"nodes\":{\"x\":{}}}", NULL,
            "connectc.jsontest.v1.Everything.NodesEntry.key: not an integer in range: x");
  parse_bad(f->codec, ed, "{\"numbers\":{}}", NULL,
            "connectc.jsontest.v1.Everything.numbers: expected array, got object");
  /* A field given twice, under one name or both: refused, as protobuf's
   * JSON mapping does (the last one does not silently win). */
  parse_bad(f->codec, sd, "{\"str\":\"a\",\"str\":\"b\"}", NULL,
            "connectc.jsontest.v1.Scalars.str: the field is given twice in one object");
  parse_bad(f->codec, sd, "{\"renamed\":\"a\",\"custom\":\"b\"}", NULL,
            "connectc.jsontest.v1.Scalars.custom: the field is given twice in one object");
  parse_bad(f->codec, sd, "{\"i32\":null,\"i32\":1}", NULL,
            "connectc.jsontest.v1.Scalars.i32: the field is given twice in one object");
  parse_bad(f->codec, &connectc__jsontest__v1__node__descriptor,
            "{\"child\":{\"name\":\"a\",\"name\":\"b\"}}", NULL,
            "connectc.jsontest.v1.Node.name: the field is given twice in one object");
  /* What decoding allocates is bounded. */
  connectc_codec_options tight = {.max_decoded_bytes = 2048};
  char many[8192] = "{\"children\":[";
  for (int i = 0; i < 500; i++) strcat(many, i ? ",{}" : "{}");
  strcat(many, "]}");
  char want[256];
  snprintf(want, sizeof want,
           "unmarshal into connectc.jsontest.v1.Node: decoding %zu bytes of JSON needs more than "
           "2048 bytes of memory (connectc_codec_options.max_decoded_bytes)",
           strlen(many));
  ProtobufCMessage *m = NULL;
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(f->codec->unmarshal(f->codec, &connectc__jsontest__v1__node__descriptor,
                                       (const uint8_t *)many, strlen(many), &tight, NULL, &m, &e),
                   CONNECTC_ERR_LIMIT);
  assert_null(m);
  assert_int_equal(e.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(e.message, want);
  connectc_error_reset(&e);
  /* Depth: a chain of children deeper than the bound. */
  char deep[4096] = "";
  for (int i = 0; i < 60; i++) strcat(deep, "{\"child\":");
  strcat(deep, "{}");
  for (int i = 0; i < 60; i++) strcat(deep, "}");
  connectc_codec_options shallow = {.max_depth = 50, .reject_unknown_fields = 0};
  parse_bad(f->codec, &connectc__jsontest__v1__node__descriptor, deep, &shallow,
            "connectc.jsontest.v1.Node: message nesting exceeds the maximum depth of 50");
}

static void test_unregistered(void **state) {
  fixture *f = *state;
  connectc_type_registry *empty = NULL;
  (void)connectc_type_registry_new(NULL, &empty);
  connectc_codec *c = NULL;
  (void)connectc_codec_json_new(empty, NULL, &c);
  Connectc__Jsontest__V1__Node n = CONNECTC__JSONTEST__V1__NODE__INIT;
  uint8_t *out;
  size_t len;
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_not_equal(c->marshal(c, &n.base, NULL, &out, &len, &e), CONNECTC_OK);
  assert_string_equal(e.message,
                      "connectc.jsontest.v1.Node: type is not registered with the JSON codec (call "
                      "the generated <file>__register_types)");
  connectc_error_reset(&e);
  connectc_codec_json_del(c);
  connectc_type_registry_del(empty);
  (void)f;
}


/* Parses `in`, expects it to re-encode as `out`. */
static void round_trip(const connectc_codec *c, const ProtobufCMessageDescriptor *d, const char *in,
                       const char *out) {
  ProtobufCMessage *m = parse_ok(c, d, in);
  expect_json(c, m, out);
  connectc_message_free(m, NULL);
}

static void test_wkt_time(void **state) {
  fixture *f = *state;
  const ProtobufCMessageDescriptor *ts = &google__protobuf__timestamp__descriptor;
  const ProtobufCMessageDescriptor *du = &google__protobuf__duration__descriptor;
  round_trip(f->codec, ts, "\"1970-01-01T00:00:00Z\"", "\"1970-01-01T00:00:00Z\"");
  round_trip(f->codec, ts, "\"2024-02-29T23:59:59.5+01:00\"", "\"2024-02-29T22:59:59.500Z\"");
  round_trip(f->codec, ts, "\"0001-01-01T00:00:00.000000001Z\"", "\"0001-01-01T00:00:00.000000001Z\"");
  round_trip(f->codec, ts, "\"9999-12-31T23:59:59.123456Z\"", "\"9999-12-31T23:59:59.123456Z\"");
  round_trip(f->codec, ts, "\"1969-12-31T23:59:59-00:30\"", "\"1970-01-01T00:29:59Z\"");
  Google__Protobuf__Timestamp *t = (Google__Protobuf__Timestamp *)parse_ok(f->codec, ts, "\"1969-12-31T23:59:58.25Z\"");
  assert_true(t->seconds == -2);
  assert_int_equal(t->nanos, 250000000);
  connectc_message_free(&t->base, NULL);
  parse_bad(f->codec, ts, "\"2023-02-29T00:00:00Z\"", NULL,
            "google.protobuf.Timestamp: invalid RFC 3339 timestamp: 2023-02-29T00:00:00Z");
  parse_bad(f->codec, ts, "\"2023-01-01 00:00:00Z\"", NULL,
            "google.protobuf.Timestamp: invalid RFC 3339 timestamp: 2023-01-01 00:00:00Z");
  parse_bad(f->codec, ts, "\"0000-12-31T23:59:59Z\"", NULL,
            "google.protobuf.Timestamp: invalid RFC 3339 timestamp: 0000-12-31T23:59:59Z");
  parse_bad(f->codec, ts, "1", NULL, "google.protobuf.Timestamp: expected an RFC 3339 string, got: 1");
  round_trip(f->codec, du, "\"1.5s\"", "\"1.500s\"");
  round_trip(f->codec, du, "\"-0.000000001s\"", "\"-0.000000001s\"");
  round_trip(f->codec, du, "\"315576000000s\"", "\"315576000000s\"");
  round_trip(f->codec, du, "\"0s\"", "\"0s\"");
  parse_bad(f->codec, du, "\"315576000001s\"", NULL, "google.protobuf.Duration: duration out of range: 315576000001s");
  parse_bad(f->codec, du, "\"1.5\"", NULL, "google.protobuf.Duration: invalid duration (expected e.g. \"1.5s\"): 1.5");
  Google__Protobuf__Duration bad = GOOGLE__PROTOBUF__DURATION__INIT;
  bad.seconds = 1;
  bad.nanos = -1;
  uint8_t *out;
  size_t len;
  assert_int_not_equal(f->codec->marshal(f->codec, &bad.base, NULL, &out, &len, NULL), CONNECTC_OK);
}

static void test_wkt_struct_and_wrappers(void **state) {
  fixture *f = *state;
  round_trip(f->codec, &google__protobuf__value__descriptor,
             "{\"a\":[1,\"two\",true,null,{\"b\":{}}],\"c\":-1.5e2}",
             "{\"a\":[1,\"two\",true,null,{\"b\":{}}],\"c\":-150}");
  round_trip(f->codec, &google__protobuf__value__descriptor, "null", "null");
  round_trip(f->codec, &google__protobuf__list_value__descriptor, "[[],[[]]]", "[[],[[]]]");
  round_trip(f->codec, &google__protobuf__struct__descriptor, "{}", "{}");
  round_trip(f->codec, &google__protobuf__int64_value__descriptor, "12", "\"12\"");
  round_trip(f->codec, &google__protobuf__uint32_value__descriptor, "\"0\"", "0");
  round_trip(f->codec, &google__protobuf__bool_value__descriptor, "false", "false");
  round_trip(f->codec, &google__protobuf__string_value__descriptor, "\"\"", "\"\"");
  round_trip(f->codec, &google__protobuf__bytes_value__descriptor, "\"AQI\"", "\"AQI=\"");
  round_trip(f->codec, &google__protobuf__double_value__descriptor, "\"-Infinity\"", "\"-Infinity\"");
  round_trip(f->codec, &google__protobuf__field_mask__descriptor, "\"fooBar,baz,a.bC\"", "\"fooBar,baz,a.bC\"");
  Google__Protobuf__FieldMask *fm = (Google__Protobuf__FieldMask *)parse_ok(
      f->codec, &google__protobuf__field_mask__descriptor, "\"fooBar,x.yZ\"");
  assert_int_equal(fm->n_paths, 2);
  assert_string_equal(fm->paths[0], "foo_bar");
  assert_string_equal(fm->paths[1], "x.y_z");
  connectc_message_free(&fm->base, NULL);
  round_trip(f->codec, &google__protobuf__field_mask__descriptor, "\"\"", "\"\"");
  /* A Value nested deeper than the bound. */
  char deep[512] = "";
  for (int i = 0; i < 40; i++) strcat(deep, "[");
  for (int i = 0; i < 40; i++) strcat(deep, "]");
  connectc_codec_options shallow = {.max_depth = 10, .reject_unknown_fields = 0};
  ProtobufCMessage *m = NULL;
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(f->codec->unmarshal(f->codec, &google__protobuf__value__descriptor, (const uint8_t *)deep,
                                       strlen(deep), &shallow, NULL, &m, &e),
                   CONNECTC_ERR_PROTOCOL);
  connectc_error_reset(&e);
}

static void test_wkt_any(void **state) {
  fixture *f = *state;
  const ProtobufCMessageDescriptor *any = &google__protobuf__any__descriptor;
  round_trip(f->codec, any,
             "{\"@type\":\"type.googleapis.com/connectc.jsontest.v1.Node\",\"name\":\"n\",\"child\":{}}",
             "{\"@type\":\"type.googleapis.com/connectc.jsontest.v1.Node\",\"name\":\"n\",\"child\":{}}");
  round_trip(f->codec, any, "{\"@type\":\"type.googleapis.com/connectc.jsontest.v1.Node\"}",
             "{\"@type\":\"type.googleapis.com/connectc.jsontest.v1.Node\"}");
  round_trip(f->codec, any,
             "{\"value\":\"1.5s\",\"@type\":\"type.googleapis.com/google.protobuf.Duration\"}",
             "{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"value\":\"1.500s\"}");
  round_trip(f->codec, any, "{}", "{}");
  Google__Protobuf__Any *a = (Google__Protobuf__Any *)parse_ok(
      f->codec, any, "{\"@type\":\"type.googleapis.com/connectc.jsontest.v1.Node\",\"name\":\"n\"}");
  assert_string_equal(a->type_url, "type.googleapis.com/connectc.jsontest.v1.Node");
  assert_int_equal(a->value.len, 3);
  assert_memory_equal(a->value.data, "\x0a\x01n", 3);
  connectc_message_free(&a->base, NULL);
  parse_bad(f->codec, any, "{\"@type\":\"type.googleapis.com/no.Such\"}", NULL,
            "google.protobuf.Any: unknown message type in @type \"type.googleapis.com/no.Such\"");
  parse_bad(f->codec, any, "{\"name\":\"x\"}", NULL, "google.protobuf.Any: missing \"@type\": ");
  connectc_codec_options strict = {.max_depth = 0, .reject_unknown_fields = 1};
  ProtobufCMessage *m = NULL;
  const char *j = "{\"@type\":\"type.googleapis.com/connectc.jsontest.v1.Node\",\"name\":\"n\"}";
  assert_int_equal(f->codec->unmarshal(f->codec, any, (const uint8_t *)j, strlen(j), &strict, NULL, &m, NULL),
                   CONNECTC_OK);
  connectc_message_free(m, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),      cmocka_unit_test(test_lenient_input),
      cmocka_unit_test(test_collections),  cmocka_unit_test(test_null_value_and_wkt_fields),
      cmocka_unit_test(test_rejections),
      cmocka_unit_test(test_unregistered), cmocka_unit_test(test_wkt_time),
      cmocka_unit_test(test_wkt_struct_and_wrappers), cmocka_unit_test(test_wkt_any),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
