/*
 * h1.h: strict HTTP/1.1 message heads (RFC 9112), shared by the adapters
 * that read HTTP/1.1 themselves. Sans-IO, allocation-free: the parsed head
 * points into the caller's buffer.
 *
 * cc_h1_scan() finds where a head ends in the bytes received so far
 * (refusing a bare CR or LF, NUL and over-long heads as soon as they
 * appear). A server then hands a request head to the core's rules
 * (h1_rules.h: connectc_http1_check_head_fields(), which reads it once
 * and returns its fields); a client parses a response head with
 * cc_h1_parse_response(), which decides how the body is framed and refuses
 * a head whose framing two parsers could read differently: a field name
 * that is not a token (whitespace before the colon included), a value
 * holding a control character, obs-fold, Content-Length with
 * Transfer-Encoding, more than one Content-Length or Transfer-Encoding
 * field, a Content-Length that is not 1*DIGIT (signs, lists, overflow), a
 * transfer coding other than exactly "chunked", a status line that is not
 * `HTTP-version SP 3DIGIT [SP reason]`, more fields than the caller's
 * array holds.
 *
 * Internal to connectc's adapters (prefix cc_); not installed.
 */
#ifndef CONNECTC_ADAPTERS_H1_H
#define CONNECTC_ADAPTERS_H1_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A token character (RFC 9110 5.6.2: "!#$%&'*+-.^_`|~", digits, letters):
 * lower-case letters at once, anything else one bit of a 128-bit mask. The
 * core has the same test in core/buf.h, which the adapters do not include. */
static inline int cc_is_tchar(unsigned char c) {
  static const uint64_t mask[2] = {0x03ff6cfa00000000u, 0x57ffffffc7fffffeu};
  if ((unsigned)(c - 'a') < 26u) return 1; /* most of a field name */
  return c < 128 && ((mask[c >> 6] >> (c & 63)) & 1u);
}

/* Writes v in base 10 or 16 (lower case) so that the digits end at d + 24;
 * returns where they start. For response heads and chunk sizes: snprintf
 * costs more than the rest of a response head together. */
static inline char *cc_fmt_uint(char d[24], uint64_t v, unsigned base) {
  char *p = d + 24;
  do {
    *--p = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  return p;
}

/* One header field: spans into the head (not NUL-terminated). The value
 * has no leading or trailing whitespace. */
typedef struct cc_h1_field {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} cc_h1_field;

/* How the body that follows a head is delimited. */
typedef enum cc_h1_body {
  CC_H1_BODY_NONE = 0,       /* no body */
  CC_H1_BODY_LENGTH = 1,     /* content_length bytes */
  CC_H1_BODY_CHUNKED = 2,    /* the chunked coding (chunked.h) */
  CC_H1_BODY_UNTIL_CLOSE = 3 /* until the connection closes */
} cc_h1_body;

/* A parsed response head. */
typedef struct cc_h1_head {
  /* The status code and reason phrase. */
  int status;
  const char *reason;
  size_t reason_len;
  int version_minor;      /* 0 for HTTP/1.0, 1 for HTTP/1.1 (and 1.x) */
  cc_h1_field *fields;    /* the caller's array */
  size_t n_fields;
  cc_h1_body body;
  uint64_t content_length; /* CC_H1_BODY_LENGTH */
  int keep_alive;          /* the connection may carry another message */
} cc_h1_head;

/* Where a head ends, found incrementally over a growing buffer. */
typedef struct cc_h1_scanner {
  size_t pos;        /* bytes already looked at */
  size_t line_start; /* where the current line began */
  int lines;         /* lines ended so far, empty ones before a request line excluded */
} cc_h1_scanner;

/* Starts looking for a new head at the start of the buffer. */
void cc_h1_scanner_init(cc_h1_scanner *s);

/*
 * Looks for the end of a head in buf[0..len), where buf holds the bytes of
 * the earlier calls unchanged plus new ones (bytes judged by an earlier call
 * are not looked at again).
 * Empty lines before a request line are part of the head, as RFC 9112 2.2
 * allows. Returns the head's length (through the CRLF of its empty line)
 * when complete, 0 when more bytes are needed, or a negative HTTP status:
 * -400 for a bare CR or LF or a NUL, -414 when the first line alone
 * exceeds max_bytes, -431 when the head does (max_bytes 0 means 65536).
 */
long cc_h1_scan(cc_h1_scanner *s, const uint8_t *buf, size_t len, size_t max_bytes);

/*
 * Parses a complete response head of `len` bytes (as cc_h1_scan measured)
 * into *out, filling at most max_fields entries of `fields`. Returns 0, or
 * -1 with *why set (a static explanation) when the head is malformed or
 * its framing ambiguous (the rules above). 1xx, 204
 * and 304 responses have no body; a response with neither Content-Length
 * nor chunked runs until the connection closes.
 */
int cc_h1_parse_response(const char *buf, size_t len, cc_h1_field *fields, size_t max_fields,
                         cc_h1_head *out, const char **why);


#ifdef __cplusplus
}
#endif

#endif
