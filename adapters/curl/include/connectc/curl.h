/*
 * connectc/curl.h: the libcurl client adapter.
 *
 * A `connectc_curl` is a client transport: one libcurl multi handle with
 * its connection cache, a base URL, an HTTP version and TLS settings. It
 * moves the bytes of sans-IO client calls (client_call.h) over HTTP/1.1 or
 * HTTP/2, with or without TLS; the call builds the request head and body
 * and reads the response, so the transport is the same for every protocol
 * the core speaks.
 *
 * HTTP versions (connectc_curl_config.http_version):
 *  - CONNECTC_CURL_HTTP_1_1 (the default): HTTP/1.1 only; over TLS, ALPN
 *    offers http/1.1 alone. Each concurrent call takes a connection of its
 *    own (kept alive and reused by later calls). Bidi streams are half
 *    duplex. Calls that need HTTP/2 (connectc_client_call_requires_http2:
 *    gRPC, or a bidi call with full_duplex) are refused by
 *    connectc_curl_start before anything is sent.
 *  - CONNECTC_CURL_HTTP_2: HTTP/2. With an https:// base URL, TLS with
 *    ALPN offering h2 (and http/1.1: a server that picks http/1.1 gets
 *    HTTP/1.1, and a call that needs HTTP/2 then fails with unimplemented
 *    when its response head arrives). With an http:// base URL, h2c with
 *    prior knowledge: the connection starts with the HTTP/2 preface, never
 *    with an HTTP/1.1 Upgrade, so the server must speak h2c. Concurrent
 *    calls are streams of one shared connection: calls started together
 *    wait for it rather than opening more. Over h2c the transport keeps
 *    exactly one connection (calls past the server's concurrent-stream
 *    limit wait for a stream to end); over TLS libcurl opens another past
 *    that limit (100 streams at most per connection). Response trailers
 *    (HEADERS after the body) reach the call through
 *    connectc_client_call_recv_trailers(), before its end; a trailers-only
 *    response (HEADERS with END_STREAM) passes none. A full-duplex bidi
 *    call sends and receives at the same time (its upload pauses while the
 *    call has no bytes and resumes on connectc_curl_wake). Canceling a
 *    call resets its stream only: the connection and the other calls on
 *    it go on. libcurl 7.88 buffers each HTTP/2 header block and trailer
 *    block in at most 128 KiB and fails the whole connection past that
 *    (its calls end with unavailable; the next call opens a new one).
 *
 * A full-duplex server that ends its response while the request is still
 * open: HTTP/2 trailers end the response, so such a call completes as soon
 * as they arrive, even with its upload paused (libcurl 7.88 itself reports
 * a transfer done only once its upload ended too, and hands over trailers
 * once the stream is closed both ways, which servers such as Go's do with
 * RST_STREAM(NO_ERROR)). A response without trailers (Connect's end of
 * stream is in the body) ends when the application closes its send side,
 * cancels, or at the deadline: close the send side after the last request.
 * libcurl 7.88 also drops response bytes that arrive in the same read as
 * the server's RST_STREAM, so a server that resets right after ending its
 * response may lose the end of it.
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

/* Response header and trailer bytes accepted per call, counted together
 * (for HTTP/2 as libcurl renders them: "name: value" lines); past this the
 * call fails with resource_exhausted, a message naming the limit, its value
 * and the bytes seen, and the transfer is aborted. */
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

/* The HTTP version a transport speaks (see the top of this file). */
typedef enum connectc_curl_http_version {
  CONNECTC_CURL_HTTP_1_1 = 0, /* HTTP/1.1 (default) */
  CONNECTC_CURL_HTTP_2 = 1    /* HTTP/2: ALPN h2 over https://, h2c prior knowledge over http:// */
} connectc_curl_http_version;

typedef struct connectc_curl_config {
  /* "http://host:port" or "https://host:port", optionally with a path
   * prefix; procedures are appended. Copied. Required. */
  const char *base_url;
  /* PEM CA certificate(s) to trust instead of the system store (TLS).
   * Copied. Optional. */
  const char *ca_pem;
  size_t ca_pem_len;
  /* PEM client certificate and key for mutual TLS (any HTTP version).
   * Copied. Optional. */
  const char *client_cert_pem;
  size_t client_cert_pem_len;
  const char *client_key_pem;
  size_t client_key_pem_len;
  /* Connection establishment limit; 0 = 10 s. */
  long connect_timeout_ms;
  /* External event loop; NULL = connectc_curl_poll()'s own poll loop. */
  const connectc_curl_loop *loop;
  /* HTTP/1.1 (0, the default) or HTTP/2. */
  connectc_curl_http_version http_version;
} connectc_curl_config;

/* Creates a transport. `cfg` is copied. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT (no base URL, an unknown http_version),
 * CONNECTC_ERR_NOMEM, or
 * CONNECTC_ERR_UNSUPPORTED (libcurl failed to initialise, or HTTP/2 was
 * asked of a libcurl built without it). */
CONNECTC_API int connectc_curl_new(const connectc_curl_config *cfg, const connectc_allocator *alloc,
                      connectc_curl **out);
/* Aborts every running transfer (their calls close with `canceled`) and
 * frees the transport. */
CONNECTC_API void connectc_curl_del(connectc_curl *t);

/*
 * Starts moving `call` (borrowed: it must stay alive until its on_close has
 * fired AND control has returned from the connectc_curl function that fired
 * it). The request head must be available (unary calls: send the message
 * first). Returns CONNECTC_OK or CONNECTC_ERR_STATE / _NOMEM, or
 * CONNECTC_ERR_UNSUPPORTED when an HTTP/1.1 transport cannot carry the call
 * (connectc_client_call_requires_http2): nothing is sent and the call is
 * closed at once with unimplemented and a message that says why ("gRPC
 * needs HTTP/2: this transport is configured for HTTP/1.1").
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
 * `<rpc>_start`) are started here and move while the application runs
 * connectc_curl_poll() or its own loop. `t` is borrowed. */
CONNECTC_API connectc_transport connectc_curl_transport(connectc_curl *t);

/* Milliseconds of the transport's monotonic clock (the clock it ticks
 * deadlines with); pass it as `now_ms` to connectc_client_call_new. */
CONNECTC_API int64_t connectc_curl_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif
