/* CORS through the libmicrohttpd adapter over a real socket: preflights
 * (204 with the headers for an allowed origin, without them for another),
 * the CORS headers on answers the library makes itself (404, 415), on a
 * handler's answer and error (Connect and gRPC-Web), the origin callback,
 * "*", credentials, and CORS off (a preflight gets 405, nothing added). The
 * requests are written by hand, as a browser sends them. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectc/microhttpd.h"

/* ---- server: a unary echo and a unary that fails ---- */

static const connectc_method_desc m_say = {"/test.v1.Cors/Say", CONNECTC_STREAM_UNARY, 1};
static const connectc_method_desc m_fail = {"/test.v1.Cors/Fail", CONNECTC_STREAM_UNARY, 0};

static int echo_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  (void)ud;
  return connectc_server_call_send(s, data, len) != CONNECTC_OK;
}

static void finish_ok(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_server_call_finish(s, NULL);
}

static void fail_end(connectc_server_call *s, void *ud) {
  (void)ud;
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_FAILED_PRECONDITION, "not now");
  const uint8_t detail[] = {8, 1};
  connectc_error_add_detail(&e, "test.v1.Detail", detail, sizeof detail);
  connectc_server_call_finish(s, &e);
  connectc_error_reset(&e);
}

typedef struct server {
  connectc_router *router;
  connectc_mhd_server *mhd;
  uint16_t port;
} server;

/* Starts a server whose router has `cors` (NULL: CORS off). */
static void server_start(server *sv, const connectc_cors *cors) {
  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.cors = cors;
  sv->router = NULL;
  assert_int_equal(connectc_router_new(&cfg, NULL, &sv->router), CONNECTC_OK);
  const connectc_route routes[] = {
      {.method = &m_say, .callbacks = {.on_message = echo_message, .on_end = finish_ok}},
      {.method = &m_fail, .callbacks = {.on_end = fail_end}},
  };
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    assert_int_equal(connectc_router_add(sv->router, &routes[i]), CONNECTC_OK);
  sv->mhd = NULL;
  assert_int_equal(connectc_mhd_start(NULL, sv->router, &sv->mhd), CONNECTC_OK);
  sv->port = connectc_mhd_port(sv->mhd);
}

static void server_stop(server *sv) {
  connectc_mhd_stop(sv->mhd);
  connectc_router_del(sv->router);
}

/* ---- client: one request per connection, read to EOF ---- */

typedef struct response {
  char raw[16384];
  size_t len;
  int status;
  const char *body; /* after the blank line */
} response;

/* Sends `head` (the request line and headers, without the blank line),
 * Connection: close, Content-Length and `body` (`body_len` bytes), and reads
 * the whole response. */
static void exchange(uint16_t port, const char *head, const char *body, size_t body_len,
                     response *r) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "%s\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                   head, body_len);
  assert_true(n > 0 && (size_t)n + body_len < sizeof req);
  memcpy(req + n, body, body_len);
  size_t total = (size_t)n + body_len;
  assert_int_equal(send(fd, req, total, MSG_NOSIGNAL), (ssize_t)total);
  r->len = 0;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1); /* the server answers within 5 s */
    ssize_t k = recv(fd, r->raw + r->len, sizeof r->raw - 1 - r->len, 0);
    assert_true(k >= 0);
    if (k == 0) break;
    r->len += (size_t)k;
    assert_true(r->len < sizeof r->raw - 1);
  }
  close(fd);
  r->raw[r->len] = 0;
  assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d ", &r->status), 1);
  char *end = strstr(r->raw, "\r\n\r\n");
  assert_non_null(end);
  r->body = end + 4;
}

/* The value of header `name` in the response head (case-insensitive name),
 * or NULL when absent. Fails the test when it appears twice. */
static const char *header(const response *r, const char *name) {
  static char value[1024];
  const char *found = NULL;
  size_t nl = strlen(name);
  for (const char *p = strstr(r->raw, "\r\n") + 2; p < r->body - 2; p = strstr(p, "\r\n") + 2) {
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      assert_null(found);
      found = p + nl + 1;
    }
  }
  if (!found) return NULL;
  while (*found == ' ') found++;
  size_t vl = (size_t)(strstr(found, "\r\n") - found);
  assert_true(vl < sizeof value);
  memcpy(value, found, vl);
  value[vl] = 0;
  return value;
}

static void assert_header(const response *r, const char *name, const char *want) {
  const char *got = header(r, name);
  if (!got) fail_msg("no %s header in:\n%s", name, r->raw);
  assert_string_equal(got, want);
}

static void assert_no_cors_headers(const response *r) {
  assert_null(header(r, "access-control-allow-origin"));
  assert_null(header(r, "access-control-allow-methods"));
  assert_null(header(r, "access-control-allow-headers"));
  assert_null(header(r, "access-control-expose-headers"));
  assert_null(header(r, "access-control-allow-credentials"));
  assert_null(header(r, "access-control-max-age"));
}

static const char allow_headers[] =
    "Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, Connect-Accept-Encoding, "
    "Connect-Content-Encoding, Grpc-Timeout, Grpc-Accept-Encoding, Grpc-Encoding, X-Grpc-Web, "
    "X-User-Agent, Authorization";
static const char expose_headers[] =
    "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Trailer-X-Echo";
static const char preflight_vary[] =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

static const char *const origins[] = {"https://app.example", "http://localhost:8000", NULL};
static const char *const more_headers[] = {"Authorization", NULL};
static const char *const more_exposed[] = {"Trailer-X-Echo", NULL};
static const connectc_cors list_cors = {
    .allowed_origins = origins,
    .allowed_headers = more_headers,
    .exposed_headers = more_exposed,
    .max_age_s = 600,
};

/* ---- tests ---- */

/* A browser's preflight for a Connect call and for a gRPC-Web call from an
 * allowed origin: 204 with every CORS header. */
static void test_preflight_allowed(void **state) {
  (void)state;
  server sv;
  server_start(&sv, &list_cors);
  const char *const heads[] = {
      ("OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example\r\n"
       "Access-Control-Request-Method: POST\r\n"
       "Access-Control-Request-Headers: connect-protocol-version,content-type"),
      ("OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: http://localhost:8000\r\n"
       "Access-Control-Request-Method: POST\r\n"
       "Access-Control-Request-Headers: content-type,x-grpc-web,x-user-agent"),
      /* No such method: the preflight is answered all the same (the real
       * request then gets its 404 with CORS headers, readable by the page). */
      ("OPTIONS /test.v1.Cors/Nope HTTP/1.1\r\nOrigin: https://app.example\r\n"
       "Access-Control-Request-Method: GET"),
  };
  const char *const want_origin[] = {"https://app.example", "http://localhost:8000",
                                     "https://app.example"};
  for (size_t i = 0; i < 3; i++) {
    response r;
    exchange(sv.port, heads[i], "", 0, &r);
    assert_int_equal(r.status, 204);
    assert_header(&r, "access-control-allow-origin", want_origin[i]);
    assert_header(&r, "access-control-allow-methods", "POST, GET");
    assert_header(&r, "access-control-allow-headers", allow_headers);
    assert_header(&r, "access-control-max-age", "600");
    assert_header(&r, "vary", preflight_vary);
    assert_null(header(&r, "access-control-allow-credentials"));
    assert_string_equal(r.body, "");
  }
  server_stop(&sv);
}

/* From another origin, or with the Origin header twice (which one would the
 * browser check?), a preflight gets 204 without the CORS headers: the
 * browser then refuses the call. A GET or POST gets its answer without them
 * too. */
static void test_preflight_other_origin(void **state) {
  (void)state;
  server sv;
  server_start(&sv, &list_cors);
  const char *const heads[] = {
      ("OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://evil.example\r\n"
       "Access-Control-Request-Method: POST"),
      ("OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example.evil\r\n"
       "Access-Control-Request-Method: POST"),
      ("OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example\r\n"
       "Origin: https://app.example\r\nAccess-Control-Request-Method: POST"),
  };
  for (size_t i = 0; i < 3; i++) {
    response r;
    exchange(sv.port, heads[i], "", 0, &r);
    assert_int_equal(r.status, 204);
    assert_no_cors_headers(&r);
    assert_header(&r, "vary", preflight_vary);
  }
  response r;
  exchange(sv.port,
           "POST /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://evil.example\r\n"
           "Content-Type: application/json",
           "\"hi\"", 4, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "\"hi\"");
  assert_no_cors_headers(&r);
  server_stop(&sv);
}

/* Answers the library makes itself carry the CORS headers for an allowed
 * origin, so that the page can read them: 404 (no such method), 415 (a
 * content type it does not serve), 405 (a method other than GET/POST). */
