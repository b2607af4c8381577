/* What every call offers beyond its protocol: interceptors (client and
 * server, refusing before the body and observing messages and status),
 * CORS (preflights and the headers of every response, errors the library
 * makes included), the deadline policy and the time left sent by clients,
 * and the per-call stats hook. Exact headers, codes and figures. */
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

static const connectc_method_desc unary_m = {"/demo.v1.Echo/Say", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc bidi_m = {"/demo.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 0};

/* ---- a recording interceptor ---- */

typedef struct rec {
  char log[1024];
  int refuse;         /* refuse requests without this token */
  const char *token;
} rec;

static void logf_(rec *r, const char *fmt, ...) CONNECTC_PRINTF(2, 3);
static void logf_(rec *r, const char *fmt, ...) {
  size_t n = strlen(r->log);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->log + n, sizeof r->log - n, fmt, ap);
  va_end(ap);
}

static int s_head(connectc_server_call *call, connectc_headers *h, connectc_error *refuse,
                  void *ud) {
  (void)call;
  rec *r = ud;
  const char *auth = connectc_headers_get(h, "authorization");
  logf_(r, "head(%s) ", auth ? auth : "-");
  if (r->refuse && (!auth || strcmp(auth, r->token) != 0)) {
    connectc_error_set(refuse, CONNECTC_CODE_UNAUTHENTICATED, "missing or bad bearer token");
    return 1;
  }
  connectc_headers_adds(h, "x-authenticated", "yes");
  return 0;
}
static void s_req(connectc_server_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)c;
  logf_(ud, "req(%.*s) ", (int)n, (const char *)d);
}
static void s_resp(connectc_server_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)c;
  logf_(ud, "resp(%.*s) ", (int)n, (const char *)d);
}
static void s_close(connectc_server_call *c, const connectc_error *e, const connectc_headers *t,
                    void *ud) {
  (void)c;
  logf_(ud, "close(%d,%zu) ", e->code, t->len);
}

/* ---- an echo handler ---- */

static int handler_saw_auth;
static int h_message(connectc_server_call *s, const uint8_t *d, size_t n, void *ud) {
  (void)ud;
  handler_saw_auth = connectc_headers_get(connectc_server_call_request_headers(s), "x-authenticated") != NULL;
  connectc_server_call_send(s, d, n);
  return 0;
}
static void h_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-t", "1");
  connectc_server_call_finish(s, NULL);
}
static const connectc_server_callbacks echo = {.on_message = h_message, .on_end = h_end};

static connectc_server_call *call(const connectc_server_config *cfg, const connectc_method_desc *m,
                                  const char *method, const char *const *kv, int want_rv) {
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_server_call_new(cfg, m, &echo, NULL, NULL, &s), CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  for (size_t i = 0; kv && kv[i]; i += 2) connectc_headers_adds(&h, kv[i], kv[i + 1]);
  assert_int_equal(connectc_server_call_recv_head(s, method, NULL, &h, 1000), want_rv);
  connectc_headers_reset(&h);
  return s;
}

static const char *head_value(connectc_server_call *s, const char *name, int *status) {
  connectc_response_head rh;
  assert_int_equal(connectc_server_call_response_head(s, &rh), CONNECTC_OK);
  if (status) *status = rh.status;
  return connectc_headers_get(rh.headers, name);
}

