/*
 * connectc/mongoose.h: Connect on Cesanta Mongoose's event loop: a server
 * that serves a connectc_router, and a client transport for the typed
 * client and the generated stubs.
 *
 * Mongoose is used the way its users use it: mongoose.c and mongoose.h
 * live in your tree and are compiled into your program. libconnectc-mongoose
 * does not contain Mongoose; it is built against the mongoose.h of the
 * folder named by the CMake option CONNECTC_MONGOOSE_DIR, and your program
 * links its own mongoose.c. Build both with the same Mongoose configuration
 * (a mongoose_config.h next to mongoose.h, or the same -DMG_... flags): the
 * adapter reads struct mg_connection. Mongoose is GPLv2 or commercial
 * (https://mongoose.ws/licensing/); a program linking it is bound by the
 * licence you hold for it.
 *
 * This header declares the structs it uses (struct mg_mgr and friends)
 * without including mongoose.h; include mongoose.h yourself where you use
 * Mongoose's API.
 *
 * Threads: Mongoose's loop is single-threaded, and so is everything here
 * except one thing: asynchronous handlers (service.h's responders,
 * connectc_server_call_run) may complete their calls from any thread; the
 * server wakes its loop with mg_wakeup(). Call every connectc_mg_* function
 * on the thread that runs the manager's loop (mg_mgr_poll).
 *
 * The adapters enforce deadlines on Mongoose's monotonic clock
 * (mg_millis, as connectc_mg_now_ms); they tick them whenever the loop
 * polls, so poll with a timeout no longer than the precision you want (the
 * conformance programs poll every 10 ms).
 *
 * Mongoose's epoll mode (its default on Linux) keeps reporting a
 * connection whose reads are paused (c->is_full) as readable, so the loop
 * spins while the server holds back a client that pipelines more than
 * 64 KiB past a request still being answered; build mongoose.c with
 * MG_ENABLE_POLL=1 (and MG_ENABLE_EPOLL=0) to avoid that.
 */
#ifndef CONNECTC_MONGOOSE_H
#define CONNECTC_MONGOOSE_H

#include <stddef.h>
#include <stdint.h>

#include "connectc/client_call.h"
#include "connectc/router.h"
#include "connectc/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mg_mgr;
struct mg_connection;

/* Milliseconds of the monotonic clock both adapters tick deadlines with
 * (Mongoose's mg_millis()); pass it as `now_ms` to
 * connectc_client_call_new. */
CONNECTC_API int64_t connectc_mg_now_ms(void);

/* ================================================================== */
/* Server                                                              */
/* ================================================================== */

/* Server settings. Zero-initialise; zero means the default. */
typedef struct connectc_mg_server_config {
  /* PEM certificate chain and private key for https:// listeners opened
   * with connectc_mg_listen (copied). Requests handed over with
   * connectc_mg_serve use whatever TLS your own listener set up. */
  const char *tls_cert_pem;
  const char *tls_key_pem;
  /* Connections the server's own listeners keep open at once; more are
   * closed as they are accepted. 0 = 1024. */
  unsigned max_connections;
  /* A connection that moves no bytes for this long while the server waits
   * for the client (a request head or body, or room to send) is closed;
   * its call, if any, is canceled. Time a handler takes does not count.
   * 0 = 60000. */
  unsigned idle_timeout_ms;
  /* Bytes of a request head (request line and header fields): past this
   * the request is answered 431, or 414 for the request line alone.
   * 0 = 65536. */
  size_t max_header_bytes;
  /* Header fields in a request; more are answered 431. 0 = 100. */
  unsigned max_headers;
  /* Request body bytes read and discarded after the response was decided
   * (a refused request, say) before the connection is closed instead.
   * 0 = 1 MiB. */
  size_t max_discard_bytes;
  /* Response bytes queued on a connection (its Mongoose send buffer) before
   * the server stops taking more from the call until the client reads.
   * 0 = 256 KiB. */
  size_t send_buffer_bytes;
  /* Milliseconds connectc_mg_server_del lets in-flight calls finish.
   * 0 = 5000. */
  unsigned shutdown_grace_ms;
} connectc_mg_server_config;

