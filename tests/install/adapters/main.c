/* A consumer of the installed adapters: starts a server on a free port,
 * calls an unknown procedure on it with the client, expects unimplemented;
 * starts and stops the HTTP/2 server on the same router. */
#include <connectc/curl.h>
#include <connectc/microhttpd.h>
#include <connectc/nghttp2.h>
#include <stdio.h>
#include <string.h>

static void on_close(connectc_client_call *c, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)c;
  (void)trailers;
  *(connectc_code *)ud = err->code;
}

int main(void) {
  connectc_router *router = NULL;
  (void)connectc_router_new(NULL, NULL, &router);
  connectc_mhd_server *srv = NULL;
  if (connectc_mhd_start(NULL, router, &srv) != CONNECTC_OK) return 1;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)connectc_mhd_port(srv));
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *t = NULL;
  if (connectc_curl_new(&cfg, NULL, &t) != CONNECTC_OK) return 1;
  connectc_client_config cc;
  memset(&cc, 0, sizeof cc);
  cc.procedure = "/no.Such/Method";
  cc.codec = "proto";
  connectc_code code = CONNECTC_CODE_OK;
  connectc_client_callbacks cb = {.on_close = on_close};
  connectc_client_call *call = NULL;
  connectc_client_call_new(&cc, &cb, &code, NULL, connectc_curl_now_ms(), &call);
  connectc_client_call_send(call, NULL, 0);
  connectc_curl_perform(t, call);
  connectc_client_call_del(call);
  connectc_curl_del(t);
  connectc_mhd_stop(srv);
  connectc_h2_server *h2 = NULL;
  if (connectc_h2_start(NULL, router, &h2) != CONNECTC_OK || connectc_h2_port(h2) == 0) return 1;
  connectc_h2_stop(h2);
  connectc_router_del(router);
  printf("adapters %s\n", connectc_code_name(code));
  return code == CONNECTC_CODE_UNIMPLEMENTED ? 0 : 1;
}
