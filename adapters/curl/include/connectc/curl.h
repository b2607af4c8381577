/**
 * @file connectc/curl.h
 * @brief The libcurl client adapter (libconnectc-curl).
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
 * Receive backpressure: a call paused with connectc_client_call_pause_recv()
 * (typically from on_message) gets no more messages, and libcurl stops
 * reading its response: over HTTP/1.1 the socket is left unread and TCP
 * holds the server back; over HTTP/2 libcurl stops taking the stream's
 * DATA, which holds the server back on that stream while the connection's
 * other streams go on (in the tests a server's 16 MB stream stops after
 * about 5 MB, and another call on the same connection completes during
 * the pause). What the call did not take of the bytes libcurl had
 * handed over (at most CURL_MAX_WRITE_SIZE, 16 KiB) is kept by the
 * transport and offered first when the call is resumed
 * (connectc_client_call_resume_recv(), then connectc_curl_wake() or the
 * next turn of the loop); the end of the response (its trailers, its
 * status, a transfer error) comes only after them. A paused call can be
 * canceled at any time, and its deadline still applies. connectc_curl_perform()
 * gives the application no turn between callbacks: a call it runs that
 * pauses stays paused until a callback resumes it, or its deadline.
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

/** Response header and trailer bytes accepted per call, counted together
 * (for HTTP/2 as libcurl renders them: "name: value" lines); past this the
 * call fails with resource_exhausted, a message naming the limit, its value
 * and the bytes seen, and the transfer is aborted. */
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

/** The HTTP version a transport speaks (see the top of this file). */
typedef enum connectc_curl_http_version {
  CONNECTC_CURL_HTTP_1_1 = 0, /**< HTTP/1.1 (default) */
  CONNECTC_CURL_HTTP_2 = 1    /**< HTTP/2: ALPN h2 over https://, h2c prior knowledge over http:// */
} connectc_curl_http_version;

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
  /** PEM client certificate for mutual TLS (any HTTP version). Copied.
   * Optional. */
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
  /** HTTP/1.1 (0, the default) or HTTP/2 (see the top of this file). */
  connectc_curl_http_version http_version;
} connectc_curl_config;

/**
 * Creates a transport.
 * @param cfg the configuration; copied (strings and PEM data included).
 * @param alloc the transport's allocator; may be NULL (default); copied.
 *        (libcurl allocates with its own.)
 * @param out receives the transport; untouched on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `cfg`, its base URL or `out` is NULL,
 *         a loop lacks watch_socket or set_timer, or http_version is not a
 *         connectc_curl_http_version;
 *         CONNECTC_ERR_NOMEM;
 *         CONNECTC_ERR_UNSUPPORTED when libcurl failed to initialise, or
 *         HTTP/2 was asked of a libcurl built without it.
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
 *         CONNECTC_ERR_NOMEM;
 *         CONNECTC_ERR_UNSUPPORTED when an HTTP/1.1 transport cannot carry
 *         the call (connectc_client_call_requires_http2(): gRPC, or a
 *         full-duplex bidi): nothing is sent and the call is closed at once
 *         with unimplemented and a message that says why ("gRPC needs
 *         HTTP/2: this transport is configured for HTTP/1.1").
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
 * side, was canceled, or was resumed (connectc_client_call_resume_recv()),
 * so that a paused upload resumes, the transfer is aborted, or the
 * response flows again. For a resumed call the bytes the transport held
 * are offered from inside this function (on_message, and on_close if the
 * response had ended behind them, may fire here; other calls that
 * completed meanwhile are completed too); called from inside a callback of
 * the transport, that happens when the callback returns.
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
 * connectc_curl_poll() or its own loop. Its compress_ctx is the
 * transport's own compression context, lent to every call the typed
 * layer runs through it (one thread drives them all), so compressed calls
 * reuse one set of zlib and zstd states.
 * @param t the transport, borrowed: it must outlive every client using
 *        the result.
 * @return the table (perform, now_ms, start, wake and compress_ctx all
 *         set).
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
