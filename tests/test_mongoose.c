/* The Mongoose adapters end to end over loopback: the server (its own
 * listener, and handed over from an application's mg_http_listen handler)
 * and the client transport on one mg_mgr, driven by this thread; every
 * stream type, bodies larger than Mongoose's receive cap, chunked uploads,
 * Connect GET, compression, TLS with verification, deadlines, cancellation,
 * asynchronous handlers completing from other threads through mg_wakeup,
 * keep-alive and pipelining across connectc and the application's own
 * routes, limits, receive backpressure on both sides (a paused call's
 * request or response body stays unread, also past the end of its
 * connection) and a graceful stop. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "connectc/envelope.h"
#include "connectc/mongoose.h"
#include "mongoose.h"

#ifndef CERT_DIR
#error "CERT_DIR must point at tests/certs"
#endif

/* ---- the service: raw routes on the sans-IO server call ---- */

static const connectc_method_desc m_say = {"/test.v1.Echo/Say", CONNECTC_STREAM_UNARY, 1};
static const connectc_method_desc m_list = {"/test.v1.Echo/List", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc m_chat = {"/test.v1.Echo/Chat", CONNECTC_STREAM_BIDI, 0};
static const connectc_method_desc m_sum = {"/test.v1.Echo/Sum", CONNECTC_STREAM_CLIENT, 0};
static const connectc_method_desc m_fail = {"/test.v1.Echo/Fail", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc m_async = {"/test.v1.Echo/Async", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc m_hang = {"/test.v1.Echo/Hang", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc m_trickle = {"/test.v1.Echo/Trickle", CONNECTC_STREAM_SERVER, 0};

/* Say and Chat echo each message upper-cased; List answers three copies. */
static int echo_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)ud;
  uint8_t *buf = malloc(len ? len : 1);
  for (size_t i = 0; i < len; i++)
    buf[i] = (uint8_t)(data[i] >= 'a' && data[i] <= 'z' ? data[i] - 32 : data[i]);
  int times = connectc_server_call_method(s) == &m_list ? 3 : 1;
  for (int i = 0; i < times; i++) connectc_server_call_send(s, buf, len);
  free(buf);
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

/* Sum answers "<messages>/<bytes>". */
typedef struct sum_state {
  size_t n, bytes;
} sum_state;
static void *sum_new(void *rd, connectc_server_call *call) {
  (void)rd;
  (void)call;
  return calloc(1, sizeof(sum_state));
}
static void sum_del(void *rd, void *cd) {
  (void)rd;
  free(cd);
}
static int sum_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)s;
  (void)data;
  sum_state *st = ud;
  st->n++;
  st->bytes += len;
  return 0;
}
static void sum_end(connectc_server_call *s, void *ud) {
  sum_state *st = ud;
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%zu/%zu", st->n, st->bytes);
  connectc_server_call_send(s, (const uint8_t *)buf, (size_t)n);
  connectc_server_call_finish(s, NULL);
}

static void fail_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_PERMISSION_DENIED, "no entry");
  connectc_error_add_detail(&e, "test.v1.Detail", (const uint8_t *)"\x08\x01", 2);
  connectc_server_call_finish(s, &e);
  connectc_error_reset(&e);
}

/* Async: a worker thread answers after a pause, through
 * connectc_server_call_run, holding a reference meanwhile. Hang: never
 * answers; records how it was canceled. */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static int async_done, cancels;
static connectc_code last_cancel;

typedef struct async_job {
  connectc_server_call *call;
  int ms;
} async_job;

static void op_send(connectc_server_call *s, void *arg) {
  (void)arg;
  if (connectc_server_call_is_finished(s)) return;
  for (int i = 0; i < 3; i++) connectc_server_call_send(s, (const uint8_t *)"later", 5);
  connectc_server_call_finish(s, NULL);
}

static void *async_main(void *arg) {
  async_job *j = arg;
  struct timespec d = {0, (long)j->ms * 1000000L};
  nanosleep(&d, NULL);
  connectc_server_call_run(j->call, op_send, NULL);
  connectc_server_call_unref(j->call);
  pthread_mutex_lock(&seen_mu);
  async_done++;
  pthread_mutex_unlock(&seen_mu);
  free(j);
  return NULL;
}

static void async_end(connectc_server_call *s, void *ud) {
  (void)ud;
  async_job *j = malloc(sizeof *j);
  j->call = s;
  j->ms = 20;
  connectc_server_call_ref(s);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, async_main, j), 0);
  pthread_detach(t);
}

/* Trickle: a worker sends five messages a millisecond or so apart, each
 * through connectc_server_call_run, stopping when the call is over
 * (canceled by the client, or its deadline). */
static int trickle_done, trickle_started;

static void op_trickle(connectc_server_call *s, void *arg) {
  int *i = arg;
  if (connectc_server_call_is_finished(s)) {
    *i = -1;
    return;
  }
  if (*i == 5) connectc_server_call_finish(s, NULL);
  else connectc_server_call_send(s, (const uint8_t *)"tick", 4);
}

static void *trickle_main(void *arg) {
  connectc_server_call *call = arg;
  unsigned seed = (unsigned)(uintptr_t)arg;
  for (int i = 0; i <= 5; i++) {
    struct timespec d = {0, (long)(rand_r(&seed) % 2000) * 1000L};
    nanosleep(&d, NULL);
    int k = i;
    connectc_server_call_run(call, op_trickle, &k);
    if (k < 0) break;
  }
  connectc_server_call_unref(call);
  pthread_mutex_lock(&seen_mu);
  trickle_done++;
  pthread_mutex_unlock(&seen_mu);
  return NULL;
}

static void trickle_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_server_call_ref(s);
  pthread_mutex_lock(&seen_mu);
  trickle_started++;
  pthread_mutex_unlock(&seen_mu);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, trickle_main, s), 0);
  pthread_detach(t);
}

static void on_cancel(connectc_server_call *s, const connectc_error *why, void *ud) {
  (void)s;
  (void)ud;
  pthread_mutex_lock(&seen_mu);
  cancels++;
  last_cancel = why->code;
  pthread_mutex_unlock(&seen_mu);
}

static connectc_router *make_router(void) {
  connectc_router *r = NULL;
  assert_int_equal(connectc_router_new(NULL, NULL, &r), CONNECTC_OK);
  const connectc_server_callbacks echo = {.on_message = echo_message, .on_end = echo_end, .on_cancel = on_cancel};
  const connectc_route routes[] = {
      {.method = &m_say, .callbacks = echo},
      {.method = &m_list, .callbacks = echo},
      {.method = &m_chat, .callbacks = echo},
      {.method = &m_sum, .callbacks = {.on_message = sum_message, .on_end = sum_end, .on_cancel = on_cancel}, .call_new = sum_new,
       .call_del = sum_del},
      {.method = &m_fail, .callbacks = {.on_end = fail_end}},
      {.method = &m_async, .callbacks = {.on_end = async_end, .on_cancel = on_cancel}},
      {.method = &m_hang, .callbacks = {.on_cancel = on_cancel}},
      {.method = &m_trickle, .callbacks = {.on_end = trickle_end, .on_cancel = on_cancel}},
  };
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    assert_int_equal(connectc_router_add(r, &routes[i]), CONNECTC_OK);
  return r;
}

/* ---- a client call, collected ---- */

typedef struct result {
  int closed;
  connectc_error err;
  connectc_headers headers, trailers;
  size_t n;
  char msgs[8][64];
  size_t big; /* bytes of messages too large to keep */
} result;

static int r_headers(connectc_client_call *c, const connectc_headers *h, void *ud) {
  (void)c;
  connectc_headers_append_all(&((result *)ud)->headers, h);
  return 0;
}
static int r_message(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  (void)c;
  result *r = ud;
  if (n < sizeof r->msgs[0] && r->n < 8) {
    memcpy(r->msgs[r->n], d, n);
    r->msgs[r->n][n] = 0;
  } else {
    r->big += n;
  }
  r->n++;
  return 0;
}
static void r_close(connectc_client_call *c, const connectc_error *e, const connectc_headers *t,
                    void *ud) {
  (void)c;
  result *r = ud;
  r->closed++;
  connectc_error_copy(&r->err, e);
  if (t) connectc_headers_append_all(&r->trailers, t);
}
static const connectc_client_callbacks rcb = {
    .on_headers = r_headers, .on_message = r_message, .on_close = r_close};

static void result_init(result *r) {
  memset(r, 0, sizeof *r);
  connectc_error_init(&r->err, NULL);
  connectc_headers_init(&r->headers, NULL);
  connectc_headers_init(&r->trailers, NULL);
}
static void result_reset(result *r) {
  connectc_error_reset(&r->err);
  connectc_headers_reset(&r->headers);
  connectc_headers_reset(&r->trailers);
}

/* ---- fixture: one manager, a server with its own listener ---- */

static struct mg_mgr mgr;
static connectc_router *router;
static connectc_mg_server *srv;
static uint16_t port;
static char base[64];

/* Paced (a client stream) pauses its call every 100 messages. */
static const connectc_method_desc m_paced = {"/test.v1.Echo/Paced", CONNECTC_STREAM_CLIENT, 0};
static void paced_add(connectc_router *r);

/* Mongoose writes hex dumps of bad requests whatever the log level. */
static void mg_quiet(char c, void *param) {
  (void)c;
  (void)param;
}

