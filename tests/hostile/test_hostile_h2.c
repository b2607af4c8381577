/* Hostile HTTP/2 clients against the real nghttp2 adapter over loopback:
 * a raw frame writer (frames and HPACK built by hand) sends the attacks
 * the server must survive, and each case checks the exact answer (GOAWAY
 * with ENHANCE_YOUR_CALM, 431, RST_STREAM codes, closes within the
 * configured timeouts) and that the server still serves a normal call
 * afterwards. Responses are read frame by frame; their header blocks are
 * decoded with nghttp2's HPACK inflater. The same port's HTTP/1.1 side
 * gets its framing attacks too. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "connectc/nghttp2.h"
#include "hx.h"

/* ---- the test service ---- */

#define SVC "/h2.v1.Svc/"
static const connectc_method_desc m_echo = {SVC "Echo", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc m_big = {SVC "Big", CONNECTC_STREAM_SERVER, 0};
static const connectc_method_desc m_hold = {SVC "Hold", CONNECTC_STREAM_UNARY, 0};

static int echo_message(connectc_server_call *s, const uint8_t *d, size_t n, void *ud) {
  (void)ud;
  connectc_server_call_send(s, d, n);
  return 0;
}
static void finish_ok(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_server_call_finish(s, NULL);
}
/* 64 messages of 16 KiB: 1 MiB the client must make room for. */
static void big_end(connectc_server_call *s, void *ud) {
  (void)ud;
  static uint8_t chunk[16384];
  for (int i = 0; i < 64; i++) connectc_server_call_send(s, chunk, sizeof chunk);
  connectc_server_call_finish(s, NULL);
}

/* Hold: an asynchronous handler keeps the call until released. */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static connectc_server_call *held[4096];
static int n_held, n_canceled;

static void hold_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_server_call_ref(s);
  pthread_mutex_lock(&hold_mu);
  held[n_held++] = s;
  pthread_mutex_unlock(&hold_mu);
}
static void hold_cancel(connectc_server_call *s, const connectc_error *why, void *ud) {
  (void)s;
  (void)why;
  (void)ud;
  pthread_mutex_lock(&hold_mu);
  n_canceled++;
  pthread_mutex_unlock(&hold_mu);
}
static void finish_fn(connectc_server_call *s, void *arg) {
  (void)arg;
  if (!connectc_server_call_is_finished(s)) {
    connectc_server_call_send(s, (const uint8_t *)"\x0a\x02ok", 4);
    connectc_server_call_finish(s, NULL);
  }
}
/* Answers and releases every held call, from this (non-loop) thread. */
static void release_held(void) {
  pthread_mutex_lock(&hold_mu);
  int n = n_held;
  n_held = 0;
  connectc_server_call *list[4096];
  memcpy(list, held, (size_t)n * sizeof list[0]);
  pthread_mutex_unlock(&hold_mu);
  for (int i = 0; i < n; i++) {
    connectc_server_call_run(list[i], finish_fn, NULL);
    connectc_server_call_unref(list[i]);
  }
}

/* Paced: a client stream whose consumer pauses every PACE messages; the
 * test thread resumes it. */
enum { PACE = 10 };
static const connectc_method_desc m_paced = {SVC "Paced", CONNECTC_STREAM_CLIENT, 0};
static atomic_int paced_n, paced_paused;
static connectc_server_call *_Atomic paced_call;
static int paced_message(connectc_server_call *s, const uint8_t *d, size_t n, void *ud) {
  (void)d;
  (void)n;
  (void)ud;
  int k = paced_n + 1;
  if (k % PACE == 0) { /* paused before the count shows it */
    connectc_server_call_pause_recv(s);
    connectc_server_call_ref(s); /* kept alive until the test resumes it */
    paced_call = s;
    paced_paused = 1;
  }
  paced_n = k;
  return 0;
}
static void paced_end(connectc_server_call *s, void *ud) {
  (void)ud;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "got %d", (int)paced_n);
  connectc_server_call_send(s, (const uint8_t *)buf, (size_t)n);
  connectc_server_call_finish(s, NULL);
}
static void paced_resume_fn(connectc_server_call *s, void *arg) {
  (void)arg;
  paced_paused = 0;
  connectc_server_call_resume_recv(s);
}
/* Resumes the paused call from this (non-loop) thread. */
static void paced_resume(void) {
  connectc_server_call *c = paced_call;
  connectc_server_call_run(c, paced_resume_fn, NULL);
  connectc_server_call_unref(c);
}

static connectc_router *router;
static connectc_h2_server *srv;
static uint16_t port;

static connectc_h2_config test_config(void) {
  connectc_h2_config c;
  memset(&c, 0, sizeof c);
  c.threads = 1;
  c.max_concurrent_streams = 16;
  c.handshake_timeout_ms = 300;
  c.idle_timeout_ms = 600;
  c.stall_timeout_ms = 300;
  c.shutdown_grace_ms = 2000;
  return c;
}

