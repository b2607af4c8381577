/* The strict chunked transfer coding decoder (see chunked.h). One state
 * per position in the RFC 9112 7.1 grammar; one byte at a time except for
 * chunk data, which is handed out as spans of the input. */
#include "chunked.h"
#include "h1.h"

#include <string.h>

enum {
  S_SIZE0,        /* the first HEXDIG of a chunk size */
  S_SIZE,         /* more HEXDIGs, or what ends the size */
  S_EXT_BWS_SEMI, /* whitespace that must lead to ";" */
  S_EXT_BWS_NAME, /* after ";": whitespace, then an extension name */
  S_EXT_NAME,
  S_EXT_AFTER_NAME, /* whitespace after a name: "=" or ";" must follow */
  S_EXT_BWS_VAL,    /* after "=": whitespace, then a token or a quoted string */
  S_EXT_VAL_TOKEN,
  S_EXT_VAL_QUOTED,
  S_EXT_VAL_QPAIR,    /* after a backslash in a quoted string */
  S_EXT_AFTER_QUOTED, /* after the closing quote */
  S_SIZE_LF,          /* after the CR ending the chunk-size line */
  S_DATA,
  S_DATA_CR,
  S_DATA_LF,
  S_TRAILER_START, /* a trailer field line, or the empty line ending the body */
  S_TRAILER_NAME,
  S_TRAILER_VALUE,
  S_TRAILER_LF,
  S_END_LF,
  S_DONE,
  S_ERROR
};

void cc_chunked_init(cc_chunked *d, const cc_chunked_limits *limits) {
  memset(d, 0, sizeof *d);
  if (limits) d->limits = *limits;
  if (!d->limits.max_line) d->limits.max_line = 4096;
  if (!d->limits.max_trailer_bytes) d->limits.max_trailer_bytes = 16384;
  if (!d->limits.max_chunk_size) d->limits.max_chunk_size = (uint64_t)INT64_MAX;
  d->state = S_SIZE0;
}

const char *cc_chunked_error(const cc_chunked *d) { return d->state == S_ERROR ? d->error : NULL; }


static int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int is_ws(uint8_t c) { return c == ' ' || c == '\t'; }

/* qdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
static int is_qdtext(uint8_t c) {
  return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
         (c >= 0x5D && c <= 0x7E) || c >= 0x80;
}

/* field-value bytes: VCHAR / obs-text / SP / HTAB */
static int is_field_byte(uint8_t c) { return (c >= 0x21 && c <= 0x7E) || c >= 0x80 || is_ws(c); }

static cc_chunked_result fail(cc_chunked *d, const char *why, size_t at, size_t *consumed) {
  d->state = S_ERROR;
  d->error = why;
  *consumed = at;
  return CC_CHUNKED_ERROR;
}

/* One byte of a chunk-size line: the next state, or -1 with *why set. */
static int size_line_byte(cc_chunked *d, uint8_t c, const char **why) {
  switch (d->state) {
    case S_SIZE0:
    case S_SIZE: {
      int v = hex_value(c);
      if (v >= 0) {
        if (d->left > (d->limits.max_chunk_size - (uint64_t)v) / 16) {
          *why = "chunk size too large";
          return -1;
        }
        d->left = d->left * 16 + (uint64_t)v;
        return S_SIZE;
      }
      if (d->state == S_SIZE0) {
        *why = "chunk size is not a hexadecimal number";
        return -1;
      }
      if (is_ws(c)) return S_EXT_BWS_SEMI;
      if (c == ';') return S_EXT_BWS_NAME;
      if (c == '\r') return S_SIZE_LF;
      *why = c == '\n' ? "bare LF in the chunked framing" : "invalid byte after the chunk size";
      return -1;
    }
    case S_EXT_BWS_SEMI:
      if (is_ws(c)) return S_EXT_BWS_SEMI;
      if (c == ';') return S_EXT_BWS_NAME;
      *why = "whitespace in a chunk-size line that is not before a chunk extension";
      return -1;
    case S_EXT_BWS_NAME:
      if (is_ws(c)) return S_EXT_BWS_NAME;
      if (cc_is_tchar(c)) return S_EXT_NAME;
      *why = "invalid chunk extension name";
      return -1;
    case S_EXT_NAME:
      if (cc_is_tchar(c)) return S_EXT_NAME;
      if (is_ws(c)) return S_EXT_AFTER_NAME;
      if (c == '=') return S_EXT_BWS_VAL;
      if (c == ';') return S_EXT_BWS_NAME;
      if (c == '\r') return S_SIZE_LF;
      *why = "invalid chunk extension name";
      return -1;
    case S_EXT_AFTER_NAME:
      if (is_ws(c)) return S_EXT_AFTER_NAME;
      if (c == '=') return S_EXT_BWS_VAL;
      if (c == ';') return S_EXT_BWS_NAME;
      *why = "whitespace in a chunk-size line that is not before \"=\" or \";\"";
      return -1;
    case S_EXT_BWS_VAL:
      if (is_ws(c)) return S_EXT_BWS_VAL;
      if (cc_is_tchar(c)) return S_EXT_VAL_TOKEN;
      if (c == '"') return S_EXT_VAL_QUOTED;
      *why = "invalid chunk extension value";
      return -1;
    case S_EXT_VAL_TOKEN:
      if (cc_is_tchar(c)) return S_EXT_VAL_TOKEN;
      if (is_ws(c)) return S_EXT_BWS_SEMI;
      if (c == ';') return S_EXT_BWS_NAME;
      if (c == '\r') return S_SIZE_LF;
      *why = "invalid chunk extension value";
      return -1;
    case S_EXT_VAL_QUOTED:
      if (c == '"') return S_EXT_AFTER_QUOTED;
      if (c == '\\') return S_EXT_VAL_QPAIR;
      if (is_qdtext(c)) return S_EXT_VAL_QUOTED;
      *why = "invalid byte in a quoted chunk extension value";
      return -1;
    case S_EXT_VAL_QPAIR:
      if (is_field_byte(c)) return S_EXT_VAL_QUOTED;
      *why = "invalid escape in a quoted chunk extension value";
      return -1;
    case S_EXT_AFTER_QUOTED:
      if (is_ws(c)) return S_EXT_BWS_SEMI;
      if (c == ';') return S_EXT_BWS_NAME;
      if (c == '\r') return S_SIZE_LF;
      *why = "invalid byte after a quoted chunk extension value";
      return -1;
    case S_SIZE_LF:
      if (c == '\n') return d->left == 0 ? S_TRAILER_START : S_DATA;
      *why = "bare CR in the chunked framing";
      return -1;
    default:
      *why = "internal decoder state";
      return -1;
  }
}

