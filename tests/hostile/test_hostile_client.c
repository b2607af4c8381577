/* Hostile servers against the real libcurl client: a thread listening on
 * 127.0.0.1 answers each call with crafted bytes, and every case checks
 * the Connect code the client ends the call with. */
#define _GNU_SOURCE /* strcasestr */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "connectc/client.h"
#include "connectc/curl.h"
#include "google/protobuf/struct.pb-c.h"
#include "hx.h"

/* ---- the raw server ---- */

typedef struct raw_server {
  int lfd;
  uint16_t port;
  pthread_t thread;
  hx_buf response;  /* written after the request was read */
  int stall_ms;     /* keep the connection open this long afterwards */
  int no_read;      /* answer without reading the request */
  size_t trickle;   /* send the response this many bytes at a time... */
  int trickle_ms;   /* ...this far apart (0: all at once) */
  hx_buf request;   /* what the client sent */
} raw_server;

static int find_bytes(const hx_buf *b, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + n <= b->len; i++)
    if (memcmp(b->data + i, s, n) == 0) return (int)i;
  return -1;
}

/* Reads one request: head, then a Content-Length body or chunks. */
static void read_request(int c, hx_buf *req) {
  uint8_t tmp[65536];
  int head_end = -1;
  long long need = -1;
  for (;;) {
    if (head_end < 0 && (head_end = find_bytes(req, "\r\n\r\n")) >= 0) {
      head_end += 4;
      const char *cl = strcasestr((const char *)req->data, "content-length:");
      if (cl && cl < (const char *)req->data + head_end) need = head_end + atoll(cl + 15);
    }
    if (head_end >= 0) {
      if (need >= 0 && (long long)req->len >= need) return;
      if (need < 0 && find_bytes(req, "\r\n0\r\n\r\n") >= 0) return;
      if (need < 0 && !strcasestr((const char *)req->data, "chunked")) return; /* GET */
    }
    ssize_t n = recv(c, tmp, sizeof tmp, 0);
    if (n <= 0) return;
    hx_buf_put(req, tmp, (size_t)n);
  }
}

static void *serve(void *arg) {
  raw_server *s = arg;
  struct pollfd p = {s->lfd, POLLIN, 0};
  if (poll(&p, 1, 10000) != 1) return NULL;
  int c = accept(s->lfd, NULL, NULL);
  if (c < 0) return NULL;
  struct timeval tv = {5, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (!s->no_read) read_request(c, &s->request);
  if (s->trickle && s->trickle_ms) {
    for (size_t off = 0; off < s->response.len; off += s->trickle) {
      size_t n = s->response.len - off < s->trickle ? s->response.len - off : s->trickle;
      if (hx_send(c, s->response.data + off, n)) break;
      struct timespec d = {0, (long)s->trickle_ms * 1000000L};
      nanosleep(&d, NULL);
    }
  } else {
    (void)hx_send(c, s->response.data, s->response.len);
  }
  if (s->stall_ms) {
    /* Wait for the client to give up (or the stall to pass). */
    uint8_t tmp[256];
    struct pollfd q = {c, POLLIN, 0};
    while (poll(&q, 1, s->stall_ms) == 1 && recv(c, tmp, sizeof tmp, 0) > 0) {
    }
  }
  close(c);
  return NULL;
}

static void server_start(raw_server *s) {
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->lfd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->lfd, 4), 0);
  socklen_t al = sizeof a;
  getsockname(s->lfd, (struct sockaddr *)&a, &al);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(raw_server *s) {
  pthread_join(s->thread, NULL);
  close(s->lfd);
  hx_buf_free(&s->response);
  hx_buf_free(&s->request);
}

/* ---- the client ---- */

