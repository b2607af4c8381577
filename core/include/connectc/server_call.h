/**
 * @file connectc/server_call.h
 * @brief The sans-IO server call state machine (see call.h for what it
 * shares with the client side) and the hooks through which a threaded
 * adapter lets other threads act on a call.
 *
 * Part of libconnectc-core. An adapter usually gets its server calls from
 * a router (router.h) and drives each one in this order:
 * connectc_server_call_recv_head(), connectc_server_call_recv_body() and
 * connectc_server_call_recv_end() for the request,
 * connectc_server_call_tick() for the deadline, and
 * connectc_server_call_response_head(), connectc_server_call_body_peek()
 * and connectc_server_call_body_consume() for the response. The handler
 * answers with connectc_server_call_send() and
 * connectc_server_call_finish().
 */
#ifndef CONNECTC_SERVER_CALL_H
#define CONNECTC_SERVER_CALL_H

#include "connectc/call.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================== */
/* Server call                                                         */
/* ================================================================== */


/** A server call: one RPC seen from the server (opaque). */
typedef struct connectc_server_call connectc_server_call;

/**
 * What a server call tells the handler. Copied at creation; every member
 * may be NULL. Callbacks run synchronously inside the
 * connectc_server_call_* function that triggered them; they must not
 * delete the call.
 */
typedef struct connectc_server_callbacks {
  /** One request message (decompressed, serialized; never NULL, also when
   * empty), valid during the callback. Return 0 to go on, non-zero to fail
   * the call with the error set through connectc_server_call_finish()
   * inside the callback, or with `internal` if none was set. */
  int (*on_message)(connectc_server_call *call, const uint8_t *data, size_t len,
                    void *user_data);
  /** The client finished sending (after the last on_message). Not called
   * when the call finished before (refused, failed, or finished from
   * on_message). */
  void (*on_end)(connectc_server_call *call, void *user_data);
  /** The call was canceled: the deadline passed (`why` deadline_exceeded;
   * the error response is then already decided) or the client went away
   * (`why` canceled; no response will be sent). Called at most once, and
   * only for a call that had not finished. `why` is valid during the
   * callback. */
  void (*on_cancel)(connectc_server_call *call, const connectc_error *why, void *user_data);
  /** After connectc_server_call_send returned CONNECTC_ERR_FULL: the
   * adapter has taken enough of the queued response that the queue is at
   * or below half the send window, so a send will be accepted again.
   * Called once per refused send, from inside
   * connectc_server_call_body_consume (on the adapter's thread, under its
   * lock); it may send. May be NULL. */
  void (*on_writable)(connectc_server_call *call, void *user_data);
} connectc_server_callbacks;

/** Default send window when connectc_server_config.send_window_bytes is 0. */
#define CONNECTC_DEFAULT_SEND_WINDOW_BYTES ((size_t)256 * 1024)

/**
 * How a server answers its calls. Zero-initialise it (designated
 * initializers or memset): zero means the default, and the struct only
 * grows at the end.
 */
typedef struct connectc_server_config {
  /** Receive and send limits (zero: defaults). */
  connectc_call_limits limits;
  /** Codec names this server accepts, in every protocol's content type
   * (application/json, application/grpc+json...), matched
   * case-insensitively (NULL-terminated list of static strings: calls keep
   * pointers to the list and its strings); NULL means {"proto", "json"}. */
  const char *const *codecs;
  /** Require the Connect-Protocol-Version header on POST and connect=v1 on
   * GET for unary Connect methods (connect-go's
   * WithRequireConnectProtocolHeader). Default 0. */
  int require_protocol_header;
  /** Browsers: answer CORS preflights and add CORS headers to every response
   * for an allowed origin (NULL: off, OPTIONS gets 405). Borrowed: it must
   * outlive every call. */
  const struct connectc_cors *cors;
  /** Interceptors: `n_interceptors` pointers, run in order when the
   * request arrives and in reverse order when the call closes. The array
   * and the entries are borrowed: they must outlive every call. NULL:
   * none. */
  const struct connectc_server_interceptor *const *interceptors;
  size_t n_interceptors; /**< entries in `interceptors` */
  /** Deadline policy: the timeout of calls whose client sent none (0: no
   * deadline). */
  int64_t default_timeout_ms;
  /** Deadline policy: the most a client may ask for (0: no maximum; a
   * larger timeout, or default_timeout_ms, is cut to it). */
  int64_t max_timeout_ms;
  /** Receives each call's stats once it completes (NULL: none); see
   * connectc_server_call_complete(). */
  connectc_stats_fn on_stats;
  void *stats_user_data; /**< handed to on_stats */
  /** Streaming responses: the most bytes queued in the call and not yet
   * taken by the adapter (connectc_server_call_body_peek/_consume) before
   * connectc_server_call_send refuses with CONNECTC_ERR_FULL, so that a
   * client that stops reading holds at most this much (plus one message)
   * of the server's memory. 0 = CONNECTC_DEFAULT_SEND_WINDOW_BYTES;
   * SIZE_MAX turns the window off. Unary responses are not affected. */
  size_t send_window_bytes;
} connectc_server_config;

