/**
 * @file connectc/microhttpd.h
 * @brief Serve a connectc_router over HTTP/1.1 (and HTTPS) with
 * libmicrohttpd (libconnectc-microhttpd).
 *
 * Two ways to use it:
 *  - connectc_mhd_start(): a ready server with its own daemon and
 *    threads;
 *  - embedding: from your own MHD daemon's access handler, hand the
 *    requests for your Connect routes to connectc_mhd_handle(), and call
 *    connectc_mhd_completed() from your MHD_OPTION_NOTIFY_COMPLETED
 *    callback. Your daemon needs MHD_ALLOW_SUSPEND_RESUME (and
 *    MHD_USE_ITC with internal polling) and must not be
 *    thread-per-connection.
 *
 * Handlers run on the daemon's worker threads (synchronous handlers), or
 * complete later from any thread through connectc_server_call_run()
 * (asynchronous handlers); the adapter suspends and resumes connections
 * accordingly. Call deadlines (Connect-Timeout-Ms) are enforced by a
 * ticker thread (every 5 ms): a call past its deadline finishes with
 * deadline_exceeded and its handler sees on_cancel. A connection that
 * ends before its call finished cancels the call (on_cancel with
 * canceled).
 *
 * connectc_mhd_start()'s server lends each connection one compression
 * context, which its requests' calls use in turn
 * (connectc_server_call_lend_compress_ctx). Embedded, the connections are
 * the application's, and every call makes its own context.
 *
 * Requests whose body length two HTTP parsers could read differently
 * (Content-Length with Transfer-Encoding, repeated Content-Length, field
 * names that are not tokens, values holding a CR) are answered 400, and a
 * transfer coding other than chunked 501; the connection is then closed.
 *
 * It serves Connect and gRPC-Web. It does not send HTTP trailers
 * (connectc_server_call_response_http_trailers()), so a gRPC response
 * other than a trailers-only one reaches the client without its status.
 *
 * The adapter allocates its own bookkeeping with the C library's malloc;
 * calls are allocated with the router's allocator.
 */
#ifndef CONNECTC_MICROHTTPD_H
#define CONNECTC_MICROHTTPD_H

#include <microhttpd.h>

#include "connectc/http.h"
#include "connectc/router.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How to run a server. Zero-initialise it (designated initializers or
 * memset): zero means the default, and the struct only grows at the end. */
typedef struct connectc_mhd_config {
  /** IPv4 address to bind, dotted-quad; NULL = "127.0.0.1". */
  const char *bind_address;
  /** TCP port; 0 picks a free one (see connectc_mhd_port). */
  uint16_t port;
  /** PEM certificate chain: with tls_key_pem, turns TLS on. Copied. Set
   * both or neither. */
  const char *tls_cert_pem;
  /** PEM private key of tls_cert_pem. Copied. */
  const char *tls_key_pem;
  /** Or the certificate chain from a PEM file (at most 1 MiB), read at
   * start; used when the _pem fields are NULL and tls_key_file is set
   * too (one file alone leaves TLS off). */
  const char *tls_cert_file;
  /** The private key from a PEM file, read at start. */
  const char *tls_key_file;
  /** Worker threads polling connections; 0 = one per CPU this process may
   * run on (its affinity mask: a server started under `taskset -c 0` runs
   * one), at most 8. */
  unsigned threads;
  /** Idle connection timeout in seconds; 0 = 60. */
  unsigned connection_timeout_s;
  /** Concurrent connections accepted; 0 = 1024. */
  unsigned max_connections;
  /** Bytes of request body read and discarded after a call has already
   * been answered (e.g. refused) before the connection is closed instead;
   * 0 = 1 MiB. */
  size_t max_discard_bytes;
  /** Milliseconds connectc_mhd_stop waits for in-flight calls; 0 = 5000. */
  unsigned shutdown_grace_ms;

  /* ---- slow and hostile peers (connectc_mhd_start only) ----
   * A ready server keeps each new connection in front of libmicrohttpd
   * until its first request head is complete (a socket and a few words of
   * state; no libmicrohttpd slot), checks that head with the shared HTTP
   * rules (connectc_http1_check_head) and answers a refusal itself, once,
   * before closing. The budgets below bound what slow or idle peers can
   * hold; when every slot is taken, the connection idle the longest is
   * closed to make room for a complete request. */

  /** Milliseconds from accept to a complete first request head; past it the
   * server answers 408 and closes. 0 = the smaller of 10000 and
   * connection_timeout_s. Unlike connection_timeout_s, activity does not
   * extend it: a peer trickling one byte a second is cut off too. */
  unsigned request_head_timeout_ms;
  /** Connections accepted and still waiting for a complete head; 0 =
   * max_connections. Past it, the one that has waited longest is answered
   * 503 and closed. */
  unsigned max_pending_heads;
  /** Largest request head (request line and fields), in bytes; 0 =
   * CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES (16 KiB). Past it: 414 or 431. */
  size_t max_head_bytes;
  /** Header fields plus query parameters plus cookies of one request; 0 =
   * CONNECTC_HTTP1_DEFAULT_MAX_FIELDS (256). Past it: 431 (or 414). */
  unsigned max_head_fields;
} connectc_mhd_config;

/** A running server with its own daemon and threads (opaque). */
typedef struct connectc_mhd_server connectc_mhd_server;

