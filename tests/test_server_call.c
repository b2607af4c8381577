/* The server call state machine: request validation with the exact HTTP
 * status and Connect error, message delivery, and exact response bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/server_call.h"
#include "connectc/envelope.h"
#include "connectc/router.h"

static const connectc_method_desc unary_m = {"/demo.v1.Echo/Say", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc get_m = {"/demo.v1.Echo/Get", CONNECTC_STREAM_UNARY, 1};
static const connectc_method_desc server_m = {"/demo.v1.Echo/List", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc client_m = {"/demo.v1.Echo/Sum", CONNECTC_STREAM_CLIENT, 0};
static const connectc_method_desc bidi_m = {"/demo.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 0};

static size_t env(uint8_t *out, uint8_t flags, const char *payload);

typedef struct handler {
  int n_messages;
  char last[64];
  int n_end;
  int n_cancel;
  connectc_code cancel_code;
  int echo; /* echo each message back and finish on end */
} handler;

static int h_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  handler *h = ud;
  h->n_messages++;
  if (len < sizeof h->last) {
    memcpy(h->last, data, len);
    h->last[len] = 0;
  }
  if (h->echo) connectc_server_call_send(s, data, len);
  return 0;
}

static void h_end(connectc_server_call *s, void *ud) {
  handler *h = ud;
  h->n_end++;
  if (h->echo) connectc_server_call_finish(s, NULL);
}

static void h_cancel(connectc_server_call *s, const connectc_error *why, void *ud) {
  (void)s;
  handler *h = ud;
  h->n_cancel++;
  h->cancel_code = why->code;
}

static const connectc_server_callbacks cbs = {.on_message = h_message, .on_end = h_end, .on_cancel = h_cancel};

static connectc_server_call *new_call(const connectc_method_desc *m, handler *h,
                                      const connectc_server_config *cfg) {
  memset(h, 0, sizeof *h);
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_server_call_new(cfg, m, &cbs, h, NULL, &s), CONNECTC_OK);
  return s;
}

static int head(connectc_server_call *s, const char *method, const char *query,
                const char *const *hdrs, int64_t now) {
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  for (size_t i = 0; hdrs && hdrs[i]; i += 2)
    assert_int_equal(connectc_headers_adds(&h, hdrs[i], hdrs[i + 1]), CONNECTC_OK);
  int rv = connectc_server_call_recv_head(s, method, query, &h, now);
  connectc_headers_reset(&h);
  return rv;
}

/* Collects the whole response body. */
static size_t body(connectc_server_call *s, uint8_t *out, size_t cap, int *done) {
  const uint8_t *p;
  size_t len;
  connectc_server_call_body_peek(s, &p, &len, done);
  assert_true(len <= cap);
  if (len) memcpy(out, p, len);
  connectc_server_call_body_consume(s, len);
  return len;
}

static void expect_status(connectc_server_call *s, int status) {
  connectc_response_head rh;
  assert_int_equal(connectc_server_call_response_head(s, &rh), CONNECTC_OK);
  assert_int_equal(rh.status, status);
}

static const char *resp_header(connectc_server_call *s, const char *name) {
  connectc_response_head rh;
  assert_int_equal(connectc_server_call_response_head(s, &rh), CONNECTC_OK);
  return connectc_headers_get(rh.headers, name);
}

static void expect_body(connectc_server_call *s, const char *want) {
  uint8_t buf[1024];
  int done;
  size_t n = body(s, buf, sizeof buf, &done);
  assert_int_equal(done, 1);
  buf[n] = 0;
  assert_string_equal((char *)buf, want);
}

