/*
 * HTTP semantics shared by every server adapter (see connectc/http.h):
 * pure, allocation-free checks over bytes with explicit lengths, and the
 * answers they lead to.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "connectc/http.h"

/* ---- messages ---- */

/* Renders at most 40 bytes of wire data as printable ASCII: visible bytes
 * as themselves (quote and backslash escaped), the rest as \xNN, and "..."
 * when cut short. */
static void seen(char *out, size_t cap, const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0, i = 0;
  for (; i < n && i < 40 && o + 5 < cap; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c >= 0x20 && c < 0x7f) {
      out[o++] = (char)c;
    } else {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  if (i < n && o + 4 <= cap) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = 0;
}

static int refuse(connectc_http_refusal *why, int rv, int status, connectc_code code,
                  const char *fmt, ...) CONNECTC_PRINTF(5, 6);
static int refuse(connectc_http_refusal *why, int rv, int status, connectc_code code,
                  const char *fmt, ...) {
  if (!why) return rv;
  why->status = status;
  why->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why->message, sizeof why->message, fmt, ap);
  va_end(ap);
  return rv;
}

/* ---- fields ---- */

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int connectc_http_field_name_valid(const char *name, size_t len) {
  if (!name || len == 0) return 0;
  for (size_t i = 0; i < len; i++)
    if (!cc_is_tchar((unsigned char)name[i])) return 0;
  return 1;
}

/* Index of the first byte a field value may not hold, or len. */
static size_t bad_value_byte(const char *v, size_t len) { return cc_field_value_span(v, len); }

int connectc_http_field_value_valid(const char *value, size_t len) {
  if (!value) return len == 0;
  return bad_value_byte(value, len) == len;
}

/* ---- framing ---- */

#define MAX_BODY_LENGTH ((uint64_t)INT64_MAX)

int connectc_http_parse_content_length(const char *value, size_t len, uint64_t *out,
                                       connectc_http_refusal *why) {
  char s[176];
  uint64_t v = 0;
  int over = 0;
  size_t i = 0;
  for (; value && i < len && is_digit((unsigned char)value[i]); i++) {
    unsigned d = (unsigned)(value[i] - '0');
    if (v > (MAX_BODY_LENGTH - d) / 10) over = 1;
    else v = v * 10 + d;
  }
  if (len == 0 || !value || i != len) {
    seen(s, sizeof s, value ? value : "", value ? len : 0);
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "invalid Content-Length \"%s\": expected decimal digits only", s);
  }
  if (over) {
    seen(s, sizeof s, value, len);
    return refuse(why, CONNECTC_ERR_LIMIT, 413, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                  "Content-Length \"%s\" exceeds the largest body length accepted, %" PRIu64
                  " bytes",
                  s, MAX_BODY_LENGTH);
  }
  if (out) *out = v;
  return CONNECTC_OK;
}

int connectc_http_parse_chunk_size(const char *line, size_t len, uint64_t *out,
                                   connectc_http_refusal *why) {
  char s[176];
  uint64_t v = 0;
  int over = 0;
  size_t i = 0;
  for (; line && i < len && hex_value((unsigned char)line[i]) >= 0; i++) {
    unsigned d = (unsigned)hex_value((unsigned char)line[i]);
    if (v > (MAX_BODY_LENGTH - d) / 16) over = 1;
    else v = v * 16 + d;
  }
  size_t digits = i;
  /* Chunk extensions: BWS ";" ..., visible bytes, spaces and tabs only. */
  while (line && i < len && (line[i] == ' ' || line[i] == '\t')) i++;
  int ext_ok = line && (i == len || line[i] == ';');
  for (size_t k = i; ext_ok && k < len; k++) {
    unsigned char c = (unsigned char)line[k];
    if ((c < 0x20 && c != '\t') || c == 0x7f) ext_ok = 0;
  }
  if (digits == 0 || !ext_ok) {
    seen(s, sizeof s, line ? line : "", line ? len : 0);
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "invalid chunk size line \"%s\": expected hexadecimal digits", s);
  }
  if (over) {
    seen(s, sizeof s, line, digits);
    return refuse(why, CONNECTC_ERR_LIMIT, 413, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                  "chunk size 0x%s exceeds the largest chunk accepted, %" PRIu64 " bytes", s,
                  MAX_BODY_LENGTH);
  }
  if (out) *out = v;
  return CONNECTC_OK;
}

/* ---- request target and Host ---- */

