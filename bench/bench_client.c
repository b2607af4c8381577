/*
 * bench_client: the client half of bench/run.sh on connectc. Each of
 * `workers` threads has its own libcurl transport (one connection, kept
 * alive) and makes `calls` sequential unary Say calls through the generated
 * typed stub (proto, POST, no compression); every call is timed.
 *
 *   bench_client <base-url> [workers] [calls per worker] [warm-up calls]
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

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <base-url> [workers] [calls per worker] [warm-up calls]\n", argv[0]);
    return 2;
  }
  long nw = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
  long calls = argc > 3 ? strtol(argv[3], NULL, 10) : 10000;
  long warmup = argc > 4 ? strtol(argv[4], NULL, 10) : 200;
  if (nw < 1 || nw > 1024 || calls < 1 || warmup < 0) return 2;
  worker *ws = calloc((size_t)nw, sizeof *ws);
  double *lat = malloc((size_t)nw * (size_t)calls * sizeof *lat);
  if (!ws || !lat) return 1;
  pthread_barrier_init(&start_line, NULL, (unsigned)nw + 1);
  for (long i = 0; i < nw; i++) {
    ws[i] = (worker){argv[1], calls, warmup, lat + i * calls, 0, 0};
    if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) return 1;
  }
  pthread_barrier_wait(&start_line);
  double t0 = now_us();
  int failed = 0;
  for (long i = 0; i < nw; i++) {
    pthread_join(ws[i].thread, NULL);
    failed |= ws[i].failed;
  }
  double secs = (now_us() - t0) / 1e6;
  if (failed) return 1;
  size_t n = (size_t)nw * (size_t)calls;
  qsort(lat, n, sizeof *lat, cmp_double);
  printf("calls=%zu seconds=%.3f calls_per_s=%.0f p50_us=%.0f p99_us=%.0f\n", n, secs,
         (double)n / secs, lat[(size_t)(0.50 * (double)(n - 1))], lat[(size_t)(0.99 * (double)(n - 1))]);
  pthread_barrier_destroy(&start_line);
  free(lat);
  free(ws);
  return 0;
}