static void start_server(void) {
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = 100000;
  assert_int_equal(connectc_router_new(&cfg, NULL, &router), CONNECTC_OK);
  connectc_route r;
  memset(&r, 0, sizeof r);
  r.method = &m_echo;
  r.callbacks.on_message = echo_message;
  r.callbacks.on_end = finish_ok;
  assert_int_equal(connectc_router_add(router, &r), CONNECTC_OK);
  r.method = &m_big;
  r.callbacks.on_message = NULL;
  r.callbacks.on_end = big_end;
  assert_int_equal(connectc_router_add(router, &r), CONNECTC_OK);
  r.method = &m_hold;
  r.callbacks.on_end = hold_end;
  r.callbacks.on_cancel = hold_cancel;
  assert_int_equal(connectc_router_add(router, &r), CONNECTC_OK);
  memset(&r, 0, sizeof r);
  r.method = &m_paced;
  r.callbacks.on_message = paced_message;
  r.callbacks.on_end = paced_end;
  assert_int_equal(connectc_router_add(router, &r), CONNECTC_OK);
  connectc_h2_config c = test_config();
  assert_int_equal(connectc_h2_start(&c, router, &srv), CONNECTC_OK);
  port = connectc_h2_port(srv);
}

/* ---- the frame writer ---- */

enum { F_DATA = 0, F_HEADERS = 1, F_PRIORITY = 2, F_RST = 3, F_SETTINGS = 4, F_PING = 6,
       F_GOAWAY = 7, F_WINDOW_UPDATE = 8, F_CONTINUATION = 9 };
enum { FL_END_STREAM = 1, FL_ACK = 1, FL_END_HEADERS = 4 };

static void frame(hx_buf *b, uint8_t type, uint8_t flags, uint32_t id, const void *p, size_t n) {
  uint8_t h[9] = {(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
                  (uint8_t)(id >> 24 & 0x7f), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id};
  hx_buf_put(b, h, 9);
  hx_buf_put(b, p, n);
}

/* HPACK integer with an n-bit prefix (RFC 7541 5.1). */
static void hp_int(hx_buf *b, uint8_t first, int bits, size_t v) {
  size_t max = (1u << bits) - 1;
  if (v < max) {
    uint8_t c = (uint8_t)(first | v);
    hx_buf_put(b, &c, 1);
    return;
  }
  uint8_t c = (uint8_t)(first | max);
  hx_buf_put(b, &c, 1);
  v -= max;
  while (v >= 128) {
    c = (uint8_t)(v % 128 + 128);
    hx_buf_put(b, &c, 1);
    v /= 128;
  }
  c = (uint8_t)v;
  hx_buf_put(b, &c, 1);
}
static void hp_str(hx_buf *b, const char *s, size_t n) {
  hp_int(b, 0, 7, n);
  hx_buf_put(b, s, n);
}
/* A literal field without indexing, new name (0x00). */
static void hp_lit(hx_buf *b, const char *name, const char *value) {
  hp_int(b, 0x00, 4, 0);
  hp_str(b, name, strlen(name));
  hp_str(b, value, strlen(value));
}
static void request_block(hx_buf *b, const char *path) {
  hp_lit(b, ":method", "POST");
  hp_lit(b, ":scheme", "http");
  hp_lit(b, ":authority", "127.0.0.1");
  hp_lit(b, ":path", path);
  hp_lit(b, "content-type", "application/grpc");
  hp_lit(b, "te", "trailers");
}

static void preface(hx_buf *b, const uint8_t *settings, size_t n) {
  hx_buf_puts(b, CONNECTC_H2_PREFACE);
  frame(b, F_SETTINGS, 0, 0, settings, n);
}

/* A gRPC unary request on stream `id`: HEADERS, then one envelope. */
static void grpc_request(hx_buf *b, uint32_t id, const char *path, int end) {
  hx_buf hb = {0};
  request_block(&hb, path);
  frame(b, F_HEADERS, FL_END_HEADERS, id, hb.data, hb.len);
  hx_buf_free(&hb);
  static const uint8_t env[] = {0, 0, 0, 0, 3, 0x0a, 0x01, 'a'};
  frame(b, F_DATA, end ? FL_END_STREAM : 0, id, env, sizeof env);
}

/* The HPACK decoder of the connection being read (one at a time). */
static nghttp2_hd_inflater *g_inf;
static void inflater_reset(void) {
  if (g_inf) nghttp2_hd_inflate_del(g_inf);
  g_inf = NULL;
}

static int h2_open(void) {
  inflater_reset();
  int fd = hx_connect(port, 3000);
  assert_true(fd >= 0);
  return fd;
}

/* ---- the frame reader ---- */

typedef struct h2_frame {
  uint8_t type, flags;
  uint32_t id;
  size_t len;
  uint8_t payload[1 << 17];
} h2_frame;

static int read_exact(int fd, uint8_t *p, size_t n) {
  while (n) {
    ssize_t r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* 0, or -1 on EOF/reset/timeout (the socket's 3 s receive timeout). */
static int read_frame(int fd, h2_frame *f) {
  uint8_t h[9];
  if (read_exact(fd, h, 9)) return -1;
  f->len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
  f->type = h[3];
  f->flags = h[4];
  f->id = ((uint32_t)h[5] & 0x7f) << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8];
  if (f->len > sizeof f->payload) return -1;
  return read_exact(fd, f->payload, f->len);
}

/* What came back on one stream (and the connection). */
typedef struct h2_result {
  char status[8];
  char grpc_status[8];
  int n_header_blocks;
  size_t data_bytes;
  int ended;            /* END_STREAM seen */
  int rst;              /* RST_STREAM code + 1, 0 for none */
  int goaway;           /* GOAWAY code + 1 */
  uint32_t goaway_last; /* its last stream id */
  int closed;           /* the connection ended */
} h2_result;

static void decode_block(nghttp2_hd_inflater *inf, const uint8_t *p, size_t n, h2_result *r) {
  for (;;) {
    nghttp2_nv nv;
    int fl = 0;
    ssize_t k = nghttp2_hd_inflate_hd2(inf, &nv, &fl, p, n, 1);
    assert_true(k >= 0);
    p += k;
    n -= (size_t)k;
    if (fl & NGHTTP2_HD_INFLATE_EMIT) {
      if (nv.namelen == 7 && memcmp(nv.name, ":status", 7) == 0 && nv.valuelen < 8)
        memcpy(r->status, nv.value, nv.valuelen);
      if (nv.namelen == 11 && memcmp(nv.name, "grpc-status", 11) == 0 && nv.valuelen < 8)
        memcpy(r->grpc_status, nv.value, nv.valuelen);
    }
    if (fl & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(inf);
      break;
    }
    if (k == 0 && n == 0) break;
  }
}

enum { RD_NO_WINDOW = 1, RD_NO_ACK = 2 };

/* Reads frames until stream `id` ends (or is reset), or, with id 0,
 * until GOAWAY or the connection's end. Acknowledges SETTINGS unless
 * RD_NO_ACK and opens windows for DATA unless RD_NO_WINDOW. */
static void read_until(int fd, uint32_t id, h2_result *r, int flags) {
  int no_window = flags & RD_NO_WINDOW;
  memset(r, 0, sizeof *r);
  static h2_frame f;
  if (!g_inf) assert_int_equal(nghttp2_hd_inflate_new(&g_inf), 0);
  nghttp2_hd_inflater *inf = g_inf;
  for (;;) {
    if (read_frame(fd, &f)) {
      r->closed = 1;
      break;
    }
    if (f.type == F_SETTINGS && !(f.flags & FL_ACK) && !(flags & RD_NO_ACK)) {
      hx_buf b = {0};
      frame(&b, F_SETTINGS, FL_ACK, 0, NULL, 0);
      hx_send(fd, b.data, b.len);
      hx_buf_free(&b);
    } else if (f.type == F_GOAWAY) {
      r->goaway = (int)((uint32_t)f.payload[4] << 24 | (uint32_t)f.payload[5] << 16 |
                        (uint32_t)f.payload[6] << 8 | f.payload[7]) + 1;
      r->goaway_last = ((uint32_t)f.payload[0] & 0x7f) << 24 | (uint32_t)f.payload[1] << 16 |
                       (uint32_t)f.payload[2] << 8 | f.payload[3];
      /* A graceful GOAWAY (NO_ERROR) may precede the stream's end. */
      if (id == 0 || r->goaway != 1) break;
    } else if (f.id == id && id != 0) {
      if (f.type == F_HEADERS) {
        r->n_header_blocks++;
        decode_block(inf, f.payload, f.len, r);
      } else if (f.type == F_DATA) {
        r->data_bytes += f.len;
        if (!no_window && f.len) {
          uint8_t inc[4] = {0, 0, (uint8_t)(f.len >> 8), (uint8_t)f.len};
          hx_buf b = {0};
          frame(&b, F_WINDOW_UPDATE, 0, 0, inc, 4);
          frame(&b, F_WINDOW_UPDATE, 0, id, inc, 4);
          hx_send(fd, b.data, b.len);
          hx_buf_free(&b);
        }
      } else if (f.type == F_RST) {
        r->rst = (int)((uint32_t)f.payload[0] << 24 | (uint32_t)f.payload[1] << 16 |
                       (uint32_t)f.payload[2] << 8 | f.payload[3]) + 1;
        break;
      }
      if ((f.type == F_HEADERS || f.type == F_DATA) && (f.flags & FL_END_STREAM)) {
        r->ended = 1;
        break;
      }
    } else if (f.type == F_HEADERS) {
      h2_result other; /* keep the HPACK state in step */
      memset(&other, 0, sizeof other);
      decode_block(inf, f.payload, f.len, &other);
    }
  }
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A normal gRPC call succeeds on a new connection. */
static void alive_on(uint16_t p) {
  inflater_reset();
  int fd = hx_connect(p, 3000);
  assert_true(fd >= 0);
  hx_buf b = {0};
  preface(&b, NULL, 0);
  grpc_request(&b, 1, SVC "Echo", 1);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  h2_result r;
  read_until(fd, 1, &r, 0);
  assert_string_equal(r.status, "200");
  assert_string_equal(r.grpc_status, "0");
  assert_int_equal(r.n_header_blocks, 2); /* head, trailers */
  assert_int_equal(r.data_bytes, 8);
  assert_true(r.ended);
  close(fd);
}
static void alive(void) { alive_on(port); }

/* Sends `b` (the server may close midway) and expects GOAWAY with
 * `code`, then the connection's end. */
static void expect_goaway(int fd, const hx_buf *b, int code) {
  (void)hx_send(fd, b->data, b->len);
  h2_result r;
  read_until(fd, 0, &r, 0);
  assert_int_equal(r.goaway, code + 1);
  read_until(fd, 0, &r, 0);
  assert_true(r.closed);
  close(fd);
}

/* ---- the cases ---- */

static void test_normal_calls(void **state) {
  (void)state;
  alive();
  /* Many streams on one connection, interleaved. */
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  for (uint32_t id = 1; id <= 19; id += 2) grpc_request(&b, id, SVC "Echo", 1);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  for (uint32_t id = 1; id <= 19; id += 2) {
    h2_result r;
    read_until(fd, id, &r, 0);
    assert_string_equal(r.grpc_status, "0");
  }
  close(fd);
}

/* CVE-2023-44487: HEADERS then RST_STREAM, over and over. */
static void test_rapid_reset(void **state) {
  (void)state;
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  static const uint8_t cancel[4] = {0, 0, 0, 8};
  for (uint32_t id = 1; id < 2 * 2000; id += 2) {
    grpc_request(&b, id, SVC "Echo", 0);
    frame(&b, F_RST, 0, id, cancel, 4);
  }
  expect_goaway(fd, &b, NGHTTP2_ENHANCE_YOUR_CALM);
  hx_buf_free(&b);
  release_held();
  alive();
}

/* Calls held by handlers after their streams were reset count against
 * the connection: past twice max_concurrent_streams new streams are
 * refused, and a client that keeps trying is sent away. */
static void test_live_call_limit(void **state) {
  (void)state;
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  static const uint8_t cancel[4] = {0, 0, 0, 8};
  for (uint32_t id = 1; id <= 2 * 40; id += 2) { /* under the reset budget */
    grpc_request(&b, id, SVC "Hold", 1);
    if (id <= 2 * 32) frame(&b, F_RST, 0, id, cancel, 4);
  }
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  /* Streams 1..63 were reset by us; 65.. are refused (32 live calls). */
  h2_result r;
  read_until(fd, 65, &r, 0);
  assert_int_equal(r.rst, NGHTTP2_REFUSED_STREAM + 1);
  pthread_mutex_lock(&hold_mu); /* no assertion with it held: a failure would leave it locked */
  int n_held_now = n_held, canceled = n_canceled;
  pthread_mutex_unlock(&hold_mu);
  assert_int_equal(n_held_now, 32);
  assert_int_equal(canceled >= 32, 1);
  release_held();
  close(fd);
  alive();
}

/* CVE-2024-28182: a header block that never ends. */
static void test_continuation_flood(void **state) {
  (void)state;
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  hx_buf hb = {0};
  request_block(&hb, SVC "Echo");
  frame(&b, F_HEADERS, 0, 1, hb.data, hb.len);
  hx_buf_free(&hb);
  hx_buf junk = {0};
  for (int i = 0; i < 100; i++) hp_lit(&junk, "x-a", "b");
  for (int i = 0; i < 2000; i++) frame(&b, F_CONTINUATION, 0, 1, junk.data, junk.len);
  hx_buf_free(&junk);
  (void)hx_send(fd, b.data, b.len);
  hx_buf_free(&b);
  h2_result r;
  read_until(fd, 0, &r, 0);
  /* nghttp2 ends the session after 8 CONTINUATION frames. */
  assert_true(r.goaway || r.closed);
  if (r.goaway) read_until(fd, 0, &r, 0);
  assert_true(r.closed);
  close(fd);
  alive();
}

static void flood(uint8_t type, uint8_t flags, uint32_t id, const void *p, size_t n, int count) {
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  for (int i = 0; i < count; i++) frame(&b, type, flags, id, p, n);
  expect_goaway(fd, &b, NGHTTP2_ENHANCE_YOUR_CALM);
  hx_buf_free(&b);
}

static void test_control_floods(void **state) {
  (void)state;
  static const uint8_t ping[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  flood(F_PING, 0, 0, ping, 8, 5000);
  alive();
  static const uint8_t setting[6] = {0, 4, 0, 1, 0, 0}; /* INITIAL_WINDOW_SIZE 65536 */
  flood(F_SETTINGS, 0, 0, setting, 6, 5000);
  alive();
  static const uint8_t prio[5] = {0, 0, 0, 0, 16};
  flood(F_PRIORITY, 0, 3, prio, 5, 5000);
  alive();
}

/* Empty DATA frames on an open stream (CVE-2019-9518). */
static void test_empty_frames(void **state) {
  (void)state;
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  hx_buf hb = {0};
  request_block(&hb, SVC "Echo");
  frame(&b, F_HEADERS, FL_END_HEADERS, 1, hb.data, hb.len);
  hx_buf_free(&hb);
  for (int i = 0; i < 5000; i++) frame(&b, F_DATA, 0, 1, NULL, 0);
  expect_goaway(fd, &b, NGHTTP2_ENHANCE_YOUR_CALM);
  hx_buf_free(&b);
  alive();
}

/* An HPACK bomb: one 4000-byte entry, then a thousand one-byte
 * references to it (4 MB of header list from 5 KB): 431, and the
 * connection goes on. */
static void test_hpack_bomb(void **state) {
  (void)state;
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  hx_buf hb = {0};
  request_block(&hb, SVC "Echo");
  char big[4001];
  memset(big, 'v', 4000);
  big[4000] = 0;
  hp_int(&hb, 0x40, 6, 0); /* literal with incremental indexing: index 62 */
  hp_str(&hb, "x-bomb", 6);
  hp_str(&hb, big, 4000);
  for (int i = 0; i < 1000; i++) hp_int(&hb, 0x80, 7, 62);
  /* Split over HEADERS and CONTINUATION frames of 4 KiB. */
  size_t off = 0;
  while (off < hb.len) {
    size_t n = hb.len - off < 4096 ? hb.len - off : 4096;
    int last = off + n == hb.len;
    frame(&b, off ? F_CONTINUATION : F_HEADERS, (uint8_t)((last ? FL_END_HEADERS : 0) | (off ? 0 : FL_END_STREAM)),
          1, hb.data + off, n);
    off += n;
  }
  hx_buf_free(&hb);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  h2_result r;
  read_until(fd, 1, &r, 0);
  assert_string_equal(r.status, "431");
  assert_true(r.ended);
  /* Same connection, next stream: served. */
  hx_buf b2 = {0};
  grpc_request(&b2, 3, SVC "Echo", 1);
  assert_int_equal(hx_send(fd, b2.data, b2.len), 0);
  hx_buf_free(&b2);
  read_until(fd, 3, &r, 0);
  assert_string_equal(r.grpc_status, "0");
  close(fd);
}

/* More request bytes than the window allows: a flow-control error, not
 * memory. */
static void test_window_overrun(void **state) {
  (void)state;
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  hx_buf hb = {0};
  request_block(&hb, SVC "Echo");
  frame(&b, F_HEADERS, FL_END_HEADERS, 1, hb.data, hb.len);
  hx_buf_free(&hb);
  static uint8_t chunk[16384];
  for (int i = 0; i < 40; i++) frame(&b, F_DATA, 0, 1, chunk, sizeof chunk); /* 640 KiB */
  (void)hx_send(fd, b.data, b.len);
  hx_buf_free(&b);
  h2_result r;
  read_until(fd, 1, &r, 0);
  /* nghttp2 resets the stream or ends the connection; or, when the
   * server reads the first frames before the window runs out, the call
   * refuses the second message of a unary request with an error status
   * and the rest is discarded. Never a success, never memory. */
  int flow = r.rst == NGHTTP2_FLOW_CONTROL_ERROR + 1 || r.goaway == NGHTTP2_FLOW_CONTROL_ERROR + 1;
  int refused = r.ended && r.grpc_status[0] && strcmp(r.grpc_status, "0") != 0;
  if (!flow && !refused)
    fail_msg("window overrun: rst %d goaway %d ended %d status '%s' grpc-status '%s'", r.rst,
             r.goaway, r.ended, r.status, r.grpc_status);
  close(fd);
  alive();
}

/* The client opens no window for the response: after stall_timeout_ms
 * the stream is reset (the call canceled) and the connection goes on. */
static void test_zero_window(void **state) {
  (void)state;
  int fd = h2_open();
  hx_buf b = {0};
  static const uint8_t zero_window[6] = {0, 4, 0, 0, 0, 0};
  preface(&b, zero_window, 6);
  grpc_request(&b, 1, SVC "Big", 1);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  int64_t t0 = mono_ms();
  h2_result r;
  read_until(fd, 1, &r, RD_NO_WINDOW);
  int64_t dt = mono_ms() - t0;
  assert_int_equal(r.rst, NGHTTP2_CANCEL + 1);
  assert_int_equal(r.data_bytes, 0);
  assert_true(dt >= 250 && dt < 2000);
  hx_buf b2 = {0};
  grpc_request(&b2, 3, SVC "Echo", 1);
  static const uint8_t window[6] = {0, 4, 0, 1, 0, 0};
  frame(&b2, F_SETTINGS, 0, 0, window, 6);
  assert_int_equal(hx_send(fd, b2.data, b2.len), 0);
  hx_buf_free(&b2);
  read_until(fd, 3, &r, 0);
  assert_string_equal(r.grpc_status, "0");
  close(fd);
}

/* No preface at all, or a preface and then silence. */
static void test_handshake_and_idle_timeouts(void **state) {
  (void)state;
  int fd = h2_open();
  int64_t t0 = mono_ms();
  h2_result r;
  read_until(fd, 0, &r, RD_NO_ACK); /* the server's SETTINGS come first, then the close */
  int64_t dt = mono_ms() - t0;
  assert_true(r.closed);
  assert_true(dt >= 250 && dt < 2000);
  close(fd);

  fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  t0 = mono_ms();
  read_until(fd, 0, &r, 0);
  dt = mono_ms() - t0;
  assert_int_equal(r.goaway, NGHTTP2_NO_ERROR + 1);
  assert_true(dt >= 550 && dt < 2500);
  read_until(fd, 0, &r, 0);
  assert_true(r.closed);
  close(fd);

  /* An HTTP/1.1 head that never completes: 408 after the head timeout. */
  fd = h2_open();
  static const char partial[] = "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\n";
  assert_int_equal(hx_send(fd, partial, sizeof partial - 1), 0);
  t0 = mono_ms();
  hx_buf pending = {0};
  hx_resp resp;
  memset(&resp, 0, sizeof resp);
  assert_int_equal(hx_read_response(fd, &pending, &resp, 3000), 408);
  dt = mono_ms() - t0;
  assert_true(dt >= 250 && dt < 2000);
  hx_resp_free(&resp);
  hx_buf_free(&pending);
  close(fd);
  alive();
}

/* HTTP/1.1 on the same port: a Connect call, keep-alive, pipelining,
 * chunked bodies, an early answer that drains the body, and refusals of
 * ambiguous framing. */
static void h1_call(int fd, hx_buf *pending, const char *req, size_t len, int status,
                    const char *body) {
  if (req) assert_int_equal(hx_send(fd, req, len), 0);
  hx_resp resp;
  memset(&resp, 0, sizeof resp);
  assert_int_equal(hx_read_response(fd, pending, &resp, 3000), status);
  if (body) {
    assert_int_equal(resp.body.len, strlen(body));
    assert_memory_equal(resp.body.data, body, strlen(body));
  }
  hx_resp_free(&resp);
}

static void test_http1(void **state) {
  (void)state;
  int fd = h2_open();
  hx_buf pending = {0};
  static const char unary[] = "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/proto\r\nContent-Length: 3\r\n\r\n\x0a\x01z";
  h1_call(fd, &pending, unary, sizeof unary - 1, 200, "\x0a\x01z");
  /* Keep-alive, then two pipelined requests, the second chunked. */
  static const char two[] = "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/proto\r\nContent-Length: 3\r\n\r\n\x0a\x01y"
                            "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/proto\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "2\r\n\x0a\x01\r\n1\r\nw\r\n0\r\n\r\n";
  h1_call(fd, &pending, two, sizeof two - 1, 200, "\x0a\x01y");
  h1_call(fd, &pending, NULL, 0, 200, "\x0a\x01w");
  /* Refused at once (415) while 100 KiB of body follow: answered, the
   * body drained, and the connection serves the next request. */
  hx_buf big = {0};
  hx_buf_puts(&big, "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                    "Content-Length: 102400\r\n\r\n");
  static uint8_t zeros[102400];
  hx_buf_put(&big, zeros, sizeof zeros);
  h1_call(fd, &pending, (const char *)big.data, big.len, 415, NULL);
  hx_buf_free(&big);
  h1_call(fd, &pending, unary, sizeof unary - 1, 200, "\x0a\x01z");
  close(fd);
  hx_buf_free(&pending);

  /* Ambiguous framing: 400 and close. */
  static const char *const bad[] = {
      "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "POST " SVC "Echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n", /* no Host */
      "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
      "POST " SVC "Echo HTTP/1.1\nHost: x\r\n\r\n", /* bare LF */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fd = h2_open();
    hx_buf p = {0};
    hx_resp resp;
    memset(&resp, 0, sizeof resp);
    assert_int_equal(hx_send(fd, bad[i], strlen(bad[i])), 0);
    assert_int_equal(hx_read_response(fd, &p, &resp, 3000), 400);
    int eof = 0;
    assert_true(hx_quiet(fd, &p, 1000, &eof));
    assert_true(eof);
    hx_resp_free(&resp);
    hx_buf_free(&p);
    close(fd);
  }
  /* A transfer coding other than chunked: 501. */
  fd = h2_open();
  static const char gz[] = "POST " SVC "Echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n";
  hx_buf p = {0};
  h1_call(fd, &p, gz, sizeof gz - 1, 501, NULL);
  hx_buf_free(&p);
  close(fd);
  alive();
}

/* RST_STREAM cancels the handler. */
static void test_reset_cancels(void **state) {
  (void)state;
  pthread_mutex_lock(&hold_mu);
  int before = n_canceled;
  pthread_mutex_unlock(&hold_mu);
  int fd = h2_open();
  hx_buf b = {0};
  preface(&b, NULL, 0);
  grpc_request(&b, 1, SVC "Hold", 1);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  for (int i = 0; i < 200; i++) { /* until the handler holds it */
    pthread_mutex_lock(&hold_mu);
    int n = n_held;
    pthread_mutex_unlock(&hold_mu);
    if (n) break;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  static const uint8_t cancel[4] = {0, 0, 0, 8};
  hx_buf b2 = {0};
  frame(&b2, F_RST, 0, 1, cancel, 4);
  static const uint8_t ping[8] = {0};
  frame(&b2, F_PING, 0, 0, ping, 8);
  assert_int_equal(hx_send(fd, b2.data, b2.len), 0);
  hx_buf_free(&b2);
  static h2_frame f; /* the PING's ACK: the reset was processed */
  do assert_int_equal(read_frame(fd, &f), 0);
  while (!(f.type == F_PING && (f.flags & FL_ACK)));
  pthread_mutex_lock(&hold_mu);
  int canceled = n_canceled;
  pthread_mutex_unlock(&hold_mu);
  assert_int_equal(canceled, before + 1);
  release_held(); /* finishing a canceled call is harmless */
  close(fd);
  alive();
}

/* connectc_h2_stop: GOAWAY, the held call still completes, then close. */
static void *stop_thread(void *arg) {
  connectc_h2_stop(arg);
  return NULL;
}
static void test_graceful_stop(void **state) {
  (void)state;
  connectc_h2_config c = test_config();
  connectc_h2_server *s2;
  assert_int_equal(connectc_h2_start(&c, router, &s2), CONNECTC_OK);
  inflater_reset();
  int fd = hx_connect(connectc_h2_port(s2), 3000);
  assert_true(fd >= 0);
  hx_buf b = {0};
  preface(&b, NULL, 0);
  grpc_request(&b, 1, SVC "Hold", 1);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&hold_mu);
    int n = n_held;
    pthread_mutex_unlock(&hold_mu);
    if (n) break;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  pthread_t th;
  pthread_create(&th, NULL, stop_thread, s2);
  h2_result r;
  read_until(fd, 0, &r, 0);
  assert_int_equal(r.goaway, NGHTTP2_NO_ERROR + 1); /* the notice */
  release_held();
  read_until(fd, 1, &r, 0);
  assert_string_equal(r.grpc_status, "0");
  assert_true(r.ended);
  read_until(fd, 0, &r, 0);
  if (r.goaway) read_until(fd, 0, &r, 0);
  assert_true(r.closed);
  pthread_join(th, NULL);
  close(fd);
}

/* ---- backpressure ---- */

static void sleep_ms(long ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000 * 1000};
  nanosleep(&d, NULL);
}

/* HTTP/2: a paused call's stream window stays shut. The client keeps to
 * the window (the smallest the server allows, 65535 bytes) and sends 100
 * messages of 1029 bytes; every PACE messages the consumer pauses, and
 * while it is paused no message arrives and the server opens the window by
 * no more than the call took: at most the messages delivered plus the one
 * begun. Until the 30th, that holds the client back. */
static void test_h2_paused_stream_keeps_window_shut(void **state) {
  (void)state;
  enum { W = 65535, MSGS = 100, MSG = 1029 };
  connectc_h2_config c = test_config();
  c.stream_window_bytes = W;
  connectc_h2_server *s2;
  assert_int_equal(connectc_h2_start(&c, router, &s2), CONNECTC_OK);
  paced_n = 0;
  paced_paused = 0;
  inflater_reset();
  int fd = hx_connect(connectc_h2_port(s2), 3000);
  assert_true(fd >= 0);
  static uint8_t body[MSGS * MSG];
  for (int i = 0; i < MSGS; i++) {
    uint8_t *m = body + i * MSG;
    memset(m, 'x', MSG);
    m[0] = 0;
    m[1] = 0;
    m[2] = 0;
    m[3] = (MSG - 5) >> 8;
    m[4] = (MSG - 5) & 0xff;
  }
  static h2_frame f;
  hx_buf b = {0};
  preface(&b, NULL, 0);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  /* The server's SETTINGS acknowledged before the stream opens, so the
   * stream starts with the same window on both sides. */
  do assert_int_equal(read_frame(fd, &f), 0);
  while (f.type != F_SETTINGS || (f.flags & FL_ACK));
  frame(&b, F_SETTINGS, FL_ACK, 0, NULL, 0);
  hx_buf hb = {0};
  request_block(&hb, SVC "Paced");
  frame(&b, F_HEADERS, FL_END_HEADERS, 1, hb.data, hb.len);
  hx_buf_free(&hb);
  assert_int_equal(hx_send(fd, b.data, b.len), 0);
  hx_buf_free(&b);
  if (!g_inf) assert_int_equal(nghttp2_hd_inflate_new(&g_inf), 0);
  size_t granted = W, sent = 0;
  int pauses = 0, held_back = 0, ended = 0;
  h2_result r;
  memset(&r, 0, sizeof r);
  int64_t give_up = mono_ms() + 10000;
  while (!ended && mono_ms() < give_up) {
    /* Send what the window allows. */
    while (sent < sizeof body && sent < granted) {
      size_t k = granted - sent;
      if (k > sizeof body - sent) k = sizeof body - sent;
      if (k > 16384) k = 16384;
      hx_buf d = {0};
      frame(&d, F_DATA, sent + k == sizeof body ? FL_END_STREAM : 0, 1, body + sent, k);
      assert_int_equal(hx_send(fd, d.data, d.len), 0);
      hx_buf_free(&d);
      sent += k;
    }
    int paused = paced_paused;
    int at = paced_n;
    /* Read for a while (30 ms when paused, else until a frame). */
    int64_t until = mono_ms() + (paused ? 30 : 200);
    for (;;) {
      int64_t left = until - mono_ms();
      if (left <= 0) break;
      struct pollfd p = {fd, POLLIN, 0};
      if (poll(&p, 1, (int)left) <= 0) break;
      assert_int_equal(read_frame(fd, &f), 0);
      if (f.type == F_SETTINGS && !(f.flags & FL_ACK)) {
        hx_buf a = {0};
        frame(&a, F_SETTINGS, FL_ACK, 0, NULL, 0);
        hx_send(fd, a.data, a.len);
        hx_buf_free(&a);
      } else if (f.type == F_WINDOW_UPDATE && f.id == 1) {
        granted += ((size_t)f.payload[0] & 0x7f) << 24 | (size_t)f.payload[1] << 16 |
                   (size_t)f.payload[2] << 8 | f.payload[3];
      } else if (f.id == 1 && f.type == F_HEADERS) {
        r.n_header_blocks++;
        decode_block(g_inf, f.payload, f.len, &r);
        if (f.flags & FL_END_STREAM) ended = 1;
      } else if (f.id == 1 && f.type == F_DATA) {
        r.data_bytes += f.len;
        if (f.len >= 12 && memcmp(f.payload + 5, "got ", 4) == 0)
          assert_memory_equal(f.payload + 5, "got 100", 7);
        if (f.flags & FL_END_STREAM) ended = 1;
      } else if (f.id == 1 && f.type == F_RST) {
        fail_msg("stream reset, code %u", (unsigned)f.payload[3]);
      }
      if (!paused) break;
    }
    if (!paused) continue;
    /* Paused all along: nothing was delivered, and the window opened by
     * no more than the call took. */
    assert_int_equal(paced_n, at);
    assert_int_equal(at % PACE, 0);
    assert_true(granted <= W + (size_t)(at + 1) * MSG);
    if (sent < sizeof body) held_back++; /* the window held the client back */
    pauses++;
    paced_resume();
  }
  if (paced_paused) { /* the last pause, seen only after the answer */
    pauses++;
    paced_resume();
  }
  if (!ended)
    fprintf(stderr, "h2 paced: n %d paused %d pauses %d sent %zu granted %zu status '%s' data %zu\n",
            (int)paced_n, (int)paced_paused, pauses, sent, granted, r.status, r.data_bytes);
  assert_true(ended);
  assert_int_equal(paced_n, MSGS);
  assert_int_equal(pauses, MSGS / PACE);
  assert_true(held_back >= 3);
  assert_string_equal(r.status, "200");
  assert_string_equal(r.grpc_status, "0");
  assert_int_equal(r.data_bytes, 5 + 7);
  close(fd);
  connectc_h2_stop(s2);
}

/* HTTP/1.1 on the same port: a paused call takes nothing more, with a
 * Content-Length body and with a chunked one (the chunk decoder is given
 * back what the call did not take). */
static void h1_paced(int chunked) {
  enum { MSGS = 1000 };
  paced_n = 0;
  paced_paused = 0;
  int fd = h2_open();
  static uint8_t msgs[MSGS * 6];
  for (int i = 0; i < MSGS; i++) {
    uint8_t *m = msgs + i * 6;
    m[0] = m[1] = m[2] = m[3] = 0;
    m[4] = 1;
    m[5] = 'x';
  }
  hx_buf req = {0};
  hx_buf_puts(&req, "POST " SVC "Paced HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/connect+proto\r\n");
  if (chunked) {
    hx_buf_puts(&req, "Transfer-Encoding: chunked\r\n\r\n");
    /* Chunks of 1000 bytes: messages straddle them. */
    for (size_t off = 0; off < sizeof msgs; off += 1000) {
      size_t k = sizeof msgs - off < 1000 ? sizeof msgs - off : 1000;
      hx_buf_printf(&req, "%zx\r\n", k);
      hx_buf_put(&req, msgs + off, k);
      hx_buf_puts(&req, "\r\n");
    }
    hx_buf_puts(&req, "0\r\n\r\n");
  } else {
    hx_buf_printf(&req, "Content-Length: %zu\r\n\r\n", sizeof msgs);
    hx_buf_put(&req, msgs, sizeof msgs);
  }
  assert_int_equal(hx_send(fd, req.data, req.len), 0);
  hx_buf_free(&req);
  int pauses = 0;
  for (;;) {
    int waited = 0;
    while (!paced_paused && paced_n < MSGS && waited++ < 2000) sleep_ms(1);
    if (!paced_paused) break;
    int at = paced_n;
    sleep_ms(30);
    assert_int_equal(paced_n, at); /* paused: nothing arrives */
    assert_int_equal(at % PACE, 0);
    pauses++;
    paced_resume();
  }
  assert_int_equal(paced_n, MSGS);
  assert_int_equal(pauses, MSGS / PACE);
  hx_buf pending = {0};
  hx_resp resp;
  memset(&resp, 0, sizeof resp);
  assert_int_equal(hx_read_response(fd, &pending, &resp, 3000), 200);
  int n = 0;
  assert_string_equal(hx_stream_code(&resp, &n), "ok");
  assert_int_equal(n, 1);
  int found = 0;
  for (size_t i = 0; i + 8 <= resp.body.len && !found; i++)
    found = memcmp(resp.body.data + i, "got 1000", 8) == 0;
  assert_true(found);
  hx_resp_free(&resp);
  hx_buf_free(&pending);
  close(fd);
}
static void test_h1_paused_body_is_not_taken(void **state) {
  (void)state;
  h1_paced(0);
  h1_paced(1);
  alive();
}

/* The server inside an application's loop: poll() on connectc_h2_fd and
 * connectc_h2_timeout_ms, connectc_h2_dispatch. */
static atomic_int ext_quit;
static void *ext_loop(void *arg) {
  connectc_h2_server *s = arg;
  while (!atomic_load(&ext_quit)) {
    struct pollfd pfd = {connectc_h2_fd(s), POLLIN, 0};
    int t = connectc_h2_timeout_ms(s);
    poll(&pfd, 1, t < 0 || t > 20 ? 20 : t);
    assert_int_equal(connectc_h2_dispatch(s), CONNECTC_OK);
  }
  return NULL;
}
static void test_external_loop(void **state) {
  (void)state;
  connectc_h2_config c = test_config();
  c.external_loop = 1;
  connectc_h2_server *s;
  assert_int_equal(connectc_h2_start(&c, router, &s), CONNECTC_OK);
  assert_true(connectc_h2_fd(s) >= 0);
  atomic_store(&ext_quit, 0);
  pthread_t th;
  pthread_create(&th, NULL, ext_loop, s);
  for (int i = 0; i < 3; i++) alive_on(connectc_h2_port(s));
  atomic_store(&ext_quit, 1);
  pthread_join(th, NULL);
  connectc_h2_stop(s); /* dispatches by itself until done */
  assert_int_equal(connectc_h2_fd(srv), -1); /* a threaded server has none */
  assert_int_equal(connectc_h2_dispatch(srv), CONNECTC_ERR_STATE);
}

int main(void) {
  start_server();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normal_calls),       cmocka_unit_test(test_rapid_reset),
      cmocka_unit_test(test_live_call_limit),    cmocka_unit_test(test_continuation_flood),
      cmocka_unit_test(test_control_floods),     cmocka_unit_test(test_empty_frames),
      cmocka_unit_test(test_hpack_bomb),         cmocka_unit_test(test_window_overrun),
      cmocka_unit_test(test_zero_window),        cmocka_unit_test(test_handshake_and_idle_timeouts),
      cmocka_unit_test(test_reset_cancels),      cmocka_unit_test(test_http1),
      cmocka_unit_test(test_external_loop),      cmocka_unit_test(test_graceful_stop),
      cmocka_unit_test(test_h2_paused_stream_keeps_window_shut),
      cmocka_unit_test(test_h1_paused_body_is_not_taken),
  };
  int rv = cmocka_run_group_tests(tests, NULL, NULL);
  connectc_h2_stop(srv);
  connectc_router_del(router);
  return rv;
}
