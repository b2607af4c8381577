/* Strict HTTP/1.1 heads (adapters/common/h1.h): where a head ends, what a
 * request or response head says, and the exact status for every framing
 * two parsers could read differently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h1.h"
#include "h1_scan_ref.h"

#define S(lit) lit, sizeof(lit) - 1

/* Scans whole, then one byte more at a time; both must agree. */
static long scan(const char *in, size_t len, size_t max) {
  cc_h1_scanner s;
  cc_h1_scanner_init(&s);
  long whole = cc_h1_scan(&s, (const uint8_t *)in, len, max);
  cc_h1_scanner_init(&s);
  long step = 0;
  for (size_t n = 1; n <= len; n++) {
    step = cc_h1_scan(&s, (const uint8_t *)in, n, max);
    if (step != 0) break;
  }
  assert_int_equal(step, whole);
  return whole;
}

static void test_scan(void **state) {
  (void)state;
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0), 27);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), 0), 27);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\n\r\n"), 0), 18);
  /* Empty lines before the request line belong to the head. */
  assert_int_equal(scan(S("\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 0), 22);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nHost: x\r\n"), 0), 0);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nHost: x\r\n\r"), 0), 0);
  assert_int_equal(scan(S(""), 0), 0);
  /* Bare LF, bare CR, NUL: refused where they appear. */
  assert_int_equal(scan(S("GET / HTTP/1.1\nHost: x\n\n"), 0), -400);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nHost: x\n\r\n"), 0), -400);
  assert_int_equal(scan(S("GET / HTTP/1.1\rHost: x\r\r"), 0), -400);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), 0), -400);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"), 0), -400);
  assert_int_equal(scan(S("\n"), 0), -400);
  /* Limits: the first line alone (414), the head (431). */
  assert_int_equal(scan(S("GET /aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n"), 16), -414);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nHost: xxxxxxxx\r\n\r\n"), 24), -431);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 27), 27);
  assert_int_equal(scan(S("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 26), -431);
}

/* The scanner against the byte-at-a-time reference on 200,000 random
 * heads over the bytes that matter (CR, LF, NUL, a letter), each scanned
 * with a random limit and in random pieces. */
static void test_scan_matches_reference(void **state) {
  (void)state;
  static const uint8_t alphabet[] = {'\r', '\n', '\r', '\n', 0, 'a', 'a', 'a'};
  uint8_t buf[64];
  uint64_t x = 0x9e3779b97f4a7c15u; /* xorshift64: the same inputs every run */
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
  for (int round = 0; round < 200000; round++) {
    size_t len = (size_t)(NEXT() % sizeof buf);
    for (size_t i = 0; i < len; i++) buf[i] = alphabet[NEXT() % sizeof alphabet];
    size_t max = (size_t)(NEXT() % 70);
    cc_h1_scanner a, b;
    cc_h1_scanner_init(&a);
    cc_h1_scanner_init(&b);
    long got = 0, want = 0;
    size_t n = 0;
    while (got == 0 && want == 0 && n < len) {
      n += 1 + (size_t)(NEXT() % 8);
      if (n > len) n = len;
      got = cc_h1_scan(&a, buf, n, max);
      want = h1_scan_ref(&b, buf, n, max);
      if (got != want) {
        fprintf(stderr, "round %d: %zu of %zu bytes, limit %zu: %ld, want %ld\n", round, n, len,
                max, got, want);
        fail();
      }
    }
  }
#undef NEXT
}

typedef struct parsed {
  cc_h1_field fields[8];
  cc_h1_head head;
  const char *why;
  int st;
} parsed;

static int req(const char *in, size_t len, parsed *p) {
  p->why = NULL;
  p->st = cc_h1_parse_request(in, len, p->fields, 8, &p->head, &p->why);
  return p->st;
}

static void expect_field(const parsed *p, size_t i, const char *name, const char *value) {
  assert_true(i < p->head.n_fields);
  assert_int_equal(p->head.fields[i].name_len, strlen(name));
  assert_memory_equal(p->head.fields[i].name, name, strlen(name));
  assert_int_equal(p->head.fields[i].value_len, strlen(value));
  assert_memory_equal(p->head.fields[i].value, value, strlen(value));
}

static void test_request(void **state) {
  (void)state;
  parsed p;
  assert_int_equal(req(S("\r\nPOST /pkg.Svc/M?x=1&y HTTP/1.1\r\nHost: h:1\r\nContent-Type:  "
                         "application/proto \t\r\nX-Empty:\r\nContent-Length: 12\r\n\r\n"),
                       &p),
                   0);
  assert_int_equal(p.head.method_len, 4);
  assert_memory_equal(p.head.method, "POST", 4);
  assert_int_equal(p.head.target_len, 16);
  assert_memory_equal(p.head.target, "/pkg.Svc/M?x=1&y", 16);
  assert_int_equal(p.head.version_minor, 1);
  assert_int_equal(p.head.n_fields, 4);
  expect_field(&p, 0, "Host", "h:1");
  expect_field(&p, 1, "Content-Type", "application/proto");
  expect_field(&p, 2, "X-Empty", "");
  expect_field(&p, 3, "Content-Length", "12");
  assert_int_equal(p.head.body, CC_H1_BODY_LENGTH);
  assert_int_equal(p.head.content_length, 12);
  assert_int_equal(p.head.keep_alive, 1);
  assert_int_equal(p.head.expect_continue, 0);
  size_t n;
  const char *v = cc_h1_field_value(&p.head, "content-type", &n);
  assert_non_null(v);
  assert_int_equal(n, 17);
  assert_null(cc_h1_field_value(&p.head, "accept", &n));
  assert_int_equal(n, 0);

  /* Chunked (any case), Content-Length 0, no body, obs-text in values. */
  assert_int_equal(req(S("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n"
                         "Expect: 100-Continue\r\n\r\n"),
                       &p),
                   0);
  assert_int_equal(p.head.body, CC_H1_BODY_CHUNKED);
  assert_int_equal(p.head.expect_continue, 1);
  assert_int_equal(req(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.body, CC_H1_BODY_NONE);
  assert_int_equal(req(S("GET / HTTP/1.1\r\nHost: x\r\nX-V: caf\xc3\xa9 \x80\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.body, CC_H1_BODY_NONE);
  expect_field(&p, 1, "X-V", "caf\xc3\xa9 \x80");
  assert_int_equal(req(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n"), &p),
                   0);
  assert_int_equal(p.head.content_length, INT64_MAX);
  assert_int_equal(req(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.content_length, 7);

  /* Keep-alive: HTTP/1.1 by default, HTTP/1.0 only when asked; close wins. */
  assert_int_equal(req(S("GET / HTTP/1.1\r\nHost: x\r\nConnection: te, Close\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.keep_alive, 0);
  assert_int_equal(req(S("GET / HTTP/1.0\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.version_minor, 0);
  assert_int_equal(p.head.keep_alive, 0);
  assert_int_equal(req(S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.keep_alive, 1);
  assert_int_equal(req(S("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.expect_continue, 0);
  /* HTTP/1.x is HTTP/1.1. */
  assert_int_equal(req(S("GET / HTTP/1.9\r\nHost: x\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.version_minor, 1);
}

static void expect_refused(const char *in, size_t len, int status, const char *why) {
  parsed p;
  int st = req(in, len, &p);
  if (st != status) fprintf(stderr, "head: %.*s\n", (int)len, in);
  assert_int_equal(st, status);
  assert_string_equal(p.why, why);
}

static void test_request_refused(void **state) {
  (void)state;
  const char *amb = "ambiguous HTTP request framing";
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
                 400, amb);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"),
                 400, amb);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
                 400, amb);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"),
                 400, amb);
  const char *badlen = "invalid Content-Length";
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n"), 400, badlen);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n"), 400, badlen);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 70\r\n\r\n"), 400, badlen);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 3\r\n\r\n"), 400, badlen);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n"), 400, badlen);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n"), 400, badlen);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n"), 400,
                 badlen);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
                 400, badlen);
  const char *coding = "unsupported transfer coding";
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501, coding);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 501, coding);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n"), 501, coding);
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"), 501, coding);
  expect_refused(S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400,
                 "Transfer-Encoding in an HTTP/1.0 request");
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"), 400,
                 "whitespace between a field name and its colon");
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n"), 400,
                 "obsolete line folding (a field line starting with whitespace)");
  expect_refused(S("POST / HTTP/1.1\r\n Host: x\r\n\r\n"), 400,
                 "obsolete line folding (a field line starting with whitespace)");
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nX-A: b\x01\r\n\r\n"), 400,
                 "a control character in a field value");
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nX-A: b\x7f\r\n\r\n"), 400,
                 "a control character in a field value");
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n"), 400,
                 "a control character in a field value");
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n"), 400,
                 "a field name that is not a token");
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n"), 400, "a field name that is not a token");
  expect_refused(S("POST / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"), 400,
                 "a field name that is not a token");
  const char *host = "an HTTP/1.1 request needs exactly one Host field";
  expect_refused(S("POST / HTTP/1.1\r\n\r\n"), 400, host);
  expect_refused(S("POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, host);
  expect_refused(S("POST / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400, host);
  /* The request line. */
  expect_refused(S("POST  / HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "malformed request line (request-target)");
  expect_refused(S("POST /  HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "malformed request line (HTTP version)");
  expect_refused(S("POST /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n"), 400,
                 "malformed request line (request-target)");
  expect_refused(S("PO\"ST / HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "malformed request line (method)");
  expect_refused(S(" / HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "malformed request line (method)");
  expect_refused(S("POST / HTTP/1.1 \r\nHost: x\r\n\r\n"), 400, "malformed request line (HTTP version)");
  expect_refused(S("POST / http/1.1\r\nHost: x\r\n\r\n"), 400, "malformed request line (HTTP version)");
  expect_refused(S("POST / HTTP/11\r\nHost: x\r\n\r\n"), 400, "malformed request line (HTTP version)");
  expect_refused(S("POST /\r\nHost: x\r\n\r\n"), 400, "malformed request line (request-target)");
  expect_refused(S("POST / HTTP/2.0\r\nHost: x\r\n\r\n"), 505, "HTTP version not supported");
  expect_refused(S("POST / HTTP/0.9\r\nHost: x\r\n\r\n"), 505, "HTTP version not supported");
  /* Field count: 8 fit, 9 do not. */
  expect_refused(S("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\n"
                   "G: 7\r\nH: 8\r\n\r\n"),
                 431, "too many header fields");
  parsed p;
  assert_int_equal(req(S("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n"
                         "F: 6\r\nG: 7\r\n\r\n"),
                       &p),
                   0);
  assert_int_equal(p.head.n_fields, 8);
  /* A head that does not end with an empty line (the caller's bug). */
  expect_refused(S("GET / HTTP/1.1\r\nHost: x\r\n"), 400, "the head does not end with an empty line");
}

static int resp(const char *in, size_t len, parsed *p) {
  p->why = NULL;
  p->st = cc_h1_parse_response(in, len, p->fields, 8, &p->head, &p->why);
  return p->st;
}

static void test_response(void **state) {
  (void)state;
  parsed p;
  assert_int_equal(resp(S("HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                          "Content-Length: 5\r\n\r\n"),
                        &p),
                   0);
  assert_int_equal(p.head.status, 200);
  assert_int_equal(p.head.reason_len, 2);
  assert_memory_equal(p.head.reason, "OK", 2);
  assert_int_equal(p.head.body, CC_H1_BODY_LENGTH);
  assert_int_equal(p.head.content_length, 5);
  assert_int_equal(p.head.keep_alive, 1);
  expect_field(&p, 0, "Content-Type", "application/proto");
  assert_int_equal(resp(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.body, CC_H1_BODY_CHUNKED);
  assert_int_equal(resp(S("HTTP/1.1 404\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.status, 404);
  assert_int_equal(p.head.reason_len, 0);
  assert_int_equal(p.head.body, CC_H1_BODY_UNTIL_CLOSE);
  assert_int_equal(p.head.keep_alive, 0);
  assert_int_equal(resp(S("HTTP/1.1 100 Continue\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.body, CC_H1_BODY_NONE);
  assert_int_equal(resp(S("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.body, CC_H1_BODY_NONE);
  assert_int_equal(resp(S("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.keep_alive, 0);
  assert_int_equal(resp(S("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"), &p), 0);
  assert_int_equal(p.head.keep_alive, 0);
  assert_int_equal(p.head.body, CC_H1_BODY_NONE);

  const struct {
    const char *head;
    const char *why;
  } bad[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       "ambiguous HTTP response framing"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", "ambiguous HTTP response framing"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer coding in the response"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", "invalid Content-Length in the response"},
      {"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"},
      {"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"},
      {"HTTP/2 200 OK\r\n\r\n", "malformed status line"},
      {"HTTP/1.1 200 O\x01K\r\n\r\n", "malformed status line"},
      {"ICY 200 OK\r\n\r\n", "malformed status line"},
      {"HTTP/1.1 200 OK\r\nA : b\r\n\r\n", "whitespace between a field name and its colon"},
      {"HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n", "obsolete line folding (a field line starting with whitespace)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (resp(bad[i].head, strlen(bad[i].head), &p) != -1) fprintf(stderr, "response %zu\n", i);
    assert_int_equal(p.st, -1);
    assert_string_equal(p.why, bad[i].why);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scan),
      cmocka_unit_test(test_scan_matches_reference),
      cmocka_unit_test(test_request),
      cmocka_unit_test(test_request_refused),
      cmocka_unit_test(test_response),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
