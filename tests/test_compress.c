/* Compression: names, round trips, limits that hold whatever the ratio,
 * corrupt and hostile input, allocation failures, context reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/compress.h"

typedef struct counter {
  size_t live, peak, calls;
  long fail_at; /* fail the allocation with this index; -1 never */
} counter;
typedef struct hdr {
  size_t size;
  max_align_t align;
} hdr;
static void *c_malloc(size_t n, void *ud) {
  counter *c = ud;
  if (c->fail_at >= 0 && (long)c->calls == c->fail_at) {
    c->calls++;
    return NULL;
  }
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
  hdr *old = (hdr *)p - 1;
  void *np = c_malloc(n, ud);
  if (!np) return NULL;
  memcpy(np, p, old->size < n ? old->size : n);
  c_free(p, ud);
  return np;
}

static const connectc_compression algs[] = {CONNECTC_COMPRESSION_GZIP, CONNECTC_COMPRESSION_BR,
                                            CONNECTC_COMPRESSION_ZSTD};

static void test_names(void **state) {
  (void)state;
  assert_string_equal(connectc_compression_name(CONNECTC_COMPRESSION_IDENTITY), "identity");
  assert_string_equal(connectc_compression_name(CONNECTC_COMPRESSION_BR), "br");
  assert_null(connectc_compression_name((connectc_compression)9));
  connectc_compression c;
  assert_int_equal(connectc_compression_from_name("gzip", 4, &c), 1);
  assert_int_equal(c, CONNECTC_COMPRESSION_GZIP);
  assert_int_equal(connectc_compression_from_name("identity", 8, &c), 1);
  assert_int_equal(connectc_compression_from_name("GZIP", 4, &c), 0);
  assert_int_equal(connectc_compression_from_name("gzip2", 5, &c), 0);
  connectc_compression list[4];
  size_t n = connectc_compressions_list(list, 4);
  assert_true(n >= 1);
  assert_int_equal(list[0], CONNECTC_COMPRESSION_GZIP);
  /* The header lists exactly what list() reports. */
  char want[64] = "";
  for (size_t i = 0; i < n; i++) {
    if (i) strcat(want, ", ");
    strcat(want, connectc_compression_name(list[i]));
  }
  assert_string_equal(connectc_compressions_accept_header(), want);
}

static void test_round_trips(void **state) {
  (void)state;
  connectc_compress_ctx *ctx = NULL;
  (void)connectc_compress_ctx_new(NULL, &ctx);
  size_t sizes[] = {0, 1, 1000, 100000};
  for (size_t a = 0; a < 3; a++) {
    if (!connectc_compression_supported(algs[a])) continue;
    for (size_t s = 0; s < 4; s++) {
      uint8_t *in = malloc(sizes[s] + 1);
      for (size_t i = 0; i < sizes[s]; i++) in[i] = (uint8_t)(i * 7 % 13 + 'a');
      uint8_t *c = NULL, *d = NULL;
      size_t clen = 0, dlen = 0;
      assert_int_equal(connectc_compress(ctx, algs[a], in, sizes[s], &c, &clen), CONNECTC_OK);
      assert_int_equal(connectc_decompress(ctx, algs[a], c, clen, sizes[s], &d, &dlen, NULL),
                       CONNECTC_OK);
      assert_int_equal(dlen, sizes[s]);
      if (dlen) assert_memory_equal(d, in, dlen);
      connectc_free(NULL, c);
      connectc_free(NULL, d);
      free(in);
    }
  }
  connectc_compress_ctx_del(ctx);
}

