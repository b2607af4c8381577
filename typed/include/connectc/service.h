/*
 * service.h: typed server handlers, synchronous and asynchronous. Generated
 * code declares a struct of typed handler functions per service (in both
 * variants) and registration functions that mount them on a router
 * (router.h) through connectc_router_add_typed().
 *
 * A handler runs on the transport's thread once the request is complete
 * (half-duplex: every request message is read first). It sends its
 * response(s) with the generated typed `<svc>_<rpc>__send` function (unary and
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
/* Requests a synchronous streaming handler may have waiting unread. */
#define CONNECTC_STREAM_MAX_QUEUED 1024u

/* Where a handler sends response messages. Valid during the handler. */
typedef struct connectc_response_writer connectc_response_writer;

/* Marshals `msg` with the call's codec and sends it. Returns CONNECTC_OK
 * or a negative CONNECTC_ERR_* (CONNECTC_ERR_STATE for a second response
 * of a unary method, CONNECTC_ERR_LIMIT over the send limit). */
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
 * `<svc>_<rpc>__respond`) and exactly one connectc_responder_finish, which
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
 * second response of a unary method), CONNECTC_ERR_LIMIT or another
 * CONNECTC_ERR_*. */
CONNECTC_API int connectc_responder_send(connectc_responder *r, const ProtobufCMessage *msg);
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

/*
 * A streaming handler (client-streaming and bidi methods): it gets each
 * request message as it arrives, not all of them at the end, and answers
 * through a connectc_responder at any time, from any thread; over HTTP/2 a
 * bidi call is then full duplex. Over HTTP/1.1 the same handler works half
 * duplex: the adapter sends the response once the request has ended.
 *
 * The three functions run on the transport's thread, with its lock held,
 * in this order: on_start once (before the first request, or at the end
 * for a stream with no request), on_request for each request (borrowed for
 * the callback only), on_requests_end once the client closed its side.
 * None runs after the call finished. From on_start on, the handler owns
 * the responder and must call connectc_responder_finish exactly once,
 * whenever it likes (also after a cancel, see connectc_responder_on_cancel).
 * Generated code fills this with typed wrappers; `handlers` and `impl` are
 * those given at registration.
 */
typedef struct connectc_server_stream connectc_server_stream;

typedef struct connectc_stream_handler {
  void (*on_start)(const void *handlers, void *impl, connectc_responder *responder);
  void (*on_request)(const void *handlers, void *impl, connectc_responder *responder,
                     const ProtobufCMessage *request);
  void (*on_requests_end)(const void *handlers, void *impl, connectc_responder *responder);
  /* Or, instead of the three above, a synchronous handler: it runs on a
   * thread of its own (one per call), reads each request with
   * connectc_server_stream_recv and sends with connectc_server_stream_send,
   * both blocking, and returns 0, or non-zero with `error` set (left at
   * code OK: unknown). The call finishes when it returns. It needs an
   * adapter with threads (connectc_server_call_has_hooks); elsewhere the
   * call fails with internal. */
  int (*run)(const void *handlers, void *impl, connectc_server_stream *stream,
             connectc_error *error);
} connectc_stream_handler;

/* Synchronous streaming: the next request. Blocks until one arrives, the
 * client finishes sending or the call ends. Returns CONNECTC_OK with
 * *request set (owned by the caller: free it with connectc_message_free and
 * connectc_server_stream_allocator), CONNECTC_OK with *request NULL once
 * the client has sent everything, or CONNECTC_ERR_STATE when the call ended
 * first (canceled, deadline, failed). */
CONNECTC_API int connectc_server_stream_recv(connectc_server_stream *stream,
                                             ProtobufCMessage **request);
/* Synchronous streaming: sends one response (as connectc_responder_send). */
CONNECTC_API int connectc_server_stream_send(connectc_server_stream *stream,
                                             const ProtobufCMessage *message);
/* The responder behind the stream, for headers, trailers, flush and the
 * call's request accessors; do not finish it: returning from run does. */
CONNECTC_API connectc_responder *connectc_server_stream_responder(connectc_server_stream *stream);
/* The allocator requests are decoded with. */
CONNECTC_API const connectc_allocator *connectc_server_stream_allocator(
    const connectc_server_stream *stream);

/* Per-call state for streaming handlers: set once in on_start, read in the
 * later callbacks. NULL until set. */
CONNECTC_API void connectc_responder_set_user_data(connectc_responder *r, void *user_data);
CONNECTC_API void *connectc_responder_user_data(const connectc_responder *r);

/* One typed method (generated): `invoke` for synchronous handlers,
 * `invoke_async` for asynchronous ones, or `stream` for streaming ones
 * (exactly one is set). */
typedef struct connectc_typed_method {
  const connectc_method_desc *desc;
  const ProtobufCMessageDescriptor *input;
  const ProtobufCMessageDescriptor *output;
  connectc_typed_invoke invoke;
  int implemented; /* 0: the handler pointer is NULL */
  connectc_typed_invoke_async invoke_async;
  const connectc_stream_handler *stream;
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
