/*
 * eliza_interceptors: interceptors and the stats hook, server and client
 * side, in one program.
 *
 *   eliza_interceptors
 *
 * The server (libmicrohttpd) has two interceptors: a bearer-token check
 * that refuses calls before any of their body is read, decompressed or
 * decoded, and a logger of every message and final status. Its stats hook
 * prints one line per call (the line an OpenTelemetry or Prometheus bridge
 * would turn into a span or metrics). The client (libcurl) has an
 * interceptor that adds the token, and its own stats hook. The program
 * makes one call without the token (refused: unauthenticated) and one with
 * it, and exits 0 when both end as they should.
 */
#include <stdio.h>
#include <string.h>

#include "connectc/curl.h"
#include "connectc/microhttpd.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"

/* ---- the server ---- */

static int say(void *impl, connectc_server_call *call, const Connectrpc__Eliza__V1__SayRequest *req,
               connectc_response_writer *responses, connectc_error *error) {
  (void)impl;
  (void)call;
  (void)error;
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  char text[128];
  snprintf(text, sizeof text, "You said \"%s\".", req->sentence);
  resp.sentence = text;
  return connectrpc_eliza_v1_eliza_service_say__send(responses, &resp);
}

/* Authentication: the token must be there before anything else happens. */
static int auth_head(connectc_server_call *call, connectc_headers *headers, connectc_error *refuse,
                     void *user_data) {
  (void)call;
  const char *want = user_data;
  const char *got = connectc_headers_get(headers, "authorization");
  if (!got || strcmp(got, want) != 0) {
    connectc_error_set(refuse, CONNECTC_CODE_UNAUTHENTICATED, "a valid bearer token is required");
    return 1;
  }
  return 0;
}

static const char *method_of(connectc_server_call *call) {
  const connectc_method_desc *m = connectc_server_call_method(call);
  return m ? m->procedure : "?";
}

static void log_request(connectc_server_call *call, const uint8_t *data, size_t len, void *ud) {
  (void)data;
  (void)ud;
  printf("server: %s request message, %zu bytes\n", method_of(call), len);
}

static void log_close(connectc_server_call *call, const connectc_error *status,
                      const connectc_headers *trailers, void *ud) {
  (void)trailers;
  (void)ud;
  printf("server: %s ended: %s%s%s\n", method_of(call), connectc_code_name(status->code),
         status->message ? ": " : "", status->message ? status->message : "");
}

/* One line per call. To feed OpenTelemetry, start a span at start_ms and
 * end it at end_ms with these attributes (rpc.system=connect_rpc,
 * rpc.method, rpc.connect_rpc.error_code, message and byte counts); to feed
 * Prometheus, observe end_ms - start_ms in a histogram labelled with the
 * procedure and code. */
static void log_stats(const connectc_call_stats *st, void *ud) {
  printf("%s: %s %s %s code=%s http=%d request=%llu/%llu bytes (%llu msgs) response=%llu/%llu bytes "
         "(%llu msgs) %lld ms\n",
         (const char *)ud, st->procedure, connectc_protocol_name(st->protocol),
         st->codec ? st->codec : "-", connectc_code_name(st->code), st->http_status,
         (unsigned long long)st->request_wire_bytes, (unsigned long long)st->request_bytes,
         (unsigned long long)st->request_messages, (unsigned long long)st->response_wire_bytes,
         (unsigned long long)st->response_bytes, (unsigned long long)st->response_messages,
         (long long)(st->end_ms - st->start_ms));
}

/* ---- the client ---- */

static int add_token(connectc_client_call *call, connectc_headers *headers, connectc_error *refuse,
                     void *user_data) {
  (void)call;
  (void)refuse;
  const char *token = user_data;
  if (token) connectc_headers_adds(headers, "authorization", token);
  return 0;
}

int main(void) {
  static const char token[] = "Bearer s3cr3t";
  const connectc_server_interceptor auth = {.on_request_head = auth_head,
                                            .user_data = (void *)token};
  const connectc_server_interceptor logger = {.on_request_message = log_request,
                                              .on_close = log_close};
  const connectc_server_interceptor *const chain[] = {&auth, &logger};
  connectc_server_config scfg = {.interceptors = chain,
                                 .n_interceptors = 2,
                                 .on_stats = log_stats,
                                 .stats_user_data = "server stats"};
  const connectrpc_eliza_v1_eliza_service__handlers handlers = {.say = say};
  connectc_router *router = NULL;
  connectc_mhd_server *srv = NULL;
  if (connectc_router_new(&scfg, NULL, &router) != CONNECTC_OK ||
      connectrpc_eliza_v1_eliza_service__register(router, &handlers, NULL, NULL) != CONNECTC_OK ||
      connectc_mhd_start(NULL, router, &srv) != CONNECTC_OK) {
    fprintf(stderr, "eliza_interceptors: cannot start the server\n");
    return 1;
  }
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)connectc_mhd_port(srv));
  connectc_curl_config ccfg = {.base_url = url};
  connectc_curl *transport = NULL;
  if (connectc_curl_new(&ccfg, NULL, &transport) != CONNECTC_OK) return 1;

  int ok = 1;
  for (int with_token = 0; with_token < 2; with_token++) {
    const connectc_client_interceptor credentials = {.on_request_head = add_token,
                                                     .user_data = with_token ? (void *)token : NULL};
    const connectc_client_interceptor *const cchain[] = {&credentials};
    connectc_client client;
    connectc_client_init(&client, connectc_curl_transport(transport));
    client.interceptors = cchain;
    client.n_interceptors = 1;
    client.on_stats = log_stats;
    client.stats_user_data = "client stats";
    Connectrpc__Eliza__V1__SayRequest req = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
    req.sentence = "Hello";
    Connectrpc__Eliza__V1__SayResponse *resp = NULL;
    connectc_error err;
    connectc_error_init(&err, NULL);
    printf("client: Say %s the token\n", with_token ? "with" : "without");
    int rv = connectrpc_eliza_v1_eliza_service_say(&client, &req, &resp, &err);
    if (with_token) {
      ok &= rv == CONNECTC_OK;
      if (rv == CONNECTC_OK) printf("client: <- %s\n", resp->sentence);
    } else {
      ok &= rv == CONNECTC_ERR_RPC && err.code == CONNECTC_CODE_UNAUTHENTICATED;
      printf("client: refused: %s: %s\n", connectc_code_name(err.code), err.message ? err.message : "");
    }
    if (resp) connectc_message_free(&resp->base, NULL);
    connectc_error_reset(&err);
  }
  connectc_curl_del(transport);
  connectc_mhd_stop(srv);
  connectc_router_del(router);
  printf("%s\n", ok ? "both calls ended as expected" : "a call ended unexpectedly");
  return ok ? 0 : 1;
}
