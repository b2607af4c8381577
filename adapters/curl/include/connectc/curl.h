/*
 * connectc/curl.h: the libcurl client adapter.
 *
 * A `connectc_curl` is a client transport: one libcurl multi handle with
 * its connection cache, a base URL and TLS settings. It moves the bytes of
 * sans-IO client calls (call.h) over HTTP/1.1, with or without TLS.
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

typedef struct connectc_curl connectc_curl;

/* Response header and trailer bytes accepted per call; past this the call
 * fails with resource_exhausted and the transfer is aborted. */
#define CONNECTC_CURL_MAX_HEADER_BYTES (256u * 1024u)

/* Socket interest, as in connectc_curl_loop.watch_socket. */
#define CONNECTC_CURL_WATCH_IN 1
#define CONNECTC_CURL_WATCH_OUT 2
#define CONNECTC_CURL_WATCH_REMOVE 4

/* Hooks into an external event loop (libcurl's socket and timer callbacks,
 * wrapped). */
typedef struct connectc_curl_loop {
  /* Watch `fd` for the events in `what` (IN|OUT), or stop (REMOVE). */
  void (*watch_socket)(void *user_data, int fd, int what);
  /* Call connectc_curl_timeout_action() after `timeout_ms` (0 = as soon as
   * possible); -1 disarms the timer. */
  void (*set_timer)(void *user_data, long timeout_ms);
  void *user_data;
} connectc_curl_loop;

typedef struct connectc_curl_config {
  /* "http://host:port" or "https://host:port", optionally with a path
   * prefix; procedures are appended. Copied. Required. */
  const char *base_url;
  /* PEM CA certificate(s) to trust instead of the system store (TLS).
   * Copied. Optional. */
  const char *ca_pem;
  size_t ca_pem_len;
  /* PEM client certificate and key for mutual TLS. Copied. Optional. */
  const char *client_cert_pem;
  size_t client_cert_pem_len;
  const char *client_key_pem;
  size_t client_key_pem_len;
  /* Connection establishment limit; 0 = 10 s. */
  long connect_timeout_ms;
  /* External event loop; NULL = connectc_curl_poll()'s own poll loop. */
  const connectc_curl_loop *loop;
} connectc_curl_config;

/* Creates a transport. `cfg` is copied. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT (no base URL), CONNECTC_ERR_NOMEM, or
 * CONNECTC_ERR_UNSUPPORTED (libcurl failed to initialise). */
CONNECTC_API int connectc_curl_new(const connectc_curl_config *cfg, const connectc_allocator *alloc,
                      connectc_curl **out);
/* Aborts every running transfer (their calls close with `canceled`) and
 * frees the transport. */
CONNECTC_API void connectc_curl_del(connectc_curl *t);

/*
 * Starts moving `call` (borrowed: it must stay alive until its on_close has
 * fired AND control has returned from the connectc_curl function that fired
 * it). The request head must be available (unary calls: send the message
 * first). Returns CONNECTC_OK or CONNECTC_ERR_STATE / _NOMEM.
 */
CONNECTC_API int connectc_curl_start(connectc_curl *t, connectc_client_call *call);
/* Like connectc_curl_start, and calls released(arg) exactly once when the
 * transport has let go of `call` (after its on_close, outside every
 * callback, or when connectc_curl_del aborts it): from then on the owner
 * may delete the call. released must not call into the transport. On
 * failure nothing is started and released is not called. */
CONNECTC_API int connectc_curl_start_with_release(connectc_curl *t, connectc_client_call *call,
                                     void (*released)(void *arg), void *arg);
/* Tells the transport that `call` has new request bytes, closed its send
 * side, or was canceled, so that a paused upload resumes or the transfer
 * is aborted. */
CONNECTC_API void connectc_curl_wake(connectc_curl *t, connectc_client_call *call);

/* Own loop: waits up to `timeout_ms` for I/O, processes it and ticks
 * deadlines. Returns the number of calls still running. */
CONNECTC_API int connectc_curl_poll(connectc_curl *t, int timeout_ms);
/* External loop: `fd` is ready for `events` (IN|OUT). */
CONNECTC_API int connectc_curl_socket_action(connectc_curl *t, int fd, int events);
/* External loop: the timer set through set_timer expired. */
CONNECTC_API int connectc_curl_timeout_action(connectc_curl *t);
/* Number of calls still running. */
CONNECTC_API int connectc_curl_running(const connectc_curl *t);

/* Blocking: starts `call` and polls until it closes. */
CONNECTC_API int connectc_curl_perform(connectc_curl *t, connectc_client_call *call);

/* The transport as a connectc_transport for the typed client layer
 * (client.h) and generated stubs. Synchronous stubs run each call blocking,
 * as with connectc_curl_perform (not with an external loop: they return
 * CONNECTC_ERR_STATE); asynchronous ones (connectc_async_call,
 * `<svc>_<rpc>__start`) are started here and move while the application runs
 * connectc_curl_poll() or its own loop. `t` is borrowed. */
CONNECTC_API connectc_transport connectc_curl_transport(connectc_curl *t);

/* Milliseconds of the transport's monotonic clock (the clock it ticks
 * deadlines with); pass it as `now_ms` to connectc_client_call_new. */
CONNECTC_API int64_t connectc_curl_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif
