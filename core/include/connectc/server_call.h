/*
 * server_call.h: the sans-IO server call state machine (see call.h for
 * what it shares with the client side) and the hooks through which a
 * threaded adapter lets other threads act on a call.
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


typedef struct connectc_server_call connectc_server_call;

typedef struct connectc_server_callbacks {
  /* One request message (decompressed, serialized), valid during the
   * callback. Return 0 to go on, non-zero to fail the call with the error
   * set through connectc_server_call_finish() inside the callback, or with
   * `internal` if none was set. May be NULL. */
  int (*on_message)(connectc_server_call *call, const uint8_t *data, size_t len,
                    void *user_data);
  /* The client finished sending (after the last on_message). May be NULL. */
  void (*on_end)(connectc_server_call *call, void *user_data);
  /* The call was canceled: deadline passed or the client went away. `why`
   * says which. The response, if any, is already decided. May be NULL. */
  void (*on_cancel)(connectc_server_call *call, const connectc_error *why, void *user_data);
} connectc_server_callbacks;

typedef struct connectc_server_config {
  connectc_call_limits limits;
  /* Codec names this server accepts (NULL-terminated list of static
   * strings); NULL means {"proto", "json"}. */
  const char *const *codecs;
  /* Require the Connect-Protocol-Version header on POST and connect=v1 on
   * GET (connect-go's WithRequireConnectProtocolHeader). Default 0. */
  int require_protocol_header;
  /* Browsers: answer CORS preflights and add CORS headers to every response
   * for an allowed origin (NULL: off, OPTIONS gets 405). Borrowed. */
  const struct connectc_cors *cors;
  /* Interceptors (borrowed array of borrowed entries), run in order when the
   * request arrives and in reverse order when the call closes. */
  const struct connectc_server_interceptor *const *interceptors;
  size_t n_interceptors;
  /* Deadline policy: the timeout of calls whose client sent none (0: no
   * deadline), and the most a client may ask for (0: no maximum; a larger
   * timeout is cut to it). */
  int64_t default_timeout_ms;
  int64_t max_timeout_ms;
  /* Receives each call's stats once it completes (NULL: none). */
  connectc_stats_fn on_stats;
  void *stats_user_data;
} connectc_server_config;

/*
 * CORS: which origins may call from a browser. A preflight (OPTIONS with
 * Origin and Access-Control-Request-Method) from an allowed origin gets 204
 * with Access-Control-Allow-Origin, -Methods (POST, GET), -Headers (the
 * Connect and gRPC-Web request headers plus allowed_headers), -Max-Age and
 * Vary; from another origin, 204 without them (the browser then refuses).
 * Every other response to an allowed origin, errors the library makes
 * itself included, carries Access-Control-Allow-Origin, Vary: Origin and
 * Access-Control-Expose-Headers (the gRPC-Web status headers plus
 * exposed_headers).
 */
typedef struct connectc_cors {
  /* NULL-terminated list of origins ("https://app.example.com"), compared
   * exactly; "*" allows any origin. May be NULL when origin_allowed is set. */
  const char *const *allowed_origins;
  /* Or a callback: return 1 to allow `origin` (len bytes, not
   * NUL-terminated). Consulted when the list does not allow the origin. */
  int (*origin_allowed)(const char *origin, size_t len, void *user_data);
  void *user_data;
  /* More request headers a page may send (e.g. "Authorization"). */
  const char *const *allowed_headers;
  /* More response headers and trailers a page may read (unary Connect
   * trailers travel as "Trailer-<name>" headers: expose that name). */
  const char *const *exposed_headers;
  /* Send Access-Control-Allow-Credentials: true (cookies, HTTP auth). */
  int allow_credentials;
  /* Access-Control-Max-Age in seconds; 0 means 7200. */
  int max_age_s;
} connectc_cors;

/*
 * A server interceptor: code that runs around every call of a router, at
 * the call level (under the typed layers), e.g. authentication, logging,
 * metrics. Every member may be NULL.
 */
