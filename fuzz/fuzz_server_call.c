/* Fuzzes the server call: a request head chosen by the input (method,
 * content type, encodings, timeout, GET query) and a body cut into chunks
 * at input-chosen points, against an echo handler. The response must
 * always be decided once the body ends, and nothing may leak. Some inputs
 * lend the call a compression context, freed as soon as the call has
 * finished and before it is deleted: the call must not touch it then. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/server_call.h"

static const connectc_method_desc methods[] = {
    {"/f.S/Unary", CONNECTC_STREAM_UNARY, 1},
    {"/f.S/Client", CONNECTC_STREAM_CLIENT, 0},
    {"/f.S/Server", CONNECTC_STREAM_SERVER, 0},
    {"/f.S/Bidi", CONNECTC_STREAM_BIDI, 0},
};
static const char *const ctypes[] = {"application/proto", "application/json",
                                     "application/connect+proto", "application/connect+json",
                                     "text/plain", "application/connect+json; charset=utf-8"};
static const char *const encs[] = {NULL, "identity", "gzip", "br", "zstd", "lz4"};
static const char *const timeouts[] = {NULL, "0", "1000", "12345678901", "-1"};

static int on_message(connectc_server_call *s, const uint8_t *d, size_t n, void *ud) {
  /* With recv_body_some, every message pauses the call (resumed below). */
  if (ud && *(const int *)ud) connectc_server_call_pause_recv(s);
  connectc_server_call_send(s, d, n);
  return 0;
}
static void on_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_server_call_finish(s, NULL);
}

/* Reads one byte of input (0 when exhausted). */
static uint8_t take(const uint8_t **d, size_t *n) {
  if (*n == 0) return 0;
  (*n)--;
  return *(*d)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data;
  size_t n = size;
  uint8_t sel = take(&p, &n), sel2 = take(&p, &n), sel3 = take(&p, &n);
  const connectc_method_desc *m = &methods[sel % 4];
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = 4096;
  connectc_server_callbacks cb = {.on_message = on_message, .on_end = on_end};
  connectc_server_call *s = NULL;
  int some = (sel3 & 2) != 0;
  if (connectc_server_call_new(&cfg, m, &cb, &some, NULL, &s) != CONNECTC_OK) return 0;
  connectc_compress_ctx *lent = NULL;
  if ((sel3 & 4) && connectc_compress_ctx_new(NULL, &lent) == CONNECTC_OK &&
      connectc_server_call_lend_compress_ctx(s, lent) != CONNECTC_OK)
    abort();
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", ctypes[(sel >> 2) % 6]);
  const char *enc = encs[sel2 % 6];
  if (enc) connectc_headers_adds(&h, m->stream_type == CONNECTC_STREAM_UNARY ? "content-encoding"
                                                                            : "connect-content-encoding",
                                 enc);
  const char *t = timeouts[(sel2 >> 3) % 5];
  if (t) connectc_headers_adds(&h, "connect-timeout-ms", t);
  int get = (sel3 & 1) && m->stream_type == CONNECTC_STREAM_UNARY;
  char query[256];
  if (get) {
    size_t qn = n < sizeof query - 1 ? n : sizeof query - 1;
    memcpy(query, p, qn);
    query[qn] = 0;
    if (memchr(query, 0, qn)) query[strlen(query)] = 0;
    p += qn;
    n -= qn;
  }
  connectc_server_call_recv_head(s, get ? "GET" : "POST", get ? query : NULL, &h, 0);
  connectc_headers_reset(&h);
  while (n > 0) {
    size_t chunk = (size_t)take(&p, &n) + 1;
    if (chunk > n) chunk = n;
    if (some) {
      size_t taken = 0;
      connectc_server_call_recv_body_some(s, p, chunk, &taken);
      /* Short only when paused; what is left is offered again. */
      if (taken > chunk || (taken < chunk && !connectc_server_call_recv_paused(s))) abort();
      chunk = taken;
      connectc_server_call_resume_recv(s);
    } else {
      connectc_server_call_recv_body(s, p, chunk);
    }
    p += chunk;
    n -= chunk;
    const uint8_t *out;
    size_t olen;
    int done;
    connectc_server_call_body_peek(s, &out, &olen, &done);
    connectc_server_call_body_consume(s, olen / 2);
  }
  connectc_server_call_recv_end(s);
  connectc_server_call_tick(s, 5000);
  if (!connectc_server_call_is_finished(s)) abort();
  connectc_compress_ctx_del(lent); /* a finished call has let go of it */
  connectc_response_head rh;
  if (connectc_server_call_response_head(s, &rh) != CONNECTC_OK) abort();
  const uint8_t *out;
  size_t olen;
  int done;
  connectc_server_call_body_peek(s, &out, &olen, &done);
  connectc_server_call_body_consume(s, olen);
  connectc_server_call_recv_body(s, data, size); /* ignored once finished */
  connectc_server_call_del(s);
  return 0;
}
