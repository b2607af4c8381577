/*
 * eliza_mongoose: an existing Mongoose program (it serves a web page) that
 * adds the Eliza service on its own mg_mgr, next to its other routes.
 *
 *   eliza_mongoose [--connect-only] [port]   (default 8080; 0 picks a free port)
 *
 * The program keeps its own listener and event handler; the one line
 * `if (connectc_mg_serve(srv, c, ev, ev_data)) return;` hands the requests
 * for the Eliza service's paths to connectc, which gives each connection
 * back once the call is answered. With --connect-only it serves the Eliza
 * service alone, on a listener of connectc's own (connectc_mg_listen) on
 * the same mg_mgr: no page, and no head parse by Mongoose before
 * connectc's (bench/run.sh measures both). It prints "listening on
 * http://127.0.0.1:PORT" once it serves and stops gracefully on
 * SIGINT/SIGTERM. ELIZA_INTRODUCE_COUNT=N makes Introduce stream N
 * sentences instead of 3 (bench/run.sh).
 *
 * Mongoose is GPLv2 or commercial; this program compiles mongoose.c from
 * the folder CONNECTC_MONGOOSE_DIR names, as its users do.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/json_codec.h"
#include "connectc/mongoose.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"
#include "mongoose.h"

static volatile sig_atomic_t stop;
static size_t introduce_count = 3;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

/* ---- the service ---- */

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
  return connectrpc_eliza_v1_eliza_service_say__send(responses, &resp);
}

static int introduce(void *impl, connectc_server_call *call,
                     const Connectrpc__Eliza__V1__IntroduceRequest *request,
                     connectc_response_writer *responses, connectc_error *error) {
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
  (void)call;
  (void)error;
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

/* ---- the program's own web page ---- */

static const char page[] =
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Eliza</title></head>\n"
    "<body><h1>Talk to Eliza</h1>\n"
    "<form id=\"f\"><input id=\"s\" value=\"I feel happy\"><button>Say</button></form>\n"
    "<p id=\"a\"></p>\n<script>\n"
    "document.getElementById('f').onsubmit = async (e) => {\n"
    "  e.preventDefault();\n"
    "  const r = await fetch('/connectrpc.eliza.v1.ElizaService/Say', {method: 'POST',\n"
    "    headers: {'content-type': 'application/json'},\n"
    "    body: JSON.stringify({sentence: document.getElementById('s').value})});\n"
    "  document.getElementById('a').textContent = (await r.json()).sentence;\n"
    "};\n</script></body></html>\n";

/* The program's event handler: its page, and Eliza through connectc. */
static void handler(struct mg_connection *c, int ev, void *ev_data) {
  connectc_mg_server *srv = c->fn_data;
  if (connectc_mg_serve(srv, c, ev, ev_data)) return;
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = ev_data;
    if (mg_match(hm->uri, mg_str("/"), NULL))
      mg_http_reply(c, 200, "Content-Type: text/html; charset=utf-8\r\n", "%s", page);
    else
      mg_http_reply(c, 404, "Content-Type: text/plain\r\n", "not found\n");
  }
}

int main(int argc, char **argv) {
  int connect_only = 0;
  int arg = 1;
  if (arg < argc && strcmp(argv[arg], "--connect-only") == 0) {
    connect_only = 1;
    arg++;
  }
  char *end = NULL;
  long port = arg < argc ? strtol(argv[arg], &end, 10) : 8080;
  if ((arg < argc && (end == argv[arg] || *end)) || arg + 1 < argc || port < 0 ||
      port > 65535) {
    fprintf(stderr, "usage: %s [--connect-only] [port]\n", argv[0]);
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
  mg_log_set(MG_LL_NONE); /* Mongoose logs to stdout otherwise */
  struct mg_mgr mgr;
  mg_mgr_init(&mgr);

  connectc_type_registry *registry = NULL;
  connectc_codec *json = NULL;
  connectc_router *router = NULL;
  connectc_mg_server *srv = NULL;
  if (connectc_type_registry_new(NULL, &registry) != CONNECTC_OK ||
      eliza__register_types(registry) != CONNECTC_OK ||
      connectc_codec_json_new(registry, NULL, &json) != CONNECTC_OK ||
      connectc_router_new(NULL, NULL, &router) != CONNECTC_OK ||
      connectrpc_eliza_v1_eliza_service__register(router, &eliza, NULL, json) != CONNECTC_OK ||
      connectc_mg_server_new(NULL, router, &mgr, &srv) != CONNECTC_OK) {
    fprintf(stderr, "eliza_mongoose: setting up the service failed\n");
    return 1;
  }
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%ld", port);
  unsigned bound = 0;
  if (connect_only) {
    uint16_t p = 0;
    if (connectc_mg_listen(srv, url, &p) != CONNECTC_OK) {
      fprintf(stderr, "eliza_mongoose: cannot listen on port %ld\n", port);
      return 1;
    }
    bound = p;
  } else {
    struct mg_connection *lsn = mg_http_listen(&mgr, url, handler, srv);
    if (!lsn) {
      fprintf(stderr, "eliza_mongoose: cannot listen on port %ld\n", port);
      return 1;
    }
    bound = mg_ntohs(lsn->loc.port);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  printf("listening on http://127.0.0.1:%u\n", bound);
  fflush(stdout);
  while (!stop) mg_mgr_poll(&mgr, 10);
  connectc_mg_server_del(srv);
  mg_mgr_free(&mgr);
  connectc_router_del(router);
  connectc_codec_json_del(json);
  connectc_type_registry_del(registry);
  printf("stopped\n");
  return 0;
}
