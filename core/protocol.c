/* HTTP-level pieces of the Connect protocol: content types, timeouts,
 * compression negotiation, reserved headers and the Connect GET query. */
#include "protocol.h"

#include <string.h>

#include "base64.h"

static int is_space(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **s, size_t *len) {
  while (*len && is_space(**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len && is_space((*s)[*len - 1])) (*len)--;
}

/* ---- content types ---- */

/* Accepts exactly one parameter, charset=utf-8 (quotes allowed), as the
 * only parameter Connect gives meaning to (application/json). */
static int params_ok(const char *p, size_t len, int is_json) {
  trim(&p, &len);
  if (len == 0) return 1;
  if (!is_json) return 0;
  const char *eq = memchr(p, '=', len);
  if (!eq) return 0;
  const char *name = p;
  size_t nlen = (size_t)(eq - p);
  const char *val = eq + 1;
  size_t vlen = len - nlen - 1;
  trim(&name, &nlen);
  trim(&val, &vlen);
  if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
    val++;
    vlen -= 2;
  }
  return cc_ascii_eq_nocase(name, nlen, "charset", 7) && cc_ascii_eq_nocase(val, vlen, "utf-8", 5);
}

int cc_content_type_parse(const char *value, size_t len, cc_content_type *out) {
  if (!value || !out) return CONNECTC_ERR_PROTOCOL;
  const char *semi = memchr(value, ';', len);
  size_t mlen = semi ? (size_t)(semi - value) : len;
  const char *m = value;
  trim(&m, &mlen);
  if (mlen < 12 || cc_ascii_casecmp_n(m, "application/", 12) != 0) return CONNECTC_ERR_PROTOCOL;
  const char *sub = m + 12;
  size_t slen = mlen - 12;
  int streaming = 0, bare = 0;
  connectc_protocol protocol = CONNECTC_PROTOCOL_CONNECT;
  size_t plen = 0;
  if (slen >= 8 && cc_ascii_casecmp_n(sub, "grpc-web", 8) == 0 && (slen == 8 || sub[8] == '+')) {
    protocol = CONNECTC_PROTOCOL_GRPC_WEB;
    plen = 8;
  } else if (slen >= 4 && cc_ascii_casecmp_n(sub, "grpc", 4) == 0 && (slen == 4 || sub[4] == '+')) {
    protocol = CONNECTC_PROTOCOL_GRPC;
    plen = 4;
  }
  if (protocol != CONNECTC_PROTOCOL_CONNECT) {
    streaming = 1;
    if (slen == plen) {
      bare = 1;
      sub = "proto";
      slen = 5;
    } else {
      sub += plen + 1;
      slen -= plen + 1;
    }
  } else if (slen >= 8 && cc_ascii_casecmp_n(sub, "connect+", 8) == 0) {
    streaming = 1;
    sub += 8;
    slen -= 8;
  }
  if (slen == 0) return CONNECTC_ERR_PROTOCOL;
  for (size_t i = 0; i < slen; i++)
    if (!cc_is_tchar((unsigned char)sub[i]) || sub[i] == '+') return CONNECTC_ERR_PROTOCOL;
  if (semi) {
    const char *p = semi + 1;
    size_t rest = len - (size_t)(p - value);
    if (!params_ok(p, rest, cc_ascii_eq_nocase(sub, slen, "json", 4))) return CONNECTC_ERR_PROTOCOL;
  }
  out->protocol = protocol;
  out->streaming = streaming;
  out->bare = bare;
  out->codec = sub;
  out->codec_len = slen;
  return CONNECTC_OK;
}

int cc_content_type_format(cc_buf *out, const connectc_allocator *alloc,
                           connectc_protocol protocol, int streaming, int bare,
                           const char *codec) {
  const char *prefix;
  switch (protocol) {
    case CONNECTC_PROTOCOL_GRPC: prefix = "application/grpc"; break;
    case CONNECTC_PROTOCOL_GRPC_WEB: prefix = "application/grpc-web"; break;
    default: prefix = streaming ? "application/connect+" : "application/"; break;
  }
  int rv = cc_buf_append_str(out, alloc, prefix);
  if (protocol == CONNECTC_PROTOCOL_CONNECT) {
    if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, alloc, codec);
    return rv;
  }
  if (bare && strcmp(codec, "proto") == 0) return rv;
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, alloc, '+');
  if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, alloc, codec);
  return rv;
}

/* ---- Connect-Timeout-Ms ---- */

