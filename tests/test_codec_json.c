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

typedef struct fixture {
  connectc_type_registry *reg;
  connectc_codec *codec;
} fixture;

static int setup(void **state) {
  static fixture f;
  f.reg = connectc_type_registry_new(NULL);
  assert_int_equal(json_test__register_types(f.reg), CONNECTC_OK);
  f.codec = connectc_codec_json_new(f.reg, NULL);
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
  connectc_codec_options strict = {0, 1};
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
  /* Depth: a chain of children deeper than the bound. */
  char deep[4096] = "";
  for (int i = 0; i < 60; i++) strcat(deep, "{\"child\":");
  strcat(deep, "{}");
  for (int i = 0; i < 60; i++) strcat(deep, "}");
  connectc_codec_options shallow = {50, 0};
  parse_bad(f->codec, &connectc__jsontest__v1__node__descriptor, deep, &shallow,
            "connectc.jsontest.v1.Node: message nesting exceeds the maximum depth of 50");
}

static void test_unregistered(void **state) {
  fixture *f = *state;
  connectc_type_registry *empty = connectc_type_registry_new(NULL);
  connectc_codec *c = connectc_codec_json_new(empty, NULL);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars),      cmocka_unit_test(test_lenient_input),
      cmocka_unit_test(test_collections),  cmocka_unit_test(test_rejections),
      cmocka_unit_test(test_unregistered),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
