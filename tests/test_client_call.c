/* The client call state machine: exact request bytes, and every kind of
 * response (good, error, hostile) mapped to the right final status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/client_call.h"
#include "connectc/envelope.h"

typedef struct events {
  int n_headers;
  int n_messages;
  char messages[8][64];
  size_t message_lens[8];
  int n_close;
  connectc_code code;
  char message[256];
  char trailer_x[64];
  int cancel_on_message;
  int pause_on_message; /* pauses the call from on_message */
} events;

static int on_headers(connectc_client_call *c, const connectc_headers *h, void *ud) {
  (void)c;
  (void)h;
  ((events *)ud)->n_headers++;
  return 0;
}

static int on_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  events *ev = ud;
  if (ev->n_messages < 8 && len < 64) {
    memcpy(ev->messages[ev->n_messages], data, len);
    ev->messages[ev->n_messages][len] = 0;
    ev->message_lens[ev->n_messages] = len;
  }
  ev->n_messages++;
  if (ev->pause_on_message) connectc_client_call_pause_recv(c);
  return ev->cancel_on_message;
}

static void on_close(connectc_client_call *c, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)c;
  events *ev = ud;
  ev->n_close++;
  ev->code = err->code;
  snprintf(ev->message, sizeof ev->message, "%s", err->message ? err->message : "");
  const char *t = connectc_headers_get(trailers, "x-trailer");
  snprintf(ev->trailer_x, sizeof ev->trailer_x, "%s", t ? t : "");
}

static const connectc_client_callbacks callbacks = {on_headers, on_message, on_close};

static connectc_client_call *new_call(connectc_stream_type st, const char *codec,
                                      connectc_compression comp, events *ev) {
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/demo.v1.Echo/Say";
  cfg.stream_type = st;
  cfg.codec = codec;
  cfg.send_compression = comp;
  connectc_client_call *c = NULL;
  memset(ev, 0, sizeof *ev);
  assert_int_equal(connectc_client_call_new(&cfg, &callbacks, ev, NULL, 1000, &c), CONNECTC_OK);
  return c;
}

static void assert_header(const connectc_headers *h, size_t i, const char *name,
                          const char *value) {
  assert_true(i < h->len);
  assert_string_equal(h->items[i].name, name);
  assert_string_equal(h->items[i].value, value);
}

/* Feeds a response: status, headers given as name/value pairs, body. */
static void respond(connectc_client_call *c, int status, const char *const *hdrs,
                    const uint8_t *body, size_t len, size_t chunk) {
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  for (size_t i = 0; hdrs && hdrs[i]; i += 2)
    assert_int_equal(connectc_headers_adds(&h, hdrs[i], hdrs[i + 1]), CONNECTC_OK);
  assert_int_equal(connectc_client_call_recv_head(c, status, &h), CONNECTC_OK);
  connectc_headers_reset(&h);
  if (chunk == 0) chunk = len ? len : 1;
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    assert_int_equal(connectc_client_call_recv_body(c, body + off, n), CONNECTC_OK);
  }
  assert_int_equal(connectc_client_call_recv_end(c), CONNECTC_OK);
}

static void test_unary_request_bytes(void **state) {
  (void)state;
  events ev;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/demo.v1.Echo/Say";
  cfg.codec = "proto";
  cfg.timeout_ms = 1500;
  connectc_client_call *c = NULL;
  memset(&ev, 0, sizeof ev);
  assert_int_equal(connectc_client_call_new(&cfg, &callbacks, &ev, NULL, 0, &c), CONNECTC_OK);
  connectc_request_head head;
  assert_int_equal(connectc_client_call_request_head(c, &head), CONNECTC_ERR_STATE);
  assert_int_equal(connectc_client_call_add_header(c, "X-Custom", "yes"), CONNECTC_OK);
  assert_int_equal(connectc_client_call_add_header(c, "Content-Type", "text/plain"),
                   CONNECTC_ERR_ARGUMENT);
  const uint8_t bin[] = {0, 1, 2, 0xff};
  assert_int_equal(connectc_client_call_add_header_bin(c, "x-data-bin", bin, sizeof bin),
                   CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"\x0a\x02hi", 4), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"x", 1), CONNECTC_ERR_STATE);
  assert_int_equal(connectc_client_call_request_head(c, &head), CONNECTC_OK);
  assert_string_equal(head.method, "POST");
  assert_string_equal(head.path, "/demo.v1.Echo/Say");
  assert_int_equal(head.content_length, 4);
  const connectc_headers *h = head.headers;
  assert_header(h, 0, "x-custom", "yes");
  assert_header(h, 1, "x-data-bin", "AAEC/w");
  assert_header(h, 2, "content-type", "application/proto");
  assert_header(h, 3, "connect-protocol-version", "1");
  assert_header(h, 4, "connect-timeout-ms", "1500");
  const char *accept = connectc_compressions_accept_header();
  if (accept[0]) {
    assert_header(h, 5, "accept-encoding", accept);
    assert_int_equal(h->len, 6);
  } else {
    assert_int_equal(h->len, 5);
  }
  const uint8_t *body;
  size_t len;
  int done;
  connectc_client_call_body_peek(c, &body, &len, &done);
  assert_int_equal(len, 4);
  assert_memory_equal(body, "\x0a\x02hi", 4);
  assert_int_equal(done, 1);
  connectc_client_call_body_consume(c, 3);
  connectc_client_call_body_peek(c, &body, &len, &done);
  assert_int_equal(len, 1);
  assert_int_equal(body[0], 'i');
  connectc_client_call_body_consume(c, 1);
  connectc_client_call_body_peek(c, &body, &len, &done);
  assert_int_equal(len, 0);
  assert_int_equal(connectc_client_call_deadline(c), 1500);
  connectc_client_call_del(c);
}

