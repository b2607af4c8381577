/*
 * The server under test for the Connect conformance suite.
 *
 * Reads one size-delimited ServerCompatRequest from stdin, starts the
 * ConformanceService on 127.0.0.1 (TLS when asked; a client certificate
 * required when the request carries one, on nghttp2), writes a
 * size-delimited ServerCompatResponse to stdout, and serves until
 * SIGTERM/SIGINT arrives. The request's HTTP version picks the adapter:
 * libmicrohttpd for HTTP/1.1, nghttp2 for HTTP/2; `--adapter
 * microhttpd|nghttp2|mongoose` forces one (Mongoose: its own manager,
 * polled by the main thread), so that each adapter can be checked on its
 * own.
 *
 * The service is written as an application would write it: on the
 * generated streaming handler interface (service.connect.h). Unary and
 * server-stream handlers hand their call to a worker thread that runs the
 * response plan the request describes (delays, headers, trailers,
 * messages, errors) and answers through the generated `<rpc>__respond`
 * functions and connectc_responder_finish; client-stream and bidi handlers
 * are synchronous streaming handlers, on a thread of their own, that read
 * each request as it arrives (bidi answers each one at once when the
 * client asks for full duplex). Delays never block the server.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectc/codec.h"
#include "connectc/json_codec.h"
#include "connectc/microhttpd.h"
#include "connectc/nghttp2.h"
#include "connectrpc/conformance/v1/server_compat.pb-c.h"
#include "connectrpc/conformance/v1/service.connect.h"
#include "connectrpc/conformance/v1/service.pb-c.h"
#ifdef CONFORMANCE_MONGOOSE
#include "connectc/mongoose.h"
#include "mongoose.h"

/* Mongoose's log (and its hex dumps, written whatever the level) must not
 * reach stdout. */
static void mg_log_stderr(char c, void *param) {
  (void)param;
  fputc(c, stderr);
}
#endif

#define TYPE_PREFIX "type.googleapis.com/"

typedef Connectrpc__Conformance__V1__ConformancePayload Payload;
typedef Connectrpc__Conformance__V1__ConformancePayload__RequestInfo RequestInfo;
typedef Connectrpc__Conformance__V1__UnaryResponseDefinition UnaryDef;
typedef Connectrpc__Conformance__V1__StreamResponseDefinition StreamDef;
typedef Connectrpc__Conformance__V1__Header Header;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(uint32_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* ---- one call's response plan ---- */

typedef enum kind { K_UNARY, K_IDEMPOTENT, K_CLIENT, K_SERVER, K_BIDI } kind;

typedef struct job {
  kind k;
  connectc_responder *responder;
  const ProtobufCMessageDescriptor *input;
  const ProtobufCMessage **requests; /* borrowed from the responder until the finish */
  size_t n_requests;
  const UnaryDef *udef;  /* unary, idempotent and client-stream calls */
  const StreamDef *sdef; /* server and bidi streams */
  int requests_only;     /* RequestInfo with the requests alone (later full-duplex responses) */
} job;

/* Waiting for room in the send window (see respond_payload). */
typedef struct window_wait {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int can_write;
} window_wait;

static void on_writable(connectc_responder *r, void *arg) {
  (void)r;
  window_wait *w = arg;
  pthread_mutex_lock(&w->mu);
  w->can_write = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Sends one response message of the job's method around `p`. */
static int respond(job *j, Payload *p) {
  switch (j->k) {
    case K_UNARY: {
      Connectrpc__Conformance__V1__UnaryResponse m = CONNECTRPC__CONFORMANCE__V1__UNARY_RESPONSE__INIT;
      m.payload = p;
      return connectrpc_conformance_v1_conformance_service_unary__respond(j->responder, &m);
    }
    case K_IDEMPOTENT: {
      Connectrpc__Conformance__V1__IdempotentUnaryResponse m =
          CONNECTRPC__CONFORMANCE__V1__IDEMPOTENT_UNARY_RESPONSE__INIT;
      m.payload = p;
      return connectrpc_conformance_v1_conformance_service_idempotent_unary__respond(j->responder, &m);
    }
    case K_CLIENT: {
      Connectrpc__Conformance__V1__ClientStreamResponse m =
          CONNECTRPC__CONFORMANCE__V1__CLIENT_STREAM_RESPONSE__INIT;
      m.payload = p;
      return connectrpc_conformance_v1_conformance_service_client_stream__respond(j->responder, &m);
    }
    case K_SERVER: {
      Connectrpc__Conformance__V1__ServerStreamResponse m =
          CONNECTRPC__CONFORMANCE__V1__SERVER_STREAM_RESPONSE__INIT;
      m.payload = p;
      return connectrpc_conformance_v1_conformance_service_server_stream__respond(j->responder, &m);
    }
    case K_BIDI: {
      Connectrpc__Conformance__V1__BidiStreamResponse m =
          CONNECTRPC__CONFORMANCE__V1__BIDI_STREAM_RESPONSE__INIT;
      m.payload = p;
      return connectrpc_conformance_v1_conformance_service_bidi_stream__respond(j->responder, &m);
    }
  }
  return CONNECTC_ERR_ARGUMENT;
}

/* ---- RequestInfo: what the server saw ---- */

typedef struct info_storage {
  RequestInfo info;
  Header *headers;
  Header **header_ptrs;
  char **values;
  Google__Protobuf__Any *anys;
  Google__Protobuf__Any **any_ptrs;
  uint8_t **packed;
  Connectrpc__Conformance__V1__ConformancePayload__ConnectGetInfo get_info;
  char *type_url;
  size_t n_packed;
} info_storage;

static void build_info(const job *j, info_storage *st) {
  memset(st, 0, sizeof *st);
  RequestInfo init = CONNECTRPC__CONFORMANCE__V1__CONFORMANCE_PAYLOAD__REQUEST_INFO__INIT;
  st->info = init;
  /* Request metadata is fixed once the handler runs: safe to read here. */
  connectc_server_call *call = connectc_responder_call(j->responder);
  if (j->requests_only) goto requests;
  /* One Header per name, with every value of that name in order. */
  const connectc_headers *h = connectc_server_call_request_headers(call);
  st->headers = calloc(h->len + 1, sizeof *st->headers);
  st->header_ptrs = calloc(h->len + 1, sizeof *st->header_ptrs);
  st->values = calloc(h->len + 1, sizeof *st->values);
  size_t nh = 0, nv = 0;
  for (size_t i = 0; i < h->len; i++) {
    int seen = 0;
    for (size_t k = 0; k < i && !seen; k++) seen = strcmp(h->items[k].name, h->items[i].name) == 0;
    if (seen) continue;
    Header hi = CONNECTRPC__CONFORMANCE__V1__HEADER__INIT;
    st->headers[nh] = hi;
    st->headers[nh].name = h->items[i].name;
    st->headers[nh].value = &st->values[nv];
    for (size_t k = i; k < h->len; k++) {
      if (strcmp(h->items[k].name, h->items[i].name) != 0) continue;
      st->values[nv++] = h->items[k].value;
      st->headers[nh].n_value++;
    }
    st->header_ptrs[nh] = &st->headers[nh];
    nh++;
  }
  st->info.n_request_headers = nh;
  st->info.request_headers = st->header_ptrs;
  int64_t d = connectc_server_call_deadline(call);
  if (d >= 0) {
    st->info._timeout_ms_case =
        CONNECTRPC__CONFORMANCE__V1__CONFORMANCE_PAYLOAD__REQUEST_INFO___TIMEOUT_MS_TIMEOUT_MS;
    int64_t left = d - now_ms();
    st->info.timeout_ms = left > 0 ? left : 0;
  }
requests:;
  size_t tl = strlen(TYPE_PREFIX) + strlen(j->input->name) + 1;
  st->type_url = malloc(tl);
  snprintf(st->type_url, tl, "%s%s", TYPE_PREFIX, j->input->name);
  st->anys = calloc(j->n_requests + 1, sizeof *st->anys);
  st->any_ptrs = calloc(j->n_requests + 1, sizeof *st->any_ptrs);
  st->packed = calloc(j->n_requests + 1, sizeof *st->packed);
  for (size_t i = 0; i < j->n_requests; i++) {
    Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
    size_t n = protobuf_c_message_get_packed_size(j->requests[i]);
    st->packed[i] = malloc(n ? n : 1);
    st->n_packed = i + 1;
    st->anys[i] = a;
    st->anys[i].type_url = st->type_url;
    st->anys[i].value.data = st->packed[i];
    st->anys[i].value.len = protobuf_c_message_pack(j->requests[i], st->packed[i]);
    st->any_ptrs[i] = &st->anys[i];
  }
  st->info.n_requests = j->n_requests;
  st->info.requests = st->any_ptrs;
  if (!j->requests_only && connectc_server_call_is_get(call)) {
    Connectrpc__Conformance__V1__ConformancePayload__ConnectGetInfo gi =
        CONNECTRPC__CONFORMANCE__V1__CONFORMANCE_PAYLOAD__CONNECT_GET_INFO__INIT;
    st->get_info = gi;
    st->info.connect_get_info = &st->get_info;
  }
}

static void free_info(info_storage *st) {
  for (size_t i = 0; i < st->n_packed; i++) free(st->packed[i]);
  free(st->packed);
  free(st->headers);
  free(st->header_ptrs);
  free(st->values);
  free(st->anys);
  free(st->any_ptrs);
  free(st->type_url);
}

/* ---- pieces of a plan ---- */

/* Values given for -bin headers are already base64 text: added as they are. */
static void add_metadata(job *j, Header **headers, size_t n_headers, Header **trailers,
                         size_t n_trailers) {
  for (size_t i = 0; i < n_headers; i++)
    for (size_t k = 0; k < headers[i]->n_value; k++)
      connectc_responder_add_header(j->responder, headers[i]->name, headers[i]->value[k]);
  for (size_t i = 0; i < n_trailers; i++)
    for (size_t k = 0; k < trailers[i]->n_value; k++)
      connectc_responder_add_trailer(j->responder, trailers[i]->name, trailers[i]->value[k]);
}

static int respond_payload(job *j, const ProtobufCBinaryData *data, int with_info) {
  Payload p = CONNECTRPC__CONFORMANCE__V1__CONFORMANCE_PAYLOAD__INIT;
  info_storage st;
  if (data) p.data = *data;
  if (with_info) {
    build_info(j, &st);
    p.request_info = &st.info;
  }
  int rv;
  /* A worker thread may wait: when the send window is full (the client
   * reads slower than we send), until the response can take more. */
  window_wait w;
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  while ((rv = respond(j, &p)) == CONNECTC_ERR_FULL) {
    pthread_mutex_lock(&w.mu);
    w.can_write = 0;
    pthread_mutex_unlock(&w.mu);
    /* Once registered, fn runs only while the call goes on; a call that
     * ends never calls it, so `w` may go out of scope then. */
    connectc_responder_on_writable(j->responder, on_writable, &w);
    int ended = 0;
    pthread_mutex_lock(&w.mu);
    while (!w.can_write && !ended) {
      struct timespec t;
      clock_gettime(CLOCK_REALTIME, &t);
      t.tv_nsec += 100 * 1000 * 1000;
      if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&w.cv, &w.mu, &t);
      if (w.can_write) break;
      /* Not under w.mu: on_writable takes it under the transport's lock. */
      pthread_mutex_unlock(&w.mu);
      ended = connectc_responder_is_done(j->responder);
      pthread_mutex_lock(&w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    if (ended) break;
  }
  pthread_mutex_destroy(&w.mu);
  pthread_cond_destroy(&w.cv);
  if (with_info) free_info(&st);
  return rv;
}

/* The requested error in `e` (initialised): its details, plus the request
 * info when asked. */
static void fill_error(job *j, const Connectrpc__Conformance__V1__Error *err, int with_info,
                       connectc_error *out) {
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_code code = (connectc_code)err->code;
  if ((unsigned)code < 1 || (unsigned)code > 16) code = CONNECTC_CODE_UNKNOWN;
  const char *msg = err->_message_case ? err->message : NULL;
  connectc_error_set_message(&e, code, msg, msg ? strlen(msg) : 0);
  for (size_t i = 0; i < err->n_details; i++) {
    const char *url = err->details[i]->type_url;
    const char *slash = url ? strrchr(url, '/') : NULL;
    connectc_error_add_detail(&e, slash ? slash + 1 : (url ? url : ""), err->details[i]->value.data,
                              err->details[i]->value.len);
  }
  if (with_info) {
    info_storage st;
    build_info(j, &st);
    size_t n = protobuf_c_message_get_packed_size(&st.info.base);
    uint8_t *buf = malloc(n ? n : 1);
    protobuf_c_message_pack(&st.info.base, buf);
    connectc_error_add_detail(&e, "connectrpc.conformance.v1.ConformancePayload.RequestInfo", buf, n);
    free(buf);
    free_info(&st);
  }
  connectc_error_copy(out, &e);
  connectc_error_reset(&e);
}

/* Finishes with the requested error. */
static void finish_error(job *j, const Connectrpc__Conformance__V1__Error *err, int with_info) {
  connectc_error e;
  connectc_error_init(&e, NULL);
  fill_error(j, err, with_info, &e);
  connectc_responder_finish(j->responder, &e);
  connectc_error_reset(&e);
}

/* The plan of a unary or client-stream call, short of the finish: returns 1
 * with `e` set when the plan ends in an error. */
static int unary_plan(job *j, connectc_error *e) {
  const UnaryDef *def = j->udef;
  if (def && def->response_delay_ms) sleep_ms(def->response_delay_ms);
  if (def)
    add_metadata(j, def->response_headers, def->n_response_headers, def->response_trailers,
                 def->n_response_trailers);
  if (def && def->response_case == CONNECTRPC__CONFORMANCE__V1__UNARY_RESPONSE_DEFINITION__RESPONSE_ERROR) {
    fill_error(j, def->error, 1, e);
    return 1;
  }
  int has_data = def && def->response_case ==
                            CONNECTRPC__CONFORMANCE__V1__UNARY_RESPONSE_DEFINITION__RESPONSE_RESPONSE_DATA;
  respond_payload(j, has_data ? &def->response_data : NULL, 1);
  return 0;
}

/* Runs on a worker thread: every responder function is thread-safe. */
static void *run_plan(void *arg) {
  job *j = arg;
  if (j->k == K_UNARY || j->k == K_IDEMPOTENT || j->k == K_CLIENT) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    int failed = unary_plan(j, &e);
    connectc_responder_finish(j->responder, failed ? &e : NULL);
    connectc_error_reset(&e);
  } else {
    const StreamDef *def = j->sdef;
    size_t n = def ? def->n_response_data : 0;
    if (def)
      add_metadata(j, def->response_headers, def->n_response_headers, def->response_trailers,
                   def->n_response_trailers);
    connectc_responder_flush_headers(j->responder);
    for (size_t i = 0; i < n; i++) {
      if (def->response_delay_ms) sleep_ms(def->response_delay_ms);
      /* Fails once the client is gone or the deadline passed: stop then. */
      if (respond_payload(j, &def->response_data[i], i == 0) != CONNECTC_OK) break;
    }
    if (def && def->error) finish_error(j, def->error, n == 0);
    else connectc_responder_finish(j->responder, NULL);
  }
  free(j->requests);
  free(j);
  return NULL;
}

/* Hands a call to a worker thread. */
static void start_plan(kind k, connectc_responder *responder, const ProtobufCMessageDescriptor *input,
                       const ProtobufCMessage *const *requests, size_t n_requests,
                       const UnaryDef *udef, const StreamDef *sdef) {
  job *j = calloc(1, sizeof *j);
  const ProtobufCMessage **reqs = calloc(n_requests + 1, sizeof *reqs);
  pthread_t t;
  if (j && reqs) {
    j->k = k;
    j->responder = responder;
    j->input = input;
    memcpy(reqs, requests, n_requests * sizeof *reqs);
    j->requests = reqs;
    j->n_requests = n_requests;
    j->udef = udef;
    j->sdef = sdef;
    if (pthread_create(&t, NULL, run_plan, j) == 0) {
      pthread_detach(t);
      return;
    }
  }
  free(j);
  free(reqs);
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "cannot start a handler thread");
  connectc_responder_finish(responder, &e);
  connectc_error_reset(&e);
}

/* ---- the generated asynchronous handler interface ---- */

static void h_unary(void *impl, connectc_responder *r,
                    const Connectrpc__Conformance__V1__UnaryRequest *request) {
  (void)impl;
  const ProtobufCMessage *m = &request->base;
  start_plan(K_UNARY, r, request->base.descriptor, &m, 1, request->response_definition, NULL);
}

static void h_idempotent_unary(void *impl, connectc_responder *r,
                               const Connectrpc__Conformance__V1__IdempotentUnaryRequest *request) {
  (void)impl;
  const ProtobufCMessage *m = &request->base;
  start_plan(K_IDEMPOTENT, r, request->base.descriptor, &m, 1, request->response_definition, NULL);
}

static void h_server_stream(void *impl, connectc_responder *r,
                            const Connectrpc__Conformance__V1__ServerStreamRequest *request) {
  (void)impl;
  const ProtobufCMessage *m = &request->base;
  start_plan(K_SERVER, r, request->base.descriptor, &m, 1, NULL, request->response_definition);
}

/* Client streams on the streaming interface's synchronous variant: read
 * every request on this thread, then run the plan. */
typedef Connectrpc__Conformance__V1__ClientStreamRequest ClientReq;

static int h_client_run(void *impl, connectc_server_stream *stream, connectc_error *error) {
  (void)impl;
  const connectc_allocator *a = connectc_server_stream_allocator(stream);
  ClientReq **all = NULL;
  size_t n = 0;
  int rv = CONNECTC_OK, failed = 0;
  for (;;) {
    ClientReq *req = NULL;
    rv = connectrpc_conformance_v1_conformance_service_client_stream__recv(stream, &req);
    if (rv != CONNECTC_OK || !req) break;
    ClientReq **grown = realloc(all, (n + 1) * sizeof *all);
    if (!grown) {
      connectc_message_free(&req->base, a);
      connectc_error_set(error, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory");
      failed = 1;
      break;
    }
    all = grown;
    all[n++] = req;
  }
  if (rv == CONNECTC_OK && !failed) {
    job j;
    memset(&j, 0, sizeof j);
    j.k = K_CLIENT;
    j.responder = connectc_server_stream_responder(stream);
    j.input = &connectrpc__conformance__v1__client_stream_request__descriptor;
    j.requests = (const ProtobufCMessage **)all;
    j.n_requests = n;
    j.udef = n ? all[0]->response_definition : NULL;
    failed = unary_plan(&j, error);
  }
  for (size_t i = 0; i < n; i++) connectc_message_free(&all[i]->base, a);
  free(all);
  return failed;
}

/*
 * Bidi, on the generated streaming interface's synchronous variant: this
 * runs on a thread of its own and reads each request as it arrives. The
 * first request says whether the exchange is full duplex (one response per
 * request, each carrying the requests received since the previous one) or
 * half duplex (every request first, then the responses).
 */
typedef Connectrpc__Conformance__V1__BidiStreamRequest BidiReq;

static int h_bidi_run(void *impl, connectc_server_stream *stream, connectc_error *error) {
  (void)impl;
  (void)error;
  job j;
  memset(&j, 0, sizeof j);
  j.k = K_BIDI;
  j.responder = connectc_server_stream_responder(stream);
  j.input = &connectrpc__conformance__v1__bidi_stream_request__descriptor;
  const connectc_allocator *a = connectc_server_stream_allocator(stream);
  BidiReq **all = NULL; /* every request, kept until the end */
  size_t n_all = 0, since = 0; /* requests not yet reported in a response */
  const StreamDef *def = NULL;
  int full_duplex = 0;
  size_t resp = 0;
  int rv = CONNECTC_OK;
  for (;;) {
    BidiReq *req = NULL;
    rv = connectrpc_conformance_v1_conformance_service_bidi_stream__recv(stream, &req);
    if (rv != CONNECTC_OK || !req) break;
    BidiReq **grown = realloc(all, (n_all + 1) * sizeof *all);
    if (!grown) {
      connectc_message_free(&req->base, a);
      rv = CONNECTC_ERR_NOMEM;
      break;
    }
    all = grown;
    all[n_all++] = req;
    if (n_all == 1) {
      def = req->response_definition;
      full_duplex = req->full_duplex;
      if (def)
        add_metadata(&j, def->response_headers, def->n_response_headers, def->response_trailers,
                     def->n_response_trailers);
      if (full_duplex && def && def->n_response_data > 0)
        connectc_responder_flush_headers(j.responder);
    }
    if (!full_duplex) continue;
    if (!def || resp >= def->n_response_data) break; /* nothing left to answer with */
    j.requests = (const ProtobufCMessage **)(all + since);
    j.n_requests = n_all - since;
    j.requests_only = resp > 0;
    if (def->response_delay_ms) sleep_ms(def->response_delay_ms);
    if (respond_payload(&j, &def->response_data[resp], 1) != CONNECTC_OK) {
      rv = CONNECTC_ERR_STATE;
      break;
    }
    resp++;
    since = n_all;
  }
  if (rv == CONNECTC_OK) {
    /* Half duplex sends everything now; full duplex what is left. */
    if (!full_duplex && def && def->n_response_data > 0) connectc_responder_flush_headers(j.responder);
    j.requests = (const ProtobufCMessage **)(all + since);
    j.n_requests = n_all - since;
    j.requests_only = 0;
    for (; def && resp < def->n_response_data; resp++) {
      if (def->response_delay_ms) sleep_ms(def->response_delay_ms);
      if (respond_payload(&j, &def->response_data[resp], resp == 0) != CONNECTC_OK) break;
    }
    if (def && def->error) {
      fill_error(&j, def->error, resp == 0, error); /* finished when this returns */
      rv = -1;
    }
  }
  for (size_t i = 0; i < n_all; i++) connectc_message_free(&all[i]->base, a);
  free(all);
  /* A call that ended early (canceled, deadline) already has its status. */
  return rv == -1 ? 1 : 0;
}

/* Unimplemented stays NULL: the library answers `unimplemented`. */
static const connectrpc_conformance_v1_conformance_service__streaming_handlers handlers = {
    .unary = h_unary,
    .server_stream = h_server_stream,
    .client_stream = {.run = h_client_run},
    .bidi_stream = {.run = h_bidi_run},
    .idempotent_unary = h_idempotent_unary,
};

/* ---- stdin/stdout framing ---- */

static int read_full(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  /* --adapter microhttpd|nghttp2|mongoose forces one; by default the
   * request's HTTP version picks it (HTTP/1.1: libmicrohttpd, HTTP/2:
   * nghttp2). */
  const char *adapter = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--adapter") == 0 && i + 1 < argc) {
      adapter = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--adapter microhttpd|nghttp2|mongoose]\n", argv[0]);
      return 2;
    }
  }
  if (adapter && strcmp(adapter, "microhttpd") != 0 && strcmp(adapter, "nghttp2") != 0
#ifdef CONFORMANCE_MONGOOSE
      && strcmp(adapter, "mongoose") != 0
#endif
  ) {
    fprintf(stderr, "conformance server: unknown adapter \"%s\"\n", adapter);
    return 2;
  }
  uint8_t hdr[4];
  if (read_full(0, hdr, 4)) {
    fprintf(stderr, "conformance server: no ServerCompatRequest on stdin\n");
    return 1;
  }
  uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
  if (n > 16 * 1024 * 1024) return 1;
  uint8_t *buf = malloc(n ? n : 1);
  if (read_full(0, buf, n)) return 1;
  Connectrpc__Conformance__V1__ServerCompatRequest *req =
      connectrpc__conformance__v1__server_compat_request__unpack(NULL, n, buf);
  free(buf);
  if (!req) return 1;

  connectc_type_registry *registry = NULL;
  connectc_codec *json_codec = NULL;
  if (connectc_type_registry_new(NULL, &registry) != CONNECTC_OK ||
      connectrpc_conformance_v1_service__register_types(registry) != CONNECTC_OK ||
      connectc_codec_json_new(registry, NULL, &json_codec) != CONNECTC_OK) {
    fprintf(stderr, "conformance server: out of memory\n");
    return 1;
  }

  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = req->message_receive_limit ? req->message_receive_limit : 0;
  connectc_router *router = NULL;
  if (connectc_router_new(&cfg, NULL, &router) != CONNECTC_OK || connectrpc_conformance_v1_conformance_service__register_streaming(router, &handlers, NULL,
                                                                                json_codec) != CONNECTC_OK) {
    fprintf(stderr, "conformance server: cannot mount the service\n");
    return 1;
  }
  if (!adapter)
    adapter = req->http_version == CONNECTRPC__CONFORMANCE__V1__HTTPVERSION__HTTP_VERSION_2
                  ? "nghttp2"
                  : "microhttpd";
  int use_h2 = strcmp(adapter, "nghttp2") == 0;
  char *cert = NULL, *key = NULL, *client_ca = NULL;
  if (req->use_tls && req->server_creds) {
    cert = calloc(1, req->server_creds->cert.len + 1);
    key = calloc(1, req->server_creds->key.len + 1);
    memcpy(cert, req->server_creds->cert.data, req->server_creds->cert.len);
    memcpy(key, req->server_creds->key.data, req->server_creds->key.len);
  }
  if (req->use_tls && req->client_tls_cert.len) {
    client_ca = calloc(1, req->client_tls_cert.len + 1);
    memcpy(client_ca, req->client_tls_cert.data, req->client_tls_cert.len);
  }
  connectc_mhd_server *srv = NULL;
  connectc_h2_server *h2srv = NULL;
  int rv;
  uint16_t port = 0;
