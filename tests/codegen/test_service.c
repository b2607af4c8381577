/* The generated typed interfaces, driven sans-IO: the synchronous and
 * asynchronous handlers through the router and server calls (unary, client
 * stream, server stream, errors, NULL handlers, JSON), and the
 * asynchronous client stubs over a scripted transport. */
#define _XOPEN_SOURCE 700 /* PTHREAD_MUTEX_RECURSIVE */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/envelope.h"
#include "connectc/json_codec.h"
#include "connectc/codegentest/v1/names.connect.h"
#include "connectc/codegentest/v1/test.connect.h"
#include "connectc/codegentest/v1/test.pb-c.h"

typedef Connectc__Codegentest__V1__Order Order;
typedef Connectc__Codegentest__V1__Order__Line Line;

static int get_order(void *impl, connectc_server_call *call, const Order *request,
                     connectc_response_writer *responses, connectc_error *error) {
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
  return connectc_codegentest_v1_order_service_get_order__send(responses, &o);
}

static int upload_lines(void *impl, connectc_server_call *call, const Line *const *requests,
                        size_t n_requests, connectc_response_writer *responses, connectc_error *error) {
  (void)impl;
  (void)error;
  connectc_headers_adds(connectc_server_call_response_headers(call), "x-lines", "counted");
  Order o = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  char id[64];
  snprintf(id, sizeof id, "%zu lines, last %s", n_requests, n_requests ? requests[n_requests - 1]->sku : "-");
  o.id = id;
  return connectc_codegentest_v1_order_service_upload_lines__send(responses, &o);
}

static int watch_orders(void *impl, connectc_server_call *call,
                        const Connectc__Codegentest__V1__Empty *request, connectc_response_writer *responses,
                        connectc_error *error) {
  (void)impl;
  (void)call;
  (void)request;
  (void)error;
  for (int i = 0; i < 3; i++) {
    Order o = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
    o.id = i == 0 ? "a" : i == 1 ? "b" : "c";
    if (connectc_codegentest_v1_order_service_watch_orders__send(responses, &o)) return 1;
  }
  return 0;
}

/* Starts a call and feeds it a whole request; the response is left for
 * the test to produce. */
static connectc_server_call *begin(connectc_router *r, const char *path, const char *ctype,
                                   const uint8_t *body, size_t len) {
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", ctype);
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
  connectc_headers_reset(&h);
  connectc_server_call_recv_body(s, body, len);
  connectc_server_call_recv_end(s);
  return s;
}

static size_t body_of(connectc_server_call *s, int *status, char *out, size_t cap) {
  connectc_response_head head;
  assert_int_equal(connectc_server_call_response_head(s, &head), CONNECTC_OK);
  *status = head.status;
  const uint8_t *p;
  size_t n;
  int done;
  connectc_server_call_body_peek(s, &p, &n, &done);
  assert_true(done);
  assert_true(n < cap);
  memcpy(out, p, n);
  out[n] = 0;
  return n;
}

/* Runs one request through the router; returns the response body. */
static size_t run(connectc_router *r, const char *path, const char *ctype, const uint8_t *body,
                  size_t len, int *status, char *out, size_t cap, connectc_headers *resp_headers) {
  connectc_server_call *s = begin(r, path, ctype, body, len);
  size_t n = body_of(s, status, out, cap);
  if (resp_headers) {
    connectc_response_head head;
    assert_int_equal(connectc_server_call_response_head(s, &head), CONNECTC_OK);
    connectc_headers_append_all(resp_headers, head.headers);
  }
  connectc_router_call_del(r, s);
  return n;
}

static size_t pack(const ProtobufCMessage *m, uint8_t *out) { return protobuf_c_message_pack(m, out); }

static void test_typed_handlers(void **state) {
  (void)state;
  int calls = 0;
  connectc_codegentest_v1_order_service__handlers handlers = {0};
  handlers.get_order = get_order;
  handlers.upload_lines = upload_lines;
  handlers.watch_orders = watch_orders;
  connectc_type_registry *reg = NULL;
  (void)connectc_type_registry_new(NULL, &reg);
  assert_int_equal(connectc_codegentest_v1_test__register_types(reg), CONNECTC_OK);
  connectc_codec *json = NULL;
  (void)connectc_codec_json_new(reg, NULL, &json);
  connectc_router *r = NULL;
  (void)connectc_router_new(NULL, NULL, &r);
  assert_int_equal(connectc_codegentest_v1_order_service__register(r, &handlers, &calls, json), CONNECTC_OK);
  /* Registering twice is refused (the procedures already exist). */
  assert_int_equal(connectc_codegentest_v1_order_service__register(r, &handlers, &calls, json),
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
  connectc_codegentest_v1_order_service__handlers handlers = {0};
  handlers.upload_lines = upload_lines;
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = 8; /* keeps at most 128 request bytes */
  connectc_router *r = NULL;
  (void)connectc_router_new(&cfg, NULL, &r);
  assert_int_equal(connectc_codegentest_v1_order_service__register(r, &handlers, NULL, NULL), CONNECTC_OK);
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

/* Registered without a JSON codec, a method serves proto only: JSON
 * requests get 415 instead of being read as protobuf. */
static void test_no_json_codec(void **state) {
  (void)state;
  connectc_codegentest_v1_order_service__handlers handlers = {0};
  handlers.get_order = get_order;
  connectc_router *r = NULL;
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_order_service__register(r, &handlers, NULL, NULL), CONNECTC_OK);
  connectc_server_call *s = NULL;
  const char *path = "/connectc.codegentest.v1.OrderService/GetOrder";
  assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/json");
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_ERR_PROTOCOL);
  connectc_response_head head;
  assert_int_equal(connectc_server_call_response_head(s, &head), CONNECTC_OK);
  assert_int_equal(head.status, 415);
  assert_string_equal(connectc_headers_get(head.headers, "accept-post"),
                      "application/proto, application/grpc+proto, application/grpc-web+proto");
  connectc_headers_reset(&h);
  connectc_router_call_del(r, s);
  connectc_router_del(r);
}


/* ---- asynchronous handlers ---- */

typedef struct held {
  connectc_responder *responder;
  const Order *request;
  const Line *const *lines;
  size_t n_lines;
  int calls;
} held;

static void async_get_order(void *impl, connectc_responder *responder, const Order *request) {
  held *h = impl;
  h->calls++;
  h->responder = responder;
  h->request = request;
}

static void async_upload_lines(void *impl, connectc_responder *responder, const Line *const *requests,
                               size_t n_requests) {
  held *h = impl;
  h->calls++;
  h->responder = responder;
  h->lines = requests;
  h->n_lines = n_requests;
}

static void note_cancel(connectc_responder *r, const connectc_error *why, void *arg) {
  (void)r;
  *(connectc_code *)arg = why->code;
}

static void finish_on_cancel(connectc_responder *r, const connectc_error *why, void *arg) {
  *(connectc_code *)arg = why->code;
  assert_int_equal(connectc_responder_finish(r, NULL), CONNECTC_ERR_STATE);
}

