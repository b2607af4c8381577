/* Helpers for the hostile-peer suites: raw loopback sockets with
 * timeouts, a small HTTP/1.1 response reader, Connect error extraction
 * and compression bombs. Everything here fails fast instead of hanging. */
#ifndef CONNECTC_TESTS_HX_H
#define CONNECTC_TESTS_HX_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. */
typedef struct hx_buf {
  uint8_t *data;
  size_t len, cap;
} hx_buf;

void hx_buf_put(hx_buf *b, const void *p, size_t n);
void hx_buf_puts(hx_buf *b, const char *s);
void hx_buf_printf(hx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hx_buf_free(hx_buf *b);
/* Appends a protobuf varint. */
void hx_buf_varint(hx_buf *b, uint64_t v);
/* Appends a Connect envelope. */
void hx_buf_envelope(hx_buf *b, uint8_t flags, const void *payload, size_t len);

/* A connected loopback socket with send and receive timeouts (ms). */
int hx_connect(uint16_t port, int timeout_ms);
/* Writes everything (no SIGPIPE); 0 on success, -1 when the peer is gone. */
int hx_send(int fd, const void *p, size_t n);
/* Closes with RST instead of FIN. */
void hx_abort(int fd);

/* One parsed HTTP response. */
typedef struct hx_resp {
  int status;      /* 0: no response (connection closed or timed out) */
  char head[65536];/* raw header block, NUL-terminated */
  hx_buf body;     /* de-chunked */
  int chunked;
  int complete;    /* the body ended as framed */
  int eof;         /* the server closed the connection */
} hx_resp;

/* Reads one response from `fd` (bytes past it stay in `pending`). Gives
 * up after timeout_ms without progress. Returns r->status. */
int hx_read_response(int fd, hx_buf *pending, hx_resp *r, int timeout_ms);
void hx_resp_free(hx_resp *r);
/* A header value of the response (first match, case-insensitive), copied
 * into out; returns out or NULL. */
const char *hx_resp_header(const hx_resp *r, const char *name, char *out, size_t cap);
/* 1 if nothing more arrives within ms (EOF or silence), and sets *eof. */
int hx_quiet(int fd, hx_buf *pending, int ms, int *eof);

/* Sends raw bytes on a new connection and reads everything that comes
 * back until the server closes or is silent for quiet_ms. Sets the number
 * of status lines seen (responses, 100 Continue included) and whether the
 * server closed. Returns the status of the first one, or 0. */
int hx_exchange(uint16_t port, const void *req, size_t len, int quiet_ms, hx_buf *all,
                int *n_status, int *closed);

/* Sends `req` on a new connection and reads one response. */
int hx_roundtrip(uint16_t port, const void *req, size_t len, hx_resp *r);

/* The "code" string of a unary Connect error body, or "" (static). */
const char *hx_unary_code(const hx_resp *r);
/* For a streaming body: the code of its end-of-stream message ("ok" if
 * it carries no error, "" if there is none or it is malformed), and the
 * number of data messages before it. */
const char *hx_stream_code(const hx_resp *r, int *n_messages);

/* Builds "METHOD path HTTP/1.1" with Host, Content-Length (len >= 0),
 * Connection: close, the given extra header lines ("a: b\r\n..." or
 * NULL) and the body. */
void hx_request(hx_buf *out, const char *method, const char *path, const char *extra,
                const void *body, long long len);

/* Compressed forms of `zeros` zero bytes, built once per process:
 * "gzip", "br" or "zstd". Returns NULL when the build lacks it. */
const hx_buf *hx_bomb(const char *alg, uint64_t zeros);
/* `len` bytes compressed with alg (small inputs). */
void hx_compress(const char *alg, const void *in, size_t len, hx_buf *out);

#endif