/**
 * Starts serving a router: a libmicrohttpd daemon in poll mode with a
 * pool of worker threads. Each connection gets 16 KiB of libmicrohttpd
 * memory, which bounds the size of a request head.
 * @param cfg the configuration; may be NULL (defaults); read during the
 *        call (the PEM strings are copied).
 * @param router the router, borrowed: it must outlive the server.
 * @param out receives the server; untouched on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `router` or `out` is NULL, only one of
 *         tls_cert_pem and tls_key_pem is set, the bind address is not an
 *         IPv4 address, or a TLS file cannot be read;
 *         CONNECTC_ERR_NOMEM;
 *         CONNECTC_ERR_UNSUPPORTED when the daemon could not start (port
 *         in use, bad certificate...).
 */
CONNECTC_API int connectc_mhd_start(const connectc_mhd_config *cfg, connectc_router *router,
                       connectc_mhd_server **out);
/**
 * The bound TCP port.
 * @param srv the server; must not be NULL.
 * @return the port (the one picked when the configuration said 0).
 */
CONNECTC_API uint16_t connectc_mhd_port(const connectc_mhd_server *srv);
/**
 * Graceful stop: stops accepting, lets in-flight calls finish within the
 * grace period, cancels the rest (their asynchronous handlers see
 * connectc_responder_is_done and on_cancel), waits until every
 * asynchronous handler has called connectc_responder_finish, and frees the
 * server. A handler that never finishes its responder blocks this call.
 * @param srv the server; NULL is ignored.
 */
CONNECTC_API void connectc_mhd_stop(connectc_mhd_server *srv);

/* ---- embedding ---- */

/** Shared state for embedding (deadline ticker, in-flight list) (opaque). */
typedef struct connectc_mhd_embed connectc_mhd_embed;
/**
 * Creates the embedding state for a router and starts its deadline
 * ticker thread.
 * @param cfg may be NULL; of it only max_discard_bytes applies.
 * @param router the router, borrowed: it must outlive the state.
 * @param out receives the state; set to NULL on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `out` or `router` is NULL;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_mhd_embed_new(const connectc_mhd_config *cfg, connectc_router *router,
                           connectc_mhd_embed **out);
/**
 * Frees the embedding state; every request it handled must have completed
 * (MHD's completed callback). Waits for asynchronous handlers still
 * holding requests to finish their responders.
 * @param e the state; NULL is ignored.
 */
CONNECTC_API void connectc_mhd_embed_del(connectc_mhd_embed *e);
/**
 * Call from your access handler with its arguments, for a Connect route.
 * The first call for a request applies the shared HTTP rules
 * libmicrohttpd does not (the Host rules of RFC 9112, absolute-form
 * targets, length-checked paths; see connectc/http.h) and creates its
 * server call; a refusal is queued then, so it is the only answer and no
 * 100 Continue precedes it when the client waits for one or announces more
 * than max_discard_bytes. Later calls feed the body, end it and queue the
 * response, suspending the connection while the call has nothing to send.
 * A call that finishes while its request body still arrives past
 * max_discard_bytes is answered at once on plain TCP (libmicrohttpd 0.9
 * cannot queue a response before the request ends, so the adapter writes
 * it and half-closes). Embedded, the adapter sees targets as libmicrohttpd
 * decoded them: a path holding an escaped NUL is cut there (the ready
 * server sees raw targets).
 * @param e the embedding state.
 * @param connection the access handler's connection.
 * @param url the access handler's url.
 * @param method the access handler's HTTP method.
 * @param version the access handler's HTTP version ("HTTP/1.1"...).
 * @param upload_data the access handler's upload_data (request body bytes).
 * @param upload_data_size the access handler's upload_data_size; set to 0
 *        (everything consumed).
 * @param req_cls the access handler's req_cls: the adapter keeps its
 *        per-request state there.
 * @return what the access handler should return: MHD_YES (also after
 *         queueing a refusal), or MHD_NO to close the connection (out of
 *         memory, more than max_discard_bytes of body after the call was
 *         answered, or a call abandoned without a response).
 */
CONNECTC_API enum MHD_Result connectc_mhd_handle_request(connectc_mhd_embed *e,
                                                        struct MHD_Connection *connection,
                                                        const char *url, const char *method,
                                                        const char *version,
                                                        const char *upload_data,
                                                        size_t *upload_data_size,
                                                        void **req_cls);
/**
 * connectc_mhd_handle_request() without the HTTP version: the Host rules
 * then treat the request as HTTP/1.0 (at most one Host, well-formed).
 * @param e the embedding state.
 * @param connection the access handler's connection.
 * @param url the access handler's url.
 * @param method the access handler's HTTP method.
 * @param upload_data the access handler's upload_data.
 * @param upload_data_size the access handler's upload_data_size; set to 0.
 * @param req_cls the access handler's req_cls.
 * @return as connectc_mhd_handle_request().
 */
CONNECTC_API enum MHD_Result connectc_mhd_handle(connectc_mhd_embed *e, struct MHD_Connection *connection,
                                    const char *url, const char *method,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls);
/**
 * Call from your MHD_OPTION_NOTIFY_COMPLETED callback for the requests you
 * handed to connectc_mhd_handle() (a NULL `*req_cls` is ignored; other
 * routes' req_cls must not be passed). A call not finished yet is
 * canceled (its client went away).
 * @param e the embedding state.
 * @param req_cls the callback's req_cls; reset to NULL.
 * @param toe the callback's termination code (not used).
 */
CONNECTC_API void connectc_mhd_completed(connectc_mhd_embed *e, void **req_cls,
                            enum MHD_RequestTerminationCode toe);

#ifdef __cplusplus
}
#endif

#endif