static void test_async_handlers(void **state) {
  (void)state;
  held h = {0};
  connectc_codegentest_v1_order_service__async_handlers handlers = {0};
  handlers.get_order = async_get_order;
  handlers.upload_lines = async_upload_lines;
  connectc_router *r = NULL;
  (void)connectc_router_new(NULL, NULL, &r);
  assert_int_equal(connectc_codegentest_v1_order_service__register_async(r, &handlers, &h, NULL),
                   CONNECTC_OK);
  char out[512];
  int status;
  /* Unary: the handler returns without answering; the answer comes later
   * and the request stays valid until the finish. */
  Order req = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  req.id = "later";
  uint8_t buf[256];
  size_t n = pack(&req.base, buf);
  connectc_server_call *s =
      begin(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/proto", buf, n);
  assert_int_equal(h.calls, 1);
  assert_non_null(h.responder);
  assert_false(connectc_server_call_is_finished(s));
  assert_ptr_equal(connectc_responder_call(h.responder), s);
  assert_false(connectc_responder_is_done(h.responder));
  assert_int_equal(connectc_responder_add_header(h.responder, "x-when", "later"), CONNECTC_OK);
  assert_int_equal(connectc_responder_add_trailer(h.responder, "x-trail", "t"), CONNECTC_OK);
  Order resp = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  resp.id = h.request->id; /* still valid */
  assert_int_equal(connectc_codegentest_v1_order_service_get_order__respond(h.responder, &resp),
                   CONNECTC_OK);
  /* A second response of a unary method is refused. */
  assert_int_equal(connectc_codegentest_v1_order_service_get_order__respond(h.responder, &resp),
                   CONNECTC_ERR_STATE);
  assert_int_equal(connectc_responder_finish(h.responder, NULL), CONNECTC_OK);
  size_t got = body_of(s, &status, out, sizeof out);
  assert_int_equal(status, 200);
  connectc_response_head head;
  connectc_server_call_response_head(s, &head);
  assert_string_equal(connectc_headers_get(head.headers, "x-when"), "later");
  assert_string_equal(connectc_headers_get(head.headers, "trailer-x-trail"), "t");
  Order *o = connectc__codegentest__v1__order__unpack(NULL, got, (const uint8_t *)out);
  assert_non_null(o);
  assert_string_equal(o->id, "later");
  connectc__codegentest__v1__order__free_unpacked(o, NULL);
  connectc_router_call_del(r, s);

  /* Unary finished with an error carrying a detail. */
  h.responder = NULL;
  s = begin(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/proto", buf, n);
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_FAILED_PRECONDITION, "not yet");
  assert_int_equal(connectc_responder_finish(h.responder, &e), CONNECTC_OK);
  connectc_error_reset(&e);
  body_of(s, &status, out, sizeof out);
  assert_int_equal(status, 400);
  assert_string_equal(out, "{\"code\":\"failed_precondition\",\"message\":\"not yet\"}");
  connectc_router_call_del(r, s);

  /* Canceled while the handler holds it: sends fail, finish still releases. */
  h.responder = NULL;
  s = begin(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/proto", buf, n);
  connectc_server_call_cancel(s);
  assert_true(connectc_responder_is_done(h.responder));
  resp.id = "later"; /* it pointed into the first call's request, freed with it */
  assert_int_equal(connectc_codegentest_v1_order_service_get_order__respond(h.responder, &resp),
                   CONNECTC_ERR_STATE);
  assert_int_equal(connectc_responder_add_header(h.responder, "x-late", "1"), CONNECTC_ERR_STATE);
  assert_int_equal(connectc_responder_finish(h.responder, NULL), CONNECTC_ERR_STATE);
  connectc_router_call_del(r, s);

  /* Told of the end: the client going away, and the deadline passing. */
  h.responder = NULL;
  s = begin(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/proto", buf, n);
  connectc_code why = CONNECTC_CODE_OK;
  connectc_responder_on_cancel(h.responder, note_cancel, &why);
  assert_int_equal(why, CONNECTC_CODE_OK);
  connectc_server_call_cancel(s);
  assert_int_equal(why, CONNECTC_CODE_CANCELED);
  /* Registering after the fact reports at once. */
  why = CONNECTC_CODE_OK;
  connectc_responder_on_cancel(h.responder, note_cancel, &why);
  assert_int_equal(why, CONNECTC_CODE_CANCELED);
  connectc_responder_finish(h.responder, NULL);
  connectc_router_call_del(r, s);
  h.responder = NULL;
  assert_int_equal(connectc_router_call_new(r, "/connectc.codegentest.v1.OrderService/GetOrder",
                                            strlen("/connectc.codegentest.v1.OrderService/GetOrder"),
                                            &s),
                   CONNECTC_OK);
  connectc_headers rqh;
  connectc_headers_init(&rqh, NULL);
  connectc_headers_adds(&rqh, "content-type", "application/proto");
  connectc_headers_adds(&rqh, "connect-timeout-ms", "100");
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &rqh, 1000), CONNECTC_OK);
  connectc_headers_reset(&rqh);
  connectc_server_call_recv_body(s, buf, n);
  connectc_server_call_recv_end(s);
  why = CONNECTC_CODE_OK;
  connectc_responder_on_cancel(h.responder, finish_on_cancel, &why);
  connectc_server_call_tick(s, 1050);
  assert_int_equal(why, CONNECTC_CODE_OK);
  connectc_server_call_tick(s, 1100); /* the handler finishes from the callback */
  assert_int_equal(why, CONNECTC_CODE_DEADLINE_EXCEEDED);
  body_of(s, &status, out, sizeof out);
  assert_int_equal(status, 504);
  connectc_router_call_del(r, s);
  /* A handler that finishes first is not called back. */
  h.responder = NULL;
  s = begin(r, "/connectc.codegentest.v1.OrderService/GetOrder", "application/proto", buf, n);
  why = CONNECTC_CODE_OK;
  connectc_responder_on_cancel(h.responder, note_cancel, &why);
  connectc_responder_finish(h.responder, NULL);
  connectc_server_call_cancel(s);
  assert_int_equal(why, CONNECTC_CODE_OK);
  connectc_router_call_del(r, s);

  /* Client stream: the typed request array outlives the handler call. */
  uint8_t sbuf[256];
  size_t sn = 0;
  const char *skus[] = {"x", "y", "z"};
  for (int i = 0; i < 3; i++) {
    Line l = CONNECTC__CODEGENTEST__V1__ORDER__LINE__INIT;
    l.sku = (char *)skus[i];
    size_t ln = pack(&l.base, sbuf + sn + 5);
    connectc_envelope_write_header(sbuf + sn, 0, (uint32_t)ln);
    sn += 5 + ln;
  }
  s = begin(r, "/connectc.codegentest.v1.OrderService/UploadLines", "application/connect+proto", sbuf,
            sn);
  assert_int_equal(h.n_lines, 3);
  assert_string_equal(h.lines[2]->sku, "z");
  char id[64];
  snprintf(id, sizeof id, "%zu lines, first %s", h.n_lines, h.lines[0]->sku);
  resp.id = id;
  assert_int_equal(connectc_codegentest_v1_order_service_upload_lines__respond(h.responder, &resp),
                   CONNECTC_OK);
  /* Too late for a header once the response has started. */
  assert_int_equal(connectc_responder_add_header(h.responder, "x-late", "1"), CONNECTC_ERR_STATE);
  assert_int_equal(connectc_responder_finish(h.responder, NULL), CONNECTC_OK);
  body_of(s, &status, out, sizeof out);
  assert_int_equal(status, 200);
  o = connectc__codegentest__v1__order__unpack(NULL, (size_t)out[4], (const uint8_t *)out + 5);
  assert_non_null(o);
  assert_string_equal(o->id, "3 lines, first x");
  connectc__codegentest__v1__order__free_unpacked(o, NULL);
  connectc_router_call_del(r, s);

  /* A NULL asynchronous handler answers unimplemented. */
  got = run(r, "/connectc.codegentest.v1.OrderService/PutOrder", "application/proto", buf, n, &status,
            out, sizeof out, NULL);
  assert_int_equal(status, 501);
  assert_int_equal(h.calls, 7);
  connectc_router_del(r);
}

/* ---- asynchronous client stubs over a scripted transport ---- */

typedef struct fake_transport {
  connectc_client_call *call;
  void (*released)(void *);
  void *arg;
  int starts, wakes;
  int fail_start;
} fake_transport;

static int fake_start(void *ctx, connectc_client_call *call, void (*released)(void *), void *arg) {
  fake_transport *t = ctx;
  if (t->fail_start) return CONNECTC_ERR_NOMEM;
  t->call = call;
  t->released = released;
  t->arg = arg;
  t->starts++;
  return CONNECTC_OK;
}
static void fake_wake(void *ctx, connectc_client_call *call) {
  fake_transport *t = ctx;
  assert_ptr_equal(call, t->call);
  t->wakes++;
}
static int fake_perform(void *ctx, connectc_client_call *call) {
  (void)ctx;
  (void)call;
  return CONNECTC_ERR_UNSUPPORTED;
}
/* The transport lets go of the call (as an adapter does after on_close). */
static void fake_release(fake_transport *t) {
  void (*rel)(void *) = t->released;
  t->released = NULL;
  t->call = NULL;
  if (rel) rel(t->arg);
}

typedef struct seen {
  int headers, responses, closes;
  connectc_code code;
  char message[128];
  char ids[128];
  char trailer[32];
  int del_in_close;
  connectc_async_call *stream;
} seen;

static void c_headers(connectc_async_call *st, const connectc_headers *h, void *ud) {
  (void)st;
  (void)h;
  ((seen *)ud)->headers++;
}
static void c_response(connectc_async_call *st, Order *o, void *ud) {
  seen *s = ud;
  s->responses++;
  strncat(s->ids, o->id, sizeof s->ids - strlen(s->ids) - 1);
  connectc_message_free(&o->base, connectc_async_call_allocator(st));
}
static void c_close(connectc_async_call *st, const connectc_error *err, const connectc_headers *tr,
                    void *ud) {
  seen *s = ud;
  s->closes++;
  s->code = err->code;
  snprintf(s->message, sizeof s->message, "%s", err->message ? err->message : "");
  const char *t = connectc_headers_get(tr, "x-t");
  snprintf(s->trailer, sizeof s->trailer, "%s", t ? t : "");
  if (s->del_in_close) connectc_async_call_del(st);
}

static void respond_unary(connectc_client_call *call, const Order *o) {
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/proto");
  connectc_headers_adds(&h, "trailer-x-t", "tv");
  assert_int_equal(connectc_client_call_recv_head(call, 200, &h), CONNECTC_OK);
  connectc_headers_reset(&h);
  uint8_t buf[128];
  size_t n = pack(&o->base, buf);
  connectc_client_call_recv_body(call, buf, n);
  connectc_client_call_recv_end(call);
}

static void test_async_client(void **state) {
  (void)state;
  fake_transport ft = {0};
  const connectc_transport tr = {
      .perform = fake_perform, .ctx = &ft, .start = fake_start, .wake = fake_wake};
  connectc_client client;
  connectc_client_init(&client, tr);
  connectc_codegentest_v1_order_service_get_order__callbacks cb = {
      .on_headers = c_headers, .on_response = c_response, .on_close = c_close};
  Order req = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  req.id = "a1";

  /* Unary: started by the request, answered by the transport. */
  seen sn = {0};
  connectc_async_call *st = NULL;
  assert_int_equal(
      connectc_codegentest_v1_order_service_get_order__start(&client, &req, NULL, &cb, &sn, &st),
      CONNECTC_OK);
  assert_non_null(st);
  assert_int_equal(ft.starts, 1);
  connectc_request_head head;
  assert_int_equal(connectc_client_call_request_head(ft.call, &head), CONNECTC_OK);
  assert_string_equal(head.path, "/connectc.codegentest.v1.OrderService/GetOrder");
  Order resp = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  resp.id = "r1";
  respond_unary(ft.call, &resp);
  assert_int_equal(sn.headers, 1);
  assert_int_equal(sn.responses, 1);
  assert_int_equal(sn.closes, 1);
  assert_int_equal(sn.code, CONNECTC_CODE_OK);
  assert_string_equal(sn.ids, "r1");
  assert_string_equal(sn.trailer, "tv");
  assert_true(connectc_async_call_is_closed(st));
  /* Deleted before the transport let go: freed when it does (ASan checks). */
  connectc_async_call_del(st);
  fake_release(&ft);

  /* Deleted from inside on_close, while the transport still holds it. */
  memset(&sn, 0, sizeof sn);
  sn.del_in_close = 1;
  assert_int_equal(
      connectc_codegentest_v1_order_service_get_order__start(&client, &req, NULL, &cb, &sn, &st),
      CONNECTC_OK);
  respond_unary(ft.call, &resp);
  assert_int_equal(sn.closes, 1);
  fake_release(&ft);

  /* A response the codec cannot read: on_close reports the codec's error. */
  memset(&sn, 0, sizeof sn);
  assert_int_equal(
      connectc_codegentest_v1_order_service_get_order__start(&client, &req, NULL, &cb, &sn, &st),
      CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/proto");
  connectc_client_call_recv_head(ft.call, 200, &h);
  connectc_headers_reset(&h);
  const uint8_t junk[] = {0x0a, 0x05, 'a'}; /* field 1 claims 5 bytes, has 1 */
  connectc_client_call_recv_body(ft.call, junk, sizeof junk);
  connectc_client_call_recv_end(ft.call);
  assert_int_equal(sn.closes, 1);
  assert_int_equal(sn.responses, 0);
  assert_int_not_equal(sn.code, CONNECTC_CODE_OK);
  assert_int_not_equal(sn.code, CONNECTC_CODE_CANCELED);
  fake_release(&ft);
  connectc_async_call_del(st);

  /* Deleting an unfinished call cancels it: on_close fires once, inside del. */
  memset(&sn, 0, sizeof sn);
  assert_int_equal(
      connectc_codegentest_v1_order_service_get_order__start(&client, &req, NULL, &cb, &sn, &st),
      CONNECTC_OK);
  int wakes = ft.wakes;
  connectc_async_call_del(st);
  assert_int_equal(sn.closes, 1);
  assert_int_equal(sn.code, CONNECTC_CODE_CANCELED);
  assert_true(ft.wakes > wakes); /* the transport was told to abort */
  fake_release(&ft);

  /* Client stream: started at once, requests sent as they come. */
  connectc_codegentest_v1_order_service_upload_lines__callbacks ucb = {
      .on_headers = c_headers, .on_response = c_response, .on_close = c_close};
  memset(&sn, 0, sizeof sn);
  int starts = ft.starts;
  assert_int_equal(
      connectc_codegentest_v1_order_service_upload_lines__start(&client, NULL, &ucb, &sn, &st),
      CONNECTC_OK);
  assert_int_equal(ft.starts, starts + 1);
  Line l = CONNECTC__CODEGENTEST__V1__ORDER__LINE__INIT;
  l.sku = "s1";
  assert_int_equal(connectc_codegentest_v1_order_service_upload_lines__send_request(st, &l),
                   CONNECTC_OK);
  assert_int_equal(connectc_async_call_close_send(st), CONNECTC_OK);
  const uint8_t *data;
  size_t len;
  int done;
  connectc_client_call_body_peek(ft.call, &data, &len, &done);
  assert_true(done);
  assert_int_equal(len, 5 + 4);
  assert_memory_equal(data + 5, "\x0a\x02s1", 4);
  /* Sending after close-send is refused. */
  assert_int_equal(connectc_codegentest_v1_order_service_upload_lines__send_request(st, &l),
                   CONNECTC_ERR_STATE);
  connectc_async_call_cancel(st);
  assert_int_equal(sn.code, CONNECTC_CODE_CANCELED);
  connectc_async_call_cancel(st); /* idempotent */
  assert_int_equal(sn.closes, 1);
  fake_release(&ft);
  connectc_async_call_del(st);

  /* A transport that cannot start: no stream, no callback. */
  ft.fail_start = 1;
  memset(&sn, 0, sizeof sn);
  st = (connectc_async_call *)&sn;
  assert_int_equal(
      connectc_codegentest_v1_order_service_upload_lines__start(&client, NULL, &ucb, &sn, &st),
      CONNECTC_ERR_NOMEM);
  assert_null(st);
  assert_int_equal(sn.closes, 0);
  /* ... and for unary calls the failed start is the call's outcome. */
  assert_int_equal(
      connectc_codegentest_v1_order_service_get_order__start(&client, &req, NULL, &cb, &sn, &st),
      CONNECTC_OK);
  assert_int_equal(sn.closes, 1);
  assert_int_equal(sn.code, CONNECTC_CODE_UNAVAILABLE);
  connectc_async_call_del(st);
  ft.fail_start = 0;

  /* A blocking-only transport cannot run asynchronous calls. */
  const connectc_transport blocking = {.perform = fake_perform, .ctx = &ft};
  connectc_client bclient;
  connectc_client_init(&bclient, blocking);
  assert_int_equal(
      connectc_codegentest_v1_order_service_get_order__start(&bclient, &req, NULL, &cb, &sn, &st),
      CONNECTC_ERR_UNSUPPORTED);
  assert_null(st);
}

/* ---- names.proto: every generated name, called for real ---- */

/* Names' single-request, single-response rpcs, as X(word, member,
 * Method): `word` is the rpc's part of its C names
 * (connectc_codegentest_v1_names_<word>, ..._<word>__send, ...), `member`
 * its handler-table member (keywords and standard macros get a '_'), and
 * Method its proto name. Every use of `word` is pasted or stringized, so
 * the preprocessor never expands it (assert, errno, bool). */
#define NAMES_UNARY(X)                             \
  X(register, register_, Register)                 \
  X(register_async, register_async, RegisterAsync) \
  X(handlers, handlers, Handlers)                  \
  X(async_handlers, async_handlers, AsyncHandlers) \
  X(methods, methods, Methods)                     \
  X(method_type, method_type, MethodType)          \
  X(name, name, Name)                              \
  X(method_count, method_count, MethodCount)       \
  X(register_types, register_types, RegisterTypes) \
  X(call, call, Call)                              \
  X(method, method, Method)                        \
  X(invoke, invoke, Invoke)                        \
  X(invoke_async, invoke_async, InvokeAsync)       \
  X(deliver, deliver, Deliver)                     \
  X(return, return_, Return)                       \
  X(int, int_, Int)                                \
  X(switch, switch_, Switch)                       \
  X(default, default_, Default)                    \
  X(static, static_, Static)                       \
  X(bool, bool_, Bool)                             \
  X(class, class_, Class)                          \
  X(new, new_, New)                                \
  X(assert, assert_, Assert)                       \
  X(errno, errno_, Errno)                          \
  X(linux, linux_, Linux)                          \
  X(static_assert, static_assert_, StaticAssert)   \
  X(leading, leading, _Leading)                    \
  X(trailing, trailing, Trailing_)                 \
  X(double_under, double_under, Double__Under)     \
  X(v2_thing, v2_thing, V2Thing)                   \
  X(httpget, httpget, HTTPGet)

typedef Connectc__Codegentest__V1__Word Word;

/* The implementation both handler tables share: `tag` tells them apart. */
typedef struct names_impl {
  const char *tag; /* "sync" or "async" */
  int calls;
} names_impl;

/* "<tag> <Method>: <text>[ <text>...]" into buf. */
static void names_text(char *buf, size_t cap, const names_impl *impl, const char *method,
                       const Word *const *requests, size_t n) {
  snprintf(buf, cap, "%s %s:", impl->tag, method);
  for (size_t i = 0; i < n; i++)
    snprintf(buf + strlen(buf), cap - strlen(buf), " %s", requests[i]->text);
}

typedef int (*word_send_fn)(connectc_response_writer *, const Word *);
typedef int (*word_respond_fn)(connectc_responder *, const Word *);

static int names_sync_reply(void *impl, const char *method, const Word *const *requests,
                            size_t n, connectc_response_writer *responses, word_send_fn send) {
  char text[256];
  Word w = CONNECTC__CODEGENTEST__V1__WORD__INIT;
  ((names_impl *)impl)->calls++;
  names_text(text, sizeof text, impl, method, requests, n);
  w.text = text;
  return send(responses, &w);
}

static void names_async_reply(void *impl, connectc_responder *responder, const char *method,
                              const Word *const *requests, size_t n, word_respond_fn respond) {
  char text[256];
  Word w = CONNECTC__CODEGENTEST__V1__WORD__INIT;
  ((names_impl *)impl)->calls++;
  names_text(text, sizeof text, impl, method, requests, n);
  w.text = text;
  assert_int_equal(respond(responder, &w), CONNECTC_OK);
  assert_int_equal(connectc_responder_finish(responder, NULL), CONNECTC_OK);
}

#define NAMES_HANDLERS(word, member, Method)                                                      \
  static int sync_##word(void *impl, connectc_server_call *call, const Word *request,           \
                         connectc_response_writer *responses, connectc_error *error) {          \
    (void)call;                                                                                  \
    (void)error;                                                                                 \
    return names_sync_reply(impl, #Method, &request, 1, responses,                               \
                            connectc_codegentest_v1_names_##word##__send);                       \
  }                                                                                              \
  static void async_##word(void *impl, connectc_responder *responder, const Word *request) {    \
    names_async_reply(impl, responder, #Method, &request, 1,                                     \
                      connectc_codegentest_v1_names_##word##__respond);                          \
  }
NAMES_UNARY(NAMES_HANDLERS)

/* Client streams (Callbacks, Start): one response naming every request. */
static int sync_callbacks(void *impl, connectc_server_call *call, const Word *const *requests,
                          size_t n_requests, connectc_response_writer *responses,
                          connectc_error *error) {
  (void)call;
  (void)error;
  return names_sync_reply(impl, "Callbacks", requests, n_requests, responses,
                          connectc_codegentest_v1_names_callbacks__send);
}
static void async_callbacks(void *impl, connectc_responder *responder,
                            const Word *const *requests, size_t n_requests) {
  names_async_reply(impl, responder, "Callbacks", requests, n_requests,
                    connectc_codegentest_v1_names_callbacks__respond);
}
static int sync_start(void *impl, connectc_server_call *call, const Word *const *requests,
                      size_t n_requests, connectc_response_writer *responses,
                      connectc_error *error) {
  (void)call;
  (void)error;
  return names_sync_reply(impl, "Start", requests, n_requests, responses,
                          connectc_codegentest_v1_names_start__send);
}
static void async_start(void *impl, connectc_responder *responder, const Word *const *requests,
                        size_t n_requests) {
  names_async_reply(impl, responder, "Start", requests, n_requests,
                    connectc_codegentest_v1_names_start__respond);
}

/* Streams of responses (SendRequest: bidi; Send, Respond: server): one
 * response per request, then one more, "<tag> <Method>: end". */
static int names_sync_stream(void *impl, const char *method, const Word *const *requests,
                             size_t n, connectc_response_writer *responses, word_send_fn send) {
  Word end = CONNECTC__CODEGENTEST__V1__WORD__INIT;
  const Word *endp = &end;
  end.text = "end";
  for (size_t i = 0; i < n; i++)
    if (names_sync_reply(impl, method, &requests[i], 1, responses, send) != 0) return 1;
  return names_sync_reply(impl, method, &endp, 1, responses, send);
}
static void names_async_stream(void *impl, connectc_responder *responder, const char *method,
                               const Word *const *requests, size_t n, word_respond_fn respond) {
  char text[256];
  for (size_t i = 0; i <= n; i++) {
    Word w = CONNECTC__CODEGENTEST__V1__WORD__INIT;
    Word end = CONNECTC__CODEGENTEST__V1__WORD__INIT;
    const Word *one = &end;
    end.text = "end";
    if (i < n) one = requests[i];
    ((names_impl *)impl)->calls++;
    names_text(text, sizeof text, impl, method, &one, 1);
    w.text = text;
    assert_int_equal(respond(responder, &w), CONNECTC_OK);
  }
  assert_int_equal(connectc_responder_finish(responder, NULL), CONNECTC_OK);
}
static int sync_send_request(void *impl, connectc_server_call *call, const Word *const *requests,
                             size_t n_requests, connectc_response_writer *responses,
                             connectc_error *error) {
  (void)call;
  (void)error;
  return names_sync_stream(impl, "SendRequest", requests, n_requests, responses,
                           connectc_codegentest_v1_names_send_request__send);
}
static void async_send_request(void *impl, connectc_responder *responder,
                               const Word *const *requests, size_t n_requests) {
  names_async_stream(impl, responder, "SendRequest", requests, n_requests,
                     connectc_codegentest_v1_names_send_request__respond);
}
static int sync_send(void *impl, connectc_server_call *call, const Word *request,
                     connectc_response_writer *responses, connectc_error *error) {
  (void)call;
  (void)error;
  return names_sync_stream(impl, "Send", &request, 1, responses,
                           connectc_codegentest_v1_names_send__send);
}
static void async_send(void *impl, connectc_responder *responder, const Word *request) {
  names_async_stream(impl, responder, "Send", &request, 1,
                     connectc_codegentest_v1_names_send__respond);
}
static int sync_respond(void *impl, connectc_server_call *call, const Word *request,
                        connectc_response_writer *responses, connectc_error *error) {
  (void)call;
  (void)error;
  return names_sync_stream(impl, "Respond", &request, 1, responses,
                           connectc_codegentest_v1_names_respond__send);
}
static void async_respond(void *impl, connectc_responder *responder, const Word *request) {
  names_async_stream(impl, responder, "Respond", &request, 1,
                     connectc_codegentest_v1_names_respond__respond);
}

/* NamesRegister.Call: the service named like Names' rpc Register. */
static int sync_nr_call(void *impl, connectc_server_call *call, const Word *request,
                        connectc_response_writer *responses, connectc_error *error) {
  (void)call;
  (void)error;
  return names_sync_reply(impl, "NamesRegister.Call", &request, 1, responses,
                          connectc_codegentest_v1_names_register_call__send);
}
static void async_nr_call(void *impl, connectc_responder *responder, const Word *request) {
  names_async_reply(impl, responder, "NamesRegister.Call", &request, 1,
                    connectc_codegentest_v1_names_register_call__respond);
}

#define NAMES_SYNC_MEMBER(word, member, Method) .member = sync_##word,
#define NAMES_ASYNC_MEMBER(word, member, Method) .member = async_##word,
static const connectc_codegentest_v1_names__handlers names_sync = {
    NAMES_UNARY(NAMES_SYNC_MEMBER).callbacks = sync_callbacks,
    .start = sync_start,
    .send_request = sync_send_request,
    .send = sync_send,
    .respond = sync_respond,
};
static const connectc_codegentest_v1_names__async_handlers names_async = {
    NAMES_UNARY(NAMES_ASYNC_MEMBER).callbacks = async_callbacks,
    .start = async_start,
    .send_request = async_send_request,
    .send = async_send,
    .respond = async_respond,
};
static const connectc_codegentest_v1_names_register__handlers nr_sync = {.call = sync_nr_call};
static const connectc_codegentest_v1_names_register__async_handlers nr_async = {
    .call = async_nr_call};

/* A transport that runs each call through a router in memory, as an HTTP
 * adapter would: blocking (perform) and asynchronous (start, then
 * loopback_finish() plays the event loop). */
typedef struct loopback {
  connectc_router *router;
  connectc_client_call *pending; /* started, not yet moved */
  void (*released)(void *);
  void *arg;
} loopback;

static void loopback_move(connectc_router *r, connectc_client_call *c) {
  connectc_request_head rq;
  assert_int_equal(connectc_client_call_request_head(c, &rq), CONNECTC_OK);
  assert_string_equal(rq.method, "POST");
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_router_call_new(r, rq.path, strlen(rq.path), &s), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_head(s, rq.method, NULL, rq.headers, 0), CONNECTC_OK);
  const uint8_t *p;
  size_t n;
  int done;
  connectc_client_call_body_peek(c, &p, &n, &done);
  assert_true(done); /* every request is queued before the call is moved */
  connectc_server_call_recv_body(s, p, n);
  connectc_client_call_body_consume(c, n);
  connectc_server_call_recv_end(s);
  connectc_response_head head;
  assert_int_equal(connectc_server_call_response_head(s, &head), CONNECTC_OK);
  connectc_client_call_recv_head(c, head.status, head.headers);
  connectc_server_call_body_peek(s, &p, &n, &done);
  assert_true(done);
  connectc_client_call_recv_body(c, p, n);
  connectc_server_call_body_consume(s, n);
  connectc_client_call_recv_end(c);
  connectc_router_call_del(r, s);
}
static int loopback_perform(void *ctx, connectc_client_call *call) {
  loopback_move(((loopback *)ctx)->router, call);
  return CONNECTC_OK;
}
static int loopback_start(void *ctx, connectc_client_call *call, void (*released)(void *),
                          void *arg) {
  loopback *lb = ctx;
  assert_null(lb->pending);
  lb->pending = call;
  lb->released = released;
  lb->arg = arg;
  return CONNECTC_OK;
}
static void loopback_wake(void *ctx, connectc_client_call *call) {
  (void)ctx;
  (void)call;
}
static void loopback_finish(loopback *lb) {
  assert_non_null(lb->pending);
  loopback_move(lb->router, lb->pending);
  lb->pending = NULL;
  lb->released(lb->arg);
}

/* What an asynchronous call delivered. */
typedef struct names_seen {
  char texts[512]; /* every response's text, joined with '|' */
  int closes;
  connectc_code code;
} names_seen;

static void names_on_word(connectc_async_call *st, Word *w, void *ud) {
  names_seen *s = ud;
  if (s->texts[0]) strncat(s->texts, "|", sizeof s->texts - strlen(s->texts) - 1);
  strncat(s->texts, w->text, sizeof s->texts - strlen(s->texts) - 1);
  connectc_message_free(&w->base, connectc_async_call_allocator(st));
}
static void names_on_close(connectc_async_call *st, const connectc_error *e,
                           const connectc_headers *tr, void *ud) {
  (void)st;
  (void)tr;
  ((names_seen *)ud)->closes++;
  ((names_seen *)ud)->code = e->code;
}

/* Calls a single-request, single-response rpc through its three stubs
 * (S_R, S_R__call, S_R__start) and checks each answer. */
#define NAMES_CALL_UNARY(word, member, Method)                                                 \
  static void call_##word(const connectc_client *client, loopback *lb, const char *tag) {     \
    char want[128];                                                                           \
    Word req = CONNECTC__CODEGENTEST__V1__WORD__INIT;                                         \
    Word *resp = NULL;                                                                        \
    connectc_error err;                                                                       \
    req.text = "hi";                                                                          \
    snprintf(want, sizeof want, "%s %s: hi", tag, #Method);                                   \
    connectc_error_init(&err, NULL);                                                          \
    assert_int_equal(connectc_codegentest_v1_names_##word(client, &req, &resp, &err),         \
                     CONNECTC_OK);                                                            \
    assert_string_equal(resp->text, want);                                                    \
    connectc_message_free(&resp->base, NULL);                                                 \
    connectc_error_reset(&err);                                                               \
    connectc_call_output out;                                                                 \
    connectc_call_output_init(&out, NULL);                                                    \
    assert_int_equal(connectc_codegentest_v1_names_##word##__call(client, &req, NULL, &out),  \
                     CONNECTC_OK);                                                            \
    assert_int_equal(out.error.code, CONNECTC_CODE_OK);                                       \
    assert_int_equal(out.n_messages, 1);                                                      \
    assert_string_equal(((const Word *)out.messages[0])->text, want);                         \
    connectc_call_output_reset(&out);                                                         \
    static const connectc_codegentest_v1_names_##word##__callbacks cb = {                     \
        .on_response = names_on_word, .on_close = names_on_close};                            \
    names_seen ns = {.closes = 0};                                                          \
    connectc_async_call *st = NULL;                                                           \
    assert_int_equal(                                                                         \
        connectc_codegentest_v1_names_##word##__start(client, &req, NULL, &cb, &ns, &st),   \
        CONNECTC_OK);                                                                         \
    loopback_finish(lb);                                                                      \
    assert_int_equal(ns.closes, 1);                                                         \
    assert_int_equal(ns.code, CONNECTC_CODE_OK);                                            \
    assert_string_equal(ns.texts, want);                                                    \
    connectc_async_call_del(st);                                                              \
    assert_string_equal(connectc_codegentest_v1_names_##word##__method.desc.procedure,        \
                        "/connectc.codegentest.v1.Names/" #Method);                           \
  }
NAMES_UNARY(NAMES_CALL_UNARY)

/* Every rpc of names.proto through every stub, against `impl`'s router. */
static void names_call_all(const connectc_client *client, loopback *lb, const char *tag) {
#define NAMES_CALL(word, member, Method) call_##word(client, lb, tag);
  NAMES_UNARY(NAMES_CALL)
#undef NAMES_CALL
  char want[256], got[512];
  Word a = CONNECTC__CODEGENTEST__V1__WORD__INIT, b = CONNECTC__CODEGENTEST__V1__WORD__INIT;
  a.text = "a";
  b.text = "b";
  const Word *ab[] = {&a, &b};
  Word *resp = NULL, **resps = NULL;
  size_t n = 0;
  connectc_error err;
  connectc_error_init(&err, NULL);
  names_seen ns;
  connectc_async_call *st = NULL;

  /* Client streams: S_R with an array, S_R__start + S_R__send_request. */
  snprintf(want, sizeof want, "%s Callbacks: a b", tag);
  assert_int_equal(connectc_codegentest_v1_names_callbacks(client, ab, 2, &resp, &err), CONNECTC_OK);
  assert_string_equal(resp->text, want);
  connectc_message_free(&resp->base, NULL);
  static const connectc_codegentest_v1_names_callbacks__callbacks ccb = {
      .on_response = names_on_word, .on_close = names_on_close};
  memset(&ns, 0, sizeof ns);
  assert_int_equal(connectc_codegentest_v1_names_callbacks__start(client, NULL, &ccb, &ns, &st),
                   CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_names_callbacks__send_request(st, &a), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_names_callbacks__send_request(st, &b), CONNECTC_OK);
  assert_int_equal(connectc_async_call_close_send(st), CONNECTC_OK);
  loopback_finish(lb);
  assert_int_equal(ns.code, CONNECTC_CODE_OK);
  assert_string_equal(ns.texts, want);
  connectc_async_call_del(st);

  snprintf(want, sizeof want, "%s Start: a b", tag);
  assert_int_equal(connectc_codegentest_v1_names_start(client, ab, 2, &resp, &err), CONNECTC_OK);
  assert_string_equal(resp->text, want);
  connectc_message_free(&resp->base, NULL);
  static const connectc_codegentest_v1_names_start__callbacks scb = {
      .on_response = names_on_word, .on_close = names_on_close};
  memset(&ns, 0, sizeof ns);
  assert_int_equal(connectc_codegentest_v1_names_start__start(client, NULL, &scb, &ns, &st),
                   CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_names_start__send_request(st, &a), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_names_start__send_request(st, &b), CONNECTC_OK);
  assert_int_equal(connectc_async_call_close_send(st), CONNECTC_OK);
  loopback_finish(lb);
  assert_string_equal(ns.texts, want);
  connectc_async_call_del(st);

  /* Bidi (half duplex in memory): SendRequest's own __send_request. */
  snprintf(want, sizeof want, "%s SendRequest: a|%s SendRequest: b|%s SendRequest: end", tag,
           tag, tag);
  assert_int_equal(connectc_codegentest_v1_names_send_request(client, ab, 2, &resps, &n, &err),
                   CONNECTC_OK);
  got[0] = 0;
  for (size_t i = 0; i < n; i++) {
    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "|" : "", resps[i]->text);
    connectc_message_free(&resps[i]->base, NULL);
  }
  connectc_free(NULL, resps);
  assert_string_equal(got, want);
  static const connectc_codegentest_v1_names_send_request__callbacks bcb = {
      .on_response = names_on_word, .on_close = names_on_close};
  memset(&ns, 0, sizeof ns);
  assert_int_equal(
      connectc_codegentest_v1_names_send_request__start(client, NULL, &bcb, &ns, &st),
      CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_names_send_request__send_request(st, &a), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_names_send_request__send_request(st, &b), CONNECTC_OK);
  assert_int_equal(connectc_async_call_close_send(st), CONNECTC_OK);
  loopback_finish(lb);
  assert_string_equal(ns.texts, want);
  connectc_async_call_del(st);

  /* Server streams: Send and Respond. */
  snprintf(want, sizeof want, "%s Send: a|%s Send: end", tag, tag);
  assert_int_equal(connectc_codegentest_v1_names_send(client, &a, &resps, &n, &err), CONNECTC_OK);
  assert_int_equal(n, 2);
  snprintf(got, sizeof got, "%s|%s", resps[0]->text, resps[1]->text);
  connectc_message_free(&resps[0]->base, NULL);
  connectc_message_free(&resps[1]->base, NULL);
  connectc_free(NULL, resps);
  assert_string_equal(got, want);
  static const connectc_codegentest_v1_names_send__callbacks sdcb = {
      .on_response = names_on_word, .on_close = names_on_close};
  memset(&ns, 0, sizeof ns);
  assert_int_equal(connectc_codegentest_v1_names_send__start(client, &a, NULL, &sdcb, &ns, &st),
                   CONNECTC_OK);
  loopback_finish(lb);
  assert_string_equal(ns.texts, want);
  connectc_async_call_del(st);

  snprintf(want, sizeof want, "%s Respond: a|%s Respond: end", tag, tag);
  assert_int_equal(connectc_codegentest_v1_names_respond(client, &a, &resps, &n, &err),
                   CONNECTC_OK);
  assert_int_equal(n, 2);
  snprintf(got, sizeof got, "%s|%s", resps[0]->text, resps[1]->text);
  connectc_message_free(&resps[0]->base, NULL);
  connectc_message_free(&resps[1]->base, NULL);
  connectc_free(NULL, resps);
  assert_string_equal(got, want);
  static const connectc_codegentest_v1_names_respond__callbacks rcb = {
      .on_response = names_on_word, .on_close = names_on_close};
  memset(&ns, 0, sizeof ns);
  assert_int_equal(
      connectc_codegentest_v1_names_respond__start(client, &a, NULL, &rcb, &ns, &st),
      CONNECTC_OK);
  loopback_finish(lb);
  assert_string_equal(ns.texts, want);
  connectc_async_call_del(st);

  /* NamesRegister.Call beside Names.Register's stubs. */
  snprintf(want, sizeof want, "%s NamesRegister.Call: a", tag);
  assert_int_equal(connectc_codegentest_v1_names_register_call(client, &a, &resp, &err),
                   CONNECTC_OK);
  assert_string_equal(resp->text, want);
  connectc_message_free(&resp->base, NULL);
  connectc_error_reset(&err);
}

