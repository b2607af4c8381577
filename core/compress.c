/*
 * Compression behind one interface: identity, gzip (zlib, always), br
 * (brotli, when built) and zstd (when built). Every library allocation
 * goes through the context's connectc_allocator, and decompression stops
 * the moment its output passes the caller's limit, whatever the ratio.
 */
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "connectc/compress.h"
#include "compress_internal.h"

#ifdef CONNECTC_HAVE_BROTLI
#include <brotli/decode.h>
#include <brotli/encode.h>
#endif
#ifdef CONNECTC_HAVE_ZSTD
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_create*_advanced: our allocator */
#include <zstd.h>
#include <zstd_errors.h>
#endif

/* zstd frames may ask for windows up to 2^27; we accept up to 2^23 (8 MiB),
 * so that a hostile frame header cannot make us allocate more. */
#define CC_ZSTD_WINDOW_LOG_MAX 23

/* gzip: messages in a row that fit a window 4 times smaller than the
 * deflate state's before the state is made again at their size. */
#define CC_GZIP_SHRINK_RUN 16

/* ---- names and capabilities ---- */

static const char *const names[CONNECTC_COMPRESSION_COUNT] = {"identity", "gzip", "br", "zstd"};

const char *connectc_compression_name(connectc_compression c) {
  return (unsigned)c < CONNECTC_COMPRESSION_COUNT ? names[c] : NULL;
}

int connectc_compression_supported(connectc_compression c) {
  switch (c) {
    case CONNECTC_COMPRESSION_IDENTITY:
    case CONNECTC_COMPRESSION_GZIP: return 1;
#ifdef CONNECTC_HAVE_BROTLI
    case CONNECTC_COMPRESSION_BR: return 1;
#endif
#ifdef CONNECTC_HAVE_ZSTD
    case CONNECTC_COMPRESSION_ZSTD: return 1;
#endif
    default: return 0;
  }
}

int connectc_compression_from_name(const char *name, size_t len, connectc_compression *out) {
  for (unsigned i = 0; i < CONNECTC_COMPRESSION_COUNT; i++) {
    if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0 &&
        connectc_compression_supported((connectc_compression)i)) {
      *out = (connectc_compression)i;
      return 1;
    }
  }
  return 0;
}

size_t connectc_compressions_list(connectc_compression *out, size_t cap) {
  size_t n = 0;
  for (unsigned i = 1; i < CONNECTC_COMPRESSION_COUNT; i++) {
    if (!connectc_compression_supported((connectc_compression)i)) continue;
    if (n < cap) out[n] = (connectc_compression)i;
    n++;
  }
  return n;
}

const char *connectc_compressions_accept_header(void) {
#if defined(CONNECTC_HAVE_BROTLI) && defined(CONNECTC_HAVE_ZSTD)
  return "gzip, br, zstd";
#elif defined(CONNECTC_HAVE_BROTLI)
  return "gzip, br";
#elif defined(CONNECTC_HAVE_ZSTD)
  return "gzip, zstd";
#else
  return "gzip";
#endif
}

/* ---- contexts ---- */

struct connectc_compress_ctx {
  connectc_allocator alloc;
  z_stream def;
  z_stream inf;
  int def_ready;
  int def_wbits; /* window bits the deflate state was made with */
  unsigned def_small_run; /* messages in a row that a much smaller window fits */
  int inf_ready;
  int gzip_level;
  int br_quality;
  int zstd_level;
#ifdef CONNECTC_HAVE_ZSTD
  ZSTD_CCtx *zc;
  ZSTD_DCtx *zd;
#endif
  /* A request body's buffer given back by the last call that borrowed the
   * context (cc_compress_ctx_give_buf), allocated with `alloc`. */
  cc_buf spare;
  unsigned spare_small_run; /* bodies in a row that used under a quarter of it */
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  const connectc_allocator *a = opaque;
  size_t n = (size_t)items * size; /* uInt * uInt cannot overflow size_t on LP64 */
  return a->malloc(n ? n : 1, a->user_data);
}
static void z_free(voidpf opaque, voidpf p) {
  const connectc_allocator *a = opaque;
  if (p) a->free(p, a->user_data);
}

