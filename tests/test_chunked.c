/* The strict chunked-coding decoder (adapters/common/chunked.h): exact data,
 * exact consumption and exact refusals, fed whole and in every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chunked.h"

/* What decoding one input produced. */
typedef struct outcome {
  char data[4096];
  size_t data_len;
  int result;        /* CC_CHUNKED_DONE, _MORE or _ERROR */
  size_t end;        /* offset just past the body (DONE) or of the bad byte (ERROR) */
  const char *error;
} outcome;

/* Feeds in[0..len) in pieces of `step` bytes (0: whole). */
static void decode(const char *in, size_t len, size_t step, const cc_chunked_limits *lim,
                   outcome *o) {
  cc_chunked d;
  cc_chunked_init(&d, lim);
  memset(o, 0, sizeof *o);
  o->result = CC_CHUNKED_MORE;
  size_t off = 0;
  while (off < len) {
    size_t k = step && len - off > step ? step : len - off;
    size_t pos = 0;
    while (pos < k) {
      size_t used = 99999;
      const uint8_t *data;
      size_t dlen;
      cc_chunked_result r =
          cc_chunked_decode(&d, (const uint8_t *)in + off + pos, k - pos, &used, &data, &dlen);
      assert_true(used <= k - pos);
      if (r == CC_CHUNKED_DATA) {
        assert_true(dlen > 0 && dlen <= used);
        assert_ptr_equal(data + dlen, (const uint8_t *)in + off + pos + used);
        assert_true(o->data_len + dlen <= sizeof o->data);
        memcpy(o->data + o->data_len, data, dlen);
        o->data_len += dlen;
        pos += used;
        continue;
      }
      if (r == CC_CHUNKED_MORE) {
        assert_int_equal(used, k - pos);
        assert_null(data);
        pos += used;
        continue;
      }
      o->result = r;
      o->end = off + pos + used;
      o->error = cc_chunked_error(&d);
      /* Both are final: the decoder stays there. */
      size_t again = 7;
      assert_int_equal(cc_chunked_decode(&d, (const uint8_t *)"0\r\n\r\n", 5, &again, &data, &dlen), r);
      assert_int_equal(again, 0);
      return;
    }
    off += k;
  }
}

/* Decodes whole and split every way (1..len bytes at a time); all must
 * agree. */
static void check(const char *in, size_t len, const cc_chunked_limits *lim, outcome *o) {
  decode(in, len, 0, lim, o);
  for (size_t step = 1; step < len; step++) {
    outcome s;
    decode(in, len, step, lim, &s);
    assert_int_equal(s.result, o->result);
    assert_int_equal(s.end, o->end);
    assert_int_equal(s.data_len, o->data_len);
    assert_memory_equal(s.data, o->data, o->data_len);
    if (o->error) assert_string_equal(s.error, o->error);
  }
}

#define S(lit) lit, sizeof(lit) - 1

static void expect_body(const char *in, size_t len, const char *body, size_t body_len,
                          size_t end) {
  outcome o;
  check(in, len, NULL, &o);
  if (o.result != CC_CHUNKED_DONE) fprintf(stderr, "input %.*s: %s\n", (int)len, in, o.error);
  assert_int_equal(o.result, CC_CHUNKED_DONE);
  assert_int_equal(o.end, end);
  assert_int_equal(o.data_len, body_len);
  assert_memory_equal(o.data, body, o.data_len);
}

static void expect_error(const char *in, size_t len, const cc_chunked_limits *lim, size_t at,
                         const char *why) {
  outcome o;
  check(in, len, lim, &o);
  if (o.result != CC_CHUNKED_ERROR) fprintf(stderr, "input accepted: %.*s\n", (int)len, in);
  assert_int_equal(o.result, CC_CHUNKED_ERROR);
  assert_int_equal(o.end, at);
  assert_string_equal(o.error, why);
}

