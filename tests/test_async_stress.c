/*
 * Stress test of the asynchronous halves: a real libmicrohttpd server whose
 * typed handlers hand their responders to worker threads, driven by many
 * concurrent asynchronous client streams over the libcurl adapter (several
 * transports, one per client thread, in connectc_curl_poll mode), two of
 * them sending gzip or zstd (and so answered in it).
 *
 * The request (a google.protobuf.StringValue) tells the server what to do:
 * "<mode><count>", with mode
 *   o  answer after a random 0-5 ms (server streams: <count> messages)
 *   e  finish with failed_precondition (streams: after one message)
 *   p  poll connectc_responder_is_done for a while, then answer
 *   h  never answer; the handler registers an on_cancel that finishes
 *   w  never answer; the worker registers that on_cancel after sleeping
 *      (often after the call already ended: it then fires at once)
 *   r  race: the worker holds its own reference, registers an on_cancel
 *      that finishes, and answers under the call's lock, whichever wins
 * Clients mix normal calls, cancels and deletes at random points (inside
 * on_headers / on_message / on_close too, including of other streams),
 * and short deadlines (1-10 ms). Every call must close exactly once with an
 * allowed code, no callback may fire after connectc_async_call_del, the
 * whole run is bounded by a watchdog, every responder must be finished
 * (ASan reports anything leaked) and the server must still answer after.
 *
 * STRESS_SEED and STRESS_CALLS (calls per client thread) override the
 * defaults.
 */
#define _POSIX_C_SOURCE 200809L

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
#include <time.h>

#include <cmocka.h>

#include "connectc/client.h"
#include "connectc/curl.h"
#include "connectc/microhttpd.h"
#include "connectc/service.h"
#include "google/protobuf/wrappers.pb-c.h"

#define N_WORKERS 4
#define N_CLIENT_THREADS 3
#define IN_FLIGHT 12
#define WATCHDOG_S 120

static const connectc_method_desc m_unary = {"/stress.v1.Svc/Unary", CONNECTC_STREAM_UNARY, 0};
static const connectc_method_desc m_stream = {"/stress.v1.Svc/Stream", CONNECTC_STREAM_SERVER, 0};

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static unsigned rnd(unsigned *seed) { return (unsigned)rand_r(seed); }

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ================================================================== */
/* Server                                                              */
/* ================================================================== */

typedef struct job {
  connectc_responder *r;
  connectc_server_call *call;
  char mode;
  int count;
  int stream;
  int finished; /* race mode: guarded by the call's lock */
  struct job *next;
} job;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job *head, *tail;
  int quit;
  pthread_t workers[N_WORKERS];
  atomic_int outstanding;   /* responders handed out and not finished */
  atomic_int handled;       /* handler invocations */
  atomic_int cancel_fired;  /* on_cancel callbacks run */
  atomic_int bad;           /* server-side assertion failures */
  atomic_uint seed;
} srv;

static void srv_bad(const char *what) {
  fprintf(stderr, "server: %s\n", what);
  atomic_fetch_add(&srv.bad, 1);
}

static void respond_finish(connectc_responder *r, const connectc_error *err) {
  (void)connectc_responder_finish(r, err);
  atomic_fetch_sub(&srv.outstanding, 1);
}

/* Sends one StringValue. */
static int respond_text(connectc_responder *r, const char *text) {
  Google__Protobuf__StringValue m = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
  m.value = (char *)(uintptr_t)text;
  return connectc_responder_send(r, &m.base);
}

/* on_cancel for 'h' and 'w': the only place those calls are finished. */
static void finish_on_cancel(connectc_responder *r, const connectc_error *why, void *arg) {
  (void)arg;
  atomic_fetch_add(&srv.cancel_fired, 1);
  if (why->code != CONNECTC_CODE_CANCELED && why->code != CONNECTC_CODE_DEADLINE_EXCEEDED)
    srv_bad("on_cancel with an unexpected code");
  if (!connectc_responder_is_done(r)) srv_bad("on_cancel before the call ended");
  respond_finish(r, why);
}

