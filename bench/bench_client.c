/*
 * bench_client: the client half of bench/run.sh on connectc. Each of
 * `workers` threads has its own libcurl transport (one connection, kept
 * alive) and makes `calls` sequential unary Say calls through the generated
 * typed stub (proto, POST, no compression); every call is timed.
 *
 * With --h2, one thread and one HTTP/2 transport (h2c with prior
 * knowledge, one connection) keep `workers` calls in flight through the
 * asynchronous stub (Say_start), each slot making `calls` sequential calls:
 * `workers` concurrent streams on one connection, driven by
 * connectc_curl_poll. --loop does the same over HTTP/1.1: one thread, one
 * transport, `workers` calls in flight on as many kept-alive connections.
 *
 *   bench_client [--h2|--loop] <base-url> [workers] [calls per worker] [warm-up calls]
 *
 * Prints one line, as bench/go/client does:
 *   calls=N seconds=S calls_per_s=R p50_us=A p99_us=B
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectc/curl.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"

typedef struct worker {
  const char *url;
  long calls, warmup;
  double *lat_us; /* calls entries */
  int failed;
  pthread_t thread;
} worker;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int say_once(connectc_client *client, connectc_error *err) {
  Connectrpc__Eliza__V1__SayRequest req = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
  req.sentence = "hello";
  Connectrpc__Eliza__V1__SayResponse *resp = NULL;
  int rv = connectrpc_eliza_v1_eliza_service_say(client, &req, &resp, err);
  if (rv != CONNECTC_OK) return rv;
  int ok = resp->sentence && resp->sentence[0];
  connectc_message_free(&resp->base, NULL);
  return ok ? CONNECTC_OK : CONNECTC_ERR_PROTOCOL;
}

static pthread_barrier_t start_line;

static void *run(void *arg) {
  worker *w = arg;
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = w->url;
  connectc_curl *t = NULL;
  connectc_client client;
  connectc_error err;
  connectc_error_init(&err, NULL);
  if (connectc_curl_new(&cfg, NULL, &t) != CONNECTC_OK) w->failed = 1;
  if (!w->failed) {
    connectc_client_init(&client, connectc_curl_transport(t));
    for (long i = 0; i < w->warmup && !w->failed; i++)
      if (say_once(&client, &err) != CONNECTC_OK) w->failed = 1;
  }
  pthread_barrier_wait(&start_line);
  for (long i = 0; i < w->calls && !w->failed; i++) {
    double t0 = now_us();
    if (say_once(&client, &err) != CONNECTC_OK) {
      fprintf(stderr, "bench_client: call failed: %s %s\n", connectc_code_name(err.code),
              err.message ? err.message : "");
      w->failed = 1;
    }
    w->lat_us[i] = now_us() - t0;
  }
  connectc_error_reset(&err);
  connectc_curl_del(t);
  return NULL;
}

/* ---- --h2 / --loop: concurrent calls driven by one thread ---- */

typedef struct slot {
  struct h2run *run;
  connectc_async_call *st;
  long done;     /* timed calls finished */
  long warm;     /* warm-up calls left */
  double t0, t1; /* start, on_close */
  double *lat;   /* calls entries */
  int closed;
} slot;

typedef struct h2run {
  connectc_client client;
  long calls;
  int failed;
} h2run;

static void slot_start(slot *s);

static void on_said(connectc_async_call *st, Connectrpc__Eliza__V1__SayResponse *resp, void *ud) {
  slot *s = ud;
  if (!resp->sentence || !resp->sentence[0]) s->run->failed = 1;
  connectc_message_free(&resp->base, connectc_async_call_allocator(st));
}

static void on_said_close(connectc_async_call *st, const connectc_error *err,
                          const connectc_headers *trailers, void *ud) {
  (void)st;
  (void)trailers;
  slot *s = ud;
  if (err->code != CONNECTC_CODE_OK) {
    fprintf(stderr, "bench_client: call failed: %s %s\n", connectc_code_name(err->code),
            err->message ? err->message : "");
    s->run->failed = 1;
  }
  s->t1 = now_us();
  s->closed = 1;
}

static const connectrpc_eliza_v1_eliza_service_say__callbacks say_cb = {NULL, on_said,
                                                                      on_said_close};

static void slot_start(slot *s) {
  Connectrpc__Eliza__V1__SayRequest req = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
  req.sentence = "hello";
  s->closed = 0;
  s->t0 = now_us();
  if (connectrpc_eliza_v1_eliza_service_say__start(&s->run->client, &req, NULL, &say_cb, s,
                                                  &s->st) != CONNECTC_OK) {
    s->run->failed = 1;
    s->st = NULL;
    s->closed = 1;
  }
}

/* Runs every slot until each made `calls` timed calls after its warm-up;
 * returns the seconds the timed part took. */
static double run_loop(const char *url, connectc_curl_http_version v, long nw, long calls,
                       long warmup, double *lat, int *failed) {
  connectc_curl_config cfg = {.base_url = url, .http_version = v};
  connectc_curl *t = NULL;
  h2run run;
  memset(&run, 0, sizeof run);
  run.calls = calls;
  if (connectc_curl_new(&cfg, NULL, &t) != CONNECTC_OK) {
    *failed = 1;
    return 0;
  }
  connectc_client_init(&run.client, connectc_curl_transport(t));
  slot *slots = calloc((size_t)nw, sizeof *slots);
  double start = 0;
  for (int phase = 0; phase < 2 && !run.failed; phase++) { /* warm-up, then timed */
    long left = 0;
    for (long i = 0; i < nw; i++) {
      slots[i] = (slot){&run, NULL, 0, phase == 0 ? warmup : 0, 0, 0, lat + i * calls, 1};
      left += phase == 0 ? warmup : calls;
      if (left) slot_start(&slots[i]);
    }
    if (phase == 0 && warmup == 0) continue;
    if (phase == 1) start = now_us();
    while (left > 0 && !run.failed) {
      connectc_curl_poll(t, 100);
      for (long i = 0; i < nw; i++) {
        slot *s = &slots[i];
        if (!s->closed || !s->st) continue;
        connectc_async_call_del(s->st);
        s->st = NULL;
        left--;
        int more;
        if (phase == 0) {
          more = --s->warm > 0;
        } else {
          s->lat[s->done++] = s->t1 - s->t0;
          more = s->done < calls;
        }
        if (more) slot_start(s);
      }
    }
  }
  double secs = (now_us() - start) / 1e6;
  for (long i = 0; i < nw; i++) connectc_async_call_del(slots[i].st);
  free(slots);
  connectc_curl_del(t);
  *failed = run.failed;
  return secs;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int h2 = argc > 1 && strcmp(argv[1], "--h2") == 0;
  int loop = argc > 1 && strcmp(argv[1], "--loop") == 0;
  if (h2 || loop) {
    argv++;
    argc--;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s [--h2|--loop] <base-url> [workers] [calls per worker] [warm-up calls]\n",
            argv[0]);
    return 2;
  }
  long nw = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
  long calls = argc > 3 ? strtol(argv[3], NULL, 10) : 10000;
  long warmup = argc > 4 ? strtol(argv[4], NULL, 10) : 200;
  if (nw < 1 || nw > 1024 || calls < 1 || warmup < 0) return 2;
  worker *ws = calloc((size_t)nw, sizeof *ws);
  double *lat = malloc((size_t)nw * (size_t)calls * sizeof *lat);
  if (!ws || !lat) return 1;
  double secs = 0;
  int failed = 0;
  if (h2 || loop) {
    secs = run_loop(argv[1], h2 ? CONNECTC_CURL_HTTP_2 : CONNECTC_CURL_HTTP_1_1, nw, calls, warmup,
                    lat, &failed);
    if (failed) return 1;
    goto report;
  }
  pthread_barrier_init(&start_line, NULL, (unsigned)nw + 1);
  for (long i = 0; i < nw; i++) {
    ws[i] = (worker){argv[1], calls, warmup, lat + i * calls, 0, 0};
    if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) return 1;
  }
  pthread_barrier_wait(&start_line);
  double t0 = now_us();
  for (long i = 0; i < nw; i++) {
    pthread_join(ws[i].thread, NULL);
    failed |= ws[i].failed;
  }
  secs = (now_us() - t0) / 1e6;
  pthread_barrier_destroy(&start_line);
  if (failed) return 1;
report:;
  size_t n = (size_t)nw * (size_t)calls;
  qsort(lat, n, sizeof *lat, cmp_double);
  printf("calls=%zu seconds=%.3f calls_per_s=%.0f p50_us=%.0f p99_us=%.0f\n", n, secs,
         (double)n / secs, lat[(size_t)(0.50 * (double)(n - 1))], lat[(size_t)(0.99 * (double)(n - 1))]);
  free(lat);
  free(ws);
  return 0;
}
