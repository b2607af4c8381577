/**
 * @file connectc/client_call.h
 * @brief The sans-IO client call state machine (see call.h for what it
 * shares with the server side).
 *
 * Part of libconnectc-core. A transport drives a call in this order:
 * connectc_client_call_request_head(), then the request body with
 * connectc_client_call_body_peek() / connectc_client_call_body_consume(),
 * and the response with connectc_client_call_recv_head(),
 * connectc_client_call_recv_body(), connectc_client_call_recv_trailers()
 * and connectc_client_call_recv_end(), calling connectc_client_call_tick()
 * for the deadline. The application sends with connectc_client_call_send()
 * and connectc_client_call_close_send() and hears back through the
 * connectc_client_callbacks.
 */
#ifndef CONNECTC_CLIENT_CALL_H
#define CONNECTC_CLIENT_CALL_H

#include "connectc/call.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The request head a client call produced: what the adapter puts on the
 * wire. All pointers are owned by the call and valid until it is
 * deleted. */
typedef struct connectc_request_head {
  const char *method;               /**< "POST" or "GET" */
  const char *path;                 /**< "/pkg.Service/Method", plus "?query" for GET */
  const connectc_headers *headers;  /**< every request header to send */
  int64_t content_length;           /**< -1 when unknown (streaming); 0 for GET */
} connectc_request_head;

/* ================================================================== */
/* Client call                                                         */
/* ================================================================== */

/** A client call: one RPC seen from the client (opaque). */
typedef struct connectc_client_call connectc_client_call;

/**
 * What a client call tells the application. Set once at creation
 * (copied); every member may be NULL. Callbacks run synchronously inside
 * the connectc_client_call_* function that triggered them; they must not
 * delete the call.
 */
typedef struct connectc_client_callbacks {
  /** Response headers arrived. Called at most once, before any message
   * and before on_close (also for error responses, whose headers are
   * metadata too). Not called when the call closes before a response head
   * was accepted: closed before it arrived, or a head with the wrong
   * content type or an unknown encoding. `headers` is valid only during
   * the callback. Return 0 to go on, non-zero to cancel the call
   * (on_close with canceled). */
  int (*on_headers)(connectc_client_call *call, const connectc_headers *headers,
                    void *user_data);
  /** One response message (decompressed, serialized bytes; never NULL,
   * also when empty), valid only during the callback. Return 0 to go on,
   * non-zero to cancel the call (on_close with canceled). */
  int (*on_message)(connectc_client_call *call, const uint8_t *data, size_t len,
                    void *user_data);
  /** The final status, called exactly once per call: err->code is
   * CONNECTC_CODE_OK on success. `trailers` holds the response trailers
   * (Connect unary: the trailer- prefixed headers, prefix removed; Connect
   * streams: the end-of-stream metadata; plus whatever
   * connectc_client_call_recv_trailers added; gRPC and gRPC-Web: the
   * trailers without grpc-status, grpc-message and
   * grpc-status-details-bin, which become `err`). Both are valid only
   * during the callback. */
  void (*on_close)(connectc_client_call *call, const connectc_error *err,
                   const connectc_headers *trailers, void *user_data);
} connectc_client_callbacks;

/**
 * How to make one client call. Zero-initialise it (designated
 * initializers or memset): zero means the default, and the struct only
 * grows at the end.
 */
