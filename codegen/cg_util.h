/*
 * cg_util.h: small helpers shared by the protoc plugins in codegen/.
 *
 * The plugins are short-lived host tools: allocation failure prints a
 * message and exits (there is nothing to recover), every other error is
 * reported to protoc through CodeGeneratorResponse.error.
 */
#ifndef CONNECTC_CG_UTIL_H
#define CONNECTC_CG_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/compiler/plugin.pb-c.h"

#if defined(__GNUC__) || defined(__clang__)
#define CG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CG_PRINTF(f, a)
#endif

/* malloc/realloc/strdup that exit(1) with a message on failure. */
void *cg_xmalloc(size_t n);
void *cg_xrealloc(void *p, size_t n);
char *cg_xstrdup(const char *s);

/* A growable NUL-terminated string. Zero-initialize before use. */
typedef struct cg_str {
  char *data;
  size_t len;
  size_t cap;
} cg_str;

void cg_str_append(cg_str *s, const char *p, size_t n);
void cg_str_puts(cg_str *s, const char *p);
void cg_str_putc(cg_str *s, char c);
void cg_str_printf(cg_str *s, const char *fmt, ...) CG_PRINTF(2, 3);
void cg_str_vprintf(cg_str *s, const char *fmt, va_list ap) CG_PRINTF(2, 0);
/* Appends `p` as a C string literal, quotes included. Escapes '"', '\\',
 * '?' (no trigraphs) and every byte outside printable ASCII as \ooo. */
void cg_str_c_literal(cg_str *s, const char *p);
/* Returns the buffer (never NULL) and resets `s`; the caller frees it. */
char *cg_str_take(cg_str *s);
void cg_str_free(cg_str *s);

/* Reads all of `fd` into a malloc'd buffer. Returns 0, or -1 on a read
 * error (errno set). */
int cg_read_all(int fd, uint8_t **out, size_t *out_len);
/* Writes all of `data` to `fd`. Returns 0, or -1 on error (errno set). */
int cg_write_all(int fd, const uint8_t *data, size_t len);

/* Packs `resp` and writes it to stdout. Returns the process exit code. */
int cg_write_response(const Google__Protobuf__Compiler__CodeGeneratorResponse *resp);

/*
 * Naming, as protoc-c 1.4.1 does it:
 * cg_camel_to_lower("HTTPRequest") == "httprequest",
 * cg_camel_to_lower("ConformanceService") == "conformance_service",
 * cg_camel_to_lower("Inner_Msg") == "inner__msg": every upper-case letter
 * is lowered, and one that follows a non-upper-case character gets an '_'
 * before it.
 */
void cg_camel_to_lower(cg_str *s, const char *name);
/* protoc-c's lower-case full name: "a.b.HTTPThing.Inner" ->
 * "a__b__httpthing__inner" (components joined with "__"). A leading '.'
 * is ignored. */
char *cg_full_name_to_lower(const char *full_name);

/*
 * connectc's own lower case for package components, service and method
 * names (the names protoc-c does not define). Like cg_camel_to_lower, an
 * upper-case letter that follows a lower-case letter or a digit starts a
 * new word; in addition every run of '_' is one word break, and breaks at
 * the start or the end are dropped. Words are lowered and joined with one
 * '_', so the result never starts or ends with '_' and never holds "__":
 * "GetOrder" -> "get_order", "HTTPGet" -> "httpget", "V2Thing" ->
 * "v2_thing", "Get_Order" and "_get__order_" -> "get_order". It is empty
 * for "_" and "__", and starts with a digit for "_1st": callers refuse
 * those.
 */
void cg_snake_case(cg_str *s, const char *name);

/* protoc-c's C type name: "a.b_c.Msg.Inner" -> "A__BC__Msg__Inner" (each
 * dotted piece camel-cased at '_' boundaries, joined with "__"). A leading
 * '.' is ignored. */
char *cg_full_name_to_c(const char *full_name);

/* Whether `word` is a keyword of C11, C23 or C++ (lower-case ones only):
 * a name no generated identifier may take. protoc-c escapes field names in
 * this set (a superset of its own list) by appending '_'. */
int cg_is_keyword(const char *word);

/* Whether a struct member must not be named `word`: a keyword
 * (cg_is_keyword), or a lower-case macro of the standard headers (assert,
 * errno, stdin, ...: assert.h comes with protobuf-c.h, and `h->assert(x)`
 * or `.errno =` would expand), or one gcc and clang predefine in -std=gnu*
 * modes (linux, unix, i386). Generated members so named get a '_'. */
int cg_is_reserved_member(const char *word);

#endif
