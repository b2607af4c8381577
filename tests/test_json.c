/* The strict JSON reader: what it accepts, what it refuses (everything jsmn
 * lets through), its limits, strings, numbers, and the string writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static const cc_json_limits limits = {64, 0};

static int parse(const char *s, cc_json_doc *doc, connectc_error *e) {
  return cc_json_parse(s, strlen(s), &limits, NULL, doc, e);
}

/* cc_utf8_valid's verdict does not depend on where a sequence sits: each
 * valid and invalid sequence at every offset of ASCII text (inside and
 * across the sixteen-byte ASCII steps), with ASCII of every length after. */
static void test_utf8_valid_any_offset(void **state) {
  (void)state;
  static const struct {
    const char *bytes;
    int valid;
  } seqs[] = {
      {"\xc3\xa9", 1},          {"\xe2\x82\xac", 1},      {"\xf0\x9d\x84\x9e", 1},
      {"\xf4\x8f\xbf\xbf", 1},  {"\xc3", 0},              {"\xc0\xaf", 0},
      {"\xed\xa0\x80", 0},      {"\xff", 0},              {"\xf4\x90\x80\x80", 0},
      {"\xe2\x82", 0},          {"\x80", 0},              {"\xe0\x80\xaf", 0},
  };
  uint8_t buf[96];
  for (size_t n = 0; n < 70; n++) {
    memset(buf, 'a', n);
    assert_int_equal(cc_utf8_valid(buf, n), 1);
  }
  for (size_t k = 0; k < sizeof seqs / sizeof seqs[0]; k++) {
    size_t len = strlen(seqs[k].bytes);
    for (size_t at = 0; at < 40; at++)
      for (size_t after = 0; after < 40; after++) {
        memset(buf, 'a', sizeof buf);
        memcpy(buf + at, seqs[k].bytes, len);
        /* ASCII after a truncated sequence does not complete it. */
        if (cc_utf8_valid(buf, at + len + after) != seqs[k].valid) {
          fprintf(stderr, "sequence %zu at %zu with %zu after\n", k, at, after);
          fail();
        }
      }
  }
}