typedef struct connectc_client_config {
  /** The procedure path, "/pkg.Service/Method" (copied). Required. */
  const char *procedure;
  /** Unary, client, server or bidi streaming. */
  connectc_stream_type stream_type;
  /** Codec name, "proto" or "json" (copied): it names the content type
   * (application/proto, application/connect+json...). Required. */
  const char *codec;
  /** Compression for request messages; must be supported by this build
   * (default identity). */
  connectc_compression send_compression;
  /** Receive and send limits (zero: defaults). */
  connectc_call_limits limits;
  /** Milliseconds the call may take, from creation; 0 = no deadline.
   * Enforced by connectc_client_call_tick(). The time left when the request
   * head is produced (at creation's time, or the latest tick's) is sent as
   * Connect-Timeout-Ms or grpc-timeout. */
  int64_t timeout_ms;
  /** Unary Connect calls only: send as a Connect GET (for
   * NO_SIDE_EFFECTS methods). */
  int use_get;
  /** The protocol spoken (default CONNECTC_PROTOCOL_CONNECT). gRPC needs
   * an HTTP/2 transport (connectc_client_call_requires_http2()). */
  connectc_protocol protocol;
  /** Bidi only (ignored otherwise): the application sends while it
   * receives (full duplex). Needs a transport that can (HTTP/2); over
   * HTTP/1.1 a bidi call is half duplex: every request is sent before the
   * response is read. The call only reports it, through
   * connectc_client_call_requires_http2(). */
  int full_duplex;
  /** Interceptors: `n_interceptors` pointers, run in order on the way out
   * and in reverse order when the call closes. The array and the entries
   * are borrowed: they must outlive the call. NULL: none. */
  const struct connectc_client_interceptor *const *interceptors;
  size_t n_interceptors; /**< entries in `interceptors` */
  /** Receives the call's stats once it completes (NULL: none); see
   * connectc_client_call_complete(). */
  connectc_stats_fn on_stats;
  void *stats_user_data; /**< handed to on_stats */
  /** A compression context to use instead of creating one (NULL, the
   * default: the call creates its own when it sends or receives compressed
   * messages, and frees it with the call). Borrowed: the call never frees
   * it and never changes its levels (requests are compressed at the levels
   * its owner set with connectc_compress_ctx_set_level()); it must outlive
   * the call, or at least its use: the call uses it inside
   * connectc_client_call_* functions until it closes, and has let go of it
   * once the function in which it closed returns (not yet inside
   * on_close). Messages are still allocated with the call's allocator.
   * One context may serve many calls as long as no two use it at the same
   * time, e.g. every call driven by one thread (an event loop, a
   * transport that is one per thread). It also keeps a unary response
   * body's buffer for the next call made with the same allocator (the
   * rules of connectc_server_call_lend_compress_ctx()). */
  connectc_compress_ctx *compress_ctx;
} connectc_client_config;

/**
 * A client interceptor: code that runs around every call, at the call level
 * (under the typed client and the generated stubs), e.g. adding
 * credentials, logging, metrics. Every member may be NULL. Each runs
 * synchronously, before the application's callback of the same event;
 * `user_data` is the interceptor's own. Zero-initialise it (designated
 * initializers or memset): the struct only grows at the end.
 */
typedef struct connectc_client_interceptor {
  /** The request head is about to be produced (by
   * connectc_client_call_request_head() or body_peek); `headers` (the
   * application's, before the protocol's are added) may be changed: what
   * is added here is not checked against the protocol-owned names. Return
   * 0 to go on; non-zero to fail the call with `refuse` (initialised; code
   * defaults to canceled when left OK, message to "the call was refused by
   * an interceptor") before anything is sent: on_close then fires, and
   * later interceptors' on_request_head do not run. */
  int (*on_request_head)(connectc_client_call *call, connectc_headers *headers,
                         connectc_error *refuse, void *user_data);
  /** Each request message accepted by connectc_client_call_send()
   * (serialized, before compression; never NULL). */
  void (*on_request_message)(connectc_client_call *call, const uint8_t *data, size_t len,
                             void *user_data);
  /** The response headers, when the on_headers callback gets them. */
  void (*on_response_headers)(connectc_client_call *call, const connectc_headers *headers,
                              void *user_data);
  /** Each response message (decompressed, serialized), when the
   * on_message callback gets it. */
  void (*on_response_message)(connectc_client_call *call, const uint8_t *data, size_t len,
                              void *user_data);
  /** The final status and trailers, in reverse interceptor order, before
   * the on_close callback. */
  void (*on_close)(connectc_client_call *call, const connectc_error *status,
                   const connectc_headers *trailers, void *user_data);
  void *user_data; /**< handed to this interceptor's functions */
} connectc_client_interceptor;