static void test_not_found_and_method(void **state) {
  (void)state;
  handler h;
  connectc_server_call *s = new_call(NULL, &h, NULL);
  assert_int_equal(head(s, "POST", NULL, NULL, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 404);
  assert_true(connectc_server_call_is_finished(s));
  connectc_server_call_del(s);

  s = new_call(&unary_m, &h, NULL);
  assert_int_equal(head(s, "GET", "encoding=proto&message=", NULL, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 405);
  assert_string_equal(resp_header(s, "allow"), "POST");
  connectc_server_call_del(s);

  s = new_call(&get_m, &h, NULL);
  assert_int_equal(head(s, "PUT", NULL, NULL, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 405);
  assert_string_equal(resp_header(s, "allow"), "GET, POST");
  connectc_server_call_del(s);

  s = new_call(&server_m, &h, NULL);
  assert_int_equal(head(s, "GET", "encoding=proto&message=", NULL, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 405);
  connectc_server_call_del(s);
}

static void test_content_type_refused(void **state) {
  (void)state;
  const char *bad[] = {"text/plain", "application/connect+proto", "application/xml", NULL};
  for (size_t i = 0; bad[i]; i++) {
    handler h;
    connectc_server_call *s = new_call(&unary_m, &h, NULL);
    const char *const hdrs[] = {"content-type", bad[i], NULL};
    assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_ERR_PROTOCOL);
    expect_status(s, 415);
    assert_string_equal(resp_header(s, "accept-post"),
                        "application/proto, application/json, application/grpc+proto, "
                        "application/grpc+json, application/grpc-web+proto, "
                        "application/grpc-web+json");
    connectc_server_call_del(s);
  }
  handler h;
  connectc_server_call *s = new_call(&bidi_m, &h, NULL);
  const char *const hdrs[] = {"content-type", "application/proto", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 415);
  assert_string_equal(resp_header(s, "accept-post"),
                      "application/connect+proto, application/connect+json, "
                      "application/grpc+proto, application/grpc+json, "
                      "application/grpc-web+proto, application/grpc-web+json");
  connectc_server_call_del(s);
}

static void test_unknown_compression(void **state) {
  (void)state;
  char want[256];
  snprintf(want, sizeof want,
           "{\"code\":\"unimplemented\",\"message\":\"unknown compression \\\"lz4\\\": "
           "supported encodings are %s\"}",
           connectc_compressions_accept_header());
  handler h;
  connectc_server_call *s = new_call(&unary_m, &h, NULL);
  const char *const hdrs[] = {"content-type", "application/proto", "content-encoding", "lz4", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 501);
  assert_string_equal(resp_header(s, "content-type"), "application/json");
  expect_body(s, want);
  connectc_server_call_del(s);

  /* Streams report it in the end-of-stream message of a 200 response. */
  s = new_call(&bidi_m, &h, NULL);
  const char *const shdrs[] = {"content-type", "application/connect+proto",
                               "connect-content-encoding", "lz4", NULL};
  assert_int_equal(head(s, "POST", NULL, shdrs, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 200);
  assert_string_equal(resp_header(s, "content-type"), "application/connect+proto");
  uint8_t buf[512];
  int done;
  size_t n = body(s, buf, sizeof buf, &done);
  assert_int_equal(done, 1);
  assert_true(n > 5);
  assert_int_equal(buf[0], CONNECTC_ENVELOPE_FLAG_END_STREAM);
  char end[300];
  snprintf(end, sizeof end, "{\"error\":%s}", want);
  assert_int_equal(n - 5, strlen(end));
  assert_memory_equal(buf + 5, end, n - 5);
  connectc_server_call_del(s);
}

static void test_bad_timeout_and_version(void **state) {
  (void)state;
  struct {
    const char *name, *value, *body;
  } cases[] = {
      {"connect-timeout-ms", "12345678901",
       "{\"code\":\"invalid_argument\",\"message\":\"invalid connect-timeout-ms \\\"12345678901\\\": "
       "expected 1 to 10 digits\"}"},
      {"connect-timeout-ms", "-1",
       "{\"code\":\"invalid_argument\",\"message\":\"invalid connect-timeout-ms \\\"-1\\\": "
       "expected 1 to 10 digits\"}"},
      {"connect-protocol-version", "2",
       "{\"code\":\"invalid_argument\",\"message\":\"connect-protocol-version must be \\\"1\\\": "
       "got \\\"2\\\"\"}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    handler h;
    connectc_server_call *s = new_call(&unary_m, &h, NULL);
    const char *const hdrs[] = {"content-type", "application/json", cases[i].name, cases[i].value,
                                NULL};
    assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_ERR_PROTOCOL);
    expect_status(s, 400);
    expect_body(s, cases[i].body);
    connectc_server_call_del(s);
  }
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.require_protocol_header = 1;
  handler h;
  connectc_server_call *s = new_call(&unary_m, &h, &cfg);
  const char *const hdrs[] = {"content-type", "application/proto", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 400);
  expect_body(s,
              "{\"code\":\"invalid_argument\",\"message\":\"missing required header: set "
              "connect-protocol-version to \\\"1\\\"\"}");
  connectc_server_call_del(s);
}

static void test_unary_success(void **state) {
  (void)state;
  handler h;
  connectc_server_call *s = new_call(&unary_m, &h, NULL);
  const char *const hdrs[] = {"content-type", "application/proto", "connect-protocol-version", "1",
                              "x-req", "r", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  assert_string_equal(connectc_server_call_codec(s), "proto");
  assert_string_equal(connectc_headers_get(connectc_server_call_request_headers(s), "x-req"), "r");
  assert_int_equal(connectc_server_call_recv_body(s, (const uint8_t *)"he", 2), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_body(s, (const uint8_t *)"llo", 3), CONNECTC_OK);
  assert_int_equal(h.n_messages, 0);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_messages, 1);
  assert_string_equal(h.last, "hello");
  assert_int_equal(h.n_end, 1);
  connectc_response_head rh;
  assert_int_equal(connectc_server_call_response_head(s, &rh), CONNECTC_ERR_STATE);
  connectc_headers_adds(connectc_server_call_response_headers(s), "x-resp", "1");
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-trail", "2");
  assert_int_equal(connectc_server_call_send(s, (const uint8_t *)"world", 5), CONNECTC_OK);
  assert_int_equal(connectc_server_call_send(s, (const uint8_t *)"again", 5), CONNECTC_ERR_STATE);
  assert_int_equal(connectc_server_call_finish(s, NULL), CONNECTC_OK);
  assert_int_equal(connectc_server_call_finish(s, NULL), CONNECTC_ERR_STATE);
  assert_int_equal(connectc_server_call_response_head(s, &rh), CONNECTC_OK);
  assert_int_equal(rh.status, 200);
  assert_int_equal(rh.content_length, 5);
  assert_string_equal(rh.headers->items[0].name, "content-type");
  assert_string_equal(rh.headers->items[0].value, "application/proto");
  assert_string_equal(connectc_headers_get(rh.headers, "x-resp"), "1");
  assert_string_equal(connectc_headers_get(rh.headers, "trailer-x-trail"), "2");
  expect_body(s, "world");
  connectc_server_call_del(s);
}

static void test_unary_error_response(void **state) {
  (void)state;
  handler h;
  connectc_server_call *s = new_call(&unary_m, &h, NULL);
  const char *const hdrs[] = {"content-type", "application/json", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_messages, 1); /* an empty body is an empty message */
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_NOT_FOUND, "no user \"%s\"", "bob");
  const uint8_t detail[] = {0x08, 0x01};
  connectc_error_add_detail(&e, "google.rpc.RetryInfo", detail, sizeof detail);
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-trail", "t");
  assert_int_equal(connectc_server_call_finish(s, &e), CONNECTC_OK);
  connectc_error_reset(&e);
  expect_status(s, 404);
  assert_string_equal(resp_header(s, "content-type"), "application/json");
  assert_string_equal(resp_header(s, "trailer-x-trail"), "t");
  expect_body(s,
              "{\"code\":\"not_found\",\"message\":\"no user \\\"bob\\\"\",\"details\":[{\"type\":"
              "\"google.rpc.RetryInfo\",\"value\":\"CAE\"}]}");
  connectc_server_call_del(s);
}

static void test_unary_receive_limit(void **state) {
  (void)state;
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = 4;
  handler h;
  connectc_server_call *s = new_call(&unary_m, &h, &cfg);
  const char *const hdrs[] = {"content-type", "application/proto", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_body(s, (const uint8_t *)"12345", 5), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_messages, 0);
  expect_status(s, 429);
  expect_body(s,
              "{\"code\":\"resource_exhausted\",\"message\":\"the request body of at least 5 "
              "bytes is larger than the receive limit of 4 bytes (recv_max_bytes)\"}");
  connectc_server_call_del(s);

  /* A declared Content-Length past the limit is refused from the head,
   * before any body byte: the answer is ready at once. */
  s = new_call(&unary_m, &h, &cfg);
  const char *const declared[] = {"content-type", "application/proto", "content-length", "5",
                                  NULL};
  assert_int_equal(head(s, "POST", NULL, declared, 0), CONNECTC_ERR_PROTOCOL);
  assert_true(connectc_server_call_is_finished(s));
  expect_status(s, 429);
  expect_body(s,
              "{\"code\":\"resource_exhausted\",\"message\":\"the request body (Content-Length) "
              "of 5 bytes is larger than the receive limit of 4 bytes (recv_max_bytes)\"}");
  connectc_server_call_del(s);
  /* Compressed: the slack for compressed bodies applies (4 + 0 + 1024). */
  s = new_call(&unary_m, &h, &cfg);
  const char *const gz[] = {"content-type", "application/proto", "content-encoding", "gzip",
                            "content-length", "1029", NULL};
  assert_int_equal(head(s, "POST", NULL, gz, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 429);
  expect_body(s, "{\"code\":\"resource_exhausted\",\"message\":\"the request body (Content-Length) "
                 "of 1029 bytes is larger than the limit of 1028 bytes for a compressed body "
                 "(recv_max_bytes 4 plus 1/16 and 1 KiB)\"}");
  connectc_server_call_del(s);
  const char *const gz_ok[] = {"content-type", "application/proto", "content-encoding", "gzip",
                               "content-length", "1028", NULL};
  s = new_call(&unary_m, &h, &cfg);
  assert_int_equal(head(s, "POST", NULL, gz_ok, 0), CONNECTC_OK);
  connectc_server_call_del(s);
  /* At the limit, and a malformed value (the adapter's to refuse), go on. */
  const char *const at[] = {"content-type", "application/proto", "content-length", "4", NULL};
  const char *const odd[] = {"content-type", "application/proto", "content-length", "x", NULL};
  s = new_call(&unary_m, &h, &cfg);
  assert_int_equal(head(s, "POST", NULL, at, 0), CONNECTC_OK);
  connectc_server_call_del(s);
  s = new_call(&unary_m, &h, &cfg);
  assert_int_equal(head(s, "POST", NULL, odd, 0), CONNECTC_OK);
  connectc_server_call_del(s);
  /* Streams are not bounded by a declared length. */
  s = new_call(&client_m, &h, &cfg);
  const char *const st[] = {"content-type", "application/connect+proto", "content-length",
                            "100000", NULL};
  assert_int_equal(head(s, "POST", NULL, st, 0), CONNECTC_OK);
  connectc_server_call_del(s);
}

typedef struct writer {
  int n_writable;
  int n_sent;
  int want;
  size_t max_queued;
} writer;

static uint8_t chunk100[100];

/* Sends until the window refuses or `want` messages went out. */
static void w_pump(connectc_server_call *s, writer *w) {
  while (w->n_sent < w->want) {
    int rv = connectc_server_call_send(s, chunk100, sizeof chunk100);
    if (rv == CONNECTC_ERR_FULL) break;
    assert_int_equal(rv, CONNECTC_OK);
    w->n_sent++;
    size_t q = connectc_server_call_send_queued(s);
    if (q > w->max_queued) w->max_queued = q;
  }
  if (w->n_sent == w->want) connectc_server_call_finish(s, NULL);
}

static void w_end(connectc_server_call *s, void *ud) { w_pump(s, ud); }

static void w_writable(connectc_server_call *s, void *ud) {
  writer *w = ud;
  w->n_writable++;
  assert_true(connectc_server_call_writable(s));
  w_pump(s, w);
}

static void test_send_window(void **state) {
  (void)state;
  static const connectc_server_callbacks wcb = {.on_end = w_end, .on_writable = w_writable};
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.send_window_bytes = 1000;
  writer w = {0, 0, 50, 0};
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_server_call_new(&cfg, &server_m, &wcb, &w, NULL, &s), CONNECTC_OK);
  assert_int_equal(connectc_server_call_send_window(s), 1000);
  assert_false(connectc_server_call_writable(s)); /* no head yet */
  const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  uint8_t req[16];
  size_t n = env(req, 0, "x");
  assert_int_equal(connectc_server_call_recv_body(s, req, n), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  /* 105-byte envelopes: accepted while below 1000 queued, so 10 of them
   * (1050 bytes: the window plus at most one message). */
  assert_int_equal(w.n_sent, 10);
  assert_int_equal(connectc_server_call_send_queued(s), 1050);
  assert_false(connectc_server_call_writable(s));
  assert_int_equal(connectc_server_call_send(s, chunk100, 1), CONNECTC_ERR_FULL);
  /* The adapter takes bytes: nothing happens above half the window... */
  connectc_server_call_body_consume(s, 500);
  assert_int_equal(w.n_writable, 0);
  assert_true(connectc_server_call_writable(s));
  /* ...and at or below it on_writable fires once, and the handler fills
   * the window again. */
  connectc_server_call_body_consume(s, 50);
  assert_int_equal(w.n_writable, 1);
  assert_int_equal(w.n_sent, 15);
  size_t total = 550; /* taken above */
  int done = 0;
  while (!done) {
    const uint8_t *p;
    size_t len;
    connectc_server_call_body_peek(s, &p, &len, &done);
    total += len;
    connectc_server_call_body_consume(s, len);
    if (!len && !done) fail_msg("stalled with %d sent", w.n_sent);
  }
  assert_int_equal(w.n_sent, 50);
  assert_true(w.max_queued <= 1000 + 105);
  /* 50 envelopes and the end-of-stream {} envelope. */
  assert_int_equal(total, 50 * 105 + 5 + 2);
  assert_false(connectc_server_call_writable(s));
  connectc_server_call_del(s);

  /* Unary responses are not bounded by the window; SIZE_MAX turns it off. */
  cfg.send_window_bytes = 1;
  memset(&w, 0, sizeof w);
  assert_int_equal(connectc_server_call_new(&cfg, &unary_m, &wcb, &w, NULL, &s), CONNECTC_OK);
  const char *const uh[] = {"content-type", "application/proto", NULL};
  assert_int_equal(head(s, "POST", NULL, uh, 0), CONNECTC_OK);
  assert_int_equal(connectc_server_call_send(s, chunk100, sizeof chunk100), CONNECTC_OK);
  connectc_server_call_del(s);
  cfg.send_window_bytes = SIZE_MAX;
  w.want = 1000;
  assert_int_equal(connectc_server_call_new(&cfg, &server_m, &wcb, &w, NULL, &s), CONNECTC_OK);
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_body(s, req, n), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(w.n_sent, 1000);
  connectc_server_call_del(s);
}

static size_t env(uint8_t *out, uint8_t flags, const char *payload) {
  size_t n = strlen(payload);
  connectc_envelope_write_header(out, flags, (uint32_t)n);
  memcpy(out + 5, payload, n);
  return 5 + n;
}

static void test_stream_echo_bytes(void **state) {
  (void)state;
  uint8_t req[64];
  size_t n = env(req, 0, "ab");
  n += env(req + n, 0, "cde");
  for (size_t chunk = 1; chunk <= n; chunk++) {
    handler h;
    connectc_server_call *s = new_call(&bidi_m, &h, NULL);
    h.echo = 1;
    const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
    assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
    for (size_t off = 0; off < n; off += chunk) {
      size_t k = n - off < chunk ? n - off : chunk;
      assert_int_equal(connectc_server_call_recv_body(s, req + off, k), CONNECTC_OK);
    }
    connectc_headers_adds(connectc_server_call_response_trailers(s), "x-t", "v");
    assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
    assert_int_equal(h.n_messages, 2);
    assert_int_equal(h.n_end, 1);
    expect_status(s, 200);
    uint8_t want[128];
    size_t wn = env(want, 0, "ab");
    wn += env(want + wn, 0, "cde");
    wn += env(want + wn, CONNECTC_ENVELOPE_FLAG_END_STREAM, "{\"metadata\":{\"x-t\":[\"v\"]}}");
    uint8_t got[256];
    int done;
    size_t gn = body(s, got, sizeof got, &done);
    assert_int_equal(done, 1);
    assert_int_equal(gn, wn);
    assert_memory_equal(got, want, wn);
    connectc_server_call_del(s);
  }
}

static void test_server_stream_cardinality(void **state) {
  (void)state;
  handler h;
  connectc_server_call *s = new_call(&server_m, &h, NULL);
  const char *const hdrs[] = {"content-type", "application/connect+json", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_end, 0);
  expect_status(s, 200);
  uint8_t got[256];
  int done;
  size_t gn = body(s, got, sizeof got, &done);
  const char *want = "{\"error\":{\"code\":\"unimplemented\",\"message\":\"unary request has zero messages\"}}";
  assert_int_equal(gn, 5 + strlen(want));
  assert_memory_equal(got + 5, want, strlen(want));
  connectc_server_call_del(s);

  s = new_call(&server_m, &h, NULL);
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  uint8_t req[64];
  size_t n = env(req, 0, "{}");
  n += env(req + n, 0, "{}");
  assert_int_equal(connectc_server_call_recv_body(s, req, n), CONNECTC_OK);
  assert_int_equal(h.n_messages, 1);
  assert_true(connectc_server_call_is_finished(s));
  connectc_server_call_del(s);

  /* A client stream whose handler finishes without a message. */
  s = new_call(&client_m, &h, NULL);
  assert_int_equal(head(s, "POST", NULL, (const char *const[]){"content-type", "application/connect+proto", NULL}, 0), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(connectc_server_call_finish(s, NULL), CONNECTC_OK);
  gn = body(s, got, sizeof got, &done);
  want = "{\"error\":{\"code\":\"internal\",\"message\":\"the handler finished without a response message\"}}";
  assert_int_equal(gn, 5 + strlen(want));
  connectc_server_call_del(s);
}

static void test_get_request(void **state) {
  (void)state;
  handler h;
  connectc_server_call *s = new_call(&get_m, &h, NULL);
  /* "hi" as unpadded URL-safe base64 is "aGk". */
  assert_int_equal(head(s, "GET", "connect=v1&encoding=proto&base64=1&message=aGk", NULL, 0),
                   CONNECTC_OK);
  assert_string_equal(connectc_server_call_codec(s), "proto");
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_messages, 1);
  assert_string_equal(h.last, "hi");
  connectc_server_call_del(s);

  /* The message before the other parameters, percent-encoded JSON. */
  s = new_call(&get_m, &h, NULL);
  assert_int_equal(head(s, "GET", "message=%7B%22a%22%3A1%7D&connect=v1&encoding=json", NULL, 0),
                   CONNECTC_OK);
  assert_string_equal(connectc_server_call_codec(s), "json");
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_messages, 1);
  assert_string_equal(h.last, "{\"a\":1}");
  connectc_server_call_del(s);

  s = new_call(&get_m, &h, NULL);
  assert_int_equal(head(s, "GET", "encoding=yaml&message=x", NULL, 0), CONNECTC_ERR_PROTOCOL);
  expect_status(s, 400);
  expect_body(s, "{\"code\":\"invalid_argument\",\"message\":\"invalid message encoding: \\\"yaml\\\"\"}");
  connectc_server_call_del(s);

  s = new_call(&get_m, &h, NULL);
  assert_int_equal(head(s, "GET", "connect=v2&encoding=json&message=%7B%7D", NULL, 0),
                   CONNECTC_ERR_PROTOCOL);
  expect_status(s, 400);
  expect_body(s, "{\"code\":\"invalid_argument\",\"message\":\"connect must be \\\"v1\\\": got \\\"v2\\\"\"}");
  connectc_server_call_del(s);
}

static void test_deadline_and_cancel(void **state) {
  (void)state;
  handler h;
  connectc_server_call *s = new_call(&server_m, &h, NULL);
  const char *const hdrs[] = {"content-type", "application/connect+proto", "connect-timeout-ms", "100", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 1000), CONNECTC_OK);
  assert_int_equal(connectc_server_call_deadline(s), 1100);
  connectc_server_call_tick(s, 1099);
  assert_int_equal(h.n_cancel, 0);
  connectc_server_call_tick(s, 1100);
  assert_int_equal(h.n_cancel, 1);
  assert_int_equal(h.cancel_code, CONNECTC_CODE_DEADLINE_EXCEEDED);
  assert_true(connectc_server_call_is_finished(s));
  assert_int_equal(connectc_server_call_send(s, (const uint8_t *)"x", 1), CONNECTC_ERR_STATE);
  connectc_server_call_del(s);

  s = new_call(&bidi_m, &h, NULL);
  const char *const bh[] = {"content-type", "application/connect+proto", NULL};
  assert_int_equal(head(s, "POST", NULL, bh, 0), CONNECTC_OK);
  connectc_server_call_cancel(s);
  assert_int_equal(h.n_cancel, 1);
  assert_int_equal(h.cancel_code, CONNECTC_CODE_CANCELED);
  connectc_server_call_cancel(s);
  assert_int_equal(h.n_cancel, 1);
  connectc_server_call_del(s);
}

static void test_hostile_stream_request(void **state) {
  (void)state;
  uint8_t big[5];
  connectc_envelope_write_header(big, 0, 0xFFFFFFFFu);
  handler h;
  connectc_server_call *s = new_call(&bidi_m, &h, NULL);
  const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_body(s, big, sizeof big), CONNECTC_OK);
  assert_true(connectc_server_call_is_finished(s));
  expect_status(s, 200);
  uint8_t got[512];
  int done;
  size_t gn = body(s, got, sizeof got, &done);
  assert_true(gn > 5);
  got[gn] = 0;
  assert_non_null(strstr((char *)got + 5, "\"code\":\"resource_exhausted\""));
  connectc_server_call_del(s);

  s = new_call(&bidi_m, &h, NULL);
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  uint8_t trunc[8];
  connectc_envelope_write_header(trunc, 0, 10);
  assert_int_equal(connectc_server_call_recv_body(s, trunc, 7), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  gn = body(s, got, sizeof got, &done);
  got[gn] = 0;
  assert_string_equal((char *)got + 5,
                      "{\"error\":{\"code\":\"invalid_argument\",\"message\":\"protocol error: the "
                      "request ended in the middle of a message envelope\"}}");
  connectc_server_call_del(s);
}

/* connectc_route.call_data_size: the state call_new uses lives in the
 * server call, zeroed and aligned; a call without it has none. Many
 * request headers (past the call's own room for them) still arrive whole. */
typedef struct storage_seen {
  int news, dels;
  void *last;
} storage_seen;

static void *storage_call_new(void *route_data, connectc_server_call *call) {
  storage_seen *seen = route_data;
  size_t size = 0;
  unsigned char *p = connectc_server_call_storage(call, &size);
  assert_non_null(p);
  assert_int_equal(size, 100);
  assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
  for (size_t i = 0; i < size; i++) assert_int_equal(p[i], 0);
  memset(p, 0xAB, size); /* all of it is ours */
  seen->news++;
  seen->last = p;
  return p;
}

static void storage_call_del(void *route_data, void *call_data) {
  storage_seen *seen = route_data;
  assert_ptr_equal(call_data, seen->last);
  seen->dels++;
}

static void test_route_call_storage(void **state) {
  (void)state;
  storage_seen seen = {0};
  connectc_router *r = NULL;
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  connectc_route route = {.method = &unary_m,
                          .call_new = storage_call_new,
                          .call_del = storage_call_del,
                          .route_data = &seen,
                          .call_data_size = 100};
  assert_int_equal(connectc_router_add(r, &route), CONNECTC_OK);
  for (int i = 0; i < 3; i++) {
    connectc_server_call *s = NULL;
    assert_int_equal(connectc_router_call_new(r, unary_m.procedure, strlen(unary_m.procedure), &s),
                     CONNECTC_OK);
    assert_ptr_equal(connectc_server_call_user_data(s), seen.last);
    if (i == 2) {
      connectc_headers h;
      connectc_headers_init(&h, NULL);
      char name[32], value[64];
      for (int k = 0; k < 40; k++) {
        snprintf(name, sizeof name, "x-h%d", k);
        snprintf(value, sizeof value, "value-%d-%040d", k, k);
        assert_int_equal(connectc_headers_adds(&h, name, value), CONNECTC_OK);
      }
      assert_int_equal(connectc_headers_adds(&h, "content-type", "application/proto"), CONNECTC_OK);
      assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
      connectc_headers_reset(&h);
      const connectc_headers *got = connectc_server_call_request_headers(s);
      assert_int_equal(got->len, 41);
      assert_string_equal(connectc_headers_get(got, "x-h39"),
                          "value-39-0000000000000000000000000000000000000039");
      assert_string_equal(connectc_headers_get(got, "x-h0"),
                          "value-0-0000000000000000000000000000000000000000");
    }
    connectc_router_call_del(r, s);
  }
  assert_int_equal(seen.news, 3);
  assert_int_equal(seen.dels, 3);
  /* An unknown path's call has no storage. */
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_router_call_new(r, "/x.v1.Y/Z", 9, &s), CONNECTC_OK);
  size_t size = 7;
  assert_null(connectc_server_call_storage(s, &size));
  assert_int_equal(size, 0);
  connectc_router_call_del(r, s);
  connectc_router_del(r);
}

/* An adapter fills the call's own request list: recv_head uses it as it is. */
static void test_headers_to_fill(void **state) {
  (void)state;
  handler h;
  connectc_server_call *s = new_call(&unary_m, &h, NULL);
  connectc_headers *own = connectc_server_call_headers_to_fill(s);
  assert_non_null(own);
  assert_int_equal(own->len, 0);
  assert_int_equal(connectc_headers_adds(own, "Content-Type", "application/proto"), CONNECTC_OK);
  assert_int_equal(connectc_headers_adds(own, "x-a", "1"), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, own, 0), CONNECTC_OK);
  const connectc_headers *got = connectc_server_call_request_headers(s);
  assert_ptr_equal(got, own);
  assert_int_equal(got->len, 2); /* not appended to itself */
  assert_string_equal(connectc_headers_get(got, "x-a"), "1");
  connectc_server_call_del(s);
}


/* ---- lent compression contexts ---- */

/* Counts allocations and the bytes alive, so that a test can tell which
 * allocator paid for what and that nothing was freed twice or kept. */
typedef struct tally {
  size_t calls, live;
} tally;
typedef struct tally_hdr {
  size_t size;
  max_align_t align;
} tally_hdr;
static void *t_malloc(size_t n, void *ud) {
  tally *t = ud;
  tally_hdr *h = malloc(sizeof *h + n);
  if (!h) return NULL;
  t->calls++;
  t->live += n;
  h->size = n;
  return h + 1;
}
static void t_free(void *p, void *ud) {
  tally *t = ud;
  if (!p) return;
  tally_hdr *h = (tally_hdr *)p - 1;
  t->live -= h->size;
  free(h);
}
static void *t_realloc(void *p, size_t n, void *ud) {
  if (!p) return t_malloc(n, ud);
  void *np = t_malloc(n, ud);
  if (!np) return NULL;
  tally_hdr *old = (tally_hdr *)p - 1;
  memcpy(np, p, old->size < n ? old->size : n);
  t_free(p, ud);
  return np;
}

/* 1 KiB of text that compresses, with enough variety that levels differ. */
static void lend_message(uint8_t *msg, size_t len) {
  static const char *const words[] = {"alpha ", "bravo ", "charlie ", "delta ", "echo ",
                                      "foxtrot ", "golf ", "hotel ", "india ", "juliet "};
  size_t n = 0;
  unsigned x = 7;
  while (n < len) {
    x = x * 1103515245u + 12345u;
    const char *w = words[(x >> 16) % 10];
    for (size_t i = 0; w[i] && n < len; i++) msg[n++] = (uint8_t)w[i];
  }
}