/* Race mode: both run under the call's lock, so job->finished decides. */
static void race_cancel(connectc_responder *r, const connectc_error *why, void *arg) {
  job *j = arg;
  atomic_fetch_add(&srv.cancel_fired, 1);
  if (j->finished) {
    srv_bad("on_cancel after the handler finished");
    return;
  }
  j->finished = 1;
  respond_finish(r, why);
}

static void race_body(connectc_server_call *call, void *arg) {
  (void)call;
  job *j = arg;
  if (j->finished) return;
  (void)respond_text(j->r, "raced");
  j->finished = 1;
  respond_finish(j->r, NULL);
}

static void run_job(job *j, unsigned *seed) {
  sleep_us((long)(rnd(seed) % 5001));
  connectc_responder *r = j->r;
  switch (j->mode) {
    case 'o': {
      int n = j->stream ? j->count : 1;
      char text[32];
      for (int i = 0; i < n; i++) {
        snprintf(text, sizeof text, "m%d", i);
        if (respond_text(r, text) != CONNECTC_OK) break; /* the call ended */
        if (j->stream && rnd(seed) % 3 == 0) sleep_us((long)(rnd(seed) % 1000));
      }
      respond_finish(r, NULL);
      break;
    }
    case 'e': {
      if (j->stream) (void)respond_text(r, "before the error");
      (void)connectc_responder_add_trailer(r, "x-why", "asked");
      connectc_error e;
      connectc_error_init(&e, NULL);
      connectc_error_set(&e, CONNECTC_CODE_FAILED_PRECONDITION, "failing as asked");
      respond_finish(r, &e);
      connectc_error_reset(&e);
      break;
    }
    case 'p': {
      for (int i = 0; i < 20 && !connectc_responder_is_done(r); i++) sleep_us(1000);
      if (j->stream) (void)connectc_responder_flush_headers(r);
      (void)respond_text(r, "polled");
      respond_finish(r, NULL);
      break;
    }
    case 'w':
      /* May fire at once (and finish) if the call is already over. */
      connectc_responder_on_cancel(r, finish_on_cancel, NULL);
      break;
    case 'W':
    case 'N':
      /* Wait until the call ended and its connection completed (only the
       * responder holds the call now), then register (W) or unset (N). */
      for (int i = 0; i < 2000 && !connectc_responder_is_done(r); i++) sleep_us(1000);
      sleep_us(50 * 1000);
      if (j->mode == 'W') {
        connectc_responder_on_cancel(r, finish_on_cancel, NULL); /* fires at once */
      } else {
        connectc_responder_on_cancel(r, NULL, NULL);
        respond_finish(r, NULL);
      }
      break;
    case 'r':
      connectc_server_call_run(j->call, race_body, j);
      connectc_server_call_unref(j->call); /* the worker's own reference */
      break;
    default:
      srv_bad("unknown job mode");
      respond_finish(r, NULL);
  }
  free(j);
}

static void *worker_main(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  pthread_mutex_lock(&srv.mu);
  for (;;) {
    while (!srv.head && !srv.quit) pthread_cond_wait(&srv.cv, &srv.mu);
    if (!srv.head) break;
    job *j = srv.head;
    srv.head = j->next;
    if (!srv.head) srv.tail = NULL;
    pthread_mutex_unlock(&srv.mu);
    run_job(j, &seed);
    pthread_mutex_lock(&srv.mu);
  }
  pthread_mutex_unlock(&srv.mu);
  return NULL;
}

/* The asynchronous handler: runs on an MHD thread with the call's lock
 * held; hands the responder to a worker. */