static void test_server_interceptor(void **state) {
  (void)state;
  rec r;
  memset(&r, 0, sizeof r);
  r.refuse = 1;
  r.token = "Bearer s3cret";
  const connectc_server_interceptor ic = {.on_request_head = s_head,
                                          .on_request_message = s_req,
                                          .on_response_message = s_resp,
                                          .on_close = s_close,
                                          .user_data = &r};
  const connectc_server_interceptor *const list[] = {&ic};
  connectc_server_config cfg = {.interceptors = list, .n_interceptors = 1};
  /* Refused before the body: the body is never decoded or delivered. */
  const char *no_auth[] = {"content-type", "application/proto", NULL};
  connectc_server_call *s = call(&cfg, &unary_m, "POST", no_auth, CONNECTC_ERR_PROTOCOL);
  int status;
  head_value(s, "content-type", &status);
  assert_int_equal(status, 401);
  assert_string_equal(r.log, "head(-) close(16,0) ");
  connectc_server_call_recv_body(s, (const uint8_t *)"ping", 4);
  connectc_server_call_recv_end(s);
  assert_string_equal(r.log, "head(-) close(16,0) ");
  connectc_server_call_del(s);
  /* Allowed: the interceptor's header reaches the handler; messages and
   * the status are observed. */
  memset(r.log, 0, sizeof r.log);
  const char *auth[] = {"content-type", "application/proto", "authorization", "Bearer s3cret", NULL};
  s = call(&cfg, &unary_m, "POST", auth, CONNECTC_OK);
  connectc_server_call_recv_body(s, (const uint8_t *)"ping", 4);
  connectc_server_call_recv_end(s);
  assert_int_equal(handler_saw_auth, 1);
  assert_string_equal(r.log, "head(Bearer s3cret) req(ping) resp(ping) close(0,1) ");
  connectc_server_call_del(s);
  /* gRPC: the refusal is answered in the protocol (HTTP 200, grpc-status). */
  memset(r.log, 0, sizeof r.log);
  const char *grpc[] = {"content-type", "application/grpc", NULL};
  s = call(&cfg, &unary_m, "POST", grpc, CONNECTC_ERR_PROTOCOL);
  assert_string_equal(head_value(s, "grpc-status", &status), "16");
  assert_int_equal(status, 200);
  assert_string_equal(head_value(s, "grpc-message", NULL), "missing or bad bearer token");
  connectc_server_call_del(s);
}

/* ---- client interceptors ---- */

static int c_head(connectc_client_call *c, connectc_headers *h, connectc_error *refuse, void *ud) {
  (void)c;
  rec *r = ud;
  logf_(r, "head ");
  if (r->refuse) {
    connectc_error_set(refuse, CONNECTC_CODE_UNAUTHENTICATED, "no credentials configured");
    return 1;
  }
  connectc_headers_adds(h, "authorization", r->token);
  return 0;
}
static void c_req(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)c;
  logf_(ud, "req(%.*s) ", (int)n, (const char *)d);
}
static void c_hdrs(connectc_client_call *c, const connectc_headers *h, void *ud) {
  (void)c;
  logf_(ud, "headers(%zu) ", h->len);
}
static void c_resp(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)c;
  logf_(ud, "resp(%.*s) ", (int)n, (const char *)d);
}
static void c_close(connectc_client_call *c, const connectc_error *e, const connectc_headers *t,
                    void *ud) {
  (void)c;
  (void)t;
  logf_(ud, "close(%d) ", e->code);
}

static connectc_code closed_code;
static void app_close(connectc_client_call *c, const connectc_error *e, const connectc_headers *t,
                      void *ud) {
  (void)c;
  (void)t;
  (void)ud;
  closed_code = e->code;
}

static void test_client_interceptor(void **state) {
  (void)state;
  rec r;
  memset(&r, 0, sizeof r);
  r.token = "Bearer s3cret";
  const connectc_client_interceptor ic = {.on_request_head = c_head,
                                          .on_request_message = c_req,
                                          .on_response_headers = c_hdrs,
                                          .on_response_message = c_resp,
                                          .on_close = c_close,
                                          .user_data = &r};
  const connectc_client_interceptor *const list[] = {&ic};
  connectc_client_config cfg = {.procedure = "/demo.v1.Echo/Say",
                                .codec = "proto",
                                .interceptors = list,
                                .n_interceptors = 1};
  connectc_client_callbacks cb = {.on_close = app_close};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &cb, NULL, NULL, 0, &c), CONNECTC_OK);
  connectc_client_call_send(c, (const uint8_t *)"ping", 4);
  connectc_request_head rh;
  assert_int_equal(connectc_client_call_request_head(c, &rh), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(rh.headers, "authorization"), "Bearer s3cret");
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/proto");
  connectc_client_call_recv_head(c, 200, &h);
  connectc_client_call_recv_body(c, (const uint8_t *)"pong", 4);
  connectc_client_call_recv_end(c);
  assert_string_equal(r.log, "req(ping) head headers(1) resp(pong) close(0) ");
  connectc_headers_reset(&h);
  connectc_client_call_del(c);
  /* Refusing closes the call before anything is sent. */
  memset(r.log, 0, sizeof r.log);
  r.refuse = 1;
  assert_int_equal(connectc_client_call_new(&cfg, &cb, NULL, NULL, 0, &c), CONNECTC_OK);
  connectc_client_call_send(c, (const uint8_t *)"ping", 4);
  assert_int_equal(connectc_client_call_request_head(c, &rh), CONNECTC_ERR_RPC);
  assert_int_equal(closed_code, CONNECTC_CODE_UNAUTHENTICATED);
  assert_int_equal(connectc_client_call_is_closed(c), 1);
  const uint8_t *b;
  size_t n;
  int done;
  connectc_client_call_body_peek(c, &b, &n, &done);
  assert_int_equal(n, 0);
  connectc_client_call_del(c);
}

