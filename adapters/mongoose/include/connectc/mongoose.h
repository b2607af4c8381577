/**
 * @file connectc/mongoose.h
 * @brief Connect on Cesanta Mongoose's event loop (libconnectc-mongoose): a
 * server that serves a connectc_router, and a client transport for the
 * typed client and the generated stubs.
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
 * This header declares the Mongoose structs it uses without including
 * mongoose.h; include mongoose.h yourself where you use Mongoose's API.
 *
 * Both adapters read and write HTTP/1.1 themselves, with the strict
 * parsers the connectc adapters share: request and response heads whose
 * framing two parsers could read differently are refused, bodies are read
 * as they arrive (Content-Length or chunked), so Mongoose's whole-body
 * buffering and its MG_MAX_RECV_SIZE do not apply.
 *
 * Threads: Mongoose's loop is single-threaded, and so is everything here
 * except one thing: asynchronous handlers (service.h's responders,
 * connectc_server_call_run()) may complete their calls from any thread;
 * the server then wakes its loop with mg_wakeup(). Call every
 * connectc_mg_* function on the thread that runs the manager's loop
 * (mg_mgr_poll()). Each server connection lends one compression context
 * to its requests' calls in turn (connectc_server_call_lend_compress_ctx).
 *
 * The adapters enforce deadlines on Mongoose's monotonic clock
 * (mg_millis(), as connectc_mg_now_ms()); they tick them whenever the loop
 * polls, so poll with a timeout no longer than the precision you want (the
 * conformance programs poll every 10 ms).
 *
 * Listen queue: mongoose.c listens with MG_SOCK_LISTEN_BACKLOG_SIZE
 * pending connections, 128 by default on Unix. A burst of more clients than
 * that connecting at once has SYNs dropped, and each of those clients waits
 * a second or more for its retransmission. connectc_mg_listen() sets the
 * queue of its own listeners to SOMAXCONN; for listeners of yours
 * (mg_http_listen() with connectc_mg_serve()), build mongoose.c with
 * MG_SOCK_LISTEN_BACKLOG_SIZE=SOMAXCONN.
 *
 * Receive backpressure: the server feeds request bodies (Content-Length
 * or chunked) with connectc_server_call_recv_body_some(). When a call
 * pauses (connectc_server_call_pause_recv(), or a synchronous streaming
 * handler's queue filling up), what it did not take stays in the
 * connection's receive buffer and the server stops Mongoose reading the
 * socket (c->is_full), so a fast sender is slowed down through TCP; the
 * request's end reaches the call only once every body byte was taken.
 * connectc_server_call_resume_recv() wakes the loop (mg_wakeup), which
 * feeds what was kept and reads again. While a call is paused the idle
 * timeout does not run: the server waits for the handler, not the client.
 *
 * The client transport does the same with response bodies (Content-Length,
 * chunked, or read until the connection closes): it feeds
 * connectc_client_call_recv_body_some(), so when the application pauses a
 * call (connectc_client_call_pause_recv(), typically from on_message) what
 * the call did not take stays in the connection's receive buffer and
 * Mongoose reads nothing more (c->is_full): the server is slowed down
 * through TCP. The response's end, and an error of the connection, reach
 * the call only after every byte before them; bytes held when the
 * connection goes away (a reset, say) are kept and delivered after the
 * resume. connectc_client_call_resume_recv() does not reach the
 * transport: it notices on its next loop iteration (the connection's
 * MG_EV_POLL; connectc_mg_client_poll() does not wait then), or at once
 * when connectc_mg_client_wake() is called after the resume. The call's
 * deadline runs on while it is paused: it is the application's.
 *
 * Mongoose's epoll mode (its default on Linux) keeps reporting a
 * connection whose reads are paused (c->is_full) as readable while bytes
 * wait in its socket, so the loop spins: at full CPU while a paused call's
 * client has more of the body in flight (measured with Mongoose 7.22: one
 * core at 100%, about a million mg_mgr_poll(50 ms) returns a second, with
 * or without TLS; a paused call whose client sent nothing more costs
 * nothing), and also while the server holds back a client that pipelines
 * more than 64 KiB past a request still being answered. The client
 * transport spins the same way while a paused call's server has more of
 * the response in flight, or has closed the connection (measured: one
 * core at 100%, about 800,000 mg_mgr_poll(50 ms) returns a second with
 * bytes in flight, with or without TLS, and 1.2 million with only the
 * server's close pending). Nothing is read meanwhile, so memory stays
 * bounded either way. Build mongoose.c with MG_ENABLE_POLL=1 and
 * MG_ENABLE_EPOLL=0 to avoid the spin (measured: 0.2% CPU, one return per
 * poll timeout, for the server; no CPU time counted in a second of a
 * paused client, one return per poll timeout). In that mode a paused
 * connection is not watched at all, so a client sees its server's reset
 * only after the resume, behind the bytes it held.
 *
 * The server serves Connect and gRPC-Web; a gRPC response's HTTP trailers
 * go in the chunked ending, but gRPC needs HTTP/2, which Mongoose lacks.
 * The adapters allocate their own bookkeeping with the C library's malloc
 * (the client transport with the allocator it is given).
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

/**
 * Milliseconds of the monotonic clock both adapters tick deadlines with
 * (Mongoose's mg_millis()).
 * @return the current time; pass it as `now_ms` to
 *         connectc_client_call_new().
 */
