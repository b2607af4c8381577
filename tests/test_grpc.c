/* gRPC and gRPC-Web: the wire pieces (grpc-timeout, grpc-message escaping,
 * google.rpc.Status, trailer blocks) and the exact shapes of server and
 * client calls in both protocols: heads, envelopes, trailers, trailers-only
 * responses, errors with details, and the status rules a client applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/client_call.h"
#include "connectc/envelope.h"
#include "connectc/server_call.h"
#include "grpc.h"

/* "name: value\n" for every entry, in order. */
static const char *dump(const connectc_headers *h) {
  static char out[2048];
  size_t n = 0;
  out[0] = 0;
  for (size_t i = 0; h && i < h->len; i++)
    n += (size_t)snprintf(out + n, sizeof out - n, "%s: %s\n", h->items[i].name,
                          h->items[i].value);
  return out;
}

/* ---- wire pieces ---- */

static void test_timeout(void **state) {
  (void)state;
  struct {
    const char *in;
    int64_t ms;
  } ok[] = {{"1H", 3600000},      {"2M", 120000}, {"3S", 3000},      {"200m", 200},
            {"199994u", 199},      {"1999999u", 1999}, {"5n", 0},   {"99999999H", 359999996400000LL},
            {"00000001m", 1}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t ms = -7;
    assert_int_equal(cc_grpc_timeout_parse(ok[i].in, strlen(ok[i].in), &ms), CONNECTC_OK);
    assert_int_equal(ms, ok[i].ms);
  }
  const char *bad[] = {"", "m", "1", "123456789m", "1h", "1x", "-1m", "1 m", " 1m", "1m ", "1.5S"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t ms;
    assert_int_equal(cc_grpc_timeout_parse(bad[i], strlen(bad[i]), &ms), CONNECTC_ERR_PROTOCOL);
  }
  char buf[CC_GRPC_TIMEOUT_MAX];
  assert_int_equal(cc_grpc_timeout_format(0, buf), 2);
  assert_string_equal(buf, "0m");
  cc_grpc_timeout_format(200, buf);
  assert_string_equal(buf, "200m");
  cc_grpc_timeout_format(99999999, buf);
  assert_string_equal(buf, "99999999m");
  cc_grpc_timeout_format(100000000, buf);
  assert_string_equal(buf, "100000S");
  cc_grpc_timeout_format(INT64_MAX, buf);
  assert_string_equal(buf, "99999999H");
  cc_grpc_timeout_format(-5, buf);
  assert_string_equal(buf, "0m");
}

static void test_percent(void **state) {
  (void)state;
  const connectc_allocator *a = connectc_default_allocator();
  cc_buf b = CC_BUF_INIT;
  const char *msg = "\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba 100%";
  assert_int_equal(cc_grpc_percent_encode(&b, a, msg, strlen(msg)), CONNECTC_OK);
  assert_int_equal(b.len, strlen("%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA 100%25"));
  assert_memory_equal(b.data, "%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA 100%25", b.len);
  cc_buf d = CC_BUF_INIT;
  assert_int_equal(cc_grpc_percent_decode(&d, a, (const char *)b.data, b.len), CONNECTC_OK);
  assert_string_equal((char *)d.data, msg);
  cc_buf_clear(&d);
  assert_int_equal(cc_grpc_percent_decode(&d, a, "a%e2%98%bA+b", 12), CONNECTC_OK);
  assert_string_equal((char *)d.data, "a\xe2\x98\xba+b");
  const char *bad[] = {"%", "%4", "%G0", "abc%0", "%%"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cc_buf_clear(&d);
    assert_int_equal(cc_grpc_percent_decode(&d, a, bad[i], strlen(bad[i])), CONNECTC_ERR_PROTOCOL);
  }
  cc_buf_free(&b, a);
  cc_buf_free(&d, a);
}