static void invoke_async(const void *handlers, void *impl, connectc_responder *r,
                         const ProtobufCMessage *const *requests, size_t n_requests) {
  (void)handlers;
  int stream = impl != NULL;
  atomic_fetch_add(&srv.handled, 1);
  atomic_fetch_add(&srv.outstanding, 1);
  const Google__Protobuf__StringValue *req = (const Google__Protobuf__StringValue *)requests[0];
  if (n_requests != 1 || !req->value || !req->value[0]) {
    srv_bad("bad request");
    respond_finish(r, NULL);
    return;
  }
  char mode = req->value[0];
  if (mode == 'h') {
    connectc_responder_on_cancel(r, finish_on_cancel, NULL);
    return;
  }
  job *j = calloc(1, sizeof *j);
  if (!j) abort(); /* not a cmocka assert: this is an MHD thread */
  j->r = r;
  j->call = connectc_responder_call(r);
  j->mode = mode;
  j->count = atoi(req->value + 1);
  j->stream = stream;
  if (mode == 'r') {
    connectc_server_call_ref(j->call);
    connectc_responder_on_cancel(r, race_cancel, j);
  }
  pthread_mutex_lock(&srv.mu);
  if (srv.tail) srv.tail->next = j;
  else srv.head = j;
  srv.tail = j;
  pthread_cond_signal(&srv.cv);
  pthread_mutex_unlock(&srv.mu);
}

static const connectc_typed_method typed_unary = {
    .desc = &m_unary,
    .input = &google__protobuf__string_value__descriptor,
    .output = &google__protobuf__string_value__descriptor,
    .implemented = 1,
    .invoke_async = invoke_async};
static const connectc_typed_method typed_stream = {
    .desc = &m_stream,
    .input = &google__protobuf__string_value__descriptor,
    .output = &google__protobuf__string_value__descriptor,
    .implemented = 1,
    .invoke_async = invoke_async};

/* ================================================================== */
/* Clients                                                             */
/* ================================================================== */

enum action {
  A_NONE,
  A_CANCEL_BEFORE_SEND,
  A_DEL_BEFORE_SEND,
  A_CANCEL_LATER, /* from the loop, after `at` polls */
  A_DEL_LATER,
  A_CANCEL_IN_HEADERS,
  A_CANCEL_IN_MESSAGE,
  A_DEL_IN_MESSAGE,
  A_DEL_IN_CLOSE,
  A_KILL_OTHER_IN_CLOSE, /* cancel or delete another stream from on_close */
  A_START_IN_MESSAGE,    /* start another call from inside on_message */
  A_COUNT
};

typedef struct cthread cthread;

typedef struct rec {
  cthread *ct;
  connectc_async_call *s;
  int stream;
  char mode;
  int count;
  int64_t timeout_ms;
  enum action action;
  int at;
  int polls;
  int closes, msgs, headers;
  connectc_code code;
  int canceled_by_us; /* a cancel or delete was issued before the close */
  int deleted;        /* connectc_async_call_del returned */
  int in_del;         /* inside our own connectc_async_call_del */
  int late_cb;        /* callbacks after del */
} rec;

struct cthread {
  pthread_t thread;
  int index;
  unsigned seed;
  int calls;
  connectc_curl *curl;
  connectc_client client;
  int launched;
  int drive; /* 0: connectc_curl_poll, 1: poll plus blocking calls, 2: external loop */
  struct pollfd fds[64];
  int n_fds;
  int64_t timer_at; /* external loop: -1 when disarmed */
  int blocking_calls;
  rec *inflight[IN_FLIGHT * 2]; /* room for calls started from callbacks */
  int n_inflight;
  /* results */
  int failures;
  int closes_by_code[32];
  char first_failure[256];
};

static void ct_fail(cthread *ct, rec *r, const char *what) {
  if (ct->failures++ == 0)
    snprintf(ct->first_failure, sizeof ct->first_failure,
             "%s (mode %c%d %s action %d at %d timeout %lld: closes %d code %d msgs %d)", what,
             r->mode, r->count, r->stream ? "stream" : "unary", (int)r->action, r->at,
             (long long)r->timeout_ms, r->closes, (int)r->code, r->msgs);
}

static void launch(cthread *ct);

static void rec_del(rec *r) {
  if (r->deleted) return;
  if (!r->closes) r->canceled_by_us = 1;
  r->in_del = 1;
  connectc_async_call_del(r->s);
  r->in_del = 0;
  r->deleted = 1;
  r->s = NULL;
}

static void rec_cancel(rec *r) {
  if (r->deleted) return;
  if (!r->closes) r->canceled_by_us = 1;
  connectc_async_call_cancel(r->s);
}

static void cb_headers(connectc_async_call *s, const connectc_headers *h, void *ud) {
  (void)s;
  (void)h;
  rec *r = ud;
  if (r->deleted) r->late_cb++;
  r->headers++;
  if (r->action == A_CANCEL_IN_HEADERS) rec_cancel(r);
}

static void cb_message(connectc_async_call *s, ProtobufCMessage *m, void *ud) {
  rec *r = ud;
  if (r->deleted) r->late_cb++;
  connectc_message_free(m, connectc_async_call_allocator(s));
  r->msgs++;
  if (r->msgs == r->at + 1) {
    if (r->action == A_CANCEL_IN_MESSAGE) rec_cancel(r);
    else if (r->action == A_DEL_IN_MESSAGE) rec_del(r);
    else if (r->action == A_START_IN_MESSAGE && r->ct->n_inflight < IN_FLIGHT * 2) launch(r->ct);
  }
}

static void cb_close(connectc_async_call *s, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)s;
  (void)trailers;
  rec *r = ud;
  if (r->deleted) r->late_cb++;
  r->closes++;
  r->code = err->code;
  if (r->action == A_DEL_IN_CLOSE && !r->in_del) rec_del(r);
  if (r->action == A_KILL_OTHER_IN_CLOSE) {
    cthread *ct = r->ct;
    if (ct->n_inflight > 1) {
      rec *o = ct->inflight[rnd(&ct->seed) % (unsigned)ct->n_inflight];
      if (o != r && !o->deleted && !o->in_del) {
        if (rnd(&ct->seed) % 2) rec_cancel(o);
        else rec_del(o);
      }
    }
  }
}

static const connectc_async_call_callbacks callbacks = {cb_headers, cb_message, cb_close, NULL, 0};

static void launch(cthread *ct) {
  ct->launched++;
  rec *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->ct = ct;
  r->code = (connectc_code)-1;
  r->stream = (int)(rnd(&ct->seed) % 2);
  static const char modes[] = "ooooeeppwhrr";
  r->mode = modes[rnd(&ct->seed) % (sizeof modes - 1)];
  r->count = (int)(rnd(&ct->seed) % 6);
  r->action = (enum action)(rnd(&ct->seed) % (A_COUNT * 2)); /* half: A_NONE */
  if (r->action >= A_COUNT) r->action = A_NONE;
  r->at = (int)(rnd(&ct->seed) % 4);
  /* Calls nobody answers end by their deadline; a quarter of the rest
   * gets a short one too. */
  if (r->mode == 'h' || r->mode == 'w' || rnd(&ct->seed) % 4 == 0)
    r->timeout_ms = 1 + (int64_t)(rnd(&ct->seed) % 10);
  connectc_call_options opts = {.timeout_ms = r->timeout_ms};
  /* No cmocka asserts off the test's thread: failures are counted. */
  int nrv = connectc_async_call_new(&ct->client, r->stream ? &m_stream : &m_unary,
                                       &google__protobuf__string_value__descriptor, &opts,
                                       &callbacks, r, &r->s);
  if (nrv != CONNECTC_OK) {
    ct_fail(ct, r, "connectc_async_call_new failed");
    free(r);
    return;
  }
  ct->inflight[ct->n_inflight++] = r;
  if (r->action == A_CANCEL_BEFORE_SEND) rec_cancel(r);
  if (r->action == A_DEL_BEFORE_SEND) {
    rec_del(r);
    return;
  }
  char text[16];
  snprintf(text, sizeof text, "%c%d", r->mode, r->count);
  Google__Protobuf__StringValue m = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
  m.value = text;
  int rv = connectc_async_call_send(r->s, &m.base);
  if (r->action == A_CANCEL_BEFORE_SEND) {
    if (rv != CONNECTC_ERR_STATE) ct_fail(ct, r, "send after cancel did not refuse");
  } else if (rv != CONNECTC_OK) {
    char what[64];
    snprintf(what, sizeof what, "send failed (%d)", rv);
    ct_fail(ct, r, what);
  }
}