static void test_stream_request_bytes(void **state) {
  (void)state;
  events ev;
  connectc_client_call *c = new_call(CONNECTC_STREAM_BIDI, "json", CONNECTC_COMPRESSION_IDENTITY, &ev);
  connectc_request_head head;
  assert_int_equal(connectc_client_call_request_head(c, &head), CONNECTC_OK);
  assert_int_equal(head.content_length, -1);
  assert_header(head.headers, 0, "content-type", "application/connect+json");
  assert_header(head.headers, 1, "connect-protocol-version", "1");
  assert_int_equal(connectc_client_call_add_header(c, "x-late", "1"), CONNECTC_ERR_STATE);
  const uint8_t *body;
  size_t len;
  int done;
  connectc_client_call_body_peek(c, &body, &len, &done);
  assert_int_equal(len, 0);
  assert_int_equal(done, 0);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"{}", 2), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"{\"a\":1}", 7), CONNECTC_OK);
  connectc_client_call_body_peek(c, &body, &len, &done);
  const uint8_t want[] = {0, 0, 0, 0, 2, '{', '}', 0, 0, 0, 0, 7, '{', '"', 'a', '"', ':', '1', '}'};
  assert_int_equal(len, sizeof want);
  assert_memory_equal(body, want, sizeof want);
  assert_int_equal(done, 0);
  connectc_client_call_body_consume(c, len);
  assert_int_equal(connectc_client_call_close_send(c), CONNECTC_OK);
  connectc_client_call_body_peek(c, &body, &len, &done);
  assert_int_equal(len, 0);
  assert_int_equal(done, 1);
  connectc_client_call_del(c);
}

static void test_stream_request_gzip(void **state) {
  (void)state;
  if (!connectc_compression_supported(CONNECTC_COMPRESSION_GZIP)) return;
  events ev;
  connectc_client_call *c = new_call(CONNECTC_STREAM_CLIENT, "proto", CONNECTC_COMPRESSION_GZIP, &ev);
  connectc_request_head head;
  assert_int_equal(connectc_client_call_request_head(c, &head), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(head.headers, "connect-content-encoding"), "gzip");
  uint8_t msg[200];
  memset(msg, 'a', sizeof msg);
  assert_int_equal(connectc_client_call_send(c, msg, sizeof msg), CONNECTC_OK);
  const uint8_t *body;
  size_t len;
  int done;
  connectc_client_call_body_peek(c, &body, &len, &done);
  assert_true(len > 5 && len < 100);
  assert_int_equal(body[0], CONNECTC_ENVELOPE_FLAG_COMPRESSED);
  connectc_client_call_del(c);
}