/**
 * CORS: which origins may call from a browser. A preflight (OPTIONS with
 * Origin and Access-Control-Request-Method) from an allowed origin gets 204
 * with Access-Control-Allow-Origin, -Methods (POST, GET), -Headers (the
 * Connect and gRPC-Web request headers plus allowed_headers), -Max-Age and
 * Vary; from another origin, 204 without them (the browser then refuses).
 * Every other response to an allowed origin, errors the library makes
 * itself included, carries Access-Control-Allow-Origin, Vary: Origin and
 * Access-Control-Expose-Headers (the gRPC-Web status headers plus
 * exposed_headers). A request with more than one Origin header counts as
 * coming from no allowed origin. Every list and string is borrowed: it
 * must outlive the calls. Zero-initialise it (designated initializers or
 * memset): the struct only grows at the end.
 */
typedef struct connectc_cors {
  /** NULL-terminated list of origins ("https://app.example.com"), compared
   * exactly; "*" allows any origin. May be NULL when origin_allowed is set. */
  const char *const *allowed_origins;
  /** Or a callback: return 1 to allow `origin` (len bytes, not
   * NUL-terminated). Consulted when the list does not allow the origin.
   * May be NULL. */
  int (*origin_allowed)(const char *origin, size_t len, void *user_data);
  void *user_data; /**< handed to origin_allowed */
  /** More request headers a page may send (e.g. "Authorization");
   * NULL-terminated, may be NULL. */
  const char *const *allowed_headers;
  /** More response headers and trailers a page may read (unary Connect
   * trailers travel as "Trailer-<name>" headers: expose that name);
   * NULL-terminated, may be NULL. */
  const char *const *exposed_headers;
  /** Send Access-Control-Allow-Credentials: true (cookies, HTTP auth). */
  int allow_credentials;
  /** Access-Control-Max-Age in seconds; 0 means 7200. */
  int max_age_s;
} connectc_cors;

/**
 * A server interceptor: code that runs around every call of a router, at
 * the call level (under the typed layers), e.g. authentication, logging,
 * metrics. Every member may be NULL. Each runs synchronously inside the
 * connectc_server_call_* function that triggered it; `user_data` is the
 * interceptor's own. Zero-initialise it (designated initializers or
 * memset): the struct only grows at the end.
 */
typedef struct connectc_server_interceptor {
  /** The request head is valid for its protocol (after the checks of
   * connectc_server_call_recv_head() and the deadline policy); nothing of
   * the body was read, decompressed or decoded. `headers` (the call's
   * request headers) may be changed. Return 0 to go on; non-zero to refuse
   * the call with `refuse` (initialised, code defaults to
   * permission_denied when left OK, message to "the call was refused by an
   * interceptor"), answered in the request's protocol. Later interceptors
   * then do not run. */
  int (*on_request_head)(connectc_server_call *call, connectc_headers *headers,
                         connectc_error *refuse, void *user_data);
  /** Each request message (decompressed, serialized), before the handler. */
  void (*on_request_message)(connectc_server_call *call, const uint8_t *data, size_t len,
                             void *user_data);
  /** Each response message accepted by connectc_server_call_send()
   * (serialized, before compression; never NULL). */
  void (*on_response_message)(connectc_server_call *call, const uint8_t *data, size_t len,
                              void *user_data);
  /** The final status and the response trailers, once decided (finish,
   * a failure, the deadline, or cancel), in reverse interceptor order.
   * Not called for requests refused before the protocol's checks (404,
   * 405, 415, a CORS preflight). */
  void (*on_close)(connectc_server_call *call, const connectc_error *status,
                   const connectc_headers *trailers, void *user_data);
  void *user_data; /**< handed to this interceptor's functions */
} connectc_server_interceptor;