/* What a finished call may have ended with. */
static int code_allowed(const rec *r) {
  connectc_code c = r->code;
  if (r->canceled_by_us && c == CONNECTC_CODE_CANCELED) return 1;
  if (r->timeout_ms && c == CONNECTC_CODE_DEADLINE_EXCEEDED) return 1;
  switch (r->mode) {
    case 'o': case 'p': case 'r': return c == CONNECTC_CODE_OK;
    case 'e': return c == CONNECTC_CODE_FAILED_PRECONDITION;
    default: return 0; /* h, w: only the deadline ends them */
  }
}

static void check_done(cthread *ct, rec *r) {
  if (r->closes != 1) ct_fail(ct, r, "closed other than once");
  if (r->late_cb) ct_fail(ct, r, "callback after connectc_async_call_del");
  if (!code_allowed(r)) ct_fail(ct, r, "unexpected code");
  if (r->code == CONNECTC_CODE_OK && !r->canceled_by_us) {
    int want = r->mode == 'o' ? (r->stream ? r->count : 1) : 1;
    if (r->msgs != want) ct_fail(ct, r, "wrong number of messages");
  }
  if ((unsigned)r->code < 32u) ct->closes_by_code[r->code]++;
}

/* ---- a minimal external event loop for connectc_curl_loop ---- */

static void ext_watch(void *ud, int fd, int what) {
  cthread *ct = ud;
  int i = 0;
  while (i < ct->n_fds && ct->fds[i].fd != fd) i++;
  if (what & CONNECTC_CURL_WATCH_REMOVE) {
    if (i < ct->n_fds) ct->fds[i] = ct->fds[--ct->n_fds];
    return;
  }
  if (i == ct->n_fds) {
    if (ct->n_fds == 64) abort();
    ct->n_fds++;
  }
  ct->fds[i].fd = fd;
  ct->fds[i].events = (short)(((what & CONNECTC_CURL_WATCH_IN) ? POLLIN : 0) |
                              ((what & CONNECTC_CURL_WATCH_OUT) ? POLLOUT : 0));
}

static void ext_timer(void *ud, long timeout_ms) {
  cthread *ct = ud;
  ct->timer_at = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
}

static void ext_step(cthread *ct) {
  int wait = 2;
  if (ct->timer_at >= 0) {
    int64_t left = ct->timer_at - mono_ms();
    if (left < wait) wait = left > 0 ? (int)left : 0;
  }
  struct pollfd ready[64];
  int n = ct->n_fds;
  memcpy(ready, ct->fds, (size_t)n * sizeof ready[0]);
  if (poll(ready, (nfds_t)n, wait) > 0) {
    /* Actions may change the watched set: work from the copy. */
    for (int i = 0; i < n; i++) {
      int ev = 0;
      if (ready[i].revents & (POLLIN | POLLHUP | POLLERR)) ev |= CONNECTC_CURL_WATCH_IN;
      if (ready[i].revents & POLLOUT) ev |= CONNECTC_CURL_WATCH_OUT;
      if (ev) connectc_curl_socket_action(ct->curl, ready[i].fd, ev);
    }
  }
  if (ct->timer_at >= 0 && mono_ms() >= ct->timer_at) {
    ct->timer_at = -1;
    connectc_curl_timeout_action(ct->curl);
  }
}

/* Perform mode on the same transport: a blocking call moves the
 * asynchronous streams' callbacks too, through connectc_curl_perform. */
static void blocking_call(cthread *ct) {
  Google__Protobuf__StringValue m = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
  m.value = "o0";
  const ProtobufCMessage *reqs[1] = {&m.base};
  connectc_call_output out;
  connectc_call_output_init(&out, NULL);
  int rv = connectc_client_invoke(&ct->client, &m_unary, &google__protobuf__string_value__descriptor,
                                  reqs, 1, NULL, &out);
  if (rv != CONNECTC_OK || out.error.code != CONNECTC_CODE_OK || out.n_messages != 1) {
    rec dummy;
    memset(&dummy, 0, sizeof dummy);
    dummy.code = out.error.code;
    ct_fail(ct, &dummy, "blocking call failed");
  }
  connectc_call_output_reset(&out);
  ct->blocking_calls++;
}

