/*
 * h2srv: a small HTTP/2 server on libnghttp2, for tests only. It listens on
 * 127.0.0.1 (ephemeral port) and speaks h2c with prior knowledge, or h2
 * over TLS (OpenSSL, ALPN "h2" only, optionally requiring a client
 * certificate). One thread per connection; the test's handler runs on that
 * thread, inside nghttp2's callbacks, and answers streams with the
 * functions below (only from inside a handler callback, for a stream of
 * the connection that called it).
 *
 * It counts accepted connections and the most streams open at once, and
 * remembers the ALPN protocol and client certificate subject of the last
 * TLS handshake, so that tests can assert how the client used the wire.
 * Starting one ignores SIGPIPE for the process (OpenSSL writes with
 * write(2)).
 */
#ifndef H2SRV_H
#define H2SRV_H

#include <stddef.h>
#include <stdint.h>

typedef struct h2srv h2srv;
typedef struct h2srv_stream h2srv_stream;

typedef struct h2srv_handler {
  /* The request headers arrived (h2srv_header reads them). */
  void (*on_request)(h2srv_stream *s, void *ud);
  /* Request body bytes. */
  void (*on_data)(h2srv_stream *s, const uint8_t *data, size_t len, void *ud);
  /* The client ended its side (END_STREAM). */
  void (*on_end)(h2srv_stream *s, void *ud);
  /* The stream closed (error_code 0, or the RST_STREAM code). Optional. */
  void (*on_close)(h2srv_stream *s, uint32_t error_code, void *ud);
} h2srv_handler;

typedef struct h2srv_tls {
  const char *cert_file, *key_file; /* PEM */
  const char *client_ca_file;       /* non-NULL: require a client cert signed by it */
} h2srv_tls;

/* Starts a server (tls NULL: h2c). Returns NULL on failure. */
h2srv *h2srv_start(const h2srv_handler *h, void *ud, const h2srv_tls *tls);
/* Closes every connection, joins the threads, frees. */
void h2srv_stop(h2srv *srv);
int h2srv_port(const h2srv *srv);
/* Connections accepted so far. */
int h2srv_connections(h2srv *srv);
/* Response body bytes nghttp2 has taken to send as DATA (flow control
 * allowing), over every stream so far. */
uint64_t h2srv_body_bytes(h2srv *srv);
/* The most streams that were open at once on one connection. */
int h2srv_max_open_streams(h2srv *srv);
/* Of the last TLS handshake: ALPN protocol ("" if none) and the client
 * certificate's subject CN ("" if none). Copied into the buffers. */
void h2srv_last_tls(h2srv *srv, char *alpn, size_t alpn_cap, char *cn, size_t cn_cap);

/* ---- inside handler callbacks ---- */

/* A request header (":method", ":path", "content-type"...), NULL if absent;
 * `count` (may be NULL) receives how many times the name occurs. */
const char *h2srv_header(const h2srv_stream *s, const char *name, int *count);
/* The number of request headers and the i-th one. */
size_t h2srv_header_count(const h2srv_stream *s);
void h2srv_header_at(const h2srv_stream *s, size_t i, const char **name, const char **value);
/* Which connection (0, 1, ... in accept order) the stream is on. */
int h2srv_conn_index(const h2srv_stream *s);
int32_t h2srv_stream_id(const h2srv_stream *s);
/* A slot for the handler's own per-stream data. */
void **h2srv_user(h2srv_stream *s);

/* Sends the response head. headers: name, value, ..., NULL. end_stream:
 * HEADERS with END_STREAM (no body, no trailers). */
void h2srv_respond(h2srv_stream *s, int status, const char *const *headers, int end_stream);
/* Queues body bytes (sent as DATA frames as flow control allows). */
void h2srv_write(h2srv_stream *s, const void *data, size_t len);
/* Ends the body: with trailers (name, value, ..., NULL) as a HEADERS frame
 * after the DATA, or with END_STREAM on the last DATA frame. */
void h2srv_finish(h2srv_stream *s, const char *const *trailers);
/* Once the response's END_STREAM is sent, RST_STREAM(NO_ERROR) if the
 * request is still open: what Go's server does when its handler returns
 * before the request body ended (RFC 9113 8.1). It goes out 50 ms later,
 * in a write of its own (libcurl 7.88 drops response bytes that arrive in
 * the same read as a reset). */
void h2srv_reset_after_end(h2srv_stream *s);
/* RST_STREAM with `code`. */
void h2srv_reset(h2srv_stream *s, uint32_t code);

#endif
