/* A consumer of the installed core alone (no protobuf-c anywhere): the
 * header and library versions, and a server call refusing a request. */
#include <connectc/core.h>
#include <stdio.h>

int main(void) {
  connectc_router *router = NULL;
  connectc_server_call *call = NULL;
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  if (connectc_router_new(NULL, NULL, &router) != CONNECTC_OK ||
      connectc_router_call_new(router, "/no.Such/Method", 15, &call) != CONNECTC_OK)
    return 1;
  connectc_headers_adds(&h, "content-type", "application/proto");
  int rv = connectc_server_call_recv_head(call, "POST", NULL, &h, 0);
  connectc_response_head head;
  int status = rv == CONNECTC_ERR_PROTOCOL && connectc_server_call_response_head(call, &head) == 0
                   ? head.status
                   : -1;
  int same = CONNECTC_VERSION_NUMBER == connectc_version_number();
  printf("core %s %s %s %d\n", CONNECTC_VERSION_STRING, connectc_version(),
         same ? "same" : "different", status);
  connectc_headers_reset(&h);
  connectc_router_call_del(router, call);
  connectc_router_del(router);
  return 0;
}
