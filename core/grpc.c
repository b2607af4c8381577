/* gRPC and gRPC-Web wire pieces: timeouts, grpc-message escaping,
 * google.rpc.Status, status trailers, the gRPC-Web trailer block. */
#include "grpc.h"

#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "json.h"

/* ---- grpc-timeout ---- */

int cc_grpc_timeout_parse(const char *value, size_t len, int64_t *ms_out) {
  if (!value || len < 2 || len > 9) return CONNECTC_ERR_PROTOCOL;
  int64_t v = 0;
  for (size_t i = 0; i + 1 < len; i++) {
    if (value[i] < '0' || value[i] > '9') return CONNECTC_ERR_PROTOCOL;
    v = v * 10 + (value[i] - '0');
  }
  switch (value[len - 1]) {
    case 'H': v *= 3600000; break; /* 8 digits of hours fit in int64 ms */
    case 'M': v *= 60000; break;
    case 'S': v *= 1000; break;
    case 'm': break;
    case 'u': v /= 1000; break;
    case 'n': v /= 1000000; break;
    default: return CONNECTC_ERR_PROTOCOL;
  }
  *ms_out = v;
  return CONNECTC_OK;
}

size_t cc_grpc_timeout_format(int64_t ms, char buf[CC_GRPC_TIMEOUT_MAX]) {
  static const struct {
    int64_t ms;
    char unit;
  } units[] = {{1, 'm'}, {1000, 'S'}, {60000, 'M'}, {3600000, 'H'}};
  if (ms < 0) ms = 0;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    int64_t v = ms / units[i].ms;
    if (v <= 99999999 || i + 1 == sizeof units / sizeof units[0]) {
      if (v > 99999999) v = 99999999;
      int n = snprintf(buf, CC_GRPC_TIMEOUT_MAX, "%lld%c", (long long)v, units[i].unit);
      return (size_t)n;
    }
  }
  return 0; /* unreachable */
}

/* ---- grpc-message ---- */

int cc_grpc_percent_encode(cc_buf *out, const connectc_allocator *a, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  int rv = cc_buf_reserve(out, a, len);
  for (size_t i = 0; rv == CONNECTC_OK && i < len; i++) {
    uint8_t c = (uint8_t)s[i];
    if (c < 0x20 || c > 0x7E || c == '%') {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      rv = cc_buf_append(out, a, e, 3);
    } else {
      rv = cc_buf_append_byte(out, a, c);
    }
  }
  return rv;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int cc_grpc_percent_decode(cc_buf *out, const connectc_allocator *a, const char *s, size_t len) {
  int rv = cc_buf_reserve(out, a, len + 1);
  if (rv) return rv;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = (uint8_t)s[i];
    if (c == '%') {
      if (len - i < 3) return CONNECTC_ERR_PROTOCOL;
      int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
      if (h < 0 || l < 0) return CONNECTC_ERR_PROTOCOL;
      c = (uint8_t)(h << 4 | l);
      i += 2;
    }
    out->data[out->len++] = c;
  }
  out->data[out->len] = 0;
  return CONNECTC_OK;
}

/* ---- google.rpc.Status ---- */

static int put_varint(cc_buf *b, const connectc_allocator *a, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    uint8_t byte = (uint8_t)(v & 0x7f);
    v >>= 7;
    tmp[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
  } while (v);
  return cc_buf_append(b, a, tmp, n);
}

static int put_bytes(cc_buf *b, const connectc_allocator *a, uint8_t tag, const void *p,
                     size_t len) {
  int rv = cc_buf_append_byte(b, a, tag);
  if (rv == CONNECTC_OK) rv = put_varint(b, a, len);
  if (rv == CONNECTC_OK && len) rv = cc_buf_append(b, a, p, len);
  return rv;
}

#define TYPE_URL_PREFIX "type.googleapis.com/"

