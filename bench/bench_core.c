/*
 * bench_core: throughput of the core's per-message work, beside memcpy of
 * the same bytes (the physical limit), and heap allocations per message
 * counted through a connectc_allocator. For messages of about 1 KiB and
 * 64 KiB (the binary protobuf encoding of the same test message):
 *
 *   envelope encode      cc_frame_message into the call's output queue
 *                        (5-byte prefix + payload copy), then consumed, as
 *                        a server or client call does per message
 *   envelope decode      the call's envelope reader on one whole chunk
 *   envelope decode 4K   the same bytes fed in 4 KiB chunks (the decoder
 *                        collects the payload in its own buffer)
 *   proto / json         codec marshal and unmarshal (MB/s of each codec's
 *                        own encoding; the 1 KiB/64 KiB size is the proto one)
 *   gzip / br / zstd     connectc_compress / connectc_decompress with a
 *                        reused context (MB/s of uncompressed bytes), and
 *                        with a new context per message, as a server call
 *                        has (one per call)
 *
 *   bench_core [seconds per row] [markdown output file]   (default 0.3 s)
 *
 * 1 MB = 10^6 bytes. "x memcpy" is memcpy's MB/s over the row's: 1.0 is
 * memcpy speed, 2.0 half of it, below 1 faster (zero-copy). Allocations
 * per message are counted over the timed loop, after warm-up. Figures
 * compare only within one run.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_internal.h"
#include "connectc/compress.h"
#include "connectc/json_codec.h"
#include "json_test.connect.h"
#include "json_test.pb-c.h"
#include "counting.h"

/* ---- a counting allocator and a clock (counting.h) ---- */

/* A message with strings, numbers, a map and nested nodes, `scale` times
 * (the same shape as bench_codec's). */
static char *make_json(int scale) {
  size_t cap = (size_t)scale * 512 + 256, len = 0;
  char *j = malloc(cap);
  if (!j) exit(1);
  len += (size_t)snprintf(j + len, cap - len,
                          "{\"scalars\":{\"i64\":\"-1234567890123\",\"str\":\"hello world\",\"db\":3.25},"
                          "\"numbers\":[");
  for (int i = 0; i < scale * 8; i++) len += (size_t)snprintf(j + len, cap - len, "%s%d", i ? "," : "", i * 37);
  len += (size_t)snprintf(j + len, cap - len, "],\"words\":[");
  for (int i = 0; i < scale * 4; i++)
    len += (size_t)snprintf(j + len, cap - len, "%s\"word number %d\"", i ? "," : "", i);
  len += (size_t)snprintf(j + len, cap - len, "],\"counts\":{");
  for (int i = 0; i < scale * 2; i++)
    len += (size_t)snprintf(j + len, cap - len, "%s\"key%d\":%d", i ? "," : "", i, i);
  len += (size_t)snprintf(j + len, cap - len,
                          "},\"tree\":{\"name\":\"root\",\"children\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}");
  return j;
}

/* ---- the operations, each one message per call ---- */

typedef struct ctx {
  const uint8_t *msg; /* the proto bytes */
  size_t len;
  uint8_t *dst;       /* memcpy target */
  cc_outq q;
  cc_msg_reader reader;
  const uint8_t *framed; /* msg in one envelope */
  size_t framed_len;
  const connectc_codec *codec;
  const ProtobufCMessage *m;
  const ProtobufCMessageDescriptor *desc;
  const uint8_t *enc; /* m in this codec */
  size_t enc_len;
  connectc_compress_ctx *cctx;
  connectc_compression comp;
  const uint8_t *comp_bytes; /* msg compressed with comp */
  size_t comp_len;
} ctx;

static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;
static volatile uint8_t sink;

static void die(const char *what) {
  fprintf(stderr, "bench_core: %s failed\n", what);
  exit(1);
}

static size_t op_memcpy(ctx *c) {
  copy_fn(c->dst, c->msg, c->len);
  sink = c->dst[c->len - 1];
  return c->len;
}

static size_t op_frame(ctx *c) {
  if (cc_frame_message(&c->q, NULL, &counting, CONNECTC_COMPRESSION_IDENTITY, 0, 0, c->msg,
                       c->len) != CONNECTC_OK)
    die("cc_frame_message");
  const uint8_t *d;
  size_t n;
  cc_outq_peek(&c->q, &d, &n);
  sink = d[n - 1];
  cc_outq_consume(&c->q, n);
  return c->len;
}

static int on_msg(void *ud, uint8_t flags, const uint8_t *data, size_t len) {
  (void)flags;
  *(size_t *)ud += len;
  sink = data[len - 1];
  return 0;
}