#if defined(CONNECTC_HAVE_BROTLI) || defined(CONNECTC_HAVE_ZSTD)
static void *lib_alloc(void *opaque, size_t size) {
  const connectc_allocator *a = opaque;
  return a->malloc(size ? size : 1, a->user_data);
}
static void lib_free(void *opaque, void *p) {
  const connectc_allocator *a = opaque;
  if (p) a->free(p, a->user_data);
}
#endif

int connectc_compress_ctx_new(const connectc_allocator *alloc, connectc_compress_ctx **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  connectc_compress_ctx *c = cc_malloc(a, sizeof *c);
  if (!c) return CONNECTC_ERR_NOMEM;
  memset(c, 0, sizeof *c);
  c->alloc = *a;
  c->gzip_level = Z_DEFAULT_COMPRESSION;
  c->br_quality = 1;
  c->zstd_level = 3;
  *out = c;
  return CONNECTC_OK;
}

void connectc_compress_ctx_del(connectc_compress_ctx *c) {
  if (!c) return;
  if (c->def_ready) deflateEnd(&c->def);
  if (c->inf_ready) inflateEnd(&c->inf);
#ifdef CONNECTC_HAVE_ZSTD
  ZSTD_freeCCtx(c->zc);
  ZSTD_freeDCtx(c->zd);
#endif
  connectc_allocator a = c->alloc;
  cc_buf_free(&c->spare, &a);
  cc_free(&a, c);
}

static int same_allocator(const connectc_allocator *a, const connectc_allocator *b) {
  return a->malloc == b->malloc && a->realloc == b->realloc && a->free == b->free &&
         a->user_data == b->user_data;
}

void cc_compress_ctx_take_buf(connectc_compress_ctx *c, const connectc_allocator *a, cc_buf *b) {
  if (!c || b->data || !c->spare.data || !same_allocator(a, &c->alloc)) return;
  *b = c->spare;
  b->len = 0;
  c->spare = (cc_buf)CC_BUF_INIT;
}

void cc_compress_ctx_give_buf(connectc_compress_ctx *c, const connectc_allocator *a, cc_buf *b) {
  if (!b->data) return;
  if (!c || !same_allocator(a, &c->alloc)) {
    cc_buf_free(b, a);
    return;
  }
  /* A buffer that many bodies in a row leave mostly empty goes back to
   * the allocator: a connection that once received a large message does
   * not keep its memory for small ones. Up to CC_SPARE_ALWAYS_KEPT bytes
   * are always kept. */
  if (b->cap > CC_SPARE_ALWAYS_KEPT && b->len < b->cap / 4) {
    if (++c->spare_small_run >= CC_SPARE_SMALL_RUN) {
      c->spare_small_run = 0;
      cc_buf_free(b, a);
      return;
    }
  } else {
    c->spare_small_run = 0;
  }
  /* Two calls interleaved on one context: the larger buffer stays. */
  if (c->spare.cap > b->cap) {
    cc_buf_free(b, a);
    return;
  }
  cc_buf_free(&c->spare, a);
  c->spare = *b;
  c->spare.len = 0;
  *b = (cc_buf)CC_BUF_INIT;
}

void connectc_compress_ctx_set_level(connectc_compress_ctx *c, connectc_compression alg,
                                     int level) {
  switch (alg) {
    case CONNECTC_COMPRESSION_GZIP:
      c->gzip_level = level < 0 ? Z_DEFAULT_COMPRESSION : level > 9 ? 9 : level;
      if (c->def_ready) {
        deflateEnd(&c->def);
        c->def_ready = 0;
      }
      break;
    case CONNECTC_COMPRESSION_BR: c->br_quality = level < 0 ? 0 : level > 11 ? 11 : level; break;
    case CONNECTC_COMPRESSION_ZSTD: c->zstd_level = level < 1 ? 1 : level > 19 ? 19 : level; break;
    default: break;
  }
}

/* ---- compression ---- */