int cc_grpc_status_encode(cc_buf *out, const connectc_allocator *a, const connectc_error *e) {
  int rv = CONNECTC_OK;
  if (e->code != CONNECTC_CODE_OK) {
    rv = cc_buf_append_byte(out, a, 0x08); /* field 1, varint */
    if (rv == CONNECTC_OK) rv = put_varint(out, a, (uint64_t)e->code);
  }
  if (rv == CONNECTC_OK && e->message && e->message[0])
    rv = put_bytes(out, a, 0x12, e->message, strlen(e->message));
  cc_buf any = CC_BUF_INIT;
  for (size_t i = 0; rv == CONNECTC_OK && i < e->n_details; i++) {
    const connectc_error_detail *d = &e->details[i];
    cc_buf_clear(&any);
    size_t tlen = strlen(d->type);
    rv = cc_buf_append_byte(&any, a, 0x0a); /* Any.type_url */
    if (rv == CONNECTC_OK) rv = put_varint(&any, a, sizeof TYPE_URL_PREFIX - 1 + tlen);
    if (rv == CONNECTC_OK) rv = cc_buf_append(&any, a, TYPE_URL_PREFIX, sizeof TYPE_URL_PREFIX - 1);
    if (rv == CONNECTC_OK) rv = cc_buf_append(&any, a, d->type, tlen);
    if (rv == CONNECTC_OK && d->value_len) rv = put_bytes(&any, a, 0x12, d->value, d->value_len);
    if (rv == CONNECTC_OK) rv = put_bytes(out, a, 0x1a, any.data, any.len); /* field 3 */
  }
  cc_buf_free(&any, a);
  return rv;
}

/* A protobuf wire reader over [p, end): no allocation, no recursion. */
typedef struct wire {
  const uint8_t *p, *end;
} wire;

static int get_varint(wire *w, uint64_t *v) {
  uint64_t r = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (w->p >= w->end) return 0;
    uint8_t b = *w->p++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 1;
    }
  }
  return 0; /* more than 10 bytes */
}

/* Reads one field: its number, wire type and (for length-delimited ones)
 * the bytes; skips fixed-size values. Returns 0 when malformed. */
static int get_field(wire *w, uint32_t *num, unsigned *wt, const uint8_t **data, size_t *len) {
  uint64_t key;
  if (!get_varint(w, &key) || key >> 3 == 0 || key >> 3 > 0x1fffffff) return 0;
  *num = (uint32_t)(key >> 3);
  *wt = (unsigned)(key & 7);
  *data = NULL;
  *len = 0;
  uint64_t v;
  switch (*wt) {
    case 0: return get_varint(w, &v) ? (*len = (size_t)(v & 0xffffffffu), 1) : 0;
    case 1:
      if (w->end - w->p < 8) return 0;
      w->p += 8;
      return 1;
    case 2:
      if (!get_varint(w, &v) || v > (uint64_t)(w->end - w->p)) return 0;
      *data = w->p;
      *len = (size_t)v;
      w->p += v;
      return 1;
    case 5:
      if (w->end - w->p < 4) return 0;
      w->p += 4;
      return 1;
    default: return 0; /* groups are not used by google.rpc.Status */
  }
}

int cc_grpc_status_decode(const uint8_t *p, size_t len, connectc_error *out) {
  if (!p) p = (const uint8_t *)""; /* an empty Status may come as NULL */
  wire w = {p, p + len};
  uint64_t code = 0;
  const uint8_t *msg = NULL;
  size_t msg_len = 0;
  /* First pass: validate everything and find code and message. */
  while (w.p < w.end) {
    uint32_t num;
    unsigned wt;
    const uint8_t *d;
    size_t dl;
    if (!get_field(&w, &num, &wt, &d, &dl)) return CONNECTC_ERR_PROTOCOL;
    if (num == 1) {
      if (wt != 0) return CONNECTC_ERR_PROTOCOL;
      code = dl;
    } else if (num == 2) {
      if (wt != 2) return CONNECTC_ERR_PROTOCOL;
      msg = d;
      msg_len = dl;
    } else if (num == 3) {
      if (wt != 2) return CONNECTC_ERR_PROTOCOL;
      wire any = {d, d + dl};
      while (any.p < any.end) {
        uint32_t an;
        unsigned awt;
        const uint8_t *ad;
        size_t adl;
        if (!get_field(&any, &an, &awt, &ad, &adl)) return CONNECTC_ERR_PROTOCOL;
        if ((an == 1 || an == 2) && awt != 2) return CONNECTC_ERR_PROTOCOL;
      }
    }
  }
  if (msg && !cc_utf8_valid(msg, msg_len)) return CONNECTC_ERR_PROTOCOL;
  connectc_code c = code <= 16 ? (connectc_code)code : CONNECTC_CODE_UNKNOWN;
  connectc_error fresh;
  connectc_error_init(&fresh, &out->alloc);
  int rv = connectc_error_set_message(&fresh, c, msg ? (const char *)msg : "", msg_len);
  /* Second pass: the details. */
  w.p = p;
  while (rv == CONNECTC_OK && w.p < w.end) {
    uint32_t num;
    unsigned wt;
    const uint8_t *d;
    size_t dl;
    (void)get_field(&w, &num, &wt, &d, &dl);
    if (num != 3) continue;
    wire any = {d, d + dl};
    const uint8_t *url = NULL, *val = NULL;
    size_t url_len = 0, val_len = 0;
    while (any.p < any.end) {
      uint32_t an;
      unsigned awt;
      const uint8_t *ad;
      size_t adl;
      (void)get_field(&any, &an, &awt, &ad, &adl);
      if (an == 1) url = ad, url_len = adl;
      if (an == 2) val = ad, val_len = adl;
    }
    size_t start = 0;
    for (size_t i = 0; i < url_len; i++)
      if (url[i] == '/') start = i + 1;
    char *type = cc_strndup(&out->alloc, url ? (const char *)url + start : "", url_len - start);
    if (!type) {
      rv = CONNECTC_ERR_NOMEM;
      break;
    }
    rv = connectc_error_add_detail(&fresh, type, val, val_len);
    cc_free(&out->alloc, type);
  }
  if (rv == CONNECTC_OK) rv = connectc_error_copy(out, &fresh);
  connectc_error_reset(&fresh);
  return rv;
}

