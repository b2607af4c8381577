/* Fuzzes gRPC and gRPC-Web client calls fed an arbitrary response: the
 * protocol, stream type, status, content type, encoding and the headers'
 * own grpc-status chosen by the input; the body cut into chunks at
 * input-chosen points; HTTP trailers (a status, a message, details) for
 * gRPC, or none, as chosen. on_close must fire exactly once with a valid
 * code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/client_call.h"

static const char *const ctypes[] = {"application/grpc",          "application/grpc+proto",
                                     "application/grpc+json",     "application/grpc-web",
                                     "application/grpc-web+proto", "application/grpc-web+json",
                                     "image/jpeg",                ""};
static const char *const encs[] = {NULL, "identity", "gzip", "br", "zstd", "foo"};
static const int statuses[] = {200, 200, 200, 200, 400, 404, 503, 500};
static const char *const codes[] = {NULL, "0", "9", "x", "16", "99999999999"};
static const char *const messages[] = {NULL, "error", "bad%zz", "%E2%98%BA"};
static const char *const details[] = {NULL, "CAkSBWVycm9y", "!!", "CAkSBWVycm9yGgA"};

static int closes;
static int on_message(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)c;
  (void)d;
  (void)n;
  (void)ud;
  return 0;
}
static void on_close(connectc_client_call *c, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)c;
  (void)trailers;
  (void)ud;
  if ((unsigned)err->code > 16u) abort();
  closes++;
}

static uint8_t take(const uint8_t **d, size_t *n) {
  if (*n == 0) return 0;
  (*n)--;
  return *(*d)++;
}

static void add_status(connectc_headers *h, uint8_t sel) {
  const char *c = codes[sel % 6], *m = messages[(sel >> 3) % 4], *d = details[(sel >> 5) % 4];
  if (c) connectc_headers_adds(h, "grpc-status", c);
  if (m) connectc_headers_adds(h, "grpc-message", m);
  if (d) connectc_headers_adds(h, "grpc-status-details-bin", d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data;
  size_t n = size;
  uint8_t sel = take(&p, &n), sel2 = take(&p, &n), sel3 = take(&p, &n), sel4 = take(&p, &n);
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/f.S/M";
  cfg.stream_type = (connectc_stream_type)(sel % 4);
  cfg.codec = (sel & 4) ? "json" : "proto";
  cfg.protocol = (sel & 8) ? CONNECTC_PROTOCOL_GRPC_WEB : CONNECTC_PROTOCOL_GRPC;
  cfg.limits.recv_max_bytes = 4096;
  connectc_client_callbacks cb = {.on_message = on_message, .on_close = on_close};
  connectc_client_call *c = NULL;
  if (connectc_client_call_new(&cfg, &cb, NULL, NULL, 0, &c) != CONNECTC_OK) return 0;
  closes = 0;
  connectc_client_call_send(c, (const uint8_t *)"x", 1);
  connectc_client_call_close_send(c);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", ctypes[(sel >> 4) % 8]);
  const char *enc = encs[sel2 % 6];
  if (enc) connectc_headers_adds(&h, "grpc-encoding", enc);
  if (sel2 & 0x80) add_status(&h, sel3); /* trailers-only, or a misplaced status */
  connectc_client_call_recv_head(c, statuses[(sel2 >> 3) & 7], &h);
  connectc_headers_reset(&h);
  while (n > 0) {
    size_t chunk = (size_t)take(&p, &n) + 1;
    if (chunk > n) chunk = n;
    connectc_client_call_recv_body(c, p, chunk);
    p += chunk;
    n -= chunk;
  }
  if (sel4 & 1) {
    connectc_headers t;
    connectc_headers_init(&t, NULL);
    add_status(&t, (uint8_t)(sel4 >> 1));
    if (sel4 & 0x80) connectc_headers_adds(&t, "x-custom-trailer", "bing");
    connectc_client_call_recv_trailers(c, &t);
    connectc_headers_reset(&t);
  }
  connectc_client_call_recv_end(c);
  if (closes != 1) abort();
  connectc_client_call_del(c);
  return 0;
}