/** The HTTP response a server call produced. Pointers owned by the call,
 * valid until it is deleted. */
typedef struct connectc_response_head {
  int status; /**< the HTTP status code */
  const connectc_headers *headers; /**< every response header to send */
  int64_t content_length; /**< -1 when unknown (streaming) */
} connectc_response_head;

/**
 * Creates a server call.
 * @param cfg limits, codecs...; copied; may be NULL (defaults).
 * @param method the method the call serves, retained: it must outlive the
 *        call. NULL when the path matched no method: the call then only
 *        answers 404.
 * @param cb the callbacks; copied; may be NULL.
 * @param user_data handed to every callback (see also
 *        connectc_server_call_set_user_data()).
 * @param alloc the call's allocator; may be NULL (default); copied.
 * @param out receives the call; untouched on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `out` is NULL, or `method` has no
 *         procedure or an invalid stream type;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_server_call_new(const connectc_server_config *cfg,
                             const connectc_method_desc *method,
                             const connectc_server_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, connectc_server_call **out);
/**
 * Frees a call. No callback fires, except the stats hook for a call that
 * received its head when connectc_server_call_complete() was not called.
 * Calls made by a router are deleted with connectc_router_call_del()
 * instead.
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_server_call_del(connectc_server_call *call);

/**
 * Lends the call a compression context to use instead of creating its own,
 * so that calls one after another reuse the same zlib and zstd states
 * (bench/RESULTS.md: a zstd message with a fresh state costs 4 more
 * allocations and ~35% more time at 1 KiB).
 *
 * Ownership: the context stays the lender's. The call never frees it and
 * never changes its levels: its messages are compressed at the levels the
 * lender set (connectc_compress_ctx_set_level()). The call uses it only
 * inside connectc_server_call_* functions of this call, from
 * connectc_server_call_recv_head() until its response is decided (it
 * finished, failed or was canceled): once the function that decided it
 * returns, the call has let go of the pointer and compresses nothing more
 * (callbacks and interceptors running inside that function, on_close
 * included, must not free the context yet). A handler may decide the
 * response inside connectc_server_call_recv_end(): that function still
 * uses the context until it returns. Messages the call produces are still
 * allocated with the call's own allocator; the states the context creates
 * use the context's.
 *
 * So one context may be lent to many calls as long as no two of them use
 * it at the same time: calls that one thread drives (an event loop), or
 * calls under one lock (the adapter's, which asynchronous handlers take
 * through connectc_server_call_run()), or calls one after another (an
 * HTTP/1.1 connection starts its next call after the previous response
 * was decided). It must outlive every call it was lent to that has not
 * let go of it (deleting or canceling the call also ends its use).
 *
 * The context also keeps a receive buffer for the next call it is lent
 * to: a Connect unary request's body, or the buffer enveloped messages
 * split across reads are gathered in, so that calls one after another
 * receive into memory that is already mapped (at 1 MiB a fresh buffer
 * costs about 200 page faults per request). It keeps at most one, no
 * larger than the largest message received (so within the receive limit),
 * and frees one over 64 KiB that 16 calls in a row used less than a
 * quarter of. The buffer is allocated with the call's allocator and kept
 * only when the context was made with the same one (the same functions
 * and user_data).
 *
 * @param call the call, before connectc_server_call_recv_head().
 * @param ctx the context, borrowed; NULL: the call creates its own when a
 *        compression is negotiated (the default).
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL;
 *         CONNECTC_ERR_STATE when the request head was already received.
 */