static const connectc_method_desc m_unary = {"/hostile.v1.Svc/Raw", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc m_server = {"/hostile.v1.Svc/Watch", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc m_client = {"/hostile.v1.Svc/Collect", CONNECTC_STREAM_CLIENT, 0};

typedef struct result {
  int closes;
  int n_messages;
  connectc_code code;
  char message[512];
} result;

static int c_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  (void)c;
  (void)data;
  (void)len;
  ((result *)ud)->n_messages++;
  return 0;
}

static void c_close(connectc_client_call *c, const connectc_error *err,
                    const connectc_headers *trailers, void *ud) {
  (void)c;
  (void)trailers;
  result *r = ud;
  r->closes++;
  r->code = err->code;
  snprintf(r->message, sizeof r->message, "%s", err->message ? err->message : "");
}

/* Runs one call of `m` against a raw server answering `response`. */
static void run(const connectc_method_desc *m, const hx_buf *response, int stall_ms,
                int64_t timeout_ms, result *res) {
  raw_server s;
  memset(&s, 0, sizeof s);
  hx_buf_put(&s.response, response->data, response->len);
  s.stall_ms = stall_ms;
  server_start(&s);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)s.port);
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  static const connectc_client_callbacks cb = {NULL, c_message, c_close};
  memset(res, 0, sizeof *res);
  res->code = (connectc_code)-1;
  connectc_client_config cc;
  memset(&cc, 0, sizeof cc);
  cc.procedure = m->procedure;
  cc.stream_type = m->stream_type;
  cc.codec = "proto";
  /* A safety net: no case may hang the suite. */
  cc.timeout_ms = timeout_ms ? timeout_ms : 10000;
  connectc_client_call *call = NULL;
  assert_int_equal(connectc_client_call_new(&cc, &cb, res, NULL, connectc_curl_now_ms(), &call),
                   CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(call, (const uint8_t *)"req", 3), CONNECTC_OK);
  assert_int_equal(connectc_client_call_close_send(call), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, call), CONNECTC_OK);
  assert_true(connectc_client_call_is_closed(call));
  assert_int_equal(res->closes, 1); /* exactly one final status */
  connectc_client_call_del(call);
  connectc_curl_del(t);
  server_stop(&s);
}

static void expect(const connectc_method_desc *m, const hx_buf *response, connectc_code want,
                   const char *what) {
  result r;
  run(m, response, 0, 0, &r);
  if (r.code != want)
    fprintf(stderr, "%s: got %s (%s), want %s\n", what, connectc_code_name(r.code), r.message,
            connectc_code_name(want));
  assert_int_equal(r.code, want);
}

/* ---- response builders ---- */

static void unary_response(hx_buf *out, int status, const char *ctype, const char *extra,
                           const void *body, size_t len) {
  hx_buf_printf(out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n", status, len);
  if (ctype) hx_buf_printf(out, "Content-Type: %s\r\n", ctype);
  if (extra) hx_buf_puts(out, extra);
  hx_buf_puts(out, "\r\n");
  hx_buf_put(out, body, len);
}

/* A streaming response with a Content-Length body. */
static void stream_response(hx_buf *out, const char *extra, const hx_buf *body) {
  hx_buf_printf(out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/connect+proto\r\n"
                "Content-Length: %zu\r\n%s\r\n",
                body->len, extra ? extra : "");
  hx_buf_put(out, body->data, body->len);
}

static void eos(hx_buf *body, const char *json) { hx_buf_envelope(body, 2, json, strlen(json)); }

/* ---- cases ---- */

static void test_sanity(void **state) {
  (void)state;
  /* The crafted answers are right when nothing is wrong with them. */
  hx_buf resp = {0}, body = {0};
  unary_response(&resp, 200, "application/proto", NULL, "abc", 3);
  expect(&m_unary, &resp, CONNECTC_CODE_OK, "unary");
  hx_buf_free(&resp);
  hx_buf_envelope(&body, 0, "a", 1);
  hx_buf_envelope(&body, 0, "b", 1);
  eos(&body, "{}");
  stream_response(&resp, NULL, &body);
  result r;
  run(&m_server, &resp, 0, 0, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n_messages, 2);
  hx_buf_free(&resp);
  hx_buf_free(&body);
}

static void test_header_and_trailer_floods(void **state) {
  (void)state;
  hx_buf resp = {0};
  /* 20000 header lines, about 1.2 MB, for a unary and a stream call. */
  hx_buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n");
  for (int i = 0; i < 20000; i++) hx_buf_printf(&resp, "X-Flood-%d: %040d\r\n", i, i);
  hx_buf_puts(&resp, "Content-Length: 3\r\n\r\nabc");
  expect(&m_unary, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "header flood");
  hx_buf_free(&resp);
  /* One header line larger than the limit. */
  hx_buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/connect+proto\r\nX-Huge: ");
  for (int i = 0; i < 300 * 1024; i++) hx_buf_put(&resp, "h", 1);
  hx_buf_puts(&resp, "\r\nContent-Length: 0\r\n\r\n");
  expect(&m_server, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "huge header");
  hx_buf_free(&resp);
  /* Trailers: a chunked body followed by 1.2 MB of trailer fields, after
   * a complete unary message and after a clean end-of-stream. */
  for (int k = 0; k < 2; k++) {
    hx_buf body = {0};
    if (k == 0) {
      hx_buf_puts(&body, "abc");
    } else {
      hx_buf_envelope(&body, 0, "a", 1);
      eos(&body, "{}");
    }
    hx_buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/%s\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                  k ? "connect+proto" : "proto", body.len);
    hx_buf_put(&resp, body.data, body.len);
    hx_buf_puts(&resp, "\r\n0\r\n");
    for (int i = 0; i < 20000; i++) hx_buf_printf(&resp, "X-Trailer-%d: %040d\r\n", i, i);
    hx_buf_puts(&resp, "\r\n");
    expect(k ? &m_server : &m_unary, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "trailer flood");
    hx_buf_free(&resp);
    hx_buf_free(&body);
  }
}