int cc_timeout_parse(const char *value, size_t len, int64_t *ms_out) {
  if (!value || len == 0 || len > 10) return CONNECTC_ERR_PROTOCOL;
  int64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (value[i] < '0' || value[i] > '9') return CONNECTC_ERR_PROTOCOL;
    v = v * 10 + (value[i] - '0');
  }
  *ms_out = v;
  return CONNECTC_OK;
}

size_t cc_timeout_format(int64_t ms, char buf[11]) {
  if (ms < 0) ms = 0;
  if (ms > 9999999999LL) ms = 9999999999LL;
  char tmp[11];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + ms % 10);
    ms /= 10;
  } while (ms);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = 0;
  return n;
}

/* ---- compression negotiation ---- */

void cc_accept_encoding_parse(const char *value, size_t len, unsigned *mask) {
  size_t i = 0;
  while (value && i < len) {
    size_t start = i;
    while (i < len && value[i] != ',') i++;
    const char *item = value + start;
    size_t ilen = i - start;
    const char *semi = memchr(item, ';', ilen);
    if (semi) ilen = (size_t)(semi - item);
    trim(&item, &ilen);
    connectc_compression c;
    if (ilen && connectc_compression_from_name(item, ilen, &c)) *mask |= 1u << c;
    i++; /* skip the comma */
  }
}

connectc_compression cc_negotiate_compression(unsigned peer_accept_mask,
                                              connectc_compression preferred) {
  if (preferred != CONNECTC_COMPRESSION_IDENTITY && (peer_accept_mask & (1u << preferred)) &&
      connectc_compression_supported(preferred))
    return preferred;
  return CONNECTC_COMPRESSION_IDENTITY;
}

/* ---- headers ---- */

/* Names the protocol or HTTP/1.1 framing owns. An application setting
 * them would corrupt the call, so the library refuses or drops them. */
static const char *const reserved[] = {
    "accept-encoding", "connect-accept-encoding", "connect-content-encoding",
    "connect-protocol-version", "connect-timeout-ms", "connection", "content-encoding",
    "content-length", "content-type", "grpc-accept-encoding", "grpc-encoding", "grpc-message",
    "grpc-status", "grpc-status-details-bin", "grpc-timeout", "host", "keep-alive",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", NULL};

int cc_header_is_reserved(const char *name, size_t len) {
  for (size_t i = 0; reserved[i]; i++)
    if (cc_ascii_eq_nocase(name, len, reserved[i], strlen(reserved[i]))) return 1;
  /* Unary trailers travel as "trailer-<name>" headers: an application
   * header with that prefix would be read back as a trailer. */
  if (len > 8 && cc_ascii_casecmp_n(name, "trailer-", 8) == 0) return 1;
  return 0;
}

int cc_header_is_binary(const char *name, size_t len) {
  return len >= 4 && cc_ascii_casecmp_n(name + len - 4, "-bin", 4) == 0;
}

/* ---- Connect GET ---- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Appends the percent-decoded form of s[0..len) and a NUL. */
static int unescape_into(cc_buf *b, const connectc_allocator *a, const char *s, size_t len) {
  int rv = cc_buf_reserve(b, a, len + 1);
  if (rv) return rv;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= len) return CONNECTC_ERR_PROTOCOL;
      int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
      if (h < 0 || l < 0) return CONNECTC_ERR_PROTOCOL;
      c = (char)(h * 16 + l);
      i += 2;
    }
    b->data[b->len++] = (uint8_t)c;
  }
  b->data[b->len++] = 0;
  return CONNECTC_OK;
}

enum { P_CONNECT, P_ENCODING, P_MESSAGE, P_BASE64, P_COMPRESSION, P_COUNT };
static const char *const pnames[P_COUNT] = {"connect", "encoding", "message", "base64",
                                            "compression"};

