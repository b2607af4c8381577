/*
 * call.h: the sans-IO Connect call state machines.
 *
 * A client call turns what the application wants (request headers,
 * serialized request messages, close-send, cancel) into an HTTP request
 * head and body bytes, and turns the HTTP response the transport received
 * (status, headers, body bytes, end) into response messages, metadata and
 * exactly one final status. A server call is the mirror image: it
 * validates an HTTP request, hands its messages to the application and
 * produces the HTTP response.
 *
 * Neither does any I/O, reads a clock, or takes a lock. The transport
 * adapter (libcurl, libmicrohttpd, or your own event loop) moves the bytes
 * and passes the current time in milliseconds from any monotonic clock.
 *
 * Messages cross this API serialized (the bytes a codec produced), so the
 * state machines are independent of the message library; see codec.h.
 *
 * Threading: a call object is not thread-safe; drive each call from one
 * thread at a time. Callbacks run synchronously inside the function that
 * triggered them and must not free the call; they may call the sending
 * functions of the same call.
 */
#ifndef CONNECTC_CALL_H
#define CONNECTC_CALL_H

#include "connectc/common.h"
#include "connectc/compress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum connectc_stream_type {
  CONNECTC_STREAM_UNARY = 0,
  CONNECTC_STREAM_CLIENT = 1, /* client streaming: many requests, one response */
  CONNECTC_STREAM_SERVER = 2, /* server streaming: one request, many responses */
  CONNECTC_STREAM_BIDI = 3    /* bidirectional (half-duplex over HTTP/1.1) */
} connectc_stream_type;

/* Default receive limit when a config leaves recv_max_bytes at 0. */
#define CONNECTC_DEFAULT_RECV_MAX_BYTES ((size_t)4 * 1024 * 1024)

/* Limits shared by client and server calls. Zero means the default. */
typedef struct connectc_call_limits {
  /* Largest message accepted, after decompression (default
   * CONNECTC_DEFAULT_RECV_MAX_BYTES). Compressed input is bounded by the
   * same number plus 1/16 and 1 KiB of slack for incompressible data. */
  size_t recv_max_bytes;
  /* Largest message this side sends, before compression (0 = no limit).
   * Exceeding it fails the call with resource_exhausted. */
  size_t send_max_bytes;
  /* Messages smaller than this are sent uncompressed (0 = compress all
   * messages when a compression is in use). */
  size_t compress_min_bytes;
} connectc_call_limits;

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
  /* Milliseconds the call may take, from creation; 0 = no deadline. Sent
   * as Connect-Timeout-Ms and enforced by connectc_client_call_tick(). */
  int64_t timeout_ms;
  /* Unary only: send as a Connect GET (for NO_SIDE_EFFECTS methods). */
  int use_get;
} connectc_client_config;

/*
 * Creates a client call. `cfg` and `cb` are copied; `user_data` is handed
 * to every callback; `alloc` may be NULL (default) and is copied; `now_ms`
 * starts the deadline clock. Returns CONNECTC_OK, CONNECTC_ERR_ARGUMENT
 * (missing procedure/codec, procedure not starting with '/', use_get on a
 * non-unary call), CONNECTC_ERR_UNSUPPORTED (compression not in this
 * build) or CONNECTC_ERR_NOMEM.
 */
int connectc_client_call_new(const connectc_client_config *cfg,
                             const connectc_client_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, int64_t now_ms,
                             connectc_client_call **out);
void connectc_client_call_del(connectc_client_call *call);

/* Adds a request header (copied). Only before the request head has been
 * produced. Protocol-owned names (content-type, connect-*, ...) are refused
 * with CONNECTC_ERR_ARGUMENT. Binary values: connectc_client_call_add_header_bin. */
int connectc_client_call_add_header(connectc_client_call *call, const char *name,
                                    const char *value);
int connectc_client_call_add_header_bin(connectc_client_call *call, const char *name,
                                        const uint8_t *value, size_t len);

/*
 * Queues one serialized request message. Unary and server-streaming calls
 * take exactly one message (the second fails with CONNECTC_ERR_STATE) and
 * close the send side implicitly. A message over limits.send_max_bytes
 * fails the call (on_close with resource_exhausted) and returns
 * CONNECTC_ERR_LIMIT.
 */
int connectc_client_call_send(connectc_client_call *call, const uint8_t *msg, size_t len);
/* No more request messages. Idempotent. */
int connectc_client_call_close_send(connectc_client_call *call);
/* Cancels the call: on_close fires with `canceled` unless it already
 * fired. The adapter should then abort the transfer. */
void connectc_client_call_cancel(connectc_client_call *call);

/* The request head, once it can be known: streams at once, unary calls
 * after their message was sent. Returns CONNECTC_ERR_STATE before that. */
int connectc_client_call_request_head(connectc_client_call *call, connectc_request_head *out);

/*
 * Request body bytes waiting to be written: *data and *len view them (owned by
 * the call, valid until the next call on it). *done is 1 when these are the
 * last bytes of the body (send side closed). *len may be 0 with *done 0:
 * wait until the application sends more. Call
 * connectc_client_call_body_consume() with the count actually written.
 */
void connectc_client_call_body_peek(connectc_client_call *call, const uint8_t **data,
                                    size_t *len, int *done);
void connectc_client_call_body_consume(connectc_client_call *call, size_t n);

/* The response status line and headers arrived (headers borrowed). */
int connectc_client_call_recv_head(connectc_client_call *call, int http_status,
                                   const connectc_headers *headers);
