/* Fuzzes the nghttp2 adapter's connection handling (fuzz-needs-nghttp2:
 * built by CMake with -DCONNECTC_FUZZ=ON, not by build.sh): the input is
 * what a client sends on one HTTP/2 connection, fed to a
 * connectc_h2_conn, the production code minus sockets, in chunks whose
 * sizes the input's length chooses, with the clock advancing between them
 * so deadlines, stall and idle timeouts fire. Behind it a router of four
 * methods (one per stream type) with synchronous handlers that echo,
 * fail with details or answer with trailers; a message starting with 'p'
 * pauses its call's receiving, resumed every other chunk, so held DATA,
 * closed windows and END_STREAM behind held bytes are fuzzed too. The
 * first bytes pick HTTP/2
 * (the preface) or the same port's HTTP/1.1 side, so both are fuzzed. The
 * seed corpus holds real HTTP/2 exchanges recorded from nghttp, h2load and
 * curl (fuzz/record_h2_corpus.sh) and HTTP/1.1 requests (h1-*).
 * Nothing may crash, leak, or loop: after the input, a graceful shutdown
 * and the deletion must release every call. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/nghttp2.h"

static const connectc_method_desc methods[] = {
    {"/f.S/Unary", CONNECTC_STREAM_UNARY, 1},
    {"/f.S/Client", CONNECTC_STREAM_CLIENT, 0},
    {"/f.S/Server", CONNECTC_STREAM_SERVER, 0},
    {"/f.S/Bidi", CONNECTC_STREAM_BIDI, 0},
};

/* Calls paused by a 'p' message, each holding a reference. */
static connectc_server_call *paused[64];
static size_t n_paused;

static void resume_fn(connectc_server_call *s, void *arg) {
  (void)arg;
  connectc_server_call_resume_recv(s);
}
static void resume_all(void) {
  size_t n = n_paused;
  n_paused = 0; /* a resumed call may pause again at once */
  connectc_server_call *list[64];
  memcpy(list, paused, n * sizeof list[0]);
  for (size_t i = 0; i < n; i++) {
    connectc_server_call_run(list[i], resume_fn, NULL);
    connectc_server_call_unref(list[i]);
  }
}

static int on_message(connectc_server_call *s, const uint8_t *d, size_t n, void *ud) {
  (void)ud;
  if (n && d[0] == 'p' && n_paused < sizeof paused / sizeof paused[0] &&
      !connectc_server_call_recv_paused(s)) {
    connectc_server_call_pause_recv(s);
    connectc_server_call_ref(s);
    paused[n_paused++] = s;
  }
  const connectc_method_desc *m = connectc_server_call_method(s);
  if (m->stream_type == CONNECTC_STREAM_SERVER || m->stream_type == CONNECTC_STREAM_BIDI)
    connectc_server_call_send(s, d, n);
  if (n && d[0] == 'x') {
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_ABORTED, "stop\r\n%%\xff");
    connectc_error_add_detail(&e, "f.D", (const uint8_t *)"\x08\x01", 2);
    connectc_server_call_finish(s, &e);
    connectc_error_reset(&e);
  }
  return 0;
}

static void on_end(connectc_server_call *s, void *ud) {
  (void)ud;
  if (connectc_server_call_is_finished(s)) return;
  const connectc_method_desc *m = connectc_server_call_method(s);
  connectc_headers_adds(connectc_server_call_response_headers(s), "x-h", "1");
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-t", "2");
  if (m->stream_type == CONNECTC_STREAM_UNARY || m->stream_type == CONNECTC_STREAM_CLIENT)
    connectc_server_call_send(s, (const uint8_t *)"\x0a\x01z", 3);
  connectc_server_call_finish(s, NULL);
}

static connectc_router *router;

static void setup(void) {
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = 65536;
  if (connectc_router_new(&cfg, NULL, &router) != CONNECTC_OK) abort();
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    connectc_route r;
    memset(&r, 0, sizeof r);
    r.method = &methods[i];
    r.callbacks.on_message = on_message;
    r.callbacks.on_end = on_end;
    if (connectc_router_add(router, &r) != CONNECTC_OK) abort();
  }
}

static void drain(connectc_h2_conn *c) {
  /* Bounded: the peer never reads more than this much per step. */
  for (int i = 0; i < 64; i++) {
    const uint8_t *p;
    size_t n;
    connectc_h2_conn_send_peek(c, &p, &n, 0);
    if (!n) return;
    connectc_h2_conn_send_consume(c, n);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!router) setup();
  connectc_h2_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.max_concurrent_streams = 8;
  cfg.max_header_list_bytes = 4096;
  cfg.stall_timeout_ms = 50;
  cfg.idle_timeout_ms = 500;
  cfg.handshake_timeout_ms = 1000;
  connectc_h2_conn *c = NULL;
  int64_t now = 0;
  if (connectc_h2_conn_new(&cfg, router, NULL, NULL, now, &c) != CONNECTC_OK) return 0;
  size_t chunk = 1 + size % 1499;
  for (size_t off = 0; off < size && !connectc_h2_conn_is_done(c); off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    connectc_h2_conn_recv(c, data + off, n, now);
    drain(c);
    if ((off / chunk) % 2) {
      resume_all();
      drain(c);
    }
    now += 3;
    connectc_h2_conn_tick(c, now);
    drain(c);
  }
  resume_all();
  drain(c);
  /* Deadlines and timeouts run out; then a graceful stop. */
  for (int i = 0; i < 4; i++) {
    now += 400;
    connectc_h2_conn_tick(c, now);
    drain(c);
  }
  connectc_h2_conn_shutdown(c, now);
  now += 200;
  connectc_h2_conn_tick(c, now);
  drain(c);
  resume_all(); /* paused again while draining: released before the end */
  connectc_h2_conn_del(c);
  return 0;
}
