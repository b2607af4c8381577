/* The two adapters end to end over real sockets: the libcurl client
 * talking to the libmicrohttpd server, for every stream type, errors,
 * compression, Connect GET, TLS, deadlines, asynchronous handlers and
 * receive backpressure on both sides. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "connectc/client.h"
#include "connectc/curl.h"
#include "connectc/envelope.h"
#include "connectc/json_codec.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "connectc/microhttpd.h"

#ifndef CERT_DIR
#error "CERT_DIR must point at tests/certs"
#endif

/* ---- server: an upper-casing echo service ---- */

static const connectc_method_desc m_say = {"/test.v1.Echo/Say", CONNECTC_STREAM_UNARY, 1};
static const connectc_method_desc m_list = {"/test.v1.Echo/List", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc m_chat = {"/test.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 0};
static const connectc_method_desc m_sum = {"/test.v1.Echo/Sum", CONNECTC_STREAM_CLIENT, 0};
static const connectc_method_desc m_fail = {"/test.v1.Echo/Fail", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc m_slow = {"/test.v1.Echo/Slow", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc m_async = {"/test.v1.Echo/Async", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc m_flood = {"/test.v1.Echo/Flood", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc m_burst = {"/test.v1.Echo/Burst", CONNECTC_STREAM_SERVER, 0};

static void upper(const uint8_t *in, size_t len, char *out) {
  for (size_t i = 0; i < len; i++)
    out[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - 32 : in[i]);
  out[len] = 0;
}

static int echo_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)ud;
  char buf[512];
  if (len >= sizeof buf) len = sizeof buf - 1;
  upper(data, len, buf);
  const connectc_method_desc *m = connectc_server_call_method(s);
  int times = m == &m_list ? 3 : 1;
  for (int i = 0; i < times; i++) connectc_server_call_send(s, (const uint8_t *)buf, len);
  return 0;
}

static void echo_end(connectc_server_call *s, void *ud) {
  (void)ud;
  const char *x = connectc_headers_get(connectc_server_call_request_headers(s), "x-echo");
  if (x) {
    connectc_headers_adds(connectc_server_call_response_headers(s), "x-echo", x);
    connectc_headers_adds(connectc_server_call_response_trailers(s), "x-echo-trailer", x);
  }
  connectc_server_call_finish(s, NULL);
}

static int sum_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)s;
  (void)data;
  *(size_t *)ud += len;
  return 0;
}

static void sum_end(connectc_server_call *s, void *ud) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%zu", *(size_t *)ud);
  connectc_server_call_send(s, (const uint8_t *)buf, (size_t)n);
  connectc_server_call_finish(s, NULL);
}

static void *sum_new(void *route_data, connectc_server_call *call) {
  (void)route_data;
  (void)call;
  return calloc(1, sizeof(size_t));
}
static void sum_del(void *route_data, void *call_data) {
  (void)route_data;
  free(call_data);
}

static void fail_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_NOT_FOUND, "no such thing: \xe2\x98\x83");
  const uint8_t detail[] = {1, 2, 3};
  connectc_error_add_detail(&e, "test.v1.Detail", detail, sizeof detail);
  connectc_server_call_finish(s, &e);
  connectc_error_reset(&e);
}

static void slow_end(connectc_server_call *s, void *ud) {
  (void)s;
  (void)ud; /* never answers: the deadline must end the call */
}

/* Asynchronous handler: a thread sends three messages 10 ms apart. */
typedef struct async_job {
  connectc_server_call *call;
  int i;
} async_job;

static void async_send(connectc_server_call *s, void *arg) {
  async_job *j = arg;
  char msg[16];
  int n = snprintf(msg, sizeof msg, "tick %d", j->i);
  connectc_server_call_send(s, (const uint8_t *)msg, (size_t)n);
  if (j->i == 2) connectc_server_call_finish(s, NULL);
}

static void *async_thread(void *arg) {
  async_job *j = arg;
  struct timespec d = {0, 10 * 1000 * 1000};
  for (j->i = 0; j->i < 3; j->i++) {
    nanosleep(&d, NULL);
    connectc_server_call_run(j->call, async_send, j);
  }
  connectc_server_call_unref(j->call);
  free(j);
  return NULL;
}

static void async_end(connectc_server_call *s, void *ud) {
  (void)ud;
  async_job *j = calloc(1, sizeof *j);
  j->call = s;
  connectc_server_call_ref(s);
  pthread_t t;
  pthread_create(&t, NULL, async_thread, j);
  pthread_detach(t);
}

/* Flood: a server stream of FLOOD_N messages of FLOOD_MSG bytes
 * ("m000000...", numbered), sent as fast as the send window lets it:
 * flood_sent counts the messages the call accepted. */
enum { FLOOD_MSG = 1000, FLOOD_N = 16000 };
static atomic_int flood_sent;

static void flood_pump(connectc_server_call *s) {
  /* Noise after the number: the response is compressed (gzip), and a
   * stream that shrinks to nothing would fit every buffer on the way. */
  char msg[FLOOD_MSG];
  uint32_t x = 2463534242u;
  for (size_t k = 0; k < sizeof msg; k++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    msg[k] = (char)(x >> 24);
  }
  for (;;) {
    int i = flood_sent;
    if (i == FLOOD_N) {
      connectc_server_call_finish(s, NULL);
      return;
    }
    char num[8];
    snprintf(num, sizeof num, "m%06d", i);
    memcpy(msg, num, 7);
    /* CONNECTC_ERR_FULL: on_writable goes on; anything else: it ended. */
    if (connectc_server_call_send(s, (const uint8_t *)msg, sizeof msg) != CONNECTC_OK) return;
    flood_sent = i + 1;
  }
}

static void flood_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-flood", "done");
  flood_pump(s);
}

static void flood_writable(connectc_server_call *s, void *ud) {
  (void)ud;
  flood_pump(s);
}

/* Burst: five small messages and an error end, all queued at once (they
 * reach the client in one read). */