/**
 * Creates a client call.
 * @param cfg what to call; copied (strings included).
 * @param cb the callbacks; copied; may be NULL (no callbacks).
 * @param user_data handed to every callback; not touched by the call.
 * @param alloc the call's allocator; may be NULL (default); copied.
 * @param now_ms the current time on the caller's monotonic clock, in
 *        milliseconds: it starts the deadline clock.
 * @param out receives the call; untouched on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `cfg` or `out` is NULL, the procedure
 *         is missing or does not start with '/', the codec is missing or
 *         empty, timeout_ms is negative, stream_type or protocol is not one
 *         of their values, or use_get is set on a call that is not a unary
 *         Connect call;
 *         CONNECTC_ERR_UNSUPPORTED when the send compression is not in this
 *         build;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_client_call_new(const connectc_client_config *cfg,
                             const connectc_client_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, int64_t now_ms,
                             connectc_client_call **out);
/**
 * Frees a call. No callback fires (an unfinished call is not closed:
 * cancel it first if the application expects on_close), except the stats
 * hook when connectc_client_call_complete() was not called.
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_client_call_del(connectc_client_call *call);

/**
 * Adds a request header (name lower-cased). Only before the request head
 * has been produced. Binary values: connectc_client_call_add_header_bin().
 * @param call the call.
 * @param name NUL-terminated header name; copied. Names the protocol or
 *        HTTP framing owns are refused: accept-encoding,
 *        connect-accept-encoding, connect-content-encoding,
 *        connect-protocol-version, connect-timeout-ms, connection,
 *        content-encoding, content-length, content-type,
 *        grpc-accept-encoding, grpc-encoding, grpc-message, grpc-status,
 *        grpc-status-details-bin, grpc-timeout, host, keep-alive,
 *        proxy-connection, te, trailer, transfer-encoding, upgrade, and
 *        any name starting with "trailer-".
 * @param value NUL-terminated value; copied.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when an argument is NULL, the name is
 *         reserved or not an HTTP token, or the value holds CR, LF or NUL;
 *         CONNECTC_ERR_STATE after the request head was produced or the
 *         call closed;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_client_call_add_header(connectc_client_call *call, const char *name,
                                    const char *value);
/**
 * Adds a binary request header, base64-encoded as
 * connectc_headers_add_bin() does. Only before the request head has been
 * produced.
 * @param call the call.
 * @param name NUL-terminated header name ending in "-bin"; copied;
 *        reserved names are refused as by connectc_client_call_add_header().
 * @param value the bytes; encoded; may be NULL when `len` is 0.
 * @param len length of `value`.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` or `name` is NULL, the name is
 *         reserved, does not end in "-bin" or is not an HTTP token, or
 *         `value` is NULL with a non-zero length;
 *         CONNECTC_ERR_STATE after the request head was produced or the
 *         call closed;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_client_call_add_header_bin(connectc_client_call *call, const char *name,
                                        const uint8_t *value, size_t len);

/**
 * Queues one serialized request message, compressed with the configured
 * send compression when it is at least limits.compress_min_bytes long.
 * Unary and server-streaming calls take exactly one message and close the
 * send side implicitly.
 * @param call the call.
 * @param msg the serialized message; copied (or compressed) into the call;
 *        may be NULL when `len` is 0.
 * @param len length of `msg`.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL or `msg` is NULL with a
 *         non-zero length;
 *         CONNECTC_ERR_STATE when the send side is closed (a second message
 *         of a unary or server-streaming call, after close_send) or the
 *         call closed;
 *         CONNECTC_ERR_LIMIT when the message is over limits.send_max_bytes
 *         (for unary calls also when compressed): the call then closes with
 *         resource_exhausted (on_close fires from inside this function);
 *         also, without closing the call, when a framed message would pass
 *         4 GiB or gzip input passes 2 GiB;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_client_call_send(connectc_client_call *call, const uint8_t *msg, size_t len);
/**
 * No more request messages. Idempotent; also accepted once the call has
 * closed.
 * @param call the call.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL;
 *         CONNECTC_ERR_STATE for a unary or server-streaming call whose one
 *         message was not sent yet (and that is not closed).
 */
