/*
 * core_demo: a Connect client call and a server call talking through
 * memory, with no network at all. It shows the sans-IO contract: each side
 * is fed bytes and the current time, and hands back bytes and events. The
 * "transport" here is a few lines of copying, which is exactly the part a
 * real adapter (libcurl, libmicrohttpd, your event loop) replaces.
 *
 * For each stream type it sends messages with gzip (when built in),
 * prints what travelled on the "wire", and the final status.
 */
#include <stdio.h>
#include <string.h>

#include "connectc/core.h"

/* ---- the server side: an echo handler that upper-cases ---- */

static int srv_on_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)ud;
  char buf[256];
  size_t n = len < sizeof buf ? len : sizeof buf;
  for (size_t i = 0; i < n; i++)
    buf[i] = (char)(data[i] >= 'a' && data[i] <= 'z' ? data[i] - 32 : data[i]);
  return connectc_server_call_send(s, (const uint8_t *)buf, n) == CONNECTC_OK ? 0 : 1;
}

static void srv_on_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-served-by", "core_demo");
  connectc_server_call_finish(s, NULL);
}

/* ---- the client side: prints what it receives ---- */

static int cli_on_headers(connectc_client_call *c, const connectc_headers *h, void *ud) {
  (void)c;
  (void)ud;
  printf("  client <- headers: content-type %s\n", connectc_headers_get(h, "content-type"));
  return 0;
}

static int cli_on_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  (void)c;
  (void)ud;
  printf("  client <- message \"%.*s\"\n", (int)len, (const char *)data);
  return 0;
}

static void cli_on_close(connectc_client_call *c, const connectc_error *err,
                         const connectc_headers *trailers, void *ud) {
  (void)c;
  int *ok = ud;
  const char *by = connectc_headers_get(trailers, "x-served-by");
  printf("  client <- status %s%s%s (trailer x-served-by: %s)\n", connectc_code_name(err->code),
         err->message ? ": " : "", err->message ? err->message : "", by ? by : "-");
  *ok = err->code == CONNECTC_CODE_OK;
}

/* Moves every pending byte of the request body into the server call. */
static size_t pump_request(connectc_client_call *c, connectc_server_call *s, int *done) {
  const uint8_t *p;
  size_t len, total = 0;
  connectc_client_call_body_peek(c, &p, &len, done);
  if (len) {
    connectc_server_call_recv_body(s, p, len);
    connectc_client_call_body_consume(c, len);
    total = len;
  }
  return total;
}

static int run(const char *name, const connectc_method_desc *m, const char *const *msgs,
               connectc_compression comp) {
  int ok = 0;
  int64_t now = 0; /* the caller's clock; the core never reads one */
  printf("%s (%s, %s)\n", name, m->procedure, connectc_compression_name(comp));

  connectc_client_config ccfg;
  memset(&ccfg, 0, sizeof ccfg);
  ccfg.procedure = m->procedure;
  ccfg.stream_type = m->stream_type;
  ccfg.codec = "proto";
  ccfg.send_compression = comp;
  ccfg.timeout_ms = 5000;
  connectc_client_callbacks ccb = {
      .on_headers = cli_on_headers, .on_message = cli_on_message, .on_close = cli_on_close};
  connectc_client_call *c = NULL;
  if (connectc_client_call_new(&ccfg, &ccb, &ok, NULL, now, &c) != CONNECTC_OK) return 0;

  connectc_server_callbacks scb = {.on_message = srv_on_message, .on_end = srv_on_end};
  connectc_server_call *s = NULL;
  if (connectc_server_call_new(NULL, m, &scb, NULL, NULL, &s) != CONNECTC_OK) {
    connectc_client_call_del(c);
    return 0;
  }

  for (size_t i = 0; msgs[i]; i++) {
    connectc_client_call_send(c, (const uint8_t *)msgs[i], strlen(msgs[i]));
    printf("  client -> message \"%s\"\n", msgs[i]);
  }
  connectc_client_call_close_send(c);

  /* Request head: what an HTTP client would put on the wire. */
  connectc_request_head rq;
  connectc_client_call_request_head(c, &rq);
  printf("  wire   -> %s %s\n", rq.method, rq.path);
  for (size_t i = 0; i < rq.headers->len; i++)
    printf("  wire   -> %s: %s\n", rq.headers->items[i].name, rq.headers->items[i].value);
  connectc_server_call_recv_head(s, rq.method, NULL, rq.headers, now);

  int done = 0;
  size_t sent = pump_request(c, s, &done);
  printf("  wire   -> %zu body bytes\n", sent);
  connectc_server_call_recv_end(s);

  /* Response. */
  connectc_response_head rs;
  if (connectc_server_call_response_head(s, &rs) == CONNECTC_OK) {
    printf("  wire   <- HTTP %d\n", rs.status);
    connectc_client_call_recv_head(c, rs.status, rs.headers);
    const uint8_t *p;
    size_t len;
    connectc_server_call_body_peek(s, &p, &len, &done);
    printf("  wire   <- %zu body bytes\n", len);
    connectc_client_call_recv_body(c, p, len);
    connectc_server_call_body_consume(s, len);
    connectc_client_call_recv_end(c);
  }
  connectc_server_call_del(s);
  connectc_client_call_del(c);
  printf("\n");
  return ok;
}

int main(void) {
  printf("connectc %s core demo; compressions in this build: %s\n\n", connectc_version(),
         connectc_compressions_accept_header());
  connectc_compression comp = connectc_compression_supported(CONNECTC_COMPRESSION_GZIP)
                                  ? CONNECTC_COMPRESSION_GZIP
                                  : CONNECTC_COMPRESSION_IDENTITY;
  static const connectc_method_desc say = {.procedure = "/eliza.v1.ElizaService/Say",
                                           .stream_type = CONNECTC_STREAM_UNARY};
  static const connectc_method_desc sum = {.procedure = "/eliza.v1.ElizaService/Collect",
                                           .stream_type = CONNECTC_STREAM_CLIENT};
  static const connectc_method_desc intro = {.procedure = "/eliza.v1.ElizaService/Introduce",
                                           .stream_type = CONNECTC_STREAM_SERVER};
  static const connectc_method_desc conv = {.procedure = "/eliza.v1.ElizaService/Converse",
                                           .stream_type = CONNECTC_STREAM_BIDI};
  const char *const one[] = {"hello", NULL};
  const char *const many[] = {"how", "are", "you", NULL};
  int ok = 1;
  ok &= run("unary", &say, one, comp);
  ok &= run("client stream", &sum, one, comp);
  ok &= run("server stream", &intro, one, comp);
  ok &= run("bidi (half-duplex)", &conv, many, comp);
  printf("%s\n", ok ? "all calls succeeded" : "some calls failed");
  return ok ? 0 : 1;
}