static int is_unreserved_or_sub(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
         (c && strchr("-._~!$&'()*+,;=", c));
}

/* Checks host[:port]: 1 if valid. */
static int authority_valid(const char *p, size_t len) {
  size_t i = 0;
  if (len && p[0] == '[') {
    for (i = 1; i < len && p[i] != ']'; i++) {
      unsigned char c = (unsigned char)p[i];
      if (!(hex_value(c) >= 0 || c == ':' || c == '.' || c == 'v' || c == 'V')) return 0;
    }
    if (i == len || i == 1) return 0;
    i++; /* ']' */
  } else {
    for (; i < len && p[i] != ':'; i++) {
      unsigned char c = (unsigned char)p[i];
      if (c == '%') {
        if (i + 2 >= len || hex_value((unsigned char)p[i + 1]) < 0 ||
            hex_value((unsigned char)p[i + 2]) < 0)
          return 0;
        i += 2;
      } else if (!is_unreserved_or_sub(c)) {
        return 0;
      }
    }
  }
  if (i == len) return 1;
  if (p[i] != ':') return 0;
  size_t digits = 0;
  for (i++; i < len; i++, digits++)
    if (!is_digit((unsigned char)p[i]) || digits >= 5) return 0;
  return 1;
}

/* 1 if every '%' in p[0..len) starts a valid escape. */
static int escapes_valid(const char *p, size_t len, size_t *bad_at) {
  const char *end = p + len, *q = p;
  while ((q = memchr(q, '%', (size_t)(end - q))) != NULL) {
    size_t i = (size_t)(q - p);
    if (i + 2 >= len || hex_value((unsigned char)p[i + 1]) < 0 ||
        hex_value((unsigned char)p[i + 2]) < 0) {
      *bad_at = i;
      return 0;
    }
    q += 3;
  }
  return 1;
}

int connectc_http_parse_target(const char *t, size_t len, connectc_http_target *out,
                               connectc_http_refusal *why) {
  char s[176];
  connectc_http_target r;
  memset(&r, 0, sizeof r);
  if (!t || len == 0)
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "the request target is empty");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c > 0x20 && c < 0x7f && c != '#') continue;
    if (c <= 0x20 || c >= 0x7f) {
      seen(s, sizeof s, t, len);
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "the request target \"%s\" holds byte 0x%02x at offset %zu: only visible "
                    "ASCII is allowed",
                    s, (unsigned)c, i);
    }
    if (c == '#') {
      seen(s, sizeof s, t, len);
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "the request target \"%s\" holds a fragment ('#')", s);
    }
  }
  size_t p = 0;
  if (t[0] != '/') {
    size_t scheme = 0;
    if (len >= 7 && cc_ascii_casecmp_n(t, "http://", 7) == 0) scheme = 7;
    else if (len >= 8 && cc_ascii_casecmp_n(t, "https://", 8) == 0) scheme = 8;
    if (!scheme) {
      seen(s, sizeof s, t, len);
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "the request target \"%s\" is neither a path (origin form) nor an http or "
                    "https URI (absolute form)",
                    s);
    }
    size_t a = scheme, e = scheme;
    while (e < len && t[e] != '/' && t[e] != '?') e++;
    if (e == a || !authority_valid(t + a, e - a)) {
      seen(s, sizeof s, t, len);
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "the request target \"%s\" has no valid host[:port] after its scheme", s);
    }
    r.authority = t + a;
    r.authority_len = e - a;
    p = e;
  }
  const char *qm = memchr(t + p, '?', len - p);
  size_t q = qm ? (size_t)(qm - t) : len;
  if (q == p) {
    r.path = "/"; /* absolute form with an empty path */
    r.path_len = 1;
  } else {
    r.path = t + p;
    r.path_len = q - p;
  }
  if (q < len) {
    r.query = t + q + 1;
    r.query_len = len - q - 1;
  }
  size_t bad = 0;
  if (!escapes_valid(t + p, len - p, &bad)) {
    seen(s, sizeof s, t + p + bad, len - p - bad);
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "the request target holds a bad percent-escape at \"%s\"", s);
  }
  if (out) *out = r;
  return CONNECTC_OK;
}