static void test_receive_limit(void **state) {
  (void)state;
  size_t max = 4u * 1024 * 1024;
  uint8_t *big = calloc(1, max + 1024 * 1024);
  hx_buf resp = {0}, body = {0};
  /* A unary body past the limit (after the slack for compressed data). */
  unary_response(&resp, 200, "application/proto", NULL, big, max + 512 * 1024);
  expect(&m_unary, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "unary body");
  hx_buf_free(&resp);
  /* Within the slack but past the limit: refused once it all arrived. */
  unary_response(&resp, 200, "application/proto", NULL, big, max + 1);
  expect(&m_unary, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "unary body + 1");
  hx_buf_free(&resp);
  /* A unary error body far larger than any error. */
  hx_buf_puts(&body, "{\"code\":\"aborted\",\"message\":\"");
  for (int i = 0; i < 1024 * 1024; i++) hx_buf_put(&body, "m", 1);
  hx_buf_puts(&body, "\"}");
  unary_response(&resp, 409, "application/json", NULL, body.data, body.len);
  expect(&m_unary, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "huge error body");
  hx_buf_free(&resp);
  hx_buf_free(&body);
  /* Envelope lengths past the limit, from the prefix alone. */
  const uint32_t lens[] = {0xFFFFFFFFu, 0x80000000u, (uint32_t)(max + max / 16 + 1025)};
  for (size_t i = 0; i < 3; i++) {
    uint8_t h[5] = {0, (uint8_t)(lens[i] >> 24), (uint8_t)(lens[i] >> 16), (uint8_t)(lens[i] >> 8),
                    (uint8_t)lens[i]};
    hx_buf_put(&body, h, 5);
    hx_buf_puts(&body, "some bytes");
    stream_response(&resp, NULL, &body);
    expect(&m_server, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "envelope length");
    expect(&m_client, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "envelope length");
    hx_buf_free(&resp);
    hx_buf_free(&body);
  }
  /* A message one byte past the limit, all sent. */
  hx_buf_envelope(&body, 0, big, max + 1);
  eos(&body, "{}");
  stream_response(&resp, NULL, &body);
  expect(&m_server, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "message + 1");
  hx_buf_free(&resp);
  hx_buf_free(&body);
  free(big);
}

