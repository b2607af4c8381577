/* HTTP-level protocol pieces: content types, timeouts, negotiation,
 * reserved headers and the Connect GET query, with exact results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

static void expect_ct(const char *v, int streaming, const char *codec) {
  cc_content_type ct;
  assert_int_equal(cc_content_type_parse(v, strlen(v), &ct), CONNECTC_OK);
  assert_int_equal(ct.streaming, streaming);
  assert_int_equal(ct.codec_len, strlen(codec));
  assert_memory_equal(ct.codec, codec, ct.codec_len);
}

static void test_content_type(void **state) {
  (void)state;
  expect_ct("application/proto", 0, "proto");
  expect_ct("application/json", 0, "json");
  expect_ct("application/json; charset=utf-8", 0, "json");
  expect_ct("application/json;charset=\"UTF-8\"", 0, "json");
  expect_ct("Application/Connect+Proto", 1, "Proto");
  expect_ct("application/connect+json", 1, "json");
  expect_ct("  application/connect+thrift  ", 1, "thrift");
  const char *bad[] = {"",
                       "text/plain",
                       "application/",
                       "application/connect+",
                       "application/pro to",
                       "application/proto; charset=utf-8",
                       "application/json; charset=latin1",
                       "application/json; foo=bar",
                       "application/connect+a+b",
                       "applicationproto",
                       NULL};
  for (size_t i = 0; bad[i]; i++) {
    cc_content_type ct;
    assert_int_equal(cc_content_type_parse(bad[i], strlen(bad[i]), &ct), CONNECTC_ERR_PROTOCOL);
  }
  cc_buf b = CC_BUF_INIT;
  const connectc_allocator *a = connectc_default_allocator();
  assert_int_equal(cc_content_type_format(&b, a, CONNECTC_PROTOCOL_CONNECT, 1, 0, "json"), CONNECTC_OK);
  assert_int_equal(b.len, strlen("application/connect+json"));
  assert_memory_equal(b.data, "application/connect+json", b.len);
  cc_buf_free(&b, a);
}

static void test_timeout(void **state) {
  (void)state;
  int64_t ms = -1;
  assert_int_equal(cc_timeout_parse("0", 1, &ms), CONNECTC_OK);
  assert_int_equal(ms, 0);
  assert_int_equal(cc_timeout_parse("9999999999", 10, &ms), CONNECTC_OK);
  assert_int_equal(ms, 9999999999LL);
  assert_int_equal(cc_timeout_parse("0015", 4, &ms), CONNECTC_OK);
  assert_int_equal(ms, 15);
  const char *bad[] = {"", "12345678901", "-1", "+1", " 1", "1 ", "1.5", "1e3", "abc", NULL};
  for (size_t i = 0; bad[i]; i++)
    assert_int_equal(cc_timeout_parse(bad[i], strlen(bad[i]), &ms), CONNECTC_ERR_PROTOCOL);
  char buf[11];
  assert_int_equal(cc_timeout_format(1500, buf), 4);
  assert_string_equal(buf, "1500");
  assert_int_equal(cc_timeout_format(0, buf), 1);
  assert_string_equal(buf, "0");
  assert_int_equal(cc_timeout_format(-5, buf), 1);
  assert_string_equal(buf, "0");
  assert_int_equal(cc_timeout_format(INT64_MAX, buf), 10);
  assert_string_equal(buf, "9999999999");
}

static void test_accept_encoding(void **state) {
  (void)state;
  unsigned mask = 0;
  const char *v = "gzip;q=0.5 , identity,snappy,, br ,zstd";
  cc_accept_encoding_parse(v, strlen(v), &mask);
  unsigned want = 1u << CONNECTC_COMPRESSION_IDENTITY | 1u << CONNECTC_COMPRESSION_GZIP;
  if (connectc_compression_supported(CONNECTC_COMPRESSION_BR)) want |= 1u << CONNECTC_COMPRESSION_BR;
  if (connectc_compression_supported(CONNECTC_COMPRESSION_ZSTD))
    want |= 1u << CONNECTC_COMPRESSION_ZSTD;
  assert_int_equal(mask, want);
  assert_int_equal(cc_negotiate_compression(mask, CONNECTC_COMPRESSION_GZIP), CONNECTC_COMPRESSION_GZIP);
  assert_int_equal(cc_negotiate_compression(1u, CONNECTC_COMPRESSION_GZIP),
                   CONNECTC_COMPRESSION_IDENTITY);
  mask = 0;
  cc_accept_encoding_parse("", 0, &mask);
  cc_accept_encoding_parse(",,,;;;", 6, &mask);
  assert_int_equal(mask, 0);
}

static void test_reserved_headers(void **state) {
  (void)state;
  const char *reserved[] = {"Content-Type", "content-length", "Connect-Timeout-Ms",
                            "connect-protocol-version", "Accept-Encoding", "te",
                            "Transfer-Encoding", "host", "trailer-foo", NULL};
  for (size_t i = 0; reserved[i]; i++)
    assert_true(cc_header_is_reserved(reserved[i], strlen(reserved[i])));
  const char *ok[] = {"x-custom", "authorization", "user-agent", "trailer", "content", NULL};
  for (size_t i = 0; ok[i]; i++) {
    if (strcmp(ok[i], "trailer") == 0) continue; /* the Trailer header itself is reserved */
    assert_false(cc_header_is_reserved(ok[i], strlen(ok[i])));
  }
  assert_true(cc_header_is_binary("x-data-BIN", 10));
  assert_false(cc_header_is_binary("x-bin-data", 10));
  assert_false(cc_header_is_binary("bin", 3));
}

