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
  return connectrpc_eliza_v1_eliza_service_say__send(responses, &resp);
}

/* A request head as an adapter hands it over (the adapter's own list,
 * built once here: what the adapter spends is the adapter's). */
static void request_headers(connectc_headers *h) {
  connectc_headers_init(h, NULL);
  connectc_headers_adds(h, "host", "127.0.0.1:8080");
  connectc_headers_adds(h, "user-agent", "h2load nghttp2/1.52.0");
  connectc_headers_adds(h, "content-type", "application/proto");
  connectc_headers_adds(h, "connect-protocol-version", "1");
  connectc_headers_adds(h, "content-length", "7");
}

static double server_calls(long n, size_t *allocs) {
  connectc_router *router = NULL;
  const connectrpc_eliza_v1_eliza_service__handlers handlers = {.say = say};
  if (connectc_router_new(NULL, &counting, &router) != CONNECTC_OK ||
      connectrpc_eliza_v1_eliza_service__register(router, &handlers, NULL, NULL) != CONNECTC_OK)
    die("server setup");
  connectc_headers h;
  request_headers(&h);
  static const uint8_t body[] = {0x0a, 0x05, 'h', 'e', 'l', 'l', 'o'};
  const char *path = "/connectrpc.eliza.v1.ElizaService/Say";
  size_t plen = strlen(path);
  n_allocs = 0;
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    connectc_server_call *s = NULL;
    if (connectc_router_call_new(router, path, plen, &s) != CONNECTC_OK) die("call_new");
    if (connectc_server_call_recv_head(s, "POST", NULL, &h, 0) != CONNECTC_OK) die("recv_head");
    connectc_server_call_recv_body(s, body, sizeof body);
    connectc_server_call_recv_end(s);
    connectc_response_head head;
    if (connectc_server_call_response_head(s, &head) != CONNECTC_OK || head.status != 200)
      die("response");
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
  return t;
}

/* ---- the client side ---- */

typedef struct canned {
  connectc_headers headers;
  uint8_t body[64];
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

static double client_calls(long n, size_t *allocs) {
  canned c;
  connectc_headers_init(&c.headers, NULL);
  connectc_headers_adds(&c.headers, "content-type", "application/proto");
  connectc_headers_adds(&c.headers, "accept-encoding", "gzip, br, zstd");
  connectc_headers_adds(&c.headers, "content-length", "35");
  connectc_headers_adds(&c.headers, "date", "Tue, 01 Dec 2026 00:00:00 GMT");
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  resp.sentence = "Hello. How are you feeling today?";
  c.len = protobuf_c_message_pack(&resp.base, c.body);
  connectc_transport tr = {.perform = canned_perform, .now_ms = zero_now, .ctx = &c};
  connectc_client client;
  connectc_client_init(&client, tr);
  client.alloc = &counting;
  Connectrpc__Eliza__V1__SayRequest req = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
  req.sentence = "hello";
  connectc_error err;
  connectc_error_init(&err, NULL);
  n_allocs = 0;
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    Connectrpc__Eliza__V1__SayResponse *got = NULL;
    if (connectrpc_eliza_v1_eliza_service_say(&client, &req, &got, &err) != CONNECTC_OK) die("say");
    connectc_message_free(&got->base, &counting);
  }
  double t = now_s() - t0;
  *allocs = n_allocs;
  connectc_error_reset(&err);
  connectc_headers_reset(&c.headers);
  return t;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--trace") == 0) {
    size_t sa, ca;
    server_calls(2, &sa); /* warm up: what is allocated once */
    client_calls(2, &ca);
    alloc_hook = trace;
    fprintf(stderr, "-- one server call\n");
    server_calls(1, &sa);
    fprintf(stderr, "-- one client call\n");
    client_calls(1, &ca);
    return 0;
  }
  long n = argc > 1 ? atol(argv[1]) : 200000;
  if (n < 1) n = 1;
  size_t sa, ca;
  server_calls(n / 10 + 1, &sa); /* warm up */
  double ts = server_calls(n, &sa);
  client_calls(n / 10 + 1, &ca);
  double tc = client_calls(n, &ca);
  printf("| side | calls | ns/call | allocations/call |\n|---|---:|---:|---:|\n");
  printf("| server (router, call, typed handler, proto) | %ld | %.0f | %.2f |\n", n, ts / (double)n * 1e9,
         (double)sa / (double)n);
  printf("| client (generated client function, call, in-memory transport) | %ld | %.0f | %.2f |\n", n,
         tc / (double)n * 1e9, (double)ca / (double)n);
  return 0;
}
