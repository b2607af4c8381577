/* Codes, HTTP status mapping, error values, header lists, base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"
#include "buf.h"
#include "connectc/common.h"

static void test_codes(void **state) {
  (void)state;
  static const char *const names[] = {
      "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
      "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
      "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
      "unauthenticated"};
  static const int http[] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                             400, 409, 400, 501, 500, 503, 500, 401};
  for (int i = 0; i <= 16; i++) {
    assert_string_equal(connectc_code_name((connectc_code)i), names[i]);
    assert_int_equal(connectc_code_to_http_status((connectc_code)i), http[i]);
    connectc_code c = CONNECTC_CODE_OK;
    assert_int_equal(connectc_code_from_name(names[i], strlen(names[i]), &c), i == 0 ? 0 : 1);
    if (i) assert_int_equal(c, i);
  }
  assert_null(connectc_code_name((connectc_code)17));
  connectc_code c;
  assert_int_equal(connectc_code_from_name("Internal", 8, &c), 0);
  assert_int_equal(connectc_code_from_name("internal2", 9, &c), 0);
  struct {
    int status;
    connectc_code code;
  } m[] = {{400, CONNECTC_CODE_INTERNAL},        {401, CONNECTC_CODE_UNAUTHENTICATED},
           {403, CONNECTC_CODE_PERMISSION_DENIED}, {404, CONNECTC_CODE_UNIMPLEMENTED},
           {429, CONNECTC_CODE_UNAVAILABLE},      {502, CONNECTC_CODE_UNAVAILABLE},
           {503, CONNECTC_CODE_UNAVAILABLE},      {504, CONNECTC_CODE_UNAVAILABLE},
           {500, CONNECTC_CODE_UNKNOWN},          {418, CONNECTC_CODE_UNKNOWN},
           {200, CONNECTC_CODE_UNKNOWN},          {0, CONNECTC_CODE_UNKNOWN}};
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
    assert_int_equal(connectc_code_from_http_status(m[i].status), m[i].code);
  assert_string_equal(connectc_strerror(CONNECTC_ERR_LIMIT), "configured limit exceeded");
  assert_string_equal(connectc_strerror(-999), "unknown error");
}

static void test_errors(void **state) {
  (void)state;
  connectc_error e, f;
  connectc_error_init(&e, NULL);
  connectc_error_init(&f, NULL);
  assert_int_equal(connectc_error_set(&e, CONNECTC_CODE_ABORTED, "retry %d of %s", 3, "five"),
                   CONNECTC_OK);
  assert_string_equal(e.message, "retry 3 of five");
  const uint8_t v[] = {0, 1, 2};
  assert_int_equal(connectc_error_add_detail(&e, "a.B", v, 3), CONNECTC_OK);
  assert_int_equal(connectc_error_add_detail(&e, "c.D", NULL, 0), CONNECTC_OK);
  assert_int_equal(connectc_error_copy(&f, &e), CONNECTC_OK);
  connectc_error_reset(&e);
  assert_int_equal(e.code, CONNECTC_CODE_OK);
  assert_null(e.message);
  assert_int_equal(f.code, CONNECTC_CODE_ABORTED);
  assert_int_equal(f.n_details, 2);
  assert_string_equal(f.details[0].type, "a.B");
  assert_memory_equal(f.details[0].value, v, 3);
  assert_null(f.details[1].value);
  assert_int_equal(connectc_error_set_message(&f, CONNECTC_CODE_INTERNAL, "x\0y", 3), CONNECTC_OK);
  assert_int_equal(f.code, CONNECTC_CODE_INTERNAL);
  assert_int_equal(f.n_details, 2);
  connectc_error_reset(&f);
}

static void test_headers(void **state) {
  (void)state;
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  assert_int_equal(connectc_headers_adds(&h, "X-Foo", "1"), CONNECTC_OK);
  assert_int_equal(connectc_headers_adds(&h, "x-foo", "2"), CONNECTC_OK);
  assert_int_equal(connectc_headers_adds(&h, "Other", ""), CONNECTC_OK);
  assert_string_equal(h.items[0].name, "x-foo");
  assert_string_equal(connectc_headers_get(&h, "X-FOO"), "1");
  assert_int_equal(connectc_headers_count(&h, "x-foo"), 2);
  assert_string_equal(connectc_headers_get_nth(&h, "x-foo", 1)->value, "2");
  assert_null(connectc_headers_get_nth(&h, "x-foo", 2));
  assert_null(connectc_headers_get(&h, "missing"));
  assert_int_equal(connectc_headers_adds(&h, "bad name", "v"), CONNECTC_ERR_ARGUMENT);
  assert_int_equal(connectc_headers_adds(&h, "", "v"), CONNECTC_ERR_ARGUMENT);
  assert_int_equal(connectc_headers_adds(&h, "x", "a\r\nb: c"), CONNECTC_ERR_ARGUMENT);
  assert_int_equal(connectc_headers_add(&h, "x", 1, "a\0b", 3), CONNECTC_ERR_ARGUMENT);
  assert_int_equal(connectc_headers_adds(&h, "x", "a\rb"), CONNECTC_ERR_ARGUMENT);
  assert_int_equal(connectc_headers_adds(&h, "x", "a\nb"), CONNECTC_ERR_ARGUMENT);
  /* Other control bytes below CR are allowed by this list (tabs, and what
   * the HTTP rules refuse separately). */
  assert_int_equal(connectc_headers_adds(&h, "x-tab", "a\tb\x0b\x0c"), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(&h, "x-tab"), "a\tb\x0b\x0c");
  const uint8_t bin[] = {0xff, 0x00, 0xfe};
  assert_int_equal(connectc_headers_add_bin(&h, "x-data-bin", bin, 3), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(&h, "x-data-bin"), "/wD+");
  assert_int_equal(connectc_headers_add_bin(&h, "x-data", bin, 3), CONNECTC_ERR_ARGUMENT);
  /* An empty binary value is an empty header (regression: the encoder did
   * pointer arithmetic on a NULL buffer; found by a helper's UBSan run). */
  assert_int_equal(connectc_headers_add_bin(&h, "x-empty-bin", NULL, 0), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(&h, "x-empty-bin"), "");
  assert_int_equal(connectc_headers_adds(&h, "y-bin", "_wD-"), CONNECTC_OK);   /* URL-safe */
  assert_int_equal(connectc_headers_adds(&h, "z-bin", "/wD+=="), CONNECTC_OK);
  assert_int_equal(connectc_headers_adds(&h, "w-bin", "!!"), CONNECTC_OK);
  uint8_t *out;
  size_t len;
  const char *names[] = {"x-data-bin", "y-bin"};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(connectc_headers_get_bin(&h, names[i], 0, &out, &len), CONNECTC_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(out, bin, 3);
    connectc_free(NULL, out);
  }
  assert_int_equal(connectc_headers_get_bin(&h, "z-bin", 0, &out, &len), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(connectc_headers_get_bin(&h, "w-bin", 0, &out, &len), CONNECTC_ERR_PROTOCOL);
  assert_int_equal(connectc_headers_get_bin(&h, "nope-bin", 0, &out, &len), CONNECTC_ERR_ARGUMENT);
  connectc_headers copy;
  connectc_headers_init(&copy, NULL);
  assert_int_equal(connectc_headers_append_all(&copy, &h), CONNECTC_OK);
  assert_int_equal(copy.len, h.len);
  assert_int_equal(connectc_headers_remove(&copy, "X-foo"), 2);
  assert_int_equal(copy.len, h.len - 2);
  connectc_headers_reset(&copy);
  connectc_headers_reset(&h);
}