static void *client_main(void *arg) {
  cthread *ct = arg;
  while (ct->launched < ct->calls || ct->n_inflight > 0) {
    while (ct->n_inflight < IN_FLIGHT && ct->launched < ct->calls) launch(ct);
    if (ct->drive == 2) {
      ext_step(ct);
    } else {
      connectc_curl_poll(ct->curl, 2);
      if (ct->drive == 1 && rnd(&ct->seed) % 16 == 0) blocking_call(ct);
    }
    for (int i = 0; i < ct->n_inflight; i++) {
      rec *r = ct->inflight[i];
      r->polls++;
      if (!r->deleted && !r->closes && r->polls == r->at + 1) {
        if (r->action == A_CANCEL_LATER) rec_cancel(r);
        if (r->action == A_DEL_LATER) rec_del(r);
      }
      if (!r->deleted && r->closes) rec_del(r);
    }
    for (int i = 0; i < ct->n_inflight;) {
      rec *r = ct->inflight[i];
      if (!r->deleted) {
        i++;
        continue;
      }
      check_done(ct, r);
      free(r);
      ct->inflight[i] = ct->inflight[--ct->n_inflight];
    }
  }
  /* Deferred frees must all have happened: nothing is left running. */
  if (connectc_curl_running(ct->curl) != 0) {
    rec dummy;
    memset(&dummy, 0, sizeof dummy);
    ct_fail(ct, &dummy, "transfers left running after every stream closed");
  }
  return NULL;
}

/* ================================================================== */
/* The test                                                            */
/* ================================================================== */

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
} watchdog;

static void *watchdog_main(void *arg) {
  (void)arg;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WATCHDOG_S;
  pthread_mutex_lock(&watchdog.mu);
  while (!watchdog.done)
    if (pthread_cond_timedwait(&watchdog.cv, &watchdog.mu, &until) != 0 && !watchdog.done) {
      fprintf(stderr, "watchdog: the stress test hung for %d s\n", WATCHDOG_S);
      abort();
    }
  pthread_mutex_unlock(&watchdog.mu);
  return NULL;
}

/* A plain call after the storm: the server must still answer. */
static void check_still_serving(const char *url) {
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  connectc_client client;
  connectc_client_init(&client, connectc_curl_transport(t));
  Google__Protobuf__StringValue m = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
  const ProtobufCMessage *reqs[1] = {&m.base};
  connectc_call_output out;

  m.value = "o3";
  connectc_call_output_init(&out, NULL);
  assert_int_equal(connectc_client_invoke(&client, &m_stream,
                                          &google__protobuf__string_value__descriptor, reqs, 1,
                                          NULL, &out),
                   CONNECTC_OK);
  assert_int_equal(out.error.code, CONNECTC_CODE_OK);
  assert_int_equal(out.n_messages, 3);
  connectc_call_output_reset(&out);

  m.value = "e0";
  connectc_call_output_init(&out, NULL);
  assert_int_equal(connectc_client_invoke(&client, &m_unary,
                                          &google__protobuf__string_value__descriptor, reqs, 1,
                                          NULL, &out),
                   CONNECTC_OK);
  assert_int_equal(out.error.code, CONNECTC_CODE_FAILED_PRECONDITION);
  assert_string_equal(connectc_headers_get(&out.trailers, "x-why"), "asked");
  connectc_call_output_reset(&out);

  m.value = "h0"; /* only its deadline ends it */
  connectc_call_options opts = {.timeout_ms = 20};
  connectc_call_output_init(&out, NULL);
  assert_int_equal(connectc_client_invoke(&client, &m_unary,
                                          &google__protobuf__string_value__descriptor, reqs, 1,
                                          &opts, &out),
                   CONNECTC_OK);
  assert_int_equal(out.error.code, CONNECTC_CODE_DEADLINE_EXCEEDED);
  connectc_call_output_reset(&out);
  connectc_curl_del(t);
}

typedef struct fixture {
  connectc_router *router;
  connectc_mhd_server *server;
  pthread_t watchdog;
  unsigned seed;
  char url[64];
} fixture;

