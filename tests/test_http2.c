/* The libcurl client adapter over HTTP/2, against a real HTTP/2 server (the
 * test-only nghttp2 server in tests/h2) over loopback sockets: h2c with
 * prior knowledge, h2 over TLS with ALPN and client certificates,
 * multiplexing on one connection, full-duplex bidi with interleaved
 * messages, response trailers, the header/trailer limit, cancellation,
 * receive pauses, and the HTTP/1.1 transport refusing calls that need
 * HTTP/2. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/client.h"
#include "connectc/curl.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "h2srv.h"

#ifndef CERT_DIR
#error "CERT_DIR must point at tests/certs"
#endif

/* ---- small helpers ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* A log both sides append events to, in the order they happen. */
static char evlog[4096];
static void logf_(const char *fmt, ...) {
  pthread_mutex_lock(&mu);
  size_t n = strlen(evlog);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(evlog + n, sizeof evlog - n, fmt, ap);
  va_end(ap);
  pthread_mutex_unlock(&mu);
}

static void put_envelope(uint8_t flags, const void *p, size_t n, uint8_t *out) {
  out[0] = flags;
  out[1] = (uint8_t)(n >> 24);
  out[2] = (uint8_t)(n >> 16);
  out[3] = (uint8_t)(n >> 8);
  out[4] = (uint8_t)n;
  memcpy(out + 5, p, n);
}

static void write_envelope(h2srv_stream *s, uint8_t flags, const char *payload) {
  uint8_t buf[512];
  size_t n = strlen(payload);
  put_envelope(flags, payload, n, buf);
  h2srv_write(s, buf, n + 5);
}

/* What a request brought: its body bytes. */
typedef struct req_body {
  uint8_t data[4096];
  size_t len;
} req_body;

static req_body *body_of(h2srv_stream *s) {
  void **u = h2srv_user(s);
  if (!*u) *u = calloc(1, sizeof(req_body));
  return *u;
}

static void collect(h2srv_stream *s, const uint8_t *d, size_t n, void *ud) {
  (void)ud;
  req_body *b = body_of(s);
  if (n > sizeof b->data - b->len) n = sizeof b->data - b->len;
  memcpy(b->data + b->len, d, n);
  b->len += n;
}

static void free_user(h2srv_stream *s, uint32_t code, void *ud) {
  (void)code;
  (void)ud;
  free(*h2srv_user(s));
  *h2srv_user(s) = NULL;
}

/* ---- client side: a recorded call ---- */

typedef struct rec {
  char headers[512]; /* "name=value;" of every response header */
  int n;
  char msgs[16][64];
  int closed;
  connectc_code code;
  char message[512];
  char trailers[512]; /* "name=value;" */
  size_t n_trailers;
  /* full duplex */
  connectc_curl *t;
  int send_total;  /* messages to send, one per response */
  int sent;
  int send_closed;
  int recv_while_open; /* responses that arrived while the send side was open */
} rec;

static void list_headers(const connectc_headers *h, char *out, size_t cap) {
  out[0] = 0;
  for (size_t i = 0; i < h->len; i++) {
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s=%s;", h->items[i].name, h->items[i].value);
  }
}

static int r_headers(connectc_client_call *c, const connectc_headers *h, void *ud) {
  (void)c;
  list_headers(h, ((rec *)ud)->headers, sizeof ((rec *)ud)->headers);
  return 0;
}

static void send_next(connectc_client_call *c, rec *r) {
  char m[32];
  snprintf(m, sizeof m, "m%d", r->sent);
  logf_("client sends %s;", m);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)m, strlen(m)), CONNECTC_OK);
  r->sent++;
  if (r->t) connectc_curl_wake(r->t, c);
}

static int r_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  rec *r = ud;
  if (r->n < 16 && len < 64) {
    memcpy(r->msgs[r->n], data, len);
    r->msgs[r->n][len] = 0;
  }
  r->n++;
  logf_("client got %.*s;", (int)len, (const char *)data);
  if (r->send_total) {
    if (!r->send_closed) r->recv_while_open++;
    if (r->sent < r->send_total) {
      send_next(c, r);
    } else if (!r->send_closed) {
      logf_("client closes;");
      r->send_closed = 1;
      connectc_client_call_close_send(c);
      connectc_curl_wake(r->t, c);
    }
  }
  return 0;
}

static void r_close(connectc_client_call *c, const connectc_error *err,
                    const connectc_headers *trailers, void *ud) {
  (void)c;
  rec *r = ud;
  r->closed = 1;
  r->code = err->code;
  snprintf(r->message, sizeof r->message, "%s", err->message ? err->message : "");
  list_headers(trailers, r->trailers, sizeof r->trailers);
  r->n_trailers = trailers->len;
}

static const connectc_client_callbacks rec_cb = {r_headers, r_message, r_close};

static connectc_client_call *new_call(const char *procedure, connectc_stream_type st,
                                      int full_duplex, rec *r) {
  memset(r, 0, sizeof *r);
  r->code = (connectc_code)-1;
  connectc_client_config cfg = {.procedure = procedure,
                                .stream_type = st,
                                .codec = "proto",
                                .timeout_ms = 10000,
                                .full_duplex = full_duplex};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &rec_cb, r, NULL, connectc_curl_now_ms(), &c),
                   CONNECTC_OK);
  return c;
}

static connectc_curl *transport(const char *scheme, int port, connectc_curl_http_version v) {
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:%d", scheme, port);
  connectc_curl_config cfg = {.base_url = url, .http_version = v};
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  return t;
}

static void poll_until_idle(connectc_curl *t) {
  int64_t end = connectc_curl_now_ms() + 15000;
  while (connectc_curl_running(t) && connectc_curl_now_ms() < end) connectc_curl_poll(t, 100);
  assert_int_equal(connectc_curl_running(t), 0);
}