static void test_end_of_stream(void **state) {
  (void)state;
  const struct {
    const char *what;
    const connectc_method_desc *m;
    connectc_code want;
    int kind; /* 0: messages then eos(json); 1: no eos; 2: trailing data */
    const char *json;
  } cases[] = {
      {"no end-of-stream", &m_server, CONNECTC_CODE_INTERNAL, 1, NULL},
      {"no end-of-stream (client stream)", &m_client, CONNECTC_CODE_INTERNAL, 1, NULL},
      {"not JSON", &m_server, CONNECTC_CODE_INTERNAL, 0, "{not json"},
      {"a JSON array", &m_server, CONNECTC_CODE_INTERNAL, 0, "[]"},
      {"empty", &m_server, CONNECTC_CODE_INTERNAL, 0, ""},
      {"error not an object", &m_server, CONNECTC_CODE_INTERNAL, 0, "{\"error\":7}"},
      {"metadata not arrays", &m_server, CONNECTC_CODE_INTERNAL, 0, "{\"metadata\":{\"a\":\"b\"}}"},
      {"deeply nested", &m_server, CONNECTC_CODE_INTERNAL, 0,
       "{\"metadata\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["},
      {"invalid UTF-8", &m_server, CONNECTC_CODE_INTERNAL, 0, "{\"metadata\":{\"a\":[\"\xff\"]}}"},
      {"an error passes through", &m_server, CONNECTC_CODE_RESOURCE_EXHAUSTED, 0,
       "{\"error\":{\"code\":\"resource_exhausted\",\"message\":\"slow down\"}}"},
      {"an error with an unknown code", &m_server, CONNECTC_CODE_UNKNOWN, 0,
       "{\"error\":{\"code\":\"no_such_code\",\"message\":\"?\"}}"},
      {"an error without a code", &m_server, CONNECTC_CODE_UNKNOWN, 0,
       "{\"error\":{\"message\":\"?\"}}"},
      {"data after end-of-stream", &m_server, CONNECTC_CODE_INTERNAL, 2, "{}"},
      {"a second end-of-stream", &m_server, CONNECTC_CODE_INTERNAL, 3, "{}"},
      {"half an envelope after end-of-stream", &m_server, CONNECTC_CODE_INTERNAL, 4, "{}"},
      {"two responses on a client stream", &m_client, CONNECTC_CODE_UNIMPLEMENTED, 5, "{}"},
      {"no response on a client stream", &m_client, CONNECTC_CODE_UNIMPLEMENTED, 6, "{}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    hx_buf body = {0}, resp = {0};
    if (cases[i].kind != 6) hx_buf_envelope(&body, 0, "a", 1);
    if (cases[i].kind == 5) hx_buf_envelope(&body, 0, "b", 1);
    if (cases[i].kind != 1) eos(&body, cases[i].json);
    if (cases[i].kind == 2) hx_buf_envelope(&body, 0, "late", 4);
    if (cases[i].kind == 3) eos(&body, "{}");
    if (cases[i].kind == 4) hx_buf_put(&body, "\x00\x00\x00", 3);
    stream_response(&resp, NULL, &body);
    expect(cases[i].m, &resp, cases[i].want, cases[i].what);
    hx_buf_free(&body);
    hx_buf_free(&resp);
  }
  /* Envelope flags a server must not send: unknown bits, and the
   * compressed bit without a negotiated encoding. */
  const uint8_t flags[] = {0x04, 0x80, 0xFF, 0x01, 0x03};
  for (size_t i = 0; i < sizeof flags; i++) {
    hx_buf body = {0}, resp = {0};
    hx_buf_envelope(&body, flags[i], "{}", 2);
    eos(&body, "{}");
    stream_response(&resp, NULL, &body);
    expect(&m_server, &resp, CONNECTC_CODE_INTERNAL, "envelope flags");
    hx_buf_free(&body);
    hx_buf_free(&resp);
  }
}

static void test_http_status(void **state) {
  (void)state;
  /* Without a Connect error body the HTTP status decides (the protocol's
   * HTTP-to-code table). */
  const struct {
    int status;
    connectc_code code;
  } map[] = {
      {400, CONNECTC_CODE_INTERNAL},     {401, CONNECTC_CODE_UNAUTHENTICATED},
      {403, CONNECTC_CODE_PERMISSION_DENIED}, {404, CONNECTC_CODE_UNIMPLEMENTED},
      {429, CONNECTC_CODE_UNAVAILABLE},  {502, CONNECTC_CODE_UNAVAILABLE},
      {503, CONNECTC_CODE_UNAVAILABLE},  {504, CONNECTC_CODE_UNAVAILABLE},
      {418, CONNECTC_CODE_UNKNOWN},      {500, CONNECTC_CODE_UNKNOWN},
      {302, CONNECTC_CODE_UNKNOWN},      {201, CONNECTC_CODE_UNKNOWN},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    hx_buf resp = {0};
    unary_response(&resp, map[i].status, "text/html", NULL, "<h1>no</h1>", 11);
    expect(&m_unary, &resp, map[i].code, "status, HTML body");
    hx_buf_free(&resp);
    /* A JSON body that is not a Connect error (no code, or not JSON):
     * still the status. */
    unary_response(&resp, map[i].status, "application/json", NULL, "{\"x\":1}", 7);
    expect(&m_unary, &resp, map[i].code, "status, JSON without code");
    hx_buf_free(&resp);
    unary_response(&resp, map[i].status, "application/json", NULL, "{oops", 5);
    expect(&m_unary, &resp, map[i].code, "status, broken JSON");
    hx_buf_free(&resp);
    /* Streams: the status, whatever the body. */
    unary_response(&resp, map[i].status, "application/connect+proto", NULL, "", 0);
    expect(&m_server, &resp, map[i].code, "stream status");
    hx_buf_free(&resp);
  }
  /* A Connect error body's code wins over the status. */
  hx_buf resp = {0};
  const char *err = "{\"code\":\"aborted\",\"message\":\"try again\"}";
  unary_response(&resp, 503, "application/json", NULL, err, strlen(err));
  expect(&m_unary, &resp, CONNECTC_CODE_ABORTED, "error body");
  hx_buf_free(&resp);
  unary_response(&resp, 503, "application/json; charset=utf-8", NULL, err, strlen(err));
  expect(&m_unary, &resp, CONNECTC_CODE_ABORTED, "error body with charset");
  hx_buf_free(&resp);
  /* An interim 100 Continue before the real answer is fine. */
  hx_buf_puts(&resp, "HTTP/1.1 100 Continue\r\n\r\n");
  unary_response(&resp, 200, "application/proto", NULL, "abc", 3);
  expect(&m_unary, &resp, CONNECTC_CODE_OK, "100 Continue");
  hx_buf_free(&resp);
}

static void test_content_type(void **state) {
  (void)state;
  const struct {
    const connectc_method_desc *m;
    const char *ctype;
    connectc_code code;
  } cases[] = {
      {&m_unary, "text/html", CONNECTC_CODE_UNKNOWN},
      {&m_unary, NULL, CONNECTC_CODE_UNKNOWN},
      {&m_unary, "application/json", CONNECTC_CODE_INTERNAL},
      {&m_unary, "application/connect+proto", CONNECTC_CODE_INTERNAL},
      {&m_unary, "application/proto; charset=utf-8", CONNECTC_CODE_INTERNAL},
      {&m_server, "application/proto", CONNECTC_CODE_UNKNOWN},
      {&m_server, "text/plain", CONNECTC_CODE_UNKNOWN},
      {&m_server, "application/connect+json", CONNECTC_CODE_INTERNAL},
      {&m_server, "application/connect+", CONNECTC_CODE_INTERNAL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    hx_buf resp = {0}, body = {0};
    if (cases[i].m == &m_server) {
      hx_buf_envelope(&body, 0, "a", 1);
      eos(&body, "{}");
    } else {
      hx_buf_puts(&body, "abc");
    }
    unary_response(&resp, 200, cases[i].ctype, NULL, body.data, body.len);
    expect(cases[i].m, &resp, cases[i].code, cases[i].ctype ? cases[i].ctype : "no content type");
    hx_buf_free(&resp);
    hx_buf_free(&body);
  }
}

static const char *const algs[] = {"gzip", "br", "zstd"};

static void test_compression(void **state) {
  (void)state;
  for (size_t i = 0; i < 3; i++) {
    const hx_buf *bomb = hx_bomb(algs[i], (uint64_t)1 << 30);
    if (!bomb) continue;
    char h[128];
    snprintf(h, sizeof h, "Content-Encoding: %s\r\n", algs[i]);
    hx_buf resp = {0}, body = {0};
    unary_response(&resp, 200, "application/proto", h, bomb->data, bomb->len);
    expect(&m_unary, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "unary bomb");
    hx_buf_free(&resp);
    /* A bomb as a unary error body. */
    unary_response(&resp, 500, "application/json", h, bomb->data, bomb->len);
    expect(&m_unary, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "error body bomb");
    hx_buf_free(&resp);
    snprintf(h, sizeof h, "Connect-Content-Encoding: %s\r\n", algs[i]);
    hx_buf_envelope(&body, 1, bomb->data, bomb->len);
    eos(&body, "{}");
    stream_response(&resp, h, &body);
    expect(&m_server, &resp, CONNECTC_CODE_RESOURCE_EXHAUSTED, "stream bomb");
    hx_buf_free(&resp);
    hx_buf_free(&body);
    /* Corrupt data and trailing garbage: invalid_argument (the codes of
     * the shared decompressor, as connect-go's). */
    hx_buf good = {0}, bad = {0};
    hx_compress(algs[i], "hello hello", 11, &good);
    hx_buf_put(&bad, good.data, good.len);
    hx_buf_puts(&bad, "TRAILING");
    snprintf(h, sizeof h, "Content-Encoding: %s\r\n", algs[i]);
    unary_response(&resp, 200, "application/proto", h, bad.data, bad.len);
    expect(&m_unary, &resp, CONNECTC_CODE_INVALID_ARGUMENT, "trailing garbage");
    hx_buf_free(&resp);
    unary_response(&resp, 200, "application/proto", h, "garbage!", 8);
    expect(&m_unary, &resp, CONNECTC_CODE_INVALID_ARGUMENT, "garbage");
    hx_buf_free(&resp);
    unary_response(&resp, 200, "application/proto", h, good.data, good.len);
    expect(&m_unary, &resp, CONNECTC_CODE_OK, "good");
    hx_buf_free(&resp);
    hx_buf_free(&good);
    hx_buf_free(&bad);
  }
  /* Encodings the client never offered. */
  hx_buf resp = {0}, body = {0};
  unary_response(&resp, 200, "application/proto", "Content-Encoding: lzma\r\n", "abc", 3);
  expect(&m_unary, &resp, CONNECTC_CODE_INTERNAL, "unknown encoding");
  hx_buf_free(&resp);
  hx_buf_envelope(&body, 0, "a", 1);
  eos(&body, "{}");
  stream_response(&resp, "Connect-Content-Encoding: lzma\r\n", &body);
  expect(&m_server, &resp, CONNECTC_CODE_INTERNAL, "unknown stream encoding");
  hx_buf_free(&resp);
  hx_buf_free(&body);
}

static void test_broken_connections(void **state) {
  (void)state;
  hx_buf resp = {0}, body = {0};
  /* Closed without a byte. */
  expect(&m_unary, &resp, CONNECTC_CODE_UNAVAILABLE, "no response");
  expect(&m_server, &resp, CONNECTC_CODE_UNAVAILABLE, "no response");
  /* Not HTTP at all. */
  hx_buf_puts(&resp, "SSH-2.0-OpenSSH_9.0\r\n\r\n");
  expect(&m_unary, &resp, CONNECTC_CODE_UNAVAILABLE, "not HTTP");
  hx_buf_free(&resp);
  /* Closed in the middle of the head. */
  hx_buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: appli");
  expect(&m_unary, &resp, CONNECTC_CODE_UNAVAILABLE, "half a head");
  hx_buf_free(&resp);
  /* Closed in the middle of the body: unary with a Content-Length, a
   * stream with a Content-Length, a chunked stream mid-envelope. */
  hx_buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                     "Content-Length: 100\r\n\r\n0123456789");
  expect(&m_unary, &resp, CONNECTC_CODE_UNAVAILABLE, "unary cut");
  hx_buf_free(&resp);
  hx_buf_envelope(&body, 0, "abcdef", 6);
  hx_buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/connect+proto\r\n"
                       "Content-Length: 100\r\n\r\n");
  hx_buf_put(&resp, body.data, body.len);
  expect(&m_server, &resp, CONNECTC_CODE_UNAVAILABLE, "stream cut");
  hx_buf_free(&resp);
  hx_buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/connect+proto\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                body.len + 3);
  hx_buf_put(&resp, body.data, body.len);
  hx_buf_put(&resp, "\x00\x00\x00", 3);
  expect(&m_server, &resp, CONNECTC_CODE_UNAVAILABLE, "chunked stream cut");
  hx_buf_free(&resp);
  /* The HTTP body is complete but an envelope in it is not. */
  hx_buf_put(&body, "\x00\x00\x00\x00\x09" "abc", 8);
  stream_response(&resp, NULL, &body);
  expect(&m_server, &resp, CONNECTC_CODE_INTERNAL, "envelope cut");
  hx_buf_free(&resp);
  hx_buf_free(&body);
  /* Bad chunk framing. */
  hx_buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                     "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
  expect(&m_unary, &resp, CONNECTC_CODE_UNAVAILABLE, "bad chunk size");
  hx_buf_free(&resp);
  /* A head, then silence: the call's deadline ends it, on time. */
  for (int k = 0; k < 2; k++) {
    if (k == 0)
      hx_buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                         "Content-Length: 10\r\n\r\nabc");
    else
      hx_buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/connect+proto\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    result r;
    run(k ? &m_server : &m_unary, &resp, 5000, 300, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(r.code, CONNECTC_CODE_DEADLINE_EXCEEDED);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms < 2000);
    hx_buf_free(&resp);
  }
}


static void test_limit_messages(void **state) {
  (void)state;
  /* An error body over the client's cap for error bodies: the message
   * names that cap and what was seen, not recv_max_bytes. */
  hx_buf body = {0}, resp = {0};
  hx_buf_puts(&body, "{\"code\":\"aborted\",\"message\":\"");
  for (int i = 0; i < 400 * 1024; i++) hx_buf_put(&body, "m", 1);
  hx_buf_puts(&body, "\"}");
  unary_response(&resp, 409, "application/json", NULL, body.data, body.len);
  result r;
  run(&m_unary, &resp, 0, 0, &r);
  assert_int_equal(r.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_non_null(strstr(r.message, "HTTP status 409 with an error body of at least "));
  assert_non_null(strstr(r.message, "larger than the limit of 327680 bytes for error bodies "
                                    "(64 KiB plus recv_max_bytes/16)"));
  size_t seen = (size_t)atol(r.message + strlen("HTTP status 409 with an error body of at least "));
  assert_true(seen > 327680);
  hx_buf_free(&resp);
  hx_buf_free(&body);
  /* A header line far past libcurl's own limit: reported as that limit,
   * not as "Out of memory". */
  hx_buf_puts(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\nX-Huge: ");
  for (int i = 0; i < 4 * 1024 * 1024; i++) hx_buf_put(&resp, "h", 1);
  hx_buf_puts(&resp, "\r\nContent-Length: 3\r\n\r\nabc");
  run(&m_unary, &resp, 0, 0, &r);
  assert_int_equal(r.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  if (!strstr(r.message, "CURL_MAX_HTTP_HEADER") && !strstr(r.message, "CONNECTC_CURL_MAX_HEADER"))
    fail_msg("message: %s", r.message);
  assert_null(strstr(r.message, "Out of memory"));
  hx_buf_free(&resp);
}

/* A server stream of `n` Value{number_value: i} messages and a clean end. */
static void number_stream(hx_buf *resp, size_t n) {
  hx_buf body = {0};
  for (size_t i = 0; i < n; i++) {
    uint8_t m[9] = {0x11};
    double d = (double)i;
    memcpy(m + 1, &d, 8);
    hx_buf_envelope(&body, 0, m, sizeof m);
  }
  eos(&body, "{}");
  stream_response(resp, NULL, &body);
  hx_buf_free(&body);
}

typedef struct counter {
  size_t n;
  double last;
} counter;

static int count_message(ProtobufCMessage *m, void *arg) {
  counter *c = arg;
  c->n++;
  c->last = ((Google__Protobuf__Value *)m)->number_value;
  connectc_message_free(m, NULL);
  return 0;
}

/* Runs a typed server-stream call through the synchronous stub. */
static void typed_run(const hx_buf *response, size_t trickle, int trickle_ms,
                      const connectc_call_limits *limits, const connectc_call_options *opts,
                      connectc_call_output *out, long *elapsed_ms) {
  raw_server s;
  memset(&s, 0, sizeof s);
  hx_buf_put(&s.response, response->data, response->len);
  s.trickle = trickle;
  s.trickle_ms = trickle_ms;
  server_start(&s);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)s.port);
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  connectc_client client;
  connectc_client_init(&client, connectc_curl_transport(t));
  if (limits) client.limits = *limits;
  Google__Protobuf__Value req = GOOGLE__PROTOBUF__VALUE__INIT;
  const ProtobufCMessage *one = &req.base;
  connectc_call_output_init(out, NULL);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(connectc_client_invoke(&client, &m_server, &google__protobuf__value__descriptor,
                                          &one, 1, opts, out),
                   CONNECTC_OK);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  *elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  connectc_curl_del(t);
  server_stop(&s);
}

static void test_sync_stub_streams(void **state) {
  (void)state;
  hx_buf resp = {0};
  number_stream(&resp, 200000);
  connectc_call_output out;
  long ms = 0;
  /* 200k messages collected: linear time, well within the default budget. */
  typed_run(&resp, 0, 0, NULL, NULL, &out, &ms);
  assert_int_equal(out.error.code, CONNECTC_CODE_OK);
  assert_int_equal(out.n_messages, 200000);
  assert_true(ms < 10000);
  connectc_call_output_reset(&out);
  /* With a budget, collecting stops with resource_exhausted naming it. */
  connectc_call_limits lim = {.decoded_max_bytes = 1024 * 1024};
  typed_run(&resp, 0, 0, &lim, NULL, &out, &ms);
  assert_int_equal(out.error.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_non_null(strstr(out.error.message, "take more than 1048576 bytes of memory once decoded "
                                            "(limits.decoded_max_bytes)"));
  assert_non_null(strstr(out.error.message, "connectc_call_options.on_message"));
  assert_true(out.n_messages > 1000 && out.n_messages < 200000);
  connectc_call_output_reset(&out);
  /* One message at a time: any length, nothing collected. */
  counter c = {0, -1};
  connectc_call_options opts = {.on_message = count_message, .on_message_arg = &c};
  typed_run(&resp, 0, 0, &lim, &opts, &out, &ms);
  assert_int_equal(out.error.code, CONNECTC_CODE_OK);
  assert_int_equal(out.n_messages, 0);
  assert_int_equal(c.n, 200000);
  assert_true(c.last == 199999.0);
  connectc_call_output_reset(&out);
  /* A deadline fires while messages keep arriving. */
  opts.timeout_ms = 500;
  c.n = 0;
  typed_run(&resp, 4096, 5, NULL, &opts, &out, &ms);
  assert_int_equal(out.error.code, CONNECTC_CODE_DEADLINE_EXCEEDED);
  assert_true(c.n > 0 && c.n < 200000);
  assert_true(ms < 1500);
  connectc_call_output_reset(&out);
  hx_buf_free(&resp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sanity),
      cmocka_unit_test(test_header_and_trailer_floods),
      cmocka_unit_test(test_receive_limit),
      cmocka_unit_test(test_end_of_stream),
      cmocka_unit_test(test_http_status),
      cmocka_unit_test(test_content_type),
      cmocka_unit_test(test_compression),
      cmocka_unit_test(test_broken_connections),
      cmocka_unit_test(test_limit_messages),
      cmocka_unit_test(test_sync_stub_streams),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