static void wait_outstanding(void) {
  int64_t until = mono_ms() + 10000;
  while (atomic_load(&srv.outstanding) > 0 && mono_ms() < until) sleep_us(2000);
  assert_int_equal(atomic_load(&srv.outstanding), 0);
  assert_int_equal(atomic_load(&srv.bad), 0);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->seed = (unsigned)time(NULL);
  const char *env = getenv("STRESS_SEED");
  if (env) f->seed = (unsigned)strtoul(env, NULL, 0);
  pthread_mutex_init(&srv.mu, NULL);
  pthread_cond_init(&srv.cv, NULL);
  pthread_mutex_init(&watchdog.mu, NULL);
  pthread_cond_init(&watchdog.cv, NULL);
  assert_int_equal(pthread_create(&f->watchdog, NULL, watchdog_main, NULL), 0);
  (void)connectc_router_new(NULL, NULL, &f->router);
  assert_non_null(f->router);
  assert_int_equal(connectc_router_add_typed(f->router, &typed_unary, NULL, NULL, NULL),
                   CONNECTC_OK);
  /* impl != NULL tells the handler it serves the stream method. */
  assert_int_equal(connectc_router_add_typed(f->router, &typed_stream, NULL,
                                             (void *)(uintptr_t)&typed_stream, NULL),
                   CONNECTC_OK);
  for (int i = 0; i < N_WORKERS; i++)
    assert_int_equal(pthread_create(&srv.workers[i], NULL, worker_main,
                                    (void *)(uintptr_t)(f->seed + 7u * (unsigned)i)),
                     0);
  connectc_mhd_config mcfg;
  memset(&mcfg, 0, sizeof mcfg);
  mcfg.shutdown_grace_ms = 2000;
  assert_int_equal(connectc_mhd_start(&mcfg, f->router, &f->server), CONNECTC_OK);
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u", (unsigned)connectc_mhd_port(f->server));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  wait_outstanding();
  connectc_mhd_stop(f->server);
  pthread_mutex_lock(&srv.mu);
  srv.quit = 1;
  pthread_cond_broadcast(&srv.cv);
  pthread_mutex_unlock(&srv.mu);
  for (int i = 0; i < N_WORKERS; i++) pthread_join(srv.workers[i], NULL);
  connectc_router_del(f->router);
  pthread_mutex_lock(&watchdog.mu);
  watchdog.done = 1;
  pthread_cond_signal(&watchdog.cv);
  pthread_mutex_unlock(&watchdog.mu);
  pthread_join(f->watchdog, NULL);
  free(f);
  return 0;
}

/* Runs one blocking unary call of `text`; returns its code. */
static connectc_code unary_call(const char *url, const char *text, int64_t timeout_ms) {
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *t = NULL;
  assert_int_equal(connectc_curl_new(&cfg, NULL, &t), CONNECTC_OK);
  connectc_client client;
  connectc_client_init(&client, connectc_curl_transport(t));
  Google__Protobuf__StringValue m = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
  m.value = (char *)(uintptr_t)text;
  const ProtobufCMessage *reqs[1] = {&m.base};
  connectc_call_options opts = {.timeout_ms = timeout_ms};
  connectc_call_output out;
  connectc_call_output_init(&out, NULL);
  assert_int_equal(connectc_client_invoke(&client, &m_unary,
                                          &google__protobuf__string_value__descriptor, reqs, 1,
                                          &opts, &out),
                   CONNECTC_OK);
  connectc_code code = out.error.code;
  connectc_call_output_reset(&out);
  connectc_curl_del(t);
  return code;
}

/* connectc_responder_on_cancel after the call ended and its connection
 * completed: fn runs at once and finishes, dropping the last reference
 * while the lock is held (this crashed in t_wake on the freed request);
 * unsetting with NULL then must not call NULL. */
