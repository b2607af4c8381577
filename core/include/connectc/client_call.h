/*
 * client_call.h: the sans-IO client call state machine (see call.h for
 * what it shares with the server side).
 */
#ifndef CONNECTC_CLIENT_CALL_H
#define CONNECTC_CLIENT_CALL_H

#include "connectc/call.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The request head a client call produced: what the adapter puts on the
 * wire. All pointers are owned by the call and valid until it is
 * deleted. */
typedef struct connectc_request_head {
  const char *method;               /* "POST" or "GET" */
  const char *path;                 /* "/pkg.Service/Method", plus "?query" for GET */
  const connectc_headers *headers;  /* every request header to send */
  int64_t content_length;           /* -1 when unknown (streaming) */
} connectc_request_head;

/* ================================================================== */
/* Client call                                                         */
/* ================================================================== */

typedef struct connectc_client_call connectc_client_call;

typedef struct connectc_client_callbacks {
  /* Response headers arrived. Called once, before any message and before
   * on_close (also for error responses, whose headers are metadata too).
   * Return 0 to go on, non-zero to cancel the call. May be NULL. */
  int (*on_headers)(connectc_client_call *call, const connectc_headers *headers,
                    void *user_data);
  /* One response message (decompressed, serialized bytes), valid only
   * during the callback. Return 0 to go on, non-zero to cancel the call.
   * May be NULL. */
  int (*on_message)(connectc_client_call *call, const uint8_t *data, size_t len,
                    void *user_data);
  /* The final status, called exactly once per call: err->code is
   * CONNECTC_CODE_OK on success. `trailers` holds the response trailers
   * (unary: the trailer- prefixed headers, prefix removed; streams: the
   * end-of-stream metadata). Both are valid only during the callback. */
  void (*on_close)(connectc_client_call *call, const connectc_error *err,
                   const connectc_headers *trailers, void *user_data);
} connectc_client_callbacks;

typedef struct connectc_client_config {
  /* The procedure path, "/pkg.Service/Method" (copied). Required. */
  const char *procedure;
  connectc_stream_type stream_type;
  /* Codec name, "proto" or "json" (copied). Required. */
  const char *codec;
  /* Compression for request messages; must be supported by this build. */
  connectc_compression send_compression;
  connectc_call_limits limits;
  /* Milliseconds the call may take, from creation; 0 = no deadline.
   * Enforced by connectc_client_call_tick(). The time left when the request
   * head is produced (creation, or the latest tick) is sent as
   * Connect-Timeout-Ms or grpc-timeout. */
  int64_t timeout_ms;
  /* Unary only: send as a Connect GET (for NO_SIDE_EFFECTS methods). */
  int use_get;
  /* The protocol spoken (default CONNECTC_PROTOCOL_CONNECT). */
  connectc_protocol protocol;
  /* Bidi only: the application sends while it receives (full duplex).
   * Needs a transport that can (HTTP/2); over HTTP/1.1 a bidi call is
   * half duplex: every request is sent before the response is read. */
  int full_duplex;
  /* Interceptors (borrowed array of borrowed entries), run in order on the
   * way out and in reverse order when the call closes. */
  const struct connectc_client_interceptor *const *interceptors;
  size_t n_interceptors;
  /* Receives the call's stats once it completes (NULL: none). */
  connectc_stats_fn on_stats;
  void *stats_user_data;
} connectc_client_config;

/*
 * A client interceptor: code that runs around every call, at the call level
 * (under the typed client and the generated stubs), e.g. adding
 * credentials, logging, metrics. Every member may be NULL.
 */
typedef struct connectc_client_interceptor {
  /* The request head is about to be produced; `headers` (the
   * application's) may be changed. Return 0 to go on; non-zero to fail the
   * call with `refuse` (initialised; code defaults to canceled when left
   * OK) before anything is sent. Later interceptors then do not run. */
  int (*on_request_head)(connectc_client_call *call, connectc_headers *headers,
                         connectc_error *refuse, void *user_data);
  /* Each request message (serialized, before compression). */
  void (*on_request_message)(connectc_client_call *call, const uint8_t *data, size_t len,
                             void *user_data);
  /* The response headers. */
  void (*on_response_headers)(connectc_client_call *call, const connectc_headers *headers,
                              void *user_data);
  /* Each response message (decompressed, serialized). */
  void (*on_response_message)(connectc_client_call *call, const uint8_t *data, size_t len,
                              void *user_data);
  /* The final status and trailers. */
  void (*on_close)(connectc_client_call *call, const connectc_error *status,
                   const connectc_headers *trailers, void *user_data);
  void *user_data;
} connectc_client_interceptor;

/*
 * Creates a client call. `cfg` and `cb` are copied; `user_data` is handed
 * to every callback; `alloc` may be NULL (default) and is copied; `now_ms`
 * starts the deadline clock. Returns CONNECTC_OK, CONNECTC_ERR_ARGUMENT
 * (missing procedure/codec, procedure not starting with '/', use_get on a
 * non-unary call), CONNECTC_ERR_UNSUPPORTED (compression not in this
 * build) or CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_client_call_new(const connectc_client_config *cfg,
                             const connectc_client_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, int64_t now_ms,
                             connectc_client_call **out);
CONNECTC_API void connectc_client_call_del(connectc_client_call *call);

/* Adds a request header (copied). Only before the request head has been
 * produced. Protocol-owned names (content-type, connect-*, ...) are refused
 * with CONNECTC_ERR_ARGUMENT. Binary values: connectc_client_call_add_header_bin. */
