/* The HTTP semantics every server adapter shares (connectc/http.h):
 * exact results, statuses, codes and messages for each rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/http.h"

/* A string literal and its length (embedded NULs included). */
#define LIT(s) s, sizeof(s) - 1

static void test_fields(void **state) {
  (void)state;
  assert_true(connectc_http_field_name_valid(LIT("content-type")));
  assert_true(connectc_http_field_name_valid(LIT("X-A!#$%&'*+-.^_`|~9")));
  assert_false(connectc_http_field_name_valid(LIT("")));
  assert_false(connectc_http_field_name_valid(LIT("a b")));
  assert_false(connectc_http_field_name_valid(LIT("a:b")));
  assert_false(connectc_http_field_name_valid(LIT("a\0b")));
  assert_false(connectc_http_field_name_valid(LIT("caf\xc3\xa9")));
  assert_true(connectc_http_field_value_valid(LIT("")));
  assert_true(connectc_http_field_value_valid(LIT("a b\tc \x80\xff ~")));
  assert_false(connectc_http_field_value_valid(LIT("a\0b")));
  assert_false(connectc_http_field_value_valid(LIT("a\rb")));
  assert_false(connectc_http_field_value_valid(LIT("a\nb")));
  assert_false(connectc_http_field_value_valid(LIT("a\x01")));
  assert_false(connectc_http_field_value_valid(LIT("\x7f")));
}

static void test_content_length(void **state) {
  (void)state;
  uint64_t v = 1;
  connectc_http_refusal why;
  assert_int_equal(connectc_http_parse_content_length(LIT("0"), &v, &why), CONNECTC_OK);
  assert_int_equal(v, 0);
  assert_int_equal(connectc_http_parse_content_length(LIT("007"), &v, &why), CONNECTC_OK);
  assert_int_equal(v, 7);
  assert_int_equal(connectc_http_parse_content_length(LIT("9223372036854775807"), &v, &why),
                   CONNECTC_OK);
  assert_int_equal(v, INT64_MAX);
  const char *bad[] = {"", "-1", "+3", "0x7", "7, 7", "7,7", " 7", "7 ", "1e3", "seven", "7\x00"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = strlen(bad[i]) + (i == 10);
    assert_int_equal(connectc_http_parse_content_length(bad[i], n, &v, &why),
                     CONNECTC_ERR_PROTOCOL);
    assert_int_equal(why.status, 400);
    assert_int_equal(why.code, CONNECTC_CODE_INVALID_ARGUMENT);
  }
  assert_int_equal(connectc_http_parse_content_length(LIT("0x7"), &v, &why),
                   CONNECTC_ERR_PROTOCOL);
  assert_string_equal(why.message, "invalid Content-Length \"0x7\": expected decimal digits only");
  assert_int_equal(connectc_http_parse_content_length(LIT("7\0" "1"), &v, &why),
                   CONNECTC_ERR_PROTOCOL);
  assert_string_equal(why.message,
                      "invalid Content-Length \"7\\x001\": expected decimal digits only");
  const char *big[] = {"9223372036854775808", "18446744073709551616", "18446744073709551617",
                       "99999999999999999999999"};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    assert_int_equal(connectc_http_parse_content_length(big[i], strlen(big[i]), &v, &why),
                     CONNECTC_ERR_LIMIT);
    assert_int_equal(why.status, 413);
    assert_int_equal(why.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  }
  assert_string_equal(why.message,
                      "Content-Length \"99999999999999999999999\" exceeds the largest body length "
                      "accepted, 9223372036854775807 bytes");
  /* NULL out and why are fine. */
  assert_int_equal(connectc_http_parse_content_length(LIT("12"), NULL, NULL), CONNECTC_OK);
  assert_int_equal(connectc_http_parse_content_length(LIT("x"), NULL, NULL),
                   CONNECTC_ERR_PROTOCOL);
}

