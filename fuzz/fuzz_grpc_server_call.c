/* Fuzzes gRPC and gRPC-Web server calls: a request head chosen by the
 * input (content type, encodings, grpc-timeout) and a body cut into chunks
 * at input-chosen points, against an echo handler that may fail with
 * details and trailers. The response must always be decided once the body
 * ends, be a gRPC response (status 200 with grpc-status somewhere) unless
 * refused at the HTTP level, and nothing may leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/server_call.h"

static const connectc_method_desc methods[] = {
    {"/f.S/Unary", CONNECTC_STREAM_UNARY, 0},
    {"/f.S/Client", CONNECTC_STREAM_CLIENT, 0},
    {"/f.S/Server", CONNECTC_STREAM_SERVER, 0},
    {"/f.S/Bidi", CONNECTC_STREAM_BIDI, 0},
};
static const char *const ctypes[] = {"application/grpc",     "application/grpc+proto",
                                     "application/grpc+json", "application/grpc-web",
                                     "application/grpc-web+json", "application/grpc+foo"};
static const char *const encs[] = {NULL, "identity", "gzip", "br", "zstd", "lz4"};
static const char *const timeouts[] = {NULL, "0n", "1000m", "123456789S", "1x", "5H"};

static int fail_mode;
static int on_message(connectc_server_call *s, const uint8_t *d, size_t n, void *ud) {
  (void)ud;
  connectc_server_call_send(s, d, n);
  return 0;
}
static void on_end(connectc_server_call *s, void *ud) {
  (void)ud;
  if (fail_mode & 1)
    connectc_headers_adds(connectc_server_call_response_trailers(s), "x-t", "v");
  if (fail_mode & 2) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_ABORTED, "\x01%% \xff");
    connectc_error_add_detail(&e, "f.D", (const uint8_t *)"\x08\x01", 2);
    connectc_server_call_finish(s, &e);
    connectc_error_reset(&e);
  } else {
    connectc_server_call_finish(s, NULL);
  }
}

static uint8_t take(const uint8_t **d, size_t *n) {
  if (*n == 0) return 0;
  (*n)--;
  return *(*d)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data;
  size_t n = size;
  uint8_t sel = take(&p, &n), sel2 = take(&p, &n);
  const connectc_method_desc *m = &methods[sel % 4];
  fail_mode = (sel >> 6) & 3;
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = 4096;
  connectc_server_callbacks cb = {.on_message = on_message, .on_end = on_end};
  connectc_server_call *s = NULL;
  if (connectc_server_call_new(&cfg, m, &cb, NULL, NULL, &s) != CONNECTC_OK) return 0;
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", ctypes[(sel >> 2) % 6]);
  const char *enc = encs[sel2 % 6];
  if (enc) connectc_headers_adds(&h, "grpc-encoding", enc);
  if (sel2 & 0x40) connectc_headers_adds(&h, "grpc-accept-encoding", "zstd, gzip");
  const char *t = timeouts[(sel2 >> 3) % 6];
  if (t) connectc_headers_adds(&h, "grpc-timeout", t);
  connectc_server_call_recv_head(s, "POST", NULL, &h, 0);
  connectc_headers_reset(&h);
  while (n > 0) {
    size_t chunk = (size_t)take(&p, &n) + 1;
    if (chunk > n) chunk = n;
    connectc_server_call_recv_body(s, p, chunk);
    p += chunk;
    n -= chunk;
    const uint8_t *out;
    size_t olen;
    int done;
    connectc_server_call_body_peek(s, &out, &olen, &done);
    connectc_server_call_body_consume(s, olen / 2);
  }
  connectc_server_call_recv_end(s);
  connectc_server_call_tick(s, 1000000000);
  if (!connectc_server_call_is_finished(s)) abort();
  connectc_response_head rh;
  if (connectc_server_call_response_head(s, &rh) != CONNECTC_OK) abort();
  if (rh.status == 200) {
    const connectc_headers *tr = connectc_server_call_response_http_trailers(s);
    int in_head = connectc_headers_get(rh.headers, "grpc-status") != NULL;
    int in_trailers = tr && connectc_headers_get(tr, "grpc-status") != NULL;
    int web = connectc_server_call_protocol(s) == CONNECTC_PROTOCOL_GRPC_WEB;
    /* gRPC: the status in exactly one of head and trailers; gRPC-Web never
     * uses HTTP trailers. */
    if (web ? tr != NULL : in_head == in_trailers) abort();
  }
  connectc_server_call_del(s);
  return 0;
}