CONNECTC_API int connectc_server_call_lend_compress_ctx(connectc_server_call *call,
                                                        connectc_compress_ctx *ctx);

/**
 * The request head arrived. With CORS configured, an OPTIONS preflight is
 * answered here (204). Otherwise the request's protocol is detected from
 * its content type and the request validated as that protocol demands, in
 * connect-go's order: 404 for an unrouted call, 405 for an HTTP method the
 * procedure does not accept (with Allow), 415 for a content type it
 * cannot handle (with Accept-Post listing every protocol's types), then
 * errors in the request's protocol: unimplemented for an unknown
 * compression, invalid_argument for a wrong Connect protocol version, a
 * bad GET query or codec, or a bad Connect-Timeout-Ms or grpc-timeout.
 * Then the deadline policy applies and the interceptors' on_request_head
 * run.
 * @param call the call.
 * @param http_method NUL-terminated HTTP method ("POST"; "GET" is accepted
 *        for unary methods with no_side_effects); read during this
 *        function only (the call keeps no pointer to it).
 * @param query the query string without '?', NUL-terminated, or NULL if
 *        none; read only for GET, during this function only.
 * @param headers the request headers; borrowed for the call (copied),
 *        unless they are the call's own list
 *        (connectc_server_call_headers_to_fill()), which is used as it is.
 * @param now_ms the current time on the adapter's monotonic clock, in
 *        milliseconds: the deadline is now_ms plus Connect-Timeout-Ms.
 * @return CONNECTC_OK when the call goes on;
 *         CONNECTC_ERR_PROTOCOL when the request was answered here (a
 *         refusal, an interceptor's refusal, or a CORS preflight): the
 *         response is then ready (connectc_server_call_response_head and
 *         body), and the adapter should still drain or discard the request
 *         body and call connectc_server_call_recv_end();
 *         CONNECTC_ERR_ARGUMENT when `call`, `http_method` or `headers` is
 *         NULL;
 *         CONNECTC_ERR_STATE when a head was already received;
 *         CONNECTC_ERR_NOMEM when the headers or the request's origin could
 *         not be copied.
 */
CONNECTC_API int connectc_server_call_recv_head(connectc_server_call *call, const char *http_method,
                                   const char *query, const connectc_headers *headers,
                                   int64_t now_ms);
/**
 * Request body bytes in any chunking. For streams, messages go to
 * on_message from inside this function; a unary body is collected and
 * delivered by connectc_server_call_recv_end(). Bytes after the call
 * finished, after recv_end, and the body of a GET are discarded. A body
 * over the receive limit or a malformed envelope finishes the call with
 * an error response (resource_exhausted, internal...) and still returns
 * CONNECTC_OK.
 * @param call the call.
 * @param data the bytes; borrowed for the call; may be NULL when `len` is
 *        0.
 * @param len length of `data`.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL or `data` is NULL with
 *         a non-zero length;
 *         CONNECTC_ERR_STATE before connectc_server_call_recv_head();
 *         CONNECTC_ERR_NOMEM when a unary body could not be buffered.
 */
CONNECTC_API int connectc_server_call_recv_body(connectc_server_call *call, const uint8_t *data, size_t len);
/**
 * connectc_server_call_recv_body() for a transport that can stop reading:
 * it takes bytes until the receiver pauses (connectc_server_call_pause_recv()
 * from on_message), and says how many it took. The transport keeps the
 * rest, stops reading from the peer (HTTP/2: holds back WINDOW_UPDATE;
 * HTTP/1.1: leaves the socket unread) and offers the rest again once the
 * call's hooks are woken by connectc_server_call_resume_recv(). While the
 * call is paused it takes nothing. Only streamed (enveloped) requests
 * pause; a unary body is always taken whole, within its limit.
 * @param call the call.
 * @param data the bytes; borrowed for the call; may be NULL when `len` is 0.
 * @param len length of `data`.
 * @param taken set to the bytes taken (len unless the call paused);
 *        may be NULL.
 * @return as connectc_server_call_recv_body().
 */
CONNECTC_API int connectc_server_call_recv_body_some(connectc_server_call *call,
                                                     const uint8_t *data, size_t len,
                                                     size_t *taken);
