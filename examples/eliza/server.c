/*
 * eliza_server: the Eliza service over HTTP/1.1 with libmicrohttpd.
 *
 *   eliza_server [--cors-origin ORIGIN]... [port]   (default 8080; 0 picks
 *                                                    a free port)
 *
 * It prints "listening on http://127.0.0.1:PORT" once it serves, speaks
 * proto and JSON over Connect, gRPC-Web (and gRPC over HTTP/1.1), and
 * stops gracefully on SIGINT/SIGTERM. The service is implemented with the
 * generated typed handler interface and mounted with the generated
 * registration function.
 *
 * --cors-origin ORIGIN lets pages of that origin call the server from a
 * browser ("http://localhost:8000", exactly as the browser sends it in
 * Origin; "*" allows any origin); repeat it for more origins. Without it
 * CORS is off: preflights get 405 and browsers refuse the responses.
 *
 * Say answers an empty sentence with invalid_argument and a
 * connectrpc.eliza.v1.FieldViolation detail (an error with details for
 * clients to show).
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

#include "connectc/health.h"
#include "connectc/json_codec.h"
#include "connectc/reflection.h"
#include "connectc/microhttpd.h"
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

/* Sets the error Say returns for an empty sentence: invalid_argument with a
 * FieldViolation detail. Returns 1 (the handler's error return). */
static int refuse_empty(connectc_error *error) {
  connectc_error_set(error, CONNECTC_CODE_INVALID_ARGUMENT,
                     "say something: the sentence is empty");
  Connectrpc__Eliza__V1__FieldViolation v = CONNECTRPC__ELIZA__V1__FIELD_VIOLATION__INIT;
  v.field = "sentence";
  v.description = "Eliza needs a sentence to answer; this one has no words";
  uint8_t buf[128];
  size_t n = connectrpc__eliza__v1__field_violation__get_packed_size(&v);
  if (n <= sizeof buf) {
    connectrpc__eliza__v1__field_violation__pack(&v, buf);
    (void)connectc_error_add_detail(error, "connectrpc.eliza.v1.FieldViolation", buf, n);
  }
  return 1;
}

static int say(void *impl, connectc_server_call *call, const Connectrpc__Eliza__V1__SayRequest *request,
               connectc_response_writer *responses, connectc_error *error) {
  (void)impl;
  (void)call;
  if (strspn(request->sentence, " \t") == strlen(request->sentence)) return refuse_empty(error);
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  resp.sentence = (char *)reply_to(request->sentence);
  return connectrpc_eliza_v1_eliza_service_say__send(responses, &resp);
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
    int rv = connectrpc_eliza_v1_eliza_service_introduce__send(responses, &resp);
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
    int rv = connectrpc_eliza_v1_eliza_service_converse__send(responses, &resp);
    if (rv) return rv;
  }
  return 0;
}

static const connectrpc_eliza_v1_eliza_service__handlers eliza = {
    .say = say, .introduce = introduce, .converse = converse};

static int usage(FILE *to, const char *argv0, int rv) {
  fprintf(to,
          "usage: %s [--cors-origin ORIGIN]... [port]\n"
          "  port                  TCP port on 127.0.0.1 (default 8080; 0 picks a free one)\n"
          "  --cors-origin ORIGIN  let pages of ORIGIN (e.g. http://localhost:8000, or '*' for\n"
          "                        any) call from a browser; repeatable; CORS is off without it\n"
          "  ELIZA_INTRODUCE_COUNT=N  Introduce streams N sentences (default 3)\n",
          argv0);
  return rv;
}

#define MAX_ORIGINS 16

int main(int argc, char **argv) {
  long port = 8080;
  const char *origins[MAX_ORIGINS + 1] = {NULL};
  size_t n_origins = 0;
  int have_port = 0;
  for (int i = 1; i < argc; i++) {
    const char *origin = NULL;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      return usage(stdout, argv[0], 0);
    } else if (strcmp(argv[i], "--cors-origin") == 0) {
      origin = i + 1 < argc ? argv[++i] : "";
    } else if (strncmp(argv[i], "--cors-origin=", 14) == 0) {
      origin = argv[i] + 14;
    } else if (!have_port && argv[i][0] >= '0' && argv[i][0] <= '9') {
      char *end;
      port = strtol(argv[i], &end, 10);
      if (*end || port < 0 || port > 65535) return usage(stderr, argv[0], 2);
      have_port = 1;
      continue;
    } else {
      return usage(stderr, argv[0], 2);
    }
    if (!origin[0] || n_origins == MAX_ORIGINS) return usage(stderr, argv[0], 2);
    origins[n_origins++] = origin;
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
  /* CORS for browsers, on only when origins were given. */
  const connectc_cors cors = {.allowed_origins = origins};
  connectc_health *health = NULL; /* grpc.health.v1, for probes and grpcurl */
  const connectc_file_descriptor *const files[] = {&eliza__file_descriptor}; /* reflection */
  connectc_server_config scfg;
  memset(&scfg, 0, sizeof scfg);
  if (n_origins) scfg.cors = &cors;

  connectc_type_registry *registry = NULL;
  connectc_codec *json = NULL;
  connectc_router *router = NULL;
  if (connectc_type_registry_new(NULL, &registry) != CONNECTC_OK ||
      eliza__register_types(registry) != CONNECTC_OK ||
      connectc_codec_json_new(registry, NULL, &json) != CONNECTC_OK ||
      connectc_router_new(&scfg, NULL, &router) != CONNECTC_OK ||
      connectrpc_eliza_v1_eliza_service__register(router, &eliza, NULL, json) != CONNECTC_OK ||
      connectc_health_new(NULL, &health) != CONNECTC_OK ||
      connectc_health_set(health, CONNECTRPC_ELIZA_V1_ELIZA_SERVICE__NAME, CONNECTC_HEALTH_SERVING) ||
      connectc_health_register(router, health, json) != CONNECTC_OK ||
      connectc_reflection_register(router, files, 1, json) != CONNECTC_OK) {
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
    connectc_health_del(health);
    connectc_codec_json_del(json);
    connectc_type_registry_del(registry);
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  for (size_t i = 0; i < n_origins; i++) printf("CORS: allowing origin %s\n", origins[i]);
  printf("listening on http://127.0.0.1:%u\n", (unsigned)connectc_mhd_port(srv));
  fflush(stdout);
  while (!stop) pause();
  connectc_health_shutdown(health); /* Watch calls end before the stop */
  connectc_mhd_stop(srv);
  connectc_router_del(router);
  connectc_health_del(health);
  connectc_codec_json_del(json);
  connectc_type_registry_del(registry);
  printf("stopped\n");
  return 0;
}