static void test_accepts(void **state) {
  (void)state;
  const char *ok[] = {"{}", "[]", "0", "-0", "1.5e-3", "-12E+2", "\"\"", "true", "false", "null",
                      " \t\r\n[ 1 , { \"a\" : [ ] } , \"x\" ] \n", "\"\\u00e9\\ud83d\\ude00\\n\"",
                      "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "{\"a\":1,\"a\":2}", NULL};
  for (size_t i = 0; ok[i]; i++) {
    cc_json_doc doc;
    connectc_error e;
    connectc_error_init(&e, NULL);
    if (parse(ok[i], &doc, &e) != CONNECTC_OK) fail_msg("refused %s: %s", ok[i], e.message);
    cc_json_doc_free(&doc, NULL);
    connectc_error_reset(&e);
  }
}

static void test_refuses_what_jsmn_accepts(void **state) {
  (void)state;
  const char *bad[] = {"01", "tru", "nul", "1.2.3", "-", "[1,2,]", "{\"a\":1,}", "[1 2]",
                       "{\"a\":1}{\"b\":2}", "\"\t\"", "\"\xff\"", "\"\xc0\xaf\"",
                       "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\\ud800\"", "\"\\udc00x\"",
                       "\"\\x\"", "\"\\u12g4\"", "1.", ".5", "1e", "+1", "{\"a\" 1}", "{1:2}",
                       "[", "{", "\"abc", "", "  ", "truex", "nan", "[1]]", "{\"a\":}", NULL};
  for (size_t i = 0; bad[i]; i++) {
    cc_json_doc doc;
    connectc_error e;
    connectc_error_init(&e, NULL);
    int rv = parse(bad[i], &doc, &e);
    if (rv != CONNECTC_ERR_PROTOCOL) fail_msg("accepted %s", bad[i]);
    assert_int_equal(e.code, CONNECTC_CODE_INVALID_ARGUMENT);
    connectc_error_reset(&e);
  }
}

static void test_messages(void **state) {
  (void)state;
  cc_json_doc doc;
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(parse("[1,2,]", &doc, &e), CONNECTC_ERR_PROTOCOL);
  assert_string_equal(e.message, "invalid JSON at byte 5: a value");
  assert_int_equal(parse("{\"a\":1 \"b\"}", &doc, &e), CONNECTC_ERR_PROTOCOL);
  assert_string_equal(e.message, "invalid JSON at byte 7: ',' or '}'");
  assert_int_equal(parse("[1", &doc, &e), CONNECTC_ERR_PROTOCOL);
  assert_string_equal(e.message, "invalid JSON: unexpected end of input, expected ',' or ']'");
  assert_int_equal(parse("1 2", &doc, &e), CONNECTC_ERR_PROTOCOL);
  assert_string_equal(e.message, "invalid JSON at byte 2: end of input after the top-level value");
  connectc_error_reset(&e);
}

static void test_depth_and_size(void **state) {
  (void)state;
  size_t n = 60 * 1024;
  char *deep = malloc(n + 1);
  memset(deep, '[', n);
  deep[n] = 0;
  cc_json_doc doc;
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(parse(deep, &doc, &e), CONNECTC_ERR_LIMIT);
  assert_string_equal(e.message, "JSON nesting exceeds the maximum depth of 64");
  free(deep);
  /* Exactly at the limit is fine. */
  char at[200];
  memset(at, '[', 64);
  memset(at + 64, ']', 64);
  at[128] = 0;
  assert_int_equal(parse(at, &doc, &e), CONNECTC_OK);
  cc_json_doc_free(&doc, NULL);
  /* A 3 MB array of small objects parses (linear: no per-token rescans). */
  size_t count = 3 * 1024 * 1024 / 10;
  char *big = malloc(count * 10 + 3);
  size_t len = 0;
  big[len++] = '[';
  for (size_t i = 0; i < count; i++) {
    memcpy(big + len, "{\"a\":[1]},", 10);
    len += 10;
  }
  big[len - 1] = ']';
  if (cc_json_parse(big, len, &limits, NULL, &doc, &e) != CONNECTC_OK) fail_msg("%s", e.message);
  assert_int_equal(doc.tokens[0].size, count);
  assert_int_equal(doc.n_tokens, 1 + count * 4);
  /* Siblings by `next`. */
  size_t i = 1, seen = 0;
  while (i < doc.n_tokens) {
    assert_int_equal(doc.tokens[i].type, CC_JSON_OBJECT);
    i = doc.tokens[i].next;
    seen++;
  }
  assert_int_equal(seen, count);
  cc_json_doc_free(&doc, NULL);
  free(big);
  /* The token limit. */
  cc_json_limits few = {8, 3};
  assert_int_equal(cc_json_parse("[1,2,3]", 7, &few, NULL, &doc, &e), CONNECTC_ERR_LIMIT);
  assert_string_equal(e.message, "JSON document has more than 3 values");
  connectc_error_reset(&e);
}

static void test_strings_and_lookup(void **state) {
  (void)state;
  const char *s = "{\"plain\":\"abc\",\"esc\\u0061ped\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\","
                  "\"obj\":{\"x\":[1,{\"y\":2}]},\"last\":null}";
  cc_json_doc doc;
  assert_int_equal(parse(s, &doc, NULL), CONNECTC_OK);
  assert_int_equal(doc.tokens[0].size, 4);
  long v = cc_json_object_get(&doc, 0, "plain");
  assert_true(v > 0);
  assert_true(cc_json_string_eq(&doc, (size_t)v, "abc", 3));
  assert_false(cc_json_string_eq(&doc, (size_t)v, "ab", 2));
  v = cc_json_object_get(&doc, 0, "escaped");
  assert_true(v > 0);
  cc_buf b = CC_BUF_INIT;
  const connectc_allocator *a = connectc_default_allocator();
  assert_int_equal(cc_json_string_append(&doc, (size_t)v, &b, a), CONNECTC_OK);
  const char *want = "\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  assert_true(cc_json_string_eq(&doc, (size_t)v, want, strlen(want)));
  cc_buf_free(&b, a);
  long last = cc_json_object_get(&doc, 0, "last");
  assert_true(last > 0);
  assert_int_equal(doc.tokens[last].type, CC_JSON_NULL);
  assert_int_equal(cc_json_object_get(&doc, 0, "missing"), -1);
  long obj = cc_json_object_get(&doc, 0, "obj");
  assert_int_equal(cc_json_object_get(&doc, (size_t)obj, "x") , obj + 2);
  cc_json_doc_free(&doc, NULL);
}

static void test_numbers(void **state) {
  (void)state;
  struct {
    const char *text;
    int i_ok;
    int64_t i;
    int u_ok;
    uint64_t u;
  } cases[] = {
      {"0", 1, 0, 1, 0},
      {"-0", 1, 0, 1, 0},
      {"1e3", 1, 1000, 1, 1000},
      {"1.0", 1, 1, 1, 1},
      {"12.50e1", 1, 125, 1, 125},
      {"1.5", 0, 0, 0, 0},
      {"-1", 1, -1, 0, 0},
      {"9223372036854775807", 1, INT64_MAX, 1, 9223372036854775807ULL},
      {"9223372036854775808", 0, 0, 1, 9223372036854775808ULL},
      {"-9223372036854775808", 1, INT64_MIN, 0, 0},
      {"-9223372036854775809", 0, 0, 0, 0},
      {"18446744073709551615", 0, 0, 1, UINT64_MAX},
      {"18446744073709551616", 0, 0, 0, 0},
      {"1e400", 0, 0, 0, 0},
      {"0e400", 1, 0, 1, 0},
      {"100e-2", 1, 1, 1, 1},
      {"101e-2", 0, 0, 0, 0},
      {"1e", 0, 0, 0, 0},
      {"01", 0, 0, 0, 0},
      {" 1", 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t iv = 0;
    uint64_t uv = 0;
    const char *t = cases[i].text;
    int ri = cc_json_text_i64(t, strlen(t), &iv);
    int ru = cc_json_text_u64(t, strlen(t), &uv);
    if ((ri == CONNECTC_OK) != cases[i].i_ok) fail_msg("i64 %s", t);
    if ((ru == CONNECTC_OK) != cases[i].u_ok) fail_msg("u64 %s", t);
    if (cases[i].i_ok) assert_true(iv == cases[i].i);
    if (cases[i].u_ok) assert_true(uv == cases[i].u);
  }
  double d;
  assert_int_equal(cc_json_text_double("1.5e-3", 6, &d), CONNECTC_OK);
  assert_true(d == 1.5e-3);
  assert_int_equal(cc_json_text_double("-0.1", 4, &d), CONNECTC_OK);
  assert_true(d == -0.1);
  assert_int_equal(cc_json_text_double("1.7976931348623157e308", 22, &d), CONNECTC_OK);
  assert_true(d == 1.7976931348623157e308);
  assert_int_equal(cc_json_text_double("1.5.", 4, &d), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(cc_json_text_double("Infinity", 8, &d), CONNECTC_ERR_PROTOCOL);
  cc_json_doc doc;
  assert_int_equal(parse("[42,\"x\"]", &doc, NULL), CONNECTC_OK);
  int64_t iv;
  assert_int_equal(cc_json_number_i64(&doc, 1, &iv), CONNECTC_OK);
  assert_int_equal(iv, 42);
  assert_int_equal(cc_json_number_i64(&doc, 2, &iv), CONNECTC_ERR_PROTOCOL);
  cc_json_doc_free(&doc, NULL);
}

static void test_write_string(void **state) {
  (void)state;
  const connectc_allocator *a = connectc_default_allocator();
  cc_buf b = CC_BUF_INIT;
  const char in[] = "a\"b\\c\n\x01\x1f\xc3\xa9\xff\xf0\x9f\x98\x80/";
  assert_int_equal(cc_json_write_string(&b, a, in, sizeof in - 1), CONNECTC_OK);
  const char *want = "\"a\\\"b\\\\c\\n\\u0001\\u001f\xc3\xa9\xef\xbf\xbd\xf0\x9f\x98\x80/\"";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  /* What it writes, the reader accepts. */
  cc_json_doc doc;
  assert_int_equal(cc_json_parse((const char *)b.data, b.len, &limits, a, &doc, NULL), CONNECTC_OK);
  cc_json_doc_free(&doc, a);
  cc_buf_free(&b, a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8_valid_any_offset),
      cmocka_unit_test(test_accepts),
      cmocka_unit_test(test_refuses_what_jsmn_accepts),
      cmocka_unit_test(test_messages),
      cmocka_unit_test(test_depth_and_size),
      cmocka_unit_test(test_strings_and_lookup),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_write_string),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
