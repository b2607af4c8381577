/* Server reflection (v1 and v1alpha) and health checking, driven through
 * the router sans-IO over gRPC: what list_services, file_by_filename and
 * file_containing_symbol answer (each file once per stream, the requested
 * one always), errors as ErrorResponse, and Check and Watch with status
 * changes, cancel and shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/codegentest/v1/test.connect.h"
#include "connectc/envelope.h"
#include "connectc/health.h"
#include "connectc/reflection.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"

typedef Grpc__Reflection__V1__ServerReflectionRequest Req;
typedef Grpc__Reflection__V1__ServerReflectionResponse Resp;

static connectc_server_call *open_call(connectc_router *r, const char *path) {
  connectc_server_call *s = NULL;
  assert_int_equal(connectc_router_call_new(r, path, strlen(path), &s), CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/grpc");
  assert_int_equal(connectc_server_call_recv_head(s, "POST", NULL, &h, 0), CONNECTC_OK);
  connectc_headers_reset(&h);
  return s;
}

static void send_msg(connectc_server_call *s, const ProtobufCMessage *m) {
  uint8_t buf[4096];
  size_t n = protobuf_c_message_pack(m, buf + 5);
  connectc_envelope_write_header(buf, 0, (uint32_t)n);
  assert_int_equal(connectc_server_call_recv_body(s, buf, n + 5), CONNECTC_OK);
}

/* Takes the next whole response envelope; NULL when none is queued. */
static ProtobufCMessage *next(connectc_server_call *s, const ProtobufCMessageDescriptor *d) {
  const uint8_t *p;
  size_t n;
  int done;
  connectc_server_call_body_peek(s, &p, &n, &done);
  if (n < 5) return NULL;
  uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
  if (n - 5 < len) return NULL;
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, p + 5);
  assert_non_null(m);
  connectc_server_call_body_consume(s, 5 + len);
  return m;
}

static Resp *ask(connectc_server_call *s, Req *q) {
  send_msg(s, &q->base);
  return (Resp *)next(s, &grpc__reflection__v1__server_reflection_response__descriptor);
}

static char *file_name(const ProtobufCBinaryData *b) {
  Google__Protobuf__FileDescriptorProto *f =
      google__protobuf__file_descriptor_proto__unpack(NULL, b->len, b->data);
  assert_non_null(f);
  static char name[128];
  snprintf(name, sizeof name, "%s", f->name);
  google__protobuf__file_descriptor_proto__free_unpacked(f, NULL);
  return name;
}