/**
 * Asks the transport to stop delivering request messages: a consumer is
 * behind. Takes effect after the message being delivered; transports that
 * feed connectc_server_call_recv_body_some() stop reading, and those that
 * feed connectc_server_call_recv_body() keep delivering (the receive
 * limits still bound what a call holds). Call it on the transport's side
 * of the call (inside a callback, or in connectc_server_call_run()).
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_server_call_pause_recv(connectc_server_call *call);
/**
 * Undoes connectc_server_call_pause_recv() and wakes the transport
 * (connectc_server_call_hooks.wake) so that it offers the bytes it kept.
 * From another thread, call it inside connectc_server_call_run(), and
 * hold a reference (connectc_server_call_ref(), taken when pausing) until
 * then: the call may end meanwhile (a request whose last message paused
 * it ends without a resume).
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_server_call_resume_recv(connectc_server_call *call);
/**
 * @param call the call.
 * @return 1 while a streamed request is paused and not yet complete, else 0.
 */
CONNECTC_API int connectc_server_call_recv_paused(const connectc_server_call *call);
/**
 * The request body ended. For unary calls this is when the body is
 * decompressed, checked against the receive limit and delivered
 * (on_message); then, for every call still going, on_end (both from
 * inside this function). A request ending inside an envelope
 * (invalid_argument) or a server stream without its request
 * (unimplemented) finishes the call with that error instead. Later calls
 * do nothing.
 * @param call the call.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL;
 *         CONNECTC_ERR_STATE before connectc_server_call_recv_head().
 */
CONNECTC_API int connectc_server_call_recv_end(connectc_server_call *call);

/**
 * Request metadata.
 * @param call the call; must not be NULL.
 * @return the request headers, owned by the call (valid until it is
 *         deleted); empty before connectc_server_call_recv_head().
 */
CONNECTC_API const connectc_headers *connectc_server_call_request_headers(const connectc_server_call *call);
/**
 * Whether the request came as a Connect GET (valid after recv_head).
 * @param call the call; must not be NULL.
 * @return 1 for a GET, 0 otherwise.
 */
CONNECTC_API int connectc_server_call_is_get(const connectc_server_call *call);
/**
 * The request's codec name, valid after recv_head.
 * @param call the call; must not be NULL.
 * @return one of the configured codec strings ("proto", "json"): the one
 *         the request named, or the first configured one when the request
 *         was refused before its codec was known; NULL before recv_head.
 */
CONNECTC_API const char *connectc_server_call_codec(const connectc_server_call *call);
/**
 * The absolute deadline: recv_head's now_ms plus Connect-Timeout-Ms.
 * @param call the call; may be NULL.
 * @return the deadline in the caller's clock, or -1 for none (no timeout
 *         header, before recv_head, or a NULL call).
 */
CONNECTC_API int64_t connectc_server_call_deadline(const connectc_server_call *call);
/**
 * Advances time: at or past the deadline an unfinished call finishes with
 * deadline_exceeded and on_cancel fires (both from inside this function).
 * Before recv_head, without a deadline, or once finished, nothing
 * happens.
 * @param call the call; NULL is ignored.
 * @param now_ms the current time on the clock given to recv_head.
 */
CONNECTC_API void connectc_server_call_tick(connectc_server_call *call, int64_t now_ms);
/**
 * The client went away: the call is abandoned (it counts as finished, and
 * no response is produced) and, if it had not finished, the interceptors'
 * on_close and then on_cancel fire with canceled, "the client went away".
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_server_call_cancel(connectc_server_call *call);

/**
 * Response headers the handler may fill before they are sent: before the
 * first message, connectc_server_call_flush_headers() or finish (streams,
 * gRPC and gRPC-Web), before finish (Connect unary). Names the protocol or
 * HTTP framing owns (content-type, content-encoding, connect-*, grpc-*,
 * te, trailer-*, ...; see connectc_client_call_add_header()) are silently
 * left out of the response.
 * @param call the call; must not be NULL.
 * @return the call's list, owned by the call; add to it with the
 *         connectc_headers_* functions.
 */