static void test_status_roundtrip(void **state) {
  (void)state;
  const connectc_allocator *a = connectc_default_allocator();
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_FAILED_PRECONDITION, "hi");
  connectc_error_add_detail(&e, "google.rpc.RetryInfo", (const uint8_t *)"\x0a\x00", 2);
  cc_buf b = CC_BUF_INIT;
  assert_int_equal(cc_grpc_status_encode(&b, a, &e), CONNECTC_OK);
  /* code 9, message "hi", one Any{type_url, value}. */
  static const uint8_t want[] = {0x08, 0x09, 0x12, 0x02, 'h', 'i', 0x1a, 0x2e, 0x0a, 0x28,
                                 't', 'y', 'p', 'e', '.', 'g', 'o', 'o', 'g', 'l', 'e', 'a',
                                 'p', 'i', 's', '.', 'c', 'o', 'm', '/', 'g', 'o', 'o', 'g',
                                 'l', 'e', '.', 'r', 'p', 'c', '.', 'R', 'e', 't', 'r', 'y',
                                 'I', 'n', 'f', 'o', 0x12, 0x02, 0x0a, 0x00};
  assert_int_equal(b.len, sizeof want);
  assert_memory_equal(b.data, want, sizeof want);
  connectc_error back;
  connectc_error_init(&back, NULL);
  assert_int_equal(cc_grpc_status_decode(b.data, b.len, &back), CONNECTC_OK);
  assert_int_equal(back.code, CONNECTC_CODE_FAILED_PRECONDITION);
  assert_string_equal(back.message, "hi");
  assert_int_equal(back.n_details, 1);
  assert_string_equal(back.details[0].type, "google.rpc.RetryInfo");
  assert_int_equal(back.details[0].value_len, 2);
  /* Malformed: truncated length, a group, wrong wire type for code. */
  static const uint8_t bad1[] = {0x12, 0x05, 'h'};
  static const uint8_t bad2[] = {0x0b};
  static const uint8_t bad3[] = {0x0a, 0x00};
  static const uint8_t bad4[] = {0x12, 0x01, 0xff}; /* not UTF-8 */
  assert_int_equal(cc_grpc_status_decode(bad1, sizeof bad1, &back), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(cc_grpc_status_decode(bad2, sizeof bad2, &back), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(cc_grpc_status_decode(bad3, sizeof bad3, &back), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(cc_grpc_status_decode(bad4, sizeof bad4, &back), CONNECTC_ERR_PROTOCOL);
  /* Unknown fields are skipped. */
  static const uint8_t unk[] = {0x08, 0x05, 0x25, 1, 2, 3, 4, 0x30, 0x01};
  assert_int_equal(cc_grpc_status_decode(unk, sizeof unk, &back), CONNECTC_OK);
  assert_int_equal(back.code, CONNECTC_CODE_NOT_FOUND);
  cc_buf_free(&b, a);
  connectc_error_reset(&e);
  connectc_error_reset(&back);
}

static void test_status_trailers(void **state) {
  (void)state;
  connectc_headers t;
  connectc_headers_init(&t, NULL);
  connectc_error e;
  connectc_error_init(&e, NULL);
  /* Success: grpc-status 0 only. */
  assert_int_equal(cc_grpc_status_to_trailers(&t, NULL), CONNECTC_OK);
  assert_string_equal(dump(&t), "grpc-status: 0\n");
  connectc_headers_reset(&t);
  connectc_error_set(&e, CONNECTC_CODE_UNAVAILABLE, "down 100%%");
  assert_int_equal(cc_grpc_status_to_trailers(&t, &e), CONNECTC_OK);
  assert_string_equal(dump(&t), "grpc-status: 14\ngrpc-message: down 100%25\n");
  connectc_error_add_detail(&e, "x.Y", NULL, 0);
  connectc_headers_reset(&t);
  assert_int_equal(cc_grpc_status_to_trailers(&t, &e), CONNECTC_OK);
  /* Details: unpadded base64 of the Status. */
  const char *bin = connectc_headers_get(&t, "grpc-status-details-bin");
  assert_non_null(bin);
  assert_null(strchr(bin, '='));
  connectc_error back;
  connectc_error_init(&back, NULL);
  assert_int_equal(cc_grpc_status_from_trailers(&t, 1, &back), CONNECTC_OK);
  assert_int_equal(back.code, CONNECTC_CODE_UNAVAILABLE);
  assert_string_equal(back.message, "down 100%");
  assert_int_equal(back.n_details, 1);
  assert_string_equal(back.details[0].type, "x.Y");
  /* The rules for odd statuses. */
  struct {
    const char *hdrs; /* name\0value\0... ending in an empty name */
    int have;
    connectc_code code;
    const char *msg;
  } cases[] = {
      {"", 0, CONNECTC_CODE_INTERNAL, "protocol error: no grpc-status: the response had no trailers"},
      {"x-a\0b" "\0", 1, CONNECTC_CODE_UNKNOWN, "protocol error: no grpc-status in the response trailers"},
      {"grpc-status\0abc" "\0", 1, CONNECTC_CODE_UNKNOWN, "protocol error: invalid grpc-status \"abc\""},
      {"grpc-status\0" "9\0grpc-message\0error" "\0", 1, CONNECTC_CODE_FAILED_PRECONDITION, "error"},
      {"grpc-status\0" "9\0grpc-message\0bad%zz" "\0", 1, CONNECTC_CODE_INTERNAL,
       "protocol error: invalid grpc-message \"bad%zz\": bad percent-encoding"},
      {"grpc-status\0" "99" "\0", 1, CONNECTC_CODE_UNKNOWN, ""},
      {"grpc-status\0" "3\0grpc-status-details-bin\0!!!" "\0", 1, CONNECTC_CODE_INTERNAL,
       "protocol error: invalid grpc-status-details-bin: not a base64-encoded google.rpc.Status"},
      {"grpc-status\0" "0\0grpc-message\0ignored" "\0", 1, CONNECTC_CODE_OK, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    connectc_headers h;
    connectc_headers_init(&h, NULL);
    const char *p = cases[i].hdrs;
    while (*p) {
      const char *v = p + strlen(p) + 1;
      connectc_headers_adds(&h, p, v);
      p = v + strlen(v) + 1;
    }
    connectc_error r;
    connectc_error_init(&r, NULL);
    assert_int_equal(cc_grpc_status_from_trailers(&h, cases[i].have, &r), CONNECTC_OK);
    if (r.code != cases[i].code) fprintf(stderr, "status case %zu\n", i);
    assert_int_equal(r.code, cases[i].code);
    if (cases[i].msg) assert_string_equal(r.message ? r.message : "", cases[i].msg);
    connectc_error_reset(&r);
    connectc_headers_reset(&h);
  }
  connectc_headers_reset(&t);
  connectc_error_reset(&e);
  connectc_error_reset(&back);
}

static void test_web_trailers(void **state) {
  (void)state;
  const connectc_allocator *a = connectc_default_allocator();
  connectc_headers t;
  connectc_headers_init(&t, NULL);
  connectc_error e;
  connectc_error_init(&e, NULL);
  const char *mixed = "Grpc-Status: 9\r\ngRPC-Message:  error \r\nx-Custom-Trailer: bing\r\n"
                      "x-custom-trailer:\tquux\nlast: no-crlf";
  assert_int_equal(cc_grpc_web_trailers_parse((const uint8_t *)mixed, strlen(mixed), &t, &e),
                   CONNECTC_OK);
  assert_string_equal(dump(&t), "grpc-status: 9\ngrpc-message: error\nx-custom-trailer: bing\n"
                                "x-custom-trailer: quux\nlast: no-crlf\n");
  cc_buf b = CC_BUF_INIT;
  assert_int_equal(cc_grpc_web_trailers_format(&b, a, &t), CONNECTC_OK);
  const char *want = "grpc-message: error\r\ngrpc-status: 9\r\nlast: no-crlf\r\n"
                     "x-custom-trailer: bing\r\nx-custom-trailer: quux\r\n";
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);
  struct {
    const char *in;
    const char *msg;
  } bad[] = {
      {"no colon\r\n", "gRPC-Web protocol error: trailers invalid: line 1 is not \"name: value\""},
      {"a: b\r\n: empty\r\n", "gRPC-Web protocol error: trailers invalid: line 2 is not \"name: value\""},
      {"bad name: v\r\n", "gRPC-Web protocol error: trailers invalid: the name on line 1 is not a token"},
      {"a: b\x01" "c\r\n", "gRPC-Web protocol error: trailers invalid: a control character in the value on line 1"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    connectc_headers_reset(&t);
    assert_int_equal(cc_grpc_web_trailers_parse((const uint8_t *)bad[i].in, strlen(bad[i].in), &t, &e),
                     CONNECTC_ERR_PROTOCOL);
    assert_int_equal(e.code, CONNECTC_CODE_INTERNAL);
    assert_string_equal(e.message, bad[i].msg);
  }
  /* A NUL byte inside a value is a control character, never a terminator. */
  static const uint8_t nul[] = {'a', ':', ' ', 'x', 0, 'y', '\r', '\n'};
  connectc_headers_reset(&t);
  assert_int_equal(cc_grpc_web_trailers_parse(nul, sizeof nul, &t, &e), CONNECTC_ERR_PROTOCOL);
  cc_buf_free(&b, a);
  connectc_headers_reset(&t);
  connectc_error_reset(&e);
}

/* ---- server calls ---- */

static const connectc_method_desc unary_m = {"/demo.v1.Echo/Say", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc server_m = {"/demo.v1.Echo/List", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc bidi_m = {"/demo.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 0};

typedef struct srv {
  int n_messages;
  char last[64];
  int n_end;
  int echo;
} srv;

static int s_message(connectc_server_call *s, const uint8_t *d, size_t n, void *ud) {
  srv *h = ud;
  h->n_messages++;
  if (n < sizeof h->last) {
    memcpy(h->last, d, n);
    h->last[n] = 0;
  }
  if (h->echo) connectc_server_call_send(s, d, n);
  return 0;
}

static void s_end(connectc_server_call *s, void *ud) {
  srv *h = ud;
  h->n_end++;
  if (h->echo) connectc_server_call_finish(s, NULL);
}

static const connectc_server_callbacks scbs = {.on_message = s_message, .on_end = s_end};

static connectc_server_call *srv_call(const connectc_method_desc *m, srv *h, const char *ctype,
                                      const char *const *extra, int expect_rv) {
  memset(h, 0, sizeof *h);
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_server_call_new(NULL, m, &scbs, h, NULL, &s), CONNECTC_OK);
  connectc_headers hd;
  connectc_headers_init(&hd, NULL);
  connectc_headers_adds(&hd, "content-type", ctype);
  connectc_headers_adds(&hd, "te", "trailers");
  for (size_t i = 0; extra && extra[i]; i += 2) connectc_headers_adds(&hd, extra[i], extra[i + 1]);
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &hd, 1000), expect_rv);
  connectc_headers_reset(&hd);
  return s;
}

static void feed_env(connectc_server_call *s, uint8_t flags, const char *msg) {
  uint8_t hdr[5];
  connectc_envelope_write_header(hdr, flags, (uint32_t)strlen(msg));
  assert_int_equal(connectc_server_call_recv_body(s, hdr, 5), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_body(s, (const uint8_t *)msg, strlen(msg)), CONNECTC_OK);
}

static size_t take_body(connectc_server_call *s, uint8_t *out, size_t cap) {
  const uint8_t *p;
  size_t n;
  int done;
  connectc_server_call_body_peek(s, &p, &n, &done);
  assert_true(done);
  assert_true(n <= cap);
  if (n) memcpy(out, p, n);
  connectc_server_call_body_consume(s, n);
  return n;
}

static const char *head_dump(connectc_server_call *s, int *status) {
  connectc_response_head rh;
  assert_int_equal(connectc_server_call_response_head(s, &rh), CONNECTC_OK);
  *status = rh.status;
  return dump(rh.headers);
}

static void test_server_grpc_unary(void **state) {
  (void)state;
  srv h;
  connectc_server_call *s = srv_call(&unary_m, &h, "application/grpc", NULL, CONNECTC_OK);
  assert_int_equal(connectc_server_call_protocol(s), CONNECTC_PROTOCOL_GRPC);
  h.echo = 1;
  feed_env(s, 0, "hello");
  assert_int_equal(h.n_messages, 1);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_end, 1);
  int status;
  const char *hd = head_dump(s, &status);
  assert_int_equal(status, 200);
  /* The bare request type is answered bare. */
  assert_non_null(strstr(hd, "content-type: application/grpc\n"));
  assert_non_null(strstr(hd, "grpc-accept-encoding: "));
  uint8_t b[64];
  size_t n = take_body(s, b, sizeof b);
  assert_int_equal(n, 10);
  assert_memory_equal(b, "\0\0\0\0\x05hello", 10);
  assert_string_equal(dump(connectc_server_call_response_http_trailers(s)), "grpc-status: 0\n");
  connectc_server_call_del(s);
}

static void test_server_grpc_error_trailers_only(void **state) {
  (void)state;
  srv h;
  connectc_server_call *s = srv_call(&unary_m, &h, "application/grpc+json", NULL, CONNECTC_OK);
  feed_env(s, 0, "{}");
  connectc_server_call_recv_end(s);
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_NOT_FOUND, "no such thing");
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-custom-trailer", "bing");
  assert_int_equal(connectc_server_call_finish(s, &e), CONNECTC_OK);
  int status;
  const char *hd = head_dump(s, &status);
  assert_int_equal(status, 200);
  assert_non_null(strstr(hd, "content-type: application/grpc+json\n"));
  assert_non_null(strstr(hd, "grpc-status: 5\ngrpc-message: no such thing\nx-custom-trailer: bing\n"));
  uint8_t b[8];
  assert_int_equal(take_body(s, b, sizeof b), 0);
  assert_null(connectc_server_call_response_http_trailers(s));
  connectc_error_reset(&e);
  connectc_server_call_del(s);
}

static void test_server_grpc_stream_with_headers(void **state) {
  (void)state;
  srv h;
  connectc_server_call *s = srv_call(&server_m, &h, "application/grpc+proto", NULL, CONNECTC_OK);
  feed_env(s, 0, "x");
  connectc_server_call_recv_end(s);
  connectc_headers_adds(connectc_server_call_response_headers(s), "x-custom-header", "foo");
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-custom-trailer", "bing");
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_ABORTED, "stop");
  connectc_error_add_detail(&e, "demo.Detail", (const uint8_t *)"\x08\x01", 2);
  assert_int_equal(connectc_server_call_finish(s, &e), CONNECTC_OK);
  int status;
  const char *hd = head_dump(s, &status);
  /* Custom headers exist: headers and trailers travel apart. */
  assert_non_null(strstr(hd, "x-custom-header: foo\n"));
  assert_null(strstr(hd, "grpc-status"));
  const connectc_headers *t = connectc_server_call_response_http_trailers(s);
  assert_non_null(t);
  assert_string_equal(connectc_headers_get(t, "grpc-status"), "10");
  assert_string_equal(connectc_headers_get(t, "grpc-message"), "stop");
  assert_string_equal(connectc_headers_get(t, "x-custom-trailer"), "bing");
  connectc_error back;
  connectc_error_init(&back, NULL);
  assert_int_equal(cc_grpc_status_from_trailers(t, 1, &back), CONNECTC_OK);
  assert_int_equal(back.code, CONNECTC_CODE_ABORTED);
  assert_int_equal(back.n_details, 1);
  assert_string_equal(back.details[0].type, "demo.Detail");
  connectc_error_reset(&back);
  connectc_error_reset(&e);
  connectc_server_call_del(s);
}

static void test_server_grpc_web(void **state) {
  (void)state;
  srv h;
  connectc_server_call *s = srv_call(&bidi_m, &h, "application/grpc-web+proto", NULL, CONNECTC_OK);
  assert_int_equal(connectc_server_call_protocol(s), CONNECTC_PROTOCOL_GRPC_WEB);
  h.echo = 1;
  feed_env(s, 0, "ab");
  feed_env(s, 0, "c");
  connectc_headers_adds(connectc_server_call_response_trailers(s), "X-Custom-Trailer", "bing");
  connectc_server_call_recv_end(s);
  int status;
  const char *hd = head_dump(s, &status);
  assert_non_null(strstr(hd, "content-type: application/grpc-web+proto\n"));
  uint8_t b[256];
  size_t n = take_body(s, b, sizeof b);
  const char *block = "grpc-status: 0\r\nx-custom-trailer: bing\r\n";
  size_t bl = strlen(block);
  assert_int_equal(n, 7 + 6 + 5 + bl);
  assert_memory_equal(b, "\0\0\0\0\x02" "ab" "\0\0\0\0\x01" "c", 13);
  assert_int_equal(b[13], 0x80);
  assert_int_equal(b[17], bl);
  assert_memory_equal(b + 18, block, bl);
  assert_null(connectc_server_call_response_http_trailers(s));
  connectc_server_call_del(s);

  /* Nothing sent and no headers: trailers-only, Content-Length 0. */
  s = srv_call(&server_m, &h, "application/grpc-web", NULL, CONNECTC_OK);
  feed_env(s, 0, "x");
  connectc_server_call_recv_end(s);
  connectc_server_call_finish(s, NULL);
  connectc_response_head rh;
  connectc_server_call_response_head(s, &rh);
  assert_int_equal(rh.content_length, 0);
  assert_string_equal(connectc_headers_get(rh.headers, "grpc-status"), "0");
  assert_string_equal(connectc_headers_get(rh.headers, "content-type"), "application/grpc-web");
  connectc_server_call_del(s);
}

static void test_server_grpc_refusals(void **state) {
  (void)state;
  srv h;
  int status;
  /* Unknown compression: HTTP 200, grpc-status 12, in the protocol's framing. */
  const char *enc[] = {"grpc-encoding", "foo", NULL};
  connectc_server_call *s = srv_call(&unary_m, &h, "application/grpc", enc, CONNECTC_ERR_PROTOCOL);
  const char *hd = head_dump(s, &status);
  assert_int_equal(status, 200);
  assert_non_null(strstr(hd, "content-type: application/grpc\n"));
  assert_non_null(strstr(hd, "grpc-status: 12\ngrpc-message: unknown compression \"foo\": supported encodings are "));
  connectc_server_call_del(s);
  /* Bad timeout: invalid_argument. */
  const char *tmo[] = {"grpc-timeout", "1x", NULL};
  s = srv_call(&unary_m, &h, "application/grpc-web+json", tmo, CONNECTC_ERR_PROTOCOL);
  hd = head_dump(s, &status);
  assert_non_null(strstr(hd, "grpc-status: 3\ngrpc-message: invalid grpc-timeout \"1x\": expected 1 to "
                             "8 digits and a unit (H, M, S, m, u, n)\n"));
  connectc_server_call_del(s);
  /* Unknown codec: 415, whatever the protocol. */
  s = srv_call(&unary_m, &h, "application/grpc+foo", NULL, CONNECTC_ERR_PROTOCOL);
  head_dump(s, &status);
  assert_int_equal(status, 415);
  connectc_server_call_del(s);
  /* Zero and two messages of a unary request: unimplemented. */
  s = srv_call(&unary_m, &h, "application/grpc", NULL, CONNECTC_OK);
  connectc_server_call_recv_end(s);
  hd = head_dump(s, &status);
  assert_non_null(strstr(hd, "grpc-status: 12\ngrpc-message: unary request has zero messages\n"));
  connectc_server_call_del(s);
  s = srv_call(&server_m, &h, "application/grpc", NULL, CONNECTC_OK);
  feed_env(s, 0, "a");
  feed_env(s, 0, "b");
  hd = head_dump(s, &status);
  assert_non_null(strstr(hd, "grpc-status: 12\ngrpc-message: unary request has multiple messages\n"));
  connectc_server_call_del(s);
  /* A compressed flag with identity: internal. */
  s = srv_call(&unary_m, &h, "application/grpc", NULL, CONNECTC_OK);
  feed_env(s, 1, "a");
  hd = head_dump(s, &status);
  assert_non_null(strstr(hd, "grpc-status: 13\n"));
  connectc_server_call_del(s);
  /* The timeout sets the deadline. */
  const char *t2[] = {"grpc-timeout", "1500m", NULL};
  s = srv_call(&unary_m, &h, "application/grpc", t2, CONNECTC_OK);
  assert_int_equal(connectc_server_call_deadline(s), 2500);
  connectc_server_call_tick(s, 2500);
  hd = head_dump(s, &status);
  assert_non_null(strstr(hd, "grpc-status: 4\n"));
  connectc_server_call_del(s);
}

static void test_server_grpc_gzip(void **state) {
  (void)state;
  if (!connectc_compression_supported(CONNECTC_COMPRESSION_GZIP)) return;
  srv h;
  const char *enc[] = {"grpc-encoding", "gzip", "grpc-accept-encoding", "gzip", NULL};
  connectc_server_call *s = srv_call(&unary_m, &h, "application/grpc", enc, CONNECTC_OK);
  connectc_compress_ctx *ctx = NULL;
  assert_int_equal(connectc_compress_ctx_new(NULL, &ctx), CONNECTC_OK);
  uint8_t *z = NULL;
  size_t zl = 0;
  assert_int_equal(connectc_compress(ctx, CONNECTC_COMPRESSION_GZIP, (const uint8_t *)"zipped", 6, &z, &zl),
                   CONNECTC_OK);
  uint8_t hdr[5];
  connectc_envelope_write_header(hdr, 1, (uint32_t)zl);
  connectc_server_call_recv_body(s, hdr, 5);
  connectc_server_call_recv_body(s, z, zl);
  assert_string_equal(h.last, "zipped");
  connectc_server_call_recv_end(s);
  connectc_server_call_send(s, (const uint8_t *)"out", 3);
  connectc_server_call_finish(s, NULL);
  int status;
  const char *hd = head_dump(s, &status);
  assert_non_null(strstr(hd, "grpc-encoding: gzip\n"));
  connectc_free(NULL, z);
  connectc_compress_ctx_del(ctx);
  connectc_server_call_del(s);
}

/* ---- client calls ---- */

typedef struct cli {
  int n_headers, n_messages, n_close;
  char msgs[4][32];
  connectc_code code;
  char message[256];
  char trailers[512];
  size_t n_details;
} cli;

static int c_headers(connectc_client_call *c, const connectc_headers *h, void *ud) {
  (void)c;
  (void)h;
  ((cli *)ud)->n_headers++;
  return 0;
}

static int c_message(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)c;
  cli *r = ud;
  if (r->n_messages < 4 && n < 32) {
    memcpy(r->msgs[r->n_messages], d, n);
    r->msgs[r->n_messages][n] = 0;
  }
  r->n_messages++;
  return 0;
}

static void c_close(connectc_client_call *c, const connectc_error *e, const connectc_headers *t,
                    void *ud) {
  (void)c;
  cli *r = ud;
  r->n_close++;
  r->code = e->code;
  snprintf(r->message, sizeof r->message, "%s", e->message ? e->message : "");
  snprintf(r->trailers, sizeof r->trailers, "%s", dump(t));
  r->n_details = e->n_details;
}

static const connectc_client_callbacks ccbs = {
    .on_headers = c_headers, .on_message = c_message, .on_close = c_close};

static connectc_client_call *cli_call(connectc_protocol p, connectc_stream_type st, const char *codec,
                                      cli *r) {
  memset(r, 0, sizeof *r);
  connectc_client_config cfg = {.procedure = "/demo.v1.Echo/Say",
                                .stream_type = st,
                                .codec = codec,
                                .protocol = p,
                                .timeout_ms = 2000};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &ccbs, r, NULL, 0, &c), CONNECTC_OK);
  return c;
}

static void resp_head(connectc_client_call *c, int status, const char *const *kv) {
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  for (size_t i = 0; kv && kv[i]; i += 2) connectc_headers_adds(&h, kv[i], kv[i + 1]);
  assert_int_equal(connectc_client_call_recv_head(c, status, &h), CONNECTC_OK);
  connectc_headers_reset(&h);
}

static void resp_env(connectc_client_call *c, uint8_t flags, const char *payload) {
  uint8_t hdr[5];
  connectc_envelope_write_header(hdr, flags, (uint32_t)strlen(payload));
  connectc_client_call_recv_body(c, hdr, 5);
  connectc_client_call_recv_body(c, (const uint8_t *)payload, strlen(payload));
}

static void resp_trailers(connectc_client_call *c, const char *const *kv) {
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  for (size_t i = 0; kv[i]; i += 2) connectc_headers_adds(&h, kv[i], kv[i + 1]);
  assert_int_equal(connectc_client_call_recv_trailers(c, &h), CONNECTC_OK);
  connectc_headers_reset(&h);
}

static void test_client_grpc_request(void **state) {
  (void)state;
  cli r;
  connectc_client_call *c = cli_call(CONNECTC_PROTOCOL_GRPC, CONNECTC_STREAM_UNARY, "proto", &r);
  assert_int_equal(connectc_client_call_requires_http2(c), 1);
  connectc_request_head rh;
  assert_int_equal(connectc_client_call_request_head(c, &rh), CONNECTC_ERR_STATE);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"hi", 2), CONNECTC_OK);
  assert_int_equal(connectc_client_call_request_head(c, &rh), CONNECTC_OK);
  assert_string_equal(rh.method, "POST");
  assert_int_equal(rh.content_length, 7);
  const char *hd = dump(rh.headers);
  assert_non_null(strstr(hd, "content-type: application/grpc\nte: trailers\ngrpc-timeout: 2000m\n"));
  assert_non_null(strstr(hd, "grpc-accept-encoding: "));
  const uint8_t *b;
  size_t n;
  int done;
  connectc_client_call_body_peek(c, &b, &n, &done);
  assert_int_equal(n, 7);
  assert_int_equal(done, 1);
  assert_memory_equal(b, "\0\0\0\0\x02hi", 7);
  connectc_client_call_del(c);

  c = cli_call(CONNECTC_PROTOCOL_GRPC_WEB, CONNECTC_STREAM_BIDI, "json", &r);
  assert_int_equal(connectc_client_call_requires_http2(c), 0);
  assert_int_equal(connectc_client_call_request_head(c, &rh), CONNECTC_OK);
  hd = dump(rh.headers);
  assert_non_null(strstr(hd, "content-type: application/grpc-web+json\ngrpc-timeout: 2000m\n"));
  assert_null(strstr(hd, "te: "));
  connectc_client_call_del(c);
}

static void test_client_grpc_success(void **state) {
  (void)state;
  cli r;
  connectc_client_call *c = cli_call(CONNECTC_PROTOCOL_GRPC, CONNECTC_STREAM_UNARY, "proto", &r);
  connectc_client_call_send(c, (const uint8_t *)"hi", 2);
  const char *h[] = {"content-type", "application/grpc+proto", "x-custom-header", "foo", NULL};
  resp_head(c, 200, h);
  resp_env(c, 0, "answer");
  assert_int_equal(r.n_messages, 0); /* held until the status says OK */
  const char *t[] = {"grpc-status", "0", "x-custom-trailer", "bing", NULL};
  resp_trailers(c, t);
  connectc_client_call_recv_end(c);
  assert_int_equal(r.n_close, 1);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n_messages, 1);
  assert_string_equal(r.msgs[0], "answer");
  assert_string_equal(r.trailers, "x-custom-trailer: bing\n");
  connectc_client_call_del(c);
}

/* One scripted response; returns the code it ended with. */
typedef struct script {
  connectc_protocol protocol;
  connectc_stream_type st;
  int status;
  const char *headers[8];
  const char *messages[3]; /* plain payloads, flags 0 */
  const char *web_trailers; /* gRPC-Web trailer frame payload, or NULL */
  uint8_t web_flags;
  const char *trailers[8];  /* HTTP trailers (NULL first: none) */
  connectc_code want;
  int want_messages;
} script;

static void run_script(const script *sc, cli *r) {
  connectc_client_call *c = cli_call(sc->protocol, sc->st, "proto", r);
  connectc_client_call_send(c, (const uint8_t *)"q", 1);
  connectc_client_call_close_send(c);
  resp_head(c, sc->status, sc->headers);
  for (size_t i = 0; i < 3 && sc->messages[i]; i++) resp_env(c, 0, sc->messages[i]);
  if (sc->web_trailers) resp_env(c, sc->web_flags ? sc->web_flags : 0x80, sc->web_trailers);
  if (sc->trailers[0]) resp_trailers(c, sc->trailers);
  connectc_client_call_recv_end(c);
  assert_int_equal(r->n_close, 1);
  connectc_client_call_del(c);
}

static void test_client_grpc_rules(void **state) {
  (void)state;
#define G CONNECTC_PROTOCOL_GRPC
#define W CONNECTC_PROTOCOL_GRPC_WEB
#define U CONNECTC_STREAM_UNARY
#define SS CONNECTC_STREAM_SERVER
#define CT(x) "content-type", x
  static const script cases[] = {
      /* HTTP status first. */
      {G, U, 400, {NULL}, {NULL}, NULL, 0, {NULL}, CONNECTC_CODE_INTERNAL, 0},
      {G, U, 503, {NULL}, {NULL}, NULL, 0, {NULL}, CONNECTC_CODE_UNAVAILABLE, 0},
      {W, U, 404, {NULL}, {NULL}, NULL, 0, {NULL}, CONNECTC_CODE_UNIMPLEMENTED, 0},
      /* Content types. */
      {G, U, 200, {CT("image/jpeg")}, {NULL}, NULL, 0, {NULL}, CONNECTC_CODE_UNKNOWN, 0},
      {G, U, 200, {CT("application/grpc+json")}, {NULL}, NULL, 0, {NULL}, CONNECTC_CODE_INTERNAL, 0},
      {W, U, 200, {CT("application/grpc")}, {NULL}, NULL, 0, {NULL}, CONNECTC_CODE_UNKNOWN, 0},
      {G, U, 200, {CT("application/grpc"), "grpc-encoding", "foo"}, {NULL}, NULL, 0, {NULL},
       CONNECTC_CODE_INTERNAL, 0},
      /* Trailers-only: the status in the headers. */
      {G, SS, 200, {CT("application/grpc"), "grpc-status", "9", "grpc-message", "error"}, {NULL}, NULL,
       0, {NULL}, CONNECTC_CODE_FAILED_PRECONDITION, 0},
      /* Body but no trailers: the header status is ignored. */
      {G, SS, 200, {CT("application/grpc"), "grpc-status", "8"}, {"m"}, NULL, 0, {NULL},
       CONNECTC_CODE_INTERNAL, 1},
      /* Trailers win over the headers. */
      {G, SS, 200, {CT("application/grpc"), "grpc-status", "8"}, {NULL}, NULL, 0,
       {"grpc-status", "9", NULL}, CONNECTC_CODE_FAILED_PRECONDITION, 0},
      /* Trailers without a status: unknown; none at all: internal. */
      {G, SS, 200, {CT("application/grpc")}, {"m"}, NULL, 0, {"grpc-message", "x", NULL},
       CONNECTC_CODE_UNKNOWN, 1},
      /* Unary cardinality. */
      {G, U, 200, {CT("application/grpc")}, {NULL}, NULL, 0, {"grpc-status", "0", NULL},
       CONNECTC_CODE_UNIMPLEMENTED, 0},
      {G, U, 200, {CT("application/grpc")}, {"a", "b"}, NULL, 0, {"grpc-status", "0", NULL},
       CONNECTC_CODE_UNIMPLEMENTED, 0},
      /* gRPC-Web: body trailers, mixed case; header ignored when a body is present. */
      {W, SS, 200, {CT("application/grpc-web+proto"), "grpc-status", "8"}, {"a"},
       "Grpc-Status: 9\r\ngRPC-Message: error\r\nx-Custom-Trailer: bing\r\n", 0, {NULL},
       CONNECTC_CODE_FAILED_PRECONDITION, 1},
      {W, U, 200, {CT("application/grpc-web")}, {"a"}, "grpc-status: 0\r\n", 0, {NULL},
       CONNECTC_CODE_OK, 1},
      {W, SS, 200, {CT("application/grpc-web")}, {"a"}, "grpc-message: error\r\n", 0, {NULL},
       CONNECTC_CODE_UNKNOWN, 1},
      {W, SS, 200, {CT("application/grpc-web")}, {"a"}, NULL, 0, {NULL}, CONNECTC_CODE_INTERNAL, 1},
      /* A frame flag that is neither a message nor trailers. */
      {W, SS, 200, {CT("application/grpc-web")}, {NULL}, "x", 0x40, {NULL}, CONNECTC_CODE_INTERNAL, 0},
      /* gRPC-Web trailers-only. */
      {W, U, 200, {CT("application/grpc-web"), "grpc-status", "5"}, {NULL}, NULL, 0, {NULL},
       CONNECTC_CODE_NOT_FOUND, 0},
      {W, U, 200, {CT("application/grpc-web"), "grpc-message", "only"}, {NULL}, NULL, 0, {NULL},
       CONNECTC_CODE_UNKNOWN, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cli r;
    run_script(&cases[i], &r);
    if (r.code != cases[i].want || r.n_messages != cases[i].want_messages)
      fprintf(stderr, "rule case %zu: code %d (%s), %d messages\n", i, r.code, r.message, r.n_messages);
    assert_int_equal(r.code, cases[i].want);
    assert_int_equal(r.n_messages, cases[i].want_messages);
  }
}

static void test_client_grpc_error_details(void **state) {
  (void)state;
  connectc_headers t;
  connectc_headers_init(&t, NULL);
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                     "\ntest with whitespace\r\nand Unicode BMP \xe2\x98\xba and non-BMP \xf0\x9f\x98\x88\n");
  connectc_error_add_detail(&e, "connectrpc.conformance.v1.ConformancePayload.RequestInfo",
                            (const uint8_t *)"\x0a\x00", 2);
  cc_grpc_status_to_trailers(&t, &e);
  connectc_headers_adds(&t, "x-custom-trailer", "bing");
  cli r;
  connectc_client_call *c = cli_call(CONNECTC_PROTOCOL_GRPC, CONNECTC_STREAM_SERVER, "proto", &r);
  connectc_client_call_send(c, (const uint8_t *)"q", 1);
  const char *h[] = {CT("application/grpc"), NULL};
  resp_head(c, 200, h);
  resp_env(c, 0, "one");
  assert_int_equal(r.n_messages, 1); /* server streams deliver at once */
  connectc_client_call_recv_trailers(c, &t);
  connectc_client_call_recv_end(c);
  assert_int_equal(r.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(r.message, e.message);
  assert_int_equal(r.n_details, 1);
  /* The status entries are not reported as application trailers. */
  assert_string_equal(r.trailers, "x-custom-trailer: bing\n");
  connectc_client_call_del(c);
  connectc_headers_reset(&t);
  connectc_error_reset(&e);
}

static void test_client_grpc_web_trailers_only_metadata(void **state) {
  (void)state;
  cli r;
  connectc_client_call *c = cli_call(CONNECTC_PROTOCOL_GRPC_WEB, CONNECTC_STREAM_UNARY, "proto", &r);
  connectc_client_call_send(c, (const uint8_t *)"q", 1);
  const char *h[] = {CT("application/grpc-web+proto"), "grpc-status", "9", "grpc-message", "error",
                     "x-custom-trailer", "bing", NULL};
  resp_head(c, 200, h);
  connectc_client_call_recv_end(c);
  assert_int_equal(r.code, CONNECTC_CODE_FAILED_PRECONDITION);
  assert_string_equal(r.message, "error");
  assert_string_equal(r.trailers, "x-custom-trailer: bing\n");
  connectc_client_call_del(c);
  /* Data after the trailer frame is corrupt. */
  c = cli_call(CONNECTC_PROTOCOL_GRPC_WEB, CONNECTC_STREAM_SERVER, "proto", &r);
  connectc_client_call_send(c, (const uint8_t *)"q", 1);
  const char *h2[] = {CT("application/grpc-web"), NULL};
  resp_head(c, 200, h2);
  resp_env(c, 0x80, "grpc-status: 0\r\n");
  resp_env(c, 0, "late");
  assert_int_equal(r.n_close, 1);
  assert_int_equal(r.code, CONNECTC_CODE_INTERNAL);
  connectc_client_call_del(c);
#undef G
#undef W
#undef U
#undef SS
#undef CT
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_percent),
      cmocka_unit_test(test_status_roundtrip),
      cmocka_unit_test(test_status_trailers),
      cmocka_unit_test(test_web_trailers),
      cmocka_unit_test(test_server_grpc_unary),
      cmocka_unit_test(test_server_grpc_error_trailers_only),
      cmocka_unit_test(test_server_grpc_stream_with_headers),
      cmocka_unit_test(test_server_grpc_web),
      cmocka_unit_test(test_server_grpc_refusals),
      cmocka_unit_test(test_server_grpc_gzip),
      cmocka_unit_test(test_client_grpc_request),
      cmocka_unit_test(test_client_grpc_success),
      cmocka_unit_test(test_client_grpc_rules),
      cmocka_unit_test(test_client_grpc_error_details),
      cmocka_unit_test(test_client_grpc_web_trailers_only_metadata),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
