/**
 * @file connectc/http.h
 * @brief The HTTP semantics every server adapter shares, as pure
 * functions over bytes, so that all servers (libmicrohttpd, HTTP/2,
 * Mongoose) read a request the same way and give the same answer when
 * they refuse it: field names and values, Content-Length and chunk sizes,
 * Host, request targets (origin and absolute form), NUL-safe paths, the
 * request head of HTTP/1.x as a whole, and the error responses these
 * checks lead to.
 *
 * Every function takes explicit lengths: a name or value from the wire is
 * never read as a C string, so bytes after an embedded NUL are never lost
 * (and a NUL is refused wherever the protocol forbids it). Nothing here
 * allocates, reads a clock or keeps state.
 *
 * A refused request gets exactly one well-formed answer and then the
 * connection is closed: connectc_http1_write_refusal() writes it, with a
 * Connect error body (application/json) naming the rule or limit that was
 * broken, its value, and what was seen.
 */
#ifndef CONNECTC_HTTP_H
#define CONNECTC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "connectc/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Why a request was refused, and the answer to send. */
typedef struct connectc_http_refusal {
  /** HTTP status: 400 (malformed), 413 (a declared length too large),
   * 414 (request target too long), 417 (unknown expectation), 431 (header
   * fields too large or too many), 501 (unknown transfer coding) or 505
   * (HTTP version). */
  int status;
  /** The Connect code of the error body (invalid_argument for malformed
   * requests, resource_exhausted for limits, unimplemented for features). */
  connectc_code code;
  /** What was wrong, as printable ASCII (bytes seen on the wire are shown
   * escaped), NUL-terminated. */
  char message[192];
} connectc_http_refusal;

/* ---- fields ---- */

/**
 * Checks a field name: an RFC 9110 token (letters, digits and
 * the punctuation RFC 9110 5.6.2 lists).
 * @param name the name (need not be NUL-terminated; NULL gives 0).
 * @param len its length.
 * @return 1 if valid, 0 otherwise (empty, a space, a colon, a NUL, any
 *         control or non-ASCII byte).
 */
CONNECTC_API int connectc_http_field_name_valid(const char *name, size_t len);
/**
 * Checks a field value: visible ASCII, obs-text (bytes 0x80-0xFF), space
 * and horizontal tab (RFC 9110 5.5).
 * @param value the value (need not be NUL-terminated; NULL is valid when
 *        `len` is 0).
 * @param len its length.
 * @return 1 if valid, 0 if it holds NUL, CR, LF or another control byte.
 */
CONNECTC_API int connectc_http_field_value_valid(const char *value, size_t len);

/* ---- framing ---- */

/**
 * Parses a Content-Length value: 1*DIGIT, at most INT64_MAX.
 * @param value the value, surrounding whitespace already removed (need
 *        not be NUL-terminated).
 * @param len its length.
 * @param out set to the length on success (may be NULL).
 * @param why filled on failure (may be NULL): 400 invalid_argument, or 413
 *        resource_exhausted for a value too large.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_PROTOCOL for anything but digits (empty, a sign,
 *         hex, a list such as "7, 7", inner whitespace);
 *         CONNECTC_ERR_LIMIT for digits whose value exceeds INT64_MAX.
 */
CONNECTC_API int connectc_http_parse_content_length(const char *value, size_t len, uint64_t *out,
                                                    connectc_http_refusal *why);

/**
 * Parses one chunk-size line of a chunked body: 1*HEXDIG, optionally
 * followed by chunk extensions (";name[=value]...", whitespace allowed
 * before ';'), which are ignored.
 * @param line the line without its line end (need not be NUL-terminated).
 * @param len its length.
 * @param out set to the chunk size on success (may be NULL).
 * @param why filled on failure (may be NULL), as for Content-Length.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_PROTOCOL for a malformed line (no digits, a sign, a
 *         control byte, a NUL);
 *         CONNECTC_ERR_LIMIT for a size above INT64_MAX (the overflow of a
 *         64-bit counter is refused, never wrapped).
 */
CONNECTC_API int connectc_http_parse_chunk_size(const char *line, size_t len, uint64_t *out,
                                                connectc_http_refusal *why);

/* ---- request target and Host ---- */

/** A parsed request target. Every pointer points into the parsed input. */
typedef struct connectc_http_target {
  const char *path;      /**< starts with '/', still percent-encoded */
  size_t path_len;       /**< bytes of `path` */
  const char *query;     /**< after '?', still percent-encoded; NULL if none */
  size_t query_len;      /**< bytes of `query` */
  const char *authority; /**< absolute form: "host[:port]"; NULL in origin form */
  size_t authority_len;  /**< bytes of `authority` */
} connectc_http_target;

/**
 * Parses a request target (RFC 9112 3.2): origin form ("/path?query") or
 * absolute form ("http://host:port/path?query", scheme http or https in any
 * case; an empty path means "/"), which servers must accept. The asterisk
 * form and the authority form, a fragment ('#'), bytes outside visible
 * ASCII (a NUL, space, control byte or non-ASCII byte) and a bad
 * percent-escape are refused.
 * @param target the request target as sent (need not be NUL-terminated).
 * @param len its length.
 * @param out filled on success (may be NULL); its pointers point into
 *        `target`.
 * @param why filled on failure (may be NULL): 400 invalid_argument.
 * @return CONNECTC_OK or CONNECTC_ERR_PROTOCOL.
 */
CONNECTC_API int connectc_http_parse_target(const char *target, size_t len,
                                            connectc_http_target *out,
                                            connectc_http_refusal *why);

/**
 * Percent-decodes a path (e.g. connectc_http_target.path). Refuses a bad
 * escape, a raw NUL and an escape that decodes to NUL, so a decoded path
 * never holds a NUL and cannot match a shorter name when compared as a C
 * string.
 * @param path the encoded path (need not be NUL-terminated).
 * @param len its length.
 * @param out receives the decoded path (not NUL-terminated); must hold
 *        `len` bytes (the decoded path is never longer).
 * @param out_len set to the decoded length (may be NULL).
 * @param why filled on failure (may be NULL): 400 invalid_argument.
 * @return CONNECTC_OK or CONNECTC_ERR_PROTOCOL.
 */
CONNECTC_API int connectc_http_decode_path(const char *path, size_t len, char *out, size_t *out_len,
                                           connectc_http_refusal *why);

/**
 * Applies the Host rules of RFC 9112 3.2: HTTP/1.1 needs exactly one Host
 * field, HTTP/1.0 at most one, and the value must be empty or host[:port]
 * (a reg-name, an IPv4 address or a bracketed IP literal; a port of
 * digits).
 * @param minor the request's HTTP/1 minor version (0 or 1).
 * @param n_host how many Host fields the request carried.
 * @param value the first one's value (need not be NUL-terminated; NULL
 *        when n_host is 0).
 * @param len its length.
 * @param why filled on failure (may be NULL): 400 invalid_argument.
 * @return CONNECTC_OK or CONNECTC_ERR_PROTOCOL.
 */
CONNECTC_API int connectc_http_check_host(int minor, size_t n_host, const char *value, size_t len,
                                          connectc_http_refusal *why);

/* ---- HTTP/1.x request heads ---- */

/** connectc_http1_limits.max_head_bytes left at 0. */
#define CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES ((size_t)16 * 1024)
/** connectc_http1_limits.max_fields left at 0. */
#define CONNECTC_HTTP1_DEFAULT_MAX_FIELDS ((size_t)256)

/** Limits of connectc_http1_check_head(). Zero-initialise it: zero means
 * the default, and the struct only grows at the end. */
typedef struct connectc_http1_limits {
  /** The request line, every field line and the blank line, in bytes; 0 =
   * CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES. Past it: 414 while the request
   * line is incomplete, 431 afterwards. */
  size_t max_head_bytes;
  /** Header fields plus query parameters ('&'-separated parts of the
   * target's query) plus cookies (';'-separated parts of Cookie fields):
   * each costs a record in most HTTP servers; 0 =
   * CONNECTC_HTTP1_DEFAULT_MAX_FIELDS. Past it: 431 (414 when the query
   * parameters alone exceed it). */
  size_t max_fields;
} connectc_http1_limits;

