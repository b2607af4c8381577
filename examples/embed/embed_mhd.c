/*
 * embed_mhd: a Connect service mounted next to other routes in a program's
 * own libmicrohttpd daemon. The program keeps its access handler; requests
 * under "/demo.v1.Echo/" go to the connectc router, "/health" is answered
 * by the program itself.
 *
 * It starts the daemon on a free port, calls both routes (the Connect one
 * with the libcurl adapter, /health with plain libcurl), prints what came
 * back and exits 0 when both answered as expected.
 */
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "connectc/curl.h"
#include "connectc/microhttpd.h"

static const connectc_method_desc echo = {.procedure = "/demo.v1.Echo/Echo",
                                          .stream_type = CONNECTC_STREAM_UNARY};

static int echo_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)ud;
  return connectc_server_call_send(s, data, len) == CONNECTC_OK ? 0 : 1;
}
static void echo_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_server_call_finish(s, NULL);
}

/* The program's own access handler. */
static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version, const char *upload,
                                      size_t *upload_size, void **req_cls) {
  (void)version;
  connectc_mhd_embed *embed = cls;
  if (strncmp(url, "/demo.v1.Echo/", 14) == 0)
    return connectc_mhd_handle(embed, conn, url, method, upload, upload_size, req_cls);
  static const char ok[] = "ok\n";
  struct MHD_Response *r =
      MHD_create_response_from_buffer(sizeof ok - 1, (void *)(uintptr_t)ok, MHD_RESPMEM_PERSISTENT);
  enum MHD_Result res = MHD_queue_response(conn, strcmp(url, "/health") == 0 ? 200 : 404, r);
  MHD_destroy_response(r);
  return res;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)conn;
  /* Only Connect requests carry state in req_cls. */
  if (*req_cls) connectc_mhd_completed(cls, req_cls, toe);
}

static void on_close(connectc_client_call *c, const connectc_error *err, const connectc_headers *t,
                     void *ud) {
  (void)c;
  (void)t;
  *(connectc_code *)ud = err->code;
}
static int on_message(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)c;
  (void)ud;
  printf("Connect route answered: %.*s\n", (int)n, (const char *)d);
  return 0;
}
static size_t sink(char *p, size_t s, size_t n, void *ud) {
  printf("/health answered: %.*s", (int)(s * n), p);
  *(int *)ud = 1;
  return s * n;
}

int main(void) {
  connectc_router *router = NULL;
  connectc_mhd_embed *embed = NULL;
  connectc_route route = {
      .method = &echo,
      .callbacks = {.on_message = echo_message, .on_end = echo_end},
  };
  if (connectc_router_new(NULL, NULL, &router) != CONNECTC_OK ||
      connectc_router_add(router, &route) != CONNECTC_OK ||
      connectc_mhd_embed_new(NULL, router, &embed) != CONNECTC_OK) {
    fprintf(stderr, "embed_mhd: setup failed\n");
    return 1;
  }
  /* The daemon is the program's own; it needs suspend/resume for connectc. */
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC, 0, NULL, NULL,
      access_handler, embed, MHD_OPTION_NOTIFY_COMPLETED, completed, embed,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
  if (!d) return 1;
  unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", port);

  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *t = NULL;
  connectc_curl_new(&cfg, NULL, &t);
  connectc_client_config cc;
  memset(&cc, 0, sizeof cc);
  cc.procedure = echo.procedure;
  cc.codec = "proto";
  connectc_code code = CONNECTC_CODE_UNKNOWN;
  connectc_client_callbacks cb = {.on_message = on_message, .on_close = on_close};
  connectc_client_call *call = NULL;
  connectc_client_call_new(&cc, &cb, &code, NULL, connectc_curl_now_ms(), &call);
  connectc_client_call_send(call, (const uint8_t *)"ping", 4);
  connectc_curl_perform(t, call);
  connectc_client_call_del(call);
  connectc_curl_del(t);

  int health = 0;
  char hurl[80];
  snprintf(hurl, sizeof hurl, "%s/health", url);
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, hurl);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &health);
  curl_easy_perform(h);
  curl_easy_cleanup(h);

  MHD_stop_daemon(d);
  connectc_mhd_embed_del(embed);
  connectc_router_del(router);
  int ok = code == CONNECTC_CODE_OK && health;
  printf("%s\n", ok ? "both routes answered" : "a route failed");
  return ok ? 0 : 1;
}
