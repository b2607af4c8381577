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
  /* After connectc_server_call_send returned CONNECTC_ERR_FULL: the
   * adapter has taken enough of the queued response that the queue is at
   * or below half the send window, so a send will be accepted again.
   * Called once per refused send, from inside
   * connectc_server_call_body_consume (on the adapter's thread, under its
   * lock); it may send. May be NULL. */
  void (*on_writable)(connectc_server_call *call, void *user_data);
} connectc_server_callbacks;

/* Default send window when connectc_server_config.send_window_bytes is 0. */
#define CONNECTC_DEFAULT_SEND_WINDOW_BYTES ((size_t)256 * 1024)

typedef struct connectc_server_config {
  connectc_call_limits limits;
  /* Codec names this server accepts (NULL-terminated list of static
   * strings); NULL means {"proto", "json"}. */
  const char *const *codecs;
  /* Require the Connect-Protocol-Version header on POST and connect=v1 on
   * GET (connect-go's WithRequireConnectProtocolHeader). Default 0. */
  int require_protocol_header;
  /* Streaming responses: the most bytes queued in the call and not yet
   * taken by the adapter (connectc_server_call_body_peek/_consume) before
   * connectc_server_call_send refuses with CONNECTC_ERR_FULL, so that a
   * client that stops reading holds at most this much (plus one message)
   * of the server's memory. 0 = CONNECTC_DEFAULT_SEND_WINDOW_BYTES;
   * SIZE_MAX turns the window off. Unary responses are not affected. */
  size_t send_window_bytes;
} connectc_server_config;

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
/*
 * Queues one serialized response message. Unary and client-streaming
 * calls take exactly one. Over limits.send_max_bytes the call finishes
 * with resource_exhausted and CONNECTC_ERR_LIMIT is returned.
 *
 * Backpressure (streaming responses): when the bytes queued and not yet
 * taken by the adapter have reached the send window
 * (connectc_server_config.send_window_bytes), nothing is queued and
 * CONNECTC_ERR_FULL is returned; the call goes on, and on_writable fires
 * once the adapter has taken the queue down to half the window. A message
 * is accepted whenever the queue is below the window, so the queue never
 * holds more than the window plus one message.
 */
CONNECTC_API int connectc_server_call_send(connectc_server_call *call, const uint8_t *msg, size_t len);
/* Bytes of response queued in the call and not yet taken by the adapter. */
CONNECTC_API size_t connectc_server_call_send_queued(const connectc_server_call *call);
/* 1 if connectc_server_call_send would queue a message now (the call is
 * sending and below its send window), 0 otherwise. */
CONNECTC_API int connectc_server_call_writable(const connectc_server_call *call);
/* Asks for on_writable once the queue drains to half the send window, as
 * after a refused send (for a sender that stops before being refused). */
CONNECTC_API void connectc_server_call_want_writable(connectc_server_call *call);
/* The send window in effect (SIZE_MAX: none). */
CONNECTC_API size_t connectc_server_call_send_window(const connectc_server_call *call);
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
CONNECTC_API void connectc_server_call_run(connectc_server_call *call,
                              void (*fn)(connectc_server_call *call, void *arg), void *arg);
CONNECTC_API void connectc_server_call_ref(connectc_server_call *call);
CONNECTC_API void connectc_server_call_unref(connectc_server_call *call);

#ifdef __cplusplus
}
#endif

#endif