/* ---- CORS ---- */

static int dynamic_origin(const char *o, size_t len, void *ud) {
  (void)ud;
  return len > 12 && memcmp(o + len - 12, ".example.org", 12) == 0;
}

static void test_cors(void **state) {
  (void)state;
  const char *const origins[] = {"https://app.example.com", NULL};
  const char *const extra_req[] = {"Authorization", NULL};
  const char *const extra_exp[] = {"X-Custom-Header", "Trailer-X-T", NULL};
  const connectc_cors cors = {.allowed_origins = origins,
                              .origin_allowed = dynamic_origin,
                              .allowed_headers = extra_req,
                              .exposed_headers = extra_exp};
  connectc_server_config cfg = {.cors = &cors};
  /* Preflight from an allowed origin. */
  const char *pre[] = {"origin", "https://app.example.com", "access-control-request-method", "POST",
                       "access-control-request-headers", "content-type,connect-protocol-version",
                       NULL};
  connectc_server_call *s = call(&cfg, &unary_m, "OPTIONS", pre, CONNECTC_ERR_PROTOCOL);
  int status;
  assert_string_equal(head_value(s, "access-control-allow-origin", &status), "https://app.example.com");
  assert_int_equal(status, 204);
  assert_string_equal(head_value(s, "access-control-allow-methods", NULL), "POST, GET");
  assert_string_equal(head_value(s, "access-control-allow-headers", NULL),
                      "Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, "
                      "Connect-Accept-Encoding, Connect-Content-Encoding, Grpc-Timeout, "
                      "Grpc-Accept-Encoding, Grpc-Encoding, X-Grpc-Web, X-User-Agent, Authorization");
  assert_string_equal(head_value(s, "access-control-max-age", NULL), "7200");
  assert_string_equal(head_value(s, "vary", NULL),
                      "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  connectc_server_call_del(s);
  /* Preflight for an unknown path is answered too (browsers ask first). */
  connectc_server_call *u = NULL;
  assert_int_equal(connectc_server_call_new(&cfg, NULL, &echo, NULL, NULL, &u), CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  for (size_t i = 0; pre[i]; i += 2) connectc_headers_adds(&h, pre[i], pre[i + 1]);
  assert_int_equal(connectc_server_call_recv_head(u, "OPTIONS", NULL, &h, 0), CONNECTC_ERR_PROTOCOL);
  assert_int_equal((head_value(u, "vary", &status), status), 204);
  connectc_server_call_del(u);
  /* A disallowed origin: 204 with no CORS headers. */
  const char *bad[] = {"origin", "https://evil.example.net", "access-control-request-method", "POST",
                       NULL};
  s = call(&cfg, &unary_m, "OPTIONS", bad, CONNECTC_ERR_PROTOCOL);
  assert_null(head_value(s, "access-control-allow-origin", &status));
  assert_int_equal(status, 204);
  connectc_server_call_del(s);
  /* The callback allows an origin the list does not. */
  const char *dyn[] = {"origin", "https://a.example.org", "content-type", "application/proto", NULL};
  s = call(&cfg, &unary_m, "POST", dyn, CONNECTC_OK);
  connectc_server_call_recv_body(s, (const uint8_t *)"x", 1);
  connectc_server_call_recv_end(s);
  assert_string_equal(head_value(s, "access-control-allow-origin", &status), "https://a.example.org");
  assert_int_equal(status, 200);
  assert_string_equal(head_value(s, "access-control-expose-headers", NULL),
                      "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, X-Custom-Header, Trailer-X-T");
  assert_string_equal(head_value(s, "vary", NULL), "Origin");
  connectc_server_call_del(s);
  /* Errors the library makes itself carry them too: 415 and 404. */
  const char *ct[] = {"origin", "https://app.example.com", "content-type", "text/plain", NULL};
  s = call(&cfg, &unary_m, "POST", ct, CONNECTC_ERR_PROTOCOL);
  assert_string_equal(head_value(s, "access-control-allow-origin", &status), "https://app.example.com");
  assert_int_equal(status, 415);
  connectc_server_call_del(s);
  assert_int_equal(connectc_server_call_new(&cfg, NULL, &echo, NULL, NULL, &u), CONNECTC_OK);
  connectc_headers_reset(&h);
  connectc_headers_adds(&h, "origin", "https://app.example.com");
  assert_int_equal(connectc_server_call_recv_head(u, "POST", NULL, &h, 0), CONNECTC_ERR_PROTOCOL);
  assert_string_equal(head_value(u, "access-control-allow-origin", &status), "https://app.example.com");
  assert_int_equal(status, 404);
  connectc_server_call_del(u);
  connectc_headers_reset(&h);
  /* CORS off: OPTIONS is a method the procedure does not accept. */
  s = call(NULL, &unary_m, "OPTIONS", pre, CONNECTC_ERR_PROTOCOL);
  assert_null(head_value(s, "access-control-allow-origin", &status));
  assert_int_equal(status, 405);
  connectc_server_call_del(s);
}

/* ---- deadlines ---- */

static void test_deadline_policy(void **state) {
  (void)state;
  connectc_server_config cfg = {.default_timeout_ms = 5000, .max_timeout_ms = 30000};
  const char *none[] = {"content-type", "application/proto", NULL};
  connectc_server_call *s = call(&cfg, &unary_m, "POST", none, CONNECTC_OK);
  assert_int_equal(connectc_server_call_deadline(s), 6000);
  connectc_server_call_del(s);
  const char *big[] = {"content-type", "application/proto", "connect-timeout-ms", "600000", NULL};
  s = call(&cfg, &unary_m, "POST", big, CONNECTC_OK);
  assert_int_equal(connectc_server_call_deadline(s), 31000);
  connectc_server_call_tick(s, 31000);
  int status;
  head_value(s, "content-type", &status);
  assert_int_equal(status, 504); /* deadline_exceeded */
  connectc_server_call_del(s);
  const char *small[] = {"content-type", "application/grpc", "grpc-timeout", "250m", NULL};
  s = call(&cfg, &unary_m, "POST", small, CONNECTC_OK);
  assert_int_equal(connectc_server_call_deadline(s), 1250);
  connectc_server_call_del(s);
}

static void test_client_sends_time_left(void **state) {
  (void)state;
  connectc_client_config cfg = {.procedure = "/demo.v1.Echo/Chat",
                                .stream_type = CONNECTC_STREAM_BIDI,
                                .codec = "proto",
                                .timeout_ms = 2000};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, NULL, NULL, NULL, 100, &c), CONNECTC_OK);
  connectc_client_call_tick(c, 430); /* 330 ms went by before the head */
  connectc_request_head rh;
  assert_int_equal(connectc_client_call_request_head(c, &rh), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(rh.headers, "connect-timeout-ms"), "1670");
  connectc_client_call_del(c);
  cfg.protocol = CONNECTC_PROTOCOL_GRPC;
  assert_int_equal(connectc_client_call_new(&cfg, NULL, NULL, NULL, 0, &c), CONNECTC_OK);
  connectc_client_call_tick(c, 1999);
  assert_int_equal(connectc_client_call_request_head(c, &rh), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(rh.headers, "grpc-timeout"), "1m");
  connectc_client_call_del(c);
}