static int gzip_compress(connectc_compress_ctx *c, const connectc_allocator *oa, const uint8_t *in,
                         size_t len, uint8_t **out, size_t *out_len) {
  if (len > UINT32_MAX / 2) return CONNECTC_ERR_LIMIT;
  /* A window as large as the message loses nothing, and a small message
   * does not need zlib's full 256 KiB of state, which deflateInit2
   * allocates and deflateReset clears (the hash table) per message.
   * The state only grows: a context that compressed a large message
   * keeps its large window. */
  int wbits = 9;
  while (wbits < 15 && ((size_t)1 << wbits) < len) wbits++;
  /* A context lent to many calls may see one large message among many
   * small ones: with the large state each small message pays for
   * clearing its hash table (bench: 1 KiB gzip ~15% slower than with a
   * fresh state). After a run of messages that a window 4 times smaller
   * fits, the state is made again at their size; one large message now
   * and then keeps it large. */
  if (c->def_ready && wbits + 2 <= c->def_wbits) {
    if (++c->def_small_run >= CC_GZIP_SHRINK_RUN) {
      deflateEnd(&c->def);
      c->def_ready = 0;
    }
  } else {
    c->def_small_run = 0;
  }
  if (c->def_ready && wbits > c->def_wbits) {
    deflateEnd(&c->def);
    c->def_ready = 0;
  }
  if (!c->def_ready) {
    memset(&c->def, 0, sizeof c->def);
    c->def.zalloc = z_alloc;
    c->def.zfree = z_free;
    c->def.opaque = &c->alloc;
    int mem_level = wbits - 7 < 1 ? 1 : wbits - 7 > 8 ? 8 : wbits - 7;
    if (deflateInit2(&c->def, c->gzip_level, Z_DEFLATED, wbits + 16, mem_level,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      return CONNECTC_ERR_NOMEM;
    c->def_ready = 1;
    c->def_wbits = wbits;
    c->def_small_run = 0;
  } else if (deflateReset(&c->def) != Z_OK) {
    return CONNECTC_ERR_NOMEM;
  }
  size_t bound = deflateBound(&c->def, (uLong)len);
  uint8_t *buf = cc_malloc(oa, bound);
  if (!buf) return CONNECTC_ERR_NOMEM;
  c->def.next_in = (Bytef *)(uintptr_t)in;
  c->def.avail_in = (uInt)len;
  c->def.next_out = buf;
  c->def.avail_out = (uInt)bound;
  if (deflate(&c->def, Z_FINISH) != Z_STREAM_END) {
    cc_free(oa, buf);
    return CONNECTC_ERR_NOMEM;
  }
  *out = buf;
  *out_len = bound - c->def.avail_out;
  return CONNECTC_OK;
}

#ifdef CONNECTC_HAVE_BROTLI
static int br_compress(connectc_compress_ctx *c, const connectc_allocator *oa, const uint8_t *in,
                       size_t len, uint8_t **out, size_t *out_len) {
  size_t bound = BrotliEncoderMaxCompressedSize(len);
  if (bound == 0) bound = len + 1024;
  BrotliEncoderState *s = BrotliEncoderCreateInstance(lib_alloc, lib_free, &c->alloc);
  if (!s) return CONNECTC_ERR_NOMEM;
  BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, (uint32_t)c->br_quality);
  uint8_t *buf = cc_malloc(oa, bound);
  if (!buf) {
    BrotliEncoderDestroyInstance(s);
    return CONNECTC_ERR_NOMEM;
  }
  size_t avail_in = len, avail_out = bound;
  const uint8_t *next_in = in;
  uint8_t *next_out = buf;
  int ok = BrotliEncoderCompressStream(s, BROTLI_OPERATION_FINISH, &avail_in, &next_in,
                                       &avail_out, &next_out, NULL) &&
           BrotliEncoderIsFinished(s);
  BrotliEncoderDestroyInstance(s);
  if (!ok) {
    cc_free(oa, buf);
    return CONNECTC_ERR_NOMEM;
  }
  *out = buf;
  *out_len = bound - avail_out;
  return CONNECTC_OK;
}
#endif

#ifdef CONNECTC_HAVE_ZSTD
static int zstd_compress(connectc_compress_ctx *c, const connectc_allocator *oa, const uint8_t *in,
                         size_t len, uint8_t **out, size_t *out_len) {
  if (!c->zc) {
    ZSTD_customMem mem = {lib_alloc, lib_free, &c->alloc};
    c->zc = ZSTD_createCCtx_advanced(mem);
    if (!c->zc) return CONNECTC_ERR_NOMEM;
  }
  size_t bound = ZSTD_compressBound(len);
  uint8_t *buf = cc_malloc(oa, bound);
  if (!buf) return CONNECTC_ERR_NOMEM;
  size_t n = ZSTD_compressCCtx(c->zc, buf, bound, in, len, c->zstd_level);
  if (ZSTD_isError(n)) {
    cc_free(oa, buf);
    return CONNECTC_ERR_NOMEM;
  }
  *out = buf;
  *out_len = n;
  return CONNECTC_OK;
}
#endif

int cc_compress_to(connectc_compress_ctx *c, const connectc_allocator *oa,
                   connectc_compression alg, const uint8_t *in, size_t in_len, uint8_t **out,
                   size_t *out_len) {
  if (!c || !out || !out_len || (!in && in_len)) return CONNECTC_ERR_ARGUMENT;
  if (!oa) oa = &c->alloc;
  if (!in) in = (const uint8_t *)"";
  switch (alg) {
    case CONNECTC_COMPRESSION_IDENTITY: {
      uint8_t *buf = cc_malloc(oa, in_len);
      if (!buf) return CONNECTC_ERR_NOMEM;
      if (in_len) memcpy(buf, in, in_len);
      *out = buf;
      *out_len = in_len;
      return CONNECTC_OK;
    }
    case CONNECTC_COMPRESSION_GZIP: return gzip_compress(c, oa, in, in_len, out, out_len);
#ifdef CONNECTC_HAVE_BROTLI
    case CONNECTC_COMPRESSION_BR: return br_compress(c, oa, in, in_len, out, out_len);
#endif
#ifdef CONNECTC_HAVE_ZSTD
    case CONNECTC_COMPRESSION_ZSTD: return zstd_compress(c, oa, in, in_len, out, out_len);
#endif
    default: return CONNECTC_ERR_UNSUPPORTED;
  }
}

int connectc_compress(connectc_compress_ctx *c, connectc_compression alg, const uint8_t *in,
                      size_t in_len, uint8_t **out, size_t *out_len) {
  return cc_compress_to(c, NULL, alg, in, in_len, out, out_len);
}

/* ---- bounded decompression ---- */

/* Output buffer that never grows past max + 1 bytes. */
typedef struct outbuf {
  uint8_t *data;
  size_t len, cap, max;
  const connectc_allocator *a;
} outbuf;

/* Makes free space available; returns 0 on OOM. Callers check the limit
 * (len > max) after each step. */
static int out_room(outbuf *o) {
  if (o->len < o->cap) return 1;
  size_t limit = o->max == SIZE_MAX ? SIZE_MAX : o->max + 1;
  /* Double, but jump straight to the limit when the next doubling would
   * come close to it, so that the last move is never limit -> limit + 1. */
  size_t ncap = o->cap ? (o->cap > limit / 3 ? limit : o->cap * 2) : (limit < 4096 ? limit : 4096);
  if (ncap <= o->cap) return 0;
  uint8_t *p = cc_realloc(o->a, o->data, ncap);
  if (!p) return 0;
  o->data = p;
  o->cap = ncap;
  return 1;
}

static int fail_limit(outbuf *o, connectc_error *err) {
  if (err)
    connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                       "the message decompresses to more than the limit of %zu bytes", o->max);
  return CONNECTC_ERR_LIMIT;
}

