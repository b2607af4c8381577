/* The generated typed handler interface, driven sans-IO through the router
 * and server calls: unary, client stream, server stream, errors, NULL
 * handlers (unimplemented) and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/envelope.h"
#include "connectc/json_codec.h"
#include "connectc/codegentest/v1/test.connect.h"
#include "connectc/codegentest/v1/test.pb-c.h"

typedef Connectc__Codegentest__V1__Order Order;
typedef Connectc__Codegentest__V1__Order__Line Line;

static int get_order(void *impl, connectc_server_call *call, const Order *request,
                     connectc_stream *responses, connectc_error *error) {
  (void)call;
  ++*(int *)impl;
  if (strcmp(request->id, "missing") == 0) {
    connectc_error_set(error, CONNECTC_CODE_NOT_FOUND, "no order %s", request->id);
    return 1;
  }
  Order o = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  char id[64];
  snprintf(id, sizeof id, "seen:%s", request->id);
  o.id = id;
  return connectc_codegentest_v1_order_service_get_order_send(responses, &o);
}

static int upload_lines(void *impl, connectc_server_call *call, const Line *const *requests,
                        size_t n_requests, connectc_stream *responses, connectc_error *error) {
  (void)impl;
  (void)error;
  connectc_headers_adds(connectc_server_call_response_headers(call), "x-lines", "counted");
  Order o = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  char id[64];
  snprintf(id, sizeof id, "%zu lines, last %s", n_requests, n_requests ? requests[n_requests - 1]->sku : "-");
  o.id = id;
  return connectc_codegentest_v1_order_service_upload_lines_send(responses, &o);
}

static int watch_orders(void *impl, connectc_server_call *call,
                        const Connectc__Codegentest__V1__Empty *request, connectc_stream *responses,
                        connectc_error *error) {
  (void)impl;
  (void)call;
  (void)request;
  (void)error;
  for (int i = 0; i < 3; i++) {
    Order o = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
    o.id = i == 0 ? "a" : i == 1 ? "b" : "c";
    if (connectc_codegentest_v1_order_service_watch_orders_send(responses, &o)) return 1;
  }
  return 0;
}

/* Runs one request through the router; returns the response body. */
static size_t run(connectc_router *r, const char *path, const char *ctype, const uint8_t *body,
                  size_t len, int *status, char *out, size_t cap, connectc_headers *resp_headers) {
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", ctype);
  connectc_server_call_recv_head(s, "POST", NULL, &h, 0);
  connectc_headers_reset(&h);
  connectc_server_call_recv_body(s, body, len);
  connectc_server_call_recv_end(s);
  connectc_response_head head;
  assert_int_equal(connectc_server_call_response_head(s, &head), CONNECTC_OK);
  *status = head.status;
  if (resp_headers) connectc_headers_append_all(resp_headers, head.headers);
  const uint8_t *p;
  size_t n;
  int done;
  connectc_server_call_body_peek(s, &p, &n, &done);
  assert_true(done);
  assert_true(n < cap);
  memcpy(out, p, n);
  out[n] = 0;
  connectc_router_call_del(r, s);
  return n;
}

static size_t pack(const ProtobufCMessage *m, uint8_t *out) { return protobuf_c_message_pack(m, out); }

static void test_typed_handlers(void **state) {
  (void)state;
  int calls = 0;
  connectc_codegentest_v1_order_service_handlers handlers = {0};
  handlers.get_order = get_order;
  handlers.upload_lines = upload_lines;
  handlers.watch_orders = watch_orders;
  connectc_type_registry *reg = connectc_type_registry_new(NULL);
  assert_int_equal(connectc_codegentest_v1_test__register_types(reg), CONNECTC_OK);
  connectc_codec *json = connectc_codec_json_new(reg, NULL);
  connectc_router *r = connectc_router_new(NULL, NULL);
  assert_int_equal(connectc_codegentest_v1_order_service_register(r, &handlers, &calls, json), CONNECTC_OK);
  /* Registering twice is refused (the procedures already exist). */
  assert_int_equal(connectc_codegentest_v1_order_service_register(r, &handlers, &calls, json),
                   CONNECTC_ERR_ARGUMENT);

  char out[512];
  int status;
  /* Unary, proto. */
  Order req = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  req.id = "o1";
  uint8_t buf[256];
  size_t n = pack(&req.base, buf);
  size_t got = run(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/proto", buf, n,
                   &status, out, sizeof out, NULL);
  assert_int_equal(status, 200);
  Order *o = connectc__codegentest__v1__order__unpack(NULL, got, (const uint8_t *)out);
  assert_non_null(o);
  assert_string_equal(o->id, "seen:o1");
  connectc__codegentest__v1__order__free_unpacked(o, NULL);
  /* Unary, JSON, and an error with its code. */
  const char *j = "{\"id\":\"o2\"}";
  run(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/json", (const uint8_t *)j,
      strlen(j), &status, out, sizeof out, NULL);
  assert_int_equal(status, 200);
  assert_string_equal(out, "{\"id\":\"seen:o2\"}");
  j = "{\"id\":\"missing\"}";
  run(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/json", (const uint8_t *)j,
      strlen(j), &status, out, sizeof out, NULL);
  assert_int_equal(status, 404);
  assert_string_equal(out, "{\"code\":\"not_found\",\"message\":\"no order missing\"}");
  /* A request the codec refuses never reaches the handler. */
  j = "{\"id\":5}";
  run(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/json", (const uint8_t *)j,
      strlen(j), &status, out, sizeof out, NULL);
  assert_int_equal(status, 400);
  assert_int_equal(calls, 3);
  /* NULL handler: unimplemented. */
  run(r, "/connectc.codegentest.v1.OrderService/PutOrder", "application/proto", buf, n, &status, out,
      sizeof out, NULL);
  assert_int_equal(status, 501);
  assert_string_equal(out,
                      "{\"code\":\"unimplemented\",\"message\":\"/connectc.codegentest.v1.OrderService/"
                      "PutOrder is not implemented\"}");
  /* Client stream: every request reaches the handler. */
  uint8_t sbuf[256];
  size_t sn = 0;
  const char *skus[] = {"x", "y"};
  for (int i = 0; i < 2; i++) {
    Line l = CONNECTC__CODEGENTEST__V1__ORDER__LINE__INIT;
    l.sku = (char *)skus[i];
    size_t ln = pack(&l.base, sbuf + sn + 5);
    connectc_envelope_write_header(sbuf + sn, 0, (uint32_t)ln);
    sn += 5 + ln;
  }
  connectc_headers rh;
  connectc_headers_init(&rh, NULL);
  got = run(r, "/connectc.codegentest.v1.OrderService/UploadLines", "application/connect+proto", sbuf,
            sn, &status, out, sizeof out, &rh);
  assert_int_equal(status, 200);
  assert_string_equal(connectc_headers_get(&rh, "x-lines"), "counted");
  connectc_headers_reset(&rh);
  o = connectc__codegentest__v1__order__unpack(NULL, (size_t)out[4], (const uint8_t *)out + 5);
  assert_non_null(o);
  assert_string_equal(o->id, "2 lines, last y");
  connectc__codegentest__v1__order__free_unpacked(o, NULL);
  /* Server stream in JSON: three messages, then a clean end. */
  const uint8_t empty_env[] = {0, 0, 0, 0, 2, '{', '}'};
  got = run(r, "/connectc.codegentest.v1.OrderService/WatchOrders", "application/connect+json", empty_env,
            sizeof empty_env, &status, out, sizeof out, NULL);
  assert_int_equal(status, 200);
  const char *want[] = {"{\"id\":\"a\"}", "{\"id\":\"b\"}", "{\"id\":\"c\"}", "{}"};
  size_t off = 0;
  for (int i = 0; i < 4; i++) {
    size_t len = (size_t)(uint8_t)out[off + 4];
    assert_int_equal(out[off], i == 3 ? CONNECTC_ENVELOPE_FLAG_END_STREAM : 0);
    assert_memory_equal(out + off + 5, want[i], len);
    off += 5 + len;
  }
  assert_int_equal(off, got);
  connectc_router_del(r);
  connectc_codec_json_del(json);
  connectc_type_registry_del(reg);
}


/* A client stream cannot make the server keep unbounded requests. */
static void test_collected_bound(void **state) {
  (void)state;
  connectc_codegentest_v1_order_service_handlers handlers = {0};
  handlers.upload_lines = upload_lines;
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = 8; /* keeps at most 128 request bytes */
  connectc_router *r = connectc_router_new(&cfg, NULL);
  assert_int_equal(connectc_codegentest_v1_order_service_register(r, &handlers, NULL, NULL), CONNECTC_OK);
  uint8_t body[40 * 16];
  size_t n = 0;
  for (int i = 0; i < 40; i++) {
    Line l = CONNECTC__CODEGENTEST__V1__ORDER__LINE__INIT;
    l.sku = "sku";
    size_t ln = pack(&l.base, body + n + 5);
    connectc_envelope_write_header(body + n, 0, (uint32_t)ln);
    n += 5 + ln;
  }
  char out[512];
  int status;
  run(r, "/connectc.codegentest.v1.OrderService/UploadLines", "application/connect+proto", body, n,
      &status, out, sizeof out, NULL);
  assert_int_equal(status, 200);
  assert_string_equal(out + 5,
                      "{\"error\":{\"code\":\"resource_exhausted\",\"message\":\"the request "
                      "stream exceeds 128 bytes or 65536 messages kept for the handler\"}}");
  connectc_router_del(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_typed_handlers),
                                     cmocka_unit_test(test_collected_bound)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
