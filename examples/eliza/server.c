/*
 * eliza_server: the Eliza service over HTTP/1.1 with libmicrohttpd.
 *
 *   eliza_server [port]      (default 8080; 0 picks a free port)
 *
 * It prints "listening on http://127.0.0.1:PORT" once it serves, and stops
 * gracefully on SIGINT/SIGTERM. It speaks proto and JSON. The handlers use
 * the generated method table and protobuf-c messages with the call's codec; typed
 * handler stubs from the generator replace this glue in a later step.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connectc/codec.h"
#include "connectc/json_codec.h"
#include "connectc/microhttpd.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"

static volatile sig_atomic_t stop;
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

static connectc_codec *json_codec;

/* The codec the client chose (the router accepts proto and JSON). */
static const connectc_codec *codec_of(connectc_server_call *s) {
  return strcmp(connectc_server_call_codec(s), "json") == 0 ? json_codec : connectc_codec_proto();
}

/* Decodes one request message with the call's codec; on failure finishes
 * the call with the codec's error (invalid_argument). */
static ProtobufCMessage *decode(connectc_server_call *s, const ProtobufCMessageDescriptor *desc,
                                const uint8_t *data, size_t len) {
  const connectc_codec *codec = codec_of(s);
  ProtobufCMessage *m = NULL;
  connectc_error e;
  connectc_error_init(&e, NULL);
  if (codec->unmarshal(codec, desc, data, len, NULL, NULL, &m, &e) != CONNECTC_OK) {
    connectc_server_call_finish(s, &e);
    m = NULL;
  }
  connectc_error_reset(&e);
  return m;
}

static void send_message(connectc_server_call *s, const ProtobufCMessage *m) {
  const connectc_codec *codec = codec_of(s);
  uint8_t *bytes;
  size_t len;
  if (codec->marshal(codec, m, NULL, &bytes, &len, NULL) == CONNECTC_OK) {
    connectc_server_call_send(s, bytes, len);
    connectc_free(NULL, bytes);
  }
}

/* Say: unary. */
static int say_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)ud;
  Connectrpc__Eliza__V1__SayRequest *req = (Connectrpc__Eliza__V1__SayRequest *)decode(
      s, &connectrpc__eliza__v1__say_request__descriptor, data, len);
  if (!req) return 1;
  Connectrpc__Eliza__V1__SayResponse resp = CONNECTRPC__ELIZA__V1__SAY_RESPONSE__INIT;
  resp.sentence = (char *)reply_to(req->sentence);
  send_message(s, &resp.base);
  connectc_message_free(&req->base, NULL);
  return 0;
}

static void finish_ok(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_server_call_finish(s, NULL);
}

/* Introduce: server streaming. */
static int introduce_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)ud;
  Connectrpc__Eliza__V1__IntroduceRequest *req = (Connectrpc__Eliza__V1__IntroduceRequest *)decode(
      s, &connectrpc__eliza__v1__introduce_request__descriptor, data, len);
  if (!req) return 1;
  char line[256];
  const char *name = req->name && req->name[0] ? req->name : "stranger";
  const char *lines[] = {"Hi %s. I'm Eliza.", "I'm a Rogerian psychotherapist, %s.",
                         "How are you feeling today, %s?"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(line, sizeof line, lines[i], name);
    Connectrpc__Eliza__V1__IntroduceResponse resp = CONNECTRPC__ELIZA__V1__INTRODUCE_RESPONSE__INIT;
    resp.sentence = line;
    send_message(s, &resp.base);
  }
  connectc_message_free(&req->base, NULL);
  return 0;
}

/* Converse: bidirectional, answered message by message. */
static int converse_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)ud;
  Connectrpc__Eliza__V1__ConverseRequest *req = (Connectrpc__Eliza__V1__ConverseRequest *)decode(
      s, &connectrpc__eliza__v1__converse_request__descriptor, data, len);
  if (!req) return 1;
  Connectrpc__Eliza__V1__ConverseResponse resp = CONNECTRPC__ELIZA__V1__CONVERSE_RESPONSE__INIT;
  resp.sentence = (char *)reply_to(req->sentence);
  send_message(s, &resp.base);
  connectc_message_free(&req->base, NULL);
  return 0;
}

int main(int argc, char **argv) {
  long port = argc > 1 ? strtol(argv[1], NULL, 10) : 8080;
  if (port < 0 || port > 65535) {
    fprintf(stderr, "usage: %s [port]\n", argv[0]);
    return 2;
  }
  connectc_type_registry *registry = connectc_type_registry_new(NULL);
  eliza__register_types(registry);
  json_codec = connectc_codec_json_new(registry, NULL);
  connectc_router *router = connectc_router_new(NULL, NULL); /* proto and JSON */
  const connectc_route routes[] = {
      {&connectrpc_eliza_v1_eliza_service_method_say.desc, {say_message, finish_ok, NULL}, NULL, NULL, NULL},
      {&connectrpc_eliza_v1_eliza_service_method_introduce.desc,
       {introduce_message, finish_ok, NULL}, NULL, NULL, NULL},
      {&connectrpc_eliza_v1_eliza_service_method_converse.desc,
       {converse_message, finish_ok, NULL}, NULL, NULL, NULL},
  };
  for (size_t i = 0; i < 3; i++) connectc_router_add(router, &routes[i]);

  connectc_mhd_config mcfg;
  memset(&mcfg, 0, sizeof mcfg);
  mcfg.port = (uint16_t)port;
  connectc_mhd_server *srv = NULL;
  int rv = connectc_mhd_start(&mcfg, router, &srv);
  if (rv != CONNECTC_OK) {
    fprintf(stderr, "eliza_server: cannot start on port %ld: %s\n", port, connectc_strerror(rv));
    connectc_router_del(router);
    connectc_codec_json_del(json_codec);
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
  connectc_codec_json_del(json_codec);
  connectc_type_registry_del(registry);
  printf("stopped\n");
  return 0;
}