static void burst_end(connectc_server_call *s, void *ud) {
  (void)ud;
  for (int i = 0; i < 5; i++) {
    char m[8];
    int n = snprintf(m, sizeof m, "m%06d", i);
    connectc_server_call_send(s, (const uint8_t *)m, (size_t)n);
  }
  connectc_headers_adds(connectc_server_call_response_trailers(s), "x-flood", "burst");
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_ABORTED, "burst over");
  connectc_server_call_finish(s, &e);
  connectc_error_reset(&e);
}

static connectc_router *make_router(void) {
  connectc_router *r = NULL;
  (void)connectc_router_new(NULL, NULL, &r);
  const connectc_route routes[] = {
      {.method = &m_say, .callbacks = {.on_message = echo_message, .on_end = echo_end}},
      {.method = &m_list, .callbacks = {.on_message = echo_message, .on_end = echo_end}},
      {.method = &m_chat, .callbacks = {.on_message = echo_message, .on_end = echo_end}},
      {.method = &m_sum, .callbacks = {.on_message = sum_message, .on_end = sum_end}, .call_new = sum_new, .call_del = sum_del},
      {.method = &m_fail, .callbacks = {.on_end = fail_end}},
      {.method = &m_slow, .callbacks = {.on_end = slow_end}},
      {.method = &m_async, .callbacks = {.on_end = async_end}},
      {.method = &m_flood, .callbacks = {.on_end = flood_end, .on_writable = flood_writable}},
      {.method = &m_burst, .callbacks = {.on_end = burst_end}},
  };
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    assert_int_equal(connectc_router_add(r, &routes[i]), CONNECTC_OK);
  return r;
}

/* ---- client side ---- */

typedef struct result {
  int n;
  char msgs[8][512];
  connectc_code code;
  char message[256];
  char header[64];
  char trailer[64];
  size_t n_details;
  char detail_type[64];
} result;

static int c_headers(connectc_client_call *c, const connectc_headers *h, void *ud) {
  (void)c;
  result *r = ud;
  const char *x = connectc_headers_get(h, "x-echo");
  snprintf(r->header, sizeof r->header, "%s", x ? x : "");
  return 0;
}

static int c_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  (void)c;
  result *r = ud;
  if (r->n < 8 && len < sizeof r->msgs[0]) {
    memcpy(r->msgs[r->n], data, len);
    r->msgs[r->n][len] = 0;
  }
  r->n++;
  return 0;
}

static void c_close(connectc_client_call *c, const connectc_error *err,
                    const connectc_headers *trailers, void *ud) {
  (void)c;
  result *r = ud;
  r->code = err->code;
  snprintf(r->message, sizeof r->message, "%s", err->message ? err->message : "");
  r->n_details = err->n_details;
  if (err->n_details) snprintf(r->detail_type, sizeof r->detail_type, "%s", err->details[0].type);
  const char *t = connectc_headers_get(trailers, "x-echo-trailer");
  snprintf(r->trailer, sizeof r->trailer, "%s", t ? t : "");
}

typedef struct fixture {
  connectc_router *router;
  connectc_mhd_server *server;
  connectc_mhd_server *tls_server;
  char url[64];
  char tls_url[64];
  char *ca;
} fixture;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf) buf[n] = 0;
  fclose(f);
  return buf;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->router = make_router();
  assert_int_equal(connectc_mhd_start(NULL, f->router, &f->server), CONNECTC_OK);
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u", (unsigned)connectc_mhd_port(f->server));
  char *cert = slurp(CERT_DIR "/server.pem");
  char *key = slurp(CERT_DIR "/server.key");
  f->ca = slurp(CERT_DIR "/ca.pem");
  assert_non_null(cert);
  assert_non_null(key);
  assert_non_null(f->ca);
  connectc_mhd_config tcfg;
  memset(&tcfg, 0, sizeof tcfg);
  tcfg.tls_cert_pem = cert;
  tcfg.tls_key_pem = key;
  assert_int_equal(connectc_mhd_start(&tcfg, f->router, &f->tls_server), CONNECTC_OK);
  snprintf(f->tls_url, sizeof f->tls_url, "https://127.0.0.1:%u",
           (unsigned)connectc_mhd_port(f->tls_server));
  /* Certificate and key from files work too; a missing file is refused. */
  connectc_mhd_config fcfg;
  memset(&fcfg, 0, sizeof fcfg);
  fcfg.tls_cert_file = CERT_DIR "/server.pem";
  fcfg.tls_key_file = CERT_DIR "/server.key";
  connectc_mhd_server *from_files = NULL;
  assert_int_equal(connectc_mhd_start(&fcfg, f->router, &from_files), CONNECTC_OK);
  connectc_mhd_stop(from_files);
  fcfg.tls_key_file = CERT_DIR "/missing.key";
  assert_int_equal(connectc_mhd_start(&fcfg, f->router, &from_files), CONNECTC_ERR_ARGUMENT);
  free(cert);
  free(key);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  connectc_mhd_stop(f->server);
  connectc_mhd_stop(f->tls_server);
  connectc_router_del(f->router);
  free(f->ca);
  free(f);
  return 0;
}

static connectc_curl *client_for(fixture *f, int tls) {
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = tls ? f->tls_url : f->url;
  if (tls) {
    cfg.ca_pem = f->ca;
    cfg.ca_pem_len = strlen(f->ca);
  }
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  return t;
}

/* Runs one call; msgs is NULL-terminated. */
static void run_call(connectc_curl *t, const connectc_method_desc *m, const char *codec,
                     connectc_compression comp, int use_get, int64_t timeout_ms,
                     const char *const *msgs, result *r) {
  static const connectc_client_callbacks cb = {c_headers, c_message, c_close};
  memset(r, 0, sizeof *r);
  r->code = (connectc_code)-1;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = m->procedure;
  cfg.stream_type = m->stream_type;
  cfg.codec = codec;
  cfg.send_compression = comp;
  cfg.use_get = use_get;
  cfg.timeout_ms = timeout_ms;
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &cb, r, NULL, connectc_curl_now_ms(), &c),
                   CONNECTC_OK);
  assert_int_equal(connectc_client_call_add_header(c, "x-echo", "hi"), CONNECTC_OK);
  for (size_t i = 0; msgs[i]; i++)
    assert_int_equal(connectc_client_call_send(c, (const uint8_t *)msgs[i], strlen(msgs[i])),
                     CONNECTC_OK);
  if (m->stream_type == CONNECTC_STREAM_CLIENT || m->stream_type == CONNECTC_STREAM_BIDI)
    assert_int_equal(connectc_client_call_close_send(c), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_true(connectc_client_call_is_closed(c));
  connectc_client_call_del(c);
}

