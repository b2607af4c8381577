/*
 * eliza_server: the Eliza service over HTTP/1.1 with libmicrohttpd and,
 * with --h2, over HTTP/2 with nghttp2 (one router, one set of handlers).
 *
 *   eliza_server [--cors-origin ORIGIN]... [--h2 PORT] [port]
 *                         (port defaults to 8080; 0 picks a free port)
 *
 * It prints "listening on http://127.0.0.1:PORT" (and "listening (HTTP/2)
 * on ..." with --h2: h2c by prior knowledge) once it serves, speaks
 * proto and JSON over Connect, gRPC-Web (and gRPC over HTTP/1.1), and
 * stops gracefully on SIGINT/SIGTERM. The service is implemented with the
 * generated typed handler interface (asynchronous handlers) and mounted
 * with the generated registration function. Introduce streams through
 * the send window: a client that stops reading holds at most 64 KiB of
 * the server's memory, however many sentences it asked for.
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

/* The handlers are asynchronous: they may answer at once, as Say and
 * Converse do, or later. Introduce sends while the client reads, and when
 * the send window is full it waits to be told it is writable. */

static void say(void *impl, connectc_responder *r, const Connectrpc__Eliza__V1__SayRequest *request) {
  (void)impl;
  if (strspn(request->sentence, " \t") == strlen(request->sentence)) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    refuse_empty(&e);
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
    return;
  }
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  resp.sentence = (char *)reply_to(request->sentence);
  connectrpc_eliza_v1_eliza_service_say__respond(r, &resp);
  connectc_responder_finish(r, NULL);
}

typedef struct introduction {
  const char *name;
  size_t next;
} introduction;

static void introduce_on_cancel(connectc_responder *r, const connectc_error *why, void *arg) {
  (void)why;
  free(arg);
  connectc_responder_finish(r, NULL);
}

static void introduce_pump(connectc_responder *r, void *arg) {
  introduction *in = arg;
  static const char *const lines[] = {"Hi %s. I'm Eliza.", "I'm a Rogerian psychotherapist, %s.",
                                      "How are you feeling today, %s?"};
  while (in->next < introduce_count) {
    char line[256];
    snprintf(line, sizeof line, lines[in->next % 3], in->name);
    Connectrpc__Eliza__V1__IntroduceResponse resp = CONNECTRPC__ELIZA__V1__INTRODUCE_RESPONSE__INIT;
    resp.sentence = line;
    int rv = connectrpc_eliza_v1_eliza_service_introduce__respond(r, &resp);
    if (rv == CONNECTC_ERR_FULL) {
      connectc_responder_on_writable(r, introduce_pump, in); /* the client reads slowly */
      return;
    }
    if (rv != CONNECTC_OK) break;
    in->next++;
  }
  /* Done, or a send failed: finish either way. */
  connectc_responder_on_cancel(r, NULL, NULL);
  free(in);
  connectc_responder_finish(r, NULL);
}

static void introduce(void *impl, connectc_responder *r,
                      const Connectrpc__Eliza__V1__IntroduceRequest *request) {
  (void)impl;
  connectc_error e;
  connectc_error_init(&e, NULL);
  introduction *in = strlen(request->name) > 100 ? NULL : calloc(1, sizeof *in);
  if (!in) {
    if (strlen(request->name) > 100)
      connectc_error_set(&e, CONNECTC_CODE_INVALID_ARGUMENT, "name is longer than 100 bytes");
    else
      connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory");
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
    return;
  }
  connectc_error_reset(&e);
  in->name = request->name[0] ? request->name : "stranger"; /* valid until the finish */
  connectc_responder_on_cancel(r, introduce_on_cancel, in);
  introduce_pump(r, in);
}

static void converse(void *impl, connectc_responder *r,
                     const Connectrpc__Eliza__V1__ConverseRequest *const *requests, size_t n_requests) {
  (void)impl;
  connectc_responder_add_trailer(r, "x-sentences-heard", n_requests == 1 ? "one" : "several");
  for (size_t i = 0; i < n_requests; i++) {
    Connectrpc__Eliza__V1__ConverseResponse resp = CONNECTRPC__ELIZA__V1__CONVERSE_RESPONSE__INIT;
    resp.sentence = (char *)reply_to(requests[i]->sentence);
    if (connectrpc_eliza_v1_eliza_service_converse__respond(r, &resp) != CONNECTC_OK) break;
  }
  connectc_responder_finish(r, NULL);
}

static const connectrpc_eliza_v1_eliza_service__async_handlers eliza = {
    .say = say, .introduce = introduce, .converse = converse};

static int usage(FILE *to, const char *argv0, int rv) {
  fprintf(to,
          "usage: %s [--cors-origin ORIGIN]... [--h2 PORT] [port]\n"
          "  port                  TCP port on 127.0.0.1 (default 8080; 0 picks a free one)\n"
          "  --h2 PORT             also serve over HTTP/2 (h2c by prior knowledge: Connect,\n"
          "                        gRPC and gRPC-Web; the nghttp2 adapter) on PORT\n"
          "  --cors-origin ORIGIN  let pages of ORIGIN (e.g. http://localhost:8000, or '*' for\n"
          "                        any) call from a browser; repeatable; CORS is off without it\n"
          "  ELIZA_INTRODUCE_COUNT=N  Introduce streams N sentences (default 3)\n",
          argv0);
  return rv;
}

#define MAX_ORIGINS 16

int main(int argc, char **argv) {
  long port = 8080, h2_port = -1;
  const char *origins[MAX_ORIGINS + 1] = {NULL};
  size_t n_origins = 0;
  int have_port = 0;
  for (int i = 1; i < argc; i++) {
    const char *origin = NULL;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      return usage(stdout, argv[0], 0);
    } else if (strcmp(argv[i], "--h2") == 0 && i + 1 < argc) {
      char *end;
      h2_port = strtol(argv[++i], &end, 10);
      if (*end || h2_port < 0 || h2_port > 65535) return usage(stderr, argv[0], 2);
      continue;
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
  scfg.send_window_bytes = 64 * 1024; /* what a stream may hold for a stalled reader */

  connectc_type_registry *registry = NULL;
  connectc_codec *json = NULL;
  connectc_router *router = NULL;
  if (connectc_type_registry_new(NULL, &registry) != CONNECTC_OK ||
      eliza__register_types(registry) != CONNECTC_OK ||
      connectc_codec_json_new(registry, NULL, &json) != CONNECTC_OK ||
      connectc_router_new(&scfg, NULL, &router) != CONNECTC_OK ||
      connectrpc_eliza_v1_eliza_service__register_async(router, &eliza, NULL, json) !=
          CONNECTC_OK ||
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
  for (size_t i = 0; i < n_origins; i++) printf("CORS: allowing origin %s\n", origins[i]);
  printf("listening on http://127.0.0.1:%u\n", (unsigned)connectc_mhd_port(srv));
  if (h2) printf("listening (HTTP/2) on http://127.0.0.1:%u\n", (unsigned)connectc_h2_port(h2));
  fflush(stdout);
  while (!stop) pause();
  connectc_health_shutdown(health); /* Watch calls end before the stop */
  connectc_h2_stop(h2);
  connectc_mhd_stop(srv);
  connectc_router_del(router);
  connectc_health_del(health);
  connectc_codec_json_del(json);
  connectc_type_registry_del(registry);
  printf("stopped\n");
  return 0;
}