static int setup(void **state) {
  (void)state;
  mg_log_set(MG_LL_NONE);
  mg_log_set_fn(mg_quiet, NULL);
  mg_mgr_init(&mgr);
  router = make_router();
  paced_add(router);
  assert_int_equal(connectc_mg_server_new(NULL, router, &mgr, &srv), CONNECTC_OK);
  assert_int_equal(connectc_mg_listen(srv, "http://127.0.0.1:0", &port), CONNECTC_OK);
  snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)port);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  connectc_mg_server_del(srv);
  mg_mgr_free(&mgr);
  connectc_router_del(router);
  return 0;
}

/* Runs one call on a fresh transport over the shared manager: the
 * messages are sent (unary: the one), then it performs. */
static void call(const char *url, const connectc_client_config *cfg, const char *const *msgs,
                 size_t n_msgs, const connectc_mg_client_config *tcfg, result *r) {
  connectc_mg_client_config tc;
  memset(&tc, 0, sizeof tc);
  if (tcfg) tc = *tcfg;
  tc.base_url = url;
  connectc_mg_client *t = NULL;
  assert_int_equal(connectc_mg_client_new(&tc, &mgr, NULL, &t), CONNECTC_OK);
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(cfg, &rcb, r, NULL, connectc_mg_now_ms(), &c), CONNECTC_OK);
  for (size_t i = 0; i < n_msgs; i++)
    connectc_client_call_send(c, (const uint8_t *)msgs[i], strlen(msgs[i]));
  connectc_client_call_close_send(c);
  assert_int_equal(connectc_mg_client_perform(t, c), CONNECTC_OK);
  assert_int_equal(r->closed, 1);
  connectc_client_call_del(c);
  connectc_mg_client_del(t);
}

static connectc_client_config cfg_for(const connectc_method_desc *m) {
  connectc_client_config c;
  memset(&c, 0, sizeof c);
  c.procedure = m->procedure;
  c.stream_type = m->stream_type;
  c.codec = "proto";
  return c;
}

static void poll_ms(int ms) {
  int64_t until = connectc_mg_now_ms() + ms;
  while (connectc_mg_now_ms() < until) mg_mgr_poll(&mgr, 5);
}

/* A counter the handlers' threads update, read under seen_mu. Assertions
 * never run with seen_mu held: a failing one leaves the test by longjmp,
 * and the next test would wait for the lock forever. */
static int seen_read(const int *counter) {
  pthread_mutex_lock(&seen_mu);
  int v = *counter;
  pthread_mutex_unlock(&seen_mu);
  return v;
}

static connectc_code seen_last_cancel(void) {
  pthread_mutex_lock(&seen_mu);
  connectc_code v = last_cancel;
  pthread_mutex_unlock(&seen_mu);
  return v;
}

/* Polls until *counter has grown by `want` since `from` (at most 5 s) and
 * returns how much it grew. A handler's thread counts after its answer is
 * out, so the client can see the answer first. */
static int seen_wait(const int *counter, int from, int want) {
  int64_t until = connectc_mg_now_ms() + 5000;
  int got;
  while ((got = seen_read(counter) - from) < want && connectc_mg_now_ms() < until)
    mg_mgr_poll(&mgr, 5);
  return got;
}

/* ---- tests ---- */

static void test_stream_types(void **state) {
  (void)state;
  result r;
  connectc_client_config c = cfg_for(&m_say);
  const char *hi[] = {"hello"};
  result_init(&r);
  call(base, &c, hi, 1, NULL, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.msgs[0], "HELLO");
  result_reset(&r);

  c = cfg_for(&m_list);
  result_init(&r);
  call(base, &c, hi, 1, NULL, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 3);
  assert_string_equal(r.msgs[2], "HELLO");
  result_reset(&r);

  /* Client stream: a chunked upload of three messages. */
  c = cfg_for(&m_sum);
  const char *three[] = {"a", "bb", "ccc"};
  result_init(&r);
  call(base, &c, three, 3, NULL, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.msgs[0], "3/6");
  result_reset(&r);

  /* Half-duplex bidi, with metadata both ways. */
  c = cfg_for(&m_chat);
  const char *two[] = {"one", "two"};
  result_init(&r);
  connectc_mg_client_config tc;
  memset(&tc, 0, sizeof tc);
  connectc_mg_client *t = NULL;
  tc.base_url = base;
  assert_int_equal(connectc_mg_client_new(&tc, &mgr, NULL, &t), CONNECTC_OK);
  connectc_client_call *cc = NULL;
  assert_int_equal(connectc_client_call_new(&c, &rcb, &r, NULL, connectc_mg_now_ms(), &cc), CONNECTC_OK);
  connectc_client_call_add_header(cc, "x-echo", "yes");
  for (int i = 0; i < 2; i++) connectc_client_call_send(cc, (const uint8_t *)two[i], 3);
  connectc_client_call_close_send(cc);
  assert_int_equal(connectc_mg_client_perform(t, cc), CONNECTC_OK);
  assert_int_equal(r.err.code, CONNECTC_CODE_OK);
  assert_int_equal(r.n, 2);
  assert_string_equal(r.msgs[0], "ONE");
  assert_string_equal(r.msgs[1], "TWO");
  /* A stream's head went out with its first message: trailers only. */
  assert_null(connectc_headers_get(&r.headers, "x-echo"));
  assert_string_equal(connectc_headers_get(&r.trailers, "x-echo-trailer"), "yes");
  connectc_client_call_del(cc);
  result_reset(&r);
  /* Unary: both, the trailer as a trailer- header on the wire. */
  c = cfg_for(&m_say);
  result_init(&r);
  assert_int_equal(connectc_client_call_new(&c, &rcb, &r, NULL, connectc_mg_now_ms(), &cc), CONNECTC_OK);
  connectc_client_call_add_header(cc, "x-echo", "yes");
  connectc_client_call_send(cc, (const uint8_t *)"one", 3);
  assert_int_equal(connectc_mg_client_perform(t, cc), CONNECTC_OK);
  assert_int_equal(r.err.code, CONNECTC_CODE_OK);
  assert_string_equal(connectc_headers_get(&r.headers, "x-echo"), "yes");
  assert_string_equal(connectc_headers_get(&r.trailers, "x-echo-trailer"), "yes");
  connectc_client_call_del(cc);
  connectc_mg_client_del(t);
  result_reset(&r);

  /* Connect GET, and an error with details. */
  c = cfg_for(&m_say);
  c.use_get = 1;
  result_init(&r);
  call(base, &c, hi, 1, NULL, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_OK);
  assert_string_equal(r.msgs[0], "HELLO");
  result_reset(&r);
  c = cfg_for(&m_fail);
  result_init(&r);
  call(base, &c, hi, 1, NULL, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_PERMISSION_DENIED);
  assert_string_equal(r.err.message, "no entry");
  assert_int_equal(r.err.n_details, 1);
  assert_string_equal(r.err.details[0].type, "test.v1.Detail");
  result_reset(&r);
  /* Unknown procedure: unimplemented (404). */
  connectc_method_desc nope = {"/test.v1.Echo/Nope", CONNECTC_STREAM_UNARY, 0};
  c = cfg_for(&nope);
  result_init(&r);
  call(base, &c, hi, 1, NULL, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_UNIMPLEMENTED);
  result_reset(&r);
}

