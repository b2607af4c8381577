/*
 * test_codegen.c: the code protoc-gen-connectc and protoc-gen-connectc-c
 * generate from tests/codegen/proto, compiled and linked: method tables,
 * JSON metadata against protoc-c's descriptors, the register functions,
 * and proto3 `optional` presence through protoc-c's oneof case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/codegentest/common/v1/common.connect.h"
#include "connectc/codegentest/v1/legacy.connect.h"
#include "connectc/codegentest/v1/test.connect.h"

/* ---- a recording registry standing in for the library's ---- */

struct connectc_type_registry {
  const connectc_message_info *added[32];
  size_t n;
  size_t fail_at; /* 1-based index of the add that fails; 0 = none */
};

int connectc_type_registry_add(connectc_type_registry *reg, const connectc_message_info *info) {
  if (reg->fail_at && reg->n + 1 == reg->fail_at) return CONNECTC_ERR_ARGUMENT;
  if (reg->n == sizeof reg->added / sizeof reg->added[0]) return CONNECTC_ERR_NOMEM;
  reg->added[reg->n++] = info;
  return CONNECTC_OK;
}

/* ---- method tables ---- */

typedef connectc_codegentest_v1_order_service__method_type order_method;

static void check_method(const order_method *m, const char *procedure, connectc_stream_type st,
                         int nse, const ProtobufCMessageDescriptor *in,
                         const ProtobufCMessageDescriptor *out) {
  assert_string_equal(m->desc.procedure, procedure);
  assert_int_equal(m->desc.stream_type, st);
  assert_int_equal(m->desc.no_side_effects, nse);
  assert_ptr_equal(m->input, in);
  assert_ptr_equal(m->output, out);
}

static void test_method_table(void **state) {
  (void)state;
  assert_string_equal(CONNECTC_CODEGENTEST_V1_ORDER_SERVICE__NAME,
                      "connectc.codegentest.v1.OrderService");
  assert_int_equal(CONNECTC_CODEGENTEST_V1_ORDER_SERVICE__METHOD_COUNT, 5);
  assert_int_equal(sizeof connectc_codegentest_v1_order_service__methods /
                       sizeof connectc_codegentest_v1_order_service__methods[0],
                   5);
  check_method(&connectc_codegentest_v1_order_service_get_order__method,
               "/connectc.codegentest.v1.OrderService/GetOrder", CONNECTC_STREAM_UNARY, 1,
               &connectc__codegentest__v1__order__descriptor,
               &connectc__codegentest__v1__order__descriptor);
  /* IDEMPOTENT is not NO_SIDE_EFFECTS: no GET. */
  check_method(&connectc_codegentest_v1_order_service_put_order__method,
               "/connectc.codegentest.v1.OrderService/PutOrder", CONNECTC_STREAM_UNARY, 0,
               &connectc__codegentest__v1__order__descriptor, &google__protobuf__empty__descriptor);
  check_method(&connectc_codegentest_v1_order_service_upload_lines__method,
               "/connectc.codegentest.v1.OrderService/UploadLines", CONNECTC_STREAM_CLIENT, 0,
               &connectc__codegentest__v1__order__line__descriptor,
               &connectc__codegentest__v1__order__descriptor);
  check_method(&connectc_codegentest_v1_order_service_watch_orders__method,
               "/connectc.codegentest.v1.OrderService/WatchOrders", CONNECTC_STREAM_SERVER, 0,
               &connectc__codegentest__v1__empty__descriptor,
               &connectc__codegentest__v1__order__descriptor);
  check_method(&connectc_codegentest_v1_order_service_chat__method,
               "/connectc.codegentest.v1.OrderService/Chat", CONNECTC_STREAM_BIDI, 0,
               &connectc__codegentest__v1__struct__descriptor,
               &connectc__codegentest__v1__struct__descriptor);

  assert_ptr_equal(connectc_codegentest_v1_order_service__methods[0],
                   &connectc_codegentest_v1_order_service_get_order__method);
  assert_ptr_equal(connectc_codegentest_v1_order_service__methods[1],
                   &connectc_codegentest_v1_order_service_put_order__method);
  assert_ptr_equal(connectc_codegentest_v1_order_service__methods[2],
                   &connectc_codegentest_v1_order_service_upload_lines__method);
  assert_ptr_equal(connectc_codegentest_v1_order_service__methods[3],
                   &connectc_codegentest_v1_order_service_watch_orders__method);
  assert_ptr_equal(connectc_codegentest_v1_order_service__methods[4],
                   &connectc_codegentest_v1_order_service_chat__method);

  /* The method's procedure matches protoc-c's service descriptor. */
  assert_string_equal(connectc__codegentest__v1__order_service__descriptor.name,
                      "connectc.codegentest.v1.OrderService");
  assert_string_equal(connectc__codegentest__v1__order_service__descriptor.methods[0].name,
                      "GetOrder");

  assert_string_equal(CONNECTC_CODEGENTEST_V1_HTTPSERVICE__NAME,
                      "connectc.codegentest.v1.HTTPService");
  assert_int_equal(CONNECTC_CODEGENTEST_V1_HTTPSERVICE__METHOD_COUNT, 1);
  assert_ptr_equal(connectc_codegentest_v1_httpservice__methods[0],
                   &connectc_codegentest_v1_httpservice_ping__method);
  assert_string_equal(connectc_codegentest_v1_httpservice_ping__method.desc.procedure,
                      "/connectc.codegentest.v1.HTTPService/Ping");
  assert_ptr_equal(connectc_codegentest_v1_httpservice_ping__method.input,
                   &google__protobuf__empty__descriptor);
}

