/*
 * names_gnu.c: compiled, never run. names.proto's headers, included after
 * the standard headers that define lower-case macros (errno, bool, true,
 * stdin, assert, static_assert), in -std=gnu11, where gcc and clang also
 * define `linux` and `unix`. Handler-table members and protoc-c's service
 * members named after them carry a '_', so this builds; a member left
 * unescaped would expand and break it.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "connectc/codegentest/v1/names.connect.h"

/* Every escaped member, named. */
const connectc_codegentest_v1_names__handlers names_gnu_handlers = {
    .register_ = NULL, .return_ = NULL, .int_ = NULL, .switch_ = NULL, .default_ = NULL,
    .static_ = NULL, .bool_ = NULL, .class_ = NULL, .new_ = NULL, .assert_ = NULL,
    .errno_ = NULL, .linux_ = NULL, .static_assert_ = NULL,
};
const size_t names_gnu_offsets[] = {
    offsetof(Connectc__Codegentest__V1__Names_Service, errno_),
    offsetof(Connectc__Codegentest__V1__Names_Service, linux_),
    offsetof(Connectc__Codegentest__V1__Names_Service, bool_),
    offsetof(Connectc__Codegentest__V1__Names_Service, static_assert_),
};