/* One byte of the trailer section: the next state, or -1 with *why set. */
static int trailer_byte(int state, uint8_t c, const char **why) {
  switch (state) {
    case S_TRAILER_START:
      if (c == '\r') return S_END_LF;
      if (cc_is_tchar(c)) return S_TRAILER_NAME;
      *why = is_ws(c) ? "obsolete line folding in the chunked trailer section"
                      : "invalid trailer field name";
      return -1;
    case S_TRAILER_NAME:
      if (cc_is_tchar(c)) return S_TRAILER_NAME;
      if (c == ':') return S_TRAILER_VALUE;
      *why = "invalid trailer field name";
      return -1;
    case S_TRAILER_VALUE:
      if (is_field_byte(c)) return S_TRAILER_VALUE;
      if (c == '\r') return S_TRAILER_LF;
      *why = c == '\n' ? "bare LF in the chunked trailer section"
                       : "invalid byte in a trailer field value";
      return -1;
    case S_TRAILER_LF:
    case S_END_LF:
      if (c == '\n') return state == S_END_LF ? S_DONE : S_TRAILER_START;
      *why = "bare CR in the chunked trailer section";
      return -1;
    default:
      *why = "internal decoder state";
      return -1;
  }
}

cc_chunked_result cc_chunked_decode(cc_chunked *d, const uint8_t *in, size_t len,
                                    size_t *consumed, const uint8_t **data, size_t *data_len) {
  *data = NULL;
  *data_len = 0;
  size_t i = 0;
  if (d->state == S_ERROR) {
    *consumed = 0;
    return CC_CHUNKED_ERROR;
  }
  while (i < len) {
    uint8_t c = in[i];
    const char *why = NULL;
    int next;
    switch (d->state) {
      case S_DONE:
        *consumed = i;
        return CC_CHUNKED_DONE;
      case S_DATA: {
        size_t avail = len - i;
        size_t n = (uint64_t)avail < d->left ? avail : (size_t)d->left;
        d->left -= n;
        if (d->left == 0) d->state = S_DATA_CR;
        *data = in + i;
        *data_len = n;
        *consumed = i + n;
        return CC_CHUNKED_DATA;
      }
      case S_DATA_CR:
        if (c != '\r') return fail(d, "chunk data not followed by CRLF", i, consumed);
        d->state = S_DATA_LF;
        i++;
        continue;
      case S_DATA_LF:
        if (c != '\n') return fail(d, "bare CR after chunk data", i, consumed);
        d->state = S_SIZE0;
        d->line = 0;
        d->left = 0;
        i++;
        continue;
      case S_TRAILER_START:
      case S_TRAILER_NAME:
      case S_TRAILER_VALUE:
      case S_TRAILER_LF:
      case S_END_LF:
        if (++d->trailer > d->limits.max_trailer_bytes)
          return fail(d, "chunked trailer section too large", i, consumed);
        next = trailer_byte(d->state, c, &why);
        if (next < 0) return fail(d, why, i, consumed);
        d->state = next;
        i++;
        if (next == S_DONE) {
          *consumed = i;
          return CC_CHUNKED_DONE;
        }
        continue;
      default:
        if (++d->line > d->limits.max_line)
          return fail(d, "chunk-size line too long", i, consumed);
        next = size_line_byte(d, c, &why);
        if (next < 0) return fail(d, why, i, consumed);
        d->state = next;
        i++;
        continue;
    }
  }
  *consumed = i;
  return d->state == S_DONE ? CC_CHUNKED_DONE : CC_CHUNKED_MORE;
}

int cc_chunked_unread(cc_chunked *d, size_t n) {
  if (n == 0) return 0;
  /* Just past a span: still in the chunk's data, or at its CRLF when the
   * span ended the chunk. The span itself is the caller's to vouch for. */
  if (d->state == S_DATA_CR && d->left == 0) {
    d->left = n;
    d->state = S_DATA;
    return 0;
  }
  if (d->state == S_DATA && d->left <= UINT64_MAX - n) {
    d->left += n;
    return 0;
  }
  return -1;
}