CONNECTC_API int connectc_client_call_close_send(connectc_client_call *call);
/**
 * Cancels the call: on_close fires (from inside this function) with
 * canceled, "call canceled", unless it already fired. The adapter should
 * then abort the transfer.
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_client_call_cancel(connectc_client_call *call);

/**
 * The request head, once it can be known: streams (server streams
 * included) at once, unary calls after their message was sent. Producing
 * the head (here, or in connectc_client_call_body_peek()) runs the
 * interceptors' on_request_head and adds the protocol's headers (content
 * type, protocol version or te, timeout, encodings); from then on request
 * headers can no longer be added.
 * @param call the call.
 * @param out receives the head; its pointers are owned by the call and
 *        valid until it is deleted.
 * @return CONNECTC_OK (also after the call closed, once the head exists);
 *         CONNECTC_ERR_ARGUMENT when `call` or `out` is NULL;
 *         CONNECTC_ERR_STATE for a unary call whose message was not sent
 *         yet;
 *         CONNECTC_ERR_RPC when the call closed before its head was
 *         produced (canceled, failed, refused by an interceptor here:
 *         on_close has fired);
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_client_call_request_head(connectc_client_call *call, connectc_request_head *out);

/**
 * Request body bytes waiting to be written. `*len` may be 0 with `*done`
 * 0: wait until the application sends more. Call
 * connectc_client_call_body_consume() with the count actually written.
 * @param call the call; must not be NULL.
 * @param data receives a view of the bytes, owned by the call and valid
 *        until the next call on it; may be NULL when `*len` is 0.
 * @param len receives the number of bytes.
 * @param done receives 1 when these are the last bytes of the body (send
 *        side closed, or the call closed), 0 otherwise.
 */
CONNECTC_API void connectc_client_call_body_peek(connectc_client_call *call, const uint8_t **data,
                                    size_t *len, int *done);
/**
 * Drops bytes the transport has written from the front of the request
 * body.
 * @param call the call; must not be NULL.
 * @param n number of bytes written; more than connectc_client_call_body_peek()
 *        reported is treated as all of them.
 */
CONNECTC_API void connectc_client_call_body_consume(connectc_client_call *call, size_t n);

/**
 * The response status line and headers arrived. Checks them as the
 * protocol demands (status, content type, encoding: for gRPC and
 * gRPC-Web, a status other than 200 closes with the code the status
 * maps to, a content type of another protocol with unknown, the other
 * gRPC flavour, another codec or an unknown grpc-encoding with internal)
 * and fires on_headers;
 * a response the call cannot accept closes it (on_close from inside this
 * function) and still returns CONNECTC_OK.
 * @param call the call.
 * @param http_status the HTTP status code.
 * @param headers the response headers; borrowed for the call (copied;
 *        for unary calls, "trailer-" prefixed ones become trailers).
 * @return CONNECTC_OK, also when the call is already closed (ignored) or
 *         was closed by this response;
 *         CONNECTC_ERR_ARGUMENT when `call` or `headers` is NULL;
 *         CONNECTC_ERR_STATE when a head was already received;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_client_call_recv_head(connectc_client_call *call, int http_status,
                                   const connectc_headers *headers);
/**
 * Response body bytes in any chunking. For streams, messages and the
 * end-of-stream message are handled from inside this function (on_message;
 * on_close for a malformed stream); unary bodies are collected and
 * delivered by connectc_client_call_recv_end(). Bytes over the receive
 * limit, malformed envelopes and the like close the call
 * (resource_exhausted, internal...) and still return CONNECTC_OK.
 * @param call the call.
 * @param data the bytes; borrowed for the call; may be NULL when `len` is
 *        0.
 * @param len length of `data`.
 * @return CONNECTC_OK, also when the call is closed or its outcome is
 *         already known (the bytes are ignored);
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL or `data` is NULL with
 *         a non-zero length;
 *         CONNECTC_ERR_STATE before connectc_client_call_recv_head();
 *         CONNECTC_ERR_NOMEM (the call is not closed).
 */