static void test_large_and_compressed(void **state) {
  (void)state;
  /* 3.5 MiB each way: past Mongoose's 3 MiB receive cap, which the
   * adapters never hit because they read bodies as they arrive. */
  size_t n = 3584 * 1024;
  char *big = malloc(n + 1);
  memset(big, 'x', n);
  big[n] = 0;
  const char *msgs[] = {big};
  for (int gz = 0; gz < 2; gz++) {
    connectc_client_config c = cfg_for(&m_say);
    if (gz) c.send_compression = CONNECTC_COMPRESSION_GZIP;
    result r;
    result_init(&r);
    call(base, &c, msgs, 1, NULL, &r);
    assert_int_equal(r.err.code, CONNECTC_CODE_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.big, n);
    result_reset(&r);
    c = cfg_for(&m_sum);
    if (gz) c.send_compression = CONNECTC_COMPRESSION_GZIP;
    result_init(&r);
    call(base, &c, msgs, 1, NULL, &r);
    assert_int_equal(r.err.code, CONNECTC_CODE_OK);
    char want[64];
    snprintf(want, sizeof want, "1/%zu", n);
    assert_string_equal(r.msgs[0], want);
    result_reset(&r);
  }
  /* Over the receive limits: refused as resource_exhausted, both sides. */
  connectc_client_config c = cfg_for(&m_say);
  c.limits.recv_max_bytes = 1024;
  result r;
  result_init(&r);
  call(base, &c, msgs, 1, NULL, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  result_reset(&r);
  char *huge = malloc(5 * 1024 * 1024 + 1);
  memset(huge, 'y', 5 * 1024 * 1024);
  huge[5 * 1024 * 1024] = 0;
  const char *hmsgs[] = {huge};
  c = cfg_for(&m_sum);
  result_init(&r);
  call(base, &c, hmsgs, 1, NULL, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  result_reset(&r);
  free(huge);
  free(big);
}

static void test_async_handlers(void **state) {
  (void)state;
  /* 40 calls at once on one transport, each answered 20 ms later from
   * its own thread. */
  enum { N = 40 };
  connectc_mg_client_config tc;
  memset(&tc, 0, sizeof tc);
  tc.base_url = base;
  connectc_mg_client *t = NULL;
  assert_int_equal(connectc_mg_client_new(&tc, &mgr, NULL, &t), CONNECTC_OK);
  result r[N];
  connectc_client_call *calls[N];
  connectc_client_config c = cfg_for(&m_async);
  int done0 = seen_read(&async_done);
  for (int i = 0; i < N; i++) {
    result_init(&r[i]);
    assert_int_equal(connectc_client_call_new(&c, &rcb, &r[i], NULL, connectc_mg_now_ms(), &calls[i]),
                     CONNECTC_OK);
    connectc_client_call_send(calls[i], (const uint8_t *)"go", 2);
    assert_int_equal(connectc_mg_client_start(t, calls[i], NULL, NULL), CONNECTC_OK);
  }
  int64_t until = connectc_mg_now_ms() + 10000;
  while (connectc_mg_client_running(t) > 0 && connectc_mg_now_ms() < until)
    connectc_mg_client_poll(t, 50);
  assert_int_equal(connectc_mg_client_running(t), 0);
  for (int i = 0; i < N; i++) {
    assert_int_equal(r[i].closed, 1);
    assert_int_equal(r[i].err.code, CONNECTC_CODE_OK);
    assert_int_equal(r[i].n, 3);
    assert_string_equal(r[i].msgs[0], "later");
    connectc_client_call_del(calls[i]);
    result_reset(&r[i]);
  }
  assert_int_equal(seen_wait(&async_done, done0, N), N);
  connectc_mg_client_del(t);
}

/* Many asynchronous calls racing client cancellations and deadlines:
 * every call closes once, every handler lets go, no connection is left. */
static void test_async_stress(void **state) {
  (void)state;
  enum { N = 120 };
  connectc_mg_client_config tc;
  memset(&tc, 0, sizeof tc);
  tc.base_url = base;
  connectc_mg_client *t = NULL;
  assert_int_equal(connectc_mg_client_new(&tc, &mgr, NULL, &t), CONNECTC_OK);
  static result r[N];
  connectc_client_call *calls[N];
  int64_t cancel_at[N];
  pthread_mutex_lock(&seen_mu);
  int done0 = trickle_done, started0 = trickle_started;
  pthread_mutex_unlock(&seen_mu);
  unsigned seed = 7;
  for (int i = 0; i < N; i++) {
    connectc_client_config c = cfg_for(&m_trickle);
    if (i % 3 == 1) c.timeout_ms = 1 + rand_r(&seed) % 8;
    result_init(&r[i]);
    assert_int_equal(connectc_client_call_new(&c, &rcb, &r[i], NULL, connectc_mg_now_ms(), &calls[i]),
                     CONNECTC_OK);
    connectc_client_call_send(calls[i], (const uint8_t *)"go", 2);
    assert_int_equal(connectc_mg_client_start(t, calls[i], NULL, NULL), CONNECTC_OK);
    cancel_at[i] = i % 3 == 2 ? connectc_mg_now_ms() + rand_r(&seed) % 10 : -1;
  }
  int64_t until = connectc_mg_now_ms() + 20000;
  while (connectc_mg_client_running(t) > 0 && connectc_mg_now_ms() < until) {
    connectc_mg_client_poll(t, 1);
    int64_t now = connectc_mg_now_ms();
    for (int i = 0; i < N; i++)
      if (cancel_at[i] >= 0 && now >= cancel_at[i]) {
        cancel_at[i] = -1;
        connectc_client_call_cancel(calls[i]);
        connectc_mg_client_wake(t, calls[i]);
      }
  }
  if (connectc_mg_client_running(t) != 0) {
    for (int i = 0; i < N; i++)
      if (!r[i].closed) fprintf(stderr, "call %d (kind %d) open, %zu messages\n", i, i % 3, r[i].n);
    fprintf(stderr, "server connections %zu\n", connectc_mg_server_connections(srv));
  }
  assert_int_equal(connectc_mg_client_running(t), 0);
  int ok = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(r[i].closed, 1);
    if (i % 3 == 0) {
      assert_int_equal(r[i].err.code, CONNECTC_CODE_OK);
      assert_int_equal(r[i].n, 5);
    }
    if (r[i].err.code == CONNECTC_CODE_OK) ok++;
    connectc_client_call_del(calls[i]);
    result_reset(&r[i]);
  }
  assert_true(ok >= N / 3);
  connectc_mg_client_del(t);
  /* The handlers all finish (their calls are over), and the server
   * holds nothing. */
  until = connectc_mg_now_ms() + 10000;
  for (;;) {
    pthread_mutex_lock(&seen_mu);
    /* Calls canceled early never reached a handler. */
    int d = trickle_done - done0, st = trickle_started - started0;
    pthread_mutex_unlock(&seen_mu);
    if ((d == st && st >= N / 3) || connectc_mg_now_ms() > until) {
      assert_int_equal(d, st);
      assert_true(st >= N / 3);
      break;
    }
    mg_mgr_poll(&mgr, 5);
  }
  poll_ms(20);
  assert_int_equal(connectc_mg_server_connections(srv), 0);
}

static void test_deadline_and_cancel(void **state) {
  (void)state;
  /* The client's deadline passes: both sides end with deadline_exceeded. */
  connectc_client_config c = cfg_for(&m_hang);
  c.timeout_ms = 100;
  const char *hi[] = {"x"};
  result r;
  result_init(&r);
  int c0 = seen_read(&cancels);
  int64_t t0 = connectc_mg_now_ms();
  call(base, &c, hi, 1, NULL, &r);
  int64_t took = connectc_mg_now_ms() - t0;
  assert_int_equal(r.err.code, CONNECTC_CODE_DEADLINE_EXCEEDED);
  assert_true(took >= 95 && took < 1000);
  result_reset(&r);
  poll_ms(50);
  assert_int_equal(seen_wait(&cancels, c0, 1), 1);
  assert_int_equal(seen_last_cancel(), CONNECTC_CODE_DEADLINE_EXCEEDED);

  /* The client goes away: the handler sees `canceled`. */
  c = cfg_for(&m_hang);
  connectc_mg_client_config tc;
  memset(&tc, 0, sizeof tc);
  tc.base_url = base;
  connectc_mg_client *t = NULL;
  assert_int_equal(connectc_mg_client_new(&tc, &mgr, NULL, &t), CONNECTC_OK);
  connectc_client_call *cc = NULL;
  result_init(&r);
  assert_int_equal(connectc_client_call_new(&c, &rcb, &r, NULL, connectc_mg_now_ms(), &cc), CONNECTC_OK);
  connectc_client_call_send(cc, (const uint8_t *)"x", 1);
  assert_int_equal(connectc_mg_client_start(t, cc, NULL, NULL), CONNECTC_OK);
  poll_ms(50);
  connectc_client_call_cancel(cc);
  connectc_mg_client_wake(t, cc);
  while (connectc_mg_client_running(t)) connectc_mg_client_poll(t, 10);
  assert_int_equal(r.err.code, CONNECTC_CODE_CANCELED);
  poll_ms(50);
  assert_int_equal(seen_wait(&cancels, c0, 2), 2);
  assert_int_equal(seen_last_cancel(), CONNECTC_CODE_CANCELED);
  connectc_client_call_del(cc);
  connectc_mg_client_del(t);
  result_reset(&r);
  assert_int_equal(connectc_mg_server_connections(srv), 0);
}

static char *read_pem(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", CERT_DIR, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *buf = calloc(1, 16384);
  size_t n = fread(buf, 1, 16383, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}

static void test_tls(void **state) {
  (void)state;
  char *cert = read_pem("server.pem"), *key = read_pem("server.key"), *ca = read_pem("ca.pem");
  connectc_mg_server_config scfg;
  memset(&scfg, 0, sizeof scfg);
  scfg.tls_cert_pem = cert;
  scfg.tls_key_pem = key;
  connectc_mg_server *ts = NULL;
  assert_int_equal(connectc_mg_server_new(&scfg, router, &mgr, &ts), CONNECTC_OK);
  uint16_t tport = 0;
  assert_int_equal(connectc_mg_listen(ts, "https://127.0.0.1:0", &tport), CONNECTC_OK);
  /* https:// needs the certificate. */
  assert_int_equal(connectc_mg_listen(srv, "https://127.0.0.1:0", NULL), CONNECTC_ERR_ARGUMENT);
  char url[64];
  const char *hi[] = {"secure"};
  connectc_client_config c = cfg_for(&m_list);
  connectc_mg_client_config tc;
  memset(&tc, 0, sizeof tc);
  tc.ca_pem = ca;
  tc.ca_pem_len = strlen(ca);
  const char *hosts[] = {"127.0.0.1", "localhost"};
  for (int i = 0; i < 2; i++) {
    snprintf(url, sizeof url, "https://%s:%u", hosts[i], (unsigned)tport);
    result r;
    result_init(&r);
    call(url, &c, hi, 1, &tc, &r);
    if (r.err.code) fprintf(stderr, "%s: %s\n", hosts[i], r.err.message);
    assert_int_equal(r.err.code, CONNECTC_CODE_OK);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.msgs[0], "SECURE");
    result_reset(&r);
  }
  /* Verification is on by default: the system CAs do not know this server,
   * nor does a wrong CA; a name the certificate lacks fails too. */
  snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)tport);
  connectc_mg_client_config bad;
  memset(&bad, 0, sizeof bad);
  result r;
  result_init(&r);
  call(url, &c, hi, 1, &bad, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_UNAVAILABLE);
  result_reset(&r);
  bad.ca_file = "/nonexistent/ca.pem";
  result_init(&r);
  call(url, &c, hi, 1, &bad, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_UNAVAILABLE);
  assert_non_null(strstr(r.err.message, "no CA certificates"));
  result_reset(&r);
  bad.ca_file = NULL;
  bad.ca_pem = cert; /* a certificate that signed nothing */
  bad.ca_pem_len = strlen(cert);
  result_init(&r);
  call(url, &c, hi, 1, &bad, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_UNAVAILABLE);
  result_reset(&r);
  /* The insecure switch works (for tests). */
  snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)tport);
  memset(&bad, 0, sizeof bad);
  bad.insecure_skip_verify = 1;
  result_init(&r);
  call(url, &c, hi, 1, &bad, &r);
  assert_int_equal(r.err.code, CONNECTC_CODE_OK);
  result_reset(&r);
  /* Plain HTTP to the TLS port fails cleanly. */
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)tport);
  result_init(&r);
  call(url, &c, hi, 1, NULL, &r);
  assert_int_not_equal(r.err.code, CONNECTC_CODE_OK);
  result_reset(&r);
  connectc_mg_server_del(ts);
  free(cert);
  free(key);
  free(ca);
}

