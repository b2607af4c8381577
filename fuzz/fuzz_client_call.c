/* Fuzzes the client call fed an arbitrary response: status, content type
 * and encoding chosen by the input, body cut into chunks at input-chosen
 * points. on_close must fire exactly once with a valid code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/client_call.h"

static const char *const ctypes[] = {"application/proto", "application/json",
                                     "application/connect+proto", "application/connect+json",
                                     "text/html", ""};
static const char *const encs[] = {NULL, "identity", "gzip", "br", "zstd", "lz4"};
static const int statuses[] = {200, 200, 200, 400, 404, 429, 500, 503};

static int closes;
static int on_message(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)d;
  (void)n;
  /* With recv_body_some, every message pauses the call (resumed below). */
  if (ud && *(const int *)ud) connectc_client_call_pause_recv(c);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data;
  size_t n = size;
  uint8_t sel = take(&p, &n), sel2 = take(&p, &n);
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/f.S/M";
  cfg.stream_type = (connectc_stream_type)(sel % 4);
  cfg.codec = (sel & 4) ? "json" : "proto";
  cfg.limits.recv_max_bytes = 4096;
  connectc_client_callbacks cb = {NULL, on_message, on_close};
  connectc_client_call *c = NULL;
  int some = (sel2 & 0x80) != 0;
  if (connectc_client_call_new(&cfg, &cb, &some, NULL, 0, &c) != CONNECTC_OK) return 0;
  closes = 0;
  connectc_client_call_send(c, (const uint8_t *)"x", 1);
  connectc_client_call_close_send(c);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", ctypes[(sel >> 3) % 6]);
  const char *enc = encs[sel2 % 6];
  if (enc) {
    connectc_headers_adds(&h, "content-encoding", enc);
    connectc_headers_adds(&h, "connect-content-encoding", enc);
  }
  if (sel2 & 0x40) connectc_headers_adds(&h, "trailer-x", "t");
  connectc_client_call_recv_head(c, statuses[(sel2 >> 3) & 7], &h);
  connectc_headers_reset(&h);
  while (n > 0) {
    size_t chunk = (size_t)take(&p, &n) + 1;
    if (chunk > n) chunk = n;
    if (some) {
      size_t taken = 0;
      connectc_client_call_recv_body_some(c, p, chunk, &taken);
      /* Short only when paused; what is left is offered again. */
      if (taken > chunk || (taken < chunk && !connectc_client_call_recv_paused(c))) abort();
      chunk = taken;
      connectc_client_call_resume_recv(c);
    } else {
      connectc_client_call_recv_body(c, p, chunk);
    }
    p += chunk;
    n -= chunk;
  }
  connectc_client_call_recv_end(c);
  if (closes != 1) abort();
  connectc_client_call_del(c);
  return 0;
}
