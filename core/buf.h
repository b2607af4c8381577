/*
 * Internal: a growable byte buffer that allocates through a
 * connectc_allocator. Not part of the public API.
 */
#ifndef CONNECTC_CORE_BUF_H
#define CONNECTC_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "connectc/common.h"

typedef struct cc_buf {
  uint8_t *data; /* NULL until the first reservation */
  size_t len;
  size_t cap;
} cc_buf;

/* Zero-initialised buffers are valid and empty. */
#define CC_BUF_INIT {NULL, 0, 0}

/* Ensures room for `extra` more bytes beyond len (grows geometrically).
 * Returns CONNECTC_OK or CONNECTC_ERR_NOMEM (also on size overflow). */
int cc_buf_reserve(cc_buf *b, const connectc_allocator *a, size_t extra);
int cc_buf_append(cc_buf *b, const connectc_allocator *a, const void *data, size_t len);
int cc_buf_append_byte(cc_buf *b, const connectc_allocator *a, uint8_t byte);
int cc_buf_append_str(cc_buf *b, const connectc_allocator *a, const char *s);
/* Forgets the contents, keeps the memory. */
static inline void cc_buf_clear(cc_buf *b) { b->len = 0; }
/* Releases the memory. */
void cc_buf_free(cc_buf *b, const connectc_allocator *a);
/* Moves the contents out as a NUL-terminated string (the buffer becomes
 * empty). Returns NULL on allocation failure. */
char *cc_buf_take_cstr(cc_buf *b, const connectc_allocator *a);

/* Allocation helpers that never return NULL for size 0 confusion: a
 * request for 0 bytes allocates 1. */
void *cc_malloc(const connectc_allocator *a, size_t size);
void *cc_realloc(const connectc_allocator *a, void *ptr, size_t size);
void cc_free(const connectc_allocator *a, void *ptr);
char *cc_strndup(const connectc_allocator *a, const char *s, size_t len);
/* Resolves NULL to the default allocator. */
const connectc_allocator *cc_alloc_or_default(const connectc_allocator *a);

/* ASCII case-insensitive comparisons (locale-independent). */
static inline char cc_ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}
static inline int cc_ascii_casecmp_n(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char ca = cc_ascii_lower(a[i]), cb = cc_ascii_lower(b[i]);
    if (ca != cb) return (unsigned char)ca < (unsigned char)cb ? -1 : 1;
  }
  return 0;
}
/* A token character (RFC 9110 5.6.2: "!#$%&'*+-.^_`|~", digits, letters):
 * lower-case letters at once, anything else one bit of a 128-bit mask. */
static inline int cc_is_tchar(unsigned char c) {
  static const uint64_t mask[2] = {0x03ff6cfa00000000u, 0x57ffffffc7fffffeu};
  if ((unsigned)(c - 'a') < 26u) return 1; /* most of a field name */
  return c < 128 && ((mask[c >> 6] >> (c & 63)) & 1u);
}
/* The length of the longest prefix of p[0..n) that may stand in a field
 * value: no control character but HTAB, no DEL (RFC 9110 5.5; SP, VCHAR
 * and obs-text pass). Eight bytes at a time: a word with a byte below 0x20
 * or equal to 0x7f (both tests exact for "some byte") is resolved byte by
 * byte, as is everything after it. */
static inline size_t cc_field_value_span(const char *p, size_t n) {
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  size_t i = 0;
  for (; n - i >= 8; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    uint64_t del = w ^ (ones * 0x7f);
    if ((((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & highs) break;
  }
  for (; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) break;
  }
  return i;
}
/* Copies n bytes, ASCII upper case to lower case (other bytes as they
 * are), eight at a time: each byte's test stays within its byte. */
static inline void cc_ascii_lower_copy(char *dst, const char *src, size_t n) {
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  size_t i = 0;
  for (; n - i >= 8; i += 8) {
    uint64_t w;
    memcpy(&w, src + i, 8);
    uint64_t low7 = w & ~highs;              /* each byte below 0x80 */
    uint64_t ge_a = low7 + ones * (0x80 - 'A'); /* high bit: byte >= 'A' */
    uint64_t gt_z = low7 + ones * (0x7f - 'Z'); /* high bit: byte > 'Z' */
    uint64_t upper = ge_a & ~gt_z & ~w & highs; /* 'A'..'Z', top bit clear */
    w |= upper >> 2;                         /* 0x80 >> 2 = 0x20 */
    memcpy(dst + i, &w, 8);
  }
  for (; i < n; i++) dst[i] = cc_ascii_lower(src[i]);
}
/* Inline: header lookups compare every entry's name on every call. */
static inline int cc_ascii_eq_nocase(const char *a, size_t alen, const char *b, size_t blen) {
  return alen == blen && cc_ascii_casecmp_n(a, b, alen) == 0;
}

/* Room inside a longer-lived object (a call) for a header list's first
 * entries and their names and values, so that a list of a few headers
 * costs no allocation of its own. Aligned for the entries' pointers. */
typedef struct cc_headers_storage {
  union {
    void *align_ptr;
    size_t align_size;
    char bytes[768];
  };
} cc_headers_storage;

/* Appends a copy of an entry of another list (validated when it was
 * added there, so not checked again). */
int cc_headers_push(connectc_headers *h, const connectc_header *e);

/* connectc_headers_init() with `storage` as the list's first block: the
 * list uses it until it needs more, then allocates as usual, and never
 * frees it. `storage` must outlive the list, and the list must not be
 * moved out of the object holding both. */
void cc_headers_init_storage(connectc_headers *h, const connectc_allocator *alloc,
                             cc_headers_storage *storage);

#endif
