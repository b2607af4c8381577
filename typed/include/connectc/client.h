/*
 * client.h: the typed client layer, synchronous and asynchronous. It turns
 * protobuf-c messages into a client call (call.h), has a transport move it,
 * and hands back typed results with headers, trailers and the Connect
 * error. Generated stubs (`<service>_<rpc>`, `<service>_call_<rpc>` and
 * `<service>_<rpc>_start`) are thin wrappers over these functions.
 *
 * The layer is transport-agnostic: a connectc_transport runs a call to
 * completion, or (asynchronous transports) moves it from an event loop. The
 * libcurl adapter provides one (connectc_curl_transport). The synchronous
 * functions are half-duplex (every request is sent, then every response is
 * read), which is what HTTP/1.1 allows; the asynchronous stream below sends
 * and receives as the transport lets it.
 */
#ifndef CONNECTC_CLIENT_H
#define CONNECTC_CLIENT_H

#include <protobuf-c/protobuf-c.h>

#include "connectc/client_call.h"
#include "connectc/transport.h"
#include "connectc/codec.h"

#ifdef __cplusplus
extern "C" {
#endif


/* A client: a transport and the options every call of it uses. Plain data:
 * initialise it with connectc_client_init and keep it as long as calls use
 * it. The transport context, codec and allocator are borrowed. */
typedef struct connectc_client {
  connectc_transport transport;
  const connectc_codec *codec;          /* default: connectc_codec_proto() */
  connectc_compression send_compression; /* default: identity */
  connectc_call_limits limits;
  int use_get;                           /* Connect GET for NO_SIDE_EFFECTS methods */
  const connectc_allocator *alloc;       /* messages returned are allocated with it */
} connectc_client;

CONNECTC_API void connectc_client_init(connectc_client *client, connectc_transport transport);

/* Per-call options (all optional). */
typedef struct connectc_call_options {
  const connectc_headers *headers; /* extra request headers (copied) */
  int64_t timeout_ms;              /* 0: none */
  /* Synchronous calls: hand each response message to this function as it
   * arrives instead of collecting it in connectc_call_output (the callee
   * owns it: free it with connectc_message_free and the client's
   * allocator), so a stream of any length costs one message at a time.
   * Runs on the transport's thread, inside connectc_client_invoke. Return
   * 0 to go on, non-zero to cancel the call. */
  int (*on_message)(ProtobufCMessage *message, void *arg);
  void *on_message_arg;
} connectc_call_options;

/* The result of one call: metadata, the Connect error (code OK on
 * success), and the response messages (one for unary and client
 * streams). Everything is owned by the output; release with _reset.
 * What a call collects is bounded by the client's
 * limits.decoded_max_bytes (the memory the decoded messages take, default
 * 64 MiB): past it the call is canceled with resource_exhausted. Read
 * longer streams with connectc_call_options.on_message. */
typedef struct connectc_call_output {
  connectc_headers headers;
  connectc_headers trailers;
  connectc_error error;
  ProtobufCMessage **messages;
  size_t n_messages;
  connectc_allocator alloc;
  size_t cap_messages; /* room in `messages` (grows geometrically) */
} connectc_call_output;

CONNECTC_API void connectc_call_output_init(connectc_call_output *out, const connectc_allocator *alloc);
CONNECTC_API void connectc_call_output_reset(connectc_call_output *out);

/*
 * Runs one call of `method` with `n_requests` typed requests (unary and
 * server streams take exactly one), decoding responses as `output`.
 * Returns CONNECTC_OK when the call ran (its outcome, success or Connect
 * error, is in out->error), or a negative CONNECTC_ERR_* when it could not
 * start (bad arguments, out of memory, unsupported compression).
 */
CONNECTC_API int connectc_client_invoke(const connectc_client *client, const connectc_method_desc *method,
                           const ProtobufCMessageDescriptor *output,
                           const ProtobufCMessage *const *requests, size_t n_requests,
                           const connectc_call_options *opts, connectc_call_output *out);

/* ================================================================== */
/* Asynchronous calls                                                  */
/* ================================================================== */

/*
 * An asynchronous typed call: requests go in with connectc_async_call_send
 * whenever the application has them, responses come out through callbacks
 * as the transport receives them. Generated stubs wrap it as
 * `<service>_<rpc>_start` with typed callbacks.
 *
 * Threading: a stream belongs to the thread that drives its transport (the
 * event loop); every function below must be called on that thread.
 *
 * Lifetime: the application owns the stream from connectc_async_call_new
 * until it calls connectc_async_call_del, which it may do at any point,
 * including inside the stream's own callbacks: an unfinished call is
 * canceled (on_close fires with `canceled` unless it already fired) and the
 * memory is released once the transport has let go of the call. No callback
 * fires after connectc_async_call_del returns.
 */
typedef struct connectc_async_call connectc_async_call;

typedef struct connectc_async_call_callbacks {
  /* Response headers arrived (valid during the callback). May be NULL. */
  void (*on_headers)(connectc_async_call *stream, const connectc_headers *headers,
                     void *user_data);
  /* One decoded response message. The callee owns it: free it with
   * connectc_message_free and connectc_async_call_allocator(stream).
   * May be NULL (messages are then freed). */
  void (*on_message)(connectc_async_call *stream, ProtobufCMessage *message, void *user_data);
  /* The final status, exactly once: error->code is CONNECTC_CODE_OK on
   * success; `trailers` as in connectc_client_callbacks. Both valid during
   * the callback. May be NULL. */
  void (*on_close)(connectc_async_call *stream, const connectc_error *error,
                   const connectc_headers *trailers, void *user_data);
  /* For generated code: `typed_size` bytes at `typed` are copied into the
   * stream and handed back by connectc_async_call_typed(), so that
   * typed callback tables need not outlive the call. May be NULL/0. */
  const void *typed;
  size_t typed_size;
} connectc_async_call_callbacks;

/*
 * Creates an asynchronous call of `method`, decoding responses as
 * `output`. `opts` (headers copied, timeout from now) and `cb` are copied;
 * `user_data` is handed to every callback. The transfer starts when the
 * request head is known: at once for client and bidi streams, at the first
 * send for unary and server-streaming calls. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT, CONNECTC_ERR_UNSUPPORTED (the transport is not
 * asynchronous, or the compression is not in this build) or
 * CONNECTC_ERR_NOMEM (and any error of the transport's start).
 */
CONNECTC_API int connectc_async_call_new(const connectc_client *client, const connectc_method_desc *method,
                               const ProtobufCMessageDescriptor *output,
                               const connectc_call_options *opts,
                               const connectc_async_call_callbacks *cb, void *user_data,
                               connectc_async_call **out);
/* Marshals `message` with the client's codec and queues it. Unary and
 * server-streaming calls take exactly one message and close the send side
 * with it. Returns CONNECTC_OK, CONNECTC_ERR_STATE (the send side is closed
 * or the call ended), CONNECTC_ERR_LIMIT (over the send limit: the call
 * then closes with resource_exhausted) or another CONNECTC_ERR_*. */
CONNECTC_API int connectc_async_call_send(connectc_async_call *stream, const ProtobufCMessage *message);
/* No more requests. Idempotent. */
CONNECTC_API int connectc_async_call_close_send(connectc_async_call *stream);
/* Cancels the call (on_close with `canceled`, unless it already fired). */
CONNECTC_API void connectc_async_call_cancel(connectc_async_call *stream);
/* Releases the stream (see Lifetime above). NULL is ignored. */
CONNECTC_API void connectc_async_call_del(connectc_async_call *stream);
/* 1 once on_close has fired. */
CONNECTC_API int connectc_async_call_is_closed(const connectc_async_call *stream);
/* The allocator response messages were decoded with. */
CONNECTC_API const connectc_allocator *connectc_async_call_allocator(const connectc_async_call *stream);
/* The copy of cb->typed (NULL if none was given). */
CONNECTC_API const void *connectc_async_call_typed(const connectc_async_call *stream);
/* The user_data given at creation. */
CONNECTC_API void *connectc_async_call_user_data(const connectc_async_call *stream);

#ifdef __cplusplus
}
#endif

#endif