#ifdef CONFORMANCE_MONGOOSE
  int use_mongoose = strcmp(adapter, "mongoose") == 0;
  connectc_mg_server *msrv = NULL;
#endif
  if (use_h2) {
    connectc_h2_config hcfg;
    memset(&hcfg, 0, sizeof hcfg);
    hcfg.threads = 2;
    hcfg.tls_cert_pem = cert;
    hcfg.tls_key_pem = key;
    /* Require a client certificate signed by (here: equal to) it. */
    hcfg.tls_client_ca_pem = client_ca;
    rv = connectc_h2_start(&hcfg, router, &h2srv);
    port = rv == CONNECTC_OK ? connectc_h2_port(h2srv) : 0;
#ifdef CONFORMANCE_MONGOOSE
  } else if (use_mongoose) {
    mg_log_set(MG_LL_NONE);
    mg_log_set_fn(mg_log_stderr, NULL);
    connectc_mg_server_config gcfg;
    memset(&gcfg, 0, sizeof gcfg);
    gcfg.tls_cert_pem = cert;
    gcfg.tls_key_pem = key;
    rv = connectc_mg_server_new(&gcfg, router, NULL, &msrv);
    if (rv == CONNECTC_OK)
      rv = connectc_mg_listen(msrv, cert ? "https://127.0.0.1:0" : "http://127.0.0.1:0", &port);
#endif
  } else {
    connectc_mhd_config mcfg;
    memset(&mcfg, 0, sizeof mcfg);
    mcfg.threads = 4;
    mcfg.tls_cert_pem = cert;
    mcfg.tls_key_pem = key;
    rv = connectc_mhd_start(&mcfg, router, &srv);
    port = rv == CONNECTC_OK ? connectc_mhd_port(srv) : 0;
  }
  if (rv != CONNECTC_OK) {
    fprintf(stderr, "conformance server: cannot start (%s): %s\n", adapter, connectc_strerror(rv));
    return 1;
  }
  Connectrpc__Conformance__V1__ServerCompatResponse resp = CONNECTRPC__CONFORMANCE__V1__SERVER_COMPAT_RESPONSE__INIT;
  resp.host = "127.0.0.1";
  resp.port = port;
  if (cert) {
    resp.pem_cert.data = (uint8_t *)cert;
    resp.pem_cert.len = strlen(cert);
  }
  size_t rn = connectrpc__conformance__v1__server_compat_response__get_packed_size(&resp);
  uint8_t *out = malloc(rn + 4);
  out[0] = (uint8_t)(rn >> 24);
  out[1] = (uint8_t)(rn >> 16);
  out[2] = (uint8_t)(rn >> 8);
  out[3] = (uint8_t)rn;
  connectrpc__conformance__v1__server_compat_response__pack(&resp, out + 4);
  if (write_full(1, out, rn + 4)) return 1;
  free(out);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* Serve until the runner signals us (it closes stdin right after the
   * request, so EOF means nothing). */
#ifdef CONFORMANCE_MONGOOSE
  if (msrv) {
    while (!stop) connectc_mg_poll(msrv, 10); /* deadlines tick every 10 ms */
    connectc_mg_server_del(msrv);
  }
#endif
  while (!stop) pause();
  if (h2srv) connectc_h2_stop(h2srv);
  if (srv) connectc_mhd_stop(srv);
  connectc_router_del(router);
  connectc_codec_json_del(json_codec);
  connectc_type_registry_del(registry);
  connectrpc__conformance__v1__server_compat_request__free_unpacked(req, NULL);
  free(cert);
  free(key);
  free(client_ca);
  return 0;
}