CONNECTC_API int connectc_client_call_add_header(connectc_client_call *call, const char *name,
                                    const char *value);
CONNECTC_API int connectc_client_call_add_header_bin(connectc_client_call *call, const char *name,
                                        const uint8_t *value, size_t len);

/*
 * Queues one serialized request message. Unary and server-streaming calls
 * take exactly one message (the second fails with CONNECTC_ERR_STATE) and
 * close the send side implicitly. A message over limits.send_max_bytes
 * fails the call (on_close with resource_exhausted) and returns
 * CONNECTC_ERR_LIMIT.
 */
CONNECTC_API int connectc_client_call_send(connectc_client_call *call, const uint8_t *msg, size_t len);
/* No more request messages. Idempotent. */
CONNECTC_API int connectc_client_call_close_send(connectc_client_call *call);
/* Cancels the call: on_close fires with `canceled` unless it already
 * fired. The adapter should then abort the transfer. */
CONNECTC_API void connectc_client_call_cancel(connectc_client_call *call);

/* The request head, once it can be known: streams at once, unary calls
 * after their message was sent. Interceptors' on_request_head run when it
 * is first produced. Returns CONNECTC_OK, CONNECTC_ERR_STATE before it can
 * be known, CONNECTC_ERR_RPC when the call has closed (canceled, failed,
 * refused by an interceptor: on_close has fired) or CONNECTC_ERR_NOMEM. */
CONNECTC_API int connectc_client_call_request_head(connectc_client_call *call, connectc_request_head *out);

/*
 * Request body bytes waiting to be written: *data and *len view them (owned by
 * the call, valid until the next call on it). *done is 1 when these are the
 * last bytes of the body (send side closed). *len may be 0 with *done 0:
 * wait until the application sends more. Call
 * connectc_client_call_body_consume() with the count actually written.
 */
CONNECTC_API void connectc_client_call_body_peek(connectc_client_call *call, const uint8_t **data,
                                    size_t *len, int *done);
CONNECTC_API void connectc_client_call_body_consume(connectc_client_call *call, size_t n);

/* The response status line and headers arrived (headers borrowed). */
CONNECTC_API int connectc_client_call_recv_head(connectc_client_call *call, int http_status,
                                   const connectc_headers *headers);
/* Response body bytes in any chunking. Messages and the end-of-stream are
 * delivered through the callbacks from inside this function. */
CONNECTC_API int connectc_client_call_recv_body(connectc_client_call *call, const uint8_t *data, size_t len);
/* HTTP trailers, if the transport saw any (Connect puts trailers in
 * headers or in the end-of-stream message instead; these are merged). */
CONNECTC_API int connectc_client_call_recv_trailers(connectc_client_call *call,
                                       const connectc_headers *trailers);
/* The response ended (the transport saw its end). Completes the call:
 * on_close fires if it has not yet (for a stream with no end-of-stream
 * message, with an error). */
CONNECTC_API int connectc_client_call_recv_end(connectc_client_call *call);
/* The transport failed (connection refused, reset, TLS error...): closes
 * the call with `code` (typically unavailable) and `message`. */
CONNECTC_API void connectc_client_call_fail(connectc_client_call *call, connectc_code code,
                               const char *message);
/* Advances time: past the deadline the call closes with
 * deadline_exceeded. */
CONNECTC_API void connectc_client_call_tick(connectc_client_call *call, int64_t now_ms);
/* The absolute deadline in the caller's clock, or -1 for none. */
CONNECTC_API int64_t connectc_client_call_deadline(const connectc_client_call *call);
/* The transport is done with the call (the response ended, failed or was
 * abandoned) at `now_ms`: the stats (connectc_client_config.on_stats) are
 * reported with this end time. Idempotent; connectc_client_call_del reports
 * them if this was never called. */
CONNECTC_API void connectc_client_call_complete(connectc_client_call *call, int64_t now_ms);
/* The call's figures so far (the same the stats hook gets). */
CONNECTC_API void connectc_client_call_stats(const connectc_client_call *call,
                                             connectc_call_stats *out);
/* The protocol the call speaks. */
CONNECTC_API connectc_protocol connectc_client_call_protocol(const connectc_client_call *call);
/* 1 when only an HTTP/2 transport can carry the call: gRPC, or a bidi call
 * asked to be full duplex. A transport that cannot should refuse it before
 * sending anything (connectc_client_call_fail with a message that says why). */
CONNECTC_API int connectc_client_call_requires_http2(const connectc_client_call *call);
/* 1 once on_close has fired. */
CONNECTC_API int connectc_client_call_is_closed(const connectc_client_call *call);

#ifdef __cplusplus
}
#endif

#endif
