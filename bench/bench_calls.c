/*
 * bench_calls: what one typed unary call costs inside the library, with no
 * network: heap allocations (counted through a counting
 * connectc_allocator) and time, for the server side (router, server call,
 * typed handler, proto decode and encode) and the client side (the
 * generated client function, client call, a transport that answers from
 * memory).
 *
 *   bench_calls [calls]        (default 200000)
 *   bench_calls --trace        one call of each side, printing a backtrace
 *                              for every allocation (resolve the
 *                              offsets with addr2line -f -e <library>)
 *
 * Prints a Markdown table. The allocation counts are exact and do not
 * depend on the machine; the times do, so compare builds in one run.
 *
 * The compressed rows make the same call with a 1 KiB request and a 1 KiB
 * response (the handler echoes long sentences), both compressed (gzip,
 * zstd), once with a compression context made by each call ("fresh") and
 * once with one context lent to every call ("lent", as the adapters do
 * per connection or per loop thread).
 */
#define _POSIX_C_SOURCE 200809L

#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectc/client.h"
#include "connectc/service.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"

#include "counting.h"

/* bench_calls --trace: a backtrace for every allocation. */
static void trace(const char *what, size_t size) {
  void *frames[8];
  int n = backtrace(frames, 8);
  fprintf(stderr, "%s %zu:\n", what, size);
  backtrace_symbols_fd(frames + 1, n - 1, 2);
}

static void die(const char *what) {
  fprintf(stderr, "bench_calls: %s\n", what);
  exit(1);
}

/* ---- the server side ---- */

static int say(void *impl, connectc_server_call *call, const Connectrpc__Eliza__V1__SayRequest *req,
               connectc_response_writer *responses, connectc_error *error) {
  (void)impl;
  (void)call;
  (void)error;
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  resp.sentence = req->sentence[0] == 'h' ? (char *)"Hello. How are you feeling today?" : (char *)"Go on.";
  if (strlen(req->sentence) >= 100) resp.sentence = req->sentence; /* the compressed rows */
  return connectrpc_eliza_v1_eliza_service_say__send(responses, &resp);
}

/* The compressed rows' sentence: serialized, a message of exactly 1 KiB
 * (tag, 2-byte length, 1021 bytes), of words that compress as text does. */
#define LONG_SENTENCE 1021
static char long_sentence[LONG_SENTENCE + 1];
static void make_long_sentence(void) {
  static const char *const words[] = {"I ",     "feel ",  "that ",   "you ",    "never ",
                                      "listen ", "to ",    "what ",   "my ",     "mother ",
                                      "says ",   "about ", "dreams ", "today. ", "Why? "};
  size_t n = 0;
  unsigned x = 1;
  while (n < LONG_SENTENCE) {
    x = x * 1103515245u + 12345u;
    const char *w = words[(x >> 16) % 15];
    for (size_t i = 0; w[i] && n < LONG_SENTENCE; i++) long_sentence[n++] = w[i];
  }
  long_sentence[0] = 'I'; /* not 'h': the handler echoes it */
}

/* A request head as an adapter hands it over (the adapter's own list,
 * built once here: what the adapter spends is the adapter's). */
static void request_headers(connectc_headers *h, connectc_compression comp, size_t body_len) {
  char clen[24];
  snprintf(clen, sizeof clen, "%zu", body_len);
  connectc_headers_init(h, NULL);
  connectc_headers_adds(h, "host", "127.0.0.1:8080");
  connectc_headers_adds(h, "user-agent", "h2load nghttp2/1.52.0");
  connectc_headers_adds(h, "content-type", "application/proto");
  connectc_headers_adds(h, "connect-protocol-version", "1");
  if (comp != CONNECTC_COMPRESSION_IDENTITY) {
    connectc_headers_adds(h, "content-encoding", connectc_compression_name(comp));
    connectc_headers_adds(h, "accept-encoding", connectc_compression_name(comp));
  }
  connectc_headers_adds(h, "content-length", clen);
}

/* `comp` identity: the short uncompressed call. Otherwise the 1 KiB
 * compressed call, with `lent` lent to every call when not NULL. */