/* ---- raw sockets, for what a client library would not send ---- */

static int raw_connect(uint16_t p) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(p);
  a.sin_addr.s_addr = htonl(0x7f000001);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* Sends `req`, then polls the manager and reads until `want` bytes (or
 * the peer closes, or ms pass). Returns the bytes read (NUL-terminated
 * into buf). */
static size_t raw_exchange(int fd, const char *req, size_t len, char *buf, size_t cap, int ms,
                           int *closed) {
  if (len) assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
  size_t got = 0;
  *closed = 0;
  int64_t until = connectc_mg_now_ms() + ms;
  while (connectc_mg_now_ms() < until && got + 1 < cap) {
    mg_mgr_poll(&mgr, 1);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) continue;
    ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
    if (n <= 0) {
      *closed = 1;
      break;
    }
    got += (size_t)n;
  }
  buf[got] = 0;
  return got;
}

/* Responses hold binary envelopes: search by length, not to a NUL. */
static const char *find(const char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(hay + i, needle, n) == 0) return hay + i;
  return NULL;
}
static size_t count(const char *hay, size_t len, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = find(p, len - (size_t)(p - hay), needle)); p++) n++;
  return n;
}

/* The application's own handler: /health, and connectc for the rest. */
static void app_handler(struct mg_connection *c, int ev, void *ev_data) {
  connectc_mg_server *s = c->fn_data;
  if (connectc_mg_serve(s, c, ev, ev_data)) return;
  if (ev == MG_EV_HTTP_MSG) {
    struct mg_http_message *hm = ev_data;
    if (mg_match(hm->uri, mg_str("/health"), NULL)) mg_http_reply(c, 200, "", "ok\n");
    else mg_http_reply(c, 404, "", "none\n");
  }
}

#define CT_PROTO "Content-Type: application/proto\r\n"