static size_t op_unframe(ctx *c) {
  size_t got = 0;
  if (cc_msg_reader_feed(&c->reader, NULL, c->framed, c->framed_len, on_msg, &got, NULL) != 0 ||
      got != c->len)
    die("cc_msg_reader_feed");
  return c->len;
}

static size_t op_unframe_chunked(ctx *c) {
  size_t got = 0;
  for (size_t off = 0; off < c->framed_len; off += 4096) {
    size_t n = c->framed_len - off < 4096 ? c->framed_len - off : 4096;
    if (cc_msg_reader_feed(&c->reader, NULL, c->framed + off, n, on_msg, &got, NULL) != 0)
      die("cc_msg_reader_feed");
  }
  if (got != c->len) die("chunked decode");
  return c->len;
}

static size_t op_marshal(ctx *c) {
  uint8_t *out;
  size_t len;
  if (c->codec->marshal(c->codec, c->m, &counting, &out, &len, NULL) != CONNECTC_OK) die("marshal");
  connectc_free(&counting, out);
  return len;
}

static size_t op_unmarshal(ctx *c) {
  ProtobufCMessage *m;
  if (c->codec->unmarshal(c->codec, c->desc, c->enc, c->enc_len, NULL, &counting, &m, NULL) !=
      CONNECTC_OK)
    die("unmarshal");
  connectc_message_free(m, &counting);
  return c->enc_len;
}

static size_t op_compress(ctx *c) {
  uint8_t *out;
  size_t len;
  if (connectc_compress(c->cctx, c->comp, c->msg, c->len, &out, &len) != CONNECTC_OK) die("compress");
  connectc_free(&counting, out);
  return c->len;
}

/* As a server call does: a context per call, for one message. */
static size_t op_compress_fresh(ctx *c) {
  connectc_compress_ctx *fresh = NULL;
  (void)connectc_compress_ctx_new(&counting, &fresh);
  if (!fresh) die("connectc_compress_ctx_new");
  uint8_t *out;
  size_t len;
  if (connectc_compress(fresh, c->comp, c->msg, c->len, &out, &len) != CONNECTC_OK) die("compress");
  connectc_free(&counting, out);
  connectc_compress_ctx_del(fresh);
  return c->len;
}

static size_t op_decompress_fresh(ctx *c) {
  connectc_compress_ctx *fresh = NULL;
  (void)connectc_compress_ctx_new(&counting, &fresh);
  if (!fresh) die("connectc_compress_ctx_new");
  uint8_t *out;
  size_t len;
  if (connectc_decompress(fresh, c->comp, c->comp_bytes, c->comp_len, c->len + 1, &out, &len,
                          NULL) != CONNECTC_OK ||
      len != c->len)
    die("decompress");
  connectc_free(&counting, out);
  connectc_compress_ctx_del(fresh);
  return c->len;
}

static size_t op_decompress(ctx *c) {
  uint8_t *out;
  size_t len;
  if (connectc_decompress(c->cctx, c->comp, c->comp_bytes, c->comp_len, c->len + 1, &out, &len,
                          NULL) != CONNECTC_OK ||
      len != c->len)
    die("decompress");
  connectc_free(&counting, out);
  return c->len;
}

typedef struct result {
  double mbps, msgs, allocs;
} result;

static result measure(size_t (*op)(ctx *), ctx *c, double secs) {
  for (int i = 0; i < 8; i++) op(c); /* warm-up: buffers and contexts reach their size */
  size_t bytes = 0, n = 0;
  n_allocs = 0;
  double t0 = now_s(), t;
  do {
    for (int k = 0; k < 8; k++) {
      bytes += op(c);
      n++;
    }
    t = now_s() - t0;
  } while (t < secs);
  result r = {(double)bytes / t / 1e6, (double)n / t, (double)n_allocs / (double)n};
  return r;
}

static FILE *md;
static void out(const char *fmt, ...) CONNECTC_PRINTF(1, 2);
static void out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  if (md) {
    va_start(ap, fmt);
    vfprintf(md, fmt, ap);
    va_end(ap);
  }
}