static int fail_data(const char *alg, const char *problem, connectc_error *err) {
  if (err) connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT, "decompress: %s: %s", alg, problem);
  return CONNECTC_ERR_PROTOCOL;
}

static int fail_nomem(connectc_error *err) {
  if (err)
    connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory while decompressing");
  return CONNECTC_ERR_NOMEM;
}

static int gzip_decompress(connectc_compress_ctx *c, const uint8_t *in, size_t len, outbuf *o,
                           connectc_error *err) {
  if (!c->inf_ready) {
    memset(&c->inf, 0, sizeof c->inf);
    c->inf.zalloc = z_alloc;
    c->inf.zfree = z_free;
    c->inf.opaque = &c->alloc;
    if (inflateInit2(&c->inf, 15 + 16) != Z_OK) return fail_nomem(err);
    c->inf_ready = 1;
  } else if (inflateReset(&c->inf) != Z_OK) {
    return fail_nomem(err);
  }
  z_stream *z = &c->inf;
  size_t left = len;
  const uint8_t *p = in;
  for (;;) {
    if (!out_room(o)) return fail_nomem(err);
    uInt in_chunk = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
    size_t room = o->cap - o->len;
    uInt out_chunk = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = in_chunk;
    z->next_out = o->data + o->len;
    z->avail_out = out_chunk;
    int rc = inflate(z, Z_NO_FLUSH);
    p += in_chunk - z->avail_in;
    left -= in_chunk - z->avail_in;
    o->len += out_chunk - z->avail_out;
    if (o->len > o->max) return fail_limit(o, err);
    if (rc == Z_STREAM_END) {
      if (left == 0) return CONNECTC_OK;
      /* Another gzip member follows (multistream, as Go's reader). */
      if (inflateReset(z) != Z_OK) return fail_nomem(err);
      continue;
    }
    if (rc == Z_MEM_ERROR) return fail_nomem(err);
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR)
      return fail_data("gzip", z->msg ? z->msg : "invalid data", err);
    if (rc == Z_BUF_ERROR && left == 0 && z->avail_out != 0)
      return fail_data("gzip", "unexpected end of data", err);
    if (left == 0 && z->avail_out != 0) return fail_data("gzip", "unexpected end of data", err);
  }
}