/* ---- the status in trailers ---- */

int cc_grpc_status_from_trailers(const connectc_headers *t, int have_trailers,
                                 connectc_error *err) {
  const char *status = connectc_headers_get(t, "grpc-status");
  if (!status) {
    if (have_trailers)
      return connectc_error_set(err, CONNECTC_CODE_UNKNOWN,
                                "protocol error: no grpc-status in the response trailers");
    return connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                              "protocol error: no grpc-status: the response had no trailers");
  }
  size_t slen = strlen(status);
  uint64_t code = 0;
  int ok = slen > 0 && slen <= 10;
  for (size_t i = 0; ok && i < slen; i++) {
    if (status[i] < '0' || status[i] > '9') ok = 0;
    else code = code * 10 + (uint64_t)(status[i] - '0');
  }
  if (!ok)
    return connectc_error_set(err, CONNECTC_CODE_UNKNOWN, "protocol error: invalid grpc-status \"%s\"",
                              status);
  if (code == 0) {
    connectc_error_reset(err);
    return CONNECTC_OK;
  }
  connectc_code c = code <= 16 ? (connectc_code)code : CONNECTC_CODE_UNKNOWN;
  const char *msg = connectc_headers_get(t, "grpc-message");
  cc_buf decoded = CC_BUF_INIT;
  int rv;
  if (msg && cc_grpc_percent_decode(&decoded, &err->alloc, msg, strlen(msg)) != CONNECTC_OK) {
    cc_buf_free(&decoded, &err->alloc);
    return connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                              "protocol error: invalid grpc-message \"%s\": bad percent-encoding",
                              msg);
  }
  rv = connectc_error_set_message(err, c, decoded.data ? (const char *)decoded.data : "",
                                  decoded.len);
  cc_buf_free(&decoded, &err->alloc);
  if (rv) return rv;
  if (connectc_headers_get(t, "grpc-status-details-bin")) {
    uint8_t *bin = NULL;
    size_t bin_len = 0;
    int brv = connectc_headers_get_bin(t, "grpc-status-details-bin", 0, &bin, &bin_len);
    if (brv == CONNECTC_ERR_NOMEM) return brv;
    connectc_error st;
    connectc_error_init(&st, &err->alloc);
    int srv = brv == CONNECTC_OK ? cc_grpc_status_decode(bin, bin_len, &st) : brv;
    connectc_free(&t->alloc, bin);
    if (srv == CONNECTC_OK) {
      rv = connectc_error_copy(err, &st);
      /* A Status that says OK under a failing grpc-status keeps the failure. */
      if (err->code == CONNECTC_CODE_OK) err->code = c;
    } else if (srv == CONNECTC_ERR_NOMEM) {
      rv = srv;
    } else {
      rv = connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                              "protocol error: invalid grpc-status-details-bin: not a "
                              "base64-encoded google.rpc.Status");
    }
    connectc_error_reset(&st);
  }
  return rv;
}

