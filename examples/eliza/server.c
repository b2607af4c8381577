/*
 * eliza_server: the Eliza service over HTTP/1.1 with libmicrohttpd.
 *
 *   eliza_server [port]      (default 8080; 0 picks a free port)
 *
 * It prints "listening on http://127.0.0.1:PORT" once it serves, speaks
 * proto and JSON, and stops gracefully on SIGINT/SIGTERM. The service is
 * implemented with the generated typed handler interface and mounted with
 * the generated registration function (asynchronous handlers: Introduce
 * streams through the send window).
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

/* The handlers are asynchronous: they may answer at once, as Say and
 * Converse do, or later. Introduce streams through the send window: it
 * sends while the client reads, and when the window is full it waits to be
 * told it is writable, so a client that stops reading holds at most the
 * window of the server's memory however many sentences are asked for. */

static void say(void *impl, connectc_responder *r, const Connectrpc__Eliza__V1__SayRequest *request) {
  (void)impl;
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  resp.sentence = (char *)reply_to(request->sentence);
  connectrpc_eliza_v1_eliza_service_say_respond(r, &resp);
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
    int rv = connectrpc_eliza_v1_eliza_service_introduce_respond(r, &resp);
    if (rv == CONNECTC_ERR_FULL) {
      connectc_responder_on_writable(r, introduce_pump, in); /* the client reads slowly */
      return;
    }
    if (rv != CONNECTC_OK) break;
    in->next++;
  }
  /* Done, or a send failed: a call that ended already (canceled, past its
   * deadline) fails sends with CONNECTC_ERR_STATE and finishes here too. */
  {
    connectc_responder_on_cancel(r, NULL, NULL);
    free(in);
    connectc_responder_finish(r, NULL);
  }
}

static void introduce(void *impl, connectc_responder *r,
                      const Connectrpc__Eliza__V1__IntroduceRequest *request) {
  (void)impl;
  if (strlen(request->name) > 100) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_INVALID_ARGUMENT, "name is longer than 100 bytes");
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
    return;
  }
  introduction *in = calloc(1, sizeof *in);
  if (!in) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory");
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
    return;
  }
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
    if (connectrpc_eliza_v1_eliza_service_converse_respond(r, &resp) != CONNECTC_OK) break;
  }
  connectc_responder_finish(r, NULL);
}

static const connectrpc_eliza_v1_eliza_service_async_handlers eliza = {say, introduce, converse};

int main(int argc, char **argv) {
  long port = argc > 1 ? strtol(argv[1], NULL, 10) : 8080;
  if (port < 0 || port > 65535) {
    fprintf(stderr, "usage: %s [port]\n", argv[0]);
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
  /* A stream holds at most 64 KiB for a client that does not read. */
  connectc_server_config rcfg;
  memset(&rcfg, 0, sizeof rcfg);
  rcfg.send_window_bytes = 64 * 1024;
  if (connectc_type_registry_new(NULL, &registry) != CONNECTC_OK ||
      eliza__register_types(registry) != CONNECTC_OK ||
      connectc_codec_json_new(registry, NULL, &json) != CONNECTC_OK ||
      connectc_router_new(&rcfg, NULL, &router) != CONNECTC_OK ||
      connectrpc_eliza_v1_eliza_service_register_async(router, &eliza, NULL, json) !=
          CONNECTC_OK) {
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
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  printf("listening on http://127.0.0.1:%u\n", (unsigned)connectc_mhd_port(srv));
  fflush(stdout);
  while (!stop) pause();
  connectc_mhd_stop(srv);
  connectc_router_del(router);
  connectc_codec_json_del(json);
  connectc_type_registry_del(registry);
  printf("stopped\n");
  return 0;
}