static void test_on_cancel_after_end(void **state) {
  fixture *f = *state;
  int fired = atomic_load(&srv.cancel_fired);
  int handled = atomic_load(&srv.handled);
  /* Long enough for the request to reach the handler even under TSan. */
  assert_int_equal(unary_call(f->url, "W0", 100), CONNECTC_CODE_DEADLINE_EXCEEDED);
  assert_int_equal(unary_call(f->url, "N0", 100), CONNECTC_CODE_DEADLINE_EXCEEDED);
  assert_int_equal(atomic_load(&srv.handled), handled + 2);
  wait_outstanding();
  assert_int_equal(atomic_load(&srv.cancel_fired), fired + 1);
  assert_int_equal(unary_call(f->url, "o0", 0), CONNECTC_CODE_OK);
}

static void test_async_stress(void **state) {
  fixture *f = *state;
  int calls = 600;
  const char *env = getenv("STRESS_CALLS");
  if (env) calls = atoi(env);
  fprintf(stderr, "stress: seed %u, %d calls x %d client threads\n", f->seed, calls,
          N_CLIENT_THREADS);
  int64_t t0 = mono_ms();
  cthread cts[N_CLIENT_THREADS];
  memset(cts, 0, sizeof cts);
  for (int i = 0; i < N_CLIENT_THREADS; i++) {
    cthread *ct = &cts[i];
    ct->index = i;
    ct->seed = f->seed * 31u + (unsigned)i;
    ct->calls = calls;
    connectc_curl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.base_url = f->url;
    ct->drive = i % 3;
    ct->timer_at = -1;
    connectc_curl_loop loop = {ext_watch, ext_timer, ct};
    if (ct->drive == 2) cfg.loop = &loop;
    assert_int_equal(connectc_curl_new(&cfg, NULL, &ct->curl), CONNECTC_OK);
    connectc_client_init(&ct->client, connectc_curl_transport(ct->curl));
    /* Compressed both ways on two of the threads: each transport lends
     * its calls one compression context, each server connection its
     * requests' calls another, and handlers compress from the workers. */
    ct->client.send_compression = i == 0   ? CONNECTC_COMPRESSION_IDENTITY
                                  : i == 1 ? CONNECTC_COMPRESSION_GZIP
                                  : connectc_compression_supported(CONNECTC_COMPRESSION_ZSTD)
                                      ? CONNECTC_COMPRESSION_ZSTD
                                      : CONNECTC_COMPRESSION_GZIP;
    assert_int_equal(pthread_create(&ct->thread, NULL, client_main, ct), 0);
  }
  int by_code[32] = {0};
  int failures = 0, total = 0;
  for (int i = 0; i < N_CLIENT_THREADS; i++) {
    cthread *ct = &cts[i];
    pthread_join(ct->thread, NULL);
    connectc_curl_del(ct->curl);
    if (ct->failures) {
      fprintf(stderr, "client %d: %d failures, first: %s\n", i, ct->failures, ct->first_failure);
      failures += ct->failures;
    }
    for (int c = 0; c < 32; c++) by_code[c] += ct->closes_by_code[c];
    total += ct->launched;
    if (ct->blocking_calls) fprintf(stderr, "client %d: %d blocking calls\n", i, ct->blocking_calls);
  }
  fprintf(stderr, "stress: ok %d canceled %d deadline %d failed_precondition %d other %d; "
                  "%d handled, %d on_cancel\n",
          by_code[CONNECTC_CODE_OK], by_code[CONNECTC_CODE_CANCELED],
          by_code[CONNECTC_CODE_DEADLINE_EXCEEDED], by_code[CONNECTC_CODE_FAILED_PRECONDITION],
          total - by_code[CONNECTC_CODE_OK] - by_code[CONNECTC_CODE_CANCELED] -
              by_code[CONNECTC_CODE_DEADLINE_EXCEEDED] -
              by_code[CONNECTC_CODE_FAILED_PRECONDITION],
          atomic_load(&srv.handled), atomic_load(&srv.cancel_fired));
  assert_int_equal(failures, 0);

  /* Every responder is finished by its worker or its on_cancel: calls the
   * client abandoned end by their deadline or when the worker answers. */
  wait_outstanding();
  check_still_serving(f->url);
  fprintf(stderr, "stress: %lld ms\n", (long long)(mono_ms() - t0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_on_cancel_after_end),
      cmocka_unit_test(test_async_stress),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
