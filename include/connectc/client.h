/*
 * client.h: the typed, synchronous client layer. It turns protobuf-c
 * messages into a client call (call.h), has a transport run it to
 * completion, and hands back typed results with headers, trailers and the
 * Connect error. Generated stubs (`<service>_<rpc>` and
 * `<service>_call_<rpc>`) are thin wrappers over these functions.
 *
 * The layer is transport-agnostic: a connectc_transport runs a call to
 * completion. The libcurl adapter provides one (connectc_curl_transport).
 * Streams are half-duplex here (every request is sent, then every response
 * is read), which is what HTTP/1.1 allows.
 */
#ifndef CONNECTC_CLIENT_H
#define CONNECTC_CLIENT_H

#include <protobuf-c/protobuf-c.h>

#include "connectc/call.h"
#include "connectc/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `call` to completion (its on_close has fired when this returns),
 * and tells the time of the clock it enforces deadlines with. */
typedef struct connectc_transport {
  int (*perform)(void *ctx, connectc_client_call *call);
  int64_t (*now_ms)(void *ctx);
  void *ctx;
} connectc_transport;

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

void connectc_client_init(connectc_client *client, connectc_transport transport);

/* Per-call options (all optional). */
typedef struct connectc_call_options {
  const connectc_headers *headers; /* extra request headers (copied) */
  int64_t timeout_ms;              /* 0: none */
} connectc_call_options;

/* The result of one call: metadata, the Connect error (code OK on
 * success), and the response messages (one for unary and client
 * streams). Everything is owned by the output; release with _reset. */
typedef struct connectc_call_output {
  connectc_headers headers;
  connectc_headers trailers;
  connectc_error error;
  ProtobufCMessage **messages;
  size_t n_messages;
  connectc_allocator alloc;
} connectc_call_output;

void connectc_call_output_init(connectc_call_output *out, const connectc_allocator *alloc);
void connectc_call_output_reset(connectc_call_output *out);

/*
 * Runs one call of `method` with `n_requests` typed requests (unary and
 * server streams take exactly one), decoding responses as `output`.
 * Returns CONNECTC_OK when the call ran (its outcome, success or Connect
 * error, is in out->error), or a negative CONNECTC_ERR_* when it could not
 * start (bad arguments, out of memory, unsupported compression).
 */
int connectc_client_invoke(const connectc_client *client, const connectc_method_desc *method,
                           const ProtobufCMessageDescriptor *output,
                           const ProtobufCMessage *const *requests, size_t n_requests,
                           const connectc_call_options *opts, connectc_call_output *out);

#ifdef __cplusplus
}
#endif

#endif
