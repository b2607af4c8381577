/*
 * eliza_client: talks to eliza_server over HTTP/1.1 with the generated,
 * typed client stubs on the libcurl transport.
 *
 *   eliza_client [base-url]   (default http://127.0.0.1:8080)
 *
 * Say (high level, sent as Connect GET since it has no side effects),
 * Introduce (server stream, high level) and Converse (bidi, half-duplex:
 * the low-level call_ stub, which also returns headers and trailers).
 * Exits non-zero if any call fails.
 */
#include <stdio.h>
#include <string.h>

#include "connectc/curl.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"

static int report(const char *what, int rv, const connectc_error *err) {
  if (rv == CONNECTC_OK) return 1;
  if (rv == CONNECTC_ERR_RPC)
    printf("  %s failed: %s: %s\n", what, connectc_code_name(err->code), err->message ? err->message : "");
  else
    printf("  %s failed: %s\n", what, connectc_strerror(rv));
  return 0;
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8080";
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *transport = NULL;
  if (connectc_curl_new(&cfg, NULL, &transport) != CONNECTC_OK) return 1;
  connectc_client client;
  connectc_client_init(&client, connectc_curl_transport(transport));
  client.send_compression = CONNECTC_COMPRESSION_GZIP;
  client.limits.compress_min_bytes = 256; /* small messages go uncompressed */
  client.use_get = 1;
  connectc_error err;
  connectc_error_init(&err, NULL);
  int ok = 1;

  printf("Say (unary, Connect GET)\n");
  Connectrpc__Eliza__V1__SayRequest say = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
  say.sentence = "Hello, Eliza";
  Connectrpc__Eliza__V1__SayResponse *said = NULL;
  int rv = connectrpc_eliza_v1_eliza_service_say(&client, &say, &said, &err);
  if ((ok &= report("Say", rv, &err))) {
    printf("  Say <- %s\n", said->sentence);
    connectc_message_free(&said->base, NULL);
  }

  printf("Introduce (server stream)\n");
  Connectrpc__Eliza__V1__IntroduceRequest intro = CONNECTRPC__ELIZA__V1__INTRODUCE_REQUEST__INIT;
  intro.name = "Ada";
  Connectrpc__Eliza__V1__IntroduceResponse **lines = NULL;
  size_t n_lines = 0;
  rv = connectrpc_eliza_v1_eliza_service_introduce(&client, &intro, &lines, &n_lines, &err);
  if ((ok &= report("Introduce", rv, &err))) {
    for (size_t i = 0; i < n_lines; i++) {
      printf("  Introduce <- %s\n", lines[i]->sentence);
      connectc_message_free(&lines[i]->base, NULL);
    }
    connectc_free(NULL, lines);
  }

  printf("Converse (bidi, half-duplex; low-level stub with metadata)\n");
  Connectrpc__Eliza__V1__ConverseRequest c1 = CONNECTRPC__ELIZA__V1__CONVERSE_REQUEST__INIT;
  Connectrpc__Eliza__V1__ConverseRequest c2 = CONNECTRPC__ELIZA__V1__CONVERSE_REQUEST__INIT;
  Connectrpc__Eliza__V1__ConverseRequest c3 = CONNECTRPC__ELIZA__V1__CONVERSE_REQUEST__INIT;
  c1.sentence = "I feel tired";
  c2.sentence = "because of the deadline";
  c3.sentence = "what should I do?";
  const Connectrpc__Eliza__V1__ConverseRequest *conv[] = {&c1, &c2, &c3};
  connectc_headers extra;
  connectc_headers_init(&extra, NULL);
  connectc_headers_adds(&extra, "x-session", "demo");
  connectc_call_options opts = {.headers = &extra, .timeout_ms = 5000};
  connectc_call_output out;
  connectc_call_output_init(&out, NULL);
  rv = connectrpc_eliza_v1_eliza_service_converse__call(&client, conv, 3, &opts, &out);
  if (rv == CONNECTC_OK && out.error.code != CONNECTC_CODE_OK) rv = CONNECTC_ERR_RPC;
  if ((ok &= report("Converse", rv, &out.error))) {
    for (size_t i = 0; i < out.n_messages; i++)
      printf("  Converse <- %s\n",
             ((const Connectrpc__Eliza__V1__ConverseResponse *)out.messages[i])->sentence);
    printf("  (response content-type: %s; trailer x-sentences-heard: %s)\n",
           connectc_headers_get(&out.headers, "content-type"),
           connectc_headers_get(&out.trailers, "x-sentences-heard"));
  }
  connectc_call_output_reset(&out);
  connectc_headers_reset(&extra);
  connectc_error_reset(&err);
  connectc_curl_del(transport);
  printf("%s\n", ok ? "all calls succeeded" : "some calls failed");
  return ok ? 0 : 1;
}
