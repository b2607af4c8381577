/* A consumer of the installed Mongoose adapters: a server on its own
 * listener and the client transport on one manager; it calls an unknown
 * procedure and expects unimplemented. */
#include <connectc/mongoose.h>
#include <stdio.h>
#include <string.h>

#include "mongoose.h"

static void on_close(connectc_client_call *c, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)c;
  (void)trailers;
  *(connectc_code *)ud = err->code;
}

int main(void) {
  mg_log_set(MG_LL_NONE);
  struct mg_mgr mgr;
  mg_mgr_init(&mgr);
  connectc_router *router = NULL;
  (void)connectc_router_new(NULL, NULL, &router);
  connectc_mg_server *srv = NULL;
  uint16_t port = 0;
  if (connectc_mg_server_new(NULL, router, &mgr, &srv) != CONNECTC_OK ||
      connectc_mg_listen(srv, "http://127.0.0.1:0", &port) != CONNECTC_OK)
    return 1;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)port);
  connectc_mg_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_mg_client *t = NULL;
  if (connectc_mg_client_new(&cfg, &mgr, NULL, &t) != CONNECTC_OK) return 1;
  connectc_client_config cc;
  memset(&cc, 0, sizeof cc);
  cc.procedure = "/no.Such/Method";
  cc.codec = "proto";
  connectc_code code = CONNECTC_CODE_OK;
  connectc_client_callbacks cb = {.on_close = on_close};
  connectc_client_call *call = NULL;
  connectc_client_call_new(&cc, &cb, &code, NULL, connectc_mg_now_ms(), &call);
  connectc_client_call_send(call, NULL, 0);
  connectc_mg_client_perform(t, call);
  connectc_client_call_del(call);
  connectc_mg_client_del(t);
  connectc_mg_server_del(srv);
  mg_mgr_free(&mgr);
  connectc_router_del(router);
  printf("mongoose %s\n", connectc_code_name(code));
  return code == CONNECTC_CODE_UNIMPLEMENTED ? 0 : 1;
}
