/* Error JSON and end-of-stream JSON, both directions, exact bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire_error.h"

static const connectc_allocator *A(void) { return connectc_default_allocator(); }

static void expect_buf(cc_buf *b, const char *want) {
  if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
    fail_msg("got %.*s\nwant %s", (int)b->len, (const char *)b->data, want);
  cc_buf_clear(b);
}

static void test_write(void **state) {
  (void)state;
  connectc_error e;
  connectc_error_init(&e, NULL);
  cc_buf b = CC_BUF_INIT;
  connectc_error_set(&e, CONNECTC_CODE_NOT_FOUND, NULL);
  assert_int_equal(cc_error_json_write(&b, A(), &e), CONNECTC_OK);
  expect_buf(&b, "{\"code\":\"not_found\"}");
  connectc_error_set(&e, CONNECTC_CODE_INVALID_ARGUMENT, "bad \"name\"\n\xe2\x98\x83");
  const uint8_t v[] = {0x08, 0x01, 0xff};
  connectc_error_add_detail(&e, "google.rpc.RetryInfo", v, sizeof v);
  connectc_error_add_detail(&e, "x.Empty", NULL, 0);
  assert_int_equal(cc_error_json_write(&b, A(), &e), CONNECTC_OK);
  expect_buf(&b,
             "{\"code\":\"invalid_argument\",\"message\":\"bad \\\"name\\\"\\n\xe2\x98\x83\","
             "\"details\":[{\"type\":\"google.rpc.RetryInfo\",\"value\":\"CAH/\"},"
             "{\"type\":\"x.Empty\",\"value\":\"\"}]}");

  connectc_headers md;
  connectc_headers_init(&md, NULL);
  assert_int_equal(cc_end_stream_write(&b, A(), NULL, NULL), CONNECTC_OK);
  expect_buf(&b, "{}");
  connectc_headers_adds(&md, "x-a", "1");
  connectc_headers_adds(&md, "x-b", "2");
  connectc_headers_adds(&md, "x-a", "3");
  assert_int_equal(cc_end_stream_write(&b, A(), NULL, &md), CONNECTC_OK);
  expect_buf(&b, "{\"metadata\":{\"x-a\":[\"1\",\"3\"],\"x-b\":[\"2\"]}}");
  connectc_error_reset(&e);
  connectc_error_set(&e, CONNECTC_CODE_ABORTED, "stop");
  assert_int_equal(cc_end_stream_write(&b, A(), &e, &md), CONNECTC_OK);
  expect_buf(&b,
             "{\"error\":{\"code\":\"aborted\",\"message\":\"stop\"},\"metadata\":{\"x-a\":[\"1\",\"3\"],"
             "\"x-b\":[\"2\"]}}");
  connectc_headers_reset(&md);
  connectc_error_reset(&e);
  cc_buf_free(&b, A());
}

static void test_parse_error(void **state) {
  (void)state;
  connectc_error e;
  connectc_error_init(&e, NULL);
  const char *j = "{\"code\":\"unavailable\",\"message\":\"try \\u0061gain\",\"details\":["
                  "{\"type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"value\":\"CAH/\",\"debug\":{}},"
                  "{\"type\":\"a.B\",\"value\":\"CAH_\"},{\"type\":\"a.C\",\"value\":\"CAH/\"}"
                  "],\"extra\":[1,2]}";
  assert_int_equal(cc_error_json_parse(j, strlen(j), &e), CONNECTC_OK);
  assert_int_equal(e.code, CONNECTC_CODE_UNAVAILABLE);
  assert_string_equal(e.message, "try again");
  assert_int_equal(e.n_details, 3);
  assert_string_equal(e.details[0].type, "google.rpc.RetryInfo");
  assert_int_equal(e.details[0].value_len, 3);
  assert_memory_equal(e.details[0].value, "\x08\x01\xff", 3);
  assert_memory_equal(e.details[1].value, "\x08\x01\xff", 3); /* URL-safe alphabet */
  /* Unknown or missing codes keep the rest; the caller picks the code. */
  const char *teapot = "{\"code\":\"teapot\",\"message\":\"m\"}";
  assert_int_equal(cc_error_json_parse(teapot, strlen(teapot), &e), CONNECTC_OK);
  assert_int_equal(e.code, CONNECTC_CODE_OK);
  assert_string_equal(e.message, "m");
  const char *bad[] = {"", "null", "[]", "{", "{\"code\":5}", "{\"message\":1}",
                       "{\"details\":{}}", "{\"details\":[1]}",
                       "{\"details\":[{\"type\":\"a\",\"value\":\"!!\"}]}", NULL};
  for (size_t i = 0; bad[i]; i++) {
    if (cc_error_json_parse(bad[i], strlen(bad[i]), &e) != CONNECTC_ERR_PROTOCOL)
      fail_msg("accepted %s", bad[i]);
    assert_int_equal(e.code, CONNECTC_CODE_OK);
  }
  connectc_error_reset(&e);
}