CONNECTC_API connectc_headers *connectc_server_call_response_headers(connectc_server_call *call);
/**
 * Response trailers the handler may fill before finish. Connect unary
 * responses carry them as "trailer-" prefixed headers, Connect streams in
 * the end-of-stream message, gRPC in HTTP trailers (or the head of a
 * trailers-only response), gRPC-Web in its trailer frame; protocol-owned
 * names are left out.
 * @param call the call; must not be NULL.
 * @return the call's list, owned by the call.
 */
CONNECTC_API connectc_headers *connectc_server_call_response_trailers(connectc_server_call *call);

/**
 * Commits the response head now (streams only), so that headers reach the
 * client before the first message. Optional.
 * @param call the call.
 * @return CONNECTC_OK (also when the head was already committed);
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL;
 *         CONNECTC_ERR_STATE before recv_head, after the call finished, or
 *         for a unary call;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_server_call_flush_headers(connectc_server_call *call);
/**
 * Queues one serialized response message (compressed with the negotiated
 * response compression when it is at least limits.compress_min_bytes
 * long). Unary and client-streaming calls take exactly one.
 *
 * Backpressure (streaming responses): when the bytes queued and not yet
 * taken by the adapter have reached the send window
 * (connectc_server_config.send_window_bytes), nothing is queued and
 * CONNECTC_ERR_FULL is returned; the call goes on, and on_writable fires
 * once the adapter has taken the queue down to half the window. A message
 * is accepted whenever the queue is below the window, so the queue never
 * holds more than the window plus one message.
 * @param call the call.
 * @param msg the serialized message; copied; may be NULL when `len` is 0.
 * @param len length of `msg`.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL or `msg` is NULL with a
 *         non-zero length;
 *         CONNECTC_ERR_STATE before recv_head, after the call finished
 *         (refused, canceled, deadline passed, finish called), or for a
 *         second message of a unary or client-streaming call;
 *         CONNECTC_ERR_LIMIT when the message is over
 *         limits.send_max_bytes: the call then finishes with
 *         resource_exhausted; also, without finishing it, when a framed
 *         message would pass 4 GiB or gzip input passes 2 GiB;
 *         CONNECTC_ERR_FULL when the send window is full (nothing queued);
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_server_call_send(connectc_server_call *call, const uint8_t *msg, size_t len);
/**
 * @param call the call (NULL gives 0).
 * @return bytes of response queued in the call and not yet taken by the
 *         adapter.
 */
CONNECTC_API size_t connectc_server_call_send_queued(const connectc_server_call *call);
/**
 * @param call the call (NULL gives 0).
 * @return 1 if connectc_server_call_send would queue a message now (the
 *         call is sending and below its send window), 0 otherwise.
 */
CONNECTC_API int connectc_server_call_writable(const connectc_server_call *call);
/**
 * Asks for on_writable once the queue drains to half the send window, as
 * after a refused send (for a sender that stops before being refused).
 * @param call the call (NULL is ignored).
 */
CONNECTC_API void connectc_server_call_want_writable(connectc_server_call *call);
/**
 * @param call the call (NULL gives 0).
 * @return the send window in effect (SIZE_MAX: none).
 */
CONNECTC_API size_t connectc_server_call_send_window(const connectc_server_call *call);
/**
 * Ends the call: the response head (Connect unary), the end-of-stream
 * message (Connect streams), the status trailers (gRPC; a gRPC or gRPC-Web
 * call that sent nothing and set no header gets a trailers-only response)
 * or the trailer frame (gRPC-Web) is produced. The interceptors' on_close
 * run. A unary call (any protocol) or a gRPC or gRPC-Web client-streaming
 * call finished with success but without its response message finishes
 * with internal, "the handler finished without a response message",
 * instead; so does a Connect client-streaming call finished with `err`
 * NULL (not with an error of code OK) without its response. Only the
 * first
 * finish counts: later ones return CONNECTC_ERR_STATE and change nothing.
 * @param call the call.
 * @param err the outcome, borrowed for the call: NULL or code OK for
 *        success, otherwise the Connect error to send (code, message and
 *        details).
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` is NULL;
 *         CONNECTC_ERR_STATE before recv_head or when the call has already
 *         finished (refused, canceled, deadline passed, finished before);
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_server_call_finish(connectc_server_call *call, const connectc_error *err);
/**
 * Whether the response is decided.
 * @param call the call; may be NULL.
 * @return 1 once the call finished (finish called, refused, failed,
 *         canceled, deadline passed) and for a NULL call; 0 before.
 */
