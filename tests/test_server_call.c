/* The server call state machine: request validation with the exact HTTP
 * status and Connect error, message delivery, and exact response bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/server_call.h"
#include "connectc/envelope.h"

static const connectc_method_desc unary_m = {"/demo.v1.Echo/Say", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc get_m = {"/demo.v1.Echo/Get", CONNECTC_STREAM_UNARY, 1};
static const connectc_method_desc server_m = {"/demo.v1.Echo/List", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc client_m = {"/demo.v1.Echo/Sum", CONNECTC_STREAM_CLIENT, 0};
static const connectc_method_desc bidi_m = {"/demo.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 0};

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

static const connectc_server_callbacks cbs = {h_message, h_end, h_cancel};

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
              "{\"code\":\"resource_exhausted\",\"message\":\"message size 5 is larger than "
              "configured max 4\"}");
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_not_found_and_method),
      cmocka_unit_test(test_content_type_refused),
      cmocka_unit_test(test_unknown_compression),
      cmocka_unit_test(test_bad_timeout_and_version),
      cmocka_unit_test(test_unary_success),
      cmocka_unit_test(test_unary_error_response),
      cmocka_unit_test(test_unary_receive_limit),
      cmocka_unit_test(test_stream_echo_bytes),
      cmocka_unit_test(test_server_stream_cardinality),
      cmocka_unit_test(test_get_request),
      cmocka_unit_test(test_deadline_and_cancel),
      cmocka_unit_test(test_hostile_stream_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