typedef struct connectc_server_interceptor {
  /* The request head is valid for its protocol; nothing of the body was
   * read, decompressed or decoded. `headers` may be changed. Return 0 to go
   * on; non-zero to refuse the call with `refuse` (initialised, code
   * defaults to permission_denied when left OK), answered in the request's
   * protocol. Later interceptors then do not run. */
  int (*on_request_head)(connectc_server_call *call, connectc_headers *headers,
                         connectc_error *refuse, void *user_data);
  /* Each request message (decompressed, serialized), before the handler. */
  void (*on_request_message)(connectc_server_call *call, const uint8_t *data, size_t len,
                             void *user_data);
  /* Each response message (serialized, before compression). */
  void (*on_response_message)(connectc_server_call *call, const uint8_t *data, size_t len,
                              void *user_data);
  /* The final status and the response trailers, once decided. */
  void (*on_close)(connectc_server_call *call, const connectc_error *status,
                   const connectc_headers *trailers, void *user_data);
  void *user_data;
} connectc_server_interceptor;

/* The HTTP response a server call produced. Pointers owned by the call. */
typedef struct connectc_response_head {
  int status;
  const connectc_headers *headers;
  int64_t content_length; /* -1 when unknown (streaming) */
} connectc_response_head;

/*
 * Creates a server call for `method` (NULL when the path matched no method:
 * the call then only answers 404). `cfg`, `cb` are copied; `method` must
 * outlive the call. `alloc` may be NULL.
 */
CONNECTC_API int connectc_server_call_new(const connectc_server_config *cfg,
                             const connectc_method_desc *method,
                             const connectc_server_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, connectc_server_call **out);
CONNECTC_API void connectc_server_call_del(connectc_server_call *call);

/*
 * The request head arrived: HTTP method, query string (without '?', NULL
 * if none) and headers (borrowed). Validates the request as the Connect
 * protocol demands. Returns CONNECTC_OK when the call goes on, or
 * CONNECTC_ERR_PROTOCOL when the request was refused: the error response
 * is then ready (connectc_server_call_response_head and body), and the
 * adapter should still drain or discard the request body and call
 * connectc_server_call_recv_end().
 */
CONNECTC_API int connectc_server_call_recv_head(connectc_server_call *call, const char *http_method,
                                   const char *query, const connectc_headers *headers,
                                   int64_t now_ms);
/* Request body bytes in any chunking; messages go to on_message. Bytes
 * after the call finished are discarded. */
CONNECTC_API int connectc_server_call_recv_body(connectc_server_call *call, const uint8_t *data, size_t len);
/* The request body ended. For unary calls this is when the message is
 * delivered; then on_end. */
CONNECTC_API int connectc_server_call_recv_end(connectc_server_call *call);

/* Request metadata, valid after recv_head. */
CONNECTC_API const connectc_headers *connectc_server_call_request_headers(const connectc_server_call *call);
/* 1 if the request came as a Connect GET (valid after recv_head). */
CONNECTC_API int connectc_server_call_is_get(const connectc_server_call *call);
/* The request's codec name ("proto", "json"), valid after recv_head. */
CONNECTC_API const char *connectc_server_call_codec(const connectc_server_call *call);
/* The absolute deadline in the caller's clock, or -1 for none. */
CONNECTC_API int64_t connectc_server_call_deadline(const connectc_server_call *call);
/* Advances time: past the deadline an unfinished call finishes with
 * deadline_exceeded and on_cancel fires. */
CONNECTC_API void connectc_server_call_tick(connectc_server_call *call, int64_t now_ms);
/* The client went away: the call is abandoned, on_cancel fires with
 * `canceled`. */
CONNECTC_API void connectc_server_call_cancel(connectc_server_call *call);

/* Response headers and trailers the handler may fill before they are
 * sent (headers: before the first message or finish; trailers: before
 * finish). Protocol-owned names are refused by connectc_server_call_*
 * checks when the head is built (CONNECTC_ERR_ARGUMENT from send/finish). */
CONNECTC_API connectc_headers *connectc_server_call_response_headers(connectc_server_call *call);
CONNECTC_API connectc_headers *connectc_server_call_response_trailers(connectc_server_call *call);

/* Commits the response head now (streams only), so that headers reach the
 * client before the first message. Optional. */
CONNECTC_API int connectc_server_call_flush_headers(connectc_server_call *call);
/* Queues one serialized response message. Unary and client-streaming
 * calls take exactly one. Over limits.send_max_bytes the call finishes
 * with resource_exhausted and CONNECTC_ERR_LIMIT is returned. */
CONNECTC_API int connectc_server_call_send(connectc_server_call *call, const uint8_t *msg, size_t len);
/* Ends the call with `err` (NULL or code OK for success). Idempotent:
 * after the first finish, later ones return CONNECTC_ERR_STATE. */
CONNECTC_API int connectc_server_call_finish(connectc_server_call *call, const connectc_error *err);
/* 1 once the response is complete (finished or refused). */
CONNECTC_API int connectc_server_call_is_finished(const connectc_server_call *call);

/* The response head, once decided: streams after the first message or
 * finish, unary calls after finish. CONNECTC_ERR_STATE before that. */
CONNECTC_API int connectc_server_call_response_head(connectc_server_call *call, connectc_response_head *out);
/* Response body bytes waiting to be written; like the client's. */
CONNECTC_API void connectc_server_call_body_peek(connectc_server_call *call, const uint8_t **data,
                                    size_t *len, int *done);
CONNECTC_API void connectc_server_call_body_consume(connectc_server_call *call, size_t n);
/* The HTTP trailers to send after the body, once body_peek reported the
 * last bytes (*done): a gRPC response's status and the handler's
 * trailers. NULL when the response has none (Connect and gRPC-Web carry
 * them in the body; a trailers-only gRPC response carries them in its
 * head). Owned by the call, valid until it is deleted. */
CONNECTC_API const connectc_headers *connectc_server_call_response_http_trailers(
    const connectc_server_call *call);
/* The adapter has written the whole response, or given up on it, at
 * `now_ms`: the call's stats (connectc_server_config.on_stats) are reported
 * now with this end time. Idempotent; connectc_server_call_del reports them
 * if this was never called. */
CONNECTC_API void connectc_server_call_complete(connectc_server_call *call, int64_t now_ms);
/* The call's figures so far (the same the stats hook gets). */
CONNECTC_API void connectc_server_call_stats(const connectc_server_call *call,
                                             connectc_call_stats *out);
/* The protocol the request speaks (Connect before recv_head). */
CONNECTC_API connectc_protocol connectc_server_call_protocol(const connectc_server_call *call);

/* Per-call user data (set by the router from the route's call_new). */
CONNECTC_API void connectc_server_call_set_user_data(connectc_server_call *call, void *user_data);
CONNECTC_API void *connectc_server_call_user_data(const connectc_server_call *call);
/* The method the call serves, or NULL for an unrouted (404) call. */
CONNECTC_API const connectc_method_desc *connectc_server_call_method(const connectc_server_call *call);

/*
 * Hooks for handlers that complete from other threads. The core
 * never locks; a threaded adapter registers these so that code outside its
 * own thread (an asynchronous handler) can take the call's lock, act on the
 * call, release it and wake the transport. See connectc_server_call_run.
 */
typedef struct connectc_server_call_hooks {
  void (*lock)(void *ctx);
  void (*unlock)(void *ctx);
  /* The call has new output (or finished): resume sending. Called with the
   * lock held. */
  void (*wake)(void *ctx);
  /* Keep the call alive across asynchronous work; unref may free it. */
  void (*ref)(void *ctx);
  void (*unref)(void *ctx);
} connectc_server_call_hooks;

CONNECTC_API void connectc_server_call_set_hooks(connectc_server_call *call,
                                        const connectc_server_call_hooks *ops, void *ctx);

/* Runs fn(call, arg) under the transport's lock and wakes the transport
 * afterwards. Without transport hooks it simply calls fn. Safe from any
 * thread while the caller holds a reference (connectc_server_call_ref). */
/* 1 when hooks are set: other threads may act on the call through
 * connectc_server_call_run. */
CONNECTC_API int connectc_server_call_has_hooks(const connectc_server_call *call);
CONNECTC_API void connectc_server_call_run(connectc_server_call *call,
                              void (*fn)(connectc_server_call *call, void *arg), void *arg);
CONNECTC_API void connectc_server_call_ref(connectc_server_call *call);
CONNECTC_API void connectc_server_call_unref(connectc_server_call *call);

#ifdef __cplusplus
}
#endif

#endif