CONNECTC_API int64_t connectc_mg_now_ms(void);

/* ================================================================== */
/* Server                                                              */
/* ================================================================== */

/** Server settings. Zero-initialise it (designated initializers or
 * memset): zero means the default, and the struct only grows at the end. */
typedef struct connectc_mg_server_config {
  /** PEM certificate chain for https:// listeners opened with
   * connectc_mg_listen(); with tls_key_pem. Copied. Requests handed over
   * with connectc_mg_serve() use whatever TLS your own listener set up. */
  const char *tls_cert_pem;
  /** PEM private key of tls_cert_pem. Copied. */
  const char *tls_key_pem;
  /** Connections the server's own listeners keep open at once; more are
   * closed as they are accepted. 0 = 1024. */
  unsigned max_connections;
  /** A connection that moves no bytes for this long while the server waits
   * for the client (a request head or body, or room to send) is closed;
   * its call, if any, is canceled. Time a handler takes does not count.
   * 0 = 60000 ms. */
  unsigned idle_timeout_ms;
  /** Bytes of a request head (request line and header fields): past this
   * the request is answered 431, or 414 for the request line alone.
   * 0 = CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES (16 KiB), as on every
   * connectc server. */
  size_t max_header_bytes;
  /** Header fields plus query parameters plus cookies in a request, counted
   * as connectc_http1_limits.max_fields counts them; more are answered 431.
   * 0 = CONNECTC_HTTP1_DEFAULT_MAX_FIELDS (256). */
  unsigned max_headers;
  /** Request body bytes read and discarded after the response was decided
   * (a refused request, say) before the connection is closed instead.
   * 0 = 1 MiB. */
  size_t max_discard_bytes;
  /** Response bytes queued on a connection (its Mongoose send buffer)
   * before the server stops taking more from the call until the client
   * reads. 0 = 256 KiB. */
  size_t send_buffer_bytes;
  /** Milliseconds connectc_mg_server_del() lets in-flight calls finish.
   * 0 = 5000. */
  unsigned shutdown_grace_ms;
} connectc_mg_server_config;

/** A server on a Mongoose manager (opaque). */
typedef struct connectc_mg_server connectc_mg_server;

/**
 * Creates a server for a router on a Mongoose manager.
 * @param cfg the settings; may be NULL (defaults); read during the call
 *        (the PEM strings are copied).
 * @param router the router, borrowed: it must outlive the server.
 * @param mgr the application's own manager (initialised with mg_mgr_init()
 *        and polled by the application; the server calls mg_wakeup_init()
 *        on it), borrowed: it must outlive the server; or NULL for a manager
 *        of the server's own (run it with connectc_mg_poll()).
 * @param out receives the server; set to NULL on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `router` or `out` is NULL, or only one
 *         of tls_cert_pem and tls_key_pem is set;
 *         CONNECTC_ERR_NOMEM;
 *         CONNECTC_ERR_UNSUPPORTED when mg_wakeup_init() failed.
 */
CONNECTC_API int connectc_mg_server_new(const connectc_mg_server_config *cfg,
                                        connectc_router *router, struct mg_mgr *mgr,
                                        connectc_mg_server **out);

/**
 * Opens a listener of the server's own: every request on it goes to the
 * router, parsed by the adapter from the first byte.
 * @param s the server; must not be NULL.
 * @param url "http://ADDRESS:PORT", or "https://ADDRESS:PORT" for TLS with
 *        the configured certificate; port 0 picks a free one. Read during
 *        the call.
 * @param port receives the bound port; may be NULL.
 * On Unix the listener's queue of pending connections is SOMAXCONN,
 * whatever mongoose.c was built with (see the listen queue above).
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `s` or `url` is NULL, the scheme is
 *         neither http nor https, or https:// has no certificate;
 *         CONNECTC_ERR_NOMEM;
 *         CONNECTC_ERR_UNSUPPORTED when the address could not be bound.
 */