static void test_bodies(void **state) {
  (void)state;
  expect_body(S("0\r\n\r\n"), S(""), 5);
  expect_body(S("5\r\nhello\r\n0\r\n\r\n"), S("hello"), 15);
  expect_body(S("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), S("hello world"), 26);
  expect_body(S("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n"), S("0123456789abcdefghij"), 35);
  expect_body(S("000005\r\nhello\r\n000\r\n\r\n"), S("hello"), 22);
  /* What follows the body is not consumed. */
  expect_body(S("1\r\nx\r\n0\r\n\r\nPOST / HTTP/1.1\r\n"), S("x"), 11);
  /* Data may hold any byte, CR and LF included. */
  expect_body(S("4\r\n\r\n\0\n\r\n0\r\n\r\n"), S("\r\n\0\n"), 14);
}

static void test_extensions(void **state) {
  (void)state;
  expect_body(S("5;a\r\nhello\r\n0\r\n\r\n"), S("hello"), 17);
  expect_body(S("5;a=b\r\nhello\r\n0;last\r\n\r\n"), S("hello"), 24);
  expect_body(S("5 ; a = b ;c;d=\"x y\"\r\nhello\r\n0\r\n\r\n"), S("hello"), 34);
  expect_body(S("5;q=\"a\\\"b\\\\\"\r\nhello\r\n0\r\n\r\n"), S("hello"), 26);
  expect_body(S("5\t;\ta\t=\tb\r\nhello\r\n0\r\n\r\n"), S("hello"), 23);
  expect_body(S("5;a=\"\xc3\xa9\"\r\nhello\r\n0\r\n\r\n"), S("hello"), 22);
}

static void test_malformed_sizes(void **state) {
  (void)state;
  const char *nohex = "chunk size is not a hexadecimal number";
  expect_error(S("\r\n"), NULL, 0, nohex);
  expect_error(S("x\r\n"), NULL, 0, nohex);
  expect_error(S("-5\r\nhello\r\n"), NULL, 0, nohex);
  expect_error(S("+5\r\nhello\r\n"), NULL, 0, nohex);
  expect_error(S(" 5\r\nhello\r\n"), NULL, 0, nohex);
  expect_error(S("0x5\r\nhello\r\n"), NULL, 1, "invalid byte after the chunk size");
  expect_error(S("5 5\r\nhello\r\n"), NULL, 2,
               "whitespace in a chunk-size line that is not before a chunk extension");
  expect_error(S("5 \r\nhello\r\n"), NULL, 2,
               "whitespace in a chunk-size line that is not before a chunk extension");
  expect_error(S("5\nhello\r\n"), NULL, 1, "bare LF in the chunked framing");
  expect_error(S("5\rhello\r\n"), NULL, 2, "bare CR in the chunked framing");
  expect_error(S("5\r\r\nhello\r\n"), NULL, 2, "bare CR in the chunked framing");
  expect_error(S("5,5\r\nhello\r\n"), NULL, 1, "invalid byte after the chunk size");
}

static void test_malformed_extensions(void **state) {
  (void)state;
  expect_error(S("5;\r\nhello\r\n"), NULL, 2, "invalid chunk extension name");
  expect_error(S("5;;a\r\nhello\r\n"), NULL, 2, "invalid chunk extension name");
  expect_error(S("5;a=\r\nhello\r\n"), NULL, 4, "invalid chunk extension value");
  expect_error(S("5;a b\r\nhello\r\n"), NULL, 4,
               "whitespace in a chunk-size line that is not before \"=\" or \";\"");
  expect_error(S("5;a \r\nhello\r\n"), NULL, 4,
               "whitespace in a chunk-size line that is not before \"=\" or \";\"");
  expect_error(S("5;a=b c\r\nhello\r\n"), NULL, 6,
               "whitespace in a chunk-size line that is not before a chunk extension");
  expect_error(S("5;a=\"b\r\nhello\r\n"), NULL, 6, "invalid byte in a quoted chunk extension value");
  expect_error(S("5;a=\"b\"c\r\nhello\r\n"), NULL, 7, "invalid byte after a quoted chunk extension value");
  expect_error(S("5;a=\"\\\x01\"\r\nhello\r\n"), NULL, 6, "invalid escape in a quoted chunk extension value");
  expect_error(S("5;a=b@\r\nhello\r\n"), NULL, 5, "invalid chunk extension value");
  expect_error(S("5;a\nhello\r\n"), NULL, 3, "invalid chunk extension name");
}

static void test_data_framing(void **state) {
  (void)state;
  expect_error(S("5\r\nhelloX\r\n0\r\n\r\n"), NULL, 8, "chunk data not followed by CRLF");
  expect_error(S("5\r\nhello\n0\r\n\r\n"), NULL, 8, "chunk data not followed by CRLF");
  expect_error(S("5\r\nhello\rX0\r\n\r\n"), NULL, 9, "bare CR after chunk data");
  expect_error(S("3\r\nhello\r\n0\r\n\r\n"), NULL, 6, "chunk data not followed by CRLF");
  /* Unfinished bodies just want more. */
  outcome o;
  check(S("5\r\nhel"), NULL, &o);
  assert_int_equal(o.result, CC_CHUNKED_MORE);
  assert_int_equal(o.data_len, 3);
  check(S("5\r\nhello\r\n0\r\n"), NULL, &o);
  assert_int_equal(o.result, CC_CHUNKED_MORE);
  assert_int_equal(o.data_len, 5);
}

static void test_sizes_and_limits(void **state) {
  (void)state;
  /* 2^64 and 2^63: past the default limit (INT64_MAX), refused at the
   * digit that goes over; INT64_MAX itself is a size. */
  expect_error(S("10000000000000000\r\n"), NULL, 16, "chunk size too large");
  expect_error(S("8000000000000000\r\n"), NULL, 15, "chunk size too large");
  expect_error(S("ffffffffffffffffffffffff\r\n"), NULL, 15, "chunk size too large");
  outcome o;
  check(S("7fffffffffffffff\r\nabc"), NULL, &o);
  assert_int_equal(o.result, CC_CHUNKED_MORE);
  assert_int_equal(o.data_len, 3);
  /* Many leading zeros are fine within the line limit. */
  char zeros[5000];
  memset(zeros, '0', sizeof zeros);
  memcpy(zeros + 4000, "5\r\nhello\r\n0\r\n\r\n", 15);
  expect_body(zeros, 4015, S("hello"), 4015);
  /* ...and refused past it, at the byte that goes over. */
  memset(zeros, '0', sizeof zeros);
  expect_error(zeros, sizeof zeros, NULL, 4096, "chunk-size line too long");
  cc_chunked_limits lim = {.max_line = 8, .max_trailer_bytes = 12, .max_chunk_size = 16};
  expect_error(S("11\r\n"), &lim, 1, "chunk size too large");
  check(S("10\r\n0123456789abcdef\r\n0\r\n\r\n"), &lim, &o);
  assert_int_equal(o.result, CC_CHUNKED_DONE);
  expect_error(S("1;abcdef=g\r\n"), &lim, 8, "chunk-size line too long");
  check(S("1;abcd\r\nx\r\n0\r\n\r\n"), &lim, &o);
  assert_int_equal(o.result, CC_CHUNKED_DONE);
  /* Trailers: 12 bytes allowed ("A: 12345\r\n" + "\r\n"), 13 not. */
  check(S("0\r\nA: 12345\r\n\r\n"), &lim, &o);
  assert_int_equal(o.result, CC_CHUNKED_DONE);
  expect_error(S("0\r\nA: 123456\r\n\r\n"), &lim, 15, "chunked trailer section too large");
}

static void test_trailers(void **state) {
  (void)state;
  expect_body(S("0\r\nA: b\r\nC:d\r\nE:  \r\n\r\n"), S(""), 22);
  expect_body(S("2\r\nhi\r\n0\r\nX-Sum: \xff obs\ttext\r\n\r\nNEXT"), S("hi"), 31);
  expect_error(S("0\r\nA: b\r\n c\r\n\r\n"), NULL, 9,
               "obsolete line folding in the chunked trailer section");
  expect_error(S("0\r\n A: b\r\n\r\n"), NULL, 3,
               "obsolete line folding in the chunked trailer section");
  expect_error(S("0\r\nA b: c\r\n\r\n"), NULL, 4, "invalid trailer field name");
  expect_error(S("0\r\nA : c\r\n\r\n"), NULL, 4, "invalid trailer field name");
  expect_error(S("0\r\n: c\r\n\r\n"), NULL, 3, "invalid trailer field name");
  expect_error(S("0\r\nA: \x01\r\n\r\n"), NULL, 6, "invalid byte in a trailer field value");
  expect_error(S("0\r\nA: b\n\r\n"), NULL, 7, "bare LF in the chunked trailer section");
  expect_error(S("0\r\nA: b\rX\r\n"), NULL, 8, "bare CR in the chunked trailer section");
  expect_error(S("0\r\n\rX"), NULL, 4, "bare CR in the chunked trailer section");
  expect_error(S("0\r\n\n"), NULL, 3, "invalid trailer field name");
  /* The default trailer limit is 16 KiB. */
  size_t n = 20000;
  char *big = malloc(n);
  memcpy(big, "0\r\nX: ", 6);
  memset(big + 6, 'v', n - 6);
  outcome o;
  decode(big, n, 0, NULL, &o);
  assert_int_equal(o.result, CC_CHUNKED_ERROR);
  assert_int_equal(o.end, 3 + 16384);
  assert_string_equal(o.error, "chunked trailer section too large");
  free(big);
}

static void test_no_input(void **state) {
  (void)state;
  cc_chunked d;
  cc_chunked_init(&d, NULL);
  size_t used = 9;
  const uint8_t *data = (const uint8_t *)"x";
  size_t dlen = 9;
  assert_int_equal(cc_chunked_decode(&d, NULL, 0, &used, &data, &dlen), CC_CHUNKED_MORE);
  assert_int_equal(used, 0);
  assert_null(data);
  assert_int_equal(dlen, 0);
  assert_null(cc_chunked_error(&d));
}

/* A receiver that takes only part of each span gives the rest back and
 * feeds it again: the data comes out whole and in order, and the framing
 * after it is still checked. */
static void test_unread(void **state) {
  (void)state;
  const char *in = "5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\nNEXT";
  size_t len = strlen(in);
  for (size_t take_max = 1; take_max <= 7; take_max++) {
    cc_chunked d;
    cc_chunked_init(&d, NULL);
    char out[32];
    size_t out_len = 0, off = 0;
    cc_chunked_result r;
    for (;;) {
      size_t used;
      const uint8_t *data;
      size_t dlen;
      r = cc_chunked_decode(&d, (const uint8_t *)in + off, len - off, &used, &data, &dlen);
      off += used;
      if (r != CC_CHUNKED_DATA) break;
      size_t taken = dlen < take_max ? dlen : take_max;
      memcpy(out + out_len, data, taken);
      out_len += taken;
      assert_int_equal(cc_chunked_unread(&d, dlen - taken), 0);
      off -= dlen - taken;
    }
    assert_int_equal(r, CC_CHUNKED_DONE);
    assert_int_equal(off, len - 4);
    assert_int_equal(out_len, 11);
    assert_memory_equal(out, "hello world", 11);
  }
  /* Not just past a span: refused, nothing changes. */
  cc_chunked d;
  cc_chunked_init(&d, NULL);
  assert_int_equal(cc_chunked_unread(&d, 1), -1);
  assert_int_equal(cc_chunked_unread(&d, 0), 0);
  size_t used;
  const uint8_t *data;
  size_t dlen;
  assert_int_equal(cc_chunked_decode(&d, (const uint8_t *)"3\r\nab", 5, &used, &data, &dlen),
                   CC_CHUNKED_DATA);
  assert_int_equal(dlen, 2);
  assert_int_equal(cc_chunked_unread(&d, 2), 0);
  /* The chunk wants 3 bytes again; a bad CRLF after them still fails. */
  assert_int_equal(cc_chunked_decode(&d, (const uint8_t *)"abcX", 4, &used, &data, &dlen),
                   CC_CHUNKED_DATA);
  assert_int_equal(dlen, 3);
  assert_int_equal(cc_chunked_decode(&d, (const uint8_t *)"X", 1, &used, &data, &dlen),
                   CC_CHUNKED_ERROR);
  assert_string_equal(cc_chunked_error(&d), "chunk data not followed by CRLF");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bodies),          cmocka_unit_test(test_extensions),
      cmocka_unit_test(test_malformed_sizes), cmocka_unit_test(test_malformed_extensions),
      cmocka_unit_test(test_data_framing),    cmocka_unit_test(test_sizes_and_limits),
      cmocka_unit_test(test_trailers),        cmocka_unit_test(test_no_input),
      cmocka_unit_test(test_unread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