/* ---- an upper-casing unary echo that records what it was sent ---- */

static char seen_headers[1024];

static void unary_end(h2srv_stream *s, void *ud) {
  (void)ud;
  seen_headers[0] = 0;
  for (size_t i = 0; i < h2srv_header_count(s); i++) {
    const char *n, *v;
    h2srv_header_at(s, i, &n, &v);
    if (strcmp(n, "user-agent") == 0 || strcmp(n, ":authority") == 0) continue;
    size_t k = strlen(seen_headers);
    snprintf(seen_headers + k, sizeof seen_headers - k, "%s=%s;", n, v);
  }
  req_body *b = body_of(s);
  for (size_t i = 0; i < b->len; i++)
    if (b->data[i] >= 'a' && b->data[i] <= 'z') b->data[i] = (uint8_t)(b->data[i] - 32);
  static const char *const h[] = {"content-type", "application/proto", "x-served", "h2", NULL};
  h2srv_respond(s, 200, h, 0);
  h2srv_write(s, b->data, b->len);
  h2srv_finish(s, NULL);
}

static const h2srv_handler unary_echo = {NULL, collect, unary_end, free_user};

static void run_unary(connectc_curl *t, const char *msg, rec *r) {
  connectc_client_call *c = new_call("/test.v1.Echo/Say", CONNECTC_STREAM_UNARY, 0, r);
  assert_int_equal(connectc_client_call_add_header(c, "X-Mixed-Case", "v"), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)msg, strlen(msg)), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  connectc_client_call_del(c);
}

/* h2c by prior knowledge: the request goes out as HTTP/2 with the call's
 * head (lower-case names, no chunked encoding), and calls in a row reuse
 * the one connection. */
