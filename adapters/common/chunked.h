/*
 * chunked.h: a strict, incremental decoder of the HTTP/1.1 chunked
 * transfer coding (RFC 9112 section 7.1), shared by the adapters that
 * parse HTTP/1.1 bodies themselves (the Mongoose server and client; the
 * HTTP/1.1 side of an HTTP/2 server later).
 *
 * Sans-IO and allocation-free: feed it any chunking of the bytes; it
 * returns the body's data as spans pointing into the caller's input, so
 * nothing is copied. Everything that two parsers could read differently is
 * refused rather than guessed at:
 *   - a chunk size that is not 1*HEXDIG, or that does not fit the limit
 *     (64-bit overflow is refused long before it could wrap);
 *   - chunk extensions that are not `*( BWS ";" BWS token [ BWS "=" BWS
 *     ( token / quoted-string ) ] )`, and whitespace with no extension;
 *   - a chunk not followed by exactly CRLF;
 *   - a bare LF or bare CR anywhere in the framing;
 *   - trailer field lines that are not `token ":" field-value`, obs-fold,
 *     or more trailer bytes than the limit.
 * Trailer fields are checked and skipped, not reported.
 *
 * Internal to connectc's adapters (prefix cc_); not installed.
 */
#ifndef CONNECTC_ADAPTERS_CHUNKED_H
#define CONNECTC_ADAPTERS_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits; zero means the default. */
typedef struct cc_chunked_limits {
  /* Bytes of one chunk-size line with its extensions, CRLF included
   * (default 4096). */
  size_t max_line;
  /* Bytes of the whole trailer section after the last chunk, its final
   * CRLF included (default 16384). */
  size_t max_trailer_bytes;
  /* Largest chunk size accepted (default INT64_MAX). */
  uint64_t max_chunk_size;
} cc_chunked_limits;

/* What cc_chunked_decode found. */
typedef enum cc_chunked_result {
  CC_CHUNKED_ERROR = -1, /* malformed or over a limit: cc_chunked_error() says why */
  CC_CHUNKED_MORE = 0,   /* all input consumed, the body goes on */
  CC_CHUNKED_DATA = 1,   /* a span of body data (*data and *data_len) */
  CC_CHUNKED_DONE = 2    /* the body ended; bytes after it are not ours */
} cc_chunked_result;

/* Decoder state: treat as opaque; initialise with cc_chunked_init. */
typedef struct cc_chunked {
  int state;
  uint64_t left;      /* chunk size being read, then data bytes left in the chunk */
  size_t line;        /* bytes of the current chunk-size line */
  size_t trailer;     /* trailer bytes so far */
  cc_chunked_limits limits;
  const char *error;  /* static message once failed */
} cc_chunked;

/* Starts decoding a new body. `limits` may be NULL (defaults); copied. */
void cc_chunked_init(cc_chunked *d, const cc_chunked_limits *limits);

/*
 * Decodes from in[0..len). Sets *consumed to the bytes it used (always <=
 * len) and returns:
 *  - CC_CHUNKED_DATA: *data and *data_len are body data inside `in` (the last
 *    *data_len bytes of the consumed ones); call again with the rest;
 *  - CC_CHUNKED_MORE: everything was consumed (*consumed == len), no data;
 *  - CC_CHUNKED_DONE: the last chunk and the trailer section ended at
 *    in[*consumed - 1]; what follows belongs to the next message;
 *  - CC_CHUNKED_ERROR: the framing is malformed at in[*consumed]. Stays
 *    in error (and so does DONE) until cc_chunked_init.
 * Never reads past in[len - 1]; `in` may be NULL when len is 0.
 */
cc_chunked_result cc_chunked_decode(cc_chunked *d, const uint8_t *in, size_t len,
                                    size_t *consumed, const uint8_t **data, size_t *data_len);

/*
 * Gives back the last n bytes of the data span the previous call returned
 * (CC_CHUNKED_DATA with *data_len >= n), for a receiver that took only part
 * of it: the decoder expects them again, so the caller feeds them again
 * from in + *consumed - n. n == 0 does nothing. Returns 0, or -1 (nothing
 * changed) when the decoder is not just past such a span.
 */
int cc_chunked_unread(cc_chunked *d, size_t n);

/* Why decoding failed (static string), or NULL. */
const char *cc_chunked_error(const cc_chunked *d);

#ifdef __cplusplus
}
#endif

#endif
