/* Strict HTTP/1.1 heads (see h1.h). */
#include "h1.h"

#include <string.h>

static int is_ws(unsigned char c) { return c == ' ' || c == '\t'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
/* field-vchar / SP / HTAB */
static int is_field_byte(unsigned char c) { return (c >= 0x21 && c <= 0x7E) || c >= 0x80 || is_ws(c); }
static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

static int eq_nocase(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen != blen) return 0;
  for (size_t i = 0; i < alen; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
  return 1;
}
/* Against a string literal, whose length is known at compile time. */
#define eq_lit(a, alen, lit) eq_nocase((a), (alen), "" lit, sizeof(lit) - 1)

void cc_h1_scanner_init(cc_h1_scanner *s) { memset(s, 0, sizeof *s); }

/* Line by line with memchr (vectorised in libc) rather than byte by byte:
 * for each line, the LF that ends it, then a NUL or a CR before it. The
 * results are those of looking at each byte in turn: every refusal is
 * -400 whichever bad byte comes first, and no byte at or past max_bytes
 * is judged. */
long cc_h1_scan(cc_h1_scanner *s, const uint8_t *buf, size_t len, size_t max_bytes) {
  if (!max_bytes) max_bytes = 65536;
  while (s->pos < len) {
    if (s->pos >= max_bytes) return s->lines == 0 ? -414 : -431;
    size_t stop = len < max_bytes ? len : max_bytes; /* bytes that may be judged */
    const uint8_t *p = buf + s->pos;
    size_t avail = stop - s->pos;
    const uint8_t *lf = memchr(p, '\n', avail);
    size_t span = lf ? (size_t)(lf - p) : avail; /* the bytes before the LF */
    if (memchr(p, 0, span)) return -400;
    const uint8_t *cr = memchr(p, '\r', span);
    if (cr && cr + 1 < p + span) return -400; /* a CR not followed by LF */
    if (!lf) {
      if (cr) { /* the last byte judged is a CR */
        size_t at = (size_t)(cr - buf);
        if (at + 1 == len) {
          s->pos = at; /* look at it again with the next byte */
          return 0;
        }
        if (buf[at + 1] != '\n') return -400;
      }
      s->pos = stop;
      if (stop == len) return 0;
      return s->lines == 0 ? -414 : -431;
    }
    size_t at = (size_t)(lf - buf);
    if (at == 0 || buf[at - 1] != '\r') return -400; /* a bare LF */
    size_t line_len = at - 1 - s->line_start;
    s->line_start = at + 1;
    s->pos = at + 1;
    if (line_len > 0) {
      s->lines++;
    } else if (s->lines > 0) {
      return (long)s->pos;
    }
  }
  return 0;
}

/* ---- field lines ---- */

/* Parses the field lines from p to end (the head's final CRLF excluded
 * from neither), then the framing fields. Returns 0 or a status. */
static int parse_fields(const char *p, const char *end, cc_h1_field *fields, size_t max_fields,
                        cc_h1_head *out, const char **why) {
  out->fields = fields;
  out->n_fields = 0;
  for (;;) {
    if (end - p < 2) {
      *why = "the head does not end with an empty line";
      return 400;
    }
    if (p[0] == '\r' && p[1] == '\n') return 0; /* the empty line */
    if (is_ws((unsigned char)p[0])) {
      *why = "obsolete line folding (a field line starting with whitespace)";
      return 400;
    }
    const char *name = p;
    while (p < end && cc_is_tchar((unsigned char)*p)) p++;
    if (p == name || p == end || *p != ':') {
      *why = p < end && is_ws((unsigned char)*p) ? "whitespace between a field name and its colon"
                                                 : "a field name that is not a token";
      return 400;
    }
    size_t name_len = (size_t)(p - name);
    p++;
    while (p < end && is_ws((unsigned char)*p)) p++;
    const char *value = p;
    while (p < end && is_field_byte((unsigned char)*p)) p++;
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
      *why = "a control character in a field value";
      return 400;
    }
    const char *vend = p;
    while (vend > value && is_ws((unsigned char)vend[-1])) vend--;
    p += 2;
    if (out->n_fields == max_fields) {
      *why = "too many header fields";
      return 431;
    }
    cc_h1_field *f = &fields[out->n_fields++];
    f->name = name;
    f->name_len = name_len;
    f->value = value;
    f->value_len = (size_t)(vend - value);
  }
}

/* Parses "1*DIGIT" into *out; 0 when it is not one or exceeds INT64_MAX. */
static int parse_length(const char *v, size_t n, uint64_t *out) {
  uint64_t x = 0;
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit((unsigned char)v[i])) return 0;
    unsigned d = (unsigned)(v[i] - '0');
    if (x > ((uint64_t)INT64_MAX - d) / 10) return 0;
    x = x * 10 + d;
  }
  *out = x;
  return 1;
}

