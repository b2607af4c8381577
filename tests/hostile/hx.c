/* Helpers for the hostile-peer suites (see hx.h). */
#define _POSIX_C_SOURCE 200809L

#include "hx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#ifdef HX_HAVE_BROTLI
#include <brotli/encode.h>
#endif
#ifdef HX_HAVE_ZSTD
#include <zstd.h>
#endif

/* ---- buffers ---- */

void hx_buf_put(hx_buf *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) abort();
    b->data = d;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0; /* always NUL-terminated for string use */
}

void hx_buf_puts(hx_buf *b, const char *s) { hx_buf_put(b, s, strlen(s)); }

void hx_buf_printf(hx_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  char *tmp = malloc((size_t)n + 1);
  if (!tmp) abort();
  va_start(ap, fmt);
  vsnprintf(tmp, (size_t)n + 1, fmt, ap);
  va_end(ap);
  hx_buf_put(b, tmp, (size_t)n);
  free(tmp);
}

void hx_buf_free(hx_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

void hx_buf_varint(hx_buf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) tmp[n] |= 0x80;
    n++;
  } while (v);
  hx_buf_put(b, tmp, n);
}

void hx_buf_envelope(hx_buf *b, uint8_t flags, const void *payload, size_t len) {
  uint8_t h[5] = {flags, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                  (uint8_t)len};
  hx_buf_put(b, h, sizeof h);
  hx_buf_put(b, payload, len);
}

/* ---- sockets ---- */

int hx_connect(uint16_t port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int hx_send(int fd, const void *p, size_t n) {
  const uint8_t *q = p;
  while (n) {
    ssize_t w = send(fd, q, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    q += w;
    n -= (size_t)w;
  }
  return 0;
}

void hx_abort(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

/* ---- reading responses ---- */

/* Reads more bytes into `in`; returns bytes read, 0 on EOF, -1 on
 * timeout or error. */
static ssize_t fill(int fd, hx_buf *in, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int rv;
  do rv = poll(&p, 1, timeout_ms);
  while (rv < 0 && errno == EINTR);
  if (rv <= 0) return -1;
  uint8_t tmp[65536];
  ssize_t n = recv(fd, tmp, sizeof tmp, 0);
  if (n > 0) hx_buf_put(in, tmp, (size_t)n);
  if (n < 0 && (errno == ECONNRESET)) return 0;
  return n;
}

static void consume(hx_buf *in, size_t n) {
  memmove(in->data, in->data + n, in->len - n);
  in->len -= n;
  if (in->data) in->data[in->len] = 0;
}

static uint8_t *find(const hx_buf *in, const char *s) {
  size_t n = strlen(s);
  if (in->len < n) return NULL;
  for (size_t i = 0; i + n <= in->len; i++)
    if (memcmp(in->data + i, s, n) == 0) return in->data + i;
  return NULL;
}

const char *hx_resp_header(const hx_resp *r, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  const char *p = strstr(r->head, "\r\n");
  while (p) {
    p += 2;
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ' || *v == '\t') v++;
      const char *e = strstr(v, "\r\n");
      size_t n = e ? (size_t)(e - v) : strlen(v);
      if (n >= cap) n = cap - 1;
      memcpy(out, v, n);
      out[n] = 0;
      return out;
    }
    p = strstr(p, "\r\n");
  }
  return NULL;
}

int hx_read_response(int fd, hx_buf *in, hx_resp *r, int timeout_ms) {
  memset(r, 0, sizeof *r);
  /* Head. */
  uint8_t *end;
  while (!(end = find(in, "\r\n\r\n"))) {
    ssize_t n = fill(fd, in, timeout_ms);
    if (n <= 0) {
      r->eof = n == 0;
      return 0;
    }
  }
  size_t hlen = (size_t)(end - in->data) + 4;
  size_t copy = hlen < sizeof r->head ? hlen : sizeof r->head - 1;
  memcpy(r->head, in->data, copy);
  r->head[copy] = 0;
  consume(in, hlen);
  if (strncmp(r->head, "HTTP/1.", 7) != 0) return 0;
  r->status = atoi(r->head + 9);
  char v[64];
  long long clen = -1;
  if (hx_resp_header(r, "content-length", v, sizeof v)) clen = atoll(v);
  if (hx_resp_header(r, "transfer-encoding", v, sizeof v) && strcasecmp(v, "chunked") == 0)
    r->chunked = 1;
  if (r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200)) clen = 0;
  if (r->chunked) {
    for (;;) {
      while (!(end = find(in, "\r\n"))) {
        ssize_t n = fill(fd, in, timeout_ms);
        if (n <= 0) {
          r->eof = n == 0;
          return r->status;
        }
      }
      size_t size = (size_t)strtoull((const char *)in->data, NULL, 16);
      size_t line = (size_t)(end - in->data) + 2;
      if (size == 0) {
        /* Trailers up to the empty line. */
        while (!(end = find(in, "\r\n\r\n")) &&
               !(in->len >= line + 2 && memcmp(in->data + line, "\r\n", 2) == 0)) {
          ssize_t n = fill(fd, in, timeout_ms);
          if (n <= 0) {
            r->eof = n == 0;
            return r->status;
          }
        }
        if (in->len >= line + 2 && memcmp(in->data + line, "\r\n", 2) == 0) consume(in, line + 2);
        else consume(in, (size_t)(end - in->data) + 4);
        r->complete = 1;
        return r->status;
      }
      while (in->len < line + size + 2) {
        ssize_t n = fill(fd, in, timeout_ms);
        if (n <= 0) {
          r->eof = n == 0;
          return r->status;
        }
      }
      hx_buf_put(&r->body, in->data + line, size);
      consume(in, line + size + 2);
    }
  }
  if (clen >= 0) {
    while ((long long)in->len < clen) {
      ssize_t n = fill(fd, in, timeout_ms);
      if (n <= 0) {
        r->eof = n == 0;
        hx_buf_put(&r->body, in->data, in->len);
        consume(in, in->len);
        return r->status;
      }
    }
    hx_buf_put(&r->body, in->data, (size_t)clen);
    consume(in, (size_t)clen);
    r->complete = 1;
    return r->status;
  }
  /* Until the connection closes. */
  for (;;) {
    ssize_t n = fill(fd, in, timeout_ms);
    if (n <= 0) {
      r->eof = n == 0;
      r->complete = n == 0;
      hx_buf_put(&r->body, in->data, in->len);
      consume(in, in->len);
      return r->status;
    }
  }
}

void hx_resp_free(hx_resp *r) { hx_buf_free(&r->body); }

int hx_quiet(int fd, hx_buf *pending, int ms, int *eof) {
  *eof = 0;
  if (pending->len) return 0;
  ssize_t n = fill(fd, pending, ms);
  if (n == 0) *eof = 1;
  return n <= 0;
}

int hx_roundtrip(uint16_t port, const void *req, size_t len, hx_resp *r) {
  memset(r, 0, sizeof *r);
  int fd = hx_connect(port, 10000);
  if (fd < 0) return 0;
  hx_buf in = {0};
  (void)hx_send(fd, req, len); /* the server may answer before reading it all */
  hx_read_response(fd, &in, r, 10000);
  hx_buf_free(&in);
  close(fd);
  return r->status;
}

/* ---- Connect errors ---- */

/* Copies the string value after "code":" in s[0..len) into out. */
static const char *code_in(const char *s, size_t len, char *out, size_t cap) {
  out[0] = 0;
  const char *key = "\"code\":\"";
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl <= len; i++) {
    if (memcmp(s + i, key, kl) != 0) continue;
    size_t j = i + kl, k = 0;
    while (j < len && s[j] != '"' && k + 1 < cap) out[k++] = s[j++];
    out[k] = 0;
    return out;
  }
  return out;
}