static void test_names(void **state) {
  (void)state;
  /* The tables. */
  assert_string_equal(CONNECTC_CODEGENTEST_V1_NAMES__NAME, "connectc.codegentest.v1.Names");
  assert_int_equal(CONNECTC_CODEGENTEST_V1_NAMES__METHOD_COUNT, 36);
  assert_ptr_equal(connectc_codegentest_v1_names__methods[0],
                   &connectc_codegentest_v1_names_register__method);
  assert_ptr_equal(connectc_codegentest_v1_names__methods[35],
                   &connectc_codegentest_v1_names_httpget__method);
  assert_string_equal(connectc_codegentest_v1_names_send_request__method.desc.procedure,
                      "/connectc.codegentest.v1.Names/SendRequest");
  assert_int_equal(connectc_codegentest_v1_names_send_request__method.desc.stream_type,
                   CONNECTC_STREAM_BIDI);
  assert_string_equal(CONNECTC_CODEGENTEST_V1_NAMES_REGISTER__NAME,
                      "connectc.codegentest.v1.NamesRegister");
  assert_int_equal(CONNECTC_CODEGENTEST_V1_NAMES_REGISTER__METHOD_COUNT, 1);
  assert_ptr_equal(connectc_codegentest_v1_names_register__methods[0],
                   &connectc_codegentest_v1_names_register_call__method);
  assert_string_equal(connectc_codegentest_v1_names_register_call__method.desc.procedure,
                      "/connectc.codegentest.v1.NamesRegister/Call");
  /* The message-level names beside the nested messages named like them. */
  assert_ptr_equal(connectc__codegentest__v1__word__message_info.descriptor,
                   &connectc__codegentest__v1__word__descriptor);
  assert_ptr_equal(connectc__codegentest__v1__word__message_info__message_info.descriptor,
                   &connectc__codegentest__v1__word__message_info__descriptor);
  assert_ptr_equal(connectc__codegentest__v1__word__json_fields__message_info.descriptor,
                   &connectc__codegentest__v1__word__json_fields__descriptor);
  assert_ptr_equal(connectc__codegentest__v1__word__oneof_names__message_info.descriptor,
                   &connectc__codegentest__v1__word__oneof_names__descriptor);
  assert_string_equal(connectc__codegentest__v1__word__message_info.oneof_names[0], "extra");
  /* protoc-c's service struct, its keyword members escaped. */
  assert_true(offsetof(Connectc__Codegentest__V1__Names_Service, return_) <
               offsetof(Connectc__Codegentest__V1__Names_Service, class_));
  assert_true(offsetof(Connectc__Codegentest__V1__Names_Service, errno_) <
               offsetof(Connectc__Codegentest__V1__Names_Service, static_assert_));

  /* Every stub against the synchronous handlers, then the asynchronous ones. */
  for (int async = 0; async < 2; async++) {
    names_impl impl = {.tag = async ? "async" : "sync"};
    loopback lb = {.router = NULL};
    (void)connectc_router_new(NULL, NULL, &lb.router);
    if (async) {
      assert_int_equal(connectc_codegentest_v1_names__register_async(lb.router, &names_async, &impl,
                                                                     NULL),
                       CONNECTC_OK);
      assert_int_equal(
          connectc_codegentest_v1_names_register__register_async(lb.router, &nr_async, &impl, NULL),
          CONNECTC_OK);
    } else {
      assert_int_equal(connectc_codegentest_v1_names__register(lb.router, &names_sync, &impl, NULL),
                       CONNECTC_OK);
      assert_int_equal(
          connectc_codegentest_v1_names_register__register(lb.router, &nr_sync, &impl, NULL),
          CONNECTC_OK);
    }
    const connectc_transport tr = {.perform = loopback_perform,
                                   .ctx = &lb,
                                   .start = loopback_start,
                                   .wake = loopback_wake};
    connectc_client client;
    connectc_client_init(&client, tr);
    names_call_all(&client, &lb, impl.tag);
    /* 31 unary rpcs by 3 stubs, 2 client streams by 2, 3 streams of 3 and
     * 2 responses by 2, NamesRegister.Call once. */
    assert_int_equal(impl.calls, 31 * 3 + 2 * 2 + 2 * (3 + 2 + 2) + 1);
    connectc_router_del(lb.router);
  }
}