static double server_calls(long n, size_t *allocs, connectc_compression comp,
                           connectc_compress_ctx *lent) {
  connectc_router *router = NULL;
  const connectrpc_eliza_v1_eliza_service__handlers handlers = {.say = say};
  if (connectc_router_new(NULL, &counting, &router) != CONNECTC_OK ||
      connectrpc_eliza_v1_eliza_service__register(router, &handlers, NULL, NULL) != CONNECTC_OK)
    die("server setup");
  static const uint8_t short_body[] = {0x0a, 0x05, 'h', 'e', 'l', 'l', 'o'};
  const uint8_t *body = short_body;
  size_t body_len = sizeof short_body;
  uint8_t *compressed = NULL;
  if (comp != CONNECTC_COMPRESSION_IDENTITY) {
    Connectrpc__Eliza__V1__SayRequest req = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
    req.sentence = long_sentence;
    uint8_t plain[LONG_SENTENCE + 16];
    size_t plen = protobuf_c_message_pack(&req.base, plain);
    connectc_compress_ctx *z = NULL;
    if (plen != 1024 || connectc_compress_ctx_new(NULL, &z) != CONNECTC_OK ||
        connectc_compress(z, comp, plain, plen, &compressed, &body_len) != CONNECTC_OK)
      die("compress the request");
    connectc_compress_ctx_del(z);
    body = compressed;
  }
  connectc_headers h;
  request_headers(&h, comp, body_len);
  const char *path = "/connectrpc.eliza.v1.ElizaService/Say";
  size_t plen = strlen(path);
  n_allocs = 0;
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    connectc_server_call *s = NULL;
    if (connectc_router_call_new(router, path, plen, &s) != CONNECTC_OK) die("call_new");
    if (lent) connectc_server_call_lend_compress_ctx(s, lent);
    if (connectc_server_call_recv_head(s, "POST", NULL, &h, 0) != CONNECTC_OK) die("recv_head");
    connectc_server_call_recv_body(s, body, body_len);
    connectc_server_call_recv_end(s);
    connectc_response_head head;
    if (connectc_server_call_response_head(s, &head) != CONNECTC_OK || head.status != 200)
      die("response");
    if (comp != CONNECTC_COMPRESSION_IDENTITY &&
        !connectc_headers_get(head.headers, "content-encoding"))
      die("the response is not compressed");
    const uint8_t *p;
    size_t len;
    int done;
    connectc_server_call_body_peek(s, &p, &len, &done);
    connectc_server_call_body_consume(s, len);
    connectc_server_call_complete(s, 0);
    connectc_router_call_del(router, s);
  }
  double t = now_s() - t0;
  *allocs = n_allocs;
  connectc_headers_reset(&h);
  connectc_router_del(router);
  connectc_free(NULL, compressed);
  return t;
}

/* ---- the client side ---- */

typedef struct canned {
  connectc_headers headers;
  uint8_t body[2048];
  size_t len;
} canned;

/* A transport that answers every call from memory, as an adapter would
 * feed a received response. */
static int canned_perform(void *ctx, connectc_client_call *call) {
  canned *c = ctx;
  connectc_request_head head;
  if (connectc_client_call_request_head(call, &head) != CONNECTC_OK) return CONNECTC_ERR_STATE;
  const uint8_t *p;
  size_t len;
  int done;
  connectc_client_call_body_peek(call, &p, &len, &done);
  connectc_client_call_body_consume(call, len);
  connectc_client_call_recv_head(call, 200, &c->headers);
  connectc_client_call_recv_body(call, c->body, c->len);
  connectc_client_call_recv_end(call);
  connectc_client_call_complete(call, 0);
  return CONNECTC_OK;
}

static int64_t zero_now(void *ctx) {
  (void)ctx;
  return 0;
}

/* `comp` identity: the short uncompressed call. Otherwise the 1 KiB
 * compressed call (request and response), with `lent` lent by the
 * transport to every call when not NULL. */