int cc_get_query_parse(const char *query, size_t len, cc_buf *scratch,
                       const connectc_allocator *alloc, cc_get_query *out,
                       connectc_error *err) {
  memset(out, 0, sizeof *out);
  cc_buf_clear(scratch);
  /* Offsets into scratch (pointers are fixed up once it stops growing). */
  size_t off[P_COUNT], vlen[P_COUNT];
  int seen[P_COUNT] = {0};
  /* Reserve the worst case up front: decoding never lengthens. */
  int rv = cc_buf_reserve(scratch, alloc, len + 2 * P_COUNT + 1);
  if (rv) return rv;
  size_t i = 0;
  while (i < len) {
    size_t start = i;
    while (i < len && query[i] != '&') i++;
    const char *item = query + start;
    size_t ilen = i - start;
    i++;
    if (ilen == 0) continue;
    const char *eq = memchr(item, '=', ilen);
    size_t klen = eq ? (size_t)(eq - item) : ilen;
    /* Decode the key into scratch temporarily to compare it. */
    size_t mark = scratch->len;
    if (unescape_into(scratch, alloc, item, klen) != CONNECTC_OK) {
      if (err) connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                                  "invalid percent-encoding in Connect GET query");
      return CONNECTC_ERR_PROTOCOL;
    }
    const char *key = (const char *)scratch->data + mark;
    int which = -1;
    for (int p = 0; p < P_COUNT; p++)
      if (strcmp(key, pnames[p]) == 0) which = p;
    scratch->len = mark;
    if (which < 0) continue; /* unknown parameters are ignored */
    if (seen[which]) {
      if (err) connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                                  "duplicate %s parameter in Connect GET query", pnames[which]);
      return CONNECTC_ERR_PROTOCOL;
    }
    seen[which] = 1;
    const char *v = eq ? eq + 1 : "";
    size_t vl = eq ? ilen - klen - 1 : 0;
    off[which] = scratch->len;
    if (unescape_into(scratch, alloc, v, vl) != CONNECTC_OK) {
      if (err) connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                                  "invalid percent-encoding in Connect GET query");
      return CONNECTC_ERR_PROTOCOL;
    }
    vlen[which] = scratch->len - off[which] - 1;
  }
  if (!seen[P_ENCODING]) {
    if (err) connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT, "missing encoding parameter");
    return CONNECTC_ERR_PROTOCOL;
  }
  if (!seen[P_MESSAGE]) {
    if (err) connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT, "missing message parameter");
    return CONNECTC_ERR_PROTOCOL;
  }
  const char *base = (const char *)scratch->data;
  out->connect = seen[P_CONNECT] ? base + off[P_CONNECT] : NULL;
  out->encoding = base + off[P_ENCODING];
  out->compression = seen[P_COMPRESSION] ? base + off[P_COMPRESSION] : NULL;
  out->base64 = seen[P_BASE64] && strcmp(base + off[P_BASE64], "1") == 0;
  uint8_t *msg = scratch->data + off[P_MESSAGE];
  size_t mlen = vlen[P_MESSAGE];
  if (out->base64) {
    /* Decoded over its own text in the scratch: it is shorter. */
    if (cc_b64_decode_in_place(msg, mlen, CC_B64_ACCEPT_URL | CC_B64_ACCEPT_STD, &mlen) !=
        CONNECTC_OK) {
      if (err) connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                                  "invalid base64 in the message parameter of a Connect GET query");
      return CONNECTC_ERR_PROTOCOL;
    }
  }
  out->message = msg;
  out->message_len = mlen;
  return CONNECTC_OK;
}

/* Appends s[0..len) escaped as Go's url.QueryEscape does: unreserved
 * characters stay, space becomes '+', everything else %XX. */
static int query_escape(cc_buf *out, const connectc_allocator *a, const uint8_t *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  if (len > SIZE_MAX / 3) return CONNECTC_ERR_NOMEM;
  int rv = cc_buf_reserve(out, a, len * 3);
  if (rv) return rv;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out->data[out->len++] = c;
    } else if (c == ' ') {
      out->data[out->len++] = '+';
    } else {
      out->data[out->len++] = '%';
      out->data[out->len++] = (uint8_t)hex[c >> 4];
      out->data[out->len++] = (uint8_t)hex[c & 15];
    }
  }
  return CONNECTC_OK;
}

int cc_get_query_format(cc_buf *out, const connectc_allocator *alloc, const char *encoding,
                        connectc_compression compression, const uint8_t *message,
                        size_t message_len) {
  /* Keys in sorted order, as url.Values.Encode writes them. */
  int compressed = compression != CONNECTC_COMPRESSION_IDENTITY;
  int binary = compressed || strcmp(encoding, "json") != 0;
  int rv = CONNECTC_OK;
  if (binary) rv = cc_buf_append_str(out, alloc, "base64=1&");
  if (rv == CONNECTC_OK && compressed) {
    rv = cc_buf_append_str(out, alloc, "compression=");
    if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, alloc, connectc_compression_name(compression));
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, alloc, '&');
  }
  if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, alloc, "connect=v1&encoding=");
  if (rv == CONNECTC_OK)
    rv = query_escape(out, alloc, (const uint8_t *)encoding, strlen(encoding));
  if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, alloc, "&message=");
  if (rv) return rv;
  if (binary) return cc_b64_encode(out, alloc, message, message_len, CC_B64_URL, 0);
  return query_escape(out, alloc, message, message_len);
}