/* ================================================================== */
/* Streaming handlers                                                  */
/* ================================================================== */

typedef Connectc__Codegentest__V1__Struct Struct;

typedef struct stream_impl {
  int starts, ends, lines;
  char last_sku[32];
} stream_impl;

static void st_upload_start(void *impl, connectc_responder *r) {
  stream_impl *si = impl;
  si->starts++;
  connectc_responder_set_user_data(r, si);
}
static void st_upload_request(void *impl, connectc_responder *r, const Line *line) {
  (void)impl;
  stream_impl *si = connectc_responder_user_data(r);
  si->lines++;
  snprintf(si->last_sku, sizeof si->last_sku, "%s", line->sku);
}
static void st_upload_end(void *impl, connectc_responder *r) {
  stream_impl *si = impl;
  si->ends++;
  Order o = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  char id[64];
  snprintf(id, sizeof id, "%d streamed, last %s", si->lines, si->last_sku);
  o.id = id;
  connectc_codegentest_v1_order_service_upload_lines__respond(r, &o);
  connectc_responder_finish(r, NULL);
}
/* Bidi: each request answered at once, doubled. */
static void st_chat_request(void *impl, connectc_responder *r, const Struct *in) {
  (void)impl;
  Struct out = CONNECTC__CODEGENTEST__V1__STRUCT__INIT;
  out.int_ = in->int_ * 2;
  connectc_codegentest_v1_order_service_chat__respond(r, &out);
}
/* Synchronous bidi: reads each request on its own thread and answers it. */
static int st_chat_run(void *impl, connectc_server_stream *stream, connectc_error *error) {
  (void)impl;
  for (;;) {
    Struct *in = NULL;
    int rv = connectc_codegentest_v1_order_service_chat__recv(stream, &in);
    if (rv) return rv == CONNECTC_ERR_STATE ? 0 : (connectc_error_set(error, CONNECTC_CODE_INTERNAL, "recv"), 1);
    if (!in) return 0;
    Struct out = CONNECTC__CODEGENTEST__V1__STRUCT__INIT;
    out.int_ = in->int_ + 100;
    int bad = in->int_ < 0;
    connectc_message_free(&in->base, connectc_server_stream_allocator(stream));
    if (bad) {
      connectc_error_set(error, CONNECTC_CODE_OUT_OF_RANGE, "negative");
      return 1;
    }
    if (connectc_codegentest_v1_order_service_chat__stream_send(stream, &out)) return 1;
  }
}