static void test_parse_end_stream(void **state) {
  (void)state;
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_headers md;
  connectc_headers_init(&md, NULL);
  const char *j = "{\"metadata\":{\"X-A\":[\"1\",\"2\"],\"x-b\":[]},\"error\":null}";
  assert_int_equal(cc_end_stream_parse(j, strlen(j), &e, &md), CONNECTC_OK);
  assert_int_equal(e.code, CONNECTC_CODE_OK);
  assert_int_equal(md.len, 2);
  assert_string_equal(md.items[0].name, "x-a");
  assert_string_equal(md.items[1].value, "2");
  connectc_headers_reset(&md);
  assert_int_equal(cc_end_stream_parse("{}", 2, &e, &md), CONNECTC_OK);
  assert_int_equal(e.code, CONNECTC_CODE_OK);
  j = "{\"error\":{\"code\":\"data_loss\",\"message\":\"gone\"}}";
  assert_int_equal(cc_end_stream_parse(j, strlen(j), &e, &md), CONNECTC_OK);
  assert_int_equal(e.code, CONNECTC_CODE_DATA_LOSS);
  assert_string_equal(e.message, "gone");
  j = "{\"error\":{\"message\":\"no code\"}}";
  assert_int_equal(cc_end_stream_parse(j, strlen(j), &e, &md), CONNECTC_OK);
  assert_int_equal(e.code, CONNECTC_CODE_UNKNOWN);
  struct {
    const char *json, *message;
  } bad[] = {
      {"", "unmarshal end stream message: invalid JSON: unexpected end of input, expected a value"},
      {"[]", "unmarshal end stream message: not a JSON object"},
      {"{\"metadata\":{\"x\":\"v\"}}", "unmarshal end stream message: metadata values must be arrays of strings"},
      {"{\"metadata\":{\"x\":[1]}}", "unmarshal end stream message: metadata values must be arrays of strings"},
      {"{\"metadata\":{\"bad name\":[\"v\"]}}", "unmarshal end stream message: invalid metadata name or value"},
      {"{\"metadata\":[]}", "unmarshal end stream message: metadata is not a JSON object"},
      {"{\"error\":5}", "unmarshal end stream message: the error is not a JSON object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(cc_end_stream_parse(bad[i].json, strlen(bad[i].json), &e, &md),
                     CONNECTC_ERR_PROTOCOL);
    assert_int_equal(e.code, CONNECTC_CODE_INTERNAL);
    assert_string_equal(e.message, bad[i].message);
  }
  connectc_headers_reset(&md);
  connectc_error_reset(&e);
}

static void test_round_trip(void **state) {
  (void)state;
  connectc_error e, back;
  connectc_error_init(&e, NULL);
  connectc_error_init(&back, NULL);
  connectc_error_set(&e, CONNECTC_CODE_PERMISSION_DENIED, "ctl \x01\x7f and \xe2\x82\xac");
  const uint8_t v[] = {0, 1, 2, 3, 4};
  connectc_error_add_detail(&e, "t.D", v, sizeof v);
  connectc_headers md, md2;
  connectc_headers_init(&md, NULL);
  connectc_headers_init(&md2, NULL);
  connectc_headers_adds(&md, "x-bin", "AAEC");
  cc_buf b = CC_BUF_INIT;
  assert_int_equal(cc_end_stream_write(&b, A(), &e, &md), CONNECTC_OK);
  assert_int_equal(cc_end_stream_parse((const char *)b.data, b.len, &back, &md2), CONNECTC_OK);
  assert_int_equal(back.code, e.code);
  assert_string_equal(back.message, e.message);
  assert_int_equal(back.n_details, 1);
  assert_memory_equal(back.details[0].value, v, sizeof v);
  assert_string_equal(connectc_headers_get(&md2, "x-bin"), "AAEC");
  cc_buf_free(&b, A());
  connectc_headers_reset(&md);
  connectc_headers_reset(&md2);
  connectc_error_reset(&e);
  connectc_error_reset(&back);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write),
      cmocka_unit_test(test_parse_error),
      cmocka_unit_test(test_parse_end_stream),
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