static void test_embedded_keepalive(void **state) {
  (void)state;
  struct mg_connection *l = mg_http_listen(&mgr, "http://127.0.0.1:0", app_handler, srv);
  assert_non_null(l);
  uint16_t ap = mg_ntohs(l->loc.port);
  int fd = raw_connect(ap);
  char buf[8192];
  int closed;
  /* Pipelined on one connection: the application's route, a Connect call,
   * the application's again, a chunked Connect stream, and a last call. */
  static const char reqs[] =
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n" CT_PROTO "Content-Length: 3\r\n\r\nabc"
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /test.v1.Echo/Sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/connect+proto\r\n"
      "Transfer-Encoding: chunked\r\n\r\n4\r\n\0\0\0\0\r\n1;x=y\r\n\0\r\n0\r\n\r\n"
      "POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n" CT_PROTO "Content-Length: 2\r\n\r\nxy";
  size_t got = raw_exchange(fd, reqs, sizeof reqs - 1, buf, sizeof buf, 1500, &closed);
  if (count(buf, got, "HTTP/1.1 200") != 5) fwrite(buf, 1, got, stderr);
  assert_int_equal(count(buf, got, "HTTP/1.1 200"), 5);
  assert_int_equal(count(buf, got, "ok\n"), 2);
  assert_false(closed);
  /* In order: ok, ABC, ok, the stream (one empty message), XY. */
  const char *p1 = find(buf, got, "ok\n"), *p2 = find(buf, got, "ABC"),
             *p3 = find(p2, got - (size_t)(p2 - buf), "ok\n"), *p4 = find(buf, got, "1/0"),
             *p5 = find(buf, got, "XY");
  assert_true(p1 && p2 && p3 && p4 && p5);
  assert_true(p1 < p2 && p2 < p3 && p3 < p4 && p4 < p5);
  close(fd);
  /* Heads Mongoose's parser lets through and connectc refuses on a
   * handed-over request: exactly one answer, then closed. */
  const struct {
    const char *req;
    const char *status;
  } bad[] = {
      {"POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n" CT_PROTO
       "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       "HTTP/1.1 501"},
      {"POST /test.v1.Echo/Say HTTP/1.1\r\n" CT_PROTO "Content-Length: 3\r\n\r\nabc", "HTTP/1.1 400"},
      {"POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n" CT_PROTO
       "Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
       "HTTP/1.1 400"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fd = raw_connect(ap);
    got = raw_exchange(fd, bad[i].req, strlen(bad[i].req), buf, sizeof buf, 1000, &closed);
    /* One response head (their bodies are JSON, with no CRLF). */
    assert_int_equal(count(buf, got, "\r\n\r\n"), 1);
    assert_true(got > 9 && memcmp(buf, bad[i].status, 12) == 0);
    assert_non_null(find(buf, got, bad[i].status));
    assert_true(closed);
    close(fd);
  }
  /* What Mongoose's parser refuses itself (a space before a colon) it
   * closes without an answer, before connectc sees it. */
  fd = raw_connect(ap);
  const char *smuggle = "POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n" CT_PROTO
                        "Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc";
  got = raw_exchange(fd, smuggle, strlen(smuggle), buf, sizeof buf, 1000, &closed);
  assert_int_equal(got, 0);
  assert_true(closed);
  close(fd);
  poll_ms(20);
  assert_int_equal(connectc_mg_server_connections(srv), 0);
  l->is_closing = 1;
}

static void test_own_listener_http(void **state) {
  (void)state;
  char buf[8192];
  int closed;
  /* Keep-alive with pipelining on the server's own listener. */
  int fd = raw_connect(port);
  const char *two = "POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n" CT_PROTO "Content-Length: 3\r\n\r\nabc"
                    "POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n" CT_PROTO "Content-Length: 3\r\n\r\ndef";
  size_t got = raw_exchange(fd, two, strlen(two), buf, sizeof buf, 500, &closed);
  assert_int_equal(count(buf, got, "HTTP/1.1 200 OK"), 2);
  assert_true(strstr(buf, "ABC") < strstr(buf, "DEF"));
  assert_false(closed);
  /* Expect: 100-continue gets its interim response first. */
  const char *expect = "POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n" CT_PROTO
                       "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  raw_exchange(fd, expect, strlen(expect), buf, sizeof buf, 200, &closed);
  assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
  raw_exchange(fd, "ghi", 3, buf, sizeof buf, 200, &closed);
  assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
  assert_non_null(strstr(buf, "GHI"));
  /* A streaming response is chunked; Connection: close is honoured. */
  static const char stream[] = "POST /test.v1.Echo/List HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/connect+proto\r\nConnection: close\r\n"
                       "Content-Length: 7\r\n\r\n\0\0\0\0\x02hi";
  got = raw_exchange(fd, stream, sizeof stream - 1, buf, sizeof buf, 1000, &closed);
  assert_non_null(find(buf, got, "Transfer-Encoding: chunked\r\n"));
  assert_non_null(find(buf, got, "Connection: close\r\n"));
  assert_int_equal(count(buf, got, "HI"), 3);
  assert_non_null(find(buf, got, "\r\n0\r\n\r\n"));
  assert_true(closed);
  close(fd);
  /* HTTP/1.0: no chunks; the stream ends with the connection. */
  fd = raw_connect(port);
  static const char old[] = "POST /test.v1.Echo/List HTTP/1.0\r\nContent-Type: application/connect+proto\r\n"
                    "Content-Length: 7\r\n\r\n\0\0\0\0\x02hi";
  got = raw_exchange(fd, old, sizeof old - 1, buf, sizeof buf, 1000, &closed);
  assert_non_null(find(buf, got, "HTTP/1.1 200 OK"));
  assert_null(find(buf, got, "chunked"));
  assert_int_equal(count(buf, got, "HI"), 3);
  assert_true(closed);
  close(fd);
  /* Limits: more header fields than the default 256, a head too large. */
  fd = raw_connect(port);
  char flood[16384];
  size_t fl = (size_t)snprintf(flood, sizeof flood, "POST /test.v1.Echo/Say HTTP/1.1\r\nHost: x\r\n");
  for (int i = 0; i < 300; i++) fl += (size_t)snprintf(flood + fl, sizeof flood - fl, "X-%d: y\r\n", i);
  fl += (size_t)snprintf(flood + fl, sizeof flood - fl, "\r\n");
  raw_exchange(fd, flood, fl, buf, sizeof buf, 1000, &closed);
  assert_non_null(strstr(buf, "HTTP/1.1 431"));
  assert_true(closed);
  close(fd);
  poll_ms(20);
  assert_int_equal(connectc_mg_server_connections(srv), 0);
}

static void test_limits_and_stop(void **state) {
  (void)state;
  connectc_mg_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.max_connections = 2;
  cfg.idle_timeout_ms = 200;
  cfg.shutdown_grace_ms = 300;
  connectc_mg_server *s2 = NULL;
  assert_int_equal(connectc_mg_server_new(&cfg, router, &mgr, &s2), CONNECTC_OK);
  uint16_t p2 = 0;
  assert_int_equal(connectc_mg_listen(s2, "http://127.0.0.1:0", &p2), CONNECTC_OK);
  char buf[1024];
  int closed;
  int a = raw_connect(p2), b = raw_connect(p2), c = raw_connect(p2);
  raw_exchange(c, "", 0, buf, sizeof buf, 100, &closed);
  assert_true(closed); /* the third is over the limit */
  assert_int_equal(connectc_mg_server_connections(s2), 2);
  /* Idle ones are closed after 200 ms. */
  int64_t t0 = connectc_mg_now_ms();
  raw_exchange(a, "POST / HTTP/1.1\r\n", 17, buf, sizeof buf, 2000, &closed);
  assert_true(closed);
  assert_true(connectc_mg_now_ms() - t0 < 1000);
  raw_exchange(b, "", 0, buf, sizeof buf, 500, &closed);
  assert_true(closed);
  close(a);
  close(b);
  close(c);
  /* A graceful stop with a call in flight: it finishes within the grace
   * period when it can (Async: 20 ms), and is canceled when it cannot
   * (Hang). A response already queued when the stop begins is still
   * written before its idle connection closes (this once raced). */
  int f1 = raw_connect(p2), f2 = raw_connect(p2);
  const char *async_req = "POST /test.v1.Echo/Async HTTP/1.1\r\nHost: x\r\n"
                          "Content-Type: application/connect+proto\r\nContent-Length: 5\r\n\r\n";
  raw_exchange(f1, async_req, strlen(async_req), buf, sizeof buf, 10, &closed);
  raw_exchange(f1, "\0\0\0\0\0", 5, buf, sizeof buf, 5, &closed);
  const char *hang = "POST /test.v1.Echo/Hang HTTP/1.1\r\nHost: x\r\n" CT_PROTO "Content-Length: 1\r\n\r\nx";
  raw_exchange(f2, hang, strlen(hang), buf, sizeof buf, 20, &closed);
  int c0 = seen_read(&cancels);
  int64_t s0 = connectc_mg_now_ms();
  connectc_mg_server_del(s2);
  int64_t took = connectc_mg_now_ms() - s0;
  assert_true(took >= 290 && took < 2000);
  assert_int_equal(seen_read(&cancels) - c0, 1);
  size_t got = 0;
  int eof = 0;
  for (int i = 0; i < 100 && got < sizeof buf - 1 && !eof; i++) {
    ssize_t n = recv(f1, buf + got, sizeof buf - 1 - got, MSG_DONTWAIT);
    if (n > 0) got += (size_t)n;
    else if (n == 0) eof = 1;
    else poll_ms(5);
  }
  if (count(buf, got, "later") != 3) {
    fprintf(stderr, "f1: %zu bytes, eof %d, stop took %lld ms:\n", got, eof, (long long)took);
    fwrite(buf, 1, got, stderr);
  }
  assert_int_equal(count(buf, got, "later"), 3); /* the async call finished in time */
  assert_true(eof);                              /* and the server closed */
  /* The canceled one: closed with no response. */
  eof = 0;
  got = 0;
  for (int i = 0; i < 100 && !eof; i++) {
    ssize_t n = recv(f2, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) eof = 1;
    else if (n > 0) got += (size_t)n;
    else poll_ms(5);
  }
  assert_true(eof);
  assert_int_equal(got, 0);
  close(f1);
  close(f2);
}

/* Connects `n` sockets to `p` at once, without letting the manager poll
 * (so nothing is accepted), and counts those the kernel completed within
 * 300 ms: a connection over the listen queue has its SYN dropped and waits
 * a second for the retransmission. */
static int connect_burst(uint16_t p, int n) {
  enum { MAX_BURST = 300 };
  assert_true(n <= MAX_BURST);
  struct pollfd pf[MAX_BURST];
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(p);
  a.sin_addr.s_addr = htonl(0x7f000001);
  for (int i = 0; i < n; i++) {
    pf[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(pf[i].fd >= 0);
    pf[i].events = POLLOUT;
    int rc = connect(pf[i].fd, (struct sockaddr *)&a, sizeof a);
    assert_true(rc == 0 || errno == EINPROGRESS);
  }
  int64_t until = connectc_mg_now_ms() + 300;
  int done = 0;
  for (int64_t now = connectc_mg_now_ms(); now < until && done < n; now = connectc_mg_now_ms()) {
    done = 0;
    assert_true(poll(pf, (nfds_t)n, (int)(until - now)) >= 0);
    for (int i = 0; i < n; i++) {
      if (pf[i].fd < 0) {
        done++;
        continue;
      }
      if (!(pf[i].revents & (POLLOUT | POLLERR | POLLHUP))) continue;
      int err = -1;
      socklen_t el = sizeof err;
      assert_int_equal(getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
      assert_int_equal(err, 0);
      close(pf[i].fd);
      pf[i].fd = -1;
      done++;
    }
  }
  for (int i = 0; i < n; i++)
    if (pf[i].fd >= 0) close(pf[i].fd);
  return done;
}

/* 300 clients connecting at once all get through the listen queue, both on
 * the server's own listener (it sets SOMAXCONN) and on an application's
 * mg_http_listen() one (this project builds mongoose.c with
 * MG_SOCK_LISTEN_BACKLOG_SIZE=SOMAXCONN); Mongoose's 128 left 171 of them
 * waiting for a SYN retransmission. */
static void test_listen_queue(void **state) {
  (void)state;
  connectc_mg_server *s3 = NULL;
  assert_int_equal(connectc_mg_server_new(NULL, router, &mgr, &s3), CONNECTC_OK);
  uint16_t p3 = 0;
  assert_int_equal(connectc_mg_listen(s3, "http://127.0.0.1:0", &p3), CONNECTC_OK);
  assert_int_equal(connect_burst(p3, 300), 300);
  struct mg_connection *own = mg_http_listen(&mgr, "http://127.0.0.1:0", app_handler, NULL);
  assert_non_null(own);
  assert_int_equal(connect_burst(mg_ntohs(own->loc.port), 300), 300);
  own->is_closing = 1;
  poll_ms(50); /* accepts what the queues hold; each is closed by its peer */
  connectc_mg_server_del(s3);
  poll_ms(20);
}

/* An application's own https:// listener hands its requests over too: the
 * adapter reads and writes through Mongoose's TLS. */
static char *tls_cert, *tls_key;
static void tls_app_handler(struct mg_connection *c, int ev, void *ev_data) {
  if (ev == MG_EV_ACCEPT) {
    struct mg_tls_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.cert = mg_str(tls_cert);
    opts.key = mg_str(tls_key);
    mg_tls_init(c, &opts);
    return;
  }
  app_handler(c, ev, ev_data);
}

static void test_embedded_tls(void **state) {
  (void)state;
  tls_cert = read_pem("server.pem");
  tls_key = read_pem("server.key");
  char *ca = read_pem("ca.pem");
  struct mg_connection *l = mg_http_listen(&mgr, "https://127.0.0.1:0", tls_app_handler, srv);
  assert_non_null(l);
  char url[64];
  snprintf(url, sizeof url, "https://localhost:%u", (unsigned)mg_ntohs(l->loc.port));
  connectc_mg_client_config tc;
  memset(&tc, 0, sizeof tc);
  tc.ca_pem = ca;
  const char *msgs[] = {"over tls"};
  for (int i = 0; i < 2; i++) {
    connectc_client_config c = cfg_for(i ? &m_sum : &m_list);
    result r;
    result_init(&r);
    call(url, &c, msgs, 1, &tc, &r);
    assert_int_equal(r.err.code, CONNECTC_CODE_OK);
    if (i) assert_string_equal(r.msgs[0], "1/8");
    else assert_string_equal(r.msgs[2], "OVER TLS");
    result_reset(&r);
  }
  l->is_closing = 1;
  poll_ms(20);
  free(tls_cert);
  free(tls_key);
  free(ca);
}

/* ---- the client against a server that answers with canned bytes ---- */

static const char *canned;
static size_t canned_len;
static int canned_close;

static void canned_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void)ev_data;
  if (ev != MG_EV_READ) return;
  mg_send(c, canned, canned_len);
  c->recv.len = 0;
  if (canned_close) c->is_draining = 1;
}

static void expect_client(uint16_t p, const char *resp, size_t len, int close_after,
                          connectc_code code, const char *msg_part, size_t n_msgs) {
  canned = resp;
  canned_len = len;
  canned_close = close_after;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)p);
  connectc_client_config c = cfg_for(&m_list);
  c.timeout_ms = 2000;
  const char *msgs[] = {"x"};
  result r;
  result_init(&r);
  call(url, &c, msgs, 1, NULL, &r);
  if (r.err.code != code) fprintf(stderr, "got %d: %s\n", r.err.code, r.err.message);
  assert_int_equal(r.err.code, code);
  if (msg_part) assert_non_null(strstr(r.err.message, msg_part));
  assert_int_equal(r.n, n_msgs);
  result_reset(&r);
}

