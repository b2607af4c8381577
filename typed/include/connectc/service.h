/*
 * service.h: typed server handlers, synchronous and asynchronous. Generated
 * code declares a struct of typed handler functions per service (in both
 * variants) and registration functions that mount them on a router
 * (router.h) through connectc_router_add_typed().
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
typedef struct connectc_response_writer connectc_response_writer;

/* Marshals `msg` with the call's codec and sends it. Returns CONNECTC_OK
 * or a negative CONNECTC_ERR_* (CONNECTC_ERR_STATE for a second response
 * of a unary method, CONNECTC_ERR_LIMIT over the send limit). A synchronous
 * handler runs on the server's thread and its messages wait in memory
 * until it returns, so a stream larger than the send window
 * (connectc_server_config.send_window_bytes) fails: the call finishes with
 * resource_exhausted and CONNECTC_ERR_LIMIT is returned. Stream more with
 * an asynchronous handler and connectc_responder_on_writable. */
CONNECTC_API int connectc_response_writer_send(connectc_response_writer *stream, const ProtobufCMessage *msg);

/* Calls the typed handler of one method: generated, one per method. */
typedef int (*connectc_typed_invoke)(const void *handlers, void *impl,
                                     connectc_server_call *call,
                                     const ProtobufCMessage *const *requests, size_t n_requests,
                                     connectc_response_writer *responses, connectc_error *error);

/* ------------------------------------------------------------------ */
/* Asynchronous handlers                                               */
/* ------------------------------------------------------------------ */

/*
 * An asynchronous handler is called on the transport's thread once the
 * request is complete, like a synchronous one, but it does not answer
 * before returning: it keeps the `connectc_responder` and answers later,
 * from any thread, with connectc_responder_send (generated typed form:
 * `<rpc>_respond`) and exactly one connectc_responder_finish, which
 * releases the responder.
 *
 * The requests handed to the handler stay valid until that finish. Every
 * responder function takes the transport's lock (connectc_server_call_run),
 * so they are safe from any thread, one at a time per responder. If the
 * client goes away or the deadline passes, sends fail with
 * CONNECTC_ERR_STATE and connectc_responder_is_done() turns 1; the handler
 * must still call connectc_responder_finish to release the call.
 */
typedef struct connectc_responder connectc_responder;

/* Marshals `msg` with the call's codec and sends it (under the lock).
 * Returns CONNECTC_OK, CONNECTC_ERR_STATE (call finished or canceled, or a
 * second response of a unary method), CONNECTC_ERR_LIMIT, CONNECTC_ERR_FULL
 * (streams: the send window is full because the client reads slower than
 * the handler sends; nothing was sent, the call goes on: wait for
 * connectc_responder_on_writable and send it again) or another
 * CONNECTC_ERR_*. */
CONNECTC_API int connectc_responder_send(connectc_responder *r, const ProtobufCMessage *msg);
/*
 * Asks to be told when a send will be accepted again: fn(r, arg) runs
 * once, at once (from this function) if the response can already take a
 * message, else on the transport's thread with its lock held once the
 * client has read the queued response down to half the send window. It
 * may send and finish, but must not block. Not called once the call has
 * ended (on_cancel tells that). A later call replaces fn; NULL unsets it.
 * With it, a stream of any length holds at most the window (plus one
 * message) of memory for a client that stops reading.
 */
CONNECTC_API void connectc_responder_on_writable(connectc_responder *r,
                                                void (*fn)(connectc_responder *r, void *arg),
                                                void *arg);
/* Adds a response header (before the first send) or trailer (before
 * finish). Values are copied. Returns CONNECTC_OK, CONNECTC_ERR_STATE when
 * too late, or CONNECTC_ERR_NOMEM. */
CONNECTC_API int connectc_responder_add_header(connectc_responder *r, const char *name, const char *value);
CONNECTC_API int connectc_responder_add_trailer(connectc_responder *r, const char *name, const char *value);
/* Streams: sends the response headers now, before any message. */
CONNECTC_API int connectc_responder_flush_headers(connectc_responder *r);
/* Ends the call with `err` (NULL or code OK: success; code OK with a
 * failure is not possible here) and releases the responder: it must not be
 * used afterwards. Returns CONNECTC_OK, or CONNECTC_ERR_STATE if the call
 * had already ended (canceled, deadline); the responder is released
 * either way. */
CONNECTC_API int connectc_responder_finish(connectc_responder *r, const connectc_error *err);
/* 1 once the call has ended (finished, canceled, deadline passed). */
CONNECTC_API int connectc_responder_is_done(connectc_responder *r);
/*
 * Asks to be told when the call ends early: fn(r, why, arg) runs once, on
 * the transport's thread with its lock held, when the client goes away
 * (`why` canceled) or the deadline passes (deadline_exceeded); at once, from
 * this function, if that already happened. It may call responder functions
 * (connectc_responder_finish included) but must not block. Not called when
 * the handler finishes first. A later call replaces fn; NULL unsets it.
 */
CONNECTC_API void connectc_responder_on_cancel(connectc_responder *r,
                                  void (*fn)(connectc_responder *r, const connectc_error *why,
                                             void *arg),
                                  void *arg);
/*
 * The server call, for its read-only request accessors: request headers,
 * deadline, codec, is_get (all fixed once the handler runs, so safe from
 * any thread while the responder is held). Anything that changes the call
 * must go through connectc_server_call_run().
 */
CONNECTC_API connectc_server_call *connectc_responder_call(connectc_responder *r);

/* For generated code: `size` bytes that live as long as the call (freed
 * with it). Once per responder; NULL when out of memory or called twice. */
CONNECTC_API void *connectc_responder_scratch(connectc_responder *r, size_t size);

/* Calls the asynchronous typed handler of one method: generated. */
typedef void (*connectc_typed_invoke_async)(const void *handlers, void *impl,
                                            connectc_responder *responder,
                                            const ProtobufCMessage *const *requests,
                                            size_t n_requests);

/* One typed method (generated): `invoke` for synchronous handlers or
 * `invoke_async` for asynchronous ones (exactly one is set). */
typedef struct connectc_typed_method {
  const connectc_method_desc *desc;
  const ProtobufCMessageDescriptor *input;
  const ProtobufCMessageDescriptor *output;
  connectc_typed_invoke invoke;
  int implemented; /* 0: the handler pointer is NULL */
  connectc_typed_invoke_async invoke_async;
} connectc_typed_method;

/*
 * Mounts one typed method. `handlers` (the generated struct) and `impl`
 * (the application's pointer, handed to every handler) are borrowed and
 * must outlive the router. `json` (may be NULL) decodes and encodes
 * application/json calls; without it only proto is served. The method
 * entry itself is copied.
 */
CONNECTC_API int connectc_router_add_typed(connectc_router *router, const connectc_typed_method *method,
                              const void *handlers, void *impl, const connectc_codec *json);

#ifdef __cplusplus
}
#endif

#endif