static void test_unary(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 0);
  const char *const one[] = {"hello", NULL};
  result r;
  for (int i = 0; i < 3; i++) { /* connection reuse */
    run_call(t, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
    assert_int_equal(r.code, CONNECTC_CODE_OK);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs[0], "HELLO");
    assert_string_equal(r.header, "hi");
    assert_string_equal(r.trailer, "hi");
  }
  connectc_curl_del(t);
}

static void test_streams(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 0);
  const char *const one[] = {"abc", NULL};
  const char *const three[] = {"x", "yy", "zzz", NULL};
  result r;
  run_call(t, &m_list, "json", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 3);
  assert_string_equal(r.msgs[2], "ABC");
  assert_string_equal(r.trailer, "hi");
  run_call(t, &m_chat, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, three, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 3);
  assert_string_equal(r.msgs[0], "X");
  assert_string_equal(r.msgs[2], "ZZZ");
  run_call(t, &m_sum, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, three, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.msgs[0], "6");
  connectc_curl_del(t);
}

static void test_compression(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 0);
  char big[1000];
  memset(big, 'q', sizeof big - 1);
  big[sizeof big - 1] = 0;
  const char *const one[] = {big, NULL};
  for (int c = 1; c < CONNECTC_COMPRESSION_COUNT; c++) {
    if (!connectc_compression_supported((connectc_compression)c)) continue;
    result r;
    run_call(t, &m_say, "proto", (connectc_compression)c, 0, 0, one, &r);
    assert_int_equal(r.code, CONNECTC_CODE_OK);
    run_call(t, &m_chat, "proto", (connectc_compression)c, 0, 0, one, &r);
    assert_int_equal(r.code, CONNECTC_CODE_OK);
    assert_int_equal(r.n, 1);
  }
  connectc_curl_del(t);
}

static void test_errors_and_get(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 0);
  const char *const one[] = {"q", NULL};
  result r;
  run_call(t, &m_fail, "json", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_NOT_FOUND);
  assert_string_equal(r.message, "no such thing: \xe2\x98\x83");
  assert_int_equal(r.n_details, 1);
  assert_string_equal(r.detail_type, "test.v1.Detail");
  static const connectc_method_desc missing = {"/test.v1.Echo/Missing", CONNECTC_STREAM_UNARY, 0};
  run_call(t, &missing, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_UNIMPLEMENTED);
  run_call(t, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 1, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], "Q");
  run_call(t, &m_say, "json", CONNECTC_COMPRESSION_IDENTITY, 1, 0,
           (const char *const[]){"{\"a\": \"b c+d\"}", NULL}, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], "{\"A\": \"B C+D\"}");
  /* A GET whose target is longer than the adapter's 256-byte stack
   * buffer for the path and query. */
  char big[420], want[420];
  int n = snprintf(big, sizeof big, "{\"a\": \"%0300d\"}", 7);
  assert_true(n > 300 && (size_t)n < sizeof big);
  for (int i = 0; i <= n; i++) want[i] = big[i] == 'a' ? 'A' : big[i];
  run_call(t, &m_say, "json", CONNECTC_COMPRESSION_IDENTITY, 1, 0,
           (const char *const[]){big, NULL}, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], want);
  connectc_curl_del(t);
}

static void test_tls(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 1);
  const char *const one[] = {"secret", NULL};
  result r;
  run_call(t, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], "SECRET");
  run_call(t, &m_list, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 3);
  connectc_curl_del(t);
  /* Without the CA the handshake must fail: unavailable. */
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = f->tls_url;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  run_call(t, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_UNAVAILABLE);
  connectc_curl_del(t);
}

/* An HTTP/2 transport over TLS whose server speaks HTTP/1.1 only (no h2
 * in ALPN): ordinary calls fall back to HTTP/1.1; a call that needs
 * HTTP/2 fails when the HTTP/1.1 response head shows up. */
static void test_http2_transport_falls_back_over_tls(void **state) {
  fixture *f = *state;
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = f->tls_url;
  cfg.ca_pem = f->ca;
  cfg.ca_pem_len = strlen(f->ca);
  cfg.http_version = CONNECTC_CURL_HTTP_2;
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  const char *const one[] = {"over one", NULL};
  result r;
  run_call(t, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], "OVER ONE");

  static const connectc_client_callbacks cb = {c_headers, c_message, c_close};
  memset(&r, 0, sizeof r);
  connectc_client_config ccfg;
  memset(&ccfg, 0, sizeof ccfg);
  ccfg.procedure = m_chat.procedure;
  ccfg.stream_type = CONNECTC_STREAM_BIDI;
  ccfg.codec = "proto";
  ccfg.timeout_ms = 5000;
  ccfg.full_duplex = 1;
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&ccfg, &cb, &r, NULL, connectc_curl_now_ms(), &c),
                   CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"a", 1), CONNECTC_OK);
  assert_int_equal(connectc_client_call_close_send(c), CONNECTC_OK);
  assert_int_equal(connectc_curl_perform(t, c), CONNECTC_OK);
  assert_int_equal(r.code, CONNECTC_CODE_UNIMPLEMENTED);
  assert_string_equal(r.message,
                      "full-duplex bidi needs HTTP/2: the server answered over HTTP/1.1 (TLS ALPN "
                      "did not select h2)");
  assert_int_equal(r.n, 0);
  connectc_client_call_del(c);
  connectc_curl_del(t);
}