static void test_library_errors_carry_cors(void **state) {
  (void)state;
  server sv;
  server_start(&sv, &list_cors);
  struct {
    const char *head;
    const char *body;
    int status;
  } cases[] = {
      {"POST /test.v1.Cors/Nope HTTP/1.1\r\nOrigin: https://app.example\r\n"
       "Content-Type: application/json",
       "{}", 404},
      {"GET /test.v1.Cors/Nope?connect=v1&encoding=json&message=%7B%7D HTTP/1.1\r\n"
       "Origin: https://app.example",
       "", 404},
      {"POST /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example\r\n"
       "Content-Type: text/plain",
       "hi", 415},
      {"PUT /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example\r\n"
       "Content-Type: application/json",
       "{}", 405},
      /* OPTIONS without Access-Control-Request-Method is no preflight. */
      {"OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example", "", 405},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    response r;
    exchange(sv.port, cases[i].head, cases[i].body, strlen(cases[i].body), &r);
    assert_int_equal(r.status, cases[i].status);
    assert_header(&r, "access-control-allow-origin", "https://app.example");
    assert_header(&r, "access-control-expose-headers", expose_headers);
    assert_header(&r, "vary", "Origin");
    assert_null(header(&r, "access-control-allow-methods"));
  }
  server_stop(&sv);
}

/* Whether the body (which may hold NUL bytes) contains the n bytes. */
static int body_has(const response *r, const char *bytes, size_t n) {
  for (const char *p = r->body; p + n <= r->raw + r->len; p++)
    if (memcmp(p, bytes, n) == 0) return 1;
  return 0;
}
static int body_contains(const response *r, const char *needle) {
  return body_has(r, needle, strlen(needle));
}

static void envelope(const char *msg, char *out, size_t *len) {
  size_t n = strlen(msg);
  out[0] = 0;
  out[1] = (char)(n >> 24);
  out[2] = (char)(n >> 16);
  out[3] = (char)(n >> 8);
  out[4] = (char)n;
  memcpy(out + 5, msg, n);
  *len = n + 5;
}

/* A handler's answers and errors, over Connect (POST and GET) and
 * gRPC-Web, carry them too. */
static void test_calls_carry_cors(void **state) {
  (void)state;
  server sv;
  server_start(&sv, &list_cors);
  response r;
  exchange(sv.port,
           "POST /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example\r\n"
           "Content-Type: application/json\r\nConnect-Protocol-Version: 1",
           "\"hi\"", 4, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "\"hi\"");
  assert_header(&r, "access-control-allow-origin", "https://app.example");
  assert_header(&r, "access-control-expose-headers", expose_headers);
  assert_header(&r, "vary", "Origin");

  exchange(sv.port,
           "GET /test.v1.Cors/Say?connect=v1&encoding=json&message=%22hi%22 HTTP/1.1\r\n"
           "Origin: http://localhost:8000",
           "", 0, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "\"hi\"");
  assert_header(&r, "access-control-allow-origin", "http://localhost:8000");

  exchange(sv.port,
           "POST /test.v1.Cors/Fail HTTP/1.1\r\nOrigin: https://app.example\r\n"
           "Content-Type: application/json",
           "{}", 2, &r);
  assert_int_equal(r.status, 400); /* failed_precondition */
  assert_string_equal(r.body, "{\"code\":\"failed_precondition\",\"message\":\"not now\","
                              "\"details\":[{\"type\":\"test.v1.Detail\",\"value\":\"CAE\"}]}");
  assert_header(&r, "access-control-allow-origin", "https://app.example");
  assert_header(&r, "access-control-expose-headers", expose_headers);

  char body[64];
  size_t len;
  envelope("hi", body, &len);
  exchange(sv.port,
           "POST /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example\r\n"
           "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1",
           body, len, &r);
  assert_int_equal(r.status, 200);
  assert_header(&r, "access-control-allow-origin", "https://app.example");
  assert_header(&r, "access-control-expose-headers", expose_headers);
  assert_true(body_has(&r, body, len)); /* the message, echoed */
  assert_true(body_contains(&r, "grpc-status: 0\r\n"));

  exchange(sv.port,
           "POST /test.v1.Cors/Fail HTTP/1.1\r\nOrigin: https://app.example\r\n"
           "Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1",
           body, len, &r);
  assert_int_equal(r.status, 200);
  assert_header(&r, "access-control-allow-origin", "https://app.example");
  assert_header(&r, "access-control-expose-headers", expose_headers);
  /* Trailers-only: the status is in headers the page may read because
   * they are exposed. */
  assert_header(&r, "grpc-status", "9");
  assert_header(&r, "grpc-message", "not now");
  assert_non_null(header(&r, "grpc-status-details-bin"));
  server_stop(&sv);
}