static void test_h2c_unary(void **state) {
  (void)state;
  h2srv *srv = h2srv_start(&unary_echo, NULL, NULL);
  assert_non_null(srv);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  rec r;
  run_unary(t, "hello", &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.msgs[0], "HELLO");
  assert_string_equal(r.headers, "content-type=application/proto;x-served=h2;");
  char want[512]; /* the accepted encodings are this build's */
  snprintf(want, sizeof want,
           ":method=POST;:path=/test.v1.Echo/Say;:scheme=http;x-mixed-case=v;"
           "content-type=application/proto;connect-protocol-version=1;"
           "connect-timeout-ms=10000;accept-encoding=%s;content-length=5;",
           connectc_compressions_accept_header());
  assert_string_equal(seen_headers, want);
  run_unary(t, "again", &r);
  assert_string_equal(r.msgs[0], "AGAIN");
  assert_int_equal(h2srv_connections(srv), 1);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* ---- multiplexing: the server answers only once N streams are open ---- */

#define N_CONCURRENT 16

typedef struct gate {
  h2srv_stream *waiting[4][N_CONCURRENT];
  int n[4];
} gate;

static void gate_end(h2srv_stream *s, void *ud) {
  gate *g = ud;
  int ci = h2srv_conn_index(s);
  if (ci >= 4) return;
  g->waiting[ci][g->n[ci]++] = s;
  if (g->n[ci] < N_CONCURRENT) return; /* every call must be open at once */
  static const char *const h[] = {"content-type", "application/proto", NULL};
  for (int i = 0; i < N_CONCURRENT; i++) {
    h2srv_stream *w = g->waiting[ci][i];
    req_body *b = body_of(w);
    h2srv_respond(w, 200, h, 0);
    h2srv_write(w, b->data, b->len);
    h2srv_finish(w, NULL);
  }
  g->n[ci] = 0;
}

/* N calls started together are N streams of one connection: the server
 * holds every answer until all N are open on one connection, so calls on
 * separate connections, or one after another, would never finish. */
static void test_h2c_multiplex(void **state) {
  (void)state;
  gate g;
  memset(&g, 0, sizeof g);
  h2srv_handler h = {NULL, collect, gate_end, free_user};
  h2srv *srv = h2srv_start(&h, &g, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  for (int round = 0; round < 2; round++) {
    rec r[N_CONCURRENT];
    connectc_client_call *c[N_CONCURRENT];
    for (int i = 0; i < N_CONCURRENT; i++) {
      c[i] = new_call("/test.v1.Echo/Say", CONNECTC_STREAM_UNARY, 0, &r[i]);
      char m[16];
      snprintf(m, sizeof m, "call%d", i);
      assert_int_equal(connectc_client_call_send(c[i], (const uint8_t *)m, strlen(m)), CONNECTC_OK);
      assert_int_equal(connectc_curl_start(t, c[i]), CONNECTC_OK);
    }
    poll_until_idle(t);
    for (int i = 0; i < N_CONCURRENT; i++) {
      char m[16];
      snprintf(m, sizeof m, "call%d", i);
      assert_int_equal(r[i].code, CONNECTC_CODE_OK);
      assert_string_equal(r[i].msgs[0], m);
      connectc_client_call_del(c[i]);
    }
  }
  assert_int_equal(h2srv_connections(srv), 1);
  assert_int_equal(h2srv_max_open_streams(srv), N_CONCURRENT);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* ---- full duplex: a Connect bidi echo that answers each message as it
 * arrives, with the request body still open ---- */

static void pp_request(h2srv_stream *s, void *ud) {
  (void)ud;
  static const char *const h[] = {"content-type", "application/connect+proto", NULL};
  h2srv_respond(s, 200, h, 0); /* headers at once, as a full-duplex server does */
}

static void pp_data(h2srv_stream *s, const uint8_t *d, size_t n, void *ud) {
  collect(s, d, n, ud);
  req_body *b = body_of(s);
  while (b->len >= 5) {
    size_t mlen = (size_t)b->data[1] << 24 | (size_t)b->data[2] << 16 | (size_t)b->data[3] << 8 |
                  b->data[4];
    if (b->len < 5 + mlen) break;
    char m[64], reply[80];
    snprintf(m, sizeof m, "%.*s", (int)mlen, (const char *)b->data + 5);
    logf_("server got %s;", m);
    snprintf(reply, sizeof reply, "echo:%s", m);
    write_envelope(s, 0, reply);
    memmove(b->data, b->data + 5 + mlen, b->len - 5 - mlen);
    b->len -= 5 + mlen;
  }
}

static void pp_end(h2srv_stream *s, void *ud) {
  (void)ud;
  logf_("server end;");
  write_envelope(s, 2, "{}");
  h2srv_finish(s, NULL);
}

static const h2srv_handler ping_pong = {pp_request, pp_data, pp_end, free_user};

/* Each response arrives before the client sends its next request, while
 * the request body is still open: the client sends m(i+1) only from the
 * callback that delivered echo:m(i). */
static void test_h2c_full_duplex_interleaves(void **state) {
  (void)state;
  h2srv *srv = h2srv_start(&ping_pong, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  evlog[0] = 0;
  rec r;
  connectc_client_call *c = new_call("/test.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 1, &r);
  r.t = t;
  r.send_total = 4;
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  send_next(c, &r);
  poll_until_idle(t);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.message, "");
  assert_int_equal(r.n, 4);
  assert_int_equal(r.recv_while_open, 4);
  assert_string_equal(evlog,
                      "client sends m0;server got m0;client got echo:m0;"
                      "client sends m1;server got m1;client got echo:m1;"
                      "client sends m2;server got m2;client got echo:m2;"
                      "client sends m3;server got m3;client got echo:m3;"
                      "client closes;server end;");
  connectc_client_call_del(c);
  assert_int_equal(h2srv_connections(srv), 1);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* The same through the typed asynchronous layer: connectc_call_options
 * .full_duplex, sends from on_message, close-send at the end. */
typedef struct typed_pp {
  connectc_async_call *st;
  connectc_curl *t;
  int got, sent, closed;
  connectc_code code;
  char last[64];
} typed_pp;

static void tp_send(typed_pp *p) {
  char m[16];
  snprintf(m, sizeof m, "t%d", p->sent++);
  Google__Protobuf__StringValue v = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
  v.value = m;
  logf_("client sends %s;", m);
  assert_int_equal(connectc_async_call_send(p->st, &v.base), CONNECTC_OK);
}

static void tp_message(connectc_async_call *st, ProtobufCMessage *m, void *ud) {
  typed_pp *p = ud;
  Google__Protobuf__StringValue *v = (Google__Protobuf__StringValue *)m;
  snprintf(p->last, sizeof p->last, "%s", v->value);
  connectc_message_free(m, connectc_async_call_allocator(st));
  p->got++;
  if (p->sent < 3) {
    tp_send(p);
  } else {
    logf_("client closes;");
    assert_int_equal(connectc_async_call_close_send(st), CONNECTC_OK);
  }
}

static void tp_close(connectc_async_call *st, const connectc_error *e, const connectc_headers *tr,
                     void *ud) {
  (void)st;
  (void)tr;
  typed_pp *p = ud;
  p->closed = 1;
  p->code = e->code;
}

/* The typed echo: a StringValue in, "echo:" + value out (hand-encoded). */
static void tpp_data(h2srv_stream *s, const uint8_t *d, size_t n, void *ud) {
  collect(s, d, n, ud);
  req_body *b = body_of(s);
  while (b->len >= 5) {
    size_t mlen = (size_t)b->data[3] << 8 | b->data[4];
    if (b->len < 5 + mlen) break;
    /* field 1, length-delimited: 0x0a, len, bytes */
    char m[64];
    snprintf(m, sizeof m, "%.*s", (int)b->data[6], (const char *)b->data + 7);
    logf_("server got %s;", m);
    uint8_t reply[80], env[96];
    int rl = snprintf((char *)reply + 2, sizeof reply - 2, "echo:%s", m);
    reply[0] = 0x0a;
    reply[1] = (uint8_t)rl;
    put_envelope(0, reply, (size_t)rl + 2, env);
    h2srv_write(s, env, (size_t)rl + 7);
    memmove(b->data, b->data + 5 + mlen, b->len - 5 - mlen);
    b->len -= 5 + mlen;
  }
}

static void test_h2c_typed_async_full_duplex(void **state) {
  (void)state;
  h2srv_handler h = {pp_request, tpp_data, pp_end, free_user};
  h2srv *srv = h2srv_start(&h, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  connectc_client client;
  connectc_client_init(&client, connectc_curl_transport(t));
  static const connectc_method_desc m = {"/test.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 0};
  connectc_call_options opts = {.timeout_ms = 10000, .full_duplex = 1};
  typed_pp p;
  memset(&p, 0, sizeof p);
  p.t = t;
  connectc_async_call_callbacks cb = {NULL, tp_message, tp_close, NULL, 0};
  evlog[0] = 0;
  assert_int_equal(connectc_async_call_new(&client, &m, &google__protobuf__string_value__descriptor,
                                           &opts, &cb, &p, &p.st),
                   CONNECTC_OK);
  tp_send(&p);
  poll_until_idle(t);
  assert_int_equal(p.closed, 1);
  assert_int_equal(p.code, CONNECTC_CODE_OK);
  assert_int_equal(p.got, 3);
  assert_string_equal(p.last, "echo:t2");
  assert_string_equal(evlog,
                      "client sends t0;server got t0;client sends t1;server got t1;"
                      "client sends t2;server got t2;client closes;server end;");
  connectc_async_call_del(p.st);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* The server answers the first message and ends the stream, with
 * trailers, while the client's request body is still open (paused, the
 * client never closes it), then resets the stream with NO_ERROR as Go's
 * server does: the trailers end the response, so the call closes at once.
 * (libcurl 7.88 by itself would report the transfer done only after the
 * upload ended, and it hands over HTTP/2 trailers only once the stream is
 * closed on both sides, hence the reset.) */
static void early_data(h2srv_stream *s, const uint8_t *d, size_t n, void *ud) {
  (void)d;
  (void)n;
  (void)ud;
  if (*h2srv_user(s)) return; /* answered already */
  *h2srv_user(s) = s;
  logf_("server got a message;");
  write_envelope(s, 0, "only");
  write_envelope(s, 2, "{}");
  static const char *const tr[] = {"x-done", "early", NULL};
  h2srv_finish(s, tr);
  h2srv_reset_after_end(s);
}

static void test_h2c_full_duplex_server_ends_first(void **state) {
  (void)state;
  h2srv_handler h = {pp_request, early_data, NULL, NULL};
  h2srv *srv = h2srv_start(&h, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  evlog[0] = 0;
  rec r;
  connectc_client_call *c = new_call("/test.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 1, &r);
  r.t = t;
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  send_next(c, &r);
  int64_t t0 = connectc_curl_now_ms();
  poll_until_idle(t);
  assert_true(connectc_curl_now_ms() - t0 < 5000); /* not the 10 s deadline */
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.msgs[0], "only");
  assert_string_equal(r.trailers, "x-done=early;");
  assert_string_equal(evlog, "client sends m0;server got a message;client got only;");
  connectc_client_call_del(c);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* ---- trailers ---- */

typedef enum trailer_mode { TR_AFTER_BODY, TR_ONLY, TR_NO_BODY, TR_CONTENT_LENGTH } trailer_mode;

static void tr_end(h2srv_stream *s, void *ud) {
  trailer_mode mode = *(trailer_mode *)ud;
  static const char *const h[] = {"content-type", "application/connect+proto", "x-head", "h",
                                  NULL};
  static const char *const tr[] = {"x-http-trailer", "t1", "x-other", "t2", NULL};
  if (mode == TR_ONLY) { /* HEADERS with END_STREAM: no body, no trailers */
    h2srv_respond(s, 200, h, 1);
    return;
  }
  if (mode == TR_CONTENT_LENGTH) { /* a body of known length, then trailers */
    static const char *const hl[] = {"content-type", "application/connect+proto",
                                     "content-length", "39", NULL};
    h2srv_respond(s, 200, hl, 0);
    write_envelope(s, 0, "a");
    write_envelope(s, 2, "{\"metadata\":{\"x-end\":[\"e\"]}}");
    h2srv_finish(s, tr);
    return;
  }
  h2srv_respond(s, 200, h, 0);
  if (mode == TR_AFTER_BODY) {
    write_envelope(s, 0, "a");
    write_envelope(s, 2, "{\"metadata\":{\"x-end\":[\"e\"]}}");
  }
  h2srv_finish(s, tr); /* TR_NO_BODY: HEADERS, then trailers, no DATA */
}

/* HTTP/2 trailers reach the call before its end: a Connect stream merges
 * them after its end-of-stream metadata. A trailers-only response passes
 * none, and headers-then-trailers without a body passes the trailers:
 * the two stay distinguishable, as gRPC needs. */
static void test_h2c_trailers(void **state) {
  (void)state;
  trailer_mode mode = TR_AFTER_BODY;
  h2srv_handler h = {NULL, collect, tr_end, free_user};
  h2srv *srv = h2srv_start(&h, &mode, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  rec r;
  connectc_client_call *c = new_call("/test.v1.Echo/List", CONNECTC_STREAM_SERVER, 0, &r);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.msgs[0], "a");
  assert_string_equal(r.headers, "content-type=application/connect+proto;x-head=h;");
  assert_string_equal(r.trailers, "x-end=e;x-http-trailer=t1;x-other=t2;");
  connectc_client_call_del(c);

  mode = TR_ONLY;
  c = new_call("/test.v1.Echo/List", CONNECTC_STREAM_SERVER, 0, &r);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_int_equal(r.code, CONNECTC_CODE_INTERNAL);
  assert_string_equal(r.message,
                      "protocol error: the response ended without an end-of-stream message");
  assert_string_equal(r.headers, "content-type=application/connect+proto;x-head=h;");
  assert_string_equal(r.trailers, "");
  connectc_client_call_del(c);

  mode = TR_NO_BODY;
  c = new_call("/test.v1.Echo/List", CONNECTC_STREAM_SERVER, 0, &r);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_int_equal(r.code, CONNECTC_CODE_INTERNAL);
  assert_string_equal(r.headers, "content-type=application/connect+proto;x-head=h;");
  assert_string_equal(r.trailers, "x-http-trailer=t1;x-other=t2;");
  connectc_client_call_del(c);

  /* A Content-Length does not end an HTTP/2 response before its trailers
   * (libcurl stops reading at that length unless told to ignore it). */
  mode = TR_CONTENT_LENGTH;
  c = new_call("/test.v1.Echo/List", CONNECTC_STREAM_SERVER, 0, &r);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], "a");
  assert_string_equal(r.headers, "content-type=application/connect+proto;content-length=39;");
  assert_string_equal(r.trailers, "x-end=e;x-http-trailer=t1;x-other=t2;");
  connectc_client_call_del(c);
  assert_int_equal(h2srv_connections(srv), 1);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* ---- large trailers ---- */

static int flood_lines;
static char flood_value[1001];

static void flood_end(h2srv_stream *s, void *ud) {
  (void)ud;
  if (strcmp(h2srv_header(s, ":path", NULL), "/test.v1.Echo/Say") == 0) {
    unary_end(s, NULL);
    return;
  }
  static const char *const h[] = {"content-type", "application/connect+proto", NULL};
  h2srv_respond(s, 200, h, 0);
  write_envelope(s, 2, "{}");
  static char names[200][16];
  static const char *tr[2 * 200 + 1];
  for (int i = 0; i < flood_lines; i++) {
    snprintf(names[i], sizeof names[i], "x-t%03d", i);
    tr[2 * i] = names[i];
    tr[2 * i + 1] = flood_value;
  }
  tr[2 * flood_lines] = NULL;
  h2srv_finish(s, tr);
}

/* Over HTTP/2, libcurl 7.88 buffers a header block and a trailer block
 * in at most 128 KiB each before the adapter sees a line (so the
 * adapter's 256 KiB limit for both, CONNECTC_CURL_MAX_HEADER_BYTES, is
 * never the one reached): 100 KB of trailers arrive whole; 141 KB fail
 * the connection (the call ends with unavailable), and the next call
 * opens a new one. */
static void test_h2c_large_trailers(void **state) {
  (void)state;
  memset(flood_value, 'a', 1000);
  h2srv_handler h = {NULL, collect, flood_end, free_user};
  h2srv *srv = h2srv_start(&h, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  rec r;
  flood_lines = 100; /* 100 x 1010 bytes as "x-tNNN: <1000 bytes>\r\n" */
  connectc_client_call *c = new_call("/test.v1.Echo/List", CONNECTC_STREAM_SERVER, 0, &r);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n_trailers, 100);
  assert_int_equal(strncmp(r.trailers, "x-t000=aaaa", 11), 0);
  connectc_client_call_del(c);
  flood_lines = 140;
  c = new_call("/test.v1.Echo/List", CONNECTC_STREAM_SERVER, 0, &r);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_int_equal(r.code, CONNECTC_CODE_UNAVAILABLE);
  assert_string_equal(r.message, "Failure when receiving data from the peer");
  assert_int_equal(r.n_trailers, 0);
  connectc_client_call_del(c);
  rec u;
  run_unary(t, "next", &u);
  assert_int_equal(u.code, CONNECTC_CODE_OK);
  assert_string_equal(u.msgs[0], "NEXT");
  assert_int_equal(h2srv_connections(srv), 2);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* ---- cancel resets one stream, not the connection ---- */

static uint32_t reset_code = 0xffffffffu;

static void hold_end(h2srv_stream *s, void *ud) {
  (void)ud;
  if (strcmp(h2srv_header(s, ":path", NULL), "/test.v1.Echo/Say") == 0) {
    unary_end(s, NULL);
    return;
  }
  static const char *const h[] = {"content-type", "application/connect+proto", NULL};
  h2srv_respond(s, 200, h, 0);
  write_envelope(s, 0, "first"); /* and never an end */
}

static void hold_close(h2srv_stream *s, uint32_t code, void *ud) {
  if (strcmp(h2srv_header(s, ":path", NULL), "/test.v1.Echo/List") == 0) reset_code = code;
  free_user(s, code, ud);
}

static int cancel_on_message(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  r_message(c, d, n, ud);
  return 1; /* cancels the call */
}

static void test_h2c_cancel_keeps_connection(void **state) {
  (void)state;
  h2srv_handler h = {NULL, collect, hold_end, hold_close};
  h2srv *srv = h2srv_start(&h, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  rec r;
  memset(&r, 0, sizeof r);
  connectc_client_callbacks cb = {r_headers, cancel_on_message, r_close};
  connectc_client_config cfg = {.procedure = "/test.v1.Echo/List",
                                .stream_type = CONNECTC_STREAM_SERVER,
                                .codec = "proto",
                                .timeout_ms = 10000};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &cb, &r, NULL, connectc_curl_now_ms(), &c),
                   CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_int_equal(r.code, CONNECTC_CODE_CANCELED);
  assert_string_equal(r.message, "call canceled by the on_message callback");
  connectc_client_call_del(c);
  /* The next call shares the connection. */
  rec u;
  run_unary(t, "after", &u);
  assert_int_equal(u.code, CONNECTC_CODE_OK);
  assert_string_equal(u.msgs[0], "AFTER");
  assert_int_equal(h2srv_connections(srv), 1);
  connectc_curl_del(t);
  h2srv_stop(srv);
  /* RST_STREAM: libcurl 7.88 sends STREAM_CLOSED (5), later ones CANCEL (8). */
  assert_true(reset_code == 5 || reset_code == 8);
}

/* ---- receive backpressure: a paused call stops libcurl reading ---- */

/* Flood: FLOOD_N numbered messages of FLOOD_MSG bytes ("m000000...") and
 * an end with an HTTP trailer, all queued at once (the server sends as
 * flow control and TCP let it: h2srv_body_bytes says how far it got).
 * Burst: five small messages, an error end and a trailer, in one write.
 * Say: the unary echo. */
enum { FLOOD_MSG = 1000, FLOOD_N = 16000 };

static void bp_end(h2srv_stream *s, void *ud) {
  const char *path = h2srv_header(s, ":path", NULL);
  if (strcmp(path, "/test.v1.Echo/Say") == 0) {
    unary_end(s, ud);
    return;
  }
  /* The request body is not needed: freed now, since a server stopped
   * mid-stream fires no on_close (test_h2c_server_gone_while_paused). */
  free(*h2srv_user(s));
  *h2srv_user(s) = NULL;
  static const char *const h[] = {"content-type", "application/connect+proto", NULL};
  h2srv_respond(s, 200, h, 0);
  int flood = strcmp(path, "/test.v1.Echo/Flood") == 0;
  size_t each = flood ? FLOOD_MSG : 7;
  int count = flood ? FLOOD_N : 5;
  uint8_t *all = malloc((size_t)count * (each + 5));
  uint8_t msg[FLOOD_MSG];
  memset(msg, '.', sizeof msg);
  for (int i = 0; i < count; i++) {
    char num[8];
    snprintf(num, sizeof num, "m%06d", i);
    memcpy(msg, num, 7);
    put_envelope(0, msg, each, all + (size_t)i * (each + 5));
  }
  h2srv_write(s, all, (size_t)count * (each + 5));
  free(all);
  static const char *const flood_tr[] = {"x-flood", "done", NULL};
  static const char *const burst_tr[] = {"x-flood", "burst", NULL};
  if (flood) {
    write_envelope(s, 2, "{}");
  } else {
    write_envelope(s, 2, "{\"error\":{\"code\":\"aborted\",\"message\":\"burst over\"}}");
  }
  h2srv_finish(s, flood ? flood_tr : burst_tr);
}

/* Pauses its call after every `every` messages and checks they come in
 * order. */
typedef struct paced {
  int every;
  int n;
  int out_of_order;
  int paused; /* paused from on_message, not resumed yet */
  int closed;
  connectc_code code;
  char message[128];
  char trailers[128];
} paced;

static int pc_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  paced *p = ud;
  char want[8];
  snprintf(want, sizeof want, "m%06d", p->n);
  if (p->paused || len < 7 || memcmp(data, want, 7) != 0) p->out_of_order++;
  p->n++;
  if (p->n % p->every == 0) {
    connectc_client_call_pause_recv(c);
    p->paused = 1;
  }
  return 0;
}

static void pc_close(connectc_client_call *c, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)c;
  paced *p = ud;
  p->closed = 1;
  p->code = err->code;
  snprintf(p->message, sizeof p->message, "%s", err->message ? err->message : "");
  list_headers(trailers, p->trailers, sizeof p->trailers);
}

static connectc_client_call *paced_new(const char *procedure, paced *p, int every) {
  static const connectc_client_callbacks cb = {NULL, pc_message, pc_close};
  memset(p, 0, sizeof *p);
  p->code = (connectc_code)-1;
  p->every = every;
  connectc_client_config cfg = {.procedure = procedure,
                                .stream_type = CONNECTC_STREAM_SERVER,
                                .codec = "proto",
                                .timeout_ms = 20000};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &cb, p, NULL, connectc_curl_now_ms(), &c),
                   CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  return c;
}

/* Drives the transport for `ms` of a pause: nothing may arrive. */
static void poll_paused(connectc_curl *t, paced *p, int64_t ms) {
  int at = p->n;
  int64_t end = connectc_curl_now_ms() + ms;
  while (connectc_curl_now_ms() < end) connectc_curl_poll(t, 5);
  assert_int_equal(p->n, at);
  assert_false(p->closed);
}

/* The server's 16 MB stream against a client that pauses after every
 * 1000 messages for 30 ms: while paused nothing arrives, and the server
 * gets stuck well before its end (libcurl stops reading the connection;
 * see the README); every message arrives in order, then the end with its
 * trailer. */
static void test_h2c_pause_slows_the_server(void **state) {
  (void)state;
  h2srv_handler h = {NULL, collect, bp_end, free_user};
  h2srv *srv = h2srv_start(&h, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  paced p;
  connectc_client_call *c = paced_new("/test.v1.Echo/Flood", &p, 1000);
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  const uint64_t total = (uint64_t)FLOOD_N * (FLOOD_MSG + 5);
  int pauses = 0;
  int64_t end = connectc_curl_now_ms() + 20000;
  while (connectc_curl_running(t) && connectc_curl_now_ms() < end) {
    connectc_curl_poll(t, 10);
    if (!p.paused) continue;
    assert_int_equal(p.n % 1000, 0);
    if (pauses == 0) {
      /* Until the server has sent nothing for 100 ms (at most 5 s). */
      uint64_t last = UINT64_MAX;
      int64_t since = 0, start = connectc_curl_now_ms();
      while (connectc_curl_now_ms() - start < 5000) {
        connectc_curl_poll(t, 10);
        uint64_t b = h2srv_body_bytes(srv);
        int64_t now = connectc_curl_now_ms();
        if (b != last) {
          last = b;
          since = now;
        } else if (now - since >= 100) {
          break;
        }
      }
      assert_int_equal(p.n, 1000);
      /* About 5 MB here (what libcurl's stream window and the socket
       * buffers let through); machines differ, so only: the server stopped
       * before the end of its 16 MB stream. */
      assert_true(last < total);
    }
    poll_paused(t, &p, 30);
    pauses++;
    p.paused = 0;
    connectc_client_call_resume_recv(c);
    if (pauses % 2) connectc_curl_wake(t, c); /* else the next poll notices */
  }
  assert_int_equal(connectc_curl_running(t), 0);
  assert_int_equal(p.out_of_order, 0);
  assert_int_equal(p.n, FLOOD_N);
  assert_int_equal(pauses, FLOOD_N / 1000);
  assert_int_equal(p.code, CONNECTC_CODE_OK);
  assert_string_equal(p.trailers, "x-flood=done;");
  connectc_client_call_del(c);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* The whole response (messages, the end-of-stream message, the HTTP
 * trailers) arrives at once while the client pauses after every message:
 * the end waits behind the held bytes and comes after the last message,
 * with the error and the trailer. */
static void test_h2c_end_behind_held_bytes(void **state) {
  (void)state;
  h2srv_handler h = {NULL, collect, bp_end, free_user};
  h2srv *srv = h2srv_start(&h, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  paced p;
  connectc_client_call *c = paced_new("/test.v1.Echo/Burst", &p, 1);
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  int pauses = 0;
  int64_t end = connectc_curl_now_ms() + 10000;
  while (connectc_curl_running(t) && connectc_curl_now_ms() < end) {
    connectc_curl_poll(t, 5);
    if (!p.paused) continue;
    assert_int_equal(p.n, pauses + 1);
    poll_paused(t, &p, 30);
    pauses++;
    p.paused = 0;
    connectc_client_call_resume_recv(c);
    connectc_curl_wake(t, c);
  }
  assert_int_equal(connectc_curl_running(t), 0);
  assert_int_equal(pauses, 5);
  assert_int_equal(p.n, 5);
  assert_int_equal(p.out_of_order, 0);
  assert_int_equal(p.code, CONNECTC_CODE_ABORTED);
  assert_string_equal(p.message, "burst over");
  assert_string_equal(p.trailers, "x-flood=burst;");
  connectc_client_call_del(c);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* Canceling a paused call ends it at once and resets its stream only: the
 * next call goes over the same connection. */
static void test_h2c_cancel_while_paused(void **state) {
  (void)state;
  h2srv_handler h = {NULL, collect, bp_end, free_user};
  h2srv *srv = h2srv_start(&h, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  paced p;
  connectc_client_call *c = paced_new("/test.v1.Echo/Flood", &p, 1000);
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  int64_t end = connectc_curl_now_ms() + 10000;
  while (!p.paused && connectc_curl_now_ms() < end) connectc_curl_poll(t, 10);
  assert_true(p.paused);
  poll_paused(t, &p, 30);
  connectc_client_call_cancel(c);
  connectc_curl_wake(t, c);
  assert_int_equal(connectc_curl_running(t), 0);
  assert_int_equal(p.code, CONNECTC_CODE_CANCELED);
  assert_int_equal(p.n, 1000);
  assert_int_equal(p.out_of_order, 0);
  connectc_client_call_del(c);
  rec u;
  run_unary(t, "after", &u);
  assert_int_equal(u.code, CONNECTC_CODE_OK);
  assert_string_equal(u.msgs[0], "AFTER");
  assert_int_equal(h2srv_connections(srv), 1);
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* The server goes away while a call is paused: the call hears nothing
 * until it is resumed, then gets the messages that had arrived, in order,
 * and only then the failure. */
static void test_h2c_server_gone_while_paused(void **state) {
  (void)state;
  h2srv_handler h = {NULL, collect, bp_end, free_user};
  h2srv *srv = h2srv_start(&h, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_2);
  paced p;
  connectc_client_call *c = paced_new("/test.v1.Echo/Flood", &p, 1000);
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  int64_t end = connectc_curl_now_ms() + 10000;
  while (!p.paused && connectc_curl_now_ms() < end) connectc_curl_poll(t, 10);
  assert_true(p.paused);
  h2srv_stop(srv);
  poll_paused(t, &p, 200);
  while (connectc_curl_running(t) && connectc_curl_now_ms() < end) {
    if (p.paused) {
      p.paused = 0;
      connectc_client_call_resume_recv(c);
      connectc_curl_wake(t, c);
    }
    connectc_curl_poll(t, 10);
  }
  assert_int_equal(connectc_curl_running(t), 0);
  assert_int_equal(p.out_of_order, 0);
  assert_true(p.n >= 1000);
  assert_true(p.n < FLOOD_N);
  assert_int_equal(p.code, CONNECTC_CODE_UNAVAILABLE);
  /* libcurl's words depend on where in the stream it noticed. */
  assert_true(strcmp(p.message, "Failure when receiving data from the peer") == 0 ||
              strcmp(p.message, "Transferred a partial file") == 0);
  connectc_client_call_del(c);
  connectc_curl_del(t);
}

/* ---- HTTP/1.1 refuses what needs HTTP/2, before sending anything ---- */

static void test_http1_refuses_http2_calls(void **state) {
  (void)state;
  h2srv *srv = h2srv_start(&unary_echo, NULL, NULL);
  connectc_curl *t = transport("http", h2srv_port(srv), CONNECTC_CURL_HTTP_1_1);
  rec r;
  connectc_client_call *c = new_call("/test.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 1, &r);
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_ERR_UNSUPPORTED);
  assert_int_equal(r.closed, 1);
  assert_int_equal(r.code, CONNECTC_CODE_UNIMPLEMENTED);
  assert_string_equal(r.message,
                      "full-duplex bidi needs HTTP/2: this transport is configured for HTTP/1.1 "
                      "(over HTTP/1.1 a bidi call is half duplex)");
  assert_int_equal(connectc_curl_running(t), 0);
  connectc_client_call_del(c);

  /* gRPC: refused the same way once the core speaks it; until then the
   * core itself refuses to create the call. */
  connectc_client_config cfg = {.procedure = "/test.v1.Echo/Say",
                                .stream_type = CONNECTC_STREAM_UNARY,
                                .codec = "proto",
                                .protocol = CONNECTC_PROTOCOL_GRPC};
  memset(&r, 0, sizeof r);
  c = NULL;
  int rv = connectc_client_call_new(&cfg, &rec_cb, &r, NULL, connectc_curl_now_ms(), &c);
  if (rv == CONNECTC_OK) {
    assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"x", 1), CONNECTC_OK);
    assert_int_equal(connectc_curl_start(t, c), CONNECTC_ERR_UNSUPPORTED);
    assert_int_equal(r.code, CONNECTC_CODE_UNIMPLEMENTED);
    assert_string_equal(r.message, "gRPC needs HTTP/2: this transport is configured for HTTP/1.1");
    connectc_client_call_del(c);
  } else {
    assert_int_equal(rv, CONNECTC_ERR_UNSUPPORTED);
  }

  /* The typed layer: the synchronous bidi is half duplex and runs; the
   * asynchronous full-duplex one is refused by connectc_async_call_new. */
  connectc_client client;
  connectc_client_init(&client, connectc_curl_transport(t));
  static const connectc_method_desc m = {"/test.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 0};
  connectc_call_options opts = {.full_duplex = 1};
  connectc_async_call_callbacks cb = {NULL, NULL, NULL, NULL, 0};
  connectc_async_call *st = (connectc_async_call *)&opts;
  assert_int_equal(connectc_async_call_new(&client, &m, &google__protobuf__string_value__descriptor,
                                           &opts, &cb, NULL, &st),
                   CONNECTC_ERR_UNSUPPORTED);
  assert_null(st);
  assert_int_equal(h2srv_connections(srv), 0); /* nothing was sent */
  connectc_curl_del(t);
  h2srv_stop(srv);
}

/* ---- h2 over TLS: ALPN and client certificates ---- */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static connectc_curl *tls_transport(int port, connectc_curl_http_version v, int with_cert,
                                    char *ca, char *cert, char *key) {
  char url[64];
  snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
  connectc_curl_config cfg = {.base_url = url,
                              .ca_pem = ca,
                              .ca_pem_len = strlen(ca),
                              .http_version = v};
  if (with_cert) {
    cfg.client_cert_pem = cert;
    cfg.client_cert_pem_len = strlen(cert);
    cfg.client_key_pem = key;
    cfg.client_key_pem_len = strlen(key);
  }
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  return t;
}

static void test_h2_tls_alpn_client_cert(void **state) {
  (void)state;
  h2srv_tls tls = {CERT_DIR "/server.pem", CERT_DIR "/server.key", CERT_DIR "/client.pem"};
  h2srv *srv = h2srv_start(&unary_echo, NULL, &tls);
  assert_non_null(srv);
  char *ca = slurp(CERT_DIR "/ca.pem"), *cert = slurp(CERT_DIR "/client.pem"),
       *key = slurp(CERT_DIR "/client.key");
  char alpn[32], cn[256];

  /* HTTP/2 with the client certificate: ALPN h2, the server verified it. */
  connectc_curl *t = tls_transport(h2srv_port(srv), CONNECTC_CURL_HTTP_2, 1, ca, cert, key);
  rec r;
  run_unary(t, "secret", &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], "SECRET");
  h2srv_last_tls(srv, alpn, sizeof alpn, cn, sizeof cn);
  assert_string_equal(alpn, "h2");
  assert_string_equal(cn, "connectc test client");
  /* Full duplex over TLS too. */
  connectc_curl_del(t);

  /* Without it the server refuses the handshake: unavailable. */
  t = tls_transport(h2srv_port(srv), CONNECTC_CURL_HTTP_2, 0, ca, cert, key);
  run_unary(t, "secret", &r);
  assert_int_equal(r.code, CONNECTC_CODE_UNAVAILABLE);
  connectc_curl_del(t);

  /* An HTTP/1.1 transport never offers h2. */
  t = tls_transport(h2srv_port(srv), CONNECTC_CURL_HTTP_1_1, 1, ca, cert, key);
  run_unary(t, "secret", &r);
  assert_int_equal(r.code, CONNECTC_CODE_UNAVAILABLE);
  h2srv_last_tls(srv, alpn, sizeof alpn, cn, sizeof cn);
  assert_string_equal(alpn, "");
  assert_string_equal(cn, "connectc test client");
  connectc_curl_del(t);
  h2srv_stop(srv);

  /* Full duplex over h2 with TLS and the client certificate. */
  srv = h2srv_start(&ping_pong, NULL, &tls);
  t = tls_transport(h2srv_port(srv), CONNECTC_CURL_HTTP_2, 1, ca, cert, key);
  evlog[0] = 0;
  connectc_client_call *c = new_call("/test.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 1, &r);
  r.t = t;
  r.send_total = 2;
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  send_next(c, &r);
  poll_until_idle(t);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(evlog,
                      "client sends m0;server got m0;client got echo:m0;"
                      "client sends m1;server got m1;client got echo:m1;"
                      "client closes;server end;");
  connectc_client_call_del(c);
  connectc_curl_del(t);
  h2srv_stop(srv);
  free(ca);
  free(cert);
  free(key);
}

/* ---- configuration ---- */

static void test_config(void **state) {
  (void)state;
  connectc_curl_config cfg = {.base_url = "http://127.0.0.1:1", .http_version = 7};
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_ERR_ARGUMENT);
  assert_null(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_h2c_unary),
      cmocka_unit_test(test_h2c_multiplex),
      cmocka_unit_test(test_h2c_full_duplex_interleaves),
      cmocka_unit_test(test_h2c_typed_async_full_duplex),
      cmocka_unit_test(test_h2c_full_duplex_server_ends_first),
      cmocka_unit_test(test_h2c_trailers),
      cmocka_unit_test(test_h2c_large_trailers),
      cmocka_unit_test(test_h2c_cancel_keeps_connection),
      cmocka_unit_test(test_h2c_pause_slows_the_server),
      cmocka_unit_test(test_h2c_end_behind_held_bytes),
      cmocka_unit_test(test_h2c_cancel_while_paused),
      cmocka_unit_test(test_h2c_server_gone_while_paused),
      cmocka_unit_test(test_http1_refuses_http2_calls),
      cmocka_unit_test(test_h2_tls_alpn_client_cert),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