static double memcpy_mbps;
static void row(const char *size, const char *what, size_t bytes, result r) {
  out("| %s | %s | %zu | %.0f | %.0f | %.2f | %.2f |\n", size, what, bytes, r.mbps, r.msgs,
      memcpy_mbps / r.mbps, r.allocs);
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 0.3;
  if (argc > 2 && !(md = fopen(argv[2], "w"))) die("opening the output file");
  connectc_type_registry *reg = NULL;
  (void)connectc_type_registry_new(NULL, &reg);
  json_test__register_types(reg);
  connectc_codec *json = NULL;
  (void)connectc_codec_json_new(reg, NULL, &json);
  const connectc_codec *proto = connectc_codec_proto();
  const ProtobufCMessageDescriptor *d = &connectc__jsontest__v1__everything__descriptor;
  out("| size | operation | bytes | MB/s | msg/s | x memcpy | allocs/msg |\n");
  out("|---|---|---:|---:|---:|---:|---:|\n");
  const int scales[] = {9, 570};
  const char *names[] = {"1 KiB", "64 KiB"};
  for (int s = 0; s < 2; s++) {
    char *text = make_json(scales[s]);
    ProtobufCMessage *m;
    if (json->unmarshal(json, d, (const uint8_t *)text, strlen(text), NULL, NULL, &m, NULL) != CONNECTC_OK)
      die("building the message");
    ctx c;
    memset(&c, 0, sizeof c);
    uint8_t *msg;
    if (proto->marshal(proto, m, NULL, &msg, &c.len, NULL) != CONNECTC_OK) die("marshal");
    c.msg = msg;
    c.dst = malloc(c.len);
    uint8_t *framed = malloc(c.len + 5);
    if (!c.dst || !framed) die("malloc");
    connectc_envelope_write_header(framed, 0, (uint32_t)c.len);
    memcpy(framed + 5, msg, c.len);
    c.framed = framed;
    c.framed_len = c.len + 5;
    cc_msg_reader_init(&c.reader, c.len, 0, &counting);
    c.m = m;
    c.desc = d;

    result r = measure(op_memcpy, &c, secs);
    memcpy_mbps = r.mbps;
    row(names[s], "memcpy", c.len, r);
    row(names[s], "envelope encode", c.len, measure(op_frame, &c, secs));
    row(names[s], "envelope decode", c.len, measure(op_unframe, &c, secs));
    row(names[s], "envelope decode, 4 KiB chunks", c.len, measure(op_unframe_chunked, &c, secs));

    const connectc_codec *codecs[] = {proto, json};
    for (int k = 0; k < 2; k++) {
      uint8_t *enc;
      c.codec = codecs[k];
      if (c.codec->marshal(c.codec, m, NULL, &enc, &c.enc_len, NULL) != CONNECTC_OK) die("marshal");
      c.enc = enc;
      char what[64];
      snprintf(what, sizeof what, "%s encode", c.codec->name);
      row(names[s], what, c.enc_len, measure(op_marshal, &c, secs));
      snprintf(what, sizeof what, "%s decode", c.codec->name);
      row(names[s], what, c.enc_len, measure(op_unmarshal, &c, secs));
      connectc_free(NULL, enc);
    }

    (void)connectc_compress_ctx_new(&counting, &c.cctx);
    if (!c.cctx) die("connectc_compress_ctx_new");
    const connectc_compression comps[] = {CONNECTC_COMPRESSION_GZIP, CONNECTC_COMPRESSION_BR,
                                          CONNECTC_COMPRESSION_ZSTD};
    for (int k = 0; k < 3; k++) {
      c.comp = comps[k];
      if (!connectc_compression_supported(c.comp)) continue;
      uint8_t *cb;
      if (connectc_compress(c.cctx, c.comp, c.msg, c.len, &cb, &c.comp_len) != CONNECTC_OK)
        die("compress");
      c.comp_bytes = cb;
      char what[64];
      snprintf(what, sizeof what, "%s compress (to %.0f%%)", connectc_compression_name(c.comp),
               100.0 * (double)c.comp_len / (double)c.len);
      row(names[s], what, c.len, measure(op_compress, &c, secs));
      snprintf(what, sizeof what, "%s decompress", connectc_compression_name(c.comp));
      row(names[s], what, c.len, measure(op_decompress, &c, secs));
      snprintf(what, sizeof what, "%s compress, new context", connectc_compression_name(c.comp));
      row(names[s], what, c.len, measure(op_compress_fresh, &c, secs));
      snprintf(what, sizeof what, "%s decompress, new context", connectc_compression_name(c.comp));
      row(names[s], what, c.len, measure(op_decompress_fresh, &c, secs));
      connectc_free(&counting, cb);
    }
    connectc_compress_ctx_del(c.cctx);
    cc_msg_reader_free(&c.reader);
    cc_outq_free(&c.q, &counting);
    free(framed);
    free(c.dst);
    connectc_free(NULL, msg);
    connectc_message_free(m, NULL);
    free(text);
  }
  connectc_codec_json_del(json);
  connectc_type_registry_del(reg);
  if (md) fclose(md);
  return 0;
}