CONNECTC_API int connectc_client_call_recv_body(connectc_client_call *call, const uint8_t *data, size_t len);
/**
 * connectc_client_call_recv_body() for a transport that can stop reading:
 * it takes bytes until the application pauses the call
 * (connectc_client_call_pause_recv(), typically from on_message), and
 * says how many it took. The transport keeps the rest, stops reading from
 * the server, and offers the rest again once connectc_client_call_recv_paused()
 * is 0. While the call is paused it takes nothing. Only streamed
 * (enveloped) responses pause; a unary body is always taken whole.
 * @param call the call.
 * @param data the bytes; borrowed for the call; may be NULL when `len` is 0.
 * @param len length of `data`.
 * @param taken set to the bytes taken (len unless the call paused);
 *        may be NULL.
 * @return as connectc_client_call_recv_body().
 */
CONNECTC_API int connectc_client_call_recv_body_some(connectc_client_call *call,
                                                     const uint8_t *data, size_t len,
                                                     size_t *taken);
/**
 * Asks the transport to stop delivering response messages: the
 * application is behind. Takes effect after the message being delivered,
 * for transports that feed connectc_client_call_recv_body_some(): both
 * bundled transports do, and so can your own event loop. While the call
 * is paused they stop reading its response, so the server is slowed down
 * by TCP (HTTP/1.1) or HTTP/2 flow control. The libcurl transport
 * (connectc/curl.h) keeps at most one read's worth of bytes (16 KiB) for
 * the call; the Mongoose transport (connectc/mongoose.h) leaves them in
 * the connection's receive buffer. With both, the end of the response,
 * whatever it is, waits behind those bytes.
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_client_call_pause_recv(connectc_client_call *call);
/**
 * Undoes connectc_client_call_pause_recv(). The transport offers what it
 * kept on its next turn. Call it from the thread that drives the
 * transport. The libcurl transport's next turn is the next
 * connectc_curl_poll() or socket or timeout action; connectc_curl_wake()
 * (the connectc_transport's wake) makes it offer them at once, from inside
 * that call, which an external event loop needs when no socket or timer
 * would otherwise run the transport. The Mongoose transport notices on its
 * next loop iteration (MG_EV_POLL), or at once in connectc_mg_client_wake().
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_client_call_resume_recv(connectc_client_call *call);
/**
 * @param call the call.
 * @return 1 while a streamed response is paused and the call is not
 *         closed, else 0.
 */
CONNECTC_API int connectc_client_call_recv_paused(const connectc_client_call *call);
/**
 * HTTP trailers, if the transport saw any. gRPC carries its status in
 * them; Connect itself puts trailers in headers (unary) or in the
 * end-of-stream message (streams), and HTTP trailers are merged with them
 * into what on_close reports; gRPC-Web carries them in the body, and HTTP
 * trailers are ignored.
 * @param call the call.
 * @param trailers the trailers; borrowed for the call (appended to the
 *        call's trailers).
 * @return CONNECTC_OK, also when the call is closed (ignored);
 *         CONNECTC_ERR_ARGUMENT when `call` or `trailers` is NULL;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_client_call_recv_trailers(connectc_client_call *call,
                                       const connectc_headers *trailers);
/**
 * The response ended (the transport saw its end). Completes the call:
 * on_close fires, from inside this function, if it has not yet. A unary
 * call's message (and a client stream's one response) is delivered here
 * first. An incomplete response closes with an error: before its head
 * (unavailable), in the middle of an envelope or without an end-of-stream
 * message (internal), a client stream without its response
 * (unimplemented). For gRPC and gRPC-Web the status comes from the HTTP
 * trailers, the trailer frame, or the headers of a trailers-only response
 * (grpc-status, grpc-message, grpc-status-details-bin); a response with a
 * body but no status closes with internal, one without any status or
 * trailers with internal, trailers without grpc-status with unknown.
 * @param call the call.
 * @return CONNECTC_OK, or CONNECTC_ERR_ARGUMENT when `call` is NULL.
 */