CONNECTC_API int connectc_mg_listen(connectc_mg_server *s, const char *url, uint16_t *port);

/**
 * Embedding: hands a request of your own mg_http_listen() listener to the
 * router. Call it first thing in that listener's event handler, for every
 * event:
 *
 *     if (connectc_mg_serve(srv, c, ev, ev_data)) return;
 *
 * At MG_EV_HTTP_HDRS for a path the router has a route for, it takes the
 * connection over: it reads the body as it arrives (chunked included),
 * serves the call, and gives the connection back to your handler when the
 * response is complete, so that keep-alive and pipelined requests reach
 * your other routes again. While it holds the connection your handler sees
 * MG_EV_ERROR and MG_EV_CLOSE for it, no other event. Requests that
 * Mongoose's own HTTP parser refuses never reach it (Mongoose closes the
 * connection without an answer).
 * @param s the server; NULL returns 0.
 * @param c the connection the event is for.
 * @param ev the event.
 * @param ev_data the event's data (struct mg_http_message for
 *        MG_EV_HTTP_HDRS).
 * @return 1 when the server took the connection (return from your handler
 *         then), 0 when the event is yours (another event, another path, a
 *         stopping server, out of memory).
 */
CONNECTC_API int connectc_mg_serve(connectc_mg_server *s, struct mg_connection *c, int ev,
                                   void *ev_data);

/**
 * The manager the server runs on.
 * @param s the server; must not be NULL.
 * @return the application's manager, or the server's own.
 */
CONNECTC_API struct mg_mgr *connectc_mg_server_mgr(const connectc_mg_server *s);

/**
 * Runs one iteration of the server's manager: mg_mgr_poll(mgr,
 * timeout_ms).
 * @param s the server; must not be NULL.
 * @param timeout_ms the most to wait for I/O, in milliseconds.
 */
CONNECTC_API void connectc_mg_poll(connectc_mg_server *s, int timeout_ms);

/**
 * The connections the server holds now (its listeners' and the ones handed
 * over), for monitoring and tests.
 * @param s the server; must not be NULL.
 * @return the count.
 */
CONNECTC_API size_t connectc_mg_server_connections(const connectc_mg_server *s);

/**
 * Graceful stop: closes the server's listeners and idle connections (after
 * writing what they queued), runs the manager's loop (mg_mgr_poll(); call
 * this on the loop thread, not from an event handler) until in-flight calls
 * finish or the grace period ends, cancels the rest (their handlers see
 * on_cancel and connectc_responder_is_done()), closes their connections,
 * waits until every asynchronous handler has let go of its call
 * (connectc_responder_finish()), and frees the server and its own manager.
 * Delete the server before mg_mgr_free() of an application manager. A
 * handler that never finishes its responder blocks this call.
 * @param s the server; NULL is ignored.
 */
CONNECTC_API void connectc_mg_server_del(connectc_mg_server *s);

/* ================================================================== */
/* Client                                                              */
/* ================================================================== */

/** Client settings. Zero-initialise it (designated initializers or
 * memset): zero means the default, and the struct only grows at the end. */
typedef struct connectc_mg_client_config {
  /** "http://host:port" or "https://host:port", optionally with a path
   * prefix; procedures are appended. Copied. Required. Host names are
   * resolved by Mongoose's own resolver (mgr->dns4, 8.8.8.8 by default);
   * IP addresses and "localhost" need none. */
  const char *base_url;
  /** PEM CA certificates that sign the server's certificate (TLS). Copied.
   * Without them the CA bundle in ca_file is used. */
  const char *ca_pem;
  /** Bytes of ca_pem; 0 = strlen(ca_pem). */
  size_t ca_pem_len;
  /** A PEM CA bundle file, read when the first https:// call starts; NULL =
   * "/etc/ssl/certs/ca-certificates.crt". Copied. */
  const char *ca_file;
  /** PEM client certificate for mutual TLS. Copied. Optional. */
  const char *client_cert_pem;
  /** Bytes of client_cert_pem; 0 = strlen. */
  size_t client_cert_pem_len;
  /** PEM private key of client_cert_pem. Copied. */
  const char *client_key_pem;
  /** Bytes of client_key_pem; 0 = strlen. */
  size_t client_key_pem_len;
  /** 1 turns certificate and host name verification off. For tests only:
   * anyone on the path can then read and change the calls. */
  int insecure_skip_verify;
  /** Connection establishment (and TLS handshake) limit; 0 = 10000 ms. */
  unsigned connect_timeout_ms;
  /** Bytes of a response head accepted; past them the call fails with
   * resource_exhausted. 0 = 65536. */
  size_t max_header_bytes;
} connectc_mg_client_config;

