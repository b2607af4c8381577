/*
 * Internal: a strict (RFC 8259) JSON reader that runs in time linear in
 * its input, with a nesting-depth bound, plus small JSON writing helpers.
 *
 * The reader validates the whole document in one pass and produces a flat
 * array of tokens in document order, each holding the index of its next
 * sibling, so that walking an object or array is linear. Tokens point into
 * the caller's input (zero-copy); strings are unescaped on demand.
 *
 * Rejected (unlike jsmn): leading zeros (01), bare or partial literals
 * (tru, nul), malformed numbers (1.2.3, -, 1., .5, 1e), trailing commas,
 * missing commas, more than one top-level value, raw control characters
 * in strings, invalid escapes, unpaired surrogate escapes, invalid UTF-8
 * (overlongs, surrogates, > U+10FFFF), trailing non-whitespace.
 */
#ifndef CONNECTC_CORE_JSON_H
#define CONNECTC_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "connectc/common.h"

typedef enum cc_json_type {
  CC_JSON_NULL = 0,
  CC_JSON_FALSE,
  CC_JSON_TRUE,
  CC_JSON_NUMBER,
  CC_JSON_STRING,
  CC_JSON_ARRAY,
  CC_JSON_OBJECT
} cc_json_type;

typedef struct cc_json_token {
  uint8_t type;      /* cc_json_type */
  uint8_t escaped;   /* strings: 1 if the raw text holds a backslash */
  uint32_t start;    /* offset of the first byte (strings: after the quote) */
  uint32_t end;      /* offset one past the last byte (strings: the closing quote) */
  uint32_t size;     /* arrays: elements; objects: members (key+value pairs) */
  uint32_t next;     /* index of the token after this one's whole subtree */
} cc_json_token;
/* In an object, members are stored key token (a STRING) followed by the
 * value's subtree. The first child of token i is at i + 1. */

typedef struct cc_json_limits {
  uint32_t max_depth;  /* deepest array/object nesting; top-level = 1 */
  size_t max_tokens;   /* 0 = no limit beyond input size */
} cc_json_limits;

typedef struct cc_json_doc {
  const char *input;
  size_t input_len;
  cc_json_token *tokens; /* allocated with the allocator passed to parse */
  size_t n_tokens;
} cc_json_doc;

/*
 * Parses `in[0..len)` (len must be < 4 GiB). On success fills *doc (free
 * with cc_json_doc_free). On failure returns CONNECTC_ERR_PROTOCOL (syntax;
 * err = invalid_argument with the byte offset and what was expected),
 * CONNECTC_ERR_LIMIT (depth/tokens; err = invalid_argument or
 * resource_exhausted, see json.c) or CONNECTC_ERR_NOMEM. `err` may be NULL.
 * Never recurses: nesting is tracked with a bounded explicit stack.
 */
int cc_json_parse(const char *in, size_t len, const cc_json_limits *limits,
                  const connectc_allocator *alloc, cc_json_doc *doc, connectc_error *err);
void cc_json_doc_free(cc_json_doc *doc, const connectc_allocator *alloc);

/* Object member lookup by exact key (compares unescaped key text). Returns
 * the value token index or -1. Linear in the object's size. */
long cc_json_object_get(const cc_json_doc *doc, size_t obj, const char *key);

/* Appends the unescaped UTF-8 text of string token `tok` to `out`
 * (no NUL). */
int cc_json_string_append(const cc_json_doc *doc, size_t tok, cc_buf *out,
                          const connectc_allocator *alloc);
/* 1 if string token `tok` unescapes to exactly key[0..key_len). */
int cc_json_string_eq(const cc_json_doc *doc, size_t tok, const char *key, size_t key_len);

/* Number conversions of a NUMBER token's text. Return CONNECTC_OK or
 * CONNECTC_ERR_PROTOCOL when not representable exactly (fraction,
 * exponent that does not give an integer, out of range). Integers accept
 * exponent forms that denote integers (1e3). */
int cc_json_number_i64(const cc_json_doc *doc, size_t tok, int64_t *out);
int cc_json_number_u64(const cc_json_doc *doc, size_t tok, uint64_t *out);
int cc_json_number_double(const cc_json_doc *doc, size_t tok, double *out);
/* The same conversions on raw text (used for 64-bit integers in strings). */
int cc_json_text_i64(const char *s, size_t len, int64_t *out);
int cc_json_text_u64(const char *s, size_t len, uint64_t *out);
int cc_json_text_double(const char *s, size_t len, double *out);

/* Writing: appends a JSON string literal (with quotes), escaping as
 * RFC 8259 requires (control characters as \u00XX, '"' and '\\'). Invalid
 * UTF-8 in `s` is replaced by U+FFFD so the output is always valid JSON. */
int cc_json_write_string(cc_buf *out, const connectc_allocator *alloc, const char *s, size_t len);

/* 1 if s[0..n) is valid UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF), else 0. */
int cc_utf8_valid(const uint8_t *s, size_t n);

#endif
