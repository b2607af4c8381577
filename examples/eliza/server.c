/*
 * eliza_server: the Eliza service over HTTP/1.1 with libmicrohttpd and,
 * with --h2, over HTTP/2 with nghttp2 (one router, one set of handlers).
 *
 *   eliza_server [port] [--h2 port]   (default 8080; 0 picks a free port)
 *
 * It prints "listening on http://127.0.0.1:PORT" (and "listening (HTTP/2)
 * on ..." for --h2: h2c by prior knowledge) once it serves, speaks
 * proto and JSON, and stops gracefully on SIGINT/SIGTERM. The service is
 * implemented with the generated typed handler interface and mounted with
 * the generated registration function.
 *
 * ELIZA_INTRODUCE_COUNT=N makes Introduce stream N sentences instead of 3
 * (bench/run.sh uses it for a stream of 100 messages).
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connectc/json_codec.h"
#include "connectc/microhttpd.h"
#include "connectc/nghttp2.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"

static volatile sig_atomic_t stop;
static size_t introduce_count = 3;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

/* A very small Eliza. */
static const char *reply_to(const char *sentence) {
  if (strstr(sentence, "hello") || strstr(sentence, "Hello")) return "Hello. How are you feeling today?";
  if (strstr(sentence, "feel")) return "Do you often feel that way?";
  if (strstr(sentence, "because")) return "Is that the real reason?";
  if (strchr(sentence, '?')) return "Why do you ask?";
  return "Please tell me more.";
}

static int say(void *impl, connectc_server_call *call, const Connectrpc__Eliza__V1__SayRequest *request,
               connectc_response_writer *responses, connectc_error *error) {
  (void)impl;
  (void)call;
  (void)error;
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  resp.sentence = (char *)reply_to(request->sentence);
  return connectrpc_eliza_v1_eliza_service_say_send(responses, &resp);
}

static int introduce(void *impl, connectc_server_call *call,
                     const Connectrpc__Eliza__V1__IntroduceRequest *request, connectc_response_writer *responses,
                     connectc_error *error) {
  (void)impl;
  (void)call;
  if (strlen(request->name) > 100) {
    connectc_error_set(error, CONNECTC_CODE_INVALID_ARGUMENT, "name is longer than 100 bytes");
    return 1;
  }
  const char *name = request->name[0] ? request->name : "stranger";
  const char *lines[] = {"Hi %s. I'm Eliza.", "I'm a Rogerian psychotherapist, %s.",
                         "How are you feeling today, %s?"};
  for (size_t i = 0; i < introduce_count; i++) {
    char line[256];
    snprintf(line, sizeof line, lines[i % 3], name);
    Connectrpc__Eliza__V1__IntroduceResponse resp = CONNECTRPC__ELIZA__V1__INTRODUCE_RESPONSE__INIT;
    resp.sentence = line;
    int rv = connectrpc_eliza_v1_eliza_service_introduce_send(responses, &resp);
    if (rv) return rv;
  }
  return 0;
}

static int converse(void *impl, connectc_server_call *call,
                    const Connectrpc__Eliza__V1__ConverseRequest *const *requests, size_t n_requests,
                    connectc_response_writer *responses, connectc_error *error) {
  (void)impl;
  (void)error;
  connectc_headers_adds(connectc_server_call_response_trailers(call), "x-sentences-heard",
                        n_requests == 1 ? "one" : "several");
  for (size_t i = 0; i < n_requests; i++) {
    Connectrpc__Eliza__V1__ConverseResponse resp = CONNECTRPC__ELIZA__V1__CONVERSE_RESPONSE__INIT;
    resp.sentence = (char *)reply_to(requests[i]->sentence);
    int rv = connectrpc_eliza_v1_eliza_service_converse_send(responses, &resp);
    if (rv) return rv;
  }
  return 0;
}

static const connectrpc_eliza_v1_eliza_service_handlers eliza = {say, introduce, converse};

int main(int argc, char **argv) {
  /* eliza_server [port] [--h2 port]: HTTP/1.1 on the first port
   * (libmicrohttpd); with --h2, the same service over HTTP/2 (h2c by
   * prior knowledge: Connect, gRPC and gRPC-Web) on the second (nghttp2). */
  long port = 8080, h2_port = -1;
  int bad = 0, have_port = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--h2") == 0 && i + 1 < argc) {
      h2_port = strtol(argv[++i], NULL, 10);
      bad |= h2_port < 0 || h2_port > 65535;
    } else if (!have_port) {
      port = strtol(argv[i], NULL, 10);
      have_port = 1;
    } else {
      bad = 1;
    }
  }
  if (bad || port < 0 || port > 65535) {
    fprintf(stderr, "usage: %s [port] [--h2 port]\n", argv[0]);
    return 2;
  }
  const char *count = getenv("ELIZA_INTRODUCE_COUNT");
  if (count) {
    long n = strtol(count, NULL, 10);
    if (n < 1 || n > 100000) {
      fprintf(stderr, "ELIZA_INTRODUCE_COUNT: expected 1 to 100000\n");
      return 2;
    }
    introduce_count = (size_t)n;
  }
  connectc_type_registry *registry = NULL;
  connectc_codec *json = NULL;
  connectc_router *router = NULL;
  if (connectc_type_registry_new(NULL, &registry) != CONNECTC_OK ||
      eliza__register_types(registry) != CONNECTC_OK ||
      connectc_codec_json_new(registry, NULL, &json) != CONNECTC_OK ||
      connectc_router_new(NULL, NULL, &router) != CONNECTC_OK ||
      connectrpc_eliza_v1_eliza_service_register(router, &eliza, NULL, json) != CONNECTC_OK) {
    fprintf(stderr, "eliza_server: out of memory setting up the service\n");
    return 1;
  }

  connectc_mhd_config mcfg;
  memset(&mcfg, 0, sizeof mcfg);
  mcfg.port = (uint16_t)port;
  connectc_mhd_server *srv = NULL;
  int rv = connectc_mhd_start(&mcfg, router, &srv);
  if (rv != CONNECTC_OK) {
    fprintf(stderr, "eliza_server: cannot start on port %ld: %s\n", port, connectc_strerror(rv));
    connectc_router_del(router);
    connectc_codec_json_del(json);
    connectc_type_registry_del(registry);
    return 1;
  }
  connectc_h2_server *h2 = NULL;
  if (h2_port >= 0) {
    connectc_h2_config hcfg;
    memset(&hcfg, 0, sizeof hcfg);
    hcfg.port = (uint16_t)h2_port;
    rv = connectc_h2_start(&hcfg, router, &h2);
    if (rv != CONNECTC_OK) {
      fprintf(stderr, "eliza_server: cannot start HTTP/2 on port %ld: %s\n", h2_port,
              connectc_strerror(rv));
      connectc_mhd_stop(srv);
      connectc_router_del(router);
      connectc_codec_json_del(json);
      connectc_type_registry_del(registry);
      return 1;
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  printf("listening on http://127.0.0.1:%u\n", (unsigned)connectc_mhd_port(srv));
  if (h2) printf("listening (HTTP/2) on http://127.0.0.1:%u\n", (unsigned)connectc_h2_port(h2));
  fflush(stdout);
  while (!stop) pause();
  connectc_h2_stop(h2);
  connectc_mhd_stop(srv);
  connectc_router_del(router);
  connectc_codec_json_del(json);
  connectc_type_registry_del(registry);
  printf("stopped\n");
  return 0;
}