int connectc_http_decode_path(const char *path, size_t len, char *out, size_t *out_len,
                              connectc_http_refusal *why) {
  char s[176];
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = path[i];
    if (c == '%') {
      int hi = i + 1 < len ? hex_value((unsigned char)path[i + 1]) : -1;
      int lo = i + 2 < len ? hex_value((unsigned char)path[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        seen(s, sizeof s, path + i, len - i);
        return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                      "the path holds a bad percent-escape at \"%s\"", s);
      }
      c = (char)(hi * 16 + lo);
      if (c == 0) {
        seen(s, sizeof s, path, len);
        return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                      "the path \"%s\" holds an escaped NUL (%%00) at offset %zu", s, i);
      }
      i += 2;
    } else if (c == 0) {
      seen(s, sizeof s, path, len);
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "the path \"%s\" holds a NUL byte at offset %zu", s, i);
    }
    out[o++] = c;
  }
  if (out_len) *out_len = o;
  return CONNECTC_OK;
}

int connectc_http_check_host(int minor, size_t n_host, const char *value, size_t len,
                             connectc_http_refusal *why) {
  char s[176];
  if (minor >= 1 && n_host == 0)
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "an HTTP/1.1 request must carry a Host field (RFC 9112 3.2)");
  if (n_host > 1)
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "the request carries %zu Host fields: at most one is allowed (RFC 9112 3.2)",
                  n_host);
  if (n_host == 1 && len > 0 && (!value || !authority_valid(value, len))) {
    seen(s, sizeof s, value ? value : "", value ? len : 0);
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "invalid Host \"%s\": expected host[:port]", s);
  }
  return CONNECTC_OK;
}

/* ---- HTTP/1.x request heads ---- */

/* Finds the next line in buf[pos..len): *end is the index of its LF (the
 * line's content ends before an optional CR). Returns 0 if there is none
 * yet. */
static int next_line(const char *buf, size_t len, size_t pos, size_t *lf) {
  const void *p = memchr(buf + pos, '\n', len - pos);
  if (!p) return 0;
  *lf = (size_t)((const char *)p - buf);
  return 1;
}

/* 1 if buf[pos..len) holds a CR followed by something other than LF. */
static int has_bare_cr(const char *buf, size_t pos, size_t len) {
  for (const char *p = memchr(buf + pos, '\r', len - pos); p;
       p = memchr(p + 1, '\r', len - (size_t)(p + 1 - buf)))
    if ((size_t)(p + 1 - buf) < len && p[1] != '\n') return 1;
  return 0;
}

/* The content length of the line [pos, lf): without a trailing CR. */
static size_t line_len(const char *buf, size_t pos, size_t lf) {
  size_t n = lf - pos;
  if (n && buf[lf - 1] == '\r') n--;
  return n;
}

/* Case-insensitive comparison with a string literal (its length known
 * at compile time). */
#define eq_lit(a, alen, lit) cc_ascii_eq_nocase((a), (alen), "" lit, sizeof(lit) - 1)

/* 1 if the comma-separated list holds `token` (case-insensitive). */
static int list_has(const char *v, size_t len, const char *token, size_t token_len) {
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t s = i;
    while (i < len && v[i] != ',') i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e > s && cc_ascii_eq_nocase(v + s, e - s, token, token_len)) return 1;
  }
  return 0;
}
#define list_has_lit(v, len, lit) list_has((v), (len), "" lit, sizeof(lit) - 1)

static size_t count_byte(const char *p, size_t len, char c) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += p[i] == c;
  return n;
}

#define MAX_LEADING_EMPTY_LINES 8

/* Both public checks: `fields` (room for the limit's field lines) and
 * `keep_alive` may be NULL. */
