/*
 * eliza_async_client: the generated asynchronous stubs, two ways.
 *
 *   eliza_async_client [base-url]   (default http://127.0.0.1:8080)
 *
 * 1. The transport's own loop: three Say calls and a Converse stream run
 *    concurrently on one connectc_curl; connectc_curl_poll() moves them
 *    until none is left. Responses arrive through typed callbacks.
 * 2. An application's event loop: here a plain poll() loop. The transport
 *    asks it to watch sockets and arm a timer (connectc_curl_loop), and the
 *    loop reports readiness back; an Introduce stream runs on it.
 *
 * Everything runs on one thread: that is the threading model of an
 * asynchronous client (see connectc/client.h). Exits non-zero on failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "connectc/curl.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"

typedef Connectrpc__Eliza__V1__SayResponse SayResponse;
typedef Connectrpc__Eliza__V1__ConverseResponse ConverseResponse;
typedef Connectrpc__Eliza__V1__IntroduceResponse IntroduceResponse;

static int failures;

/* What one call prints under, and whether it ended. */
typedef struct call_state {
  const char *name;
  int done;
} call_state;

static void on_close(connectc_async_call *stream, const connectc_error *error,
                     const connectc_headers *trailers, void *user_data) {
  (void)stream;
  (void)trailers;
  call_state *c = user_data;
  c->done = 1;
  if (error->code == CONNECTC_CODE_OK) {
    printf("  %s: done\n", c->name);
  } else {
    printf("  %s failed: %s: %s\n", c->name, connectc_code_name(error->code),
           error->message ? error->message : "");
    failures++;
  }
}

static void on_said(connectc_async_call *stream, SayResponse *response, void *user_data) {
  printf("  %s <- %s\n", ((call_state *)user_data)->name, response->sentence);
  connectc_message_free(&response->base, connectc_async_call_allocator(stream));
}

static void on_conversed(connectc_async_call *stream, ConverseResponse *response,
                         void *user_data) {
  printf("  %s <- %s\n", ((call_state *)user_data)->name, response->sentence);
  connectc_message_free(&response->base, connectc_async_call_allocator(stream));
}

static void on_introduced(connectc_async_call *stream, IntroduceResponse *response,
                          void *user_data) {
  printf("  %s <- %s\n", ((call_state *)user_data)->name, response->sentence);
  connectc_message_free(&response->base, connectc_async_call_allocator(stream));
}

/* ---- 1. the transport's own loop ---- */

static int own_loop(const char *url) {
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *transport = NULL;
  if (connectc_curl_new(&cfg, NULL, &transport) != CONNECTC_OK) return 1;
  connectc_client client;
  connectc_client_init(&client, connectc_curl_transport(transport));

  static const connectrpc_eliza_v1_eliza_service_say__callbacks say_cb = {
      .on_response = on_said, .on_close = on_close};
  static const connectrpc_eliza_v1_eliza_service_converse__callbacks converse_cb = {
      .on_response = on_conversed, .on_close = on_close};
  const char *sentences[] = {"Hello", "I am curious", "Goodbye"};
  call_state says[3] = {{"Say #1", 0}, {"Say #2", 0}, {"Say #3", 0}};
  connectc_async_call *streams[4] = {NULL, NULL, NULL, NULL};
  for (int i = 0; i < 3; i++) {
    Connectrpc__Eliza__V1__SayRequest req = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
    req.sentence = (char *)sentences[i];
    /* The request is marshaled at once: `req` may go out of scope. */
    if (connectrpc_eliza_v1_eliza_service_say__start(&client, &req, NULL, &say_cb, &says[i],
                                                    &streams[i]) != CONNECTC_OK)
      failures++;
  }
  call_state conv = {"Converse", 0};
  connectc_call_options opts = {.timeout_ms = 5000}; /* a deadline for the stream */
  if (connectrpc_eliza_v1_eliza_service_converse__start(&client, &opts, &converse_cb, &conv,
                                                       &streams[3]) == CONNECTC_OK) {
    const char *lines[] = {"I feel tired", "because of the deadline"};
    for (int i = 0; i < 2; i++) {
      Connectrpc__Eliza__V1__ConverseRequest req = CONNECTRPC__ELIZA__V1__CONVERSE_REQUEST__INIT;
      req.sentence = (char *)lines[i];
      connectrpc_eliza_v1_eliza_service_converse__send_request(streams[3], &req);
    }
    connectc_async_call_close_send(streams[3]);
  } else {
    failures++;
  }
  /* All four calls are in flight on one transport; move them. */
  while (connectc_curl_poll(transport, 100) > 0) {
  }
  for (int i = 0; i < 4; i++) connectc_async_call_del(streams[i]);
  connectc_curl_del(transport);
  return 0;
}