static double client_calls(long n, size_t *allocs, connectc_compression comp,
                           connectc_compress_ctx *lent) {
  canned c;
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  resp.sentence = comp == CONNECTC_COMPRESSION_IDENTITY ? (char *)"Hello. How are you feeling today?"
                                                        : long_sentence;
  c.len = protobuf_c_message_pack(&resp.base, c.body);
  if (comp != CONNECTC_COMPRESSION_IDENTITY) {
    connectc_compress_ctx *z = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (c.len != 1024 || connectc_compress_ctx_new(NULL, &z) != CONNECTC_OK ||
        connectc_compress(z, comp, c.body, c.len, &out, &out_len) != CONNECTC_OK ||
        out_len > sizeof c.body)
      die("compress the response");
    memcpy(c.body, out, out_len);
    c.len = out_len;
    connectc_free(NULL, out);
    connectc_compress_ctx_del(z);
  }
  char clen[24];
  snprintf(clen, sizeof clen, "%zu", c.len);
  connectc_headers_init(&c.headers, NULL);
  connectc_headers_adds(&c.headers, "content-type", "application/proto");
  connectc_headers_adds(&c.headers, "accept-encoding", "gzip, br, zstd");
  if (comp != CONNECTC_COMPRESSION_IDENTITY)
    connectc_headers_adds(&c.headers, "content-encoding", connectc_compression_name(comp));
  connectc_headers_adds(&c.headers, "content-length", clen);
  connectc_headers_adds(&c.headers, "date", "Tue, 01 Dec 2026 00:00:00 GMT");
  connectc_transport tr = {.perform = canned_perform, .now_ms = zero_now, .ctx = &c,
                           .compress_ctx = lent};
  connectc_client client;
  connectc_client_init(&client, tr);
  client.alloc = &counting;
  client.send_compression = comp;
  Connectrpc__Eliza__V1__SayRequest req = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
  req.sentence = comp == CONNECTC_COMPRESSION_IDENTITY ? (char *)"hello" : long_sentence;
  connectc_error err;
  connectc_error_init(&err, NULL);
  n_allocs = 0;
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    Connectrpc__Eliza__V1__SayResponse *got = NULL;
    if (connectrpc_eliza_v1_eliza_service_say(&client, &req, &got, &err) != CONNECTC_OK) die("say");
    if (strlen(got->sentence) != strlen(resp.sentence)) die("the response");
    connectc_message_free(&got->base, &counting);
  }
  double t = now_s() - t0;
  *allocs = n_allocs;
  connectc_error_reset(&err);
  connectc_headers_reset(&c.headers);
  return t;
}

/* Warms up (n / 10 + 1 calls), then measures n calls. */
static void row(const char *side, long n, int server, connectc_compression comp, int lend) {
  connectc_compress_ctx *lent = NULL;
  /* The lent context allocates through the counting allocator too: its
   * states are made during the warm-up, once. */
  if (lend && connectc_compress_ctx_new(&counting, &lent) != CONNECTC_OK) die("ctx");
  size_t a;
  double t;
  if (server) {
    server_calls(n / 10 + 1, &a, comp, lent);
    t = server_calls(n, &a, comp, lent);
  } else {
    client_calls(n / 10 + 1, &a, comp, lent);
    t = client_calls(n, &a, comp, lent);
  }
  char what[160];
  if (comp == CONNECTC_COMPRESSION_IDENTITY)
    snprintf(what, sizeof what, "%s", side);
  else
    snprintf(what, sizeof what, "%s, 1 KiB %s both ways, %s context", side,
             connectc_compression_name(comp), lend ? "lent" : "fresh");
  printf("| %s | %ld | %.0f | %.2f |\n", what, n, t / (double)n * 1e9, (double)a / (double)n);
  connectc_compress_ctx_del(lent);
}

int main(int argc, char **argv) {
  make_long_sentence();
  if (argc > 1 && strcmp(argv[1], "--trace") == 0) {
    size_t sa, ca;
    server_calls(2, &sa, CONNECTC_COMPRESSION_IDENTITY, NULL); /* warm up: what is allocated once */
    client_calls(2, &ca, CONNECTC_COMPRESSION_IDENTITY, NULL);
    alloc_hook = trace;
    fprintf(stderr, "-- one server call\n");
    server_calls(1, &sa, CONNECTC_COMPRESSION_IDENTITY, NULL);
    fprintf(stderr, "-- one client call\n");
    client_calls(1, &ca, CONNECTC_COMPRESSION_IDENTITY, NULL);
    return 0;
  }
  long n = argc > 1 ? atol(argv[1]) : 200000;
  if (n < 1) n = 1;
  /* --compressed-only: skip the two plain rows. */
  int plain = !(argc > 2 && strcmp(argv[2], "--compressed-only") == 0);
  printf("| side | calls | ns/call | allocations/call |\n|---|---:|---:|---:|\n");
  if (plain) {
    row("server (router, call, typed handler, proto)", n, 1, CONNECTC_COMPRESSION_IDENTITY, 0);
    row("client (generated client function, call, in-memory transport)", n, 0,
        CONNECTC_COMPRESSION_IDENTITY, 0);
  }
  /* Compression costs far more per call: a tenth as many calls. */
  long nc = n / 10 > 0 ? n / 10 : 1;
  static const connectc_compression comps[] = {CONNECTC_COMPRESSION_GZIP, CONNECTC_COMPRESSION_ZSTD};
  for (size_t i = 0; i < sizeof comps / sizeof comps[0]; i++) {
    if (!connectc_compression_supported(comps[i])) continue;
    for (int lend = 0; lend < 2; lend++) row("server", nc, 1, comps[i], lend);
    for (int lend = 0; lend < 2; lend++) row("client", nc, 0, comps[i], lend);
  }
  return 0;
}