static int check_head(const char *buf, size_t len, const connectc_http1_limits *lim,
                      connectc_http1_head *out, connectc_http1_field *fields, int *keep_alive,
                      connectc_http_refusal *why) {
  char s[176];
  size_t max_head = lim && lim->max_head_bytes ? lim->max_head_bytes
                                               : CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES;
  size_t max_fields = lim && lim->max_fields ? lim->max_fields : CONNECTC_HTTP1_DEFAULT_MAX_FIELDS;
  connectc_http1_head h;
  memset(&h, 0, sizeof h);
  if (!buf) len = 0;
  size_t pos = 0, lf = 0;

  /* Empty lines before the request line. */
  for (int empty = 0;; empty++) {
    if (pos >= len) return 0;
    if (buf[pos] == '\n') {
      pos++;
    } else if (buf[pos] == '\r') {
      if (pos + 1 >= len) return 0;
      if (buf[pos + 1] != '\n')
        return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                      "a bare CR before the request line");
      pos += 2;
    } else {
      break;
    }
    if (empty >= MAX_LEADING_EMPTY_LINES)
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "more than %d empty lines before the request line",
                    MAX_LEADING_EMPTY_LINES);
  }

  /* Request line. */
  size_t start = pos;
  if (!next_line(buf, len, pos, &lf)) {
    if (has_bare_cr(buf, pos, len))
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "a bare CR in the request line");
    if (len - start > max_head)
      return refuse(why, CONNECTC_ERR_LIMIT, 414, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                    "the request line exceeds the request head limit of %zu bytes without "
                    "ending",
                    max_head);
    return 0;
  }
  size_t n = line_len(buf, pos, lf);
  const char *line = buf + pos;
  if (lf + 1 - start > max_head)
    return refuse(why, CONNECTC_ERR_LIMIT, 414, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                  "the request line of %zu bytes exceeds the request head limit of %zu bytes",
                  lf + 1 - start, max_head);
  if (memchr(line, '\r', n))
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "a bare CR in the request line");
  size_t i = 0;
  while (i < n && cc_is_tchar((unsigned char)line[i])) i++;
  size_t method_len = i;
  const char *sp1 = memchr(line, ' ', n);
  const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line)) : NULL;
  if (method_len == 0 || !sp1 || (size_t)(sp1 - line) != method_len || !sp2 || sp2 == sp1 + 1 ||
      memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - line))) {
    seen(s, sizeof s, line, n);
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "malformed request line \"%s\": expected METHOD SP target SP HTTP/1.x", s);
  }
  h.method = line;
  h.method_len = method_len;
  h.target = sp1 + 1;
  h.target_len = (size_t)(sp2 - sp1 - 1);
  const char *ver = sp2 + 1;
  size_t ver_len = n - (size_t)(ver - line);
  if (ver_len == 8 && memcmp(ver, "HTTP/1.", 7) == 0 && (ver[7] == '0' || ver[7] == '1')) {
    h.minor = ver[7] - '0';
  } else if (ver_len == 8 && memcmp(ver, "HTTP/", 5) == 0 && is_digit((unsigned char)ver[5]) &&
             ver[6] == '.' && is_digit((unsigned char)ver[7])) {
    seen(s, sizeof s, ver, ver_len);
    return refuse(why, CONNECTC_ERR_UNSUPPORTED, 505, CONNECTC_CODE_UNIMPLEMENTED,
                  "HTTP version \"%s\" is not supported: this server speaks HTTP/1.0 and 1.1",
                  s);
  } else {
    seen(s, sizeof s, ver, ver_len);
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "malformed HTTP version \"%s\" in the request line", s);
  }
  connectc_http_target tgt;
  int rv = connectc_http_parse_target(h.target, h.target_len, &tgt, why);
  if (rv) return rv;
  if (tgt.query) h.n_params = 1 + count_byte(tgt.query, tgt.query_len, '&');
  if (h.n_params > max_fields)
    return refuse(why, CONNECTC_ERR_LIMIT, 414, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                  "the request target has %zu query parameters, more than the limit of %zu",
                  h.n_params, max_fields);
  pos = lf + 1;

  /* Field lines. */
  size_t n_cl = 0, n_te = 0, n_host = 0;
  int conn_keep_alive = 0;
  const char *host = NULL, *te = NULL;
  size_t host_len = 0, te_len = 0;
  for (;;) {
    if (!next_line(buf, len, pos, &lf)) {
      if (has_bare_cr(buf, pos, len))
        return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                      "a bare CR in a field line");
      if (len - start > max_head)
        return refuse(why, CONNECTC_ERR_LIMIT, 431, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                      "the request head exceeds the limit of %zu bytes without ending",
                      max_head);
      return 0;
    }
    if (lf + 1 - start > max_head)
      return refuse(why, CONNECTC_ERR_LIMIT, 431, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                    "the request head of at least %zu bytes exceeds the limit of %zu bytes",
                    lf + 1 - start, max_head);
    line = buf + pos;
    n = line_len(buf, pos, lf);
    pos = lf + 1;
    if (n == 0) break;
    if (line[0] == ' ' || line[0] == '\t')
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "a field line starts with whitespace (obsolete line folding, RFC 9112 5.2)");
    const char *colon = memchr(line, ':', n);
    size_t name_len = colon ? (size_t)(colon - line) : n;
    size_t bad_name = 0;
    while (bad_name < name_len && cc_is_tchar((unsigned char)line[bad_name])) bad_name++;
    if (!colon || name_len == 0 || bad_name != name_len) {
      seen(s, sizeof s, line, n);
      if (colon && bad_name < name_len && (line[bad_name] == ' ' || line[bad_name] == '\t'))
        return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                      "whitespace between a field name and its colon in \"%s\"", s);
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "malformed field line \"%s\": expected a token name and a colon", s);
    }
    const char *v = colon + 1;
    size_t vlen = n - name_len - 1;
    while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
    size_t bad = bad_value_byte(v, vlen);
    if (bad < vlen) {
      char nm[176];
      seen(nm, sizeof nm, line, name_len);
      seen(s, sizeof s, v, vlen);
      unsigned char c = (unsigned char)v[bad];
      return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                    "field %s holds %s (byte 0x%02x at offset %zu of \"%s\")", nm,
                    c == 0 ? "a NUL" : c == '\r' ? "a bare CR" : "a control byte", (unsigned)c,
                    bad, s);
    }
    /* `fields` holds max_fields entries; a line past them is refused by
     * the limit check below. */
    if (fields && h.n_fields < max_fields)
      fields[h.n_fields] =
          (connectc_http1_field){.name = line, .name_len = name_len, .value = v, .value_len = vlen};
    h.n_fields++;
    if (eq_lit(line, name_len, "content-length")) {
      n_cl++;
      if (n_cl == 1) {
        rv = connectc_http_parse_content_length(v, vlen, &h.content_length, why);
        if (rv) return rv;
        h.has_content_length = 1;
      }
    } else if (eq_lit(line, name_len, "transfer-encoding")) {
      n_te++;
      te = v;
      te_len = vlen;
    } else if (eq_lit(line, name_len, "host")) {
      if (n_host++ == 0) {
        host = v;
        host_len = vlen;
      }
    } else if (eq_lit(line, name_len, "expect")) {
      if (!eq_lit(v, vlen, "100-continue")) {
        seen(s, sizeof s, v, vlen);
        return refuse(why, CONNECTC_ERR_UNSUPPORTED, 417, CONNECTC_CODE_UNIMPLEMENTED,
                      "unknown expectation \"%s\": only 100-continue is supported", s);
      }
      h.expect_continue = 1;
    } else if (eq_lit(line, name_len, "connection")) {
      if (list_has_lit(v, vlen, "close")) h.connection_close = 1;
      if (list_has_lit(v, vlen, "keep-alive")) conn_keep_alive = 1;
    } else if (eq_lit(line, name_len, "cookie")) {
      h.n_cookies += 1 + count_byte(v, vlen, ';');
    }
    if (h.n_fields + h.n_params + h.n_cookies > max_fields)
      return refuse(why, CONNECTC_ERR_LIMIT, 431, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                    "the request head has more than %zu fields, query parameters and cookies "
                    "(%zu fields, %zu parameters, %zu cookies so far)",
                    max_fields, h.n_fields, h.n_params, h.n_cookies);
  }
  h.head_len = pos;

  /* Framing (RFC 9112 6.1-6.3). */
  if (n_cl > 1)
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "the request carries %zu Content-Length fields: the body length is ambiguous",
                  n_cl);
  if (n_te && n_cl)
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "the request carries both Content-Length and Transfer-Encoding: the body "
                  "length is ambiguous");
  if (n_te > 1)
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "the request carries %zu Transfer-Encoding fields", n_te);
  if (n_te && h.minor == 0)
    return refuse(why, CONNECTC_ERR_PROTOCOL, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                  "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)");
  if (n_te) {
    if (!eq_lit(te, te_len, "chunked")) {
      seen(s, sizeof s, te, te_len);
      return refuse(why, CONNECTC_ERR_UNSUPPORTED, 501, CONNECTC_CODE_UNIMPLEMENTED,
                    "unsupported Transfer-Encoding \"%s\": only chunked is", s);
    }
    h.chunked = 1;
  }
  rv = connectc_http_check_host(h.minor, n_host, host, host_len, why);
  if (rv) return rv;
  if (keep_alive) *keep_alive = !h.connection_close && (h.minor == 1 || conn_keep_alive);
  if (out) *out = h;
  return 1;
}