CONNECTC_API int connectc_client_call_recv_end(connectc_client_call *call);
/**
 * The transport failed (connection refused, reset, TLS error...): closes
 * the call with `code` and `message` (on_close from inside this function),
 * unless it already closed.
 * @param call the call; NULL is ignored.
 * @param code the Connect code, typically unavailable; CONNECTC_CODE_OK
 *        becomes unknown.
 * @param message NUL-terminated message a person can act on; copied; NULL
 *        gives "transport failure".
 */
CONNECTC_API void connectc_client_call_fail(connectc_client_call *call, connectc_code code,
                               const char *message);
/**
 * Advances time: at or past the deadline the call closes with
 * deadline_exceeded (on_close from inside this function). Without a
 * deadline, or once closed, nothing happens.
 * @param call the call; NULL is ignored.
 * @param now_ms the current time on the clock given to
 *        connectc_client_call_new().
 */
CONNECTC_API void connectc_client_call_tick(connectc_client_call *call, int64_t now_ms);
/**
 * The absolute deadline: creation time plus timeout_ms.
 * @param call the call; may be NULL.
 * @return the deadline in the caller's clock, or -1 for none (or a NULL
 *         call).
 */
CONNECTC_API int64_t connectc_client_call_deadline(const connectc_client_call *call);
/**
 * The transport is done with the call (the response ended, failed or was
 * abandoned) at `now_ms`: the stats (connectc_client_config.on_stats) are
 * reported now, from inside this function, with this end time. Only the
 * first call counts; connectc_client_call_del() reports them if this was
 * never called.
 * @param call the call; NULL is ignored.
 * @param now_ms the current time on the call's clock.
 */
CONNECTC_API void connectc_client_call_complete(connectc_client_call *call, int64_t now_ms);
/**
 * The call's figures so far (the same the stats hook gets).
 * @param call the call; must not be NULL.
 * @param out receives the figures; its strings are the call's, valid
 *        until it is deleted.
 */
CONNECTC_API void connectc_client_call_stats(const connectc_client_call *call,
                                             connectc_call_stats *out);
/**
 * The protocol the call speaks.
 * @param call the call; may be NULL.
 * @return the configured protocol (CONNECTC_PROTOCOL_CONNECT for a NULL
 *         call).
 */
CONNECTC_API connectc_protocol connectc_client_call_protocol(const connectc_client_call *call);
/**
 * Whether only an HTTP/2 transport can carry the call: gRPC, or a bidi
 * call asked to be full duplex. A transport that cannot should refuse it
 * before sending anything (connectc_client_call_fail() with a message
 * that says why).
 * @param call the call; may be NULL.
 * @return 1 when HTTP/2 is required, 0 otherwise (and for a NULL call).
 */
CONNECTC_API int connectc_client_call_requires_http2(const connectc_client_call *call);
/**
 * Whether on_close has fired.
 * @param call the call; may be NULL.
 * @return 1 once on_close has fired (and for a NULL call), 0 before.
 */
CONNECTC_API int connectc_client_call_is_closed(const connectc_client_call *call);

#ifdef __cplusplus
}
#endif

#endif
