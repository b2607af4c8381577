/**
 * @file connectc/curl.h
 * @brief The libcurl client adapter (libconnectc-curl).
 *
 * A `connectc_curl` is a client transport: one libcurl multi handle with
 * its connection cache, a base URL and TLS settings. It moves the bytes of
 * sans-IO client calls (client_call.h) over HTTP/1.1, with or without TLS.
 * It does not consult connectc_client_call_requires_http2(): a gRPC call,
 * or a bidi call asked to be full duplex, goes out over HTTP/1.1 like any
 * other. HTTP trailers it receives are handed to
 * connectc_client_call_recv_trailers().
 *
 * A transfer that fails closes its call with unavailable (deadline_exceeded
 * for a libcurl timeout, resource_exhausted when libcurl runs out of
 * memory) and libcurl's description of the error as the message.
 *
 * Three ways to drive it:
 *  - blocking: connectc_curl_perform() runs one call to completion;
 *  - its own loop: connectc_curl_start() several calls, then
 *    connectc_curl_poll() until they finish;
 *  - your event loop: set `loop` in the config; the transport asks your
 *    loop to watch sockets and arm a timer, and you report readiness with
 *    connectc_curl_socket_action() / connectc_curl_timeout_action().
 *
 * Not thread-safe: use one connectc_curl per thread. The transport reads
 * the monotonic clock to tick call deadlines; the core never does.
 */
#ifndef CONNECTC_CURL_H
#define CONNECTC_CURL_H

#include "connectc/client_call.h"
#include "connectc/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A libcurl client transport (opaque). */
typedef struct connectc_curl connectc_curl;

/** Response header and trailer bytes accepted per call; past this the call
 * fails with resource_exhausted and the transfer is aborted. */
#define CONNECTC_CURL_MAX_HEADER_BYTES (256u * 1024u)

/** Socket interest: readable (connectc_curl_loop.watch_socket, and
 * connectc_curl_socket_action()'s `events`). */
#define CONNECTC_CURL_WATCH_IN 1
/** Socket interest: writable. */
#define CONNECTC_CURL_WATCH_OUT 2
/** Stop watching the socket (watch_socket only). */
#define CONNECTC_CURL_WATCH_REMOVE 4

/** Hooks into an external event loop (libcurl's socket and timer callbacks,
 * wrapped). Both functions are required. */
typedef struct connectc_curl_loop {
  /** Watch `fd` for the events in `what` (CONNECTC_CURL_WATCH_IN and/or
   * _OUT), or stop watching it (CONNECTC_CURL_WATCH_REMOVE). */
  void (*watch_socket)(void *user_data, int fd, int what);
  /** Call connectc_curl_timeout_action() after `timeout_ms` (0 = as soon as
   * possible); -1 disarms the timer. */
  void (*set_timer)(void *user_data, long timeout_ms);
  /** Handed to both functions. */
  void *user_data;
} connectc_curl_loop;

/** How to create a transport. Zero-initialise it (designated initializers
 * or memset): zero means the default, and the struct only grows at the
 * end. */
typedef struct connectc_curl_config {
  /** "http://host:port" or "https://host:port", optionally with a path
   * prefix; trailing '/' are dropped and procedures are appended. Copied.
   * Required. */
  const char *base_url;
  /** PEM CA certificate(s) to trust instead of the system store (TLS),
   * `ca_pem_len` bytes. Copied. Optional. */
  const char *ca_pem;
  size_t ca_pem_len; /**< length of `ca_pem`; 0: not used */
  /** PEM client certificate for mutual TLS. Copied. Optional. */
  const char *client_cert_pem;
  size_t client_cert_pem_len; /**< length of `client_cert_pem`; 0: not used */
  /** PEM private key of the client certificate. Copied. Optional. */
  const char *client_key_pem;
  size_t client_key_pem_len; /**< length of `client_key_pem`; 0: not used */
  /** Connection establishment limit; 0 (or negative) = 10 s. */
  long connect_timeout_ms;
  /** External event loop (copied); NULL = connectc_curl_poll()'s own poll
   * loop. */
  const connectc_curl_loop *loop;
} connectc_curl_config;

/**
 * Creates a transport.
 * @param cfg the configuration; copied (strings and PEM data included).
 * @param alloc the transport's allocator; may be NULL (default); copied.
 *        (libcurl allocates with its own.)
 * @param out receives the transport; untouched on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `cfg`, its base URL or `out` is NULL,
 *         or a loop lacks watch_socket or set_timer;
 *         CONNECTC_ERR_NOMEM;
 *         CONNECTC_ERR_UNSUPPORTED when libcurl failed to initialise.
 */