int connectc_http1_check_head(const char *buf, size_t len, const connectc_http1_limits *lim,
                              connectc_http1_head *out, connectc_http_refusal *why) {
  return check_head(buf, len, lim, out, NULL, NULL, why);
}

int connectc_http1_check_head_fields(const char *buf, size_t len,
                                     const connectc_http1_limits *lim, connectc_http1_head *out,
                                     connectc_http1_field *fields, size_t max_fields,
                                     int *keep_alive, connectc_http_refusal *why) {
  size_t limit = lim && lim->max_fields ? lim->max_fields : CONNECTC_HTTP1_DEFAULT_MAX_FIELDS;
  if (!fields || max_fields < limit) return CONNECTC_ERR_ARGUMENT;
  return check_head(buf, len, lim, out, fields, keep_alive, why);
}

/* ---- answers ---- */

const char *connectc_http_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

/* snprintf-like appending: counts everything, copies what fits. */
typedef struct out {
  char *buf;
  size_t cap, len;
} out;

static void put(out *o, const char *p, size_t n) {
  if (o->len < o->cap) {
    size_t room = o->cap - o->len;
    memcpy(o->buf + o->len, p, n < room ? n : room);
  }
  o->len += n;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void put_num(out *o, uint64_t v) {
  char d[24];
  char *p = d + sizeof d;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  put(o, p, (size_t)(d + sizeof d - p));
}

static void terminate(out *o) {
  if (o->cap == 0) return;
  o->buf[o->len < o->cap ? o->len : o->cap - 1] = 0;
}

static void put_status_line(out *o, int status) {
  if (status < 100 || status > 999) status = 500;
  puts_(o, "HTTP/1.1 ");
  put_num(o, (uint64_t)status);
  puts_(o, " ");
  puts_(o, connectc_http_reason(status));
  puts_(o, "\r\n");
}

size_t connectc_http_write_refusal_body(char *buf, size_t cap, const connectc_http_refusal *why) {
  out b = {buf, cap, 0};
  const char *code = connectc_code_name(why->code);
  puts_(&b, "{\"code\":\"");
  puts_(&b, code && why->code != CONNECTC_CODE_OK ? code : "unknown");
  puts_(&b, "\",\"message\":\"");
  for (size_t i = 0; i < sizeof why->message && why->message[i]; i++) {
    char c = why->message[i];
    if (c == '"' || c == '\\') put(&b, "\\", 1);
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) c = '?';
    put(&b, &c, 1);
  }
  puts_(&b, "\"}");
  terminate(&b);
  return b.len;
}