typedef struct connectc_mg_server connectc_mg_server;

/*
 * Creates a server for `router` (borrowed: it must outlive the server) on
 * `mgr`: the application's own manager (initialised with mg_mgr_init and
 * polled by the application; the server calls mg_wakeup_init on it), or
 * NULL for a manager of the server's own (run it with connectc_mg_poll).
 * `cfg` may be NULL; it is copied. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT (router or out NULL, only one of certificate and
 * key), CONNECTC_ERR_NOMEM or CONNECTC_ERR_UNSUPPORTED (mg_wakeup_init
 * failed); *out is NULL on failure.
 */
CONNECTC_API int connectc_mg_server_new(const connectc_mg_server_config *cfg,
                                        connectc_router *router, struct mg_mgr *mgr,
                                        connectc_mg_server **out);

/*
 * Opens a listener whose every request goes to the router: url is
 * "http://ADDRESS:PORT" or "https://ADDRESS:PORT" (TLS with the configured
 * certificate); port 0 picks a free one. On success *port (may be NULL)
 * gets the bound port. Returns CONNECTC_OK, CONNECTC_ERR_ARGUMENT (bad
 * URL, https:// without a certificate) or CONNECTC_ERR_UNSUPPORTED (the
 * address could not be bound).
 */
CONNECTC_API int connectc_mg_listen(connectc_mg_server *s, const char *url, uint16_t *port);

/*
 * Embedding: call it first thing in the event handler of your own
 * mg_http_listen listener, for every event:
 *
 *     if (connectc_mg_serve(srv, c, ev, ev_data)) return;
 *
 * At MG_EV_HTTP_HDRS for a path the router has a route for, it takes the
 * connection over (returns 1): it reads the body as it arrives (chunked
 * included, without Mongoose's whole-body buffering and its
 * MG_MAX_RECV_SIZE cap), serves the call, and gives the connection back
 * to your handler when the response is complete, so that keep-alive and
 * pipelined requests reach your other routes again. While it holds the
 * connection your handler sees MG_EV_ERROR and MG_EV_CLOSE for it, no
 * other event. Otherwise it returns 0 and does nothing. Requests that
 * Mongoose's own HTTP parser refuses never reach it (Mongoose closes the
 * connection).
 */
CONNECTC_API int connectc_mg_serve(connectc_mg_server *s, struct mg_connection *c, int ev,
                                   void *ev_data);

/* The manager the server runs on (the application's, or its own). */
CONNECTC_API struct mg_mgr *connectc_mg_server_mgr(const connectc_mg_server *s);

/* Runs one iteration of the server's manager: mg_mgr_poll(mgr,
 * timeout_ms). */
CONNECTC_API void connectc_mg_poll(connectc_mg_server *s, int timeout_ms);

/* Connections the server holds now (its listeners' and the ones handed
 * over), for monitoring and tests. */
CONNECTC_API size_t connectc_mg_server_connections(const connectc_mg_server *s);

/*
 * Graceful stop: closes the server's listeners and idle connections, runs
 * the manager's loop (mg_mgr_poll; call this on the loop thread, not from
 * an event handler) until in-flight calls finish or the grace period ends,
 * cancels the rest (their handlers see on_cancel and
 * connectc_responder_is_done), closes their connections, waits until every
 * asynchronous handler has let go of its call (connectc_responder_finish),
 * and frees the server (and its own manager). Delete the server before
 * mg_mgr_free of an application manager. NULL is ignored.
 */
CONNECTC_API void connectc_mg_server_del(connectc_mg_server *s);

/* ================================================================== */
/* Client                                                              */
/* ================================================================== */