static void test_unary_success(void **state) {
  (void)state;
  for (size_t chunk = 1; chunk <= 3; chunk++) {
    events ev;
    connectc_client_call *c = new_call(CONNECTC_STREAM_UNARY, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
    assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
    const char *const hdrs[] = {"Content-Type", "application/proto", "Trailer-X-Trailer", "tv",
                                "x-head", "hv", NULL};
    respond(c, 200, hdrs, (const uint8_t *)"reply", 5, chunk);
    assert_int_equal(ev.n_headers, 1);
    assert_int_equal(ev.n_messages, 1);
    assert_string_equal(ev.messages[0], "reply");
    assert_int_equal(ev.n_close, 1);
    assert_int_equal(ev.code, CONNECTC_CODE_OK);
    assert_string_equal(ev.trailer_x, "tv");
    assert_true(connectc_client_call_is_closed(c));
    connectc_client_call_del(c);
  }
}

static void test_unary_empty_body_is_empty_message(void **state) {
  (void)state;
  events ev;
  connectc_client_call *c = new_call(CONNECTC_STREAM_UNARY, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  assert_int_equal(connectc_client_call_send(c, NULL, 0), CONNECTC_OK);
  const char *const hdrs[] = {"content-type", "application/proto", NULL};
  respond(c, 200, hdrs, NULL, 0, 0);
  assert_int_equal(ev.n_messages, 1);
  assert_int_equal(ev.message_lens[0], 0);
  assert_int_equal(ev.code, CONNECTC_CODE_OK);
  connectc_client_call_del(c);
}

static void test_unary_error_json(void **state) {
  (void)state;
  events ev;
  connectc_client_call *c = new_call(CONNECTC_STREAM_UNARY, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  const char *const hdrs[] = {"content-type", "application/json", "trailer-x-trailer", "t", NULL};
  const char *body = "{\"code\":\"not_found\",\"message\":\"no such user\"}";
  respond(c, 404, hdrs, (const uint8_t *)body, strlen(body), 7);
  assert_int_equal(ev.n_messages, 0);
  assert_int_equal(ev.n_close, 1);
  assert_int_equal(ev.code, CONNECTC_CODE_NOT_FOUND);
  assert_string_equal(ev.message, "no such user");
  assert_string_equal(ev.trailer_x, "t");
  connectc_client_call_del(c);
}

static void test_unary_error_not_connect(void **state) {
  (void)state;
  struct {
    int status;
    const char *ctype;
    const char *body;
    connectc_code code;
    const char *message;
  } cases[] = {
      {503, "text/html", "<html>busy</html>", CONNECTC_CODE_UNAVAILABLE, "HTTP status 503"},
      {400, "application/json", "not json", CONNECTC_CODE_INTERNAL, "HTTP status 400"},
      /* A JSON error without a code: the status picks it, the message stays. */
      {401, "application/json", "{\"message\":\"no code\"}", CONNECTC_CODE_UNAUTHENTICATED,
       "no code"},
      {418, "text/plain", "", CONNECTC_CODE_UNKNOWN, "HTTP status 418"},
      {200, "text/html", "<html/>", CONNECTC_CODE_UNKNOWN,
       "invalid content-type: \"text/html\"; expecting \"application/proto\""},
      {200, "application/json", "{}", CONNECTC_CODE_INTERNAL,
       "invalid content-type: \"application/json\"; expecting \"application/proto\""},
      {200, "application/connect+proto", "", CONNECTC_CODE_INTERNAL,
       "invalid content-type: \"application/connect+proto\"; expecting \"application/proto\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    events ev;
    connectc_client_call *c = new_call(CONNECTC_STREAM_UNARY, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
    assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
    const char *const hdrs[] = {"content-type", cases[i].ctype, NULL};
    respond(c, cases[i].status, hdrs, (const uint8_t *)cases[i].body, strlen(cases[i].body), 0);
    assert_int_equal(ev.n_close, 1);
    assert_int_equal(ev.n_messages, 0);
    assert_int_equal(ev.code, cases[i].code);
    assert_string_equal(ev.message, cases[i].message);
    connectc_client_call_del(c);
  }
}

static void test_unary_unknown_encoding(void **state) {
  (void)state;
  events ev;
  connectc_client_call *c = new_call(CONNECTC_STREAM_UNARY, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  const char *const hdrs[] = {"content-type", "application/proto", "content-encoding", "snappy", NULL};
  respond(c, 200, hdrs, (const uint8_t *)"x", 1, 0);
  assert_int_equal(ev.code, CONNECTC_CODE_INTERNAL);
  char want[200];
  snprintf(want, sizeof want, "unknown encoding \"snappy\": accepted encodings are %s",
           connectc_compressions_accept_header());
  assert_string_equal(ev.message, want);
  connectc_client_call_del(c);
}

static void test_unary_receive_limit(void **state) {
  (void)state;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/demo.v1.Echo/Say";
  cfg.codec = "proto";
  cfg.limits.recv_max_bytes = 4;
  events ev;
  memset(&ev, 0, sizeof ev);
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &callbacks, &ev, NULL, 0, &c), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  const char *const hdrs[] = {"content-type", "application/proto", NULL};
  respond(c, 200, hdrs, (const uint8_t *)"12345", 5, 0);
  assert_int_equal(ev.n_messages, 0);
  assert_int_equal(ev.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(ev.message, "message size 5 is larger than configured max 4");
  connectc_client_call_del(c);
}

/* Builds an envelope into out; returns its length. */
static size_t env(uint8_t *out, uint8_t flags, const char *payload) {
  size_t n = strlen(payload);
  connectc_envelope_write_header(out, flags, (uint32_t)n);
  memcpy(out + 5, payload, n);
  return 5 + n;
}

static void test_stream_success(void **state) {
  (void)state;
  uint8_t body[256];
  size_t n = env(body, 0, "one");
  n += env(body + n, 0, "two");
  n += env(body + n, CONNECTC_ENVELOPE_FLAG_END_STREAM, "{\"metadata\":{\"x-trailer\":[\"end\"]}}");
  for (size_t chunk = 1; chunk <= n; chunk += 5) {
    events ev;
    connectc_client_call *c = new_call(CONNECTC_STREAM_SERVER, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
    assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
    const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
    respond(c, 200, hdrs, body, n, chunk);
    assert_int_equal(ev.n_messages, 2);
    assert_string_equal(ev.messages[0], "one");
    assert_string_equal(ev.messages[1], "two");
    assert_int_equal(ev.n_close, 1);
    assert_int_equal(ev.code, CONNECTC_CODE_OK);
    assert_string_equal(ev.trailer_x, "end");
    connectc_client_call_del(c);
  }
}

/* A paused call takes bytes up to the end of the message that paused it,
 * then nothing until it is resumed. */
static void test_stream_pause(void **state) {
  (void)state;
  uint8_t body[256];
  size_t first = env(body, 0, "one");
  size_t n = first + env(body + first, 0, "two");
  n += env(body + n, CONNECTC_ENVELOPE_FLAG_END_STREAM, "{}");
  events ev;
  connectc_client_call *c = new_call(CONNECTC_STREAM_SERVER, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  ev.pause_on_message = 1;
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  connectc_headers_adds(&h, "content-type", "application/connect+proto");
  assert_int_equal(connectc_client_call_recv_head(c, 200, &h), CONNECTC_OK);
  connectc_headers_reset(&h);
  size_t taken = 0;
  assert_int_equal(connectc_client_call_recv_body_some(c, body, n, &taken), CONNECTC_OK);
  assert_int_equal(taken, first);
  assert_int_equal(ev.n_messages, 1);
  assert_int_equal(connectc_client_call_recv_paused(c), 1);
  assert_int_equal(connectc_client_call_recv_body_some(c, body + first, n - first, &taken), CONNECTC_OK);
  assert_int_equal(taken, 0);
  assert_int_equal(ev.n_messages, 1);
  connectc_client_call_resume_recv(c);
  assert_int_equal(connectc_client_call_recv_paused(c), 0);
  ev.pause_on_message = 0;
  assert_int_equal(connectc_client_call_recv_body_some(c, body + first, n - first, &taken), CONNECTC_OK);
  assert_int_equal(taken, n - first);
  assert_int_equal(ev.n_messages, 2);
  assert_string_equal(ev.messages[1], "two");
  assert_int_equal(connectc_client_call_recv_end(c), CONNECTC_OK);
  assert_int_equal(ev.n_close, 1);
  assert_int_equal(ev.code, CONNECTC_CODE_OK);
  /* recv_body (the transports that cannot stop) ignores the pause. */
  connectc_client_call_del(c);
  c = new_call(CONNECTC_STREAM_SERVER, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  ev.pause_on_message = 1;
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
  respond(c, 200, hdrs, body, n, 0);
  assert_int_equal(ev.n_messages, 2);
  assert_int_equal(ev.code, CONNECTC_CODE_OK);
  connectc_client_call_del(c);
}

static void test_stream_end_error(void **state) {
  (void)state;
  uint8_t body[256];
  size_t n = env(body, 0, "one");
  n += env(body + n, CONNECTC_ENVELOPE_FLAG_END_STREAM,
           "{\"error\":{\"code\":\"resource_exhausted\",\"message\":\"slow down\"}}");
  events ev;
  connectc_client_call *c = new_call(CONNECTC_STREAM_BIDI, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
  respond(c, 200, hdrs, body, n, 0);
  assert_int_equal(ev.n_messages, 1);
  assert_int_equal(ev.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(ev.message, "slow down");
  connectc_client_call_del(c);
}

static void test_stream_hostile(void **state) {
  (void)state;
  uint8_t good_end[64], trailing[128], compressed[64], badflags[64], truncated[64];
  size_t n_end = env(good_end, CONNECTC_ENVELOPE_FLAG_END_STREAM, "{}");
  size_t n_trailing = env(trailing, CONNECTC_ENVELOPE_FLAG_END_STREAM, "{}");
  n_trailing += env(trailing + n_trailing, 0, "late");
  size_t n_comp = env(compressed, CONNECTC_ENVELOPE_FLAG_COMPRESSED, "zz");
  size_t n_bad = env(badflags, 0x04, "x");
  size_t n_trunc = env(truncated, 0, "abcdef") - 2;
  struct {
    connectc_stream_type st;
    int status;
    const char *ctype;
    const uint8_t *body;
    size_t len;
    connectc_code code;
    const char *message;
  } cases[] = {
      {CONNECTC_STREAM_SERVER, 200, "application/connect+proto", (const uint8_t *)"", 0,
       CONNECTC_CODE_INTERNAL,
       "protocol error: the response ended without an end-of-stream message"},
      {CONNECTC_STREAM_SERVER, 200, "application/connect+proto", trailing, n_trailing,
       CONNECTC_CODE_INTERNAL, "corrupt response: received data after the end-of-stream message"},
      {CONNECTC_STREAM_SERVER, 200, "application/connect+proto", compressed, n_comp,
       CONNECTC_CODE_INTERNAL,
       "protocol error: received a compressed message but no compression was negotiated"},
      {CONNECTC_STREAM_SERVER, 200, "application/connect+proto", badflags, n_bad,
       CONNECTC_CODE_INTERNAL, "protocol error: invalid envelope flags 4"},
      {CONNECTC_STREAM_SERVER, 200, "application/connect+proto", truncated, n_trunc,
       CONNECTC_CODE_INTERNAL,
       "protocol error: the response ended in the middle of a message envelope"},
      {CONNECTC_STREAM_SERVER, 503, "application/connect+proto", good_end, n_end,
       CONNECTC_CODE_UNAVAILABLE, "HTTP status 503"},
      {CONNECTC_STREAM_SERVER, 200, "text/plain", good_end, n_end, CONNECTC_CODE_UNKNOWN,
       "invalid content-type: \"text/plain\"; expecting \"application/connect+proto\""},
      {CONNECTC_STREAM_SERVER, 200, "application/connect+json", good_end, n_end,
       CONNECTC_CODE_INTERNAL,
       "invalid content-type: \"application/connect+json\"; expecting \"application/connect+proto\""},
      {CONNECTC_STREAM_CLIENT, 200, "application/connect+proto", good_end, n_end,
       CONNECTC_CODE_UNIMPLEMENTED, "unary response has zero messages"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    events ev;
    connectc_client_call *c = new_call(cases[i].st, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
    const char *const hdrs[] = {"content-type", cases[i].ctype, NULL};
    respond(c, cases[i].status, hdrs, cases[i].body, cases[i].len, 0);
    assert_int_equal(ev.n_close, 1);
    assert_int_equal(ev.code, cases[i].code);
    assert_string_equal(ev.message, cases[i].message);
    connectc_client_call_del(c);
  }
}

static void test_client_stream_two_messages(void **state) {
  (void)state;
  uint8_t body[64];
  size_t n = env(body, 0, "a");
  n += env(body + n, 0, "b");
  n += env(body + n, CONNECTC_ENVELOPE_FLAG_END_STREAM, "{}");
  events ev;
  connectc_client_call *c = new_call(CONNECTC_STREAM_CLIENT, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
  respond(c, 200, hdrs, body, n, 0);
  /* The response of a client stream is delivered only after a clean end:
   * with two messages the caller sees none, only the error. */
  assert_int_equal(ev.n_messages, 0);
  assert_int_equal(ev.n_close, 1);
  assert_int_equal(ev.code, CONNECTC_CODE_UNIMPLEMENTED);
  assert_string_equal(ev.message, "unary response has multiple messages");
  connectc_client_call_del(c);

  /* One message then an error end-of-stream: only the error. */
  n = env(body, 0, "a");
  n += env(body + n, CONNECTC_ENVELOPE_FLAG_END_STREAM, "{\"error\":{\"code\":\"aborted\"}}");
  c = new_call(CONNECTC_STREAM_CLIENT, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  respond(c, 200, hdrs, body, n, 1);
  assert_int_equal(ev.n_messages, 0);
  assert_int_equal(ev.code, CONNECTC_CODE_ABORTED);
  connectc_client_call_del(c);

  /* One message then a clean end: delivered. */
  n = env(body, 0, "a");
  n += env(body + n, CONNECTC_ENVELOPE_FLAG_END_STREAM, "{}");
  c = new_call(CONNECTC_STREAM_CLIENT, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  respond(c, 200, hdrs, body, n, 2);
  assert_int_equal(ev.n_messages, 1);
  assert_string_equal(ev.messages[0], "a");
  assert_int_equal(ev.code, CONNECTC_CODE_OK);
  connectc_client_call_del(c);
}

static void test_deadline_cancel_and_close_once(void **state) {
  (void)state;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/demo.v1.Echo/Say";
  cfg.codec = "proto";
  cfg.stream_type = CONNECTC_STREAM_SERVER;
  cfg.timeout_ms = 50;
  events ev;
  memset(&ev, 0, sizeof ev);
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &callbacks, &ev, NULL, 100, &c), CONNECTC_OK);
  connectc_client_call_tick(c, 149);
  assert_int_equal(ev.n_close, 0);
  connectc_client_call_tick(c, 150);
  assert_int_equal(ev.n_close, 1);
  assert_int_equal(ev.code, CONNECTC_CODE_DEADLINE_EXCEEDED);
  assert_string_equal(ev.message, "the deadline of 50 ms passed");
  connectc_client_call_cancel(c);
  connectc_client_call_fail(c, CONNECTC_CODE_UNAVAILABLE, "reset");
  const char *const hdrs[] = {"content-type", "application/connect+proto", NULL};
  respond(c, 200, hdrs, NULL, 0, 0);
  assert_int_equal(ev.n_close, 1);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"x", 1), CONNECTC_ERR_STATE);
  connectc_client_call_del(c);

  c = new_call(CONNECTC_STREAM_BIDI, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  connectc_client_call_cancel(c);
  assert_int_equal(ev.n_close, 1);
  assert_int_equal(ev.code, CONNECTC_CODE_CANCELED);
  connectc_client_call_del(c);

  /* A callback that cancels from on_message. */
  uint8_t body[64];
  size_t n = env(body, 0, "a");
  n += env(body + n, 0, "b");
  c = new_call(CONNECTC_STREAM_SERVER, "proto", CONNECTC_COMPRESSION_IDENTITY, &ev);
  ev.cancel_on_message = 1;
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  respond(c, 200, hdrs, body, n, 0);
  assert_int_equal(ev.n_messages, 1);
  assert_int_equal(ev.n_close, 1);
  assert_int_equal(ev.code, CONNECTC_CODE_CANCELED);
  connectc_client_call_del(c);
}

static void test_send_limit(void **state) {
  (void)state;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/demo.v1.Echo/Say";
  cfg.codec = "proto";
  cfg.stream_type = CONNECTC_STREAM_CLIENT;
  cfg.limits.send_max_bytes = 3;
  events ev;
  memset(&ev, 0, sizeof ev);
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &callbacks, &ev, NULL, 0, &c), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"abc", 3), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"abcd", 4), CONNECTC_ERR_LIMIT);
  assert_int_equal(ev.code, CONNECTC_CODE_RESOURCE_EXHAUSTED);
  assert_string_equal(ev.message, "message size 4 exceeds sendMaxBytes 3");
  connectc_client_call_del(c);
}

static void test_bad_config(void **state) {
  (void)state;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, NULL, NULL, NULL, 0, &c), CONNECTC_ERR_ARGUMENT);
  cfg.procedure = "no-slash";
  cfg.codec = "proto";
  assert_int_equal(connectc_client_call_new(&cfg, NULL, NULL, NULL, 0, &c), CONNECTC_ERR_ARGUMENT);
  cfg.procedure = "/a/b";
  cfg.stream_type = CONNECTC_STREAM_BIDI;
  cfg.use_get = 1;
  assert_int_equal(connectc_client_call_new(&cfg, NULL, NULL, NULL, 0, &c), CONNECTC_ERR_ARGUMENT);
}


/* ---- lent compression contexts ---- */

typedef struct tally {
  size_t calls, live;
} tally;
typedef struct tally_hdr {
  size_t size;
  max_align_t align;
} tally_hdr;
static void *t_malloc(size_t n, void *ud) {
  tally *t = ud;
  tally_hdr *h = malloc(sizeof *h + n);
  if (!h) return NULL;
  t->calls++;
  t->live += n;
  h->size = n;
  return h + 1;
}
static void t_free(void *p, void *ud) {
  tally *t = ud;
  if (!p) return;
  tally_hdr *h = (tally_hdr *)p - 1;
  t->live -= h->size;
  free(h);
}
static void *t_realloc(void *p, size_t n, void *ud) {
  if (!p) return t_malloc(n, ud);
  void *np = t_malloc(n, ud);
  if (!np) return NULL;
  tally_hdr *old = (tally_hdr *)p - 1;
  memcpy(np, p, old->size < n ? old->size : n);
  t_free(p, ud);
  return np;
}

typedef struct big_msg {
  uint8_t data[2048];
  size_t len;
  int n, closed;
  connectc_code code;
} big_msg;
static int big_on_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  (void)c;
  big_msg *b = ud;
  assert_true(len <= sizeof b->data);
  memcpy(b->data, data, len);
  b->len = len;
  b->n++;
  return 0;
}
static void big_on_close(connectc_client_call *c, const connectc_error *err,
                         const connectc_headers *trailers, void *ud) {
  (void)c;
  (void)trailers;
  big_msg *b = ud;
  b->closed++;
  b->code = err->code;
}

typedef struct lent_run {
  size_t call_allocs, ctx_allocs;
  uint8_t req[2048]; /* the request body: the compressed message */
  size_t req_len;
} lent_run;

/* One unary call sending `msg` compressed with `alg` and receiving `cresp`
 * (the message compressed with `alg`): lent `ctx` when not NULL. */
static void lent_client_unary(connectc_compression alg, connectc_compress_ctx *ctx, tally *xt,
                              const uint8_t *msg, size_t len, const uint8_t *cresp,
                              size_t cresp_len, lent_run *out) {
  tally ct = {0, 0};
  connectc_allocator ca = {t_malloc, t_realloc, t_free, &ct};
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/demo.v1.Echo/Say";
  cfg.codec = "proto";
  cfg.send_compression = alg;
  cfg.compress_ctx = ctx;
  size_t ctx_before = xt ? xt->calls : 0;
  big_msg got;
  memset(&got, 0, sizeof got);
  connectc_client_callbacks cb = {NULL, big_on_message, big_on_close};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &cb, &got, &ca, 0, &c), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, msg, len), CONNECTC_OK);
  connectc_request_head head;
  assert_int_equal(connectc_client_call_request_head(c, &head), CONNECTC_OK);
  assert_string_equal(connectc_headers_get(head.headers, "content-encoding"),
                      connectc_compression_name(alg));
  const uint8_t *p;
  int done;
  connectc_client_call_body_peek(c, &p, &out->req_len, &done);
  assert_true(out->req_len <= sizeof out->req);
  memcpy(out->req, p, out->req_len);
  connectc_client_call_body_consume(c, out->req_len);
  char clen[32];
  snprintf(clen, sizeof clen, "%zu", cresp_len);
  const char *const hdrs[] = {"content-type", "application/proto", "content-encoding",
                              connectc_compression_name(alg), "content-length", clen, NULL};
  respond(c, 200, hdrs, cresp, cresp_len, 0);
  assert_int_equal(got.closed, 1);
  assert_int_equal(got.code, CONNECTC_CODE_OK);
  assert_int_equal(got.n, 1);
  assert_int_equal(got.len, len);
  assert_memory_equal(got.data, msg, len);
  connectc_client_call_del(c);
  out->call_allocs = ct.calls;
  out->ctx_allocs = xt ? xt->calls - ctx_before : 0;
  assert_int_equal(ct.live, 0);
}

static void test_lent_compress_ctx(void **state) {
  (void)state;
  static const connectc_compression lent_algs[] = {
      CONNECTC_COMPRESSION_GZIP, CONNECTC_COMPRESSION_BR, CONNECTC_COMPRESSION_ZSTD};
  uint8_t msg[1024];
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)((size_t)"request, reply: "[i % 16] ^ (i / 97));
  for (size_t a = 0; a < sizeof lent_algs / sizeof lent_algs[0]; a++) {
    connectc_compression alg = lent_algs[a];
    if (!connectc_compression_supported(alg)) continue;
    connectc_compress_ctx *ref = NULL;
    assert_int_equal(connectc_compress_ctx_new(NULL, &ref), CONNECTC_OK);
    uint8_t *cresp = NULL;
    size_t cresp_len = 0;
    assert_int_equal(connectc_compress(ref, alg, msg, sizeof msg, &cresp, &cresp_len), CONNECTC_OK);
    tally xt = {0, 0};
    connectc_allocator xa = {t_malloc, t_realloc, t_free, &xt};
    connectc_compress_ctx *lent = NULL;
    assert_int_equal(connectc_compress_ctx_new(&xa, &lent), CONNECTC_OK);
    static lent_run r1, r2, fresh;
    lent_client_unary(alg, lent, &xt, msg, sizeof msg, cresp, cresp_len, &r1);
    lent_client_unary(alg, lent, &xt, msg, sizeof msg, cresp, cresp_len, &r2);
    lent_client_unary(alg, NULL, NULL, msg, sizeof msg, cresp, cresp_len, &fresh);
    /* Each request decompresses to the exact message, and is the same
     * bytes as a call with a context of its own sends. */
    for (int i = 0; i < 2; i++) {
      const lent_run *r = i ? &r2 : &r1;
      uint8_t *plain = NULL;
      size_t plain_len = 0;
      assert_int_equal(connectc_decompress(ref, alg, r->req, r->req_len, 1 << 20, &plain,
                                           &plain_len, NULL),
                       CONNECTC_OK);
      assert_int_equal(plain_len, sizeof msg);
      assert_memory_equal(plain, msg, sizeof msg);
      connectc_free(NULL, plain);
      assert_int_equal(r->req_len, fresh.req_len);
      assert_memory_equal(r->req, fresh.req, fresh.req_len);
    }
    /* As on the server: the second call made no compressor state (but
     * brotli's per-message ones), and a call with its own context pays
     * for the context and its states on its own allocator. */
    if (alg == CONNECTC_COMPRESSION_BR) {
      assert_int_equal(r2.ctx_allocs, r1.ctx_allocs);
    } else {
      assert_true(r1.ctx_allocs > 0);
      assert_int_equal(r2.ctx_allocs, 0);
    }
    assert_int_equal(r2.call_allocs, r1.call_allocs);
    assert_int_equal(fresh.call_allocs, r1.call_allocs + 1 + r1.ctx_allocs);
    connectc_compress_ctx_del(lent);
    assert_int_equal(xt.live, 0);
    connectc_free(NULL, cresp);
    connectc_compress_ctx_del(ref);
  }
}

/* A closed call lets go of its lent context: it may be freed before the
 * call is, and nothing the call is told afterwards touches it. */
/* A unary response of `len` bytes, fed 4 KiB at a time without a
 * Content-Length, must reach on_message exactly. Returns the allocations
 * the call made on `t` (its allocator is `ca`). */
typedef struct sum_msg {
  const uint8_t *want;
  size_t want_len;
  int n, closed;
  connectc_code code;
} sum_msg;
static int sum_on_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  (void)c;
  sum_msg *m = ud;
  assert_int_equal(len, m->want_len);
  assert_memory_equal(data, m->want, len);
  m->n++;
  return 0;
}
static void sum_on_close(connectc_client_call *c, const connectc_error *err,
                         const connectc_headers *trailers, void *ud) {
  (void)c;
  (void)trailers;
  sum_msg *m = ud;
  m->closed++;
  m->code = err->code;
}
static size_t plain_client_unary(connectc_compress_ctx *ctx, const connectc_allocator *ca,
                                 tally *t, const uint8_t *msg, size_t len) {
  size_t before = t->calls;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/demo.v1.Echo/Say";
  cfg.codec = "proto";
  cfg.compress_ctx = ctx;
  sum_msg got = {msg, len, 0, 0, CONNECTC_CODE_UNKNOWN};
  connectc_client_callbacks cb = {NULL, sum_on_message, sum_on_close};
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &cb, &got, ca, 0, &c), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"q", 1), CONNECTC_OK);
  const uint8_t *p;
  size_t n;
  int done;
  connectc_client_call_body_peek(c, &p, &n, &done);
  connectc_client_call_body_consume(c, n);
  const char *const hdrs[] = {"content-type", "application/proto", NULL};
  respond(c, 200, hdrs, msg, len, 4096);
  assert_int_equal(got.closed, 1);
  assert_int_equal(got.code, CONNECTC_CODE_OK);
  assert_int_equal(got.n, 1);
  connectc_client_call_del(c);
  return t->calls - before;
}