static size_t env_struct(int v, uint8_t *out) {
  Struct st = CONNECTC__CODEGENTEST__V1__STRUCT__INIT;
  st.int_ = v;
  size_t n = protobuf_c_message_pack(&st.base, out + 5);
  connectc_envelope_write_header(out, 0, (uint32_t)n);
  return n + 5;
}

/* Reads the int of every whole response envelope queued so far; consumes them. */
static int take_ints(connectc_server_call *s, int *out, int max) {
  const uint8_t *p;
  size_t n;
  int done, k = 0;
  connectc_server_call_body_peek(s, &p, &n, &done);
  size_t used = 0;
  while (n - used >= 5 && k < max) {
    uint32_t len = (uint32_t)p[used + 1] << 24 | (uint32_t)p[used + 2] << 16 |
                   (uint32_t)p[used + 3] << 8 | p[used + 4];
    if (n - used - 5 < len || p[used] != 0) break;
    Struct *st = connectc__codegentest__v1__struct__unpack(NULL, len, p + used + 5);
    assert_non_null(st);
    out[k++] = st->int_;
    connectc__codegentest__v1__struct__free_unpacked(st, NULL);
    used += 5 + len;
  }
  connectc_server_call_body_consume(s, used);
  return k;
}

static void test_streaming_handlers(void **state) {
  (void)state;
  stream_impl si;
  memset(&si, 0, sizeof si);
  const connectc_codegentest_v1_order_service__streaming_handlers sh = {
      .upload_lines = {.on_start = st_upload_start,
                       .on_request = st_upload_request,
                       .on_requests_end = st_upload_end},
      .chat = {.on_request = st_chat_request},
  };
  connectc_router *r = NULL;
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_order_service__register_streaming(r, &sh, &si, NULL),
                   CONNECTC_OK);
  /* Client stream: each line is seen as it arrives, before the end. */
  const char *path = "/connectc.codegentest.v1.OrderService/UploadLines";
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/connect+proto");
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
  uint8_t buf[64];
  for (int i = 0; i < 3; i++) {
    Line l = CONNECTC__CODEGENTEST__V1__ORDER__LINE__INIT;
    l.sku = i == 2 ? "sku-3" : "x";
    size_t n = protobuf_c_message_pack(&l.base, buf + 5);
    connectc_envelope_write_header(buf, 0, (uint32_t)n);
    connectc_server_call_recv_body(s, buf, n + 5);
    assert_int_equal(si.lines, i + 1);
  }
  assert_int_equal(si.starts, 1);
  assert_int_equal(si.ends, 0);
  connectc_server_call_recv_end(s);
  assert_int_equal(si.ends, 1);
  int status;
  char out[256];
  body_of(s, &status, out, sizeof out);
  const char *want = "3 streamed, last sku-3";
  int found = 0;
  for (size_t i = 0; i + strlen(want) <= sizeof out && !found; i++)
    found = memcmp(out + i, want, strlen(want)) == 0;
  assert_true(found);
  connectc_router_call_del(r, s);
  /* Bidi over gRPC: full duplex, each response before the next request. */
  path = "/connectc.codegentest.v1.OrderService/Chat";
  assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
  connectc_headers_reset(&h);
  connectc_headers_adds(&h, "content-type", "application/grpc");
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
  for (int i = 1; i <= 3; i++) {
    size_t n = env_struct(i, buf);
    connectc_server_call_recv_body(s, buf, n);
    int got[4];
    assert_int_equal(take_ints(s, got, 4), 1);
    assert_int_equal(got[0], 2 * i);
  }
  connectc_server_call_recv_end(s); /* no on_requests_end: success */
  assert_int_equal(connectc_server_call_is_finished(s), 1);
  assert_string_equal(connectc_headers_get(connectc_server_call_response_http_trailers(s), "grpc-status"), "0");
  connectc_router_call_del(r, s);
  /* The synchronous variant needs an adapter with threads. */
  connectc_router_del(r);
  const connectc_codegentest_v1_order_service__streaming_handlers sync = {
      .chat = {.run = st_chat_run},
  };
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_order_service__register_streaming(r, &sync, NULL, NULL),
                   CONNECTC_OK);
  assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
  size_t n = env_struct(1, buf);
  connectc_server_call_recv_body(s, buf, n);
  assert_int_equal(connectc_server_call_is_finished(s), 1);
  connectc_response_head head;
  assert_int_equal(connectc_server_call_response_head(s, &head), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(head.headers, "grpc-message"),
                      "a synchronous streaming handler needs an adapter with threads");
  connectc_router_call_del(r, s);
  connectc_headers_reset(&h);
  connectc_router_del(r);
  /* A handler table with both a callback and run is refused. */
  const connectc_codegentest_v1_order_service__streaming_handlers both = {
      .chat = {.on_request = st_chat_request, .run = st_chat_run},
  };
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_order_service__register_streaming(r, &both, NULL, NULL),
                   CONNECTC_ERR_ARGUMENT);
  connectc_router_del(r);
}