/* Client settings. Zero-initialise; zero means the default. */
typedef struct connectc_mg_client_config {
  /* "http://host:port" or "https://host:port", optionally with a path
   * prefix; procedures are appended. Copied. Required. Host names are
   * resolved by Mongoose's own resolver (mgr->dns4, 8.8.8.8 by default);
   * IP addresses and "localhost" need none. */
  const char *base_url;
  /* PEM CA certificates that sign the server's certificate (TLS). Copied.
   * Without them the CA bundle in ca_file is used. */
  const char *ca_pem;
  size_t ca_pem_len;
  /* A PEM CA bundle file, read when the first https:// call starts;
   * NULL = "/etc/ssl/certs/ca-certificates.crt". */
  const char *ca_file;
  /* PEM client certificate and key for mutual TLS. Copied. Optional. */
  const char *client_cert_pem;
  size_t client_cert_pem_len;
  const char *client_key_pem;
  size_t client_key_pem_len;
  /* 1 turns certificate and host name verification off. For tests only:
   * anyone on the path can then read and change the calls. */
  int insecure_skip_verify;
  /* Connection establishment (and TLS handshake) limit; 0 = 10000 ms. */
  unsigned connect_timeout_ms;
  /* Bytes of a response head accepted; past them the call fails with
   * resource_exhausted. 0 = 65536. */
  size_t max_header_bytes;
} connectc_mg_client_config;

typedef struct connectc_mg_client connectc_mg_client;

/*
 * Creates a client transport on `mgr` (the application's manager, or NULL
 * for one of its own, run by connectc_mg_client_poll and the blocking
 * calls). `cfg` is copied; `alloc` may be NULL. Each call uses one
 * HTTP/1.1 connection of its own. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT (no base URL, or not http:// or https://) or
 * CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_mg_client_new(const connectc_mg_client_config *cfg,
                                        struct mg_mgr *mgr, const connectc_allocator *alloc,
                                        connectc_mg_client **out);
/* Cancels every running call (their on_close fires with `canceled`),
 * releases them, closes their connections and frees the transport (and
 * its own manager). NULL is ignored. */
CONNECTC_API void connectc_mg_client_del(connectc_mg_client *t);

/*
 * Starts moving `call` (borrowed until released(arg) is called, exactly
 * once, after its on_close and outside every callback; released may be
 * NULL). The request head must be available (unary calls: send the
 * message first). A call that needs HTTP/2 (gRPC, full-duplex bidi) is
 * closed with `unimplemented`. Returns CONNECTC_OK, or CONNECTC_ERR_STATE
 * / _NOMEM / _ARGUMENT, and then never calls released.
 */
CONNECTC_API int connectc_mg_client_start(connectc_mg_client *t, connectc_client_call *call,
                                          void (*released)(void *arg), void *arg);
/* `call` has new request bytes, closed its send side or was canceled. */
CONNECTC_API void connectc_mg_client_wake(connectc_mg_client *t, connectc_client_call *call);
/* Calls still running. */
CONNECTC_API int connectc_mg_client_running(const connectc_mg_client *t);
/* Runs one iteration of the transport's manager (mg_mgr_poll) and
 * returns the calls still running. */
CONNECTC_API int connectc_mg_client_poll(connectc_mg_client *t, int timeout_ms);
/* Blocking: starts `call` and runs the manager's loop until it closes. Not
 * from inside an event handler. */
CONNECTC_API int connectc_mg_client_perform(connectc_mg_client *t, connectc_client_call *call);

/* The transport as a connectc_transport for the typed client (client.h)
 * and generated stubs: synchronous stubs run each call blocking, as
 * connectc_mg_client_perform does; asynchronous ones start here and move
 * while the application's loop (or connectc_mg_client_poll) runs. `t` is
 * borrowed. */
CONNECTC_API connectc_transport connectc_mg_client_transport(connectc_mg_client *t);

#ifdef __cplusplus
}
#endif

#endif
