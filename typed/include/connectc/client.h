/**
 * @file connectc/client.h
 * @brief The typed client layer, synchronous and asynchronous.
 *
 * Part of libconnectc. It turns
 * protobuf-c messages into a client call (call.h), has a transport move it,
 * and hands back typed results with headers, trailers and the Connect
 * error. Generated stubs (`<svc>_<rpc>`, `<svc>_<rpc>__call` and
 * `<svc>_<rpc>__start`; codegen/README.md) are thin wrappers over these functions.
 *
 * The layer is transport-agnostic: a connectc_transport runs a call to
 * completion, or (asynchronous transports) moves it from an event loop. The
 * libcurl adapter provides one (connectc_curl_transport). The synchronous
 * functions are half-duplex (every request is sent, then every response is
 * read), which is what HTTP/1.1 allows; the asynchronous stream below sends
 * and receives as the transport lets it, and a bidi stream asked to be full
 * duplex (connectc_call_options.full_duplex, on an HTTP/2 transport)
 * interleaves requests and responses.
 *
 * The protocol (Connect, gRPC, gRPC-Web) is a client option; the HTTP
 * version is the transport's (connectc_curl_config.http_version). A
 * transport refuses a call it cannot carry (gRPC, or a full-duplex bidi, on
 * HTTP/1.1) before sending anything.
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


/** A client: a transport and the options every call of it uses. Plain data:
 * initialise it with connectc_client_init(), then set the members to
 * change; keep it as long as calls use it. The transport context, codec
 * and allocator are borrowed. Its calls speak `protocol` (Connect by
 * default). The struct only grows at the end. */
typedef struct connectc_client {
  connectc_transport transport;          /**< what moves the calls */
  const connectc_codec *codec;          /**< default: connectc_codec_proto() */
  connectc_compression send_compression; /**< default: identity */
  connectc_call_limits limits;           /**< default: zero (the defaults of connectc_call_limits) */
  int use_get;                           /**< Connect GET for unary NO_SIDE_EFFECTS methods */
  /** NULL: the default allocator. Asynchronous calls and their messages,
   * and the results of generated synchronous stubs, are allocated with it;
   * connectc_client_invoke() allocates with its output's allocator. */
  const connectc_allocator *alloc;
  /** Interceptors of every call (see connectc_client_interceptor in
   * client_call.h): `n_interceptors` pointers; the array and the entries
   * are borrowed and must outlive the calls. NULL: none. */
  const connectc_client_interceptor *const *interceptors;
  size_t n_interceptors; /**< entries in `interceptors` */
  /** Receives each call's stats (see connectc_call_stats); NULL: none. */
  connectc_stats_fn on_stats;
  void *stats_user_data; /**< handed to on_stats */
  /** The protocol every call speaks: CONNECTC_PROTOCOL_CONNECT (0, the
   * default), _GRPC or _GRPC_WEB. gRPC needs an HTTP/2 transport (an
   * HTTP/1.1 one refuses the call before sending anything). */
  connectc_protocol protocol;
} connectc_client;

/**
 * Initialises a client: every member zero except `transport` and `codec`
 * (connectc_codec_proto()).
 * @param client the client to initialise.
 * @param transport the transport, copied (its context stays borrowed).
 */
CONNECTC_API void connectc_client_init(connectc_client *client, connectc_transport transport);

/** Per-call options (all optional). Zero-initialise it (designated
 * initializers or memset): zero means the default, and the struct only
 * grows at the end. */
typedef struct connectc_call_options {
  /** Extra request headers (copied; NULL: none). Names the protocol owns
   * are refused as by connectc_client_call_add_header(), and the call then
   * fails with CONNECTC_ERR_ARGUMENT. */
  const connectc_headers *headers;
  int64_t timeout_ms;              /**< deadline from the start of the call; 0: none */
  /** Asynchronous bidi calls only: full duplex, i.e. requests are sent
   * while responses are received (send the next request from on_message,
   * for instance). Needs an HTTP/2 transport: an HTTP/1.1 one refuses the
   * call. 0 (default): half duplex, as HTTP/1.1 allows. Ignored by the
   * synchronous functions, which are always half duplex. */
  int full_duplex;
  /** Synchronous calls: hand each response message to this function as it
   * arrives instead of collecting it in connectc_call_output (the callee
   * owns it: free it with connectc_message_free and the client's
   * allocator), so a stream of any length costs one message at a time.
   * Runs on the transport's thread, inside connectc_client_invoke. Return
   * 0 to go on, non-zero to cancel the call. NULL: collect. */
  int (*on_message)(ProtobufCMessage *message, void *arg);
  void *on_message_arg; /**< handed to on_message */
} connectc_call_options;