/* A lent context keeps a unary response body's buffer for the next call
 * on the same allocator (the server calls' rules: test_server_call). */
static void test_lent_ctx_keeps_body_buffer(void **state) {
  (void)state;
  static uint8_t msg[100000];
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 7 + 3);
  tally t = {0, 0};
  connectc_allocator a = {t_malloc, t_realloc, t_free, &t};
  connectc_compress_ctx *ctx = NULL;
  assert_int_equal(connectc_compress_ctx_new(&a, &ctx), CONNECTC_OK);
  const size_t ctx_live = t.live;
  size_t first = plain_client_unary(ctx, &a, &t, msg, sizeof msg);
  assert_int_equal(t.live, ctx_live + 131072);
  size_t second = plain_client_unary(ctx, &a, &t, msg, sizeof msg);
  /* 4, 8, 16, 32, 64 and 128 KiB: six allocations the second call, in the
   * kept buffer, did not make. */
  assert_int_equal(first - second, 6);
  assert_int_equal(plain_client_unary(NULL, &a, &t, msg, sizeof msg), second + 6);
  assert_int_equal(t.live, ctx_live + 131072);
  connectc_compress_ctx_del(ctx);
  assert_int_equal(t.live, 0);
}

static void test_lent_compress_ctx_closed(void **state) {
  (void)state;
  connectc_compress_ctx *lent = NULL;
  assert_int_equal(connectc_compress_ctx_new(NULL, &lent), CONNECTC_OK);
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = "/demo.v1.Echo/Chat";
  cfg.codec = "proto";
  cfg.stream_type = CONNECTC_STREAM_BIDI;
  cfg.send_compression = CONNECTC_COMPRESSION_GZIP;
  cfg.compress_ctx = lent;
  events ev;
  memset(&ev, 0, sizeof ev);
  connectc_client_call *c = NULL;
  assert_int_equal(connectc_client_call_new(&cfg, &callbacks, &ev, NULL, 0, &c), CONNECTC_OK);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"hello", 5), CONNECTC_OK);
  connectc_client_call_cancel(c);
  assert_int_equal(ev.n_close, 1);
  connectc_compress_ctx_del(lent);
  assert_int_equal(connectc_client_call_send(c, (const uint8_t *)"again", 5), CONNECTC_ERR_STATE);
  uint8_t e[64];
  size_t n = env(e, CONNECTC_ENVELOPE_FLAG_COMPRESSED, "zz");
  const char *const hdrs[] = {"content-type", "application/connect+proto",
                              "connect-content-encoding", "gzip", NULL};
  connectc_headers h;
  connectc_headers_init(&h, NULL);
  for (size_t i = 0; hdrs[i]; i += 2) connectc_headers_adds(&h, hdrs[i], hdrs[i + 1]);
  (void)connectc_client_call_recv_head(c, 200, &h);
  connectc_headers_reset(&h);
  (void)connectc_client_call_recv_body(c, e, n);
  (void)connectc_client_call_recv_end(c);
  assert_int_equal(ev.n_close, 1);
  connectc_client_call_del(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lent_ctx_keeps_body_buffer),
      cmocka_unit_test(test_unary_request_bytes),
      cmocka_unit_test(test_stream_request_bytes),
      cmocka_unit_test(test_stream_request_gzip),
      cmocka_unit_test(test_unary_success),
      cmocka_unit_test(test_unary_empty_body_is_empty_message),
      cmocka_unit_test(test_unary_error_json),
      cmocka_unit_test(test_unary_error_not_connect),
      cmocka_unit_test(test_unary_unknown_encoding),
      cmocka_unit_test(test_unary_receive_limit),
      cmocka_unit_test(test_stream_success),
      cmocka_unit_test(test_stream_pause),
      cmocka_unit_test(test_stream_end_error),
      cmocka_unit_test(test_stream_hostile),
      cmocka_unit_test(test_client_stream_two_messages),
      cmocka_unit_test(test_deadline_cancel_and_close_once),
      cmocka_unit_test(test_send_limit),
      cmocka_unit_test(test_bad_config),
      cmocka_unit_test(test_lent_compress_ctx),
      cmocka_unit_test(test_lent_compress_ctx_closed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