size_t connectc_http1_write_refusal(char *buf, size_t cap, const connectc_http_refusal *why) {
  char body[2 * sizeof why->message + 96];
  size_t blen = connectc_http_write_refusal_body(body, sizeof body, why);
  out o = {buf, cap, 0};
  put_status_line(&o, why->status);
  puts_(&o, "Content-Type: application/json\r\nContent-Length: ");
  put_num(&o, blen);
  puts_(&o, "\r\nConnection: close\r\n\r\n");
  put(&o, body, blen);
  terminate(&o);
  return o.len;
}

static void put_fields(out *o, const connectc_headers *h) {
  for (size_t i = 0; h && i < h->len; i++) {
    const connectc_header *e = &h->items[i];
    put(o, e->name, e->name_len);
    put(o, ": ", 2);
    put(o, e->value, e->value_len);
    put(o, "\r\n", 2);
  }
}

size_t connectc_http1_write_response_head(char *buf, size_t cap, int status,
                                          const connectc_headers *headers,
                                          int64_t content_length, unsigned flags) {
  out o = {buf, cap, 0};
  put_status_line(&o, status);
  put_fields(&o, headers);
  if (content_length >= 0) {
    puts_(&o, "Content-Length: ");
    put_num(&o, (uint64_t)content_length);
    put(&o, "\r\n", 2);
  } else if (flags & CONNECTC_HTTP1_CHUNKED) {
    puts_(&o, "Transfer-Encoding: chunked\r\n");
  }
  if (flags & CONNECTC_HTTP1_CLOSE) puts_(&o, "Connection: close\r\n");
  put(&o, "\r\n", 2);
  terminate(&o);
  return o.len;
}

size_t connectc_http1_write_chunked_end(char *buf, size_t cap, const connectc_headers *trailers) {
  out o = {buf, cap, 0};
  put(&o, "0\r\n", 3);
  put_fields(&o, trailers);
  put(&o, "\r\n", 2);
  terminate(&o);
  return o.len;
}