static int allow_cb_origin(const char *origin, size_t len, void *user_data) {
  const char *want = user_data;
  return len == strlen(want) && memcmp(origin, want, len) == 0;
}

/* The callback decides for the origins the list does not name; credentials
 * are sent when asked for; "*" allows any origin, answered with the origin
 * itself (a credentialed request may not be answered with "*"). */
static void test_callback_star_credentials(void **state) {
  (void)state;
  static const char *const only[] = {"https://listed.example", NULL};
  const connectc_cors cb = {
      .allowed_origins = only,
      .origin_allowed = allow_cb_origin,
      .user_data = "https://called.example",
      .allow_credentials = 1,
  };
  server sv;
  server_start(&sv, &cb);
  const char *const ok[] = {"https://listed.example", "https://called.example"};
  for (size_t i = 0; i < 2; i++) {
    char head[256];
    snprintf(head, sizeof head,
             "OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: %s\r\n"
             "Access-Control-Request-Method: POST",
             ok[i]);
    response r;
    exchange(sv.port, head, "", 0, &r);
    assert_int_equal(r.status, 204);
    assert_header(&r, "access-control-allow-origin", ok[i]);
    assert_header(&r, "access-control-allow-credentials", "true");
    assert_header(&r, "access-control-max-age", "7200");
  }
  response r;
  exchange(sv.port,
           "OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://called.example.evil\r\n"
           "Access-Control-Request-Method: POST",
           "", 0, &r);
  assert_int_equal(r.status, 204);
  assert_no_cors_headers(&r);
  exchange(sv.port,
           "POST /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://called.example\r\n"
           "Content-Type: application/json",
           "\"hi\"", 4, &r);
  assert_int_equal(r.status, 200);
  assert_header(&r, "access-control-allow-origin", "https://called.example");
  assert_header(&r, "access-control-allow-credentials", "true");
  server_stop(&sv);

  static const char *const star[] = {"*", NULL};
  const connectc_cors any = {.allowed_origins = star};
  server_start(&sv, &any);
  exchange(sv.port,
           "OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://anyone.example\r\n"
           "Access-Control-Request-Method: POST",
           "", 0, &r);
  assert_int_equal(r.status, 204);
  assert_header(&r, "access-control-allow-origin", "https://anyone.example");
  assert_null(header(&r, "access-control-allow-credentials"));
  exchange(sv.port,
           "POST /test.v1.Cors/Nope HTTP/1.1\r\nOrigin: null\r\n"
           "Content-Type: application/json",
           "{}", 2, &r);
  assert_int_equal(r.status, 404);
  assert_header(&r, "access-control-allow-origin", "null");
  server_stop(&sv);
}

/* CORS off (the default): a preflight is a plain OPTIONS request, 405, and
 * no answer carries a CORS header. */
static void test_cors_off(void **state) {
  (void)state;
  server sv;
  server_start(&sv, NULL);
  response r;
  exchange(sv.port,
           "OPTIONS /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example\r\n"
           "Access-Control-Request-Method: POST\r\n"
           "Access-Control-Request-Headers: content-type",
           "", 0, &r);
  assert_int_equal(r.status, 405);
  assert_header(&r, "allow", "GET, POST");
  assert_no_cors_headers(&r);
  assert_null(header(&r, "vary"));
  exchange(sv.port,
           "POST /test.v1.Cors/Say HTTP/1.1\r\nOrigin: https://app.example\r\n"
           "Content-Type: application/json",
           "\"hi\"", 4, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "\"hi\"");
  assert_no_cors_headers(&r);
  exchange(sv.port,
           "POST /test.v1.Cors/Nope HTTP/1.1\r\nOrigin: https://app.example\r\n"
           "Content-Type: application/json",
           "{}", 2, &r);
  assert_int_equal(r.status, 404);
  assert_no_cors_headers(&r);
  server_stop(&sv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_preflight_allowed),
      cmocka_unit_test(test_preflight_other_origin),
      cmocka_unit_test(test_library_errors_carry_cors),
      cmocka_unit_test(test_calls_carry_cors),
      cmocka_unit_test(test_callback_star_credentials),
      cmocka_unit_test(test_cors_off),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