#define RESP_HEAD "HTTP/1.1 200 OK\r\ncontent-type: application/connect+proto\r\n"

static void test_client_hostile_server(void **state) {
  (void)state;
  struct mg_connection *l = mg_listen(&mgr, "tcp://127.0.0.1:0", canned_fn, NULL);
  assert_non_null(l);
  uint16_t p = mg_ntohs(l->loc.port);
  /* A good stream, chunked: one message and the end. */
  static const char good[] = RESP_HEAD "transfer-encoding: chunked\r\n\r\n"
                             "7\r\n\0\0\0\0\x02hi\r\n7;ext=1\r\n\x02\0\0\0\x02{}\r\n0\r\n\r\n";
  expect_client(p, good, sizeof good - 1, 0, CONNECTC_CODE_OK, NULL, 1);
  /* The same until the connection closes (no framing). */
  static const char until_close[] = RESP_HEAD "\r\n\0\0\0\0\x02hi\x02\0\0\0\x02{}";
  expect_client(p, until_close, sizeof until_close - 1, 1, CONNECTC_CODE_OK, NULL, 1);
  /* Broken chunked framing: unavailable, naming it. */
  static const char bad_chunk[] = RESP_HEAD "transfer-encoding: chunked\r\n\r\n"
                                  "7 \r\n\0\0\0\0\x02hi\r\n0\r\n\r\n";
  expect_client(p, bad_chunk, sizeof bad_chunk - 1, 0, CONNECTC_CODE_UNAVAILABLE,
                "malformed chunked response body", 0);
  /* Ambiguous framing, a bare LF, a bad status line. */
  static const char amb[] = RESP_HEAD "content-length: 12\r\ntransfer-encoding: chunked\r\n\r\n";
  expect_client(p, amb, sizeof amb - 1, 0, CONNECTC_CODE_UNAVAILABLE,
                "ambiguous HTTP response framing", 0);
  static const char lf[] = "HTTP/1.1 200 OK\ncontent-length: 0\n\n";
  expect_client(p, lf, sizeof lf - 1, 0, CONNECTC_CODE_UNAVAILABLE, "bare CR or LF", 0);
  static const char status[] = "HTTP/1.1 2x0 OK\r\n\r\n";
  expect_client(p, status, sizeof status - 1, 0, CONNECTC_CODE_UNAVAILABLE, "malformed status line", 0);
  /* A head past the limit (64 KiB): resource_exhausted, without reading
   * it all. */
  size_t n = 200000;
  char *huge = malloc(n);
  memcpy(huge, RESP_HEAD "x-big: ", sizeof(RESP_HEAD "x-big: ") - 1);
  memset(huge + sizeof(RESP_HEAD "x-big: ") - 1, 'b', n - (sizeof(RESP_HEAD "x-big: ") - 1));
  expect_client(p, huge, n, 0, CONNECTC_CODE_RESOURCE_EXHAUSTED, "response head exceeds", 0);
  free(huge);
  /* The connection closes mid-body: unavailable. */
  static const char cut[] = RESP_HEAD "content-length: 100\r\n\r\n\0\0\0\0\x02hi";
  expect_client(p, cut, sizeof cut - 1, 1, CONNECTC_CODE_UNAVAILABLE,
                "closed before the response ended", 1);
  /* A 100 Continue first is skipped. */
  static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n" RESP_HEAD "content-length: 14\r\n\r\n"
                             "\0\0\0\0\x02hi\x02\0\0\0\x02{}";
  expect_client(p, cont, sizeof cont - 1, 0, CONNECTC_CODE_OK, NULL, 1);
  /* Nobody listens any more: unavailable. */
  l->is_closing = 1;
  poll_ms(10);
  expect_client(p, "", 0, 0, CONNECTC_CODE_UNAVAILABLE, NULL, 0);
}

/* ---- receive backpressure over a real socket ---- */

/* Paced's consumer pauses the call at every 100th message and holds a
 * reference; the test resumes it from a thread of its own. Only one pause
 * is held at a time: a transport that ignored it would go on delivering,
 * and the next pause would show at the wrong count. */
static atomic_int paced_n, paced_paused, paced_ended, paced_resumed;
static connectc_server_call *_Atomic paced_call;

static int paced_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)data;
  (void)len;
  (void)ud;
  int n = paced_n + 1;
  if (n % 100 == 0 && !paced_paused) {
    connectc_server_call_pause_recv(s);
    connectc_server_call_ref(s); /* the resuming thread drops it */
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
  paced_ended = 1;
}
static void paced_add(connectc_router *r) {
  const connectc_route route = {.method = &m_paced,
                                .callbacks = {.on_message = paced_message, .on_end = paced_end}};
  assert_int_equal(connectc_router_add(r, &route), CONNECTC_OK);
}
static void paced_resume(connectc_server_call *s, void *arg) {
  (void)arg;
  paced_paused = 0;
  connectc_server_call_resume_recv(s); /* wakes the loop through mg_wakeup */
}
static void *paced_resumer(void *arg) {
  (void)arg;
  struct timespec d = {0, 2 * 1000 * 1000};
  nanosleep(&d, NULL);
  connectc_server_call *c = paced_call;
  connectc_server_call_run(c, paced_resume, NULL);
  connectc_server_call_unref(c);
  paced_resumed = 1;
  return NULL;
}

/* The server's end of the test's raw connection `fd`. */
static struct mg_connection *server_side(int fd) {
  struct sockaddr_in a;
  socklen_t al = sizeof a;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
  for (struct mg_connection *c = mgr.conns; c; c = c->next)
    if (!c->is_listening && c->rem.port == a.sin_port && c->loc.port == htons(port)) return c;
  return NULL;
}

/* 1000 one-byte messages sent at once in one send, as a Content-Length
 * body (chunk == 0) or in chunks of `chunk` bytes; the server's consumer
 * pauses every 100 messages. While it is paused no message arrives, the
 * connection reads nothing (Mongoose's is_full) and what is not taken
 * waits in its receive buffer; each resume goes on from exactly there. */
static void paced_run(size_t chunk) {
  enum { MSGS = 1000, BODY = MSGS * 6 };
  static uint8_t body[BODY];
  for (int i = 0; i < MSGS; i++) {
    connectc_envelope_write_header(body + i * 6, 0, 1);
    body[i * 6 + 5] = 'x';
  }
  static char req[BODY * 3 + 512];
  size_t rl = (size_t)snprintf(req, sizeof req,
                               "POST /test.v1.Echo/Paced HTTP/1.1\r\nHost: x\r\n"
                               "Content-Type: application/connect+proto\r\n");
  if (!chunk) {
    rl += (size_t)snprintf(req + rl, sizeof req - rl, "Content-Length: %d\r\n\r\n", BODY);
    memcpy(req + rl, body, BODY);
    rl += BODY;
  } else {
    rl += (size_t)snprintf(req + rl, sizeof req - rl, "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t off = 0; off < BODY; off += chunk) {
      size_t k = BODY - off < chunk ? BODY - off : chunk;
      rl += (size_t)snprintf(req + rl, sizeof req - rl, "%zx\r\n", k);
      memcpy(req + rl, body + off, k);
      rl += k;
      memcpy(req + rl, "\r\n", 2);
      rl += 2;
    }
    memcpy(req + rl, "0\r\n\r\n", 5);
    rl += 5;
  }
  assert_true(rl < sizeof req);
  paced_n = paced_paused = paced_ended = 0;
  int fd = raw_connect(port);
  assert_int_equal(send(fd, req, rl, MSG_NOSIGNAL), (ssize_t)rl); /* fits the socket buffers */
  int pauses = 0;
  for (;;) {
    int64_t until = connectc_mg_now_ms() + 2000;
    while (!paced_paused && !paced_ended && connectc_mg_now_ms() < until) mg_mgr_poll(&mgr, 1);
    if (!paced_paused) break; /* the stream ended (or the test fails below) */
    int at = paced_n;
    assert_int_equal(at, (pauses + 1) * 100);
    /* Paused: however long the loop runs, nothing more is taken or read. */
    struct mg_connection *sc = server_side(fd);
    assert_non_null(sc);
    size_t held = sc->recv.len;
    if (at < MSGS) {
      assert_true(sc->is_full);
      assert_true(held > 0 || !chunk); /* at least the rest of the chunk framing */
      assert_true(chunk || held <= (size_t)(MSGS - at) * 6);
    }
    poll_ms(30);
    assert_int_equal(paced_n, at);
    if (at < MSGS) {
      assert_int_equal(sc->recv.len, held);
      assert_true(sc->is_full);
    }
    pauses++;
    paced_resumed = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, paced_resumer, NULL), 0);
    until = connectc_mg_now_ms() + 2000;
    while (!paced_resumed && connectc_mg_now_ms() < until) mg_mgr_poll(&mgr, 1);
    pthread_join(t, NULL);
  }
  assert_int_equal(paced_n, MSGS);
  assert_int_equal(pauses, MSGS / 100);
  assert_true(paced_ended);
  /* The whole stream was taken, and answered; the connection reads again. */
  char resp[2048];
  size_t got = 0;
  int64_t until = connectc_mg_now_ms() + 2000;
  while (connectc_mg_now_ms() < until && got + 1 < sizeof resp) {
    mg_mgr_poll(&mgr, 1);
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, 0) <= 0) continue;
    ssize_t k = recv(fd, resp + got, sizeof resp - 1 - got, 0);
    if (k <= 0) break;
    got += (size_t)k;
    if (got >= 5 && memcmp(resp + got - 5, "0\r\n\r\n", 5) == 0) break; /* the last chunk */
  }
  assert_non_null(find(resp, got, "HTTP/1.1 200 OK"));
  assert_non_null(find(resp, got, "got 1000"));
  poll_ms(5);
  struct mg_connection *sc = server_side(fd);
  assert_non_null(sc);
  assert_false(sc->is_full);
  assert_int_equal(sc->recv.len, 0);
  close(fd);
  poll_ms(20);
  assert_int_equal(connectc_mg_server_connections(srv), 0);
}