/* Scans a comma-separated token list (Connection) for `token`. */
static int list_has(const char *v, size_t n, const char *token, size_t token_len) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (is_ws((unsigned char)v[i]) || v[i] == ',')) i++;
    size_t start = i;
    while (i < n && v[i] != ',' && !is_ws((unsigned char)v[i])) i++;
    if (i > start && eq_nocase(v + start, i - start, token, token_len)) return 1;
    while (i < n && v[i] != ',') i++;
  }
  return 0;
}
#define list_has_lit(v, n, lit) list_has((v), (n), "" lit, sizeof(lit) - 1)

typedef struct framing {
  size_t n_length, n_coding;
  const cc_h1_field *length, *coding;
  int close, keep_alive;
} framing;

static void scan_framing(const cc_h1_head *h, framing *f) {
  memset(f, 0, sizeof *f);
  for (size_t i = 0; i < h->n_fields; i++) {
    const cc_h1_field *e = &h->fields[i];
    if (eq_lit(e->name, e->name_len, "content-length")) {
      f->n_length++;
      f->length = e;
    } else if (eq_lit(e->name, e->name_len, "transfer-encoding")) {
      f->n_coding++;
      f->coding = e;
    } else if (eq_lit(e->name, e->name_len, "connection")) {
      if (list_has_lit(e->value, e->value_len, "close")) f->close = 1;
      if (list_has_lit(e->value, e->value_len, "keep-alive")) f->keep_alive = 1;
    }
  }
}

/* "HTTP/" DIGIT "." DIGIT at p (8 bytes). Returns the minor version, -1
 * for a malformed one, -2 for a major version other than 1. */
static int parse_version(const char *p, const char *end) {
  if (end - p < 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit((unsigned char)p[5]) ||
      p[6] != '.' || !is_digit((unsigned char)p[7]))
    return -1;
  if (p[5] != '1') return -2;
  return p[7] == '0' ? 0 : 1;
}

static const char *skip_empty_lines(const char *p, const char *end) {
  while (end - p >= 2 && p[0] == '\r' && p[1] == '\n') p += 2;
  return p;
}

int cc_h1_parse_response(const char *buf, size_t len, cc_h1_field *fields, size_t max_fields,
                         cc_h1_head *out, const char **why) {
  memset(out, 0, sizeof *out);
  const char *end = buf + len;
  const char *p = skip_empty_lines(buf, end);
  /* HTTP-version SP 3DIGIT [SP reason-phrase] CRLF */
  int minor = parse_version(p, end);
  if (minor < 0 || end - p < 12 || p[8] != ' ' || !is_digit((unsigned char)p[9]) ||
      !is_digit((unsigned char)p[10]) || !is_digit((unsigned char)p[11])) {
    *why = "malformed status line";
    return -1;
  }
  out->version_minor = minor;
  out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  p += 12;
  if (p < end && *p == ' ') {
    p++;
  } else if (p == end || *p != '\r') {
    *why = "malformed status line";
    return -1;
  }
  out->reason = p;
  while (p < end && is_field_byte((unsigned char)*p)) p++;
  out->reason_len = (size_t)(p - out->reason);
  if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
    *why = "malformed status line";
    return -1;
  }
  p += 2;
  if (parse_fields(p, end, fields, max_fields, out, why)) return -1;

  framing f;
  scan_framing(out, &f);
  if (f.n_length > 1 || f.n_coding > 1 || (f.n_length && f.n_coding)) {
    *why = "ambiguous HTTP response framing";
    return -1;
  }
  out->keep_alive = !f.close && (minor == 1 || f.keep_alive);
  if ((out->status >= 100 && out->status < 200) || out->status == 204 || out->status == 304) {
    out->body = CC_H1_BODY_NONE;
  } else if (f.n_coding) {
    if (!eq_lit(f.coding->value, f.coding->value_len, "chunked")) {
      *why = "unsupported transfer coding in the response";
      return -1;
    }
    out->body = CC_H1_BODY_CHUNKED;
  } else if (f.n_length) {
    if (!parse_length(f.length->value, f.length->value_len, &out->content_length)) {
      *why = "invalid Content-Length in the response";
      return -1;
    }
    out->body = out->content_length ? CC_H1_BODY_LENGTH : CC_H1_BODY_NONE;
  } else {
    out->body = CC_H1_BODY_UNTIL_CLOSE;
    out->keep_alive = 0;
  }
  return 0;
}