CONNECTC_API int connectc_server_call_is_finished(const connectc_server_call *call);

/**
 * The response head, once decided: streams after the first message,
 * flush_headers or finish; unary calls after finish; refused requests
 * after recv_head.
 * @param call the call.
 * @param out receives the head; its pointers are owned by the call.
 * The first call adds the CORS headers for an allowed origin.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `call` or `out` is NULL;
 *         CONNECTC_ERR_STATE before the head is decided;
 *         CONNECTC_ERR_NOMEM when the CORS headers could not be added.
 */
CONNECTC_API int connectc_server_call_response_head(connectc_server_call *call, connectc_response_head *out);
/**
 * Response body bytes waiting to be written; like the client's
 * connectc_client_call_body_peek(). Before the response head is decided
 * it reports no bytes and not done.
 * @param call the call; must not be NULL.
 * @param data receives a view of the bytes, owned by the call and valid
 *        until the next call on it; may be NULL when `*len` is 0.
 * @param len receives the number of bytes.
 * @param done receives 1 when these are the last bytes of the response
 *        (the call finished), 0 otherwise.
 */
CONNECTC_API void connectc_server_call_body_peek(connectc_server_call *call, const uint8_t **data,
                                    size_t *len, int *done);
/**
 * Drops bytes the adapter has written from the front of the response
 * body.
 * @param call the call; must not be NULL.
 * @param n number of bytes written; more than body_peek reported is
 *        treated as all of them.
 */
CONNECTC_API void connectc_server_call_body_consume(connectc_server_call *call, size_t n);
/**
 * The HTTP trailers to send after the body, once body_peek reported the
 * last bytes (*done): a gRPC response's status (grpc-status, grpc-message,
 * grpc-status-details-bin) and the handler's trailers.
 * @param call the call; may be NULL.
 * @return the trailers, owned by the call and valid until it is deleted;
 *         NULL before the call finished, for a NULL call, and when the
 *         response has none (Connect and gRPC-Web carry them in the body;
 *         a trailers-only gRPC response carries them in its head).
 */
CONNECTC_API const connectc_headers *connectc_server_call_response_http_trailers(
    const connectc_server_call *call);
/**
 * The adapter has written the whole response, or given up on it, at
 * `now_ms`: the call's stats (connectc_server_config.on_stats) are
 * reported now, from inside this function, with this end time. Only the
 * first call counts; connectc_server_call_del() reports them if this was
 * never called (and the call received its head).
 * @param call the call; NULL is ignored.
 * @param now_ms the current time on the adapter's clock.
 */
CONNECTC_API void connectc_server_call_complete(connectc_server_call *call, int64_t now_ms);
/**
 * The call's figures so far (the same the stats hook gets).
 * @param call the call; must not be NULL.
 * @param out receives the figures; its strings are the call's (or the
 *        method's), valid until it is deleted.
 */
CONNECTC_API void connectc_server_call_stats(const connectc_server_call *call,
                                             connectc_call_stats *out);
/**
 * The protocol the request speaks, detected from its content type.
 * @param call the call; may be NULL.
 * @return the protocol; CONNECTC_PROTOCOL_CONNECT before recv_head, for a
 *         request refused before its content type was read, and for a
 *         NULL call.
 */
CONNECTC_API connectc_protocol connectc_server_call_protocol(const connectc_server_call *call);

/**
 * Replaces the user_data handed to the callbacks (the router sets it from
 * the route's call_new).
 * @param call the call; must not be NULL.
 * @param user_data the new value; not touched by the call.
 */
CONNECTC_API void connectc_server_call_set_user_data(connectc_server_call *call, void *user_data);
/**
 * The user_data handed to the callbacks.
 * @param call the call; must not be NULL.
 * @return the value given at creation or by set_user_data.
 */
CONNECTC_API void *connectc_server_call_user_data(const connectc_server_call *call);
/**
 * The per-call storage a router reserved for the call's route
 * (connectc_route.call_data_size).
 * @param call the call; must not be NULL.
 * @param size set to its size in bytes (may be NULL).
 * @return the storage, zeroed at creation, aligned for any object and
 *         valid until the call is deleted; NULL when there is none.
 */
CONNECTC_API void *connectc_server_call_storage(connectc_server_call *call, size_t *size);
/**
 * The call's own request header list, empty until the request head
 * arrives, for an adapter to add the request's fields to directly
 * (connectc_headers_add()) and then pass as `headers` to
 * connectc_server_call_recv_head(), which copies nothing then: each
 * field is copied once, from the adapter's buffer into the call.
 * @param call the call; must not be NULL.
 * @return the list, owned by the call and valid until it is deleted; it is
 *         what connectc_server_call_request_headers() returns later.
 */
CONNECTC_API connectc_headers *connectc_server_call_headers_to_fill(connectc_server_call *call);
/**
 * The method the call serves.
 * @param call the call; must not be NULL.
 * @return the method given at creation, or NULL for an unrouted (404)
 *         call.
 */
CONNECTC_API const connectc_method_desc *connectc_server_call_method(const connectc_server_call *call);

/**
 * Hooks for handlers that complete from other threads. The core
 * never locks; a threaded adapter registers these so that code outside its
 * own thread (an asynchronous handler) can take the call's lock, act on the
 * call, release it and wake the transport. See connectc_server_call_run().
 * Each receives the `ctx` given to connectc_server_call_set_hooks().
 */
typedef struct connectc_server_call_hooks {
  /** Takes the lock that guards the call. Required. */
  void (*lock)(void *ctx);
  /** Releases it. Required. */
  void (*unlock)(void *ctx);
  /** The call has new output (or finished): resume sending. Called with the
   * lock held. Required. */
  void (*wake)(void *ctx);
  /** Keep the call alive across asynchronous work. May be NULL. */
  void (*ref)(void *ctx);
  /** Drops such a reference; may free the call. May be NULL. */
  void (*unref)(void *ctx);
} connectc_server_call_hooks;

/**
 * Registers an adapter's hooks on a call (replacing earlier ones).
 * @param call the call; must not be NULL.
 * @param ops the hooks, retained (not copied): they must outlive the call.
 *        NULL removes them.
 * @param ctx handed to every hook.
 */
CONNECTC_API void connectc_server_call_set_hooks(connectc_server_call *call,
                                        const connectc_server_call_hooks *ops, void *ctx);

/**
 * Whether hooks are set, so that other threads may act on the call through
 * connectc_server_call_run().
 * @param call the call; NULL gives 0.
 * @return 1 when hooks are set, else 0.
 */
CONNECTC_API int connectc_server_call_has_hooks(const connectc_server_call *call);
/**
 * Runs fn(call, arg) under the transport's lock and wakes the transport
 * afterwards (lock, fn, wake, unlock). Without transport hooks it simply
 * calls fn. Safe from any thread while the caller holds a reference
 * (connectc_server_call_ref()).
 * @param call the call; must not be NULL.
 * @param fn what to run; it may use every connectc_server_call_* function
 *        of this call.
 * @param arg handed to `fn`.
 */
CONNECTC_API void connectc_server_call_run(connectc_server_call *call,
                              void (*fn)(connectc_server_call *call, void *arg), void *arg);
/**
 * Keeps the call alive across asynchronous work (the hooks' ref). A no-op
 * without hooks or without a ref hook.
 * @param call the call; must not be NULL.
 */
CONNECTC_API void connectc_server_call_ref(connectc_server_call *call);
/**
 * Drops a reference taken with connectc_server_call_ref() (the hooks'
 * unref, which may free the call). A no-op without hooks or without an
 * unref hook.
 * @param call the call; must not be NULL.
 */
CONNECTC_API void connectc_server_call_unref(connectc_server_call *call);

#ifdef __cplusplus
}
#endif

#endif