static void test_chunk_size(void **state) {
  (void)state;
  uint64_t v = 0;
  connectc_http_refusal why;
  assert_int_equal(connectc_http_parse_chunk_size(LIT("1a"), &v, &why), CONNECTC_OK);
  assert_int_equal(v, 26);
  assert_int_equal(connectc_http_parse_chunk_size(LIT("0"), &v, &why), CONNECTC_OK);
  assert_int_equal(v, 0);
  assert_int_equal(connectc_http_parse_chunk_size(LIT("5;ext=1"), &v, &why), CONNECTC_OK);
  assert_int_equal(v, 5);
  assert_int_equal(connectc_http_parse_chunk_size(LIT("5 ; a=\"b c\""), &v, &why), CONNECTC_OK);
  assert_int_equal(connectc_http_parse_chunk_size(LIT("0000000000000000000007fffffffffffffff"),
                                                  &v, &why),
                   CONNECTC_OK);
  assert_int_equal(v, INT64_MAX);
  const char *bad[] = {"", "-1", "+1", "zz", " 5", "5 x", "0x5", ";a"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(connectc_http_parse_chunk_size(bad[i], strlen(bad[i]), &v, &why),
                     CONNECTC_ERR_PROTOCOL);
    assert_int_equal(why.status, 400);
  }
  assert_int_equal(connectc_http_parse_chunk_size(LIT("5\0"), &v, &why), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(connectc_http_parse_chunk_size(LIT("5;a\rb"), &v, &why), CONNECTC_ERR_PROTOCOL);
  const char *big[] = {"8000000000000000", "ffffffffffffffff", "fffffffffffffffff1",
                       "10000000000000000"};
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    assert_int_equal(connectc_http_parse_chunk_size(big[i], strlen(big[i]), &v, &why),
                     CONNECTC_ERR_LIMIT);
    assert_int_equal(why.status, 413);
    assert_int_equal(why.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  }
  assert_string_equal(why.message, "chunk size 0x10000000000000000 exceeds the largest chunk "
                                   "accepted, 9223372036854775807 bytes");
}

static void expect_target(const char *t, const char *path, const char *query,
                          const char *authority) {
  connectc_http_target r;
  connectc_http_refusal why;
  int rv = connectc_http_parse_target(t, strlen(t), &r, &why);
  if (rv) fprintf(stderr, "%s: %s\n", t, why.message);
  assert_int_equal(rv, CONNECTC_OK);
  assert_int_equal(r.path_len, strlen(path));
  assert_memory_equal(r.path, path, r.path_len);
  if (query) {
    assert_non_null(r.query);
    assert_int_equal(r.query_len, strlen(query));
    assert_memory_equal(r.query, query, r.query_len);
  } else {
    assert_null(r.query);
  }
  if (authority) {
    assert_non_null(r.authority);
    assert_int_equal(r.authority_len, strlen(authority));
    assert_memory_equal(r.authority, authority, r.authority_len);
  } else {
    assert_null(r.authority);
  }
}

static void test_target(void **state) {
  (void)state;
  expect_target("/a.B/C", "/a.B/C", NULL, NULL);
  expect_target("/a?x=1&y", "/a", "x=1&y", NULL);
  expect_target("/a?", "/a", "", NULL);
  expect_target("/%41?%42", "/%41", "%42", NULL);
  expect_target("http://127.0.0.1:8080/pkg.Svc/M", "/pkg.Svc/M", NULL, "127.0.0.1:8080");
  expect_target("HTTPS://example.com/p?q", "/p", "q", "example.com");
  expect_target("http://example.com", "/", NULL, "example.com");
  expect_target("http://example.com?q=1", "/", "q=1", "example.com");
  expect_target("http://[::1]:80/x", "/x", NULL, "[::1]:80");
  connectc_http_target r;
  connectc_http_refusal why;
  const struct {
    const char *t;
    size_t n;
    const char *msg;
  } bad[] = {
      {LIT(""), "the request target is empty"},
      {LIT("*"), NULL},
      {LIT("example.com:443"), NULL},
      {LIT("ftp://x/y"), NULL},
      {LIT("http:///p"), NULL},
      {LIT("http://user@host/p"), NULL},
      {LIT("http://host:99999999/p"), NULL},
      {LIT("/a#frag"), "the request target \"/a#frag\" holds a fragment ('#')"},
      {LIT("/a b"), NULL},
      {LIT("/a\0junk"),
       "the request target \"/a\\x00junk\" holds byte 0x00 at offset 2: only visible ASCII is "
       "allowed"},
      {LIT("/caf\xc3\xa9"), NULL},
      {LIT("/a%2"), "the request target holds a bad percent-escape at \"%2\""},
      {LIT("/a%zz"), NULL},
      {LIT("/a?q=%"), NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&why, 0, sizeof why);
    assert_int_equal(connectc_http_parse_target(bad[i].t, bad[i].n, &r, &why),
                     CONNECTC_ERR_PROTOCOL);
    assert_int_equal(why.status, 400);
    assert_int_equal(why.code, CONNECTC_CODE_INVALID_ARGUMENT);
    if (bad[i].msg) assert_string_equal(why.message, bad[i].msg);
  }
}

static void test_decode_path(void **state) {
  (void)state;
  char out[64];
  size_t n = 0;
  connectc_http_refusal why;
  assert_int_equal(connectc_http_decode_path(LIT("/pkg.Svc/Say"), out, &n, &why), CONNECTC_OK);
  assert_int_equal(n, 12);
  assert_memory_equal(out, "/pkg.Svc/Say", 12);
  assert_int_equal(connectc_http_decode_path(LIT("/a%2Fb%41"), out, &n, &why), CONNECTC_OK);
  assert_int_equal(n, 5);
  assert_memory_equal(out, "/a/bA", 5);
  /* A NUL, escaped or raw, never decodes: a name with one inside can
   * never match a shorter name. */
  assert_int_equal(connectc_http_decode_path(LIT("/pkg.Svc/Say%00junk"), out, &n, &why),
                   CONNECTC_ERR_PROTOCOL);
  assert_int_equal(why.status, 400);
  assert_string_equal(why.message,
                      "the path \"/pkg.Svc/Say%00junk\" holds an escaped NUL (%00) at offset 12");
  assert_int_equal(connectc_http_decode_path(LIT("/Say\0junk"), out, &n, &why),
                   CONNECTC_ERR_PROTOCOL);
  assert_string_equal(why.message, "the path \"/Say\\x00junk\" holds a NUL byte at offset 4");
  assert_int_equal(connectc_http_decode_path(LIT("/a%4"), out, &n, &why), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(connectc_http_decode_path(LIT("/a%"), out, &n, &why), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(connectc_http_decode_path(LIT("/a%g0"), out, &n, &why),
                   CONNECTC_ERR_PROTOCOL);
}

static void test_host(void **state) {
  (void)state;
  connectc_http_refusal why;
  assert_int_equal(connectc_http_check_host(1, 1, LIT("example.com"), &why), CONNECTC_OK);
  assert_int_equal(connectc_http_check_host(1, 1, LIT("127.0.0.1:8080"), &why), CONNECTC_OK);
  assert_int_equal(connectc_http_check_host(1, 1, LIT("[::1]:8080"), &why), CONNECTC_OK);
  assert_int_equal(connectc_http_check_host(1, 1, LIT(""), &why), CONNECTC_OK);
  assert_int_equal(connectc_http_check_host(0, 0, NULL, 0, &why), CONNECTC_OK);
  assert_int_equal(connectc_http_check_host(1, 0, NULL, 0, &why), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(why.status, 400);
  assert_string_equal(why.message, "an HTTP/1.1 request must carry a Host field (RFC 9112 3.2)");
  assert_int_equal(connectc_http_check_host(1, 2, LIT("a"), &why), CONNECTC_ERR_PROTOCOL);
  assert_string_equal(why.message,
                      "the request carries 2 Host fields: at most one is allowed (RFC 9112 3.2)");
  assert_int_equal(connectc_http_check_host(0, 2, LIT("a"), &why), CONNECTC_ERR_PROTOCOL);
  const char *bad[] = {"a b", "a/b", "a:b:c", "[::1", "[]", "a:123456", "us@er", "a\"b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(connectc_http_check_host(1, 1, bad[i], strlen(bad[i]), &why),
                     CONNECTC_ERR_PROTOCOL);
  assert_int_equal(connectc_http_check_host(1, 1, LIT("a\0b"), &why), CONNECTC_ERR_PROTOCOL);
  assert_string_equal(why.message, "invalid Host \"a\\x00b\": expected host[:port]");
}

#define SAY "/pkg.Svc/Say"

static int check(const char *buf, size_t len, connectc_http1_head *h, connectc_http_refusal *why) {
  memset(why, 0, sizeof *why);
  return connectc_http1_check_head(buf, len, NULL, h, why);
}

static void test_head_good(void **state) {
  (void)state;
  connectc_http1_head h;
  connectc_http_refusal why;
  static const char req[] = "POST " SAY " HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto"
                            "\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n"
                            "Connection: keep-alive, close\r\n\r\nabc";
  size_t head_len = sizeof req - 1 - 3;
  assert_int_equal(check(req, sizeof req - 1, &h, &why), 1);
  assert_int_equal(h.head_len, head_len);
  assert_int_equal(h.method_len, 4);
  assert_memory_equal(h.method, "POST", 4);
  assert_int_equal(h.target_len, strlen(SAY));
  assert_memory_equal(h.target, SAY, h.target_len);
  assert_int_equal(h.minor, 1);
  assert_int_equal(h.n_fields, 5);
  assert_true(h.has_content_length);
  assert_int_equal(h.content_length, 3);
  assert_false(h.chunked);
  assert_true(h.expect_continue);
  assert_true(h.connection_close);
  /* Every prefix is incomplete, never refused. */
  for (size_t n = 0; n < head_len; n++) assert_int_equal(check(req, n, &h, &why), 0);
  /* Bare LF line ends and leading empty lines, HTTP/1.0 without Host,
   * chunked, a query and cookies. */
  static const char lf[] = "\r\n\nGET /a?b=1&c=2&d HTTP/1.0\nCookie: a=1; b=2\n\n";
  assert_int_equal(check(lf, sizeof lf - 1, &h, &why), 1);
  assert_int_equal(h.head_len, sizeof lf - 1);
  assert_int_equal(h.minor, 0);
  assert_int_equal(h.n_params, 3);
  assert_int_equal(h.n_cookies, 2);
  static const char ch[] = "POST http://h:1/p HTTP/1.1\r\nHost: h:1\r\n"
                           "Transfer-Encoding: Chunked\r\n\r\n";
  assert_int_equal(check(ch, sizeof ch - 1, &h, &why), 1);
  assert_true(h.chunked);
  assert_false(h.has_content_length);
}

/* The field lines and keep-alive of connectc_http1_check_head_fields. */
typedef struct with_fields {
  connectc_http1_head h;
  connectc_http1_field f[CONNECTC_HTTP1_DEFAULT_MAX_FIELDS];
  int keep_alive;
} with_fields;

static int check_fields(const char *buf, size_t len, with_fields *w) {
  connectc_http_refusal why;
  memset(&why, 0, sizeof why);
  w->keep_alive = -1;
  return connectc_http1_check_head_fields(buf, len, NULL, &w->h, w->f,
                                          CONNECTC_HTTP1_DEFAULT_MAX_FIELDS, &w->keep_alive, &why);
}

static void expect_field(const with_fields *w, size_t i, const char *name, const char *value) {
  assert_true(i < w->h.n_fields);
  assert_int_equal(w->f[i].name_len, strlen(name));
  assert_memory_equal(w->f[i].name, name, strlen(name));
  assert_int_equal(w->f[i].value_len, strlen(value));
  assert_memory_equal(w->f[i].value, value, strlen(value));
}

static void test_head_fields(void **state) {
  (void)state;
  static with_fields w;
  /* Names as sent, values without the whitespace around them, empty
   * values, obs-text; the same result as connectc_http1_check_head. */
  static const char req[] = "\r\nPOST /pkg.Svc/M?x=1&y HTTP/1.1\r\nHost: h:1\r\nContent-Type:  "
                            "application/proto \t\r\nX-Empty:\r\nX-V: caf\xc3\xa9 \x80\r\n"
                            "Content-Length: 12\r\n\r\n";
  assert_int_equal(check_fields(LIT(req), &w), 1);
  assert_int_equal(w.h.n_fields, 5);
  expect_field(&w, 0, "Host", "h:1");
  expect_field(&w, 1, "Content-Type", "application/proto");
  expect_field(&w, 2, "X-Empty", "");
  expect_field(&w, 3, "X-V", "caf\xc3\xa9 \x80");
  expect_field(&w, 4, "Content-Length", "12");
  assert_int_equal(w.keep_alive, 1);
  connectc_http1_head plain;
  connectc_http_refusal why;
  assert_int_equal(connectc_http1_check_head(LIT(req), NULL, &plain, &why), 1);
  assert_int_equal(plain.head_len, w.h.head_len);
  assert_ptr_equal(plain.method, w.h.method);
  assert_ptr_equal(plain.target, w.h.target);
  assert_int_equal(plain.target_len, w.h.target_len);
  assert_int_equal(plain.n_fields, w.h.n_fields);
  assert_int_equal(plain.n_params, w.h.n_params);
  assert_int_equal(plain.content_length, 12);
  assert_int_equal(w.h.content_length, 12);
  assert_true(w.h.has_content_length);

  /* Keep-alive: HTTP/1.1 unless "close"; HTTP/1.0 only with "keep-alive";
   * close wins. */
  static const struct {
    const char *req;
    int keep_alive;
  } ka[] = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: te, Close\r\n\r\n", 0},
      {"GET / HTTP/1.0\r\n\r\n", 0},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", 1},
  };
  for (size_t i = 0; i < sizeof ka / sizeof ka[0]; i++) {
    assert_int_equal(check_fields(ka[i].req, strlen(ka[i].req), &w), 1);
    assert_int_equal(w.keep_alive, ka[i].keep_alive);
  }
  /* Incomplete: 0, and keep_alive untouched. */
  assert_int_equal(check_fields(LIT("GET / HTTP/1.1\r\nHost: x\r\n"), &w), 0);
  assert_int_equal(w.keep_alive, -1);

  /* The limit's field lines fit; one more is refused as by the plain
   * check, and never written past the array. */
  static char many[8192];
  connectc_http1_limits lim = {0, 4};
  connectc_http1_field four[4];
  size_t n = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
  assert_int_equal(connectc_http1_check_head_fields(many, n, &lim, &w.h, four, 4, NULL, &why), 1);
  assert_int_equal(w.h.n_fields, 4);
  assert_memory_equal(four[3].name, "C", 1);
  n = (size_t)snprintf(many, sizeof many,
                       "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
  assert_int_equal(connectc_http1_check_head_fields(many, n, &lim, &w.h, four, 4, NULL, &why),
                   CONNECTC_ERR_LIMIT);
  assert_int_equal(why.status, 431);
  /* Too small an array for the limit, or none: an argument error. */
  assert_int_equal(connectc_http1_check_head_fields(many, n, &lim, &w.h, four, 3, NULL, &why),
                   CONNECTC_ERR_ARGUMENT);
  assert_int_equal(connectc_http1_check_head_fields(many, n, &lim, &w.h, NULL, 4, NULL, &why),
                   CONNECTC_ERR_ARGUMENT);
  assert_int_equal(connectc_http1_check_head_fields(many, n, NULL, &w.h, w.f,
                                                    CONNECTC_HTTP1_DEFAULT_MAX_FIELDS - 1, NULL,
                                                    &why),
                   CONNECTC_ERR_ARGUMENT);
}

static void expect_refusal(const char *req, size_t len, int status, connectc_code code,
                           const char *message) {
  connectc_http1_head h;
  connectc_http_refusal why;
  int rv = check(req, len, &h, &why);
  if (rv >= 0 || why.status != status)
    fprintf(stderr, "request %.*s: rv %d status %d (%s)\n", (int)len, req, rv, why.status,
            why.message);
  assert_true(rv < 0);
  assert_int_equal(why.status, status);
  assert_int_equal(why.code, code);
  if (message) assert_string_equal(why.message, message);
}

#define H "POST " SAY " HTTP/1.1\r\nHost: x\r\n"
#define BADREQ(s, msg) expect_refusal(LIT(s), 400, CONNECTC_CODE_INVALID_ARGUMENT, msg)

static void test_head_refused(void **state) {
  (void)state;
  /* Malformed Content-Length: one 400 (or 413), never a second reading. */
  BADREQ(H "Content-Length: -1\r\n\r\n", "invalid Content-Length \"-1\": expected decimal digits only");
  BADREQ(H "Content-Length: 0x7\r\n\r\n", NULL);
  BADREQ(H "Content-Length: 7, 7\r\n\r\n", NULL);
  BADREQ(H "Content-Length: 3\r\nContent-Length: 3\r\n\r\n",
         "the request carries 2 Content-Length fields: the body length is ambiguous");
  expect_refusal(LIT(H "Content-Length: 18446744073709551617\r\n\r\n"), 413,
                 CONNECTC_CODE_RESOURCE_EXHAUSTED, NULL);
  expect_refusal(LIT(H "Content-Length: 99999999999999999999999\r\n\r\n"), 413,
                 CONNECTC_CODE_RESOURCE_EXHAUSTED, NULL);
  BADREQ(H "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         "the request carries both Content-Length and Transfer-Encoding: the body length is "
         "ambiguous");
  BADREQ(H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", NULL);
  BADREQ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
         "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)");
  expect_refusal(LIT(H "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501,
                 CONNECTC_CODE_UNIMPLEMENTED,
                 "unsupported Transfer-Encoding \"gzip, chunked\": only chunked is");
  /* NUL bytes anywhere. */
  BADREQ(H "X-Foo: a\0b\r\n\r\n", "field X-Foo holds a NUL (byte 0x00 at offset 1 of \"a\\x00b\")");
  BADREQ(H "Content-Type: application/proto\0junk\r\n\r\n", NULL);
  BADREQ("POST " SAY "\0junk HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
  BADREQ(H "X-A\0: b\r\n\r\n", NULL);
  /* Host. */
  BADREQ("POST " SAY " HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
         "an HTTP/1.1 request must carry a Host field (RFC 9112 3.2)");
  BADREQ(H "Host: y\r\n\r\n", NULL);
  BADREQ("POST " SAY " HTTP/1.1\r\nHost: a b\r\n\r\n", NULL);
  /* Line structure. */
  BADREQ(H "X-A: b\rTransfer-Encoding: chunked\r\n\r\n",
         "field X-A holds a bare CR (byte 0x0d at offset 1 of \"b\\x0dTransfer-Encoding: "
         "chunked\")");
  BADREQ(H "Transfer-Encoding : chunked\r\n\r\n",
         "whitespace between a field name and its colon in \"Transfer-Encoding : chunked\"");
  BADREQ(H "X-A: b\r\n continued\r\n\r\n",
         "a field line starts with whitespace (obsolete line folding, RFC 9112 5.2)");
  BADREQ(H "no colon here\r\n\r\n", NULL);
  BADREQ(H ": empty name\r\n\r\n", NULL);
  BADREQ("POST  " SAY " HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
  BADREQ("POST " SAY "  HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
  BADREQ("POST " SAY " HTTP/1.1 \r\nHost: x\r\n\r\n", NULL);
  BADREQ("POST " SAY "\r\nHost: x\r\n\r\n", NULL);
  BADREQ("POST " SAY " FTP/1.1\r\nHost: x\r\n\r\n", NULL);
  BADREQ("PO(ST " SAY " HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
  BADREQ("POST " SAY " HTTP/1.1\rHost: x\r\r", "a bare CR in the request line");
  BADREQ("\r\r\nGET / HTTP/1.1\r\n\r\n", "a bare CR before the request line");
  BADREQ("\n\n\n\n\n\n\n\n\n\nGET / HTTP/1.1\r\n\r\n",
         "more than 8 empty lines before the request line");
  BADREQ("POST * HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
  BADREQ("POST /a#b HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
  expect_refusal(LIT("POST " SAY " HTTP/2.0\r\nHost: x\r\n\r\n"), 505,
                 CONNECTC_CODE_UNIMPLEMENTED,
                 "HTTP version \"HTTP/2.0\" is not supported: this server speaks HTTP/1.0 and 1.1");
  /* The HTTP/2 connection preface (prior knowledge) over HTTP/1.1. */
  expect_refusal(LIT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505, CONNECTC_CODE_UNIMPLEMENTED,
                 NULL);
  expect_refusal(LIT(H "Expect: 200-ok\r\n\r\n"), 417, CONNECTC_CODE_UNIMPLEMENTED,
                 "unknown expectation \"200-ok\": only 100-continue is supported");
}

static void test_head_limits(void **state) {
  (void)state;
  connectc_http1_limits lim = {256, 10};
  connectc_http1_head h;
  connectc_http_refusal why;
  char buf[2048];
  /* A request line that does not end within the limit: 414 as soon as
   * the limit is passed, whether or not the rest has arrived. */
  memset(buf, 'a', sizeof buf);
  memcpy(buf, "GET /", 5);
  assert_int_equal(connectc_http1_check_head(buf, 256, &lim, &h, &why), 0);
  assert_int_equal(connectc_http1_check_head(buf, 257, &lim, &h, &why), CONNECTC_ERR_LIMIT);
  assert_int_equal(why.status, 414);
  assert_int_equal(why.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(why.message,
                      "the request line exceeds the request head limit of 256 bytes without "
                      "ending");
  /* Fields past the byte limit: 431. */
  int n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(buf + n, 'b', 300);
  assert_int_equal(connectc_http1_check_head(buf, (size_t)n + 300, &lim, &h, &why),
                   CONNECTC_ERR_LIMIT);
  assert_int_equal(why.status, 431);
  /* Too many fields, parameters and cookies together. */
  n = snprintf(buf, sizeof buf, "GET /?a&b&c HTTP/1.1\r\nHost: x\r\nCookie: a; b; c\r\n"
                                "X-1: 1\r\nX-2: 2\r\nX-3: 3\r\n\r\n");
  assert_int_equal(connectc_http1_check_head(buf, (size_t)n, &lim, &h, &why), CONNECTC_ERR_LIMIT);
  assert_int_equal(why.status, 431);
  assert_string_equal(why.message,
                      "the request head has more than 10 fields, query parameters and cookies "
                      "(5 fields, 3 parameters, 3 cookies so far)");
  /* Too many parameters alone: 414. */
  n = snprintf(buf, sizeof buf, "GET /?a&b&c&d&e&f&g&h&i&j&k HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(connectc_http1_check_head(buf, (size_t)n, &lim, &h, &why), CONNECTC_ERR_LIMIT);
  assert_int_equal(why.status, 414);
  assert_string_equal(why.message,
                      "the request target has 11 query parameters, more than the limit of 10");
  /* The defaults allow a normal head. */
  n = snprintf(buf, sizeof buf, "GET /?a&b&c HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_int_equal(connectc_http1_check_head(buf, (size_t)n, NULL, &h, &why), 1);
}

static void test_answers(void **state) {
  (void)state;
  connectc_http_refusal why = {400, CONNECTC_CODE_INVALID_ARGUMENT, "a \"quoted\" \\ thing"};
  char buf[512];
  size_t n = connectc_http1_write_refusal(buf, sizeof buf, &why);
  const char *want = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                     "Content-Length: 61\r\nConnection: close\r\n\r\n"
                     "{\"code\":\"invalid_argument\",\"message\":\"a \\\"quoted\\\" \\\\ thing\"}";
  assert_int_equal(n, strlen(want));
  assert_string_equal(buf, want);
  /* Too small a buffer: the length needed, the start written. */
  char small[10];
  assert_int_equal(connectc_http1_write_refusal(small, sizeof small, &why), strlen(want));
  assert_memory_equal(small, "HTTP/1.1 ", 9);
  assert_int_equal(small[9], 0);
  assert_int_equal(connectc_http1_write_refusal(NULL, 0, &why), strlen(want));
  connectc_headers hs;
  connectc_headers_init(&hs, NULL);
  connectc_headers_adds(&hs, "content-type", "application/connect+proto");
  n = connectc_http1_write_response_head(buf, sizeof buf, 200, &hs, 12, 1);
  assert_string_equal(buf, "HTTP/1.1 200 OK\r\ncontent-type: application/connect+proto\r\n"
                           "Content-Length: 12\r\nConnection: close\r\n\r\n");
  assert_int_equal(n, strlen(buf));
  n = connectc_http1_write_response_head(buf, sizeof buf, 429, NULL, -1, 0);
  assert_string_equal(buf, "HTTP/1.1 429 Too Many Requests\r\n\r\n");
  /* Chunked when there is no length (a length wins), close, and a status
   * outside 100-999 written as 500. */
  n = connectc_http1_write_response_head(buf, sizeof buf, 200, &hs, -1,
                                         CONNECTC_HTTP1_CHUNKED | CONNECTC_HTTP1_CLOSE);
  assert_string_equal(buf, "HTTP/1.1 200 OK\r\ncontent-type: application/connect+proto\r\n"
                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
  assert_int_equal(n, strlen(buf));
  n = connectc_http1_write_response_head(buf, sizeof buf, 200, NULL, 0, CONNECTC_HTTP1_CHUNKED);
  assert_string_equal(buf, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  n = connectc_http1_write_response_head(buf, sizeof buf, 1000, NULL, -1, 0);
  assert_string_equal(buf, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
  /* Too small a buffer: the length it needs, what fits, NUL-terminated. */
  char tiny[10];
  assert_int_equal(connectc_http1_write_response_head(tiny, sizeof tiny, 200, &hs, 12, 1),
                   strlen("HTTP/1.1 200 OK\r\ncontent-type: application/connect+proto\r\n"
                          "Content-Length: 12\r\nConnection: close\r\n\r\n"));
  assert_string_equal(tiny, "HTTP/1.1 ");
  /* The end of a chunked body, with trailers and without. */
  connectc_headers tr;
  connectc_headers_init(&tr, NULL);
  connectc_headers_adds(&tr, "grpc-status", "0");
  connectc_headers_adds(&tr, "grpc-message", "ok");
  n = connectc_http1_write_chunked_end(buf, sizeof buf, &tr);
  assert_string_equal(buf, "0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n");
  assert_int_equal(n, strlen(buf));
  assert_int_equal(connectc_http1_write_chunked_end(NULL, 0, NULL), 5);
  n = connectc_http1_write_chunked_end(buf, sizeof buf, NULL);
  assert_string_equal(buf, "0\r\n\r\n");
  connectc_headers_reset(&tr);
  connectc_headers_reset(&hs);
  assert_string_equal(connectc_http_reason(431), "Request Header Fields Too Large");
  assert_string_equal(connectc_http_reason(299), "Unknown");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields),       cmocka_unit_test(test_content_length),
      cmocka_unit_test(test_chunk_size),   cmocka_unit_test(test_target),
      cmocka_unit_test(test_decode_path),  cmocka_unit_test(test_host),
      cmocka_unit_test(test_head_good),    cmocka_unit_test(test_head_refused),
      cmocka_unit_test(test_head_limits),  cmocka_unit_test(test_answers),
      cmocka_unit_test(test_head_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