/* ---- stats ---- */

static connectc_call_stats last;
static int n_stats;
static void on_stats(const connectc_call_stats *st, void *ud) {
  (void)ud;
  last = *st;
  n_stats++;
}

static void test_stats(void **state) {
  (void)state;
  connectc_server_config cfg = {.on_stats = on_stats};
  const char *hd[] = {"content-type", "application/connect+proto", NULL};
  n_stats = 0;
  connectc_server_call *s = call(&cfg, &bidi_m, "POST", hd, CONNECTC_OK);
  uint8_t env[5 + 3];
  connectc_envelope_write_header(env, 0, 3);
  memcpy(env + 5, "abc", 3);
  connectc_server_call_recv_body(s, env, sizeof env);
  connectc_server_call_recv_body(s, env, sizeof env);
  connectc_server_call_recv_end(s);
  const uint8_t *p;
  size_t n;
  int done;
  connectc_server_call_body_peek(s, &p, &n, &done);
  connectc_server_call_body_consume(s, n);
  connectc_server_call_complete(s, 1042);
  connectc_server_call_complete(s, 9999); /* idempotent */
  assert_int_equal(n_stats, 1);
  assert_string_equal(last.procedure, "/demo.v1.Echo/Chat");
  assert_int_equal(last.protocol, CONNECTC_PROTOCOL_CONNECT);
  assert_string_equal(last.codec, "proto");
  assert_int_equal(last.request_wire_bytes, 16);
  assert_int_equal(last.request_bytes, 6);
  assert_int_equal(last.request_messages, 2);
  assert_int_equal(last.response_messages, 2);
  assert_int_equal(last.response_bytes, 6);
  assert_int_equal(last.response_wire_bytes, n);
  assert_int_equal(last.start_ms, 1000);
  assert_int_equal(last.end_ms, 1042);
  assert_int_equal(last.code, CONNECTC_CODE_OK);
  assert_int_equal(last.http_status, 200);
  connectc_server_call_del(s);
  assert_int_equal(n_stats, 1);
  /* A call deleted without complete reports at deletion, once. */
  s = call(&cfg, &bidi_m, "POST", hd, CONNECTC_OK);
  connectc_server_call_tick(s, 1500);
  connectc_server_call_cancel(s);
  connectc_server_call_del(s);
  assert_int_equal(n_stats, 2);
  assert_int_equal(last.code, CONNECTC_CODE_CANCELED);
  assert_int_equal(last.end_ms, 1500);
  /* Client side. */
  connectc_client_config cc = {.procedure = "/demo.v1.Echo/Say", .codec = "proto", .on_stats = on_stats};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cc, NULL, NULL, NULL, 10, &c), CONNECTC_OK);
  connectc_client_call_send(c, (const uint8_t *)"ping", 4);
  connectc_client_call_body_peek(c, &p, &n, &done);
  connectc_client_call_body_consume(c, n);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/proto");
  connectc_client_call_recv_head(c, 200, &h);
  connectc_client_call_recv_body(c, (const uint8_t *)"pong!", 5);
  connectc_client_call_recv_end(c);
  connectc_client_call_complete(c, 25);
  assert_int_equal(n_stats, 3);
  assert_int_equal(last.request_wire_bytes, 4);
  assert_int_equal(last.response_wire_bytes, 5);
  assert_int_equal(last.response_messages, 1);
  assert_int_equal(last.start_ms, 10);
  assert_int_equal(last.end_ms, 25);
  assert_int_equal(last.http_status, 200);
  connectc_headers_reset(&h);
  connectc_client_call_del(c);
  assert_int_equal(n_stats, 3);
}

/* A Connect client stream finished "successfully" with no response is a
 * handler bug, whether the error is NULL or a value at code OK. */
static void test_client_stream_without_response(void **state) {
  (void)state;
  static const connectc_method_desc client_m = {"/demo.v1.Echo/Sum", CONNECTC_STREAM_CLIENT, 0};
  for (int variant = 0; variant < 2; variant++) {
    connectc_server_call *s = NULL;
    assert_int_equal(connectc_server_call_new(NULL, &client_m, NULL, NULL, NULL, &s), CONNECTC_OK);
    connectc_headers h;
    connectc_headers_init(&h, NULL);
    connectc_headers_adds(&h, "content-type", "application/connect+proto");
    assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
    connectc_server_call_recv_end(s);
    connectc_error ok;
    connectc_error_init(&ok, NULL);
    assert_int_equal(connectc_server_call_finish(s, variant ? &ok : NULL), CONNECTC_OK);
    const uint8_t *p;
    size_t n;
    int done;
    connectc_server_call_body_peek(s, &p, &n, &done);
    const char *want = "{\"error\":{\"code\":\"internal\",\"message\":\"the handler finished "
                       "without a response message\"}}";
    assert_int_equal(n, 5 + strlen(want));
    assert_memory_equal(p + 5, want, strlen(want));
    connectc_headers_reset(&h);
    connectc_server_call_del(s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_interceptor), cmocka_unit_test(test_client_interceptor),
      cmocka_unit_test(test_cors),               cmocka_unit_test(test_deadline_policy),
      cmocka_unit_test(test_client_sends_time_left), cmocka_unit_test(test_stats),
      cmocka_unit_test(test_client_stream_without_response),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
