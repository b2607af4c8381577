/* Strict HTTP/1.1 heads (adapters/common/h1.h): where a head ends, and
 * what a response head says (request heads are the core's:
 * test_http_rules). */
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

static void expect_field(const parsed *p, size_t i, const char *name, const char *value) {
  assert_true(i < p->head.n_fields);
  assert_int_equal(p->head.fields[i].name_len, strlen(name));
  assert_memory_equal(p->head.fields[i].name, name, strlen(name));
  assert_int_equal(p->head.fields[i].value_len, strlen(value));
  assert_memory_equal(p->head.fields[i].value, value, strlen(value));
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
      cmocka_unit_test(test_response),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