static void test_reflection(void **state) {
  (void)state;
  connectc_router *r = NULL;
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  const connectc_codegentest_v1_order_service__handlers handlers = {0};
  assert_int_equal(connectc_codegentest_v1_order_service__register(r, &handlers, NULL, NULL), CONNECTC_OK);
  const connectc_file_descriptor *const files[] = {&connectc_codegentest_v1_test__file_descriptor};
  assert_int_equal(connectc_reflection_register(r, files, 1, NULL), CONNECTC_OK);
  connectc_server_call *s = open_call(r, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");

  /* list_services: every service the router routes, once each. */
  Req q = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
  q.message_request_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
  q.list_services = "";
  Resp *a = ask(s, &q);
  assert_non_null(a);
  assert_int_equal(a->message_response_case,
                   GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE);
  assert_int_equal(a->list_services_response->n_service, 3);
  assert_string_equal(a->list_services_response->service[0]->name, "connectc.codegentest.v1.OrderService");
  assert_string_equal(a->list_services_response->service[1]->name, "grpc.reflection.v1.ServerReflection");
  assert_string_equal(a->list_services_response->service[2]->name,
                      "grpc.reflection.v1alpha.ServerReflection");
  assert_non_null(a->original_request);
  protobuf_c_message_free_unpacked(&a->base, NULL);

  /* A method: its file first, then its imports (each once per stream). */
  q.message_request_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
  q.file_containing_symbol = "connectc.codegentest.v1.OrderService.GetOrder";
  a = ask(s, &q);
  assert_int_equal(a->message_response_case,
                   GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE);
  Grpc__Reflection__V1__FileDescriptorResponse *fd = a->file_descriptor_response;
  assert_int_equal(fd->n_file_descriptor_proto, 4);
  assert_string_equal(file_name(&fd->file_descriptor_proto[0]), "connectc/codegentest/v1/test.proto");
  int seen_common = 0, seen_empty = 0, seen_ts = 0;
  for (size_t i = 1; i < fd->n_file_descriptor_proto; i++) {
    const char *n = file_name(&fd->file_descriptor_proto[i]);
    seen_common += strcmp(n, "connectc/codegentest/common/v1/common.proto") == 0;
    seen_empty += strcmp(n, "google/protobuf/empty.proto") == 0;
    seen_ts += strcmp(n, "google/protobuf/timestamp.proto") == 0;
  }
  assert_int_equal(seen_common + seen_empty + seen_ts, 3);
  protobuf_c_message_free_unpacked(&a->base, NULL);

  /* A nested message of an import already sent: that file alone, again. */
  q.file_containing_symbol = "connectc.codegentest.v1.Order.Line.Detail";
  a = ask(s, &q);
  assert_int_equal(a->file_descriptor_response->n_file_descriptor_proto, 1);
  assert_string_equal(file_name(&a->file_descriptor_response->file_descriptor_proto[0]),
                      "connectc/codegentest/v1/test.proto");
  protobuf_c_message_free_unpacked(&a->base, NULL);

  /* By file name; and the library's own files are known. */
  q.message_request_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
  q.file_by_filename = "grpc/reflection/v1/reflection.proto";
  a = ask(s, &q);
  assert_int_equal(a->file_descriptor_response->n_file_descriptor_proto, 1);
  protobuf_c_message_free_unpacked(&a->base, NULL);

  /* Unknown names and extension queries: an ErrorResponse, not a failure. */
  q.file_by_filename = "no/such.proto";
  a = ask(s, &q);
  assert_int_equal(a->message_response_case,
                   GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE);
  assert_int_equal(a->error_response->error_code, CONNECTC_CODE_NOT_FOUND);
  assert_string_equal(a->error_response->error_message, "file");
  protobuf_c_message_free_unpacked(&a->base, NULL);
  q.message_request_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE;
  q.all_extension_numbers_of_type = "connectc.codegentest.v1.Order";
  a = ask(s, &q);
  assert_int_equal(a->error_response->error_code, CONNECTC_CODE_NOT_FOUND);
  protobuf_c_message_free_unpacked(&a->base, NULL);

  connectc_server_call_recv_end(s);
  assert_int_equal(connectc_server_call_is_finished(s), 1);
  assert_string_equal(connectc_headers_get(connectc_server_call_response_http_trailers(s), "grpc-status"), "0");
  connectc_router_call_del(r, s);

  /* v1alpha answers the same, in its own types. */
  s = open_call(r, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
  Grpc__Reflection__V1alpha__ServerReflectionRequest qa = GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;
  qa.message_request_case =
      GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
  qa.file_containing_symbol = "connectc.codegentest.v1.Struct";
  send_msg(s, &qa.base);
  Grpc__Reflection__V1alpha__ServerReflectionResponse *aa =
      (Grpc__Reflection__V1alpha__ServerReflectionResponse *)next(
          s, &grpc__reflection__v1alpha__server_reflection_response__descriptor);
  assert_non_null(aa);
  assert_int_equal(aa->file_descriptor_response->n_file_descriptor_proto, 4);
  assert_string_equal(aa->original_request->file_containing_symbol, "connectc.codegentest.v1.Struct");
  protobuf_c_message_free_unpacked(&aa->base, NULL);
  /* The client goes away mid-stream: the handler lets go. */
  connectc_server_call_cancel(s);
  connectc_router_call_del(r, s);
  connectc_router_del(r);
}

typedef Grpc__Health__V1__HealthCheckRequest HReq;
typedef Grpc__Health__V1__HealthCheckResponse HResp;

static int check(connectc_router *r, const char *service, connectc_code *code) {
  connectc_server_call *s = open_call(r, "/grpc.health.v1.Health/Check");
  HReq q = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  q.service = (char *)service;
  send_msg(s, &q.base);
  connectc_server_call_recv_end(s);
  HResp *a = (HResp *)next(s, &grpc__health__v1__health_check_response__descriptor);
  int st = a ? (int)a->status : -1;
  if (a) protobuf_c_message_free_unpacked(&a->base, NULL);
  connectc_response_head head;
  assert_int_equal(connectc_server_call_response_head(s, &head), CONNECTC_OK);
  const connectc_headers *t = connectc_server_call_response_http_trailers(s);
  const char *gs = connectc_headers_get(t ? t : head.headers, "grpc-status");
  *code = (connectc_code)(gs ? atoi(gs) : -1);
  connectc_router_call_del(r, s);
  return st;
}

static void test_health(void **state) {
  (void)state;
  connectc_router *r = NULL;
  connectc_health *h = NULL;
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  assert_int_equal(connectc_health_new(NULL, &h), CONNECTC_OK);
  assert_int_equal(connectc_health_register(r, h, NULL), CONNECTC_OK);
  connectc_code code;
  assert_int_equal(check(r, "", &code), CONNECTC_HEALTH_SERVING);
  assert_int_equal(code, CONNECTC_CODE_OK);
  assert_int_equal(check(r, "pkg.Svc", &code), -1);
  assert_int_equal(code, CONNECTC_CODE_NOT_FOUND);
  assert_int_equal(connectc_health_set(h, "pkg.Svc", CONNECTC_HEALTH_NOT_SERVING), CONNECTC_OK);
  assert_int_equal(check(r, "pkg.Svc", &code), CONNECTC_HEALTH_NOT_SERVING);
  assert_int_equal(connectc_health_set(h, "pkg.Svc", CONNECTC_HEALTH_SERVICE_UNKNOWN), CONNECTC_ERR_ARGUMENT);

  /* Watch: the status now, then each change; a cancel ends it. */
  connectc_server_call *w1 = open_call(r, "/grpc.health.v1.Health/Watch");
  HReq q = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  q.service = "pkg.Svc";
  send_msg(w1, &q.base);
  connectc_server_call_recv_end(w1);
  connectc_server_call *w2 = open_call(r, "/grpc.health.v1.Health/Watch");
  q.service = "other.Svc";
  send_msg(w2, &q.base);
  connectc_server_call_recv_end(w2);
  HResp *a = (HResp *)next(w1, &grpc__health__v1__health_check_response__descriptor);
  assert_int_equal(a->status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
  protobuf_c_message_free_unpacked(&a->base, NULL);
  a = (HResp *)next(w2, &grpc__health__v1__health_check_response__descriptor);
  assert_int_equal(a->status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN);
  protobuf_c_message_free_unpacked(&a->base, NULL);
  assert_null(next(w1, &grpc__health__v1__health_check_response__descriptor));
  assert_int_equal(connectc_health_set(h, "pkg.Svc", CONNECTC_HEALTH_SERVING), CONNECTC_OK);
  a = (HResp *)next(w1, &grpc__health__v1__health_check_response__descriptor);
  assert_int_equal(a->status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
  protobuf_c_message_free_unpacked(&a->base, NULL);
  assert_null(next(w2, &grpc__health__v1__health_check_response__descriptor)); /* not its service */
  /* Setting the same status again sends nothing. */
  assert_int_equal(connectc_health_set(h, "pkg.Svc", CONNECTC_HEALTH_SERVING), CONNECTC_OK);
  assert_null(next(w1, &grpc__health__v1__health_check_response__descriptor));
  connectc_server_call_cancel(w1);
  assert_int_equal(connectc_server_call_is_finished(w1), 1);
  connectc_router_call_del(r, w1);
  /* Shutdown: NOT_SERVING, then the watch finishes with OK. */
  connectc_health_shutdown(h);
  a = (HResp *)next(w2, &grpc__health__v1__health_check_response__descriptor);
  assert_int_equal(a->status, GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN);
  protobuf_c_message_free_unpacked(&a->base, NULL);
  assert_int_equal(connectc_server_call_is_finished(w2), 1);
  assert_string_equal(connectc_headers_get(connectc_server_call_response_http_trailers(w2), "grpc-status"), "0");
  connectc_router_call_del(r, w2);
  assert_int_equal(check(r, "", &code), CONNECTC_HEALTH_NOT_SERVING);
  connectc_router_del(r);
  connectc_health_del(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reflection), cmocka_unit_test(test_health)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