#ifdef CONNECTC_HAVE_BROTLI
static int br_decompress(connectc_compress_ctx *c, const uint8_t *in, size_t len, outbuf *o,
                         connectc_error *err) {
  BrotliDecoderState *s = BrotliDecoderCreateInstance(lib_alloc, lib_free, &c->alloc);
  if (!s) return fail_nomem(err);
  size_t avail_in = len;
  const uint8_t *next_in = in;
  int rv = CONNECTC_OK;
  for (;;) {
    if (!out_room(o)) {
      rv = fail_nomem(err);
      break;
    }
    size_t avail_out = o->cap - o->len;
    uint8_t *next_out = o->data + o->len;
    BrotliDecoderResult r =
        BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, NULL);
    o->len = (size_t)(next_out - o->data);
    if (o->len > o->max) {
      rv = fail_limit(o, err);
      break;
    }
    if (r == BROTLI_DECODER_RESULT_SUCCESS) {
      if (avail_in) rv = fail_data("br", "trailing data after the end of the stream", err);
      break;
    }
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
      rv = fail_data("br", "unexpected end of data", err);
      break;
    }
    if (r == BROTLI_DECODER_RESULT_ERROR) {
      BrotliDecoderErrorCode code = BrotliDecoderGetErrorCode(s);
      rv = code == BROTLI_DECODER_ERROR_ALLOC_RING_BUFFER_1 ||
                   code == BROTLI_DECODER_ERROR_ALLOC_RING_BUFFER_2 ||
                   code == BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES ||
                   code == BROTLI_DECODER_ERROR_ALLOC_TREE_GROUPS ||
                   code == BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MAP ||
                   code == BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES
               ? fail_nomem(err)
               : fail_data("br", BrotliDecoderErrorString(code), err);
      break;
    }
    /* NEEDS_MORE_OUTPUT: loop to grow. */
  }
  BrotliDecoderDestroyInstance(s);
  return rv;
}
#endif

#ifdef CONNECTC_HAVE_ZSTD
static int zstd_decompress(connectc_compress_ctx *c, const uint8_t *in, size_t len, outbuf *o,
                           connectc_error *err) {
  if (!c->zd) {
    ZSTD_customMem mem = {lib_alloc, lib_free, &c->alloc};
    c->zd = ZSTD_createDCtx_advanced(mem);
    if (!c->zd) return fail_nomem(err);
    ZSTD_DCtx_setParameter(c->zd, ZSTD_d_windowLogMax, CC_ZSTD_WINDOW_LOG_MAX);
  } else {
    ZSTD_DCtx_reset(c->zd, ZSTD_reset_session_only);
  }
  ZSTD_inBuffer ib = {in, len, 0};
  size_t last = 1;
  while (ib.pos < ib.size || last != 0) {
    if (!out_room(o)) return fail_nomem(err);
    ZSTD_outBuffer ob = {o->data, o->cap, o->len};
    size_t before_in = ib.pos, before_out = o->len;
    last = ZSTD_decompressStream(c->zd, &ob, &ib);
    o->len = ob.pos;
    if (ZSTD_isError(last)) {
      if (ZSTD_getErrorCode(last) == ZSTD_error_memory_allocation) return fail_nomem(err);
      return fail_data("zstd", ZSTD_getErrorName(last), err);
    }
    if (o->len > o->max) return fail_limit(o, err);
    /* No progress with all input consumed: the frame is truncated. */
    if (ib.pos == ib.size && last != 0 && o->len < o->cap && before_in == ib.pos &&
        before_out == o->len)
      return fail_data("zstd", "unexpected end of data", err);
    if (ib.pos == ib.size && last != 0 && o->len < o->cap)
      return fail_data("zstd", "unexpected end of data", err);
  }
  return CONNECTC_OK;
}
#endif

