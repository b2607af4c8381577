/*
 * service.h: typed, synchronous server handlers. Generated code declares a
 * struct of typed handler functions per service and a registration
 * function that mounts them on a router (router.h) through
 * connectc_router_add_typed().
 *
 * A handler runs on the transport's thread once the request is complete
 * (half-duplex: every request message is read first). It sends its
 * response(s) with the generated typed `<rpc>_send` function (unary and
 * client-streaming methods send exactly one), may set response headers and
 * trailers through connectc_server_call_response_headers/_trailers, and
 * returns 0, or non-zero with `error` set to fail the call (an error left at
 * code OK becomes `unknown`). A NULL handler answers `unimplemented`.
 *
 * Because requests are collected before the handler runs, one call keeps at
 * most 16 times the router's receive limit in request bytes and at most
 * CONNECTC_TYPED_MAX_REQUESTS messages; past that it fails with
 * resource_exhausted.
 */
#ifndef CONNECTC_SERVICE_H
#define CONNECTC_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "connectc/codec.h"
#include "connectc/router.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CONNECTC_TYPED_MAX_REQUESTS 65536u

/* Where a handler sends response messages. Valid during the handler. */
typedef struct connectc_stream connectc_stream;

/* Marshals `msg` with the call's codec and sends it. Returns CONNECTC_OK
 * or a negative CONNECTC_ERR_* (CONNECTC_ERR_STATE for a second response
 * of a unary method, CONNECTC_ERR_LIMIT over the send limit). */
int connectc_stream_send(connectc_stream *stream, const ProtobufCMessage *msg);

/* Calls the typed handler of one method: generated, one per method. */
typedef int (*connectc_typed_invoke)(const void *handlers, void *impl,
                                     connectc_server_call *call,
                                     const ProtobufCMessage *const *requests, size_t n_requests,
                                     connectc_stream *responses, connectc_error *error);

/* One typed method (generated). */
typedef struct connectc_typed_method {
  const connectc_method_desc *desc;
  const ProtobufCMessageDescriptor *input;
  const ProtobufCMessageDescriptor *output;
  connectc_typed_invoke invoke;
  int implemented; /* 0: the handler pointer is NULL */
} connectc_typed_method;

/*
 * Mounts one typed method. `handlers` (the generated struct) and `impl`
 * (the application's pointer, handed to every handler) are borrowed and
 * must outlive the router. `json` (may be NULL) decodes and encodes
 * application/json calls; without it only proto is served. The method
 * entry itself is copied.
 */
int connectc_router_add_typed(connectc_router *router, const connectc_typed_method *method,
                              const void *handlers, void *impl, const connectc_codec *json);

#ifdef __cplusplus
}
#endif

#endif