const char *hx_unary_code(const hx_resp *r) {
  static char code[64];
  return code_in((const char *)r->body.data, r->body.len, code, sizeof code);
}

const char *hx_stream_code(const hx_resp *r, int *n_messages) {
  static char code[64];
  code[0] = 0;
  int n = 0;
  size_t i = 0;
  while (i + 5 <= r->body.len) {
    const uint8_t *h = r->body.data + i;
    size_t len = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
    if (i + 5 + len > r->body.len) break;
    if (h[0] & 2) {
      const char *s = (const char *)h + 5;
      if (len >= 2 && s[0] == '{') {
        code_in(s, len, code, sizeof code);
        if (!code[0]) snprintf(code, sizeof code, "ok");
      }
      if (n_messages) *n_messages = n;
      return code;
    }
    n++;
    i += 5 + len;
  }
  if (n_messages) *n_messages = n;
  return code;
}

void hx_request(hx_buf *out, const char *method, const char *path, const char *extra,
                const void *body, long long len) {
  hx_buf_printf(out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, path);
  if (len >= 0) hx_buf_printf(out, "Content-Length: %lld\r\n", len);
  if (extra) hx_buf_puts(out, extra);
  hx_buf_puts(out, "\r\n");
  if (body && len > 0) hx_buf_put(out, body, (size_t)len);
}

/* ---- compression ---- */

static uint8_t zeros_mib[1 << 20];

static void gzip_zeros(uint64_t n, hx_buf *out) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) != Z_OK) abort();
  uint8_t tmp[65536];
  while (n) {
    size_t chunk = n < sizeof zeros_mib ? (size_t)n : sizeof zeros_mib;
    n -= chunk;
    z.next_in = zeros_mib;
    z.avail_in = (uInt)chunk;
    int flush = n ? Z_NO_FLUSH : Z_FINISH;
    do {
      z.next_out = tmp;
      z.avail_out = sizeof tmp;
      deflate(&z, flush);
      hx_buf_put(out, tmp, sizeof tmp - z.avail_out);
    } while (z.avail_out == 0 || (flush == Z_FINISH && z.avail_in));
  }
  deflateEnd(&z);
}

#ifdef HX_HAVE_BROTLI
static void br_zeros(uint64_t n, hx_buf *out) {
  BrotliEncoderState *s = BrotliEncoderCreateInstance(NULL, NULL, NULL);
  BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, 5);
  BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, 24);
  uint8_t tmp[65536];
  while (n) {
    size_t chunk = n < sizeof zeros_mib ? (size_t)n : sizeof zeros_mib;
    n -= chunk;
    size_t avail_in = chunk;
    const uint8_t *next_in = zeros_mib;
    BrotliEncoderOperation op = n ? BROTLI_OPERATION_PROCESS : BROTLI_OPERATION_FINISH;
    do {
      size_t avail_out = sizeof tmp;
      uint8_t *next_out = tmp;
      if (!BrotliEncoderCompressStream(s, op, &avail_in, &next_in, &avail_out, &next_out, NULL))
        abort();
      hx_buf_put(out, tmp, sizeof tmp - avail_out);
    } while (avail_in || BrotliEncoderHasMoreOutput(s) ||
             (op == BROTLI_OPERATION_FINISH && !BrotliEncoderIsFinished(s)));
  }
  BrotliEncoderDestroyInstance(s);
}
#endif

#ifdef HX_HAVE_ZSTD
static void zstd_zeros(uint64_t n, hx_buf *out) {
  ZSTD_CCtx *c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 20); /* within what the library accepts */
  ZSTD_CCtx_setPledgedSrcSize(c, n);
  uint8_t tmp[65536];
  while (n) {
    size_t chunk = n < sizeof zeros_mib ? (size_t)n : sizeof zeros_mib;
    n -= chunk;
    ZSTD_inBuffer ib = {zeros_mib, chunk, 0};
    ZSTD_EndDirective op = n ? ZSTD_e_continue : ZSTD_e_end;
    size_t left;
    do {
      ZSTD_outBuffer ob = {tmp, sizeof tmp, 0};
      left = ZSTD_compressStream2(c, &ob, &ib, op);
      if (ZSTD_isError(left)) abort();
      hx_buf_put(out, tmp, ob.pos);
    } while (ib.pos < ib.size || (op == ZSTD_e_end && left));
  }
  ZSTD_freeCCtx(c);
}
#endif

const hx_buf *hx_bomb(const char *alg, uint64_t zeros) {
  static hx_buf cache[3];
  static uint64_t sizes[3];
  int i = strcmp(alg, "gzip") == 0 ? 0 : strcmp(alg, "br") == 0 ? 1 : 2;
  if (sizes[i] == zeros && cache[i].len) return &cache[i];
  hx_buf_free(&cache[i]);
  sizes[i] = zeros;
  if (i == 0) gzip_zeros(zeros, &cache[i]);
#ifdef HX_HAVE_BROTLI
  if (i == 1) br_zeros(zeros, &cache[i]);
#endif
#ifdef HX_HAVE_ZSTD
  if (i == 2) zstd_zeros(zeros, &cache[i]);
#endif
  return cache[i].len ? &cache[i] : NULL;
}

void hx_compress(const char *alg, const void *in, size_t len, hx_buf *out) {
  if (strcmp(alg, "gzip") == 0) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    uLong bound = deflateBound(&z, (uLong)len);
    uint8_t *tmp = malloc(bound);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = tmp;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    hx_buf_put(out, tmp, bound - z.avail_out);
    deflateEnd(&z);
    free(tmp);
    return;
  }
#ifdef HX_HAVE_BROTLI
  if (strcmp(alg, "br") == 0) {
    size_t n = BrotliEncoderMaxCompressedSize(len) + 16;
    uint8_t *tmp = malloc(n);
    if (!BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, len, in, &n, tmp)) abort();
    hx_buf_put(out, tmp, n);
    free(tmp);
    return;
  }
#endif
#ifdef HX_HAVE_ZSTD
  if (strcmp(alg, "zstd") == 0) {
    size_t n = ZSTD_compressBound(len);
    uint8_t *tmp = malloc(n);
    size_t w = ZSTD_compress(tmp, n, in, len, 3);
    if (ZSTD_isError(w)) abort();
    hx_buf_put(out, tmp, w);
    free(tmp);
    return;
  }
#endif
  abort();
}

int hx_exchange(uint16_t port, const void *req, size_t len, int quiet_ms, hx_buf *all,
                int *n_status, int *closed) {
  *n_status = 0;
  *closed = 0;
  int fd = hx_connect(port, 5000);
  if (fd < 0) return 0;
  (void)hx_send(fd, req, len);
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, quiet_ms) != 1) break;
    uint8_t tmp[65536];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) {
      *closed = 1;
      break;
    }
    hx_buf_put(all, tmp, (size_t)n);
  }
  close(fd);
  int first = 0;
  for (size_t i = 0; i + 12 <= all->len; i++) {
    if ((i == 0 || (all->data[i - 1] == '\n')) && memcmp(all->data + i, "HTTP/1.", 7) == 0) {
      if (!*n_status) first = atoi((const char *)all->data + i + 9);
      (*n_status)++;
    }
  }
  return first;
}