static void test_known_gzip(void **state) {
  (void)state;
  /* gzip of "hello\n" as written by gzip(1) -n. */
  static const uint8_t gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                               0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02, 0x00, 0x20, 0x30,
                               0x3a, 0x36, 0x06, 0x00, 0x00, 0x00};
  connectc_compress_ctx *ctx = NULL;
  (void)connectc_compress_ctx_new(NULL, &ctx);
  uint8_t *d;
  size_t n;
  assert_int_equal(connectc_decompress(ctx, CONNECTC_COMPRESSION_GZIP, gz, sizeof gz, 100, &d, &n, NULL),
                   CONNECTC_OK);
  assert_int_equal(n, 6);
  assert_memory_equal(d, "hello\n", 6);
  connectc_free(NULL, d);
  /* Two members back to back decode as their concatenation (as Go). */
  uint8_t two[sizeof gz * 2];
  memcpy(two, gz, sizeof gz);
  memcpy(two + sizeof gz, gz, sizeof gz);
  assert_int_equal(connectc_decompress(ctx, CONNECTC_COMPRESSION_GZIP, two, sizeof two, 100, &d, &n, NULL),
                   CONNECTC_OK);
  assert_int_equal(n, 12);
  connectc_free(NULL, d);
  /* Exactly at the limit passes; one byte under fails. */
  assert_int_equal(connectc_decompress(ctx, CONNECTC_COMPRESSION_GZIP, gz, sizeof gz, 6, &d, &n, NULL),
                   CONNECTC_OK);
  connectc_free(NULL, d);
  connectc_error e;
  connectc_error_init(&e, NULL);
  assert_int_equal(connectc_decompress(ctx, CONNECTC_COMPRESSION_GZIP, gz, sizeof gz, 5, &d, &n, &e),
                   CONNECTC_ERR_LIMIT);
  assert_int_equal(e.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(e.message, "the message decompresses to more than the limit of 5 bytes");
  connectc_error_reset(&e);
  connectc_compress_ctx_del(ctx);
}

static void test_corrupt(void **state) {
  (void)state;
  connectc_compress_ctx *ctx = NULL;
  (void)connectc_compress_ctx_new(NULL, &ctx);
  const char *text = "the quick brown fox jumps over the lazy dog, again and again and again";
  for (size_t a = 0; a < 3; a++) {
    if (!connectc_compression_supported(algs[a])) continue;
    uint8_t *c;
    size_t clen;
    assert_int_equal(connectc_compress(ctx, algs[a], (const uint8_t *)text, strlen(text), &c, &clen),
                     CONNECTC_OK);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "decompress: %s: ", connectc_compression_name(algs[a]));
    uint8_t *d;
    size_t n;
    connectc_error e;
    connectc_error_init(&e, NULL);
    /* Truncated. */
    assert_int_equal(connectc_decompress(ctx, algs[a], c, clen - 3, 1000, &d, &n, &e),
                     CONNECTC_ERR_PROTOCOL);
    assert_int_equal(e.code, CONNECTC_CODE_INVALID_ARGUMENT);
    assert_memory_equal(e.message, prefix, strlen(prefix));
    /* Trailing garbage. */
    uint8_t *g = malloc(clen + 4);
    memcpy(g, c, clen);
    memcpy(g + clen, "junk", 4);
    assert_int_equal(connectc_decompress(ctx, algs[a], g, clen + 4, 1000, &d, &n, &e),
                     CONNECTC_ERR_PROTOCOL);
    assert_memory_equal(e.message, prefix, strlen(prefix));
    /* Garbage. */
    assert_int_equal(connectc_decompress(ctx, algs[a], (const uint8_t *)"not compressed at all", 21,
                                         1000, &d, &n, &e),
                     CONNECTC_ERR_PROTOCOL);
    /* The context still works afterwards. */
    assert_int_equal(connectc_decompress(ctx, algs[a], c, clen, 1000, &d, &n, &e), CONNECTC_OK);
    assert_int_equal(n, strlen(text));
    connectc_free(NULL, d);
    free(g);
    connectc_free(NULL, c);
    connectc_error_reset(&e);
  }
  connectc_compress_ctx_del(ctx);
}

static void test_bombs(void **state) {
  (void)state;
  size_t big = 10 * 1024 * 1024, limit = 1024 * 1024;
  uint8_t *zeros = calloc(1, big);
  connectc_compress_ctx *maker = NULL;
  (void)connectc_compress_ctx_new(NULL, &maker);
  for (size_t a = 0; a < 3; a++) {
    if (!connectc_compression_supported(algs[a])) continue;
    uint8_t *c;
    size_t clen;
    assert_int_equal(connectc_compress(maker, algs[a], zeros, big, &c, &clen), CONNECTC_OK);
    assert_true(clen < big / 100);
    counter cnt = {0, 0, 0, -1};
    connectc_allocator al = {c_malloc, c_realloc, c_free, &cnt};
    connectc_compress_ctx *ctx = NULL;
    (void)connectc_compress_ctx_new(&al, &ctx);
    uint8_t *d;
    size_t n;
    connectc_error e;
    connectc_error_init(&e, NULL);
    assert_int_equal(connectc_decompress(ctx, algs[a], c, clen, limit, &d, &n, &e), CONNECTC_ERR_LIMIT);
    assert_string_equal(e.message, "the message decompresses to more than the limit of 1048576 bytes");
    /* The output buffer never passes limit + 1 bytes (while it moves to a
     * bigger block, old and new coexist: 1.5x); the rest is the library's
     * state (zstd's window is capped at 8 MiB, brotli's at 16 MiB). Far
     * from the 10 MiB the bomb would expand to. */
    size_t state_bound = algs[a] == CONNECTC_COMPRESSION_GZIP ? 64 * 1024 : 17 * 1024 * 1024;
    size_t peak_bound = (limit + 1) + (limit + 1) / 2 + state_bound;
    if (cnt.peak > peak_bound)
      fail_msg("%s: peak %zu > %zu", connectc_compression_name(algs[a]), cnt.peak, peak_bound);
    connectc_compress_ctx_del(ctx);
    assert_int_equal(cnt.live, 0);
    connectc_error_reset(&e);
    connectc_free(NULL, c);
  }
  connectc_compress_ctx_del(maker);
  free(zeros);
}