int cc_grpc_status_to_trailers(connectc_headers *t, const connectc_error *e) {
  char num[12];
  int n = snprintf(num, sizeof num, "%u", (unsigned)(e ? e->code : CONNECTC_CODE_OK));
  int rv = connectc_headers_add(t, "grpc-status", 11, num, (size_t)n);
  if (rv || !e || e->code == CONNECTC_CODE_OK) return rv;
  if (e->message && e->message[0]) {
    cc_buf m = CC_BUF_INIT;
    rv = cc_grpc_percent_encode(&m, &t->alloc, e->message, strlen(e->message));
    if (rv == CONNECTC_OK)
      rv = connectc_headers_add(t, "grpc-message", 12, m.data ? (const char *)m.data : "", m.len);
    cc_buf_free(&m, &t->alloc);
    if (rv) return rv;
  }
  if (e->n_details) {
    cc_buf st = CC_BUF_INIT;
    rv = cc_grpc_status_encode(&st, &t->alloc, e);
    if (rv == CONNECTC_OK) rv = connectc_headers_add_bin(t, "grpc-status-details-bin", st.data, st.len);
    cc_buf_free(&st, &t->alloc);
  }
  return rv;
}

void cc_grpc_status_strip(connectc_headers *t) {
  connectc_headers_remove(t, "grpc-status");
  connectc_headers_remove(t, "grpc-message");
  connectc_headers_remove(t, "grpc-status-details-bin");
}

/* ---- the gRPC-Web trailer block ---- */

int cc_grpc_web_trailers_parse(const uint8_t *p, size_t len, connectc_headers *out,
                               connectc_error *err) {
  size_t i = 0, line_no = 0;
  while (i < len) {
    size_t start = i;
    while (i < len && p[i] != '\n') i++;
    size_t end = i; /* exclusive, before LF */
    if (i < len) i++;
    if (end > start && p[end - 1] == '\r') end--;
    line_no++;
    if (end == start) continue; /* blank line */
    size_t colon = start;
    while (colon < end && p[colon] != ':') colon++;
    if (colon == end || colon == start) {
      return connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                                "gRPC-Web protocol error: trailers invalid: line %zu is not "
                                "\"name: value\"",
                                line_no) == CONNECTC_OK
                 ? CONNECTC_ERR_PROTOCOL
                 : CONNECTC_ERR_NOMEM;
    }
    for (size_t k = start; k < colon; k++) {
      if (!cc_is_tchar(p[k])) {
        return connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                                  "gRPC-Web protocol error: trailers invalid: the name on line "
                                  "%zu is not a token",
                                  line_no) == CONNECTC_OK
                   ? CONNECTC_ERR_PROTOCOL
                   : CONNECTC_ERR_NOMEM;
      }
    }
    size_t vs = colon + 1, ve = end;
    while (vs < ve && (p[vs] == ' ' || p[vs] == '\t')) vs++;
    while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) ve--;
    for (size_t k = vs; k < ve; k++) {
      if ((p[k] < 0x20 && p[k] != '\t') || p[k] == 0x7f) {
        return connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                                  "gRPC-Web protocol error: trailers invalid: a control "
                                  "character in the value on line %zu",
                                  line_no) == CONNECTC_OK
                   ? CONNECTC_ERR_PROTOCOL
                   : CONNECTC_ERR_NOMEM;
      }
    }
    int rv = connectc_headers_add(out, (const char *)p + start, colon - start,
                                  (const char *)p + vs, ve - vs);
    if (rv == CONNECTC_ERR_NOMEM) return rv;
    if (rv) {
      return connectc_error_set(err, CONNECTC_CODE_INTERNAL,
                                "gRPC-Web protocol error: trailers invalid on line %zu",
                                line_no) == CONNECTC_OK
                 ? CONNECTC_ERR_PROTOCOL
                 : CONNECTC_ERR_NOMEM;
    }
  }
  return CONNECTC_OK;
}

int cc_grpc_web_trailers_format(cc_buf *out, const connectc_allocator *a,
                                const connectc_headers *t) {
  /* Insertion sort of indexes by name: trailer lists are short, and the
   * sort is stable so repeated names keep their order. */
  size_t n = t->len;
  size_t small[32];
  size_t *idx = n <= 32 ? small : cc_malloc(a, n * sizeof *idx);
  if (!idx) return CONNECTC_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    size_t j = i;
    while (j > 0 && strcmp(t->items[idx[j - 1]].name, t->items[i].name) > 0) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = i;
  }
  int rv = CONNECTC_OK;
  for (size_t i = 0; rv == CONNECTC_OK && i < n; i++) {
    const connectc_header *h = &t->items[idx[i]];
    rv = cc_buf_reserve(out, a, h->name_len + h->value_len + 4);
    if (rv) break;
    cc_buf_append(out, a, h->name, h->name_len);
    cc_buf_append(out, a, ": ", 2);
    cc_buf_append(out, a, h->value, h->value_len);
    cc_buf_append(out, a, "\r\n", 2);
  }
  if (idx != small) cc_free(a, idx);
  return rv;
}