/* Threaded hooks, as an adapter provides them: a recursive lock, a wake
 * condition, and a reference count. */
typedef struct thread_hooks {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs;
} thread_hooks;
static void th_lock(void *ctx) { pthread_mutex_lock(&((thread_hooks *)ctx)->mu); }
static void th_unlock(void *ctx) { pthread_mutex_unlock(&((thread_hooks *)ctx)->mu); }
static void th_wake(void *ctx) { pthread_cond_broadcast(&((thread_hooks *)ctx)->cv); }
static void th_ref(void *ctx) {
  thread_hooks *t = ctx;
  pthread_mutex_lock(&t->mu);
  t->refs++;
  pthread_mutex_unlock(&t->mu);
}
static void th_unref(void *ctx) {
  thread_hooks *t = ctx;
  pthread_mutex_lock(&t->mu);
  t->refs--;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
}
static const connectc_server_call_hooks th_ops = {th_lock, th_unlock, th_wake, th_ref, th_unref};

/* Waits (lock held) until `k` response ints arrived; returns them. */
static void wait_ints(thread_hooks *t, connectc_server_call *s, int *got, int k) {
  int have = 0;
  while (have < k) {
    have += take_ints(s, got + have, k - have);
    if (have < k) pthread_cond_wait(&t->cv, &t->mu);
  }
}