/** What connectc_http1_check_head() learnt. Pointers point into the input. */
typedef struct connectc_http1_head {
  size_t head_len;          /**< bytes of the head, through its blank line */
  const char *method;       /**< the method token */
  size_t method_len;        /**< bytes of `method` */
  const char *target;       /**< as sent (see connectc_http_parse_target()) */
  size_t target_len;        /**< bytes of `target` */
  int minor;                /**< 0 for HTTP/1.0, 1 for HTTP/1.1 */
  size_t n_fields;          /**< header field lines */
  size_t n_params;          /**< query parameters */
  size_t n_cookies;         /**< cookies in Cookie fields */
  int has_content_length;   /**< a Content-Length field was present */
  uint64_t content_length;  /**< its value */
  int chunked;              /**< Transfer-Encoding: chunked */
  int expect_continue;      /**< Expect: 100-continue */
  int connection_close;     /**< Connection: close */
} connectc_http1_head;

/**
 * Checks the HTTP/1.x request head at the start of a buffer, which may end
 * anywhere (call again with more). Lines end with CRLF or a bare LF; up to
 * a few empty lines before the request line are skipped (RFC 9112 2.2).
 * The rules, each with its own message:
 *  - request line: method token, one space, a target
 *    (connectc_http_parse_target), one space, "HTTP/1.0" or "HTTP/1.1"
 *    (another version: 505);
 *  - field lines: a token name, a colon right after it (no whitespace),
 *    a valid value; no obs-fold continuation lines; no bare CR, no NUL;
 *  - framing (RFC 9112 6): at most one Content-Length
 *    (connectc_http_parse_content_length), not together with
 *    Transfer-Encoding; Transfer-Encoding only in HTTP/1.1, once, and only
 *    "chunked" (anything else: 501);
 *  - Host (connectc_http_check_host);
 *  - Expect: only "100-continue" (anything else: 417);
 *  - the limits in `lim` (NULL: defaults).
 *
 * @param buf the bytes received so far (need not be NUL-terminated).
 * @param len their length.
 * @param lim the limits (NULL: defaults).
 * @param out filled when a complete head passed (may be NULL).
 * @param why filled on a refusal (may be NULL): an answer is due
 *        (connectc_http1_write_refusal()), then close.
 * @return 1 when a complete head was found and passed every rule
 *         (out->head_len bytes long); 0 when more bytes are needed (and
 *         none seen so far breaks a rule or a limit);
 *         CONNECTC_ERR_PROTOCOL, CONNECTC_ERR_LIMIT or
 *         CONNECTC_ERR_UNSUPPORTED for a refusal.
 */
CONNECTC_API int connectc_http1_check_head(const char *buf, size_t len,
                                           const connectc_http1_limits *lim,
                                           connectc_http1_head *out, connectc_http_refusal *why);

/** A field line of a checked request head. Both spans point into the
 * checked buffer. */
typedef struct connectc_http1_field {
  const char *name;  /**< the name as sent (a token) */
  size_t name_len;   /**< bytes of `name` */
  const char *value; /**< the value without the whitespace around it */
  size_t value_len;  /**< bytes of `value` (may be 0) */
} connectc_http1_field;

/**
 * connectc_http1_check_head() for a server that reads HTTP/1.1 itself: the
 * same rules, refusals and result, and the field lines of a head that
 * passed, so that each head is read once.
 * @param buf, len, lim, out, why as for connectc_http1_check_head().
 * @param fields receives out->n_fields entries when 1 is returned (may be
 *        written to otherwise).
 * @param max_fields entries at `fields`: at least the limit in `lim`
 *        (lim->max_fields, or CONNECTC_HTTP1_DEFAULT_MAX_FIELDS), which
 *        bounds the field lines a passing head can have.
 * @param keep_alive receives, when 1 is returned, whether the connection
 *        may carry another request after this one: HTTP/1.1 without a
 *        Connection "close" token, HTTP/1.0 with a "keep-alive" one and
 *        no "close" (RFC 9112 9.3); may be NULL.
 * @return as connectc_http1_check_head(); CONNECTC_ERR_ARGUMENT when
 *         `fields` is NULL or max_fields is below the limit.
 */