typedef struct lent_result {
  size_t call_allocs; /* the call's allocator, the whole call */
  size_t ctx_allocs;  /* the lent context's allocator, during the call */
  uint8_t body[2048]; /* the compressed response body */
  size_t body_len;
} lent_result;

/* One unary call whose request (compressed with `alg`, `creq`) is echoed
 * back compressed with `alg`: lent `ctx` when not NULL. */
static void lent_unary(connectc_compression alg, connectc_compress_ctx *ctx, tally *ctx_tally,
                       const uint8_t *creq, size_t creq_len, lent_result *out) {
  tally ct = {0, 0};
  connectc_allocator ca = {t_malloc, t_realloc, t_free, &ct};
  handler h;
  memset(&h, 0, sizeof h);
  h.echo = 1;
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_server_call_new(NULL, &unary_m, &cbs, &h, &ca, &s), CONNECTC_OK);
  if (ctx) assert_int_equal(connectc_server_call_lend_compress_ctx(s, ctx), CONNECTC_OK);
  size_t ctx_before = ctx_tally ? ctx_tally->calls : 0;
  const char *name = connectc_compression_name(alg);
  const char *const hdrs[] = {"content-type", "application/proto", "content-encoding", name,
                              "accept-encoding", name, NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  /* Too late to lend one now. */
  assert_int_equal(connectc_server_call_lend_compress_ctx(s, ctx), CONNECTC_ERR_STATE);
  assert_int_equal(connectc_server_call_recv_body(s, creq, creq_len), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_messages, 1);
  expect_status(s, 200);
  assert_string_equal(resp_header(s, "content-encoding"), name);
  int done;
  out->body_len = body(s, out->body, sizeof out->body, &done);
  assert_int_equal(done, 1);
  connectc_server_call_del(s);
  out->call_allocs = ct.calls;
  out->ctx_allocs = ctx_tally ? ctx_tally->calls - ctx_before : 0;
  assert_int_equal(ct.live, 0); /* the call freed all it made, and only that */
}