/** The result of one call: metadata, the Connect error (code OK on
 * success), and the response messages (one for unary and client
 * streams). Everything is owned by the output; release with
 * connectc_call_output_reset(). What a call collects is bounded by the
 * client's limits.decoded_max_bytes (the memory the decoded messages take,
 * default 64 MiB): past it the call is canceled with resource_exhausted.
 * Read longer streams with connectc_call_options.on_message. */
typedef struct connectc_call_output {
  connectc_headers headers;     /**< response headers */
  connectc_headers trailers;    /**< response trailers */
  connectc_error error;         /**< the outcome; code OK on success */
  ProtobufCMessage **messages;  /**< the decoded responses, `n_messages` of them */
  size_t n_messages;            /**< number of entries in `messages` */
  connectc_allocator alloc;     /**< what everything above is allocated with */
  size_t cap_messages;          /**< room in `messages` (grows geometrically) */
  /** Set (after connectc_call_output_init, before the call) to keep
   * neither the response headers nor the trailers: `headers` and
   * `trailers` stay empty and cost nothing. The generated functions that
   * return only the response set it. */
  int discard_metadata;
} connectc_call_output;

/**
 * Initialises an empty output.
 * @param out the output (its old contents are not freed).
 * @param alloc allocator of everything the output will hold; may be NULL
 *        (default); copied.
 */
CONNECTC_API void connectc_call_output_init(connectc_call_output *out, const connectc_allocator *alloc);
/**
 * Frees everything the output holds (messages, metadata, error) and
 * empties it, keeping its allocator: it may be used again without another
 * init.
 * @param out an initialised output.
 */
CONNECTC_API void connectc_call_output_reset(connectc_call_output *out);

/**
 * Runs one call of `method` with `n_requests` typed requests (unary and
 * server streams take exactly one), decoding responses as `output`,
 * through client->transport.perform.
 *
 * Half duplex for every stream type: all requests are sent and the send
 * side closed before the transport runs the call, so a bidi call gets its
 * responses after its last request (opts->full_duplex is ignored; use
 * connectc_async_call for a conversation).
 *
 * A response message the codec cannot decode ends the call, and
 * out->error is the codec's error. A request over the send limit ends the
 * call with resource_exhausted in out->error (and CONNECTC_OK).
 *
 * @param client the client; borrowed for the call.
 * @param method the method; borrowed for the call.
 * @param output the response message type.
 * @param requests `n_requests` messages; borrowed for the call; may be
 *        NULL when `n_requests` is 0.
 * @param n_requests number of requests.
 * @param opts headers and timeout; may be NULL.
 * @param out an initialised output: the outcome replaces out->error;
 *        headers, trailers and messages are appended to what it holds.
 *        Messages are allocated with out->alloc.
 * @return CONNECTC_OK when the call ran (its outcome, success or Connect
 *         error, is in out->error), or a negative CONNECTC_ERR_* when it
 *         could not run:
 *         CONNECTC_ERR_ARGUMENT (a NULL argument, a client without perform
 *         or codec, a wrong number of requests, a refused header, a
 *         negative timeout);
 *         CONNECTC_ERR_UNSUPPORTED (the send compression or the protocol
 *         is not in this build, or the transport cannot carry the call:
 *         out->error then says why, e.g. unimplemented "gRPC needs HTTP/2:
 *         this transport is configured for HTTP/1.1");
 *         CONNECTC_ERR_NOMEM;
 *         the codec's error when a request cannot be marshalled (out->error
 *         says why);
 *         or what the transport's perform returned.
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
 * `<svc>_<rpc>__start` with typed callbacks.
 *
 * Full duplex (bidi with opts->full_duplex, HTTP/2 transport): send and
 * receive interleave freely. connectc_async_call_send may be called at any
 * time, including from on_message, and each response is delivered as it
 * arrives while the send side is still open; connectc_async_call_close_send
 * ends the requests while responses keep coming; connectc_async_call_cancel
 * stops both directions at once (over HTTP/2 it resets the stream only).
 * Half duplex (the default) works the same way through the API, but the
 * server is not expected to answer before the send side closes.
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
/** An asynchronous typed call (opaque). */
typedef struct connectc_async_call connectc_async_call;

/** What an asynchronous call tells the application. Zero-initialise it
 * (designated initializers or memset): the struct only grows at the end. */
typedef struct connectc_async_call_callbacks {
  /** Response headers arrived (valid during the callback). May be NULL. */
  void (*on_headers)(connectc_async_call *stream, const connectc_headers *headers,
                     void *user_data);
  /** One decoded response message. The callee owns it: free it with
   * connectc_message_free and connectc_async_call_allocator(stream).
   * May be NULL (messages are then freed). */
  void (*on_message)(connectc_async_call *stream, ProtobufCMessage *message, void *user_data);
  /** The final status, exactly once: error->code is CONNECTC_CODE_OK on
   * success; a response the codec cannot decode ends the call with the
   * codec's error; `trailers` as in connectc_client_callbacks. Both valid
   * during the callback. May be NULL. */
  void (*on_close)(connectc_async_call *stream, const connectc_error *error,
                   const connectc_headers *trailers, void *user_data);
  /** For generated code: `typed_size` bytes at `typed` are copied into the
   * stream and handed back by connectc_async_call_typed(), so that
   * typed callback tables need not outlive the call. May be NULL/0. */
  const void *typed;
  size_t typed_size; /**< bytes at `typed` to copy; 0 for none */
} connectc_async_call_callbacks;