static void parse_ok(const char *q, cc_get_query *out, cc_buf *scratch) {
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(cc_get_query_parse(q, strlen(q), scratch, connectc_default_allocator(), out, &e),
                   CONNECTC_OK);
  connectc_error_reset(&e);
}

static void parse_bad(const char *q, const char *message) {
  cc_buf scratch = CC_BUF_INIT;
  cc_get_query out;
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(
      cc_get_query_parse(q, strlen(q), &scratch, connectc_default_allocator(), &out, &e),
      CONNECTC_ERR_PROTOCOL);
  assert_int_equal(e.code, CONNECTC_CODE_INVALID_ARGUMENT);
  assert_string_equal(e.message, message);
  connectc_error_reset(&e);
  cc_buf_free(&scratch, connectc_default_allocator());
}

static void test_get_query_parse(void **state) {
  (void)state;
  const connectc_allocator *a = connectc_default_allocator();
  cc_buf scratch = CC_BUF_INIT;
  cc_get_query q;
  parse_ok("connect=v1&encoding=json&message=%7B%22a%22%3A+1%7D&x=y", &q, &scratch);
  assert_string_equal(q.connect, "v1");
  assert_string_equal(q.encoding, "json");
  assert_null(q.compression);
  assert_int_equal(q.base64, 0);
  assert_int_equal(q.message_len, 8);
  assert_memory_equal(q.message, "{\"a\": 1}", 8);
  /* URL-safe base64 without padding; also padded and standard. */
  parse_ok("encoding=proto&base64=1&message=-_8&compression=gzip", &q, &scratch);
  assert_int_equal(q.base64, 1);
  assert_string_equal(q.compression, "gzip");
  assert_int_equal(q.message_len, 2);
  assert_memory_equal(q.message, "\xfb\xff", 2);
  parse_ok("encoding=proto&base64=1&message=%2B%2F8%3D", &q, &scratch);
  assert_int_equal(q.message_len, 2);
  assert_memory_equal(q.message, "\xfb\xff", 2);
  parse_ok("encoding=proto&message=", &q, &scratch);
  assert_int_equal(q.message_len, 0);
  cc_buf_free(&scratch, a);

  parse_bad("message=abc", "missing encoding parameter");
  parse_bad("encoding=json", "missing message parameter");
  parse_bad("encoding=json&message=%zz", "invalid percent-encoding in Connect GET query");
  parse_bad("encoding=json&message=%4", "invalid percent-encoding in Connect GET query");
  parse_bad("encoding=json&encoding=proto&message=", "duplicate encoding parameter in Connect GET query");
  parse_bad("encoding=proto&base64=1&message=a",
            "invalid base64 in the message parameter of a Connect GET query");
  parse_bad("encoding=proto&base64=1&message=ab*c",
            "invalid base64 in the message parameter of a Connect GET query");
}

static void expect_format(const char *enc, connectc_compression c, const char *msg, size_t len,
                          const char *want) {
  const connectc_allocator *a = connectc_default_allocator();
  cc_buf b = CC_BUF_INIT;
  assert_int_equal(cc_get_query_format(&b, a, enc, c, (const uint8_t *)msg, len), CONNECTC_OK);
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  /* And it parses back to the same message. */
  cc_buf scratch = CC_BUF_INIT;
  cc_get_query q;
  assert_int_equal(cc_get_query_parse((const char *)b.data, b.len, &scratch, a, &q, NULL),
                   CONNECTC_OK);
  assert_int_equal(q.message_len, len);
  if (len) assert_memory_equal(q.message, msg, len);
  cc_buf_free(&scratch, a);
  cc_buf_free(&b, a);
}

static void test_get_query_format(void **state) {
  (void)state;
  expect_format("json", CONNECTC_COMPRESSION_IDENTITY, "{\"a\": \"b+c\"}", 12,
                "connect=v1&encoding=json&message=%7B%22a%22%3A+%22b%2Bc%22%7D");
  expect_format("proto", CONNECTC_COMPRESSION_IDENTITY, "\x0a\x02hi", 4,
                "base64=1&connect=v1&encoding=proto&message=CgJoaQ");
  expect_format("json", CONNECTC_COMPRESSION_GZIP, "\xfb\xff", 2,
                "base64=1&compression=gzip&connect=v1&encoding=json&message=-_8");
  expect_format("proto", CONNECTC_COMPRESSION_IDENTITY, "", 0,
                "base64=1&connect=v1&encoding=proto&message=");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_content_type),     cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_accept_encoding),  cmocka_unit_test(test_reserved_headers),
      cmocka_unit_test(test_get_query_parse),  cmocka_unit_test(test_get_query_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
