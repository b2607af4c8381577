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
/* Call from your access handler with its arguments, for a Connect route. */
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