static void test_streaming_sync(void **state) {
  (void)state;
  const connectc_codegentest_v1_order_service__streaming_handlers sync = {
      .chat = {.run = st_chat_run},
  };
  connectc_router *r = NULL;
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_order_service__register_streaming(r, &sync, NULL, NULL),
                   CONNECTC_OK);
  const char *path = "/connectc.codegentest.v1.OrderService/Chat";
  for (int round = 0; round < 2; round++) {
    thread_hooks t;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&t.mu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_cond_init(&t.cv, NULL);
    t.refs = 0;
    connectc_server_call *s = NULL;
    assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
    connectc_server_call_set_hooks(s, &th_ops, &t);
    connectc_headers h;
    connectc_headers_init(&h, NULL);
    connectc_headers_adds(&h, "content-type", "application/grpc");
    pthread_mutex_lock(&t.mu);
    assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
    connectc_headers_reset(&h);
    uint8_t buf[64];
    /* Ping-pong: each answer comes from the worker before the next request. */
    for (int i = 1; i <= 3; i++) {
      size_t n = env_struct(round == 1 && i == 3 ? -1 : i, buf);
      connectc_server_call_recv_body(s, buf, n);
      if (round == 1 && i == 3) break;
      int got;
      wait_ints(&t, s, &got, 1);
      assert_int_equal(got, 100 + i);
    }
    if (round == 0) connectc_server_call_recv_end(s);
    while (!connectc_server_call_is_finished(s) || t.refs > 0) pthread_cond_wait(&t.cv, &t.mu);
    const connectc_headers *tr = connectc_server_call_response_http_trailers(s);
    assert_non_null(tr);
    assert_string_equal(connectc_headers_get(tr, "grpc-status"), round == 0 ? "0" : "11");
    if (round == 1) assert_string_equal(connectc_headers_get(tr, "grpc-message"), "negative");
    pthread_mutex_unlock(&t.mu);
    connectc_router_call_del(r, s);
    pthread_cond_destroy(&t.cv);
    pthread_mutex_destroy(&t.mu);
  }
  connectc_router_del(r);
}