static void test_paused_request_is_not_read(void **state) {
  (void)state;
  paced_run(0);
}

/* The same in chunks: 7 bytes (pauses fall inside a chunk's data, and
 * messages span chunks) and 600 (each pause falls at a chunk's end). */
static void test_paused_chunked_request_is_not_read(void **state) {
  (void)state;
  paced_run(7);
  paced_run(600);
}

/* ---- client receive backpressure ---- */

/* A raw server: answers the first request of each connection with bp_resp,
 * then closes when bp_close_after is set; over TLS with bp_cert. */
static const uint8_t *bp_resp;
static size_t bp_resp_len;
static int bp_close_after;
static char *bp_cert, *bp_key;

static void bp_server_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void)ev_data;
  if (ev == MG_EV_ACCEPT && bp_cert) {
    struct mg_tls_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.cert = mg_str(bp_cert);
    opts.key = mg_str(bp_key);
    mg_tls_init(c, &opts);
    return;
  }
  if (ev != MG_EV_READ) return;
  c->recv.len = 0;
  if (c->data[0]) return;
  c->data[0] = 1;
  mg_send(c, bp_resp, bp_resp_len);
  if (bp_close_after) c->is_draining = 1;
}

/* The end-of-stream message every response ends with: a status no
 * transport failure produces, so that the end seen is the server's. */
#define BP_END "{\"error\":{\"code\":\"data_loss\",\"message\":\"end of the stream\"}}"

/* A Connect server-stream response: `msgs` messages of `size` bytes (the
 * first four: the message's index, big-endian), then the end of the
 * stream; framed by Content-Length ('L', `extra` more bytes announced than
 * sent), in chunks of `chunk` bytes ('C'), or until the connection closes
 * ('U'). */
static uint8_t *bp_build(char framing, int msgs, size_t size, size_t chunk, size_t extra,
                         size_t *out_len) {
  size_t body_len = (size_t)msgs * (5 + size) + 5 + strlen(BP_END);
  uint8_t *body = malloc(body_len);
  assert_non_null(body);
  uint8_t *p = body;
  for (int i = 0; i < msgs; i++) {
    connectc_envelope_write_header(p, 0, (uint32_t)size);
    memset(p + 5, 'm', size);
    p[5] = (uint8_t)(i >> 24);
    p[6] = (uint8_t)(i >> 16);
    p[7] = (uint8_t)(i >> 8);
    p[8] = (uint8_t)i;
    p += 5 + size;
  }
  connectc_envelope_write_header(p, 2, (uint32_t)strlen(BP_END));
  memcpy(p + 5, BP_END, strlen(BP_END));
  size_t cap = body_len + body_len / (chunk ? chunk : body_len) * 16 + 512;
  uint8_t *r = malloc(cap);
  assert_non_null(r);
  size_t n = (size_t)snprintf((char *)r, cap, "%s", RESP_HEAD);
  if (framing == 'L')
    n += (size_t)snprintf((char *)r + n, cap - n, "content-length: %zu\r\n\r\n", body_len + extra);
  else if (framing == 'C')
    n += (size_t)snprintf((char *)r + n, cap - n, "transfer-encoding: chunked\r\n\r\n");
  else
    n += (size_t)snprintf((char *)r + n, cap - n, "\r\n");
  if (framing != 'C') {
    memcpy(r + n, body, body_len);
    n += body_len;
  } else {
    for (size_t off = 0; off < body_len; off += chunk) {
      size_t k = body_len - off < chunk ? body_len - off : chunk;
      n += (size_t)snprintf((char *)r + n, cap - n, "%zx\r\n", k);
      memcpy(r + n, body + off, k);
      n += k;
      memcpy(r + n, "\r\n", 2);
      n += 2;
    }
    memcpy(r + n, "0\r\n\r\n", 5);
    n += 5;
  }
  assert_true(n <= cap);
  free(body);
  *out_len = n;
  return r;
}

/* The consumer pauses the call at every `every`-th message; the test's
 * loop resumes it. */
typedef struct {
  int every, n, paused, during, disorder, closed, released;
  size_t size;
  connectc_code code;
  char msg[128];
} bp_state;

static int bp_message(connectc_client_call *c, const uint8_t *d, size_t n, void *ud) {
  bp_state *st = ud;
  if (st->paused) st->during++;
  int idx = n >= 4 ? (int)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]) : -1;
  if (n != st->size || idx != st->n) st->disorder++;
  st->n++;
  if (st->n % st->every == 0) {
    connectc_client_call_pause_recv(c);
    st->paused = 1;
  }
  return 0;
}
static void bp_close(connectc_client_call *c, const connectc_error *e, const connectc_headers *t,
                     void *ud) {
  (void)c;
  (void)t;
  bp_state *st = ud;
  st->closed++;
  st->code = e->code;
  snprintf(st->msg, sizeof st->msg, "%s", e->message ? e->message : "");
}
static void bp_released(void *arg) { ((bp_state *)arg)->released++; }
static const connectc_client_callbacks bp_cb = {.on_message = bp_message, .on_close = bp_close};

/* The client's connection to port p, and the server's end of it. */
static struct mg_connection *bp_client_conn(uint16_t p) {
  for (struct mg_connection *c = mgr.conns; c; c = c->next)
    if (c->is_client && c->rem.port == mg_htons(p)) return c;
  return NULL;
}
static struct mg_connection *bp_server_conn(uint16_t p) {
  for (struct mg_connection *c = mgr.conns; c; c = c->next)
    if (c->is_accepted && c->loc.port == mg_htons(p)) return c;
  return NULL;
}

typedef struct {
  char framing;   /* 'L', 'C' or 'U' (see bp_build) */
  int msgs;       /* messages */
  size_t size;    /* bytes each, at least 4 */
  size_t chunk;   /* 'C': chunk size */
  int every;      /* the consumer pauses at every this many */
  int wake;       /* resume with connectc_mg_client_wake() too (else the loop notices) */
  int held_back;  /* the body exceeds every socket buffer: check the server waits */
  int reset;      /* at the first pause the server resets the connection */
  size_t extra;   /* 'L': bytes announced and never sent */
  int cancel;     /* at the first pause (after the reset) the call is canceled */
  unsigned timeout_ms; /* the call's deadline; never resumed */
} bp_case;

/* What a bp_run holds, kept here rather than on its stack: a failed
 * assertion leaves bp_run, and the teardown (bp_cleanup) cancels the call
 * and closes its server. */
static struct {
  bp_state st;
  connectc_mg_client *t;
  connectc_client_call *c;
  struct mg_connection *l;
  uint8_t *resp;
} bp;

static void bp_end(void) {
  connectc_mg_client_del(bp.t); /* cancels and releases the call, if running */
  connectc_client_call_del(bp.c);
  if (bp.l) bp.l->is_closing = 1;
  poll_ms(10);
  free(bp.resp);
  memset(&bp, 0, sizeof bp);
}

/* The teardown of the tests that use bp_run. */
static int bp_cleanup(void **state) {
  (void)state;
  bp_end();
  free(bp_cert);
  free(bp_key);
  bp_cert = bp_key = NULL;
  return 0;
}

/* One call through a response of bp_case's kind. At each pause the loop
 * runs 30 ms: no message arrives, the client reads nothing (is_full; its
 * receive buffer keeps its length); then it resumes, and delivery goes on
 * from exactly there. All messages arrive in order, then the server's end
 * of the stream. */
