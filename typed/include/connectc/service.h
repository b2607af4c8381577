/**
 * @file connectc/service.h
 * @brief Typed server handlers, synchronous and asynchronous.
 *
 * Part of libconnectc. Generated
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
 * code OK becomes `unknown`). A NULL handler answers `unimplemented`. A
 * request the codec cannot decode fails the call with the codec's error
 * before any handler runs.
 *
 * Because requests are collected before the handler runs, one call keeps at
 * most 16 times the router's receive limit in request bytes and at most
 * CONNECTC_TYPED_MAX_REQUESTS messages; past that it fails with
 * resource_exhausted. Streaming handlers (connectc_stream_handler) get
 * each request as it arrives instead.
 */
#ifndef CONNECTC_SERVICE_H
#define CONNECTC_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "connectc/codec.h"
#include "connectc/router.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most request messages one call of a typed method keeps for its
 * handler; past that the call fails with resource_exhausted. */
#define CONNECTC_TYPED_MAX_REQUESTS 65536u
/** Requests a synchronous streaming handler may have waiting unread; past
 * it (or past the collection bound in bytes) the call fails with
 * resource_exhausted. */
#define CONNECTC_STREAM_MAX_QUEUED 1024u

/** Where a synchronous handler sends response messages (opaque). Valid
 * during the handler. */
typedef struct connectc_response_writer connectc_response_writer;

/**
 * Marshals `msg` with the call's codec and sends it
 * (connectc_server_call_send()).
 * @param stream the writer handed to the handler.
 * @param msg the response; borrowed for the call (marshalled at once).
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `stream` or `msg` is NULL;
 *         CONNECTC_ERR_STATE for a second response of a unary or
 *         client-streaming method, or once the call finished;
 *         CONNECTC_ERR_LIMIT over the send limit (the call then finishes
 *         with resource_exhausted);
 *         CONNECTC_ERR_NOMEM;
 *         the codec's error when `msg` cannot be marshalled.
 */
CONNECTC_API int connectc_response_writer_send(connectc_response_writer *stream, const ProtobufCMessage *msg);

/** Calls the typed handler of one method: generated, one per method.
 * Receives the registered `handlers` and `impl`, the call, the decoded
 * requests, the writer, and an error to fill; returns 0, or non-zero to
 * fail the call with `error`. */
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
/** What an asynchronous handler answers through (opaque); see above. */
typedef struct connectc_responder connectc_responder;

/**
 * Marshals `msg` with the call's codec (outside the lock) and sends it
 * (under the lock).
 * @param r the responder.
 * @param msg the response; borrowed for the call (marshalled at once).
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `r` or `msg` is NULL;
 *         CONNECTC_ERR_STATE (call finished or canceled, or a second
 *         response of a unary or client-streaming method);
 *         CONNECTC_ERR_LIMIT over the send limit (the call then finishes
 *         with resource_exhausted);
 *         CONNECTC_ERR_NOMEM;
 *         the codec's error when `msg` cannot be marshalled.
 */
CONNECTC_API int connectc_responder_send(connectc_responder *r, const ProtobufCMessage *msg);
/**
 * Adds a response header, before the response head is decided (for
 * streams: before the first send or flush; for unary calls: before
 * finish). Names the protocol owns are accepted here but left out of the
 * response (see connectc_server_call_response_headers()).
 * @param r the responder.
 * @param name NUL-terminated header name; copied.
 * @param value NUL-terminated value; copied.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when an argument is NULL, the name is not
 *         an HTTP token or the value holds CR, LF or NUL;
 *         CONNECTC_ERR_STATE when too late (head decided, or the call
 *         ended);
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_responder_add_header(connectc_responder *r, const char *name, const char *value);
/**
 * Adds a response trailer, before finish.
 * @param r the responder.
 * @param name NUL-terminated trailer name; copied.
 * @param value NUL-terminated value; copied.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when an argument is NULL, the name is not
 *         an HTTP token or the value holds CR, LF or NUL;
 *         CONNECTC_ERR_STATE once the call ended;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_responder_add_trailer(connectc_responder *r, const char *name, const char *value);
/**
 * Streams: sends the response headers now, before any message
 * (connectc_server_call_flush_headers()).
 * @param r the responder.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `r` is NULL;
 *         CONNECTC_ERR_STATE once the call ended, or for a unary method;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_responder_flush_headers(connectc_responder *r);
/**
 * Ends the call and releases the responder: it must not be used
 * afterwards. The responder is released whatever the result (unless `r`
 * is NULL).
 * @param r the responder.
 * @param err the outcome, borrowed for the call: NULL or code OK for
 *        success (an error cannot be expressed with code OK), otherwise
 *        the Connect error to send.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `r` is NULL;
 *         CONNECTC_ERR_STATE if the call had already ended (canceled,
 *         deadline);
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_responder_finish(connectc_responder *r, const connectc_error *err);
/**
 * Whether the call has ended.
 * @param r the responder; may be NULL.
 * @return 1 once the call has ended (finished, canceled, deadline passed)
 *         and for a NULL responder; 0 before.
 */