static void test_deadline_and_async(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 0);
  const char *const one[] = {"q", NULL};
  result r;
  run_call(t, &m_slow, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 200, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_DEADLINE_EXCEEDED);
  run_call(t, &m_async, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 3);
  assert_string_equal(r.msgs[0], "tick 0");
  assert_string_equal(r.msgs[2], "tick 2");
  /* The unreachable server: unavailable. */
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = "http://127.0.0.1:1";
  connectc_curl *bad = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &bad), CONNECTC_OK);
  run_call(bad, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_UNAVAILABLE);
  connectc_curl_del(bad);
  connectc_curl_del(t);
}


/* A minimal external event loop: poll() over the sockets libcurl asks us
 * to watch, plus its timer, driving the transport only through
 * connectc_curl_socket_action / connectc_curl_timeout_action. */
typedef struct mini_loop {
  struct pollfd fds[16];
  int n;
  long timer_ms; /* -1: none */
} mini_loop;

static void loop_watch(void *ud, int fd, int what) {
  mini_loop *l = ud;
  int i = 0;
  while (i < l->n && l->fds[i].fd != fd) i++;
  if (what & CONNECTC_CURL_WATCH_REMOVE) {
    if (i < l->n) l->fds[i] = l->fds[--l->n];
    return;
  }
  if (i == l->n) {
    assert_true(l->n < 16);
    l->fds[l->n++].fd = fd;
  }
  l->fds[i].events = (short)(((what & CONNECTC_CURL_WATCH_IN) ? POLLIN : 0) |
                             ((what & CONNECTC_CURL_WATCH_OUT) ? POLLOUT : 0));
}

static void loop_timer(void *ud, long ms) { ((mini_loop *)ud)->timer_ms = ms; }

static void test_external_event_loop(void **state) {
  fixture *f = *state;
  mini_loop l;
  memset(&l, 0, sizeof l);
  l.timer_ms = -1;
  connectc_curl_loop hooks = {loop_watch, loop_timer, &l};
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = f->url;
  cfg.loop = &hooks;
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  /* The blocking helpers refuse to run inside someone else's loop. */
  assert_int_equal(connectc_curl_poll(t, 0), CONNECTC_ERR_STATE);
  static const connectc_client_callbacks cb = {c_headers, c_message, c_close};
  result r[2];
  connectc_client_call *calls[2];
  const connectc_method_desc *methods[2] = {&m_list, &m_chat};
  for (int i = 0; i < 2; i++) {
    memset(&r[i], 0, sizeof r[i]);
    r[i].code = (connectc_code)-1;
    connectc_client_config cc;
    memset(&cc, 0, sizeof cc);
    cc.procedure = methods[i]->procedure;
    cc.stream_type = methods[i]->stream_type;
    cc.codec = "proto";
    assert_int_equal(connectc_client_call_new(&cc, &cb, &r[i], NULL, connectc_curl_now_ms(), &calls[i]),
                     CONNECTC_OK);
    assert_int_equal(connectc_client_call_send(calls[i], (const uint8_t *)"loop", 4), CONNECTC_OK);
    assert_int_equal(connectc_client_call_close_send(calls[i]), CONNECTC_OK);
    assert_int_equal(connectc_curl_start(t, calls[i]), CONNECTC_OK);
  }
  /* Both calls run concurrently on one transport, driven by our loop. */
  for (int spins = 0; connectc_curl_running(t) > 0 && spins < 10000; spins++) {
    int rv = poll(l.fds, (nfds_t)l.n, l.timer_ms < 0 ? 100 : (int)l.timer_ms);
    if (rv == 0 || l.timer_ms == 0) connectc_curl_timeout_action(t);
    for (int i = 0; i < l.n && rv > 0; i++) {
      if (!l.fds[i].revents) continue;
      int ev = ((l.fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ? CONNECTC_CURL_WATCH_IN : 0) |
               ((l.fds[i].revents & POLLOUT) ? CONNECTC_CURL_WATCH_OUT : 0);
      connectc_curl_socket_action(t, l.fds[i].fd, ev);
    }
  }
  assert_int_equal(connectc_curl_running(t), 0);
  assert_int_equal(r[0].code, CONNECTC_CODE_OK);
  assert_int_equal(r[0].n, 3);
  assert_string_equal(r[0].msgs[2], "LOOP");
  assert_int_equal(r[1].code, CONNECTC_CODE_OK);
  assert_int_equal(r[1].n, 1);
  for (int i = 0; i < 2; i++) connectc_client_call_del(calls[i]);
  connectc_curl_del(t);
}


/* The typed client layer (what generated stubs call), with both codecs:
 * the echo service upper-cases bytes, which maps StringValue "hi" to "HI"
 * in proto and in JSON alike. */
static void test_typed_client(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 0);
  connectc_type_registry *reg = NULL;
  (void)connectc_type_registry_new(NULL, &reg);
  connectc_codec *json = NULL;
  (void)connectc_codec_json_new(reg, NULL, &json);
  const connectc_codec *codecs[] = {connectc_codec_proto(), json};
  for (int k = 0; k < 2; k++) {
    connectc_client client;
    connectc_client_init(&client, connectc_curl_transport(t));
    client.codec = codecs[k];
    client.use_get = k == 1;
    Google__Protobuf__StringValue req = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    req.value = "hi";
    const ProtobufCMessage *reqs[] = {&req.base, &req.base};
    connectc_headers extra;
    connectc_headers_init(&extra, NULL);
    connectc_headers_adds(&extra, "x-echo", "typed");
    connectc_call_options opts = {.headers = &extra, .timeout_ms = 5000};
    connectc_call_output out;
    connectc_call_output_init(&out, NULL);
    assert_int_equal(connectc_client_invoke(&client, &m_say, &google__protobuf__string_value__descriptor,
                                            reqs, 1, &opts, &out),
                     CONNECTC_OK);
    assert_int_equal(out.error.code, CONNECTC_CODE_OK);
    assert_int_equal(out.n_messages, 1);
    assert_string_equal(((Google__Protobuf__StringValue *)out.messages[0])->value, "HI");
    assert_string_equal(connectc_headers_get(&out.headers, "x-echo"), "typed");
    assert_string_equal(connectc_headers_get(&out.trailers, "x-echo-trailer"), "typed");
    connectc_call_output_reset(&out);
    /* The same call keeping no metadata: the response alone. */
    out.discard_metadata = 1;
    assert_int_equal(connectc_client_invoke(&client, &m_say, &google__protobuf__string_value__descriptor,
                                            reqs, 1, &opts, &out),
                     CONNECTC_OK);
    assert_int_equal(out.error.code, CONNECTC_CODE_OK);
    assert_int_equal(out.n_messages, 1);
    assert_string_equal(((Google__Protobuf__StringValue *)out.messages[0])->value, "HI");
    assert_int_equal(out.headers.len, 0);
    assert_int_equal(out.trailers.len, 0);
    connectc_call_output_reset(&out);
    /* Everything of the call in an arena, freed at once. */
    connectc_arena arena;
    unsigned char first[512];
    connectc_arena_init(&arena, NULL, first, sizeof first);
    connectc_call_output_init(&out, connectc_arena_allocator(&arena));
    assert_int_equal(connectc_client_invoke(&client, &m_say, &google__protobuf__string_value__descriptor,
                                            reqs, 1, &opts, &out),
                     CONNECTC_OK);
    assert_int_equal(out.error.code, CONNECTC_CODE_OK);
    assert_string_equal(((Google__Protobuf__StringValue *)out.messages[0])->value, "HI");
    assert_string_equal(connectc_headers_get(&out.headers, "x-echo"), "typed");
    assert_true(connectc_arena_heap_bytes(&arena) > 0); /* the call itself outgrew 512 bytes */
    connectc_call_output_reset(&out);
    connectc_arena_reset(&arena);
    /* A server stream: three responses. */
    connectc_call_output_init(&out, NULL);
    assert_int_equal(connectc_client_invoke(&client, &m_list, &google__protobuf__string_value__descriptor,
                                            reqs, 1, NULL, &out),
                     CONNECTC_OK);
    assert_int_equal(out.n_messages, 3);
    connectc_call_output_reset(&out);
    /* Unary with two requests is refused locally. */
    assert_int_equal(connectc_client_invoke(&client, &m_say, &google__protobuf__string_value__descriptor,
                                            reqs, 2, NULL, &out),
                     CONNECTC_ERR_ARGUMENT);
    /* A Connect error comes back in out.error. */
    connectc_call_output_init(&out, NULL);
    assert_int_equal(connectc_client_invoke(&client, &m_fail, &google__protobuf__string_value__descriptor,
                                            reqs, 1, NULL, &out),
                     CONNECTC_OK);
    assert_int_equal(out.error.code, CONNECTC_CODE_NOT_FOUND);
    assert_int_equal(out.n_messages, 0);
    connectc_call_output_reset(&out);
    connectc_headers_reset(&extra);
  }
  connectc_codec_json_del(json);
  connectc_type_registry_del(reg);
  connectc_curl_del(t);
}