CONNECTC_API int connectc_http1_check_head_fields(const char *buf, size_t len,
                                                  const connectc_http1_limits *lim,
                                                  connectc_http1_head *out,
                                                  connectc_http1_field *fields,
                                                  size_t max_fields, int *keep_alive,
                                                  connectc_http_refusal *why);

/* ---- answers ---- */

/**
 * @param status an HTTP status.
 * @return its reason phrase ("Bad Request"), or "Unknown"; static storage.
 */
CONNECTC_API const char *connectc_http_reason(int status);

/**
 * Writes the complete HTTP/1.1 answer for a refusal: the status line,
 * Content-Type: application/json, Content-Length, Connection: close, and
 * the Connect error body {"code": ..., "message": ...}. Like snprintf.
 * @param buf receives the answer (may be NULL when cap is 0);
 *        NUL-terminated when it fits with room to spare.
 * @param cap bytes available at buf.
 * @param why the refusal.
 * @return the length of the whole answer (more than cap: it was cut).
 */
CONNECTC_API size_t connectc_http1_write_refusal(char *buf, size_t cap,
                                                 const connectc_http_refusal *why);

/**
 * Writes only the Connect error body of that answer ({"code": ...,
 * "message": ...}), for servers that frame responses themselves (HTTP/2,
 * or an HTTP library's response object). Like snprintf.
 * @param buf receives the body (may be NULL when cap is 0).
 * @param cap bytes available at buf.
 * @param why the refusal.
 * @return the length of the whole body.
 */
CONNECTC_API size_t connectc_http_write_refusal_body(char *buf, size_t cap,
                                                     const connectc_http_refusal *why);

/** connectc_http1_write_response_head(): add Connection: close. */
#define CONNECTC_HTTP1_CLOSE 1u
/** connectc_http1_write_response_head(): with no Content-Length, add
 * Transfer-Encoding: chunked (the body then goes in chunks, ended by
 * connectc_http1_write_chunked_end()). */
#define CONNECTC_HTTP1_CHUNKED 2u

/**
 * Writes an HTTP/1.1 response head: the status line (a status outside
 * 100-999 is written as 500), every field of `headers` as it is,
 * Content-Length when content_length >= 0, otherwise Transfer-Encoding:
 * chunked with CONNECTC_HTTP1_CHUNKED, Connection: close with
 * CONNECTC_HTTP1_CLOSE, and the blank line. Like snprintf. The fields are
 * written unchecked: a connectc_response_head's never hold the ones
 * HTTP/1.1 framing owns (Content-Length, Transfer-Encoding, Connection and
 * the like), which the server call drops.
 * @param buf receives the head (may be NULL when cap is 0).
 * @param cap bytes available at buf.
 * @param status the HTTP status.
 * @param headers the fields (borrowed; may be NULL).
 * @param content_length the body length, or -1 for none.
 * @param flags CONNECTC_HTTP1_CLOSE and CONNECTC_HTTP1_CHUNKED, or 0
 *        (1, as passed before these flags existed, means close).
 * @return the length of the whole head.
 */
CONNECTC_API size_t connectc_http1_write_response_head(char *buf, size_t cap, int status,
                                                       const connectc_headers *headers,
                                                       int64_t content_length, unsigned flags);

/**
 * Writes the end of a chunked body: the last chunk ("0"), each field of
 * `trailers` (gRPC's status travels here), and the blank line. Like
 * snprintf.
 * @param buf receives the bytes (may be NULL when cap is 0).
 * @param cap bytes available at buf.
 * @param trailers the trailer fields (borrowed; may be NULL).
 * @return the length of the whole ending.
 */
CONNECTC_API size_t connectc_http1_write_chunked_end(char *buf, size_t cap,
                                                     const connectc_headers *trailers);

#ifdef __cplusplus
}
#endif

#endif