/* Response body bytes in any chunking. Messages and the end-of-stream are
 * delivered through the callbacks from inside this function. */
int connectc_client_call_recv_body(connectc_client_call *call, const uint8_t *data, size_t len);
/* HTTP trailers, if the transport saw any (Connect puts trailers in
 * headers or in the end-of-stream message instead; these are merged). */
int connectc_client_call_recv_trailers(connectc_client_call *call,
                                       const connectc_headers *trailers);
/* The response ended (the transport saw its end). Completes the call:
 * on_close fires if it has not yet (for a stream with no end-of-stream
 * message, with an error). */
int connectc_client_call_recv_end(connectc_client_call *call);
/* The transport failed (connection refused, reset, TLS error...): closes
 * the call with `code` (typically unavailable) and `message`. */
void connectc_client_call_fail(connectc_client_call *call, connectc_code code,
                               const char *message);
/* Advances time: past the deadline the call closes with
 * deadline_exceeded. */
void connectc_client_call_tick(connectc_client_call *call, int64_t now_ms);
/* The absolute deadline in the caller's clock, or -1 for none. */
int64_t connectc_client_call_deadline(const connectc_client_call *call);
/* 1 once on_close has fired. */
int connectc_client_call_is_closed(const connectc_client_call *call);

/* ================================================================== */
/* Server call                                                         */
/* ================================================================== */

/* What a server knows about one method (generated code fills these). */
typedef struct connectc_method_desc {
  const char *procedure; /* "/pkg.Service/Method" */
  connectc_stream_type stream_type;
  int no_side_effects;   /* idempotency_level NO_SIDE_EFFECTS: GET allowed */
} connectc_method_desc;

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
int connectc_server_call_new(const connectc_server_config *cfg,
                             const connectc_method_desc *method,
                             const connectc_server_callbacks *cb, void *user_data,
                             const connectc_allocator *alloc, connectc_server_call **out);
void connectc_server_call_del(connectc_server_call *call);

/*
 * The request head arrived: HTTP method, query string (without '?', NULL
 * if none) and headers (borrowed). Validates the request as the Connect
 * protocol demands. Returns CONNECTC_OK when the call goes on, or
 * CONNECTC_ERR_PROTOCOL when the request was refused: the error response
 * is then ready (connectc_server_call_response_head and body), and the
 * adapter should still drain or discard the request body and call
 * connectc_server_call_recv_end().
 */
int connectc_server_call_recv_head(connectc_server_call *call, const char *http_method,
                                   const char *query, const connectc_headers *headers,
                                   int64_t now_ms);
/* Request body bytes in any chunking; messages go to on_message. Bytes
 * after the call finished are discarded. */
int connectc_server_call_recv_body(connectc_server_call *call, const uint8_t *data, size_t len);
/* The request body ended. For unary calls this is when the message is
 * delivered; then on_end. */
int connectc_server_call_recv_end(connectc_server_call *call);

/* Request metadata, valid after recv_head. */
const connectc_headers *connectc_server_call_request_headers(const connectc_server_call *call);
/* 1 if the request came as a Connect GET (valid after recv_head). */
int connectc_server_call_is_get(const connectc_server_call *call);
/* The request's codec name ("proto", "json"), valid after recv_head. */
const char *connectc_server_call_codec(const connectc_server_call *call);
/* The absolute deadline in the caller's clock, or -1 for none. */
int64_t connectc_server_call_deadline(const connectc_server_call *call);
/* Advances time: past the deadline an unfinished call finishes with
 * deadline_exceeded and on_cancel fires. */
void connectc_server_call_tick(connectc_server_call *call, int64_t now_ms);
/* The client went away: the call is abandoned, on_cancel fires with
 * `canceled`. */
void connectc_server_call_cancel(connectc_server_call *call);

/* Response headers and trailers the handler may fill before they are
 * sent (headers: before the first message or finish; trailers: before
 * finish). Protocol-owned names are refused by connectc_server_call_*
 * checks when the head is built (CONNECTC_ERR_ARGUMENT from send/finish). */
connectc_headers *connectc_server_call_response_headers(connectc_server_call *call);
connectc_headers *connectc_server_call_response_trailers(connectc_server_call *call);

/* Commits the response head now (streams only), so that headers reach the
 * client before the first message. Optional. */
int connectc_server_call_flush_headers(connectc_server_call *call);
/* Queues one serialized response message. Unary and client-streaming
 * calls take exactly one. Over limits.send_max_bytes the call finishes
 * with resource_exhausted and CONNECTC_ERR_LIMIT is returned. */
int connectc_server_call_send(connectc_server_call *call, const uint8_t *msg, size_t len);
/* Ends the call with `err` (NULL or code OK for success). Idempotent:
 * after the first finish, later ones return CONNECTC_ERR_STATE. */
int connectc_server_call_finish(connectc_server_call *call, const connectc_error *err);
/* 1 once the response is complete (finished or refused). */
int connectc_server_call_is_finished(const connectc_server_call *call);

/* The response head, once decided: streams after the first message or
 * finish, unary calls after finish. CONNECTC_ERR_STATE before that. */
int connectc_server_call_response_head(connectc_server_call *call, connectc_response_head *out);
/* Response body bytes waiting to be written; like the client's. */
void connectc_server_call_body_peek(connectc_server_call *call, const uint8_t **data,
                                    size_t *len, int *done);
void connectc_server_call_body_consume(connectc_server_call *call, size_t n);

#ifdef __cplusplus
}
#endif

#endif
