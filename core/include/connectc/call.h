/*
 * call.h: what the client and the server call state machines share:
 * stream types, limits and method descriptions. The state machines
 * themselves are in client_call.h and server_call.h.
 *
 * A client call turns what the application wants (request headers,
 * serialized request messages, close-send, cancel) into an HTTP request
 * head and body bytes, and turns the HTTP response the transport received
 * (status, headers, body bytes, end) into response messages, metadata and
 * exactly one final status. A server call is the mirror image: it
 * validates an HTTP request, hands its messages to the application and
 * produces the HTTP response.
 *
 * Neither does any I/O, reads a clock, or takes a lock. The adapter
 * (libcurl, libmicrohttpd, or your own event loop) moves the bytes and
 * passes the current time in milliseconds from any monotonic clock.
 *
 * Messages cross this API serialized (the bytes a codec produced), so the
 * state machines are independent of the message library: this header and
 * everything of connectc-core build without protobuf-c.
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

/* The RPC protocol of a call. A client chooses one per call; a server call
 * detects it from the request's content type and answers in kind. */
typedef enum connectc_protocol {
  CONNECTC_PROTOCOL_CONNECT = 0,  /* Connect (the default) */
  CONNECTC_PROTOCOL_GRPC = 1,     /* gRPC: needs HTTP/2 (trailers) */
  CONNECTC_PROTOCOL_GRPC_WEB = 2  /* gRPC-Web: trailers in the body */
} connectc_protocol;

/* "connect", "grpc" or "grpc-web"; NULL for a value that is none of them. */
CONNECTC_API const char *connectc_protocol_name(connectc_protocol protocol);

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
  /* The typed layer (libconnectc; the core ignores it): the most memory
   * the decoded messages one call keeps may take, counted as they are
   * decoded (connectc_codec_options.max_decoded_bytes). On a server that is
   * the requests held for the handler, on a client what a synchronous stub
   * collects. Past it the call fails with resource_exhausted. 0 =
   * CONNECTC_DEFAULT_DECODED_MAX_BYTES. */
  size_t decoded_max_bytes;
} connectc_call_limits;

/* Default decoded-size budget of a call (see decoded_max_bytes). */
#define CONNECTC_DEFAULT_DECODED_MAX_BYTES ((size_t)64 * 1024 * 1024)

/* What a server knows about one method (generated code fills these). */
typedef struct connectc_method_desc {
  const char *procedure; /* "/pkg.Service/Method" */
  connectc_stream_type stream_type;
  int no_side_effects;   /* idempotency_level NO_SIDE_EFFECTS: GET allowed */
} connectc_method_desc;

#ifdef __cplusplus
}
#endif

#endif