int cc_decompress_to(connectc_compress_ctx *c, const connectc_allocator *oa,
                     connectc_compression alg, const uint8_t *in, size_t in_len, size_t max_out,
                     uint8_t **out, size_t *out_len, connectc_error *err) {
  if (!c || !out || !out_len || (!in && in_len)) return CONNECTC_ERR_ARGUMENT;
  if (!oa) oa = &c->alloc;
  if (!connectc_compression_supported(alg)) {
    if (err)
      connectc_error_set(err, CONNECTC_CODE_UNIMPLEMENTED, "compression %s is not supported",
                         connectc_compression_name(alg) ? connectc_compression_name(alg) : "?");
    return CONNECTC_ERR_UNSUPPORTED;
  }
  outbuf o = {NULL, 0, 0, max_out, oa};
  int rv = CONNECTC_OK;
  /* When the input says how large the output is (gzip's ISIZE trailer,
   * zstd's frame content size), start with that much room, +1 so that the
   * end of the stream is seen without another step: one allocation
   * instead of a doubling series. Only a hint: it may lie, and growth and
   * the limit work as without it. */
  size_t hint = 0;
  if (alg == CONNECTC_COMPRESSION_GZIP && in_len >= 18) {
    const uint8_t *t = in + in_len - 4;
    hint = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
  }
#ifdef CONNECTC_HAVE_ZSTD
  if (alg == CONNECTC_COMPRESSION_ZSTD && in_len > 0) {
    unsigned long long n = ZSTD_getFrameContentSize(in, in_len);
    if (n != ZSTD_CONTENTSIZE_UNKNOWN && n != ZSTD_CONTENTSIZE_ERROR && n < SIZE_MAX)
      hint = (size_t)n;
  }
#endif
  if (hint > 0 && hint < max_out && hint < in_len * 1032 + 64) {
    /* (deflate and zstd expand at most ~1032:1, so a larger claim is a lie) */
    o.data = cc_malloc(oa, hint + 1);
    if (o.data) o.cap = hint + 1;
  }
  if (in_len == 0) {
    /* An empty payload is an empty message for every algorithm. */
  } else if (alg == CONNECTC_COMPRESSION_IDENTITY) {
    if (in_len > max_out) {
      rv = fail_limit(&o, err);
    } else {
      o.data = cc_malloc(oa, in_len);
      if (!o.data) rv = fail_nomem(err);
      else {
        memcpy(o.data, in, in_len);
        o.len = in_len;
      }
    }
  } else if (alg == CONNECTC_COMPRESSION_GZIP) {
    rv = gzip_decompress(c, in, in_len, &o, err);
#ifdef CONNECTC_HAVE_BROTLI
  } else if (alg == CONNECTC_COMPRESSION_BR) {
    rv = br_decompress(c, in, in_len, &o, err);
#endif
#ifdef CONNECTC_HAVE_ZSTD
  } else if (alg == CONNECTC_COMPRESSION_ZSTD) {
    rv = zstd_decompress(c, in, in_len, &o, err);
#endif
  }
  if (rv == CONNECTC_OK && !o.data) {
    o.data = cc_malloc(oa, 1); /* never NULL on success */
    if (!o.data) rv = fail_nomem(err);
  }
  if (rv) {
    cc_free(oa, o.data);
    return rv;
  }
  *out = o.data;
  *out_len = o.len;
  return CONNECTC_OK;
}

int connectc_decompress(connectc_compress_ctx *c, connectc_compression alg, const uint8_t *in,
                        size_t in_len, size_t max_out, uint8_t **out, size_t *out_len,
                        connectc_error *err) {
  return cc_decompress_to(c, NULL, alg, in, in_len, max_out, out, out_len, err);
}
