/**
 * @file connectc/call.h
 * @brief What the client and the server call state machines share:
 * stream types, protocols, limits and method descriptions.
 *
 * Part of libconnectc-core. The state machines themselves are in
 * client_call.h and server_call.h.
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

/** The shape of an RPC: how many messages go each way. */
typedef enum connectc_stream_type {
  CONNECTC_STREAM_UNARY = 0,  /**< one request, one response */
  CONNECTC_STREAM_CLIENT = 1, /**< client streaming: many requests, one response */
  CONNECTC_STREAM_SERVER = 2, /**< server streaming: one request, many responses */
  CONNECTC_STREAM_BIDI = 3    /**< bidirectional (half-duplex over HTTP/1.1) */
} connectc_stream_type;

/** The RPC protocol of a call. A client chooses one per call
 * (connectc_client_config.protocol); a server call detects it from the
 * request's content type (application/grpc[+codec],
 * application/grpc-web[+codec], otherwise Connect) and answers in kind. */
typedef enum connectc_protocol {
  CONNECTC_PROTOCOL_CONNECT = 0,  /**< Connect (the default) */
  CONNECTC_PROTOCOL_GRPC = 1,     /**< gRPC: needs HTTP/2 (trailers) */
  CONNECTC_PROTOCOL_GRPC_WEB = 2  /**< gRPC-Web: trailers in the body */
} connectc_protocol;

/**
 * The name of a protocol.
 * @param protocol any value.
 * @return "connect", "grpc" or "grpc-web" (static storage); NULL for a
 *         value that is none of them.
 */
CONNECTC_API const char *connectc_protocol_name(connectc_protocol protocol);

/** Default receive limit (4 MiB) when a config leaves recv_max_bytes at 0. */
#define CONNECTC_DEFAULT_RECV_MAX_BYTES ((size_t)4 * 1024 * 1024)

/** Limits shared by client and server calls. Zero means the default. */
typedef struct connectc_call_limits {
  /** Largest message accepted, after decompression (default
   * CONNECTC_DEFAULT_RECV_MAX_BYTES). Compressed input is bounded by the
   * same number plus 1/16 and 1 KiB of slack for incompressible data.
   * Over it the call fails with resource_exhausted. */
  size_t recv_max_bytes;
  /** Largest message this side sends, before compression (0 = no limit).
   * Exceeding it fails the call with resource_exhausted. */
  size_t send_max_bytes;
  /** Messages smaller than this are sent uncompressed (0 = compress all
   * messages when a compression is in use). */
  size_t compress_min_bytes;
} connectc_call_limits;

/**
 * What one finished call cost, for metrics and tracing (OpenTelemetry,
 * Prometheus): reported once per call to the on_stats hook of a client or
 * server configuration, and available at any time from
 * connectc_client_call_stats() / connectc_server_call_stats(). "Wire"
 * bytes are HTTP body bytes as they crossed the network (framing and
 * compression included); the others are message bytes before
 * compression. Strings are borrowed: valid for the hook only, or until the
 * call is deleted. The struct only grows at the end.
 */
typedef struct connectc_call_stats {
  const char *procedure;                    /**< "/pkg.Service/Method" ("" if unrouted) */
  connectc_stream_type stream_type;         /**< the method's stream type (unary if unrouted) */
  connectc_protocol protocol;               /**< the protocol the call spoke */
  const char *codec;                        /**< "proto", "json" (NULL if never known) */
  connectc_compression request_compression; /**< of the request messages */
  connectc_compression response_compression; /**< of the response messages */
  /** Request body bytes: written by the client transport
   * (body_consume), or received by the server (recv_body). */
  uint64_t request_wire_bytes;
  uint64_t request_bytes;     /**< request message bytes, before compression */
  uint64_t request_messages;  /**< request messages sent (client) or delivered (server) */
  /** Response body bytes: received by the client (recv_body), or written by
   * the server adapter (body_consume). */
  uint64_t response_wire_bytes;
  uint64_t response_bytes;    /**< response message bytes, before compression */
  uint64_t response_messages; /**< response messages delivered (client) or sent (server) */
  /** The clock the call was given at its start (client: creation; server:
   * recv_head). */
  int64_t start_ms;
  int64_t end_ms;      /**< the time passed to *_call_complete, else the last time seen */
  /** The final status. A client call not closed yet reports unknown; a
   * server call not finished yet reports OK. */
  connectc_code code;
  int http_status;     /**< the response's HTTP status (0 when none arrived, or none was decided) */
} connectc_call_stats;

/** Receives the stats of a finished call (connectc_client_config.on_stats,
 * connectc_server_config.on_stats), with the configured user_data. Runs on
 * the thread that completes or deletes the call; must not call into the
 * call. `stats` is valid during the hook only. */
typedef void (*connectc_stats_fn)(const connectc_call_stats *stats, void *user_data);

/** What a server knows about one method (generated code fills these).
 * Calls and routers keep a pointer to it: it must outlive them (generated
 * descriptions are static). */
typedef struct connectc_method_desc {
  const char *procedure; /**< "/pkg.Service/Method"; required */
  connectc_stream_type stream_type; /**< the method's stream type */
  int no_side_effects;   /**< idempotency_level NO_SIDE_EFFECTS: a unary method then also accepts GET */
} connectc_method_desc;

#ifdef __cplusplus
}
#endif

#endif