CONNECTC_API int connectc_responder_is_done(connectc_responder *r);
/**
 * Asks to be told when the call ends early: fn(r, why, arg) runs once, on
 * the transport's thread with its lock held, when the client goes away
 * (`why` canceled) or the deadline passes (deadline_exceeded); at once, from
 * this function, if that already happened. It may call responder functions
 * (connectc_responder_finish included) but must not block. Not called when
 * the handler finishes first. A later call replaces fn; NULL unsets it.
 * @param r the responder; NULL is ignored.
 * @param fn the function; NULL unsets it.
 * @param arg handed to `fn`.
 */
CONNECTC_API void connectc_responder_on_cancel(connectc_responder *r,
                                  void (*fn)(connectc_responder *r, const connectc_error *why,
                                             void *arg),
                                  void *arg);
/**
 * The server call, for its read-only request accessors: request headers,
 * deadline, codec, is_get (all fixed once the handler runs, so safe from
 * any thread while the responder is held). Anything that changes the call
 * must go through connectc_server_call_run().
 * @param r the responder; may be NULL.
 * @return the call (NULL for a NULL responder), valid until the responder
 *         is finished.
 */
CONNECTC_API connectc_server_call *connectc_responder_call(connectc_responder *r);

/**
 * For generated code: `size` bytes that live as long as the call (freed
 * with it). Once per responder.
 * @param r the responder.
 * @param size bytes wanted (0 allocates 1).
 * @return the memory (uninitialised), or NULL when `r` is NULL, out of
 *         memory, or called a second time.
 */
CONNECTC_API void *connectc_responder_scratch(connectc_responder *r, size_t size);

/** Calls the asynchronous typed handler of one method: generated.
 * Receives the registered `handlers` and `impl`, the responder (the
 * handler must finish it exactly once) and the decoded requests. */
typedef void (*connectc_typed_invoke_async)(const void *handlers, void *impl,
                                            connectc_responder *responder,
                                            const ProtobufCMessage *const *requests,
                                            size_t n_requests);

/** A synchronous streaming handler's view of its call (see
 * connectc_stream_handler::run). */
typedef struct connectc_server_stream connectc_server_stream;

/**
 * A streaming handler (client-streaming and bidi methods): it gets each
 * request message as it arrives, not all of them at the end, and answers
 * through a connectc_responder at any time, from any thread; with a
 * transport that carries both directions at once (HTTP/2) a bidi call is
 * then full duplex. Over HTTP/1.1 the same handler works half duplex: the
 * libmicrohttpd adapter sends the response once the request has ended.
 * Requests are not collected, so the bounds of the other handlers
 * (CONNECTC_TYPED_MAX_REQUESTS) do not apply.
 *
 * The three functions run on the transport's thread, with its lock held,
 * in this order: on_start once (before the first request, or at the end
 * for a stream with no request), on_request for each request (borrowed for
 * the callback only), on_requests_end once the client closed its side.
 * None runs after the call finished. From on_start on, the handler owns
 * the responder and must call connectc_responder_finish exactly once,
 * whenever it likes (also after a cancel, see connectc_responder_on_cancel).
 * A request the codec cannot decode fails the call with the codec's error.
 * Generated code fills this with typed wrappers; `handlers` and `impl` are
 * those given at registration. Either all three callbacks are set, or
 * only `run` (the synchronous variant).
 */
typedef struct connectc_stream_handler {
  /** The call starts: the handler now owns `responder`. */
  void (*on_start)(const void *handlers, void *impl, connectc_responder *responder);
  /** One decoded request, borrowed for the callback only. */
  void (*on_request)(const void *handlers, void *impl, connectc_responder *responder,
                     const ProtobufCMessage *request);
  /** The client closed its side: no more on_request. */
  void (*on_requests_end)(const void *handlers, void *impl, connectc_responder *responder);
  /** Or, instead of the three above, a synchronous handler: it runs on a
   * thread of its own (one per call), reads each request with
   * connectc_server_stream_recv() and sends with
   * connectc_server_stream_send(), both blocking, and returns 0, or
   * non-zero with `error` set (left at code OK: unknown). The call
   * finishes when it returns. It needs an adapter with threads
   * (connectc_server_call_has_hooks()); elsewhere the call fails with
   * internal. */
  int (*run)(const void *handlers, void *impl, connectc_server_stream *stream,
             connectc_error *error);
} connectc_stream_handler;