static void test_lent_compress_ctx(void **state) {
  (void)state;
  static const connectc_compression lent_algs[] = {
      CONNECTC_COMPRESSION_GZIP, CONNECTC_COMPRESSION_BR, CONNECTC_COMPRESSION_ZSTD};
  uint8_t msg[1024];
  lend_message(msg, sizeof msg);
  assert_int_equal(connectc_server_call_lend_compress_ctx(NULL, NULL), CONNECTC_ERR_ARGUMENT);
  for (size_t a = 0; a < sizeof lent_algs / sizeof lent_algs[0]; a++) {
    connectc_compression alg = lent_algs[a];
    if (!connectc_compression_supported(alg)) continue;
    connectc_compress_ctx *ref = NULL;
    assert_int_equal(connectc_compress_ctx_new(NULL, &ref), CONNECTC_OK);
    uint8_t *creq = NULL;
    size_t creq_len = 0;
    assert_int_equal(connectc_compress(ref, alg, msg, sizeof msg, &creq, &creq_len), CONNECTC_OK);

    tally xt = {0, 0};
    connectc_allocator xa = {t_malloc, t_realloc, t_free, &xt};
    connectc_compress_ctx *lent = NULL;
    assert_int_equal(connectc_compress_ctx_new(&xa, &lent), CONNECTC_OK);
    size_t ctx_struct_live = xt.live;
    static lent_result r1, r2, fresh;
    lent_unary(alg, lent, &xt, creq, creq_len, &r1);
    /* The call did not free the context: its states are still alive. */
    assert_true(xt.live > ctx_struct_live || alg == CONNECTC_COMPRESSION_BR);
    lent_unary(alg, lent, &xt, creq, creq_len, &r2);
    lent_unary(alg, NULL, NULL, creq, creq_len, &fresh);

    /* Both calls round-trip the exact bytes, and answer exactly as a call
     * with a context of its own does. */
    for (int i = 0; i < 2; i++) {
      const lent_result *r = i ? &r2 : &r1;
      uint8_t *plain = NULL;
      size_t plain_len = 0;
      assert_int_equal(connectc_decompress(ref, alg, r->body, r->body_len, 1 << 20, &plain,
                                           &plain_len, NULL),
                       CONNECTC_OK);
      assert_int_equal(plain_len, sizeof msg);
      assert_memory_equal(plain, msg, sizeof msg);
      connectc_free(connectc_default_allocator(), plain);
      assert_int_equal(r->body_len, fresh.body_len);
      assert_memory_equal(r->body, fresh.body, fresh.body_len);
    }
    /* Allocations, exactly: the first call made the context's states on
     * its allocator; the second made none (brotli has no state kept
     * between messages: it makes the same ones every time). A call with
     * a context of its own makes the context (1) and the same states on
     * its own allocator, and otherwise allocates what a lent call does. */
    if (alg == CONNECTC_COMPRESSION_BR) {
      assert_int_equal(r2.ctx_allocs, r1.ctx_allocs);
    } else {
      assert_true(r1.ctx_allocs > 0);
      assert_int_equal(r2.ctx_allocs, 0);
    }
    assert_int_equal(r2.call_allocs, r1.call_allocs);
    assert_int_equal(fresh.call_allocs, r1.call_allocs + 1 + r1.ctx_allocs);

    connectc_compress_ctx_del(lent);
    assert_int_equal(xt.live, 0);
    connectc_free(connectc_default_allocator(), creq);
    connectc_compress_ctx_del(ref);
  }
}