CONNECTC_API int connectc_curl_new(const connectc_curl_config *cfg, const connectc_allocator *alloc,
                      connectc_curl **out);
/**
 * Aborts every running transfer (their calls close with `canceled`, and
 * their released functions run) and frees the transport.
 * @param t the transport; NULL is ignored.
 */
CONNECTC_API void connectc_curl_del(connectc_curl *t);

/**
 * Starts moving a call. The request head must be available (unary calls:
 * send the message first).
 * @param t the transport.
 * @param call the call, borrowed: it must stay alive until its on_close
 *        has fired AND control has returned from the connectc_curl function
 *        that fired it.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `t` or `call` is NULL;
 *         CONNECTC_ERR_STATE when the call is closed, already running on
 *         this transport, or has no request head yet;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_curl_start(connectc_curl *t, connectc_client_call *call);
/**
 * Like connectc_curl_start(), and calls released(arg) exactly once when
 * the transport has let go of `call` (after its on_close, outside every
 * callback, or when connectc_curl_del() aborts it): from then on the owner
 * may delete the call. On failure nothing is started and released is not
 * called.
 * @param t the transport.
 * @param call the call (see connectc_curl_start()).
 * @param released called once the transport let go; must not call into
 *        the transport; may be NULL.
 * @param arg handed to `released`.
 * @return as connectc_curl_start().
 */
CONNECTC_API int connectc_curl_start_with_release(connectc_curl *t, connectc_client_call *call,
                                     void (*released)(void *arg), void *arg);
/**
 * Tells the transport that `call` has new request bytes, closed its send
 * side, or was canceled, so that a paused upload resumes or the transfer
 * is aborted.
 * @param t the transport; must not be NULL.
 * @param call the call; a call the transport is not moving is ignored.
 */
CONNECTC_API void connectc_curl_wake(connectc_curl *t, connectc_client_call *call);

/**
 * Own loop: waits up to `timeout_ms` for I/O (less when a call's deadline
 * comes first), processes it and ticks deadlines. Call callbacks fire from
 * inside.
 * @param t the transport; must not be NULL.
 * @param timeout_ms the longest wait, in milliseconds.
 * @return the number of calls still running, or CONNECTC_ERR_STATE when
 *         the transport was created with an external loop.
 */
CONNECTC_API int connectc_curl_poll(connectc_curl *t, int timeout_ms);
/**
 * External loop: `fd` is ready. Processes it and ticks deadlines; call
 * callbacks fire from inside.
 * @param t the transport; must not be NULL.
 * @param fd the socket watch_socket asked for.
 * @param events CONNECTC_CURL_WATCH_IN and/or CONNECTC_CURL_WATCH_OUT.
 * @return the number of calls still running.
 */
CONNECTC_API int connectc_curl_socket_action(connectc_curl *t, int fd, int events);
/**
 * External loop: the timer set through set_timer expired. Processes
 * timeouts and ticks deadlines; call callbacks fire from inside.
 * @param t the transport; must not be NULL.
 * @return the number of calls still running.
 */
CONNECTC_API int connectc_curl_timeout_action(connectc_curl *t);
/**
 * The number of calls still running.
 * @param t the transport; must not be NULL.
 * @return how many calls the transport is moving.
 */
CONNECTC_API int connectc_curl_running(const connectc_curl *t);

/**
 * Blocking: starts `call` and polls until the transport has let go of it
 * (its on_close has fired). Other calls on the transport move meanwhile.
 * @param t the transport; must not be NULL.
 * @param call the call, borrowed for the call.
 * @return CONNECTC_OK once the call closed (its outcome is what on_close
 *         reported); CONNECTC_ERR_STATE with an external loop; otherwise
 *         what connectc_curl_start() returned.
 */
CONNECTC_API int connectc_curl_perform(connectc_curl *t, connectc_client_call *call);

/**
 * The transport as a connectc_transport for the typed client layer
 * (client.h) and generated stubs. Synchronous stubs run each call blocking,
 * as with connectc_curl_perform (not with an external loop: they return
 * CONNECTC_ERR_STATE); asynchronous ones (connectc_async_call,
 * `<svc>_<rpc>__start`) are started here and move while the application runs
 * connectc_curl_poll() or its own loop.
 * @param t the transport, borrowed: it must outlive every client using
 *        the result.
 * @return the table (perform, now_ms, start and wake all set).
 */
CONNECTC_API connectc_transport connectc_curl_transport(connectc_curl *t);

/**
 * Milliseconds of the transport's monotonic clock (CLOCK_MONOTONIC, the
 * clock it ticks deadlines with); pass it as `now_ms` to
 * connectc_client_call_new().
 * @return the current time in milliseconds.
 */
CONNECTC_API int64_t connectc_curl_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif
