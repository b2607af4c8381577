/*
 * connectc/nghttp2.h: serve a connectc_router over HTTP/2 with libnghttp2:
 * h2c by prior knowledge and h2 over TLS (OpenSSL, ALPN "h2"), Connect,
 * gRPC and gRPC-Web alike.
 *
 * Three layers, each usable on its own:
 *  - connectc_h2_start(): a ready server with its own epoll threads;
 *  - the same server inside your event loop (config.external_loop): one
 *    descriptor to watch for reading, a timeout, and
 *    connectc_h2_dispatch();
 *  - connectc_h2_conn: one HTTP/2 connection with no I/O at all. Bytes in
 *    (connectc_h2_conn_recv), bytes out (connectc_h2_conn_send_peek and
 *    _consume), the current time in (connectc_h2_conn_tick). The server
 *    above is this plus sockets and TLS; the fuzz harness drives it with
 *    arbitrary bytes.
 *
 * Handlers are the router's: the same generated registration functions as
 * for the libmicrohttpd adapter, synchronous or asynchronous (answering
 * from any thread through connectc_server_call_run()). A stream's request
 * headers become a server call (the router picks it by :path), DATA frames
 * its body, END_STREAM its end, RST_STREAM its cancellation (the handler
 * sees on_cancel); the call's response becomes HEADERS, DATA and, for
 * gRPC, trailers (a trailers-only response is one HEADERS frame with
 * END_STREAM). A connection lends one compression context to all its
 * calls (connectc_server_call_lend_compress_ctx; the connection's lock
 * guards them all), made with the router's allocator.
 *
 * Hostile peers: SETTINGS advertise bounded concurrent streams, header
 * list size and windows; header lists past the limit get 431; the stream
 * window is reopened only as the call takes request bytes, and not at all
 * while the call is paused (connectc_server_call_pause_recv(): the DATA it
 * left, at most the window, waits in the stream until it resumes; on the
 * HTTP/1.1 side the connection is not read meanwhile); rapid resets
 * (CVE-2023-44487), CONTINUATION floods, control-frame floods (SETTINGS,
 * PING, PRIORITY, empty DATA) and excess live calls end the connection
 * with GOAWAY(ENHANCE_YOUR_CALM); a stream whose response cannot move
 * because the peer keeps its window at zero is reset after stall_timeout_ms;
 * a connection that does not finish its handshake or stays idle is closed.
 */
#ifndef CONNECTC_NGHTTP2_H
#define CONNECTC_NGHTTP2_H

#include <stdint.h>

#include "connectc/router.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Configuration of a server (and of each connection it accepts). Zero
 * means the default everywhere; grow only at the end.
 */
typedef struct connectc_h2_config {
  /* IPv4 or IPv6 address to bind; NULL = "127.0.0.1". */
  const char *bind_address;
  /* TCP port; 0 picks a free one (see connectc_h2_port). */
  uint16_t port;
  /* PEM certificate chain and private key: both set turns TLS on (ALPN
   * "h2"). Copied at start. */
  const char *tls_cert_pem;
  const char *tls_key_pem;
  /* PEM certificates trusted to sign client certificates. Set, every TLS
   * client must present a certificate that verifies against them
   * (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT). Copied. */
  const char *tls_client_ca_pem;
  /* Event-loop threads, each with its own epoll set; 0 = one per CPU this
   * process may run on (its affinity mask), at most 8. Ignored with
   * external_loop. */
  unsigned threads;
  /* 1: start no threads; the application watches connectc_h2_fd() and
   * calls connectc_h2_dispatch() (see below). */
  int external_loop;
  /* Concurrent connections accepted; 0 = 4096. More are closed at once. */
  unsigned max_connections;
  /* Milliseconds connectc_h2_stop waits for in-flight streams after its
   * GOAWAY; 0 = 5000. */
  unsigned shutdown_grace_ms;

  /* ---- per connection ---- */
  /* SETTINGS_MAX_CONCURRENT_STREAMS; 0 = 100. Calls still held by
   * handlers after their stream closed count too, up to twice this many;
   * past that new streams are refused (REFUSED_STREAM). */
  uint32_t max_concurrent_streams;
  /* SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 6.5.2: names + values + 32
   * per field); 0 = 16384. Larger request header lists get 431. */
  uint32_t max_header_list_bytes;
  /* SETTINGS_INITIAL_WINDOW_SIZE for each stream; 0 = 262144, never
   * more than the router's receive limit plus one envelope prefix, and
   * never less than 65535 (HTTP/2's default). */
  uint32_t stream_window_bytes;
  /* The connection's receive window; 0 = 1048576. */
  uint32_t connection_window_bytes;
  /* From accept until the client's connection preface and SETTINGS (and
   * the TLS handshake) are through; 0 = 10000 ms. */
  unsigned handshake_timeout_ms;
  /* A connection with no open stream and no frame for this long gets
   * GOAWAY and is closed; 0 = 60000 ms. */
  unsigned idle_timeout_ms;
  /* A stream with response bytes waiting while the peer's flow-control
   * window stays at zero for this long is reset (and its call canceled);
   * the server also closes a connection whose socket takes no bytes for
   * this long; 0 = 30000 ms. */
  unsigned stall_timeout_ms;
  /* SETTINGS, PING, PRIORITY and empty non-final DATA frames allowed per
   * second (a burst of twice as many is tolerated); 0 = 200. */
  unsigned max_control_frames_per_s;
  /* RST_STREAM frames from the peer: a token bucket of this many
   * (refilled at a tenth of it per second, at least one); 0 = 200. */
  unsigned max_resets_burst;
  /* 1: HTTP/2 only. By default the port also serves HTTP/1.1: with TLS
   * when ALPN picks "http/1.1", in cleartext when the first bytes are not
   * the HTTP/2 connection preface. */
  int http2_only;
} connectc_h2_config;

/* ================================================================== */
/* The ready server                                                    */
/* ================================================================== */

typedef struct connectc_h2_server connectc_h2_server;

/*
 * Starts serving `router` (borrowed; it must outlive the server) as `cfg`
 * (copied; NULL for the defaults) says, in *out. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT (out or router NULL, only one of cert and key,
 * an address that does not parse), CONNECTC_ERR_NOMEM, or
 * CONNECTC_ERR_UNSUPPORTED (the port cannot be bound, the certificate or
 * key does not load, a thread cannot start). *out is NULL on failure.
 */
CONNECTC_API int connectc_h2_start(const connectc_h2_config *cfg, connectc_router *router,
                                   connectc_h2_server **out);
/* The bound TCP port. */
CONNECTC_API uint16_t connectc_h2_port(const connectc_h2_server *srv);
/*
 * Graceful stop: stops accepting, sends GOAWAY on every connection and
 * lets in-flight streams finish within shutdown_grace_ms, then closes what
 * is left (canceling those calls), waits until every asynchronous handler
 * has released its calls, and frees the server. NULL is ignored. With
 * external_loop, call it from the loop's thread; it dispatches by itself
 * until done.
 */
CONNECTC_API void connectc_h2_stop(connectc_h2_server *srv);

/*
 * External loop (config.external_loop = 1): watch this descriptor for
 * readability (it is an epoll descriptor: it turns readable when a socket
 * of the server is ready or an asynchronous handler woke a stream), and
 * call connectc_h2_dispatch() when it is readable or when
 * connectc_h2_timeout_ms() has passed. -1 for a threaded server.
 */
CONNECTC_API int connectc_h2_fd(const connectc_h2_server *srv);
/* Milliseconds until connectc_h2_dispatch() is due even without I/O (a
 * deadline or timeout), or -1 for none. Ask again after each dispatch. */
CONNECTC_API int connectc_h2_timeout_ms(connectc_h2_server *srv);
/* Does whatever is ready, without blocking. Returns CONNECTC_OK, or
 * CONNECTC_ERR_STATE for a threaded server. */
CONNECTC_API int connectc_h2_dispatch(connectc_h2_server *srv);

/* ================================================================== */
/* One connection, sans I/O                                            */
/* ================================================================== */

typedef struct connectc_h2_conn connectc_h2_conn;

/* What a connection tells its owner. Both may be called from any thread
 * (asynchronous handlers), with the connection's lock held: do not call
 * connectc_h2_conn_* from them, only take note and wake your loop. */
typedef struct connectc_h2_conn_hooks {
  /* There is new output to pull (connectc_h2_conn_send_peek), or the
   * connection is done. May be NULL (then poll). */
  void (*wake)(void *ctx);
  /* The connection object is freed: connectc_h2_conn_del was called and
   * the last call a handler held is released. From here on the router
   * is no longer used by it. May be NULL. */
  void (*released)(void *ctx);
} connectc_h2_conn_hooks;

/*
 * Creates a server-side connection whose requests the router (borrowed;
 * must outlive the connection object, see `released`) serves, in *out.
 * The first bytes decide what it speaks: the HTTP/2 client connection
 * preface, or else HTTP/1.1 (unless cfg->http2_only), one request at a
 * time with keep-alive; see also connectc_h2_conn_set_alpn. `cfg` is
 * copied (only the per-connection fields apply; NULL for defaults);
 * `hooks` is copied and `ctx` passed to them. `now_ms` is the current time
 * of any monotonic clock; the handshake timeout counts from it. Returns
 * CONNECTC_OK, CONNECTC_ERR_ARGUMENT or CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_h2_conn_new(const connectc_h2_config *cfg, connectc_router *router,
                                      const connectc_h2_conn_hooks *hooks, void *ctx,
                                      int64_t now_ms, connectc_h2_conn **out);
/*
 * Ends the connection as far as its owner is concerned: calls still in
 * flight are canceled (their handlers see on_cancel), no hook is called
 * any more, and the object is freed once handlers released their calls
 * (then `released` fires, possibly from inside this function). NULL is
 * ignored.
 */
CONNECTC_API void connectc_h2_conn_del(connectc_h2_conn *conn);
/*
 * Tells a new connection what TLS ALPN negotiated, before any bytes:
 * "h2" (HTTP/2), "http/1.1" (HTTP/1.1; CONNECTC_ERR_UNSUPPORTED with
 * http2_only), or len 0 for none (then the first bytes decide, as in
 * cleartext). `proto` is borrowed. Returns CONNECTC_OK,
 * CONNECTC_ERR_ARGUMENT, CONNECTC_ERR_STATE (bytes were received already)
 * or CONNECTC_ERR_UNSUPPORTED (another protocol).
 */
CONNECTC_API int connectc_h2_conn_set_alpn(connectc_h2_conn *conn, const char *proto, size_t len);
/*
 * Bytes received from the peer (any chunking; borrowed for the call).
 * Synchronous handlers run inside. Returns CONNECTC_OK, or
 * CONNECTC_ERR_PROTOCOL when the peer broke the protocol or a limit: the
 * connection has queued a GOAWAY (HTTP/2) or a refusal (HTTP/1.1), or
 * ends after the current response; send what connectc_h2_conn_send_peek
 * gives until connectc_h2_conn_is_done, then close.
 */
CONNECTC_API int connectc_h2_conn_recv(connectc_h2_conn *conn, const uint8_t *data, size_t len,
                                       int64_t now_ms);
/*
 * Bytes to send to the peer: *data (owned by the connection, valid until
 * the next connectc_h2_conn_* call on it from the owner) and *len (0 when
 * there is nothing to send now). Gathers up to about `max` bytes (0 = no
 * preference) of frames.
 */
CONNECTC_API void connectc_h2_conn_send_peek(connectc_h2_conn *conn, const uint8_t **data,
                                             size_t *len, size_t max);
/* The first `n` bytes from connectc_h2_conn_send_peek were sent. */
CONNECTC_API void connectc_h2_conn_send_consume(connectc_h2_conn *conn, size_t n);
/*
 * Advances time: deadlines of calls, handshake, idle and stall timeouts.
 * Returns the time (same clock) when it wants to be ticked again, or -1
 * for never (until new input or output).
 */
CONNECTC_API int64_t connectc_h2_conn_tick(connectc_h2_conn *conn, int64_t now_ms);
/* Graceful shutdown: GOAWAY; streams in flight go on, new ones are
 * refused. The connection is done once they have finished. */
CONNECTC_API void connectc_h2_conn_shutdown(connectc_h2_conn *conn, int64_t now_ms);
/* 1 when the connection is over and all its output was taken: close the
 * socket (then connectc_h2_conn_del). */
CONNECTC_API int connectc_h2_conn_is_done(connectc_h2_conn *conn);
/* 1 while the connection wants input from the peer. */
CONNECTC_API int connectc_h2_conn_wants_read(connectc_h2_conn *conn);

/* The client connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
 * its length and bytes, for telling HTTP/2 from HTTP/1.1 by the first
 * bytes of a cleartext connection. */
#define CONNECTC_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define CONNECTC_H2_PREFACE_LEN 24

#ifdef __cplusplus
}
#endif

#endif