/* A synchronous client-stream handler that reads nothing until `go`, then
 * counts the lines and answers once. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static int gated_upload_run(void *impl, connectc_server_stream *stream, connectc_error *error) {
  (void)impl;
  (void)error;
  pthread_mutex_lock(&gate_mu);
  while (!gate_open) pthread_cond_wait(&gate_cv, &gate_mu);
  pthread_mutex_unlock(&gate_mu);
  int n = 0;
  for (;;) {
    Line *l = NULL;
    if (connectc_codegentest_v1_order_service_upload_lines__recv(stream, &l) != CONNECTC_OK) return 1;
    if (!l) break;
    n++;
    connectc_message_free(&l->base, connectc_server_stream_allocator(stream));
  }
  Order o = CONNECTC__CODEGENTEST__V1__ORDER__INIT;
  char id[32];
  snprintf(id, sizeof id, "%d lines", n);
  o.id = id;
  return connectc_codegentest_v1_order_service_upload_lines__stream_send(stream, &o);
}

/* A consumer that is behind pauses the request: recv_body_some stops
 * taking bytes at half the queue, and the worker resumes it once it has
 * drained the queue to a quarter. Past the queue's limit (1024) this
 * stream would fail with resource_exhausted if nothing paused. */
static void test_streaming_sync_backpressure(void **state) {
  (void)state;
  const connectc_codegentest_v1_order_service__streaming_handlers sync = {
      .upload_lines = {.run = gated_upload_run},
  };
  connectc_router *r = NULL;
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  assert_int_equal(connectc_codegentest_v1_order_service__register_streaming(r, &sync, NULL, NULL),
                   CONNECTC_OK);
  const char *path = "/connectc.codegentest.v1.OrderService/UploadLines";
  thread_hooks t;
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&t.mu, &ma);
  pthread_mutexattr_destroy(&ma);
  pthread_cond_init(&t.cv, NULL);
  t.refs = 0;
  gate_open = 0;
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
  connectc_server_call_set_hooks(s, &th_ops, &t);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/connect+proto");
  pthread_mutex_lock(&t.mu);
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
  connectc_headers_reset(&h);
  /* 3000 lines of 8 bytes each (a 3-byte sku), in one buffer. */
  enum { LINES = 3000, ENV = 5 + 5 };
  uint8_t *body = malloc((size_t)LINES * ENV);
  assert_non_null(body);
  for (int i = 0; i < LINES; i++) {
    Line l = CONNECTC__CODEGENTEST__V1__ORDER__LINE__INIT;
    l.sku = "abc";
    size_t n = protobuf_c_message_pack(&l.base, body + (size_t)i * ENV + 5);
    assert_int_equal(n, ENV - 5);
    connectc_envelope_write_header(body + (size_t)i * ENV, 0, (uint32_t)n);
  }
  size_t off = 0, taken = 0;
  assert_int_equal(connectc_server_call_recv_body_some(s, body, (size_t)LINES * ENV, &taken),
                   CONNECTC_OK);
  /* Paused at half of CONNECTC_STREAM_MAX_QUEUED messages. */
  assert_int_equal(taken, (size_t)(CONNECTC_STREAM_MAX_QUEUED / 2) * ENV);
  assert_int_equal(connectc_server_call_recv_paused(s), 1);
  off += taken;
  assert_int_equal(connectc_server_call_recv_body_some(s, body + off, (size_t)LINES * ENV - off, &taken),
                   CONNECTC_OK);
  assert_int_equal(taken, 0);
  /* The consumer catches up; the transport offers the rest each time it
   * is woken. */
  pthread_mutex_lock(&gate_mu);
  gate_open = 1;
  pthread_cond_broadcast(&gate_cv);
  pthread_mutex_unlock(&gate_mu);
  int pauses = 1;
  while (off < (size_t)LINES * ENV) {
    while (connectc_server_call_recv_paused(s)) pthread_cond_wait(&t.cv, &t.mu);
    assert_int_equal(connectc_server_call_recv_body_some(s, body + off, (size_t)LINES * ENV - off, &taken),
                     CONNECTC_OK);
    off += taken;
    if (connectc_server_call_recv_paused(s)) pauses++;
    assert_int_equal(connectc_server_call_is_finished(s), 0);
  }
  assert_true(pauses >= 1);
  connectc_server_call_recv_end(s);
  while (!connectc_server_call_is_finished(s) || t.refs > 0) pthread_cond_wait(&t.cv, &t.mu);
  int status;
  char out[256];
  body_of(s, &status, out, sizeof out);
  assert_int_equal(status, 200);
  const char *want = "3000 lines";
  int found = 0;
  for (size_t i = 0; i + strlen(want) <= sizeof out && !found; i++)
    found = memcmp(out + i, want, strlen(want)) == 0;
  assert_true(found);
  pthread_mutex_unlock(&t.mu);
  free(body);
  connectc_router_call_del(r, s);
  pthread_cond_destroy(&t.cv);
  pthread_mutex_destroy(&t.mu);
  connectc_router_del(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_typed_handlers),
                                     cmocka_unit_test(test_collected_bound),
                                     cmocka_unit_test(test_no_json_codec),
                                     cmocka_unit_test(test_async_handlers),
                                     cmocka_unit_test(test_async_client),
                                     cmocka_unit_test(test_names),
                                     cmocka_unit_test(test_streaming_handlers),
                                     cmocka_unit_test(test_streaming_sync),
                                     cmocka_unit_test(test_streaming_sync_backpressure)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