/* A lent context's levels are its owner's: calls compress at them and
 * never change them; a call's own context uses the defaults. */
static void test_lent_compress_ctx_level(void **state) {
  (void)state;
  const connectc_compression alg = CONNECTC_COMPRESSION_GZIP;
  uint8_t msg[1024];
  lend_message(msg, sizeof msg);
  connectc_compress_ctx *l1 = NULL, *l9 = NULL, *ldef = NULL, *lent = NULL;
  assert_int_equal(connectc_compress_ctx_new(NULL, &l1), CONNECTC_OK);
  assert_int_equal(connectc_compress_ctx_new(NULL, &l9), CONNECTC_OK);
  assert_int_equal(connectc_compress_ctx_new(NULL, &ldef), CONNECTC_OK);
  connectc_compress_ctx_set_level(l1, alg, 1);
  connectc_compress_ctx_set_level(l9, alg, 9);
  uint8_t *b1, *b9, *bdef, *creq;
  size_t n1, n9, ndef, ncreq;
  assert_int_equal(connectc_compress(l1, alg, msg, sizeof msg, &b1, &n1), CONNECTC_OK);
  assert_int_equal(connectc_compress(l9, alg, msg, sizeof msg, &b9, &n9), CONNECTC_OK);
  assert_int_equal(connectc_compress(ldef, alg, msg, sizeof msg, &bdef, &ndef), CONNECTC_OK);
  assert_int_equal(connectc_compress(ldef, alg, msg, sizeof msg, &creq, &ncreq), CONNECTC_OK);
  /* The levels make different bytes of this message (else the test
   * would prove nothing). */
  assert_true(n1 != n9 || memcmp(b1, b9, n1) != 0);

  tally xt = {0, 0};
  connectc_allocator xa = {t_malloc, t_realloc, t_free, &xt};
  assert_int_equal(connectc_compress_ctx_new(&xa, &lent), CONNECTC_OK);
  connectc_compress_ctx_set_level(lent, alg, 1);
  static lent_result r;
  for (int i = 0; i < 2; i++) { /* level 1, then level 9 on the same context */
    lent_unary(alg, lent, &xt, creq, ncreq, &r);
    const uint8_t *want = i ? b9 : b1;
    size_t want_len = i ? n9 : n1;
    assert_int_equal(r.body_len, want_len);
    assert_memory_equal(r.body, want, want_len);
    /* The call left the level alone. */
    uint8_t *again;
    size_t nagain;
    assert_int_equal(connectc_compress(lent, alg, msg, sizeof msg, &again, &nagain), CONNECTC_OK);
    assert_int_equal(nagain, want_len);
    assert_memory_equal(again, want, want_len);
    connectc_free(&xa, again);
    connectc_compress_ctx_set_level(lent, alg, 9);
  }
  lent_unary(alg, NULL, NULL, creq, ncreq, &r);
  assert_int_equal(r.body_len, ndef);
  assert_memory_equal(r.body, bdef, ndef);

  const connectc_allocator *d = connectc_default_allocator();
  connectc_free(d, b1);
  connectc_free(d, b9);
  connectc_free(d, bdef);
  connectc_free(d, creq);
  connectc_compress_ctx_del(l1);
  connectc_compress_ctx_del(l9);
  connectc_compress_ctx_del(ldef);
  connectc_compress_ctx_del(lent);
  assert_int_equal(xt.live, 0);
}