/* A listening socket on 127.0.0.1 for a raw test server (*lfd), and a
 * libcurl transport whose base URL is that server. */
static connectc_curl *raw_listener_client(int backlog, int *lfd) {
  *lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(*lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(*lfd, backlog), 0);
  socklen_t al = sizeof a;
  getsockname(*lfd, (struct sockaddr *)&a, &al);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  return t;
}

/* A raw socket server counting the connections it accepts: it answers
 * every request on a connection with the same Connect unary response
 * (Content-Length framed), until the client closes, then waits for the
 * next connection, until `stop`. */
typedef struct keepalive_server {
  int lfd;
  atomic_int accepted;
  atomic_int answered;
  atomic_int stop;
} keepalive_server;

/* The length of a complete request (head and Content-Length body) at the
 * start of buf, or 0 while it is incomplete. */
static size_t complete_request(const char *buf, size_t len) {
  for (size_t i = 0; i + 4 <= len; i++) {
    if (memcmp(buf + i, "\r\n\r\n", 4) != 0) continue;
    size_t head = i + 4, body = 0;
    for (size_t j = 0; j + 16 <= head; j++)
      if (buf[j] == '\n' && strncasecmp(buf + j + 1, "content-length:", 15) == 0)
        body = (size_t)strtoul(buf + j + 16, NULL, 10);
    return len >= head + body ? head + body : 0;
  }
  return 0;
}

static void *keepalive_serve(void *arg) {
  keepalive_server *ks = arg;
  static const char resp[] =
      "HTTP/1.1 200 OK\r\ncontent-type: application/proto\r\ncontent-length: 5\r\n\r\nHELLO";
  while (!atomic_load(&ks->stop)) {
    struct pollfd pl = {ks->lfd, POLLIN, 0};
    if (poll(&pl, 1, 20) <= 0) continue;
    int c = accept(ks->lfd, NULL, NULL);
    if (c < 0) continue;
    atomic_fetch_add(&ks->accepted, 1);
    char buf[8192];
    size_t len = 0;
    for (;;) {
      size_t n = complete_request(buf, len);
      if (n) {
        if (send(c, resp, sizeof resp - 1, MSG_NOSIGNAL) < 0) break;
        atomic_fetch_add(&ks->answered, 1);
        memmove(buf, buf + n, len - n);
        len -= n;
        continue;
      }
      struct pollfd cp = {c, POLLIN, 0};
      if (poll(&cp, 1, 20) == 0) {
        if (atomic_load(&ks->stop)) break;
        continue;
      }
      ssize_t got = read(c, buf + len, sizeof buf - len);
      if (got <= 0) break;
      len += (size_t)got;
    }
    close(c);
  }
  return NULL;
}

/* Unary calls one after the other share one HTTP/1.1 connection: a
 * response complete at its Content-Length leaves the connection open for
 * the next call (the transport once aborted each transfer as its call
 * closed on the last byte, so every call connected anew). */