/* ---- JSON metadata ---- */

static const connectc_message_info *const all_infos[] = {
    &connectc__codegentest__common__v1__money__message_info,
    &connectc__codegentest__v1__struct__message_info,
    &connectc__codegentest__v1__order__message_info,
    &connectc__codegentest__v1__order__structs_by_id_entry__message_info,
    &connectc__codegentest__v1__order__quantities_entry__message_info,
    &connectc__codegentest__v1__order__line__message_info,
    &connectc__codegentest__v1__order__line__detail__message_info,
    &connectc__codegentest__v1__empty__message_info,
    &connectc__codegentest__v1__legacy__message_info,
};

/* Every info parallels protoc-c's descriptor: same fields in the same
 * order, oneof members flagged as such by protoc-c (proto3 optional fields
 * included, through protoc-gen-connectc-c). */
static void test_metadata_matches_descriptors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof all_infos / sizeof all_infos[0]; i++) {
    const connectc_message_info *info = all_infos[i];
    const ProtobufCMessageDescriptor *d = info->descriptor;
    assert_int_equal(d->magic, PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    assert_int_equal(info->n_fields, d->n_fields);
    if (info->n_fields == 0) assert_null(info->fields);
    if (info->n_oneofs == 0) assert_null(info->oneof_names);
    for (size_t f = 0; f < info->n_fields; f++) {
      const connectc_json_field_info *jf = &info->fields[f];
      assert_int_equal(jf->number, d->fields[f].id);
      if (jf->oneof_index >= 0) {
        assert_true((size_t)jf->oneof_index < info->n_oneofs);
        assert_true(d->fields[f].flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
      } else {
        assert_false(d->fields[f].flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
      }
      if (jf->proto3_optional) assert_true(jf->oneof_index >= 0);
      if (jf->is_map) {
        assert_int_equal(d->fields[f].label, PROTOBUF_C_LABEL_REPEATED);
        assert_int_equal(d->fields[f].type, PROTOBUF_C_TYPE_MESSAGE);
      }
    }
  }
}

static void check_field(const connectc_message_info *info, size_t i, uint32_t number,
                        const char *json, int32_t oneof, uint8_t is_map, uint8_t opt) {
  assert_true(i < info->n_fields);
  assert_int_equal(info->fields[i].number, number);
  assert_string_equal(info->fields[i].json_name, json);
  assert_int_equal(info->fields[i].oneof_index, oneof);
  assert_int_equal(info->fields[i].is_map, is_map);
  assert_int_equal(info->fields[i].proto3_optional, opt);
}

static void test_metadata_struct(void **state) {
  const connectc_message_info *info = &connectc__codegentest__v1__struct__message_info;
  (void)state;
  assert_ptr_equal(info->descriptor, &connectc__codegentest__v1__struct__descriptor);
  assert_int_equal(info->n_fields, 4);
  check_field(info, 0, 1, "int", -1, 0, 0);
  check_field(info, 1, 2, "dflt", -1, 0, 0);
  check_field(info, 2, 3, "for", -1, 0, 0);
  check_field(info, 3, 4, "o\"d\\d?\?=", -1, 0, 0);
  assert_int_equal(info->n_oneofs, 0);
  /* protoc-c renamed the C members, not the proto names. */
  assert_string_equal(info->descriptor->fields[0].name, "int");
}

static void test_metadata_order(void **state) {
  const connectc_message_info *info = &connectc__codegentest__v1__order__message_info;
  (void)state;
  assert_int_equal(info->n_fields, 13);
  check_field(info, 0, 1, "total", -1, 0, 0);
  check_field(info, 1, 2, "structsById", -1, 1, 0);
  check_field(info, 2, 3, "quantities", -1, 1, 0);
  check_field(info, 3, 4, "priority", 2, 0, 1);
  check_field(info, 4, 5, "id", -1, 0, 0);
  check_field(info, 5, 6, "createdAt", -1, 0, 0);
  check_field(info, 6, 7, "lines", -1, 0, 0);
  check_field(info, 7, 8, "color", -1, 0, 0);
  check_field(info, 8, 9, "lowerSnakeCaseName", -1, 0, 0);
  check_field(info, 9, 10, "cardToken", 0, 0, 0);
  check_field(info, 10, 11, "voucher", 0, 0, 0);
  check_field(info, 11, 12, "note", 3, 0, 1);
  check_field(info, 12, 13, "address", 1, 0, 0);
  assert_int_equal(info->n_oneofs, 4);
  assert_string_equal(info->oneof_names[0], "payment");
  assert_string_equal(info->oneof_names[1], "shipping");
  assert_string_equal(info->oneof_names[2], "_priority");
  assert_string_equal(info->oneof_names[3], "_note");

  info = &connectc__codegentest__v1__order__structs_by_id_entry__message_info;
  assert_string_equal(info->descriptor->name, "connectc.codegentest.v1.Order.StructsByIdEntry");
  assert_int_equal(info->n_fields, 2);
  check_field(info, 0, 1, "key", -1, 0, 0);
  check_field(info, 1, 2, "value", -1, 0, 0);

  info = &connectc__codegentest__v1__order__line__message_info;
  assert_string_equal(info->descriptor->name, "connectc.codegentest.v1.Order.Line");
  check_field(info, 0, 1, "sku", -1, 0, 0);
  check_field(info, 1, 2, "count", 0, 0, 1);
  check_field(info, 2, 3, "detail", -1, 0, 0);
  assert_int_equal(info->n_oneofs, 1);
  assert_string_equal(info->oneof_names[0], "_count");

  info = &connectc__codegentest__v1__empty__message_info;
  assert_int_equal(info->n_fields, 0);
  assert_null(info->fields);
  assert_int_equal(info->n_oneofs, 0);
}

static void test_metadata_legacy(void **state) {
  const connectc_message_info *info = &connectc__codegentest__v1__legacy__message_info;
  (void)state;
  /* The `extend` block adds nothing to the message. */
  assert_int_equal(info->n_fields, 3);
  check_field(info, 0, 1, "name", -1, 0, 0);
  check_field(info, 1, 2, "retries", -1, 0, 0);
  check_field(info, 2, 3, "kinds", -1, 0, 0);
}

/* proto2 strings are not required to be UTF-8 (Go's protobuf agrees); the
 * proto codec lets them through, unlike proto3 ones. */
static void test_proto2_strings_not_checked(void **state) {
  (void)state;
  const uint8_t bytes[] = {0x0a, 0x02, 0xff, 0xfe};
  const connectc_codec *c = connectc_codec_proto();
  ProtobufCMessage *m = NULL;
  assert_int_equal(c->unmarshal(c, &connectc__codegentest__v1__legacy__descriptor, bytes, sizeof bytes,
                                NULL, NULL, &m, NULL),
                   CONNECTC_OK);
  assert_int_equal(((Connectc__Codegentest__V1__Legacy *)m)->name[0], (char)0xff);
  connectc_message_free(m, NULL);
}

/* ---- register functions ---- */

static void test_register_types(void **state) {
  connectc_type_registry reg;
  (void)state;
  memset(&reg, 0, sizeof reg);
  assert_int_equal(connectc_codegentest_v1_test__register_types(&reg), CONNECTC_OK);
  /* The import first (google/protobuf/ imports are the library's). */
  assert_int_equal(reg.n, 8);
  assert_ptr_equal(reg.added[0], &connectc__codegentest__common__v1__money__message_info);
  assert_ptr_equal(reg.added[1], &connectc__codegentest__v1__struct__message_info);
  assert_ptr_equal(reg.added[2], &connectc__codegentest__v1__order__message_info);
  assert_ptr_equal(reg.added[3],
                   &connectc__codegentest__v1__order__structs_by_id_entry__message_info);
  assert_ptr_equal(reg.added[4],
                   &connectc__codegentest__v1__order__quantities_entry__message_info);
  assert_ptr_equal(reg.added[5], &connectc__codegentest__v1__order__line__message_info);
  assert_ptr_equal(reg.added[6], &connectc__codegentest__v1__order__line__detail__message_info);
  assert_ptr_equal(reg.added[7], &connectc__codegentest__v1__empty__message_info);

  memset(&reg, 0, sizeof reg);
  assert_int_equal(connectc_codegentest_v1_legacy__register_types(&reg), CONNECTC_OK);
  assert_int_equal(reg.n, 1);
  assert_ptr_equal(reg.added[0], &connectc__codegentest__v1__legacy__message_info);
}

static void test_register_types_stops_at_first_error(void **state) {
  connectc_type_registry reg;
  (void)state;
  /* Failing inside the imported file's function stops everything. */
  memset(&reg, 0, sizeof reg);
  reg.fail_at = 1;
  assert_int_equal(connectc_codegentest_v1_test__register_types(&reg), CONNECTC_ERR_ARGUMENT);
  assert_int_equal(reg.n, 0);
  /* Failing on the third message: two were added, none after. */
  memset(&reg, 0, sizeof reg);
  reg.fail_at = 3;
  assert_int_equal(connectc_codegentest_v1_test__register_types(&reg), CONNECTC_ERR_ARGUMENT);
  assert_int_equal(reg.n, 2);
}

/* ---- proto3 optional: presence through the oneof case ---- */

static void test_proto3_optional_presence(void **state) {
  Connectc__Codegentest__V1__Order__Line line, *back;
  const ProtobufCMessageDescriptor *d = &connectc__codegentest__v1__order__line__descriptor;
  uint8_t buf[16];
  size_t n;
  (void)state;

  connectc__codegentest__v1__order__line__init(&line);
  assert_int_equal(line._count_case, CONNECTC__CODEGENTEST__V1__ORDER__LINE___COUNT__NOT_SET);
  /* protoc-c makes no pack helpers for nested messages: the generic
   * protobuf_c_message_* functions do the same. */
  /* Unset: nothing on the wire, and unset after a round trip. */
  n = protobuf_c_message_pack(&line.base, buf);
  assert_int_equal(n, 0);
  back = (Connectc__Codegentest__V1__Order__Line *)protobuf_c_message_unpack(d, NULL, n, buf);
  assert_non_null(back);
  assert_int_equal(back->_count_case, CONNECTC__CODEGENTEST__V1__ORDER__LINE___COUNT__NOT_SET);
  protobuf_c_message_free_unpacked(&back->base, NULL);

  /* Set to the default value 0: present, so it is written (field 2,
   * varint 0) and still present after a round trip. */
  line._count_case = CONNECTC__CODEGENTEST__V1__ORDER__LINE___COUNT_COUNT;
  line.count = 0;
  n = protobuf_c_message_pack(&line.base, buf);
  assert_int_equal(n, 2);
  assert_memory_equal(buf, "\x10\x00", 2);
  back = (Connectc__Codegentest__V1__Order__Line *)protobuf_c_message_unpack(d, NULL, n, buf);
  assert_non_null(back);
  assert_int_equal(back->_count_case, CONNECTC__CODEGENTEST__V1__ORDER__LINE___COUNT_COUNT);
  assert_int_equal(back->count, 0);
  protobuf_c_message_free_unpacked(&back->base, NULL);

  /* A non-zero value. */
  line.count = 300;
  n = protobuf_c_message_pack(&line.base, buf);
  assert_int_equal(n, 3);
  assert_memory_equal(buf, "\x10\xac\x02", 3);
  back = (Connectc__Codegentest__V1__Order__Line *)protobuf_c_message_unpack(d, NULL, n, buf);
  assert_non_null(back);
  assert_int_equal(back->_count_case, CONNECTC__CODEGENTEST__V1__ORDER__LINE___COUNT_COUNT);
  assert_int_equal(back->count, 300);
  protobuf_c_message_free_unpacked(&back->base, NULL);
}

/* A plain proto3 scalar at its default is not written: the contrast that
 * makes the test above meaningful. */
static void test_proto3_plain_scalar_default_not_written(void **state) {
  Connectc__Codegentest__Common__V1__Money money;
  uint8_t buf[16];
  (void)state;
  connectc__codegentest__common__v1__money__init(&money);
  money.units = 0;
  assert_int_equal(connectc__codegentest__common__v1__money__pack(&money, buf), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_method_table),
      cmocka_unit_test(test_proto2_strings_not_checked),
      cmocka_unit_test(test_metadata_matches_descriptors),
      cmocka_unit_test(test_metadata_struct),
      cmocka_unit_test(test_metadata_order),
      cmocka_unit_test(test_metadata_legacy),
      cmocka_unit_test(test_register_types),
      cmocka_unit_test(test_register_types_stops_at_first_error),
      cmocka_unit_test(test_proto3_optional_presence),
      cmocka_unit_test(test_proto3_plain_scalar_default_not_written),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