/* A base allocator that counts what the arena takes from it. */
typedef struct counted {
  int live, total;
  int fail_after; /* fail the allocation after this many (0: never) */
} counted;
static void *cnt_malloc(size_t n, void *ud) {
  counted *c = ud;
  if (c->fail_after && c->total >= c->fail_after) return NULL;
  c->live++;
  c->total++;
  return malloc(n);
}
static void *cnt_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return realloc(p, n);
}
static void cnt_free(void *p, void *ud) {
  counted *c = ud;
  if (p) c->live--;
  free(p);
}

static void test_arena(void **state) {
  (void)state;
  counted c = {0, 0, 0};
  connectc_allocator base = {cnt_malloc, cnt_realloc, cnt_free, &c};
  unsigned char first[256];
  connectc_arena arena;
  /* Deliberately misaligned first block: the arena aligns it. */
  connectc_arena_init(&arena, &base, first + 1, sizeof first - 1);
  const connectc_allocator *a = connectc_arena_allocator(&arena);
  char *s1 = a->malloc(10, a->user_data);
  char *s2 = a->malloc(30, a->user_data);
  assert_non_null(s1);
  assert_non_null(s2);
  assert_int_equal((uintptr_t)s1 % _Alignof(max_align_t), 0);
  assert_int_equal((uintptr_t)s2 % _Alignof(max_align_t), 0);
  assert_true((unsigned char *)s1 > first && (unsigned char *)s2 < first + sizeof first);
  assert_int_equal(c.total, 0); /* both fit in the first block */
  assert_int_equal(connectc_arena_heap_bytes(&arena), 0);
  memcpy(s1, "0123456789", 10);
  memset(s2, 'x', 30);
  /* The most recent allocation grows in place and can be taken back. */
  char *g = a->realloc(s2, 60, a->user_data);
  assert_ptr_equal(g, s2);
  a->free(g, a->user_data);
  char *s3 = a->malloc(8, a->user_data);
  assert_ptr_equal(s3, s2);
  /* Any other grows by copying. */
  char *m = a->realloc(s1, 100, a->user_data);
  assert_non_null(m);
  assert_ptr_not_equal(m, s1);
  assert_memory_equal(m, "0123456789", 10);
  /* Past the first block: blocks come from base, freed at the reset. */
  for (int i = 0; i < 100; i++) {
    unsigned char *p = a->malloc(100, a->user_data);
    assert_non_null(p);
    memset(p, i, 100);
  }
  char *big = a->malloc(100000, a->user_data); /* larger than any block */
  assert_non_null(big);
  memset(big, 1, 100000);
  assert_true(c.live >= 2);
  assert_true(connectc_arena_heap_bytes(&arena) >= 100000 + 100 * 100);
  assert_null(a->malloc(SIZE_MAX - 8, a->user_data)); /* overflow, not a wrap */
  connectc_arena_reset(&arena);
  assert_int_equal(c.live, 0);
  assert_int_equal(connectc_arena_heap_bytes(&arena), 0);
  /* Starts again in the first block. */
  char *again = a->malloc(10, a->user_data);
  assert_true((unsigned char *)again > first && (unsigned char *)again < first + sizeof first);
  /* A failing base: NULL, and the arena stays usable. */
  c.fail_after = c.total;
  assert_null(a->malloc(1000, a->user_data));
  assert_non_null(a->malloc(16, a->user_data));
  connectc_arena_reset(&arena);
  /* No first block at all. */
  c.fail_after = 0;
  connectc_arena_init(&arena, &base, NULL, 0);
  assert_non_null(a = connectc_arena_allocator(&arena));
  assert_non_null(a->realloc(NULL, 5, a->user_data));
  assert_int_equal(c.live, 1);
  connectc_arena_reset(&arena);
  assert_int_equal(c.live, 0);
}