/** A client transport on a Mongoose manager (opaque). */
typedef struct connectc_mg_client connectc_mg_client;

/**
 * Creates a client transport. Each call uses one HTTP/1.1 connection of
 * its own, opened with mg_connect().
 * @param cfg the settings, read during the call (the strings are copied).
 * @param mgr the application's manager, borrowed: it must outlive the
 *        transport; or NULL for one of the transport's own, run by
 *        connectc_mg_client_poll() and the blocking calls.
 * @param alloc the transport's allocator; may be NULL (default); copied.
 * @param out receives the transport; set to NULL on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `cfg`, its base URL or `out` is NULL,
 *         or the URL is not http:// or https:// with a host;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_mg_client_new(const connectc_mg_client_config *cfg,
                                        struct mg_mgr *mgr, const connectc_allocator *alloc,
                                        connectc_mg_client **out);
/**
 * Cancels every running call (their on_close fires with `canceled`),
 * releases them, closes their connections and frees the transport (and its
 * own manager). Not from inside one of its callbacks.
 * @param t the transport; NULL is ignored.
 */
CONNECTC_API void connectc_mg_client_del(connectc_mg_client *t);

/**
 * Starts moving a call. A call that needs HTTP/2 (gRPC, full-duplex bidi)
 * is closed with `unimplemented`, and an https:// call with no CA
 * certificates to verify the server with is closed with `unavailable`; both
 * are still released as below.
 * @param t the transport; must not be NULL.
 * @param call the call, borrowed until `released` is called; its request
 *        head must be available (unary calls: send the message first).
 * @param released called exactly once when the transport has let go of the
 *        call (after its on_close, outside every callback): from then on the
 *        owner may delete it. May be NULL. It must not call into the
 *        transport.
 * @param arg handed to `released`.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `t` or `call` is NULL;
 *         CONNECTC_ERR_STATE when the call is closed or already started, or
 *         its request head is not available yet;
 *         CONNECTC_ERR_NOMEM.
 *         On failure nothing is started and `released` is never called.
 */
CONNECTC_API int connectc_mg_client_start(connectc_mg_client *t, connectc_client_call *call,
                                          void (*released)(void *arg), void *arg);
/**
 * Tells the transport that a call has new request bytes, closed its send
 * side, was canceled (then its connection is closed), or was resumed
 * (connectc_client_call_resume_recv(): the response bytes it held are fed
 * now rather than on the next loop iteration).
 * @param t the transport; must not be NULL.
 * @param call a call started on it; others are ignored.
 */
CONNECTC_API void connectc_mg_client_wake(connectc_mg_client *t, connectc_client_call *call);
/**
 * The calls the transport still holds.
 * @param t the transport; must not be NULL.
 * @return the count.
 */
CONNECTC_API int connectc_mg_client_running(const connectc_mg_client *t);
/**
 * Runs one iteration of the transport's manager (mg_mgr_poll()), waiting no
 * longer than the nearest call deadline.
 * @param t the transport; must not be NULL.
 * @param timeout_ms the most to wait for I/O, in milliseconds.
 * @return the calls still running.
 */
CONNECTC_API int connectc_mg_client_poll(connectc_mg_client *t, int timeout_ms);
/**
 * Blocking: starts a call and runs the manager's loop until the transport
 * has let go of it (its on_close has fired). Not from inside an event
 * handler.
 * @param t the transport; must not be NULL.
 * @param call the call (see connectc_mg_client_start()).
 * @return CONNECTC_OK once the call closed, or what
 *         connectc_mg_client_start() returned.
 */
CONNECTC_API int connectc_mg_client_perform(connectc_mg_client *t, connectc_client_call *call);

/**
 * The transport as a connectc_transport for the typed client (client.h)
 * and the generated stubs: synchronous stubs run each call blocking, as
 * connectc_mg_client_perform() does; asynchronous ones start here and move
 * while the application's loop (or connectc_mg_client_poll()) runs. Its
 * compress_ctx is the client's own compression context, lent to every
 * call the typed layer runs through it (the loop thread drives them all).
 * @param t the transport, borrowed: it must outlive every use of the
 *        result.
 * @return the transport's functions with `t` as their context.
 */
CONNECTC_API connectc_transport connectc_mg_client_transport(connectc_mg_client *t);

#ifdef __cplusplus
}
#endif

#endif