/* Feeds msg[0..len) to the call 4 KiB at a time. */
static void feed_4k(connectc_server_call *s, const uint8_t *msg, size_t len) {
  for (size_t off = 0; off < len; off += 4096)
    assert_int_equal(connectc_server_call_recv_body(s, msg + off, len - off < 4096 ? len - off : 4096),
                     CONNECTC_OK);
}

/* Takes the whole response body, piece by piece, into out[0..cap). */
static size_t body_all(connectc_server_call *s, uint8_t *out, size_t cap) {
  size_t got = 0;
  for (;;) {
    const uint8_t *p;
    size_t n;
    int done;
    connectc_server_call_body_peek(s, &p, &n, &done);
    assert_true(n <= cap - got);
    if (n) memcpy(out + got, p, n);
    got += n;
    connectc_server_call_body_consume(s, n);
    if (done) return got;
    assert_true(n > 0);
  }
}

/* One identity Connect unary call of `len` bytes, fed 4 KiB at a time and
 * echoed; the response body must be the exact bytes. Returns the
 * allocations the call made on `t` (its allocator is `ca`). */
static size_t plain_unary(connectc_compress_ctx *ctx, const connectc_allocator *ca, tally *t,
                          const uint8_t *msg, size_t len) {
  handler h;
  memset(&h, 0, sizeof h);
  h.echo = 1;
  size_t before = t->calls;
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_server_call_new(NULL, &unary_m, &cbs, &h, ca, &s), CONNECTC_OK);
  if (ctx) assert_int_equal(connectc_server_call_lend_compress_ctx(s, ctx), CONNECTC_OK);
  const char *const hdrs[] = {"content-type", "application/proto", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  feed_4k(s, msg, len);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  assert_int_equal(h.n_messages, 1);
  expect_status(s, 200);
  static uint8_t out[100000];
  size_t got = body_all(s, out, sizeof out);
  assert_int_equal(got, len);
  assert_memory_equal(out, msg, len);
  connectc_server_call_del(s);
  return t->calls - before;
}

/* A lent context keeps a unary request body's buffer for the next call
 * on the same allocator; a buffer over 64 KiB goes after 16 bodies in a
 * row that used under a quarter of it; a call on another allocator
 * neither takes nor leaves one. */
static void test_lent_ctx_keeps_body_buffer(void **state) {
  (void)state;
  static uint8_t msg[100000];
  lend_message(msg, sizeof msg);
  tally t = {0, 0};
  connectc_allocator a = {t_malloc, t_realloc, t_free, &t};
  connectc_compress_ctx *ctx = NULL;
  assert_int_equal(connectc_compress_ctx_new(&a, &ctx), CONNECTC_OK);
  const size_t ctx_live = t.live;

  size_t first = plain_unary(ctx, &a, &t, msg, sizeof msg);
  assert_int_equal(t.live, ctx_live + 131072); /* the body's buffer, kept */
  size_t second = plain_unary(ctx, &a, &t, msg, sizeof msg);
  /* The first call grew its body 4 KiB, 8, 16, 32, 64, 128 KiB: six
   * allocations the second, receiving into the kept buffer, did not make. */
  assert_int_equal(first - second, 6);
  assert_int_equal(t.live, ctx_live + 131072);
  /* Without a context: the same six again, and nothing left behind. */
  assert_int_equal(plain_unary(NULL, &a, &t, msg, sizeof msg), second + 6);
  assert_int_equal(t.live, ctx_live + 131072);

  /* Small bodies: the 128 KiB buffer serves them (no allocation for the
   * body) and is freed by the 16th in a row. */
  size_t small = plain_unary(ctx, &a, &t, msg, 10);
  for (int i = 2; i <= 15; i++) assert_int_equal(plain_unary(ctx, &a, &t, msg, 10), small);
  assert_int_equal(t.live, ctx_live + 131072);
  assert_int_equal(plain_unary(ctx, &a, &t, msg, 10), small);
  assert_int_equal(t.live, ctx_live);
  /* The next one allocates its own (64 bytes, kept: small ones always are). */
  assert_int_equal(plain_unary(ctx, &a, &t, msg, 10), small + 1);
  assert_int_equal(t.live, ctx_live + 64);

  /* Another allocator: that call makes its own buffer and frees it; the
   * context's stays. */
  tally t2 = {0, 0};
  connectc_allocator a2 = {t_malloc, t_realloc, t_free, &t2};
  assert_int_equal(plain_unary(ctx, &a2, &t2, msg, 10), small + 1);
  assert_int_equal(t2.live, 0);
  assert_int_equal(t.live, ctx_live + 64);

  connectc_compress_ctx_del(ctx);
  assert_int_equal(t.live, 0);
}

/* One Connect bidi call carrying one enveloped message of `len` bytes,
 * fed 4 KiB at a time and echoed: the response holds the exact bytes.
 * Returns the allocations the call made on `t` (its allocator is `ca`). */
static size_t plain_stream(connectc_compress_ctx *ctx, const connectc_allocator *ca, tally *t,
                           const uint8_t *msg, size_t len) {
  static uint8_t in[5 + 100000];
  assert_true(len <= sizeof in - 5);
  connectc_envelope_write_header(in, 0, (uint32_t)len);
  memcpy(in + 5, msg, len);
  handler h;
  memset(&h, 0, sizeof h);
  h.echo = 1;
  size_t before = t->calls;
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_server_call_new(NULL, &bidi_m, &cbs, &h, ca, &s), CONNECTC_OK);
  if (ctx) assert_int_equal(connectc_server_call_lend_compress_ctx(s, ctx), CONNECTC_OK);
  const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
  assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
  feed_4k(s, in, len + 5);
  assert_int_equal(h.n_messages, 1);
  assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
  /* The echoed envelope, then the end-of-stream message. */
  static uint8_t out[5 + 100000 + 64];
  size_t got = body_all(s, out, sizeof out);
  assert_true(got > len + 5);
  assert_memory_equal(out + 5, msg, len);
  connectc_server_call_del(s);
  return t->calls - before;
}