/* ---- 2. the application's event loop (poll) ---- */

#define MAX_FDS 16

typedef struct app_loop {
  struct pollfd fds[MAX_FDS];
  int n;
  long timer_ms; /* -1: disarmed */
} app_loop;

static void watch_socket(void *user_data, int fd, int what) {
  app_loop *l = user_data;
  int i = 0;
  while (i < l->n && l->fds[i].fd != fd) i++;
  if (what & CONNECTC_CURL_WATCH_REMOVE) {
    if (i < l->n) l->fds[i] = l->fds[--l->n];
    return;
  }
  if (i == l->n) {
    if (l->n == MAX_FDS) return;
    l->n++;
  }
  l->fds[i].fd = fd;
  l->fds[i].events = (short)(((what & CONNECTC_CURL_WATCH_IN) ? POLLIN : 0) |
                             ((what & CONNECTC_CURL_WATCH_OUT) ? POLLOUT : 0));
}

static void set_timer(void *user_data, long timeout_ms) {
  ((app_loop *)user_data)->timer_ms = timeout_ms;
}

static int app_event_loop(const char *url) {
  app_loop loop;
  memset(&loop, 0, sizeof loop);
  loop.timer_ms = -1;
  connectc_curl_loop hooks = {
      .watch_socket = watch_socket, .set_timer = set_timer, .user_data = &loop};
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  cfg.loop = &hooks;
  connectc_curl *transport = NULL;
  if (connectc_curl_new(&cfg, NULL, &transport) != CONNECTC_OK) return 1;
  connectc_client client;
  connectc_client_init(&client, connectc_curl_transport(transport));

  static const connectrpc_eliza_v1_eliza_service_introduce__callbacks intro_cb = {
      .on_response = on_introduced, .on_close = on_close};
  call_state intro = {"Introduce", 0};
  Connectrpc__Eliza__V1__IntroduceRequest req = CONNECTRPC__ELIZA__V1__INTRODUCE_REQUEST__INIT;
  req.name = "Ada";
  connectc_async_call *stream = NULL;
  if (connectrpc_eliza_v1_eliza_service_introduce__start(&client, &req, NULL, &intro_cb, &intro,
                                                        &stream) != CONNECTC_OK) {
    connectc_curl_del(transport);
    return 1;
  }
  /* The application's loop: poll its descriptors, tell the transport. */
  while (!intro.done) {
    int timeout = loop.timer_ms < 0 ? 1000 : (int)loop.timer_ms;
    struct pollfd ready[MAX_FDS];
    int n = loop.n;
    memcpy(ready, loop.fds, (size_t)n * sizeof ready[0]);
    int got = poll(ready, (nfds_t)n, timeout);
    if (got == 0 || loop.timer_ms == 0) {
      loop.timer_ms = -1;
      connectc_curl_timeout_action(transport);
    }
    for (int i = 0; got > 0 && i < n; i++) {
      int events = ((ready[i].revents & (POLLIN | POLLHUP | POLLERR)) ? CONNECTC_CURL_WATCH_IN : 0) |
                   ((ready[i].revents & POLLOUT) ? CONNECTC_CURL_WATCH_OUT : 0);
      if (events) connectc_curl_socket_action(transport, ready[i].fd, events);
    }
  }
  connectc_async_call_del(stream);
  connectc_curl_del(transport);
  return 0;
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8080";
  printf("Three Say calls and a Converse stream at once (the transport's own loop)\n");
  if (own_loop(url) != 0) return 1;
  printf("An Introduce stream on the application's poll() loop\n");
  if (app_event_loop(url) != 0) return 1;
  printf("%s\n", failures ? "some calls failed" : "all calls succeeded");
  return failures ? 1 : 0;
}