static void test_unary_calls_reuse_the_connection(void **state) {
  (void)state;
  keepalive_server ks;
  memset(&ks, 0, sizeof ks);
  connectc_curl *t = raw_listener_client(8, &ks.lfd);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, keepalive_serve, &ks), 0);
  const char *const one[] = {"hello", NULL};
  result r;
  for (int i = 0; i < 5; i++) {
    run_call(t, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
    assert_int_equal(r.code, CONNECTC_CODE_OK);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs[0], "HELLO");
  }
  connectc_curl_del(t);
  atomic_store(&ks.stop, 1);
  pthread_join(th, NULL);
  /* Read once the server thread is done: it counts an answer after
   * sending it, so the last count may land after the client has it. */
  assert_int_equal(atomic_load(&ks.answered), 5);
  assert_int_equal(atomic_load(&ks.accepted), 1);
  close(ks.lfd);
}

/* A raw socket server that answers with a flood of headers. */
static void *header_flood(void *arg) {
  int lfd = *(int *)arg;
  int c = accept(lfd, NULL, NULL);
  if (c < 0) return NULL;
  char buf[4096];
  ssize_t got = read(c, buf, sizeof buf); /* the request; its content does not matter */
  (void)got;
  const char *start = "HTTP/1.1 200 OK\r\ncontent-type: application/proto\r\n";
  if (send(c, start, strlen(start), MSG_NOSIGNAL) < 0) goto done;
  char line[128];
  for (int i = 0; i < 20000; i++) { /* about 1.2 MB of headers */
    int n = snprintf(line, sizeof line, "x-flood-%d: %040d\r\n", i, i);
    if (send(c, line, (size_t)n, MSG_NOSIGNAL) < 0) break;
  }
done:
  /* Closing with unread request bytes (curl may send the body after the
   * head) would make the kernel answer with a reset and drop what the
   * client had not read yet: end the stream, then drain until the client
   * hangs up. */
  shutdown(c, SHUT_WR);
  struct timeval tv = {5, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (read(c, buf, sizeof buf) > 0) {
  }
  close(c);
  return NULL;
}

static void test_header_flood(void **state) {
  (void)state;
  int lfd;
  connectc_curl *t = raw_listener_client(1, &lfd);
  pthread_t th;
  pthread_create(&th, NULL, header_flood, &lfd);
  const char *const one[] = {"q", NULL};
  result r;
  run_call(t, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  /* The bytes seen when the limit broke: the status line, the content
   * type and whole flood lines, the last one past 262144. */
  size_t seen = strlen("HTTP/1.1 200 OK\r\n") + strlen("content-type: application/proto\r\n");
  for (int i = 0; seen <= CONNECTC_CURL_MAX_HEADER_BYTES; i++) {
    char line[128];
    seen += (size_t)snprintf(line, sizeof line, "x-flood-%d: %040d\r\n", i, i);
  }
  char want[256];
  snprintf(want, sizeof want,
           "response headers exceed the limit of 262144 bytes of headers and trailers "
           "(CONNECTC_CURL_MAX_HEADER_BYTES): %zu bytes seen",
           seen);
  assert_int_equal(r.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(r.message, want);
  connectc_curl_del(t);
  pthread_join(th, NULL);
  close(lfd);
}


/* ---- stop with an asynchronous handler still holding its call ---- */

static const connectc_method_desc m_hold = {"/test.v1.Hold/Hold", CONNECTC_STREAM_UNARY, 0};
static atomic_int hold_started, hold_released, hold_was_canceled;

static void hold_finish(connectc_server_call *s, void *arg) {
  (void)arg;
  /* Canceled by the stop by now (no cmocka asserts off the test thread). */
  hold_was_canceled = connectc_server_call_is_finished(s);
}

static void *hold_thread(void *arg) {
  connectc_server_call *s = arg;
  struct timespec d = {0, 300 * 1000 * 1000};
  nanosleep(&d, NULL);
  connectc_server_call_run(s, hold_finish, NULL);
  hold_released = 1;
  connectc_server_call_unref(s); /* the last reference: frees the request */
  return NULL;
}

static void hold_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_server_call_ref(s);
  pthread_t t;
  pthread_create(&t, NULL, hold_thread, s);
  pthread_detach(t);
  hold_started = 1;
}

/* connectc_mhd_stop returns only once no handler holds a call any more, so
 * that the router can be deleted right after it. */
static void test_stop_waits_for_async_handlers(void **state) {
  (void)state;
  connectc_router *r = NULL;
  (void)connectc_router_new(NULL, NULL, &r);
  const connectc_route route = {.method = &m_hold, .callbacks = {.on_end = hold_end}};
  assert_int_equal(connectc_router_add(r, &route), CONNECTC_OK);
  connectc_mhd_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.shutdown_grace_ms = 20;
  connectc_mhd_server *srv = NULL;
  assert_int_equal(connectc_mhd_start(&cfg, r, &srv), CONNECTC_OK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(connectc_mhd_port(srv));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  const char *req = "POST /test.v1.Hold/Hold HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/proto\r\nContent-Length: 0\r\n\r\n";
  assert_true(send(fd, req, strlen(req), MSG_NOSIGNAL) > 0);
  for (int i = 0; i < 500 && !hold_started; i++) {
    struct timespec d = {0, 2 * 1000 * 1000};
    nanosleep(&d, NULL);
  }
  assert_true(hold_started);
  connectc_mhd_stop(srv);
  assert_true(hold_released);
  assert_true(hold_was_canceled);
  connectc_router_del(r); /* nothing refers to it any more (ASan checks) */
  close(fd);
}

/* ---- backpressure over a real socket ---- */

/* A client stream whose consumer pauses every 100 messages; the test
 * thread resumes it. */
static const connectc_method_desc m_paced = {"/test.v1.Echo/Paced", CONNECTC_STREAM_CLIENT, 0};
static atomic_int paced_n, paced_paused;
static connectc_server_call *_Atomic paced_call;
static int paced_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)data;
  (void)len;
  (void)ud;
  int n = paced_n + 1;
  if (n % 100 == 0) { /* paused before the count shows it */
    connectc_server_call_pause_recv(s);
    connectc_server_call_ref(s); /* the test thread resumes it: kept alive until then */
    paced_call = s;
    paced_paused = 1;
  }
  paced_n = n;
  return 0;
}
static void paced_end(connectc_server_call *s, void *ud) {
  (void)ud;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "got %d", (int)paced_n);
  connectc_server_call_send(s, (const uint8_t *)buf, (size_t)n);
  connectc_server_call_finish(s, NULL);
}
static void paced_resume(connectc_server_call *s, void *arg) {
  (void)arg;
  paced_paused = 0;
  connectc_server_call_resume_recv(s);
}
static void sleep_ms(long ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000 * 1000};
  nanosleep(&d, NULL);
}