/**
 * Synchronous streaming: the next request. Blocks until one arrives, the
 * client finishes sending or the call ends.
 * @param stream the stream handed to `run`.
 * @param request set to the request, owned by the caller (free it with
 *        connectc_message_free() and connectc_server_stream_allocator()),
 *        or to NULL when there is none.
 * @return CONNECTC_OK with *request set; CONNECTC_OK with *request NULL once
 *         the client has sent everything; CONNECTC_ERR_STATE when the call
 *         ended first (canceled, deadline, failed); CONNECTC_ERR_ARGUMENT
 *         for NULL arguments.
 */
CONNECTC_API int connectc_server_stream_recv(connectc_server_stream *stream,
                                             ProtobufCMessage **request);
/**
 * Synchronous streaming: sends one response, as connectc_responder_send().
 * @param stream the stream handed to `run`.
 * @param message the response (borrowed for the call).
 * @return what connectc_responder_send() returns; CONNECTC_ERR_ARGUMENT for
 *         a NULL stream.
 */
CONNECTC_API int connectc_server_stream_send(connectc_server_stream *stream,
                                             const ProtobufCMessage *message);
/**
 * The responder behind a synchronous stream, for headers, trailers, flush
 * and the call's request accessors. Do not finish it: returning from `run`
 * does.
 * @param stream the stream; NULL gives NULL.
 * @return the responder, valid while `run` runs.
 */
CONNECTC_API connectc_responder *connectc_server_stream_responder(connectc_server_stream *stream);
/**
 * The allocator requests of a synchronous stream are decoded with.
 * @param stream the stream; must not be NULL.
 * @return the allocator (never NULL).
 */
CONNECTC_API const connectc_allocator *connectc_server_stream_allocator(
    const connectc_server_stream *stream);

/**
 * Sets per-call state for streaming handlers: typically once in on_start,
 * read in the later callbacks. Not thread-safe against a concurrent
 * connectc_responder_user_data() (it takes no lock).
 * @param r the responder; NULL is ignored.
 * @param user_data the state; not touched by the library (and not freed).
 */
CONNECTC_API void connectc_responder_set_user_data(connectc_responder *r, void *user_data);
/**
 * The per-call state set with connectc_responder_set_user_data().
 * @param r the responder; may be NULL.
 * @return the state; NULL until set (and for a NULL responder).
 */
CONNECTC_API void *connectc_responder_user_data(const connectc_responder *r);

/** One typed method (generated): `invoke` for synchronous handlers,
 * `invoke_async` for asynchronous ones, or `stream` for streaming ones
 * (exactly one is set). The struct only grows at the end: fill it by
 * member name. */
typedef struct connectc_typed_method {
  const connectc_method_desc *desc;          /**< the method; must outlive the router */
  const ProtobufCMessageDescriptor *input;   /**< request type; must outlive the router */
  const ProtobufCMessageDescriptor *output;  /**< response type; must outlive the router */
  connectc_typed_invoke invoke;              /**< synchronous handler call, or NULL */
  int implemented; /**< 0: the handler pointer is NULL (the method answers unimplemented) */
  connectc_typed_invoke_async invoke_async;  /**< asynchronous handler call, or NULL */
  const connectc_stream_handler *stream;     /**< streaming handler, or NULL; borrowed: must outlive the router */
} connectc_typed_method;

/**
 * Mounts one typed method on a router (connectc_router_add()).
 * @param router the router.
 * @param method the method entry; copied (what it points to is borrowed
 *        and must outlive the router).
 * @param handlers the generated struct of handler functions; borrowed: it
 *        must outlive the router.
 * @param impl the application's pointer, handed to every handler;
 *        borrowed.
 * @param json the JSON codec (may be NULL) that decodes and encodes calls
 *        whose codec is "json"; borrowed: it must outlive the router.
 *        Without it the method serves proto only: a JSON request gets 415
 *        with the proto content types in Accept-Post.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `router` or `method` is NULL, the
 *         method lacks desc, input or output, not exactly one of invoke,
 *         invoke_async and stream is set, a streaming handler is given
 *         for a unary or server-streaming method or lacks one of its
 *         functions, or connectc_router_add() refuses the route (a bad or
 *         duplicate procedure); nothing is added then;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_router_add_typed(connectc_router *router, const connectc_typed_method *method,
                              const void *handlers, void *impl, const connectc_codec *json);

#ifdef __cplusplus
}
#endif

#endif