static void bp_run(const bp_case *k, connectc_code want, const char *want_msg, int want_n) {
  bp.l = mg_listen(&mgr, bp_cert ? "tls://127.0.0.1:0" : "tcp://127.0.0.1:0", bp_server_fn, NULL);
  assert_non_null(bp.l);
  uint16_t p = mg_ntohs(bp.l->loc.port);
  bp.resp = bp_build(k->framing, k->msgs, k->size, k->chunk, k->extra, &bp_resp_len);
  bp_resp = bp.resp;
  bp_close_after = k->framing == 'U';
  char url[64];
  snprintf(url, sizeof url, "%s://127.0.0.1:%u", bp_cert ? "https" : "http", (unsigned)p);
  connectc_mg_client_config tc;
  memset(&tc, 0, sizeof tc);
  tc.base_url = url;
  char *ca = bp_cert ? read_pem("ca.pem") : NULL;
  tc.ca_pem = ca;
  assert_int_equal(connectc_mg_client_new(&tc, &mgr, NULL, &bp.t), CONNECTC_OK);
  free(ca);
  connectc_mg_client *t = bp.t;
  connectc_client_config cfg = cfg_for(&m_list);
  cfg.timeout_ms = k->timeout_ms ? k->timeout_ms : 20000;
  cfg.limits.recv_max_bytes = 1 << 20;
  memset(&bp.st, 0, sizeof bp.st);
  bp.st.every = k->every;
  bp.st.size = k->size;
  assert_int_equal(connectc_client_call_new(&cfg, &bp_cb, &bp.st, NULL, connectc_mg_now_ms(), &bp.c),
                   CONNECTC_OK);
  connectc_client_call *c = bp.c;
  connectc_client_call_send(c, (const uint8_t *)"x", 1);
  connectc_client_call_close_send(c);
  int64_t t0 = connectc_mg_now_ms();
  assert_int_equal(connectc_mg_client_start(t, c, bp_released, &bp.st), CONNECTC_OK);
  if (k->held_back) {
    /* A fixed receive window, set before the handshake: what the kernels
     * can hold is bounded well below the body. */
    struct mg_connection *cc = bp_client_conn(p);
    assert_non_null(cc);
    int rcv = 65536;
    assert_int_equal(setsockopt((int)(size_t)cc->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv), 0);
  }
  int pauses = 0, gone = 0;
  for (;;) {
    int64_t until = connectc_mg_now_ms() + 10000;
    while (!bp.st.paused && !bp.st.closed && connectc_mg_now_ms() < until) connectc_mg_client_poll(t, 5);
    if (!bp.st.paused) break;
    int at = bp.st.n;
    assert_int_equal(at, (pauses + 1) * k->every);
    if (k->reset && pauses == 0) {
      /* The server resets the connection: the client sees an error while
       * the call holds bytes. */
      struct mg_connection *sc = bp_server_conn(p);
      assert_non_null(sc);
      struct linger lg = {1, 0};
      assert_int_equal(setsockopt((int)(size_t)sc->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
      sc->is_closing = 1;
      until = connectc_mg_now_ms() + (MG_ENABLE_EPOLL ? 2000 : 100);
      while (bp_client_conn(p) && connectc_mg_now_ms() < until) mg_mgr_poll(&mgr, 1);
      /* epoll reports the reset of a connection that is not read (and
       * the held bytes outlive it); poll() and select() do not watch such
       * a connection: it sees the reset after the resume. */
      gone = bp_client_conn(p) == NULL;
      assert_true(gone || !MG_ENABLE_EPOLL);
    }
    struct mg_connection *cc = gone ? NULL : bp_client_conn(p);
    size_t held = 0;
    if (!gone) {
      assert_non_null(cc);
      assert_true(cc->is_full);
      held = cc->recv.len;
    }
    struct mg_connection *sc = NULL;
    size_t sent_left = 0;
    if (k->held_back && pauses == 0) {
      poll_ms(10); /* what the kernels still take moves now */
      sc = bp_server_conn(p);
      assert_non_null(sc);
      sent_left = sc->send.len;
      assert_true(sent_left > 0);
    }
    if (k->cancel) {
      connectc_client_call_cancel(c);
      if (!gone) connectc_mg_client_wake(t, c);
      break;
    }
    poll_ms(k->timeout_ms ? (int)k->timeout_ms + 100 : 30);
    if (k->timeout_ms) break;
    assert_int_equal(bp.st.n, at);
    assert_int_equal(bp.st.closed, 0);
    assert_int_equal(bp.st.released, 0);
    if (!gone) {
      assert_int_equal(cc->recv.len, held);
      assert_true(cc->is_full);
    }
    if (sc) assert_int_equal(sc->send.len, sent_left); /* the server is held back */
    pauses++;
    bp.st.paused = 0;
    connectc_client_call_resume_recv(c);
    if (k->wake) connectc_mg_client_wake(t, c);
  }
  int64_t until = connectc_mg_now_ms() + 3000;
  while (!bp.st.released && connectc_mg_now_ms() < until) connectc_mg_client_poll(t, 5);
  if (bp.st.code != want) fprintf(stderr, "got %d: %s\n", bp.st.code, bp.st.msg);
  assert_int_equal(bp.st.closed, 1);
  assert_int_equal(bp.st.released, 1);
  assert_int_equal(connectc_mg_client_running(t), 0);
  assert_null(bp_client_conn(p));
  assert_int_equal(bp.st.code, want);
  if (want_msg) assert_non_null(strstr(bp.st.msg, want_msg));
  assert_int_equal(bp.st.n, want_n);
  assert_int_equal(bp.st.during, 0);
  assert_int_equal(bp.st.disorder, 0);
  if (!k->cancel && !k->timeout_ms) assert_int_equal(pauses, want_n / k->every);
  if (k->timeout_ms) {
    int64_t took = connectc_mg_now_ms() - t0;
    assert_true(took >= (int64_t)k->timeout_ms - 5);
  }
  bp_end();
}

/* 16 MiB in 1 KiB messages, paused every 2048: the server's bytes wait in
 * its own send buffer while the client is paused; plain and over TLS. */
static void test_client_paused_response_is_not_read(void **state) {
  (void)state;
  const bp_case k = {.framing = 'L', .msgs = 16384, .size = 1024, .every = 2048, .held_back = 1};
  bp_run(&k, CONNECTC_CODE_DATA_LOSS, "end of the stream", 16384);
  /* The same over TLS: Mongoose decrypts no more records either. */
  bp_cert = read_pem("server.pem");
  bp_key = read_pem("server.key");
  bp_run(&k, CONNECTC_CODE_DATA_LOSS, "end of the stream", 16384);
}

/* Chunked in 7-byte chunks (pauses inside a chunk's data, messages across
 * chunks) and 600-byte ones; resumed with connectc_mg_client_wake() or by
 * the loop alone. */
static void test_client_paused_chunked_response(void **state) {
  (void)state;
  bp_case k = {.framing = 'C', .msgs = 1000, .size = 8, .chunk = 7, .every = 100};
  bp_run(&k, CONNECTC_CODE_DATA_LOSS, "end of the stream", 1000);
  k.wake = 1;
  bp_run(&k, CONNECTC_CODE_DATA_LOSS, "end of the stream", 1000);
  k.chunk = 600;
  k.size = 100;
  k.wake = 0;
  bp_run(&k, CONNECTC_CODE_DATA_LOSS, "end of the stream", 1000);
}

/* The server sends all of the response and closes while the client is
 * paused (read until close); then the server resets the connection while
 * the paused call holds the rest in the receive buffer: what is held is
 * still delivered after the resume, then the response's end, or the
 * connection's error when the response was cut short. */
static void test_client_paused_response_outlives_connection(void **state) {
  (void)state;
  bp_case k = {.framing = 'U', .msgs = 1000, .size = 8, .every = 100};
  bp_run(&k, CONNECTC_CODE_DATA_LOSS, "end of the stream", 1000);
  /* Less than one read (MG_IO_SIZE): all of it in the receive buffer. */
  bp_case r = {.framing = 'L', .msgs = 80, .size = 8, .every = 10, .reset = 1};
  bp_run(&r, CONNECTC_CODE_DATA_LOSS, "end of the stream", 80);
  r.wake = 1;
  bp_run(&r, CONNECTC_CODE_DATA_LOSS, "end of the stream", 80);
  r.wake = 0;
  r.extra = 100;
  bp_run(&r, CONNECTC_CODE_UNAVAILABLE, "connection failed", 80);
}

/* Canceled while paused, with the connection there or gone; a deadline
 * that passes while paused: the call closes and is released. */
static void test_client_paused_cancel_and_deadline(void **state) {
  (void)state;
  bp_case k = {.framing = 'C', .msgs = 1000, .size = 8, .chunk = 600, .every = 100, .cancel = 1};
  bp_run(&k, CONNECTC_CODE_CANCELED, NULL, 100);
  bp_case r = {.framing = 'L', .msgs = 80, .size = 8, .every = 10, .reset = 1, .cancel = 1};
  bp_run(&r, CONNECTC_CODE_CANCELED, NULL, 10);
  bp_case d = {.framing = 'C', .msgs = 1000, .size = 8, .chunk = 600, .every = 100, .timeout_ms = 200};
  bp_run(&d, CONNECTC_CODE_DEADLINE_EXCEEDED, NULL, 100);
  d.reset = 1;
  d.framing = 'L';
  d.msgs = 80;
  d.every = 10;
  bp_run(&d, CONNECTC_CODE_DEADLINE_EXCEEDED, NULL, 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_types),       cmocka_unit_test(test_large_and_compressed),
      cmocka_unit_test(test_async_handlers),     cmocka_unit_test(test_async_stress),
      cmocka_unit_test(test_deadline_and_cancel),
      cmocka_unit_test(test_tls),                cmocka_unit_test(test_embedded_keepalive),
      cmocka_unit_test(test_own_listener_http),  cmocka_unit_test(test_limits_and_stop),
      cmocka_unit_test(test_embedded_tls),       cmocka_unit_test(test_client_hostile_server),
      cmocka_unit_test(test_listen_queue),
      cmocka_unit_test(test_paused_request_is_not_read),
      cmocka_unit_test(test_paused_chunked_request_is_not_read),
      cmocka_unit_test_teardown(test_client_paused_response_is_not_read, bp_cleanup),
      cmocka_unit_test_teardown(test_client_paused_chunked_response, bp_cleanup),
      cmocka_unit_test_teardown(test_client_paused_response_outlives_connection, bp_cleanup),
      cmocka_unit_test_teardown(test_client_paused_cancel_and_deadline, bp_cleanup),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