static void test_paused_request_is_not_read(void **state) {
  (void)state;
  connectc_router *r = NULL;
  (void)connectc_router_new(NULL, NULL, &r);
  const connectc_route route = {.method = &m_paced,
                                .callbacks = {.on_message = paced_message, .on_end = paced_end}};
  assert_int_equal(connectc_router_add(r, &route), CONNECTC_OK);
  connectc_mhd_server *srv = NULL;
  assert_int_equal(connectc_mhd_start(NULL, r, &srv), CONNECTC_OK);
  paced_n = 0;
  paced_paused = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(connectc_mhd_port(srv));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  /* 1000 one-byte messages, sent at once: 6000 bytes fit the socket
   * buffers, so only the server's pauses hold them back. */
  enum { MSGS = 1000 };
  static uint8_t body[MSGS * 6];
  for (int i = 0; i < MSGS; i++) {
    connectc_envelope_write_header(body + i * 6, 0, 1);
    body[i * 6 + 5] = 'x';
  }
  char head[256];
  int hl = snprintf(head, sizeof head,
                    "POST /test.v1.Echo/Paced HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/connect+proto\r\nContent-Length: %d\r\n\r\n",
                    MSGS * 6);
  assert_true(send(fd, head, (size_t)hl, MSG_NOSIGNAL) == hl);
  assert_true(send(fd, body, sizeof body, MSG_NOSIGNAL) == (ssize_t)sizeof body);
  int pauses = 0;
  for (;;) {
    int waited = 0;
    while (!paced_paused && paced_n < MSGS && waited++ < 2000) sleep_ms(1);
    if (!paced_paused) break; /* all of them arrived (or the test fails below) */
    /* Paused: no message arrives however long the bytes wait. */
    int at = paced_n;
    sleep_ms(30);
    assert_int_equal(paced_n, at);
    assert_int_equal(at % 100, 0);
    pauses++;
    connectc_server_call *c = paced_call;
    connectc_server_call_run(c, paced_resume, NULL);
    connectc_server_call_unref(c);
  }
  assert_int_equal(paced_n, MSGS);
  assert_int_equal(pauses, MSGS / 100);
  /* The whole stream was taken, and answered. */
  char resp[1024];
  size_t got = 0;
  while (got < sizeof resp - 1) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) break;
    ssize_t k = recv(fd, resp + got, sizeof resp - 1 - got, 0);
    if (k <= 0) break;
    got += (size_t)k;
    if (got >= 5 && memcmp(resp + got - 5, "0\r\n\r\n", 5) == 0) break; /* the last chunk */
  }
  resp[got] = 0;
  assert_non_null(strstr(resp, "HTTP/1.1 200"));
  /* The body is binary (envelopes): search it byte by byte. */
  int found = 0;
  for (size_t i = 0; i + 8 <= got && !found; i++) found = memcmp(resp + i, "got 1000", 8) == 0;
  assert_true(found);
  close(fd);
  connectc_mhd_stop(srv);
  connectc_router_del(r);
}

/* ---- receive backpressure in the libcurl client ---- */

/* A client that pauses its call after every `every` messages and checks
 * they come numbered in order ("m000000", "m000001"...). */
typedef struct paced_client {
  int every;
  int n;
  int out_of_order;
  int paused; /* paused from on_message, not resumed yet */
  int closed;
  connectc_code code;
  char message[128];
  char trailer[32];
} paced_client;

static int pc_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  paced_client *p = ud;
  char want[8];
  snprintf(want, sizeof want, "m%06d", p->n);
  if (p->paused || len < 7 || memcmp(data, want, 7) != 0) p->out_of_order++;
  p->n++;
  if (p->every && p->n % p->every == 0) {
    connectc_client_call_pause_recv(c);
    p->paused = 1;
  }
  return 0;
}

static void pc_close(connectc_client_call *c, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)c;
  paced_client *p = ud;
  p->closed = 1;
  p->code = err->code;
  snprintf(p->message, sizeof p->message, "%s", err->message ? err->message : "");
  const char *t = connectc_headers_get(trailers, "x-flood");
  snprintf(p->trailer, sizeof p->trailer, "%s", t ? t : "");
}

static connectc_client_call *paced_call_new(const connectc_method_desc *m, paced_client *p,
                                            int every) {
  static const connectc_client_callbacks cb = {NULL, pc_message, pc_close};
  memset(p, 0, sizeof *p);
  p->code = (connectc_code)-1;
  p->every = every;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = m->procedure;
  cfg.stream_type = m->stream_type;
  cfg.codec = "proto";
  cfg.timeout_ms = 20000;
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &cb, p, NULL, connectc_curl_now_ms(), &c),
                   CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  return c;
}

/* Drives the transport for `ms` while the call is paused: nothing may be
 * delivered meanwhile, however much the server sent. */
static void poll_paused(connectc_curl *t, paced_client *p, int64_t ms) {
  int at = p->n;
  int64_t end = connectc_curl_now_ms() + ms;
  while (connectc_curl_now_ms() < end) connectc_curl_poll(t, 5);
  assert_int_equal(p->n, at);
  assert_false(p->closed);
}

/* Polls until flood_sent has not moved for 100 ms (the server is blocked)
 * or 5 s passed; returns it. */
static int wait_server_blocked(connectc_curl *t, paced_client *p) {
  int last = -1, at = p->n;
  int64_t stable_since = 0, start = connectc_curl_now_ms();
  while (connectc_curl_now_ms() - start < 5000) {
    connectc_curl_poll(t, 10);
    int64_t now = connectc_curl_now_ms();
    if (flood_sent != last) {
      last = flood_sent;
      stable_since = now;
    } else if (now - stable_since >= 100) {
      break;
    }
  }
  assert_int_equal(p->n, at);
  return last;
}

