/* The envelope writer and the incremental decoder, fed in every chunking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/envelope.h"

static void test_write_header(void **state) {
  (void)state;
  uint8_t h[5];
  connectc_envelope_write_header(h, 0x02, 0x01020304u);
  assert_memory_equal(h, "\x02\x01\x02\x03\x04", 5);
  connectc_envelope_write_header(h, 0, 0xFFFFFFFFu);
  assert_memory_equal(h, "\x00\xff\xff\xff\xff", 5);
}

/* A counting allocator to observe what the decoder allocates. */
typedef struct counter {
  size_t live, peak, calls;
  int fail_after; /* -1: never */
} counter;
typedef struct hdr {
  size_t size;
  max_align_t align;
} hdr;
static void *c_malloc(size_t n, void *ud) {
  counter *c = ud;
  if (c->fail_after >= 0 && c->calls >= (size_t)c->fail_after) return NULL;
  c->calls++;
  hdr *h = malloc(sizeof(hdr) + n);
  if (!h) return NULL;
  h->size = n;
  c->live += n;
  if (c->live > c->peak) c->peak = c->live;
  return h + 1;
}
static void c_free(void *p, void *ud) {
  counter *c = ud;
  if (!p) return;
  hdr *h = (hdr *)p - 1;
  c->live -= h->size;
  free(h);
}
static void *c_realloc(void *p, size_t n, void *ud) {
  if (!p) return c_malloc(n, ud);
  counter *c = ud;
  hdr *old = (hdr *)p - 1;
  void *np = c_malloc(n, ud);
  if (!np) return NULL;
  (void)c;
  memcpy(np, p, old->size < n ? old->size : n);
  c_free(p, ud);
  return np;
}

/* Decodes `stream` in chunks of `chunk` bytes; collects payloads. */
static int decode_all(const uint8_t *stream, size_t len, size_t chunk, size_t max,
                      uint8_t *flags, char payloads[][64], size_t *n_out,
                      connectc_error *err) {
  connectc_envelope_decoder d;
  connectc_envelope_decoder_init(&d, max, NULL);
  size_t n = 0;
  int rv = 0;
  for (size_t off = 0; off < len && rv >= 0;) {
    size_t k = len - off < chunk ? len - off : chunk;
    const uint8_t *p = stream + off;
    off += k;
    while (k > 0) {
      size_t used = 0;
      connectc_envelope env;
      rv = connectc_envelope_decode(&d, p, k, &used, &env, err);
      if (rv < 0) break;
      p += used;
      k -= used;
      if (rv == 1) {
        flags[n] = env.flags;
        memcpy(payloads[n], env.payload, env.len);
        payloads[n][env.len] = 0;
        n++;
      } else {
        assert_int_equal(k, 0);
      }
    }
  }
  if (rv >= 0 && !connectc_envelope_decoder_idle(&d)) rv = 2; /* incomplete */
  connectc_envelope_decoder_reset(&d);
  *n_out = n;
  return rv;
}

static void test_decode_every_chunking(void **state) {
  (void)state;
  uint8_t s[64];
  size_t len = 0;
  const char *msgs[] = {"hello", "", "a", "{\"end\":1}"};
  const uint8_t fl[] = {0, 1, 0, 2};
  for (int i = 0; i < 4; i++) {
    connectc_envelope_write_header(s + len, fl[i], (uint32_t)strlen(msgs[i]));
    memcpy(s + len + 5, msgs[i], strlen(msgs[i]));
    len += 5 + strlen(msgs[i]);
  }
  for (size_t chunk = 1; chunk <= len; chunk++) {
    uint8_t flags[8];
    char payloads[8][64];
    size_t n;
    assert_true(decode_all(s, len, chunk, 100, flags, payloads, &n, NULL) >= 0);
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++) {
      assert_int_equal(flags[i], fl[i]);
      assert_string_equal(payloads[i], msgs[i]);
    }
  }
  /* A truncated stream leaves the decoder mid-envelope. */
  uint8_t flags[8];
  char payloads[8][64];
  size_t n;
  assert_int_equal(decode_all(s, len - 1, 3, 100, flags, payloads, &n, NULL), 2);
  assert_int_equal(n, 3);
}

static void test_zero_copy(void **state) {
  (void)state;
  uint8_t s[16] = {0, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 1, 'z'};
  connectc_envelope_decoder d;
  connectc_envelope_decoder_init(&d, 100, NULL);
  connectc_envelope env;
  size_t used;
  assert_int_equal(connectc_envelope_decode(&d, s, 14, &used, &env, NULL), 1);
  assert_int_equal(used, 8);
  assert_ptr_equal(env.payload, s + 5); /* points into the input */
  assert_null(d.buf);
  assert_int_equal(connectc_envelope_decode(&d, s + 8, 6, &used, &env, NULL), 1);
  assert_ptr_equal(env.payload, s + 13);
  connectc_envelope_decoder_reset(&d);
}

static void test_limit_before_allocation(void **state) {
  (void)state;
  counter c = {0, 0, 0, -1};
  connectc_allocator a = {c_malloc, c_realloc, c_free, &c};
  connectc_envelope_decoder d;
  connectc_envelope_decoder_init(&d, 4194304, &a);
  uint8_t h[5];
  connectc_envelope_write_header(h, 0, 0xFFFFFFFFu);
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_envelope env;
  size_t used;
  assert_int_equal(connectc_envelope_decode(&d, h, 5, &used, &env, &e), CONNECTC_ERR_LIMIT);
  assert_int_equal(e.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(e.message, "an envelope declares a message of 4294967295 bytes, larger than the "
                                 "limit of 4194304 bytes for one envelope");
  assert_int_equal(c.calls, 0);
  /* Sticky. */
  assert_int_equal(connectc_envelope_decode(&d, h, 5, &used, &env, &e), CONNECTC_ERR_LIMIT);
  connectc_envelope_decoder_reset(&d);

  /* Declared 4 MiB, then 5 bytes arrive: the buffer follows the bytes. */
  connectc_envelope_decoder_init(&d, 4194304, &a);
  connectc_envelope_write_header(h, 0, 4194304);
  assert_int_equal(connectc_envelope_decode(&d, h, 5, &used, &env, &e), 0);
  assert_int_equal(connectc_envelope_decode(&d, (const uint8_t *)"12345", 5, &used, &env, &e), 0);
  assert_true(c.peak <= 1024);
  connectc_envelope_decoder_reset(&d);
  assert_int_equal(c.live, 0);
  connectc_error_reset(&e);
}

static void test_oom(void **state) {
  (void)state;
  counter c = {0, 0, 0, 0};
  connectc_allocator a = {c_malloc, c_realloc, c_free, &c};
  connectc_envelope_decoder d;
  connectc_envelope_decoder_init(&d, 100, &a);
  uint8_t s[9] = {0, 0, 0, 0, 4, 'a', 'b', 'c', 'd'};
  connectc_envelope env;
  size_t used;
  assert_int_equal(connectc_envelope_decode(&d, s, 3, &used, &env, NULL), 0);
  assert_int_equal(connectc_envelope_decode(&d, s + 3, 6, &used, &env, NULL), CONNECTC_ERR_NOMEM);
  connectc_envelope_decoder_reset(&d);
  assert_int_equal(c.live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_header),
      cmocka_unit_test(test_decode_every_chunking),
      cmocka_unit_test(test_zero_copy),
      cmocka_unit_test(test_limit_before_allocation),
      cmocka_unit_test(test_oom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
