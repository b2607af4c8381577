/*
 * transport.h: the interface between client calls and whatever moves their
 * bytes. The typed client layer (libconnectc's client.h) runs calls through
 * a connectc_transport; the libcurl and Mongoose adapters provide one, and
 * an application can write its own on any HTTP library or event loop.
 */
#ifndef CONNECTC_TRANSPORT_H
#define CONNECTC_TRANSPORT_H

#include "connectc/client_call.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What moves client calls. `perform` runs `call` to completion (its
 * on_close has fired when it returns); `now_ms` tells the time of the clock
 * the transport enforces deadlines with.
 *
 * Asynchronous transports also fill `start` and `wake` (both NULL for a
 * blocking-only transport; then connectc_async_call_* refuse with
 * CONNECTC_ERR_UNSUPPORTED):
 *  - start(ctx, call, released, arg) begins moving `call` and returns at
 *    once (the request head must be available). From then on the transport
 *    drives the call from its own loop; once it no longer touches the call
 *    (after its on_close, outside every callback) it calls released(arg)
 *    exactly once. When start fails it returns a negative CONNECTC_ERR_*
 *    and never calls released.
 *  - wake(ctx, call): the call has new request bytes, closed its send side
 *    or was canceled. */
typedef struct connectc_transport {
  int (*perform)(void *ctx, connectc_client_call *call);
  int64_t (*now_ms)(void *ctx);
  void *ctx;
  int (*start)(void *ctx, connectc_client_call *call, void (*released)(void *arg), void *arg);
  void (*wake)(void *ctx, connectc_client_call *call);
} connectc_transport;

#ifdef __cplusplus
}
#endif

#endif