static void test_base64_in_place(void **state) {
  (void)state;
  uint8_t text[] = "SGVsbG8sIHdvcmxkIQ"; /* "Hello, world!" unpadded */
  size_t n = 0;
  assert_int_equal(cc_b64_decode_in_place(text, strlen((char *)text), CC_B64_ACCEPT_URL, &n),
                   CONNECTC_OK);
  assert_int_equal(n, 13);
  assert_memory_equal(text, "Hello, world!", 13);
  uint8_t padded[] = "-_8=";
  assert_int_equal(cc_b64_decode_in_place(padded, 4, CC_B64_ACCEPT_URL, &n), CONNECTC_OK);
  assert_int_equal(n, 2);
  assert_memory_equal(padded, "\xfb\xff", 2);
  uint8_t bad[] = "ab*c";
  assert_int_equal(cc_b64_decode_in_place(bad, 4, CC_B64_ACCEPT_URL, &n), CONNECTC_ERR_PROTOCOL);
  uint8_t one[] = "a";
  assert_int_equal(cc_b64_decode_in_place(one, 1, CC_B64_ACCEPT_URL, &n), CONNECTC_ERR_PROTOCOL);
}

/* The eight-bytes-at-a-time helpers of core/buf.h against their byte
 * rules: every byte value at every offset of the first two words and the
 * tail, for every length up to 24. */
static int value_byte_ok(unsigned char c) { return !((c < 0x20 && c != '\t') || c == 0x7f); }

static void test_word_at_a_time_bytes(void **state) {
  (void)state;
  char in[24], out[24], want[24];
  for (size_t len = 0; len <= sizeof in; len++) {
    for (size_t at = 0; at < len; at++) {
      for (unsigned v = 0; v < 256; v++) {
        memset(in, 'a', sizeof in);
        in[at] = (char)v;
        /* Upper case around the byte too, so that a carry between bytes
         * would show. */
        if (at > 0) in[at - 1] = 'Z';
        if (at + 1 < len) in[at + 1] = 'A';
        size_t span = cc_field_value_span(in, len);
        size_t ref = 0;
        while (ref < len && value_byte_ok((unsigned char)in[ref])) ref++;
        assert_int_equal(span, ref);
        memset(out, 0x55, sizeof out);
        cc_ascii_lower_copy(out, in, len);
        for (size_t i = 0; i < len; i++) {
          unsigned char c = (unsigned char)in[i];
          want[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        assert_memory_equal(out, want, len);
        for (size_t i = len; i < sizeof out; i++) assert_int_equal(out[i], 0x55);
      }
    }
  }
  /* Every word clean, then one bad byte at the very end. */
  memset(in, ' ', sizeof in);
  assert_int_equal(cc_field_value_span(in, sizeof in), sizeof in);
  in[23] = 0x7f;
  assert_int_equal(cc_field_value_span(in, sizeof in), 23);
  in[23] = '\t';
  assert_int_equal(cc_field_value_span(in, sizeof in), sizeof in);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codes),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_headers),
      cmocka_unit_test(test_arena),
      cmocka_unit_test(test_base64_in_place),
      cmocka_unit_test(test_word_at_a_time_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
