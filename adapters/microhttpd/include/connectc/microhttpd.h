/*
 * connectc/microhttpd.h: serve a connectc_router over HTTP/1.1 (and
 * HTTPS) with libmicrohttpd.
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
 * ticker thread: a call past its deadline finishes with deadline_exceeded
 * and its handler sees on_cancel.
 */
#ifndef CONNECTC_MICROHTTPD_H
#define CONNECTC_MICROHTTPD_H

#include <microhttpd.h>

#include "connectc/http.h"
#include "connectc/router.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct connectc_mhd_config {
  /* IPv4 address to bind; NULL = "127.0.0.1". */
  const char *bind_address;
  /* TCP port; 0 picks a free one (see connectc_mhd_port). */
  uint16_t port;
  /* PEM certificate chain and private key: both set turns TLS on. The
   * strings are copied. */
  const char *tls_cert_pem;
  const char *tls_key_pem;
  /* Or the same from PEM files, read at start (used when the _pem fields
   * are NULL). */
  const char *tls_cert_file;
  const char *tls_key_file;
  /* Worker threads polling connections; 0 = 2. */
  unsigned threads;
  /* Idle connection timeout in seconds; 0 = 60. */
  unsigned connection_timeout_s;
  /* Concurrent connections accepted; 0 = 1024. */
  unsigned max_connections;
  /* Bytes of request body read and discarded after a call has already
   * been answered (e.g. refused) before the connection is closed instead;
   * 0 = 1 MiB. */
  size_t max_discard_bytes;
  /* Milliseconds connectc_mhd_stop waits for in-flight calls; 0 = 5000. */
  unsigned shutdown_grace_ms;

  /* ---- slow and hostile peers (connectc_mhd_start only) ----
   * A ready server keeps each new connection in front of libmicrohttpd
   * until its first request head is complete (a socket and a few words of
   * state; no libmicrohttpd slot), checks that head with the shared HTTP
   * rules (connectc_http1_check_head) and answers a refusal itself, once,
   * before closing. The budgets below bound what slow or idle peers can
   * hold; when every slot is taken, the connection idle the longest is
   * closed to make room for a complete request. */

  /* Milliseconds from accept to a complete first request head; past it the
   * server answers 408 and closes. 0 = the smaller of 10000 and
   * connection_timeout_s. Unlike connection_timeout_s, activity does not
   * extend it: a peer trickling one byte a second is cut off too. */
  unsigned request_head_timeout_ms;
  /* Connections accepted and still waiting for a complete head; 0 =
   * max_connections. Past it, the one that has waited longest is answered
   * 503 and closed. */
  unsigned max_pending_heads;
  /* Largest request head (request line and fields), in bytes; 0 =
   * CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES (16 KiB). Past it: 414 or 431. */
  size_t max_head_bytes;
  /* Header fields plus query parameters plus cookies of one request; 0 =
   * CONNECTC_HTTP1_DEFAULT_MAX_FIELDS (256). Past it: 431 (or 414). */
  unsigned max_head_fields;
} connectc_mhd_config;

typedef struct connectc_mhd_server connectc_mhd_server;

/* Starts serving `router` (borrowed; it must outlive the server). Returns
 * CONNECTC_OK, CONNECTC_ERR_ARGUMENT, CONNECTC_ERR_NOMEM or
 * CONNECTC_ERR_UNSUPPORTED (the daemon could not start: port in use, bad
 * certificate...). */
CONNECTC_API int connectc_mhd_start(const connectc_mhd_config *cfg, connectc_router *router,
                       connectc_mhd_server **out);
/* The bound TCP port. */
CONNECTC_API uint16_t connectc_mhd_port(const connectc_mhd_server *srv);
/* Graceful stop: stops accepting, lets in-flight calls finish within the
 * grace period, cancels the rest (their asynchronous handlers see
 * connectc_responder_is_done and on_cancel), waits until every
 * asynchronous handler has called connectc_responder_finish, and frees the
 * server. A handler that never finishes its responder blocks this call. */
CONNECTC_API void connectc_mhd_stop(connectc_mhd_server *srv);

/* ---- embedding ---- */

/* Shared state for embedding (deadline ticker, in-flight list). */
typedef struct connectc_mhd_embed connectc_mhd_embed;
/* Creates it in *out for `router` (borrowed; must outlive it). Of `cfg`
 * (may be NULL) only max_discard_bytes applies. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT or CONNECTC_ERR_NOMEM; *out is NULL on failure. */
CONNECTC_API int connectc_mhd_embed_new(const connectc_mhd_config *cfg, connectc_router *router,
                           connectc_mhd_embed **out);
/* Frees it; every request it handled must have completed (MHD's completed
 * callback). Waits for asynchronous handlers still holding requests to
 * finish their responders. */
CONNECTC_API void connectc_mhd_embed_del(connectc_mhd_embed *e);
/*
 * Call from your access handler with its arguments, for a Connect route.
 * It applies the shared HTTP rules libmicrohttpd does not (the Host rules
 * of RFC 9112, absolute-form targets, length-checked paths; see
 * connectc/http.h), then feeds the server call. A refusal is queued on the
 * first call, so it is the only answer and no 100 Continue precedes it;
 * a call that finishes while its request body still arrives is answered
 * at once on plain TCP (libmicrohttpd 0.9 cannot queue a response before
 * the request ends, so the adapter writes it and half-closes).
 * Embedded, the adapter sees targets as libmicrohttpd decoded them: a path
 * holding an escaped NUL is cut there (the ready server sees raw targets).
 */
CONNECTC_API enum MHD_Result connectc_mhd_handle_request(connectc_mhd_embed *e,
                                                        struct MHD_Connection *connection,
                                                        const char *url, const char *method,
                                                        const char *version,
                                                        const char *upload_data,
                                                        size_t *upload_data_size,
                                                        void **req_cls);
/* The same without the HTTP version (the Host rules then treat the request
 * as HTTP/1.0: at most one Host, well-formed). */
CONNECTC_API enum MHD_Result connectc_mhd_handle(connectc_mhd_embed *e, struct MHD_Connection *connection,
                                    const char *url, const char *method,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls);
/* Call from your MHD_OPTION_NOTIFY_COMPLETED callback. */
CONNECTC_API void connectc_mhd_completed(connectc_mhd_embed *e, void **req_cls,
                            enum MHD_RequestTerminationCode toe);

#ifdef __cplusplus
}
#endif

#endif