static void test_unsupported_and_empty(void **state) {
  (void)state;
  connectc_compress_ctx *ctx = NULL;
  (void)connectc_compress_ctx_new(NULL, &ctx);
  uint8_t *d = NULL;
  size_t n = 99;
  assert_int_equal(connectc_compress(ctx, (connectc_compression)7, (const uint8_t *)"x", 1, &d, &n),
                   CONNECTC_ERR_UNSUPPORTED);
  for (size_t a = 0; a < 3; a++) {
    if (!connectc_compression_supported(algs[a])) continue;
    assert_int_equal(connectc_decompress(ctx, algs[a], NULL, 0, 10, &d, &n, NULL), CONNECTC_OK);
    assert_int_equal(n, 0);
    assert_non_null(d);
    connectc_free(NULL, d);
  }
  connectc_compress_ctx_del(ctx);
}

static void test_allocation_failures(void **state) {
  (void)state;
  const char *text = "allocation failure injection text, repeated, repeated, repeated";
  connectc_compress_ctx *plain = NULL;
  (void)connectc_compress_ctx_new(NULL, &plain);
  for (size_t a = 0; a < 3; a++) {
    if (!connectc_compression_supported(algs[a])) continue;
    uint8_t *ref;
    size_t ref_len;
    assert_int_equal(connectc_compress(plain, algs[a], (const uint8_t *)text, strlen(text), &ref, &ref_len),
                     CONNECTC_OK);
    for (long fail = 0; fail < 40; fail++) {
      counter cnt = {0, 0, 0, fail};
      connectc_allocator al = {c_malloc, c_realloc, c_free, &cnt};
      connectc_compress_ctx *ctx = NULL;
      (void)connectc_compress_ctx_new(&al, &ctx);
      if (ctx) {
        uint8_t *c = NULL, *d = NULL;
        size_t clen, n;
        /* brotli 1.0.9's encoder calls exit() when an allocation fails
         * (enc/memory.c), so failures are injected into its decoder only. */
        if (algs[a] != CONNECTC_COMPRESSION_BR) {
          int rv = connectc_compress(ctx, algs[a], (const uint8_t *)text, strlen(text), &c, &clen);
          assert_true(rv == CONNECTC_OK || rv == CONNECTC_ERR_NOMEM);
          if (rv == CONNECTC_OK) connectc_free(&al, c);
        }
        connectc_error e;
        connectc_error_init(&e, NULL);
        int rv = connectc_decompress(ctx, algs[a], ref, ref_len, 1000, &d, &n, &e);
        assert_true(rv == CONNECTC_OK || rv == CONNECTC_ERR_NOMEM);
        if (rv == CONNECTC_OK) connectc_free(&al, d);
        else assert_int_equal(e.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
        connectc_error_reset(&e);
        connectc_compress_ctx_del(ctx);
      }
      assert_int_equal(cnt.live, 0);
    }
    connectc_free(NULL, ref);
  }
  connectc_compress_ctx_del(plain);
}

static void test_context_reuse(void **state) {
  (void)state;
  connectc_compress_ctx *ctx = NULL;
  (void)connectc_compress_ctx_new(NULL, &ctx);
  char msg[256];
  for (int i = 0; i < 100; i++) {
    connectc_compression alg = algs[i % 3];
    if (!connectc_compression_supported(alg)) continue;
    int len = snprintf(msg, sizeof msg, "message %d %d %d", i, i * i, i * i * i);
    uint8_t *c, *d;
    size_t clen, n;
    assert_int_equal(connectc_compress(ctx, alg, (const uint8_t *)msg, (size_t)len, &c, &clen), CONNECTC_OK);
    assert_int_equal(connectc_decompress(ctx, alg, c, clen, 1000, &d, &n, NULL), CONNECTC_OK);
    assert_int_equal(n, (size_t)len);
    assert_memory_equal(d, msg, n);
    connectc_free(NULL, c);
    connectc_free(NULL, d);
  }
  connectc_compress_ctx_set_level(ctx, CONNECTC_COMPRESSION_GZIP, 9);
  connectc_compress_ctx_set_level(ctx, CONNECTC_COMPRESSION_ZSTD, 100);
  uint8_t *c, *d;
  size_t clen, n;
  assert_int_equal(connectc_compress(ctx, CONNECTC_COMPRESSION_GZIP, (const uint8_t *)"abc", 3, &c, &clen),
                   CONNECTC_OK);
  assert_int_equal(connectc_decompress(ctx, CONNECTC_COMPRESSION_GZIP, c, clen, 3, &d, &n, NULL), CONNECTC_OK);
  connectc_free(NULL, c);
  connectc_free(NULL, d);
  connectc_compress_ctx_del(ctx);
}


/* A gzip state grown by a large message shrinks after 16 small ones in a
 * row (allocations show when it is made again), and does not when large
 * messages keep coming between small ones. */
static void test_gzip_state_shrinks(void **state) {
  (void)state;
  const connectc_compression gz = CONNECTC_COMPRESSION_GZIP;
  static uint8_t big[65536];
  uint8_t small[512];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)("abcdefghijklmnop"[(i * 7 + i / 13) % 16]);
  memset(small, 's', sizeof small);
  counter cn = {0, 0, 0, -1};
  connectc_allocator al = {c_malloc, c_realloc, c_free, &cn};
  connectc_compress_ctx *ctx = NULL;
  assert_int_equal(connectc_compress_ctx_new(&al, &ctx), CONNECTC_OK);
  uint8_t *out;
  size_t out_len;
  /* Fresh state for a small message: deflateInit's allocations + the output. */
  size_t before = cn.calls;
  assert_int_equal(connectc_compress(ctx, gz, small, sizeof small, &out, &out_len), CONNECTC_OK);
  size_t init_small = cn.calls - before;
  assert_true(init_small > 1);
  connectc_free(&al, out);
  /* The large message grows the state. */
  assert_int_equal(connectc_compress(ctx, gz, big, sizeof big, &out, &out_len), CONNECTC_OK);
  connectc_free(&al, out);
  for (int i = 0; i < 20; i++) {
    before = cn.calls;
    assert_int_equal(connectc_compress(ctx, gz, small, sizeof small, &out, &out_len), CONNECTC_OK);
    /* The 16th small message in a row makes the small state again; the
     * others reuse what is there (the output buffer alone). */
    assert_int_equal(cn.calls - before, i == 15 ? init_small : 1);
    connectc_free(&al, out);
  }
  /* Alternating: the large state stays; small messages allocate only
   * their output. */
  assert_int_equal(connectc_compress(ctx, gz, big, sizeof big, &out, &out_len), CONNECTC_OK);
  connectc_free(&al, out);
  for (int i = 0; i < 40; i++) {
    int large = i % 8 == 7;
    before = cn.calls;
    assert_int_equal(connectc_compress(ctx, gz, large ? big : small, large ? sizeof big : sizeof small,
                                       &out, &out_len),
                     CONNECTC_OK);
    assert_int_equal(cn.calls - before, 1);
    uint8_t *d;
    size_t n;
    assert_int_equal(connectc_decompress(ctx, gz, out, out_len, sizeof big, &d, &n, NULL), CONNECTC_OK);
    assert_int_equal(n, large ? sizeof big : sizeof small);
    assert_memory_equal(d, large ? big : small, n);
    connectc_free(&al, d);
    connectc_free(&al, out);
  }
  connectc_compress_ctx_del(ctx);
  assert_int_equal(cn.live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_round_trips),
      cmocka_unit_test(test_known_gzip),
      cmocka_unit_test(test_corrupt),
      cmocka_unit_test(test_bombs),
      cmocka_unit_test(test_unsupported_and_empty),
      cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_context_reuse),
      cmocka_unit_test(test_gzip_state_shrinks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