/* The same for enveloped messages split across reads: the buffer they are
 * gathered in stays with a lent context for the next call. */
static void test_lent_ctx_keeps_stream_buffer(void **state) {
  (void)state;
  static uint8_t msg[100000];
  lend_message(msg, sizeof msg);
  tally t = {0, 0};
  connectc_allocator a = {t_malloc, t_realloc, t_free, &t};
  connectc_compress_ctx *ctx = NULL;
  assert_int_equal(connectc_compress_ctx_new(&a, &ctx), CONNECTC_OK);
  const size_t ctx_live = t.live;
  size_t first = plain_stream(ctx, &a, &t, msg, sizeof msg);
  assert_int_equal(t.live, ctx_live + sizeof msg); /* grown to the message, not past it */
  size_t second = plain_stream(ctx, &a, &t, msg, sizeof msg);
  /* 4, 8, 16, 32 and 64 KiB, then the message's 100000 bytes: six
   * allocations the second call, in the kept buffer, did not make. */
  assert_int_equal(first - second, 6);
  assert_int_equal(plain_stream(NULL, &a, &t, msg, sizeof msg), second + 6);
  assert_int_equal(t.live, ctx_live + sizeof msg);
  connectc_compress_ctx_del(ctx);
  assert_int_equal(t.live, 0);
}

/* Streams too: two bidi calls, one after the other, on one lent context,
 * each echoing two compressed messages; a call canceled midway lets go of
 * the context (it is freed before the call, which must not touch it). */
static void test_lent_compress_ctx_stream(void **state) {
  (void)state;
  const connectc_compression alg = CONNECTC_COMPRESSION_GZIP;
  uint8_t msg[1024];
  lend_message(msg, sizeof msg);
  connectc_compress_ctx *ref = NULL, *lent = NULL;
  assert_int_equal(connectc_compress_ctx_new(NULL, &ref), CONNECTC_OK);
  assert_int_equal(connectc_compress_ctx_new(NULL, &lent), CONNECTC_OK);
  uint8_t *c = NULL;
  size_t clen = 0;
  assert_int_equal(connectc_compress(ref, alg, msg, sizeof msg, &c, &clen), CONNECTC_OK);
  uint8_t in[2 * (5 + 1100)];
  size_t in_len = 0;
  for (int m = 0; m < 2; m++) {
    connectc_envelope_write_header(in + in_len, CONNECTC_ENVELOPE_FLAG_COMPRESSED, (uint32_t)clen);
    memcpy(in + in_len + 5, c, clen);
    in_len += 5 + clen;
  }
  const char *const hdrs[] = {"content-type", "application/connect+proto",
                              "connect-content-encoding", "gzip", "connect-accept-encoding",
                              "gzip", NULL};
  for (int call = 0; call < 3; call++) {
    handler h;
    connectc_server_call *s = new_call(&bidi_m, &h, NULL);
    h.echo = 1;
    assert_int_equal(connectc_server_call_lend_compress_ctx(s, lent), CONNECTC_OK);
    assert_int_equal(head(s, "POST", NULL, hdrs, 0), CONNECTC_OK);
    assert_int_equal(connectc_server_call_recv_body(s, in, in_len), CONNECTC_OK);
    assert_int_equal(h.n_messages, 2);
    if (call == 2) {
      connectc_server_call_cancel(s);
      connectc_compress_ctx_del(lent); /* the canceled call no longer uses it */
      lent = NULL;
      assert_int_equal(connectc_server_call_send(s, msg, sizeof msg), CONNECTC_ERR_STATE);
      assert_int_equal(connectc_server_call_recv_body(s, in, in_len), CONNECTC_OK);
      assert_int_equal(connectc_server_call_finish(s, NULL), CONNECTC_ERR_STATE);
      connectc_server_call_del(s);
      break;
    }
    assert_int_equal(connectc_server_call_recv_end(s), CONNECTC_OK);
    static uint8_t out[8192];
    int done;
    size_t n = body(s, out, sizeof out, &done);
    assert_int_equal(done, 1);
    /* Two compressed messages, then the end-of-stream message. */
    size_t off = 0;
    for (int m = 0; m < 2; m++) {
      assert_true(off + 5 <= n);
      assert_int_equal(out[off], CONNECTC_ENVELOPE_FLAG_COMPRESSED);
      size_t plen = (size_t)out[off + 1] << 24 | (size_t)out[off + 2] << 16 |
                    (size_t)out[off + 3] << 8 | out[off + 4];
      uint8_t *plain = NULL;
      size_t plain_len = 0;
      assert_int_equal(connectc_decompress(ref, alg, out + off + 5, plen, 1 << 20, &plain,
                                           &plain_len, NULL),
                       CONNECTC_OK);
      assert_int_equal(plain_len, sizeof msg);
      assert_memory_equal(plain, msg, sizeof msg);
      connectc_free(connectc_default_allocator(), plain);
      off += 5 + plen;
    }
    assert_int_equal(out[off], CONNECTC_ENVELOPE_FLAG_END_STREAM);
    connectc_server_call_del(s);
  }
  connectc_free(connectc_default_allocator(), c);
  connectc_compress_ctx_del(ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_not_found_and_method),
      cmocka_unit_test(test_route_call_storage),
      cmocka_unit_test(test_headers_to_fill),
      cmocka_unit_test(test_content_type_refused),
      cmocka_unit_test(test_unknown_compression),
      cmocka_unit_test(test_bad_timeout_and_version),
      cmocka_unit_test(test_unary_success),
      cmocka_unit_test(test_unary_error_response),
      cmocka_unit_test(test_unary_receive_limit),
      cmocka_unit_test(test_stream_echo_bytes),
      cmocka_unit_test(test_send_window),
      cmocka_unit_test(test_server_stream_cardinality),
      cmocka_unit_test(test_get_request),
      cmocka_unit_test(test_deadline_and_cancel),
      cmocka_unit_test(test_hostile_stream_request),
      cmocka_unit_test(test_lent_compress_ctx),
      cmocka_unit_test(test_lent_compress_ctx_level),
      cmocka_unit_test(test_lent_compress_ctx_stream),
      cmocka_unit_test(test_lent_ctx_keeps_body_buffer),
      cmocka_unit_test(test_lent_ctx_keeps_stream_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