/**
 * Creates an asynchronous call of `method`, decoding responses as
 * `output`. The transfer starts when the request head is known: at once
 * for client and bidi streams, at the first send for unary and
 * server-streaming calls.
 * @param client the client; copied (its codec, allocator and transport
 *        context stay borrowed: they must outlive the call); its transport
 *        needs start and wake.
 * @param method the method; its procedure is copied.
 * @param output the response message type, retained: it must outlive the
 *        call (generated descriptors are static).
 * @param opts headers (copied) and timeout (from now); may be NULL.
 * @param cb the callbacks; copied (cb->typed too); required.
 * @param user_data handed to every callback.
 * @param out receives the call; set to NULL on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT (`out`, `client`, its codec, `method`,
 *         `output` or `cb` NULL, typed_size without typed, a refused
 *         header, a negative timeout);
 *         CONNECTC_ERR_UNSUPPORTED (the transport is not asynchronous, the
 *         send compression or protocol is not in this build, or the
 *         transport cannot carry the call: gRPC or a full-duplex bidi on
 *         an HTTP/1.1 transport);
 *         CONNECTC_ERR_NOMEM;
 *         or the error of the transport's start (nothing is left running).
 *         On error no callback has fired. Unary and server-streaming calls
 *         start at their first send instead: a transport that refuses them
 *         makes that send return its error, and on_close reports the
 *         reason.
 */
CONNECTC_API int connectc_async_call_new(const connectc_client *client, const connectc_method_desc *method,
                               const ProtobufCMessageDescriptor *output,
                               const connectc_call_options *opts,
                               const connectc_async_call_callbacks *cb, void *user_data,
                               connectc_async_call **out);
/**
 * Marshals `message` with the client's codec and queues it. Unary and
 * server-streaming calls take exactly one message and close the send side
 * with it; that first send also starts the transfer.
 * @param stream the call.
 * @param message the request; borrowed for the call (marshalled at once).
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `stream` or `message` is NULL, or the
 *         stream was deleted;
 *         CONNECTC_ERR_STATE (the send side is closed or the call ended);
 *         CONNECTC_ERR_LIMIT (over the send limit: the call then closes
 *         with resource_exhausted);
 *         CONNECTC_ERR_NOMEM;
 *         the codec's error when the message cannot be marshalled (for
 *         unary and server-streaming calls the call then closes with that
 *         error);
 *         the error of the transport's start, when it refused the call
 *         (which then closes with the transport's reason, or unavailable).
 */
CONNECTC_API int connectc_async_call_send(connectc_async_call *stream, const ProtobufCMessage *message);
/**
 * No more requests. Idempotent.
 * @param stream the call.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `stream` is NULL or was deleted;
 *         CONNECTC_ERR_STATE for a unary or server-streaming call whose
 *         request was not sent yet.
 */
CONNECTC_API int connectc_async_call_close_send(connectc_async_call *stream);
/**
 * Cancels the call: on_close fires with canceled (from inside this
 * function), unless it already fired.
 * @param stream the call; NULL or a deleted stream is ignored.
 */
CONNECTC_API void connectc_async_call_cancel(connectc_async_call *stream);
/**
 * Releases the stream (see Lifetime above): an unfinished call is
 * canceled first, so on_close may fire from inside this function.
 * @param stream the call; NULL is ignored, and so is a second del.
 */
CONNECTC_API void connectc_async_call_del(connectc_async_call *stream);
/**
 * Whether on_close has fired.
 * @param stream the call; may be NULL.
 * @return 1 once on_close has fired (and for a NULL stream), 0 before.
 */
CONNECTC_API int connectc_async_call_is_closed(const connectc_async_call *stream);
/**
 * The allocator response messages were decoded with: the client's, or the
 * default one.
 * @param stream the call; must not be NULL.
 * @return the stream's copy, valid until the stream is released.
 */
CONNECTC_API const connectc_allocator *connectc_async_call_allocator(const connectc_async_call *stream);
/**
 * The stream's copy of cb->typed.
 * @param stream the call; must not be NULL.
 * @return the copy, valid until the stream is released; NULL if none was
 *         given.
 */
CONNECTC_API const void *connectc_async_call_typed(const connectc_async_call *stream);
/**
 * The user_data given at creation.
 * @param stream the call; must not be NULL.
 * @return the user_data.
 */
CONNECTC_API void *connectc_async_call_user_data(const connectc_async_call *stream);

#ifdef __cplusplus
}
#endif

#endif