/* A server streams 16 MB as fast as it can; the client pauses after every
 * 1000 messages for 30 ms. While paused no message arrives, and the
 * server is held back: it blocks well before the end of its stream. All
 * messages arrive, in order, then the end with its trailer. Half the
 * resumptions tell the transport (connectc_curl_wake), half leave it to
 * the next connectc_curl_poll. */
static void test_client_pause_slows_the_server(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 0);
  flood_sent = 0;
  paced_client p;
  connectc_client_call *c = paced_call_new(&m_flood, &p, 1000);
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  int pauses = 0;
  int64_t end = connectc_curl_now_ms() + 20000;
  while (connectc_curl_running(t) && connectc_curl_now_ms() < end) {
    connectc_curl_poll(t, 10);
    if (!p.paused) continue;
    assert_int_equal(p.n % 1000, 0);
    if (pauses == 0) {
      int sent = wait_server_blocked(t, &p);
      /* Blocked with a bounded amount in flight: the server's send window
       * (256 KiB), the socket buffers, the transport's 16 KiB. About 4 MB
       * here; the socket buffers alone may grow to 10 MB (tcp_rmem and
       * tcp_wmem maxima), so the test asks only that the server stopped
       * before the end of its 16 MB stream. */
      assert_true(sent < FLOOD_N);
      assert_true(sent >= p.n);
    }
    poll_paused(t, &p, 30);
    pauses++;
    p.paused = 0;
    connectc_client_call_resume_recv(c);
    if (pauses % 2) connectc_curl_wake(t, c);
  }
  assert_int_equal(connectc_curl_running(t), 0);
  assert_int_equal(p.out_of_order, 0);
  assert_int_equal(p.n, FLOOD_N);
  assert_int_equal(pauses, FLOOD_N / 1000);
  assert_int_equal(flood_sent, FLOOD_N);
  assert_int_equal(p.code, CONNECTC_CODE_OK);
  assert_string_equal(p.trailer, "done");
  connectc_client_call_del(c);
  connectc_curl_del(t);
}

/* The whole response, end included, arrives in one read while the client
 * pauses after every message: the transport holds the rest, and the end
 * comes only after the last message, with its code and trailer. Driven by
 * an external event loop, told of each resumption by connectc_curl_wake. */
static void test_client_end_behind_held_bytes(void **state) {
  fixture *f = *state;
  mini_loop l;
  memset(&l, 0, sizeof l);
  l.timer_ms = -1;
  connectc_curl_loop hooks = {loop_watch, loop_timer, &l};
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = f->url;
  cfg.loop = &hooks;
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  paced_client p;
  connectc_client_call *c = paced_call_new(&m_burst, &p, 1);
  assert_int_equal(connectc_curl_start(t, c), CONNECTC_OK);
  int pauses = 0;
  int64_t paused_at = 0, end = connectc_curl_now_ms() + 10000;
  while (connectc_curl_running(t) > 0 && connectc_curl_now_ms() < end) {
    int rv = poll(l.fds, (nfds_t)l.n, l.timer_ms < 0 ? 5 : (int)(l.timer_ms < 5 ? l.timer_ms : 5));
    if (rv == 0 || l.timer_ms == 0) connectc_curl_timeout_action(t);
    for (int i = 0; i < l.n && rv > 0; i++) {
      if (!l.fds[i].revents) continue;
      int ev = ((l.fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ? CONNECTC_CURL_WATCH_IN : 0) |
               ((l.fds[i].revents & POLLOUT) ? CONNECTC_CURL_WATCH_OUT : 0);
      connectc_curl_socket_action(t, l.fds[i].fd, ev);
    }
    if (!p.paused) continue;
    assert_false(p.closed);
    if (!paused_at) {
      paused_at = connectc_curl_now_ms();
      assert_int_equal(p.n, pauses + 1);
    }
    if (connectc_curl_now_ms() - paused_at < 30) continue;
    assert_int_equal(p.n, pauses + 1); /* nothing came while paused */
    pauses++;
    paused_at = 0;
    p.paused = 0;
    connectc_client_call_resume_recv(c);
    connectc_curl_wake(t, c);
  }
  assert_int_equal(connectc_curl_running(t), 0);
  assert_int_equal(pauses, 5);
  assert_int_equal(p.n, 5);
  assert_int_equal(p.out_of_order, 0);
  assert_true(p.closed);
  assert_int_equal(p.code, CONNECTC_CODE_ABORTED);
  assert_string_equal(p.message, "burst over");
  assert_string_equal(p.trailer, "burst");
  connectc_client_call_del(c);
  connectc_curl_del(t);
}

/* Canceling a paused call ends it at once (nothing held is delivered)
 * and frees its transfer; the transport goes on with the next call. */
static void test_client_cancel_while_paused(void **state) {
  fixture *f = *state;
  connectc_curl *t = client_for(f, 0);
  flood_sent = 0;
  paced_client p;
  connectc_client_call *c = paced_call_new(&m_flood, &p, 1000);
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
  const char *const one[] = {"after", NULL};
  result r;
  run_call(t, &m_say, "proto", CONNECTC_COMPRESSION_IDENTITY, 0, 0, one, &r);
  assert_int_equal(r.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], "AFTER");
  connectc_curl_del(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stop_waits_for_async_handlers),
      cmocka_unit_test(test_unary),         cmocka_unit_test(test_streams),
      cmocka_unit_test(test_compression),   cmocka_unit_test(test_errors_and_get),
      cmocka_unit_test(test_tls),
      cmocka_unit_test(test_http2_transport_falls_back_over_tls),
      cmocka_unit_test(test_deadline_and_async),
      cmocka_unit_test(test_external_event_loop),
      cmocka_unit_test(test_typed_client),
      cmocka_unit_test(test_header_flood),
      cmocka_unit_test(test_unary_calls_reuse_the_connection),
      cmocka_unit_test(test_paused_request_is_not_read),
      cmocka_unit_test(test_client_pause_slows_the_server),
      cmocka_unit_test(test_client_end_behind_held_bytes),
      cmocka_unit_test(test_client_cancel_while_paused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
